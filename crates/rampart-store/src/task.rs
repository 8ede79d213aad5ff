//! A background task: a name and the work, which runs until its cancellation token is cancelled.
//!
//! Components never spawn their background work themselves: they hand it out as a [`Task`], and
//! the process starts each one under its supervisor, which knows every task it runs by name and
//! cancels and awaits them all on shutdown. The type lives here because every domain crate depends
//! on the store, which has tasks of its own, and core stays free of a runtime.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

/// The work of a task, once started.
pub type Running = Pin<Box<dyn Future<Output = ()> + Send>>;

type Work = Box<dyn FnOnce(CancellationToken) -> Running + Send>;

/// Work to run in the background until `stop` is cancelled; then it ends soon, finishing what it
/// has already taken.
pub struct Task {
    name: Cow<'static, str>,
    work: Work,
}

impl Task {
    pub fn new<F, Fut>(name: impl Into<Cow<'static, str>>, work: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self { name: name.into(), work: Box::new(move |stop| Box::pin(work(stop))) }
    }

    /// What the logs call it, such as `ingest-writer`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The work, to be polled until it ends; it ends soon after `stop` is cancelled.
    pub fn run(self, stop: CancellationToken) -> Running {
        (self.work)(stop)
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Task").field(&self.name).finish()
    }
}
