//! The execution engine. Submitting validates a tool's parameters and checks its targets against
//! the organisation's scope before anything is queued; the queue is the executions table. Workers
//! claim runs with a lease they renew by heartbeat, check the scope again when a run starts, run
//! the tool with a time limit and a cancellation token, and write progress, logs and the end under
//! the run's attempt number, so a worker that lost its lease cannot overwrite a re-run.
#![forbid(unsafe_code)]

mod findings;
mod imports;
pub mod reports;
mod submit;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use rampart_core::ValidationErrors;
use rampart_core::validation::check_duration;
use rampart_scope::ScopeService;
use rampart_store::{Store, Task};
use rampart_tools::Registry;
use serde::{Deserialize, Serialize};

pub use imports::{IMPORT_TOOL, SOURCE_MAX};
pub use submit::{EngineError, TIME_LIMITS, check_time_limit};
pub use worker::Worker;

/// The engine's settings: the `engine` section of the configuration, declared here once with its
/// defaults and checks.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Runs a server (or `rampart worker`) executes at once; 0 for a server that runs none.
    pub workers: usize,
    /// How long a claim holds without a heartbeat; a third of it passes between heartbeats.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Most runs of one organisation running at once, across all workers.
    pub per_org: u32,
    /// How many times a run is tried when its worker is lost.
    pub max_attempts: u32,
    /// Most log lines kept per run.
    pub log_cap: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { workers: 4, lease: Duration::from_secs(30), per_org: 8, max_attempts: 3, log_cap: 10_000 }
    }
}

impl EngineConfig {
    /// Every bad setting, named by its key in the section.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        errors.check("lease", check_duration(self.lease));
        errors.into_result(|| ())
    }
}

#[derive(Clone)]
pub struct Engine {
    store: Arc<dyn Store>,
    tools: Arc<Registry>,
    scope: ScopeService,
    config: EngineConfig,
    /// Wakes the in-process workers when a run is queued, so they need not wait for their next poll.
    queued: Arc<tokio::sync::Notify>,
    /// The server's outbound gate, handed to tools for the services they consult (WHOIS, RDAP).
    outbound: Option<rampart_scope::Gate>,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, tools: Arc<Registry>, scope: ScopeService, config: EngineConfig) -> Self {
        Self { store, tools, scope, config, queued: Arc::new(tokio::sync::Notify::new()), outbound: None }
    }

    /// The same engine, handing `outbound` (the server's outbound gate) to every run.
    pub fn with_outbound(mut self, outbound: rampart_scope::Gate) -> Self {
        self.outbound = Some(outbound);
        self
    }

    pub fn tools(&self) -> &Registry {
        &self.tools
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The reaper, a task named `reaper`: it gives the runs of lost workers back to the queue
    /// every half lease. One runs in each process that runs workers.
    pub fn reaper(&self) -> Task {
        let engine = self.clone();
        Task::new("reaper", move |stop| worker::reap(engine, stop))
    }
}
