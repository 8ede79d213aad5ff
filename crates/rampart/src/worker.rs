//! `rampart worker`: runs jobs without serving HTTP. It builds the store, the scope and the engine
//! only — no HTTP state, no watch and so no ingestion writer — and supervises the workers, the
//! reaper and the store's upkeep.

use std::future::Future;
use std::sync::Arc;

use rampart_store::{Store, Task};

use crate::config::Config;
use crate::services;
use crate::supervisor::Supervisor;

/// A worker process, built and not yet running.
pub struct WorkerProcess {
    store: Arc<dyn Store>,
    tasks: Vec<Task>,
    grace: std::time::Duration,
}

impl WorkerProcess {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let store = services::open_store(config).await?;
        // No socket of its own: tools are denied the server's, as the server sees it configured.
        let scope = services::scope(config, store.clone(), config.listen);
        let engine = services::engine(config, store.clone(), scope, config.listen);
        let mut tasks = store.tasks();
        tasks.extend(services::workers(config, &engine, "worker", config.engine.workers.max(1)));
        Ok(Self { store, tasks, grace: config.http.shutdown_grace })
    }

    /// The names of the tasks it will run.
    pub fn task_names(&self) -> Vec<&str> {
        self.tasks.iter().map(Task::name).collect()
    }

    /// Runs jobs until `shutdown` completes, drains the tasks, then closes the database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut supervisor = Supervisor::new();
        for task in self.tasks {
            supervisor.start(task);
        }
        shutdown.await;
        supervisor.shutdown(self.grace).await;
        self.store.close().await;
    }
}
