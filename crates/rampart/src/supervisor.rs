//! The supervisor: every background task of the process is started here, with its name and a
//! cancellation token. On shutdown every token is cancelled and every task awaited, all within
//! one grace period; a task still running after it is aborted, and named in the log.

use std::time::Duration;

use rampart_store::Task;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The background tasks of a process.
#[derive(Default)]
pub struct Supervisor {
    stop: CancellationToken,
    running: Vec<(String, JoinHandle<()>)>,
}

/// How the tasks ended on shutdown, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Ended when told to, within the grace period.
    pub finished: Vec<String>,
    /// Still running when the grace period was over: aborted.
    pub aborted: Vec<String>,
    /// Ended with a panic.
    pub panicked: Vec<String>,
}

impl Supervisor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts `task`; it runs until [`Supervisor::shutdown`].
    pub fn start(&mut self, task: Task) {
        let name = task.name().to_owned();
        tracing::debug!(task = %name, "task started");
        let handle = tokio::spawn(task.run(self.stop.child_token()));
        self.running.push((name, handle));
    }

    /// The names of the tasks started, in the order they were.
    pub fn names(&self) -> Vec<&str> {
        self.running.iter().map(|(name, _)| name.as_str()).collect()
    }

    /// Cancels every task and awaits them all for at most `grace`; aborts those still running.
    pub async fn shutdown(self, grace: Duration) -> Stopped {
        self.stop.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        let mut stopped = Stopped::default();
        for (name, mut handle) in self.running {
            match tokio::time::timeout_at(deadline, &mut handle).await {
                Ok(Ok(())) => stopped.finished.push(name),
                Ok(Err(error)) if error.is_panic() => {
                    tracing::error!(task = %name, "a background task panicked");
                    stopped.panicked.push(name);
                }
                // Aborted by nobody but us, so cancelled is not possible here: counted as ended.
                Ok(Err(_)) => stopped.finished.push(name),
                Err(_) => {
                    handle.abort();
                    // Dropped at its next await: nothing of it outlives the shutdown.
                    let _ = handle.await;
                    tracing::warn!(task = %name, ?grace, "a background task did not stop within the grace period; aborted");
                    stopped.aborted.push(name);
                }
            }
        }
        stopped
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// Sets its flag when dropped: when the task holding it ends or is aborted.
    struct Exit(Arc<AtomicBool>);

    impl Drop for Exit {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_cancels_and_awaits_every_task_and_aborts_one_that_ignores_it() {
        let polite_done = Arc::new(AtomicBool::new(false));
        let stubborn_gone = Arc::new(AtomicBool::new(false));
        let mut supervisor = Supervisor::new();
        let done = polite_done.clone();
        supervisor.start(Task::new("polite", move |stop| async move {
            stop.cancelled().await;
            // Some last work after the cancel, awaited by the shutdown.
            tokio::time::sleep(Duration::from_millis(10)).await;
            done.store(true, Ordering::SeqCst);
        }));
        let gone = Exit(stubborn_gone.clone());
        supervisor.start(Task::new("stubborn", move |_stop| async move {
            let _exit = gone;
            std::future::pending::<()>().await;
        }));
        assert_eq!(supervisor.names(), ["polite", "stubborn"]);

        let stopped = supervisor.shutdown(Duration::from_secs(5)).await;

        assert!(polite_done.load(Ordering::SeqCst), "the task finished its work after the cancel");
        assert_eq!(stopped.finished, ["polite"]);
        assert_eq!(stopped.aborted, ["stubborn"]);
        assert!(stubborn_gone.load(Ordering::SeqCst), "the task that ignored the cancel was aborted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panicked_is_reported() {
        let mut supervisor = Supervisor::new();
        supervisor.start(Task::new("broken", |_stop| async { panic!("on purpose") }));
        let stopped = supervisor.shutdown(Duration::from_secs(1)).await;
        assert_eq!(stopped.panicked, ["broken"]);
        assert!(stopped.finished.is_empty() && stopped.aborted.is_empty());
    }
}
