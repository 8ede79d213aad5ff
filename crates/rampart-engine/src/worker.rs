//! Workers: claim runs, run them, and report under the run's attempt number. A tool that panics
//! fails its run at once; it never takes the worker down or leaves the run `running`. The reaper,
//! a task of its own, gives the runs of lost workers back to the queue.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;

use rampart_core::executions::{Execution, Finish, LogStream};
use rampart_core::identity::Acting;
use rampart_core::identity::{AuditAction, NewAuditEvent, Outcome, RequestContext};
use rampart_scope::SystemResolver;
use rampart_store::{StoreError, Task};
use rampart_tools::{ToolContext, Update};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::Engine;

/// How often an idle worker looks for work when nothing wakes it.
const POLL: Duration = Duration::from_millis(250);
/// How often progress and log lines are written.
const FLUSH: Duration = Duration::from_millis(100);

pub struct Worker {
    name: String,
    engine: Engine,
    concurrency: usize,
}

/// Why a run stopped before its tool finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Running,
    CancelAsked,
    /// The lease was lost: another attempt owns the run now.
    Fenced,
}

impl Worker {
    pub fn new(engine: Engine, name: impl Into<String>, concurrency: usize) -> Self {
        Self { name: name.into(), engine, concurrency: concurrency.max(1) }
    }

    /// The worker as a task named `workers`, for the process to start: see [`Worker::run`].
    pub fn task(self, grace: Duration) -> Task {
        Task::new("workers", move |stop| self.run(stop, grace))
    }

    /// Runs until `shutdown`; then runs in progress have `grace` to finish, and the rest are given
    /// back to the queue for another worker.
    pub async fn run(self, shutdown: CancellationToken, grace: Duration) {
        let lease = self.engine.config.lease;
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let release = CancellationToken::new();
        let mut jobs = JoinSet::new();
        tracing::info!(worker = %self.name, concurrency = self.concurrency, "worker started");

        while !shutdown.is_cancelled() {
            let mut claimed = false;
            while let Ok(permit) = permits.clone().try_acquire_owned() {
                match self.engine.store.executions().claim(&self.name, lease, self.engine.config.per_org).await {
                    Ok(Some(execution)) => {
                        claimed = true;
                        jobs.spawn(run_job(self.engine.clone(), execution, permit, release.clone()));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "cannot claim a run");
                        break;
                    }
                }
            }
            while jobs.try_join_next().is_some() {}
            if !claimed {
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = self.engine.queued.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    Some(_) = jobs.join_next(), if !jobs.is_empty() => {}
                }
            }
        }

        tracing::info!(worker = %self.name, running = jobs.len(), "worker stopping: finishing runs in progress");
        let drained = tokio::time::timeout(grace, async { while jobs.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            release.cancel();
            while jobs.join_next().await.is_some() {}
        }
        tracing::info!(worker = %self.name, "worker stopped");
    }
}

/// Gives the runs whose lease expired (their worker was lost) back to the queue, or fails those
/// out of attempts: at once, then every half lease, until `stop` is cancelled.
pub(crate) async fn reap(engine: Engine, stop: CancellationToken) {
    let every = engine.config.lease / 2;
    loop {
        match engine.store.executions().reap_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "runs whose worker was lost went back to the queue or failed"),
            Err(error) => tracing::warn!(%error, "cannot reap expired runs"),
        }
        if stop.run_until_cancelled(tokio::time::sleep(every)).await.is_none() {
            return;
        }
    }
}

/// How a run ends when its tool panicked: a failure said for people, naming the tool, never the
/// panic's message (it may quote parameters or addresses the log should not carry).
fn internal_error(execution: &Execution) -> Finish {
    tracing::error!(execution = %execution.id, tool = %execution.tool, "a tool panicked; its run failed");
    Finish::Failed(format!("internal error in {}", execution.tool))
}

async fn run_job(engine: Engine, execution: Execution, _permit: OwnedSemaphorePermit, release: CancellationToken) {
    let (id, attempt) = (execution.id, execution.attempt);
    // A panic in the tool's own checks ends the run here, at once, rather than leaving it
    // running until its lease expires.
    let finish = match AssertUnwindSafe(prepare(&engine, &execution)).catch_unwind().await {
        Err(_panic) => Some(internal_error(&execution)),
        Ok(Err(reason)) => Some(Finish::Failed(reason)),
        Ok(Ok((tool, context, updates, stop))) => {
            run_tool(&engine, &execution, tool, context, updates, stop, release).await
        }
    };
    if let Some(finish) = finish {
        match engine.store.executions().finish(id, attempt, &finish).await {
            Ok(_) | Err(StoreError::Fenced) => {}
            Err(error) => tracing::error!(%error, execution = %id, "cannot record the end of a run"),
        }
    }
}

type Prepared = (Arc<dyn rampart_tools::Tool>, ToolContext, mpsc::UnboundedReceiver<Update>, watch::Receiver<Stop>);

/// Finds the tool and checks the scope again: it may have been narrowed since the run was queued.
async fn prepare(engine: &Engine, execution: &Execution) -> Result<Prepared, String> {
    let tool =
        engine.tools.get(&execution.tool).ok_or_else(|| format!("the tool {:?} is not available", execution.tool))?;
    let targets: Vec<String> =
        tool.check(&execution.params).map_err(|errors| errors.to_string())?.into_iter().map(|t| t.target).collect();
    let checks = engine.scope.check(execution.org_id, &targets).await.map_err(|error| error.to_string())?;
    let acting = Acting { org: execution.org_id, actor: execution.actor, context: RequestContext::default() };
    if let Some(out) = checks.iter().find(|check| !check.in_scope) {
        let reason = format!("{}: {}", out.input, out.reason);
        let event = NewAuditEvent::new(
            Some(execution.org_id),
            execution.actor,
            AuditAction::ScopeRefused,
            Outcome::Denied,
            &acting.context,
        )
        .target(format!("execution:{}", execution.id))
        .detail(reason.clone());
        let _ = engine.store.audit().append(&event).await;
        return Err(format!("no longer in scope: {reason}"));
    }
    let gate = engine.scope.gate(&acting, Arc::new(SystemResolver)).await.map_err(|error| error.to_string())?;
    let (sender, updates) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let (stop_sender, stop) = watch::channel(Stop::Running);
    tokio::spawn(heartbeat(engine.clone(), execution.id, execution.attempt, stop_sender));
    let mut context = ToolContext::new(gate, cancel, sender);
    if let Some(outbound) = &engine.outbound {
        context = context.with_outbound(outbound.clone());
    }
    Ok((tool, context, updates, stop))
}

/// Renews the lease until the run ends; says when a cancel is asked for or the lease is lost.
async fn heartbeat(engine: Engine, id: rampart_core::ExecutionId, attempt: u32, stop: watch::Sender<Stop>) {
    let lease = engine.config.lease;
    loop {
        tokio::select! {
            () = tokio::time::sleep(lease / 3) => {}
            () = stop.closed() => return,
        }
        match engine.store.executions().heartbeat(id, attempt, lease).await {
            Ok(false) => {}
            Ok(true) => {
                let _ = stop.send(Stop::CancelAsked);
            }
            Err(StoreError::Fenced) => {
                let _ = stop.send(Stop::Fenced);
                return;
            }
            Err(error) => tracing::warn!(%error, execution = %id, "cannot renew a lease"),
        }
    }
}

async fn run_tool(
    engine: &Engine,
    execution: &Execution,
    tool: Arc<dyn rampart_tools::Tool>,
    context: ToolContext,
    updates: mpsc::UnboundedReceiver<Update>,
    mut stop: watch::Receiver<Stop>,
    release: CancellationToken,
) -> Option<Finish> {
    let writer = tokio::spawn(write_updates(engine.clone(), execution.id, execution.attempt, updates));
    let cancel = context.cancel.clone();
    // A panic inside the tool is caught here: the run fails at once with an internal error, and
    // its last lines are still written before its end.
    let run = tokio::time::timeout(
        execution.timeout,
        AssertUnwindSafe(tool.run(execution.params.clone(), context)).catch_unwind(),
    );
    let stopped = async {
        loop {
            if stop.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            let now = *stop.borrow();
            if now != Stop::Running {
                return now;
            }
        }
    };
    let finish = tokio::select! {
        outcome = run => match outcome {
            Ok(Ok(Ok(output))) => Some(Finish::Succeeded(output)),
            Ok(Ok(Err(reason))) => Some(Finish::Failed(reason)),
            Ok(Err(_panic)) => Some(internal_error(execution)),
            Err(_) => Some(Finish::TimedOut),
        },
        why = stopped => match why {
            Stop::CancelAsked => Some(Finish::Cancelled),
            _ => None,
        },
        () = release.cancelled() => {
            let _ = engine.store.executions().release(execution.id, execution.attempt).await;
            None
        }
    };
    // Whatever ended the run, the tool stops now; its last lines are written before the end is.
    cancel.cancel();
    let _ = writer.await;
    finish
}

/// Writes progress (the latest) and log lines in batches, under the run's attempt.
async fn write_updates(
    engine: Engine,
    id: rampart_core::ExecutionId,
    attempt: u32,
    mut updates: mpsc::UnboundedReceiver<Update>,
) {
    let runs = engine.store.executions();
    let mut open = true;
    while open {
        let mut progress = None;
        let mut lines: Vec<(LogStream, String)> = Vec::new();
        let deadline = tokio::time::sleep(FLUSH);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                update = updates.recv() => match update {
                    Some(Update::Progress { percent, message }) => progress = Some((percent, message)),
                    Some(Update::Log { stream, line }) => lines.push((stream, line)),
                    None => { open = false; break; }
                },
                () = &mut deadline => break,
            }
        }
        let written = async {
            if !lines.is_empty() {
                runs.append_logs(id, attempt, &lines, engine.config.log_cap).await?;
            }
            if let Some((percent, message)) = progress {
                runs.progress(id, attempt, percent, &message).await?;
            }
            Ok::<_, StoreError>(())
        };
        match written.await {
            Ok(()) => {}
            Err(StoreError::Fenced) => return,
            Err(error) => tracing::warn!(%error, execution = %id, "cannot record progress"),
        }
    }
}
