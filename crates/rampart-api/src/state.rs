//! What every handler can reach: the domain services the process built, and the HTTP layer's own
//! state (metrics, live streams and their feeds), built here.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_engine::Engine;
use rampart_identity::{Identity, SigningKey};
use rampart_scope::ScopeService;
use rampart_store::Store;
use rampart_watch::Watch;
use rampart_watch::decisions::Decisions;

use crate::live::access::{StreamOptions, Streams};
use crate::live::feeds::Feeds;
use crate::metrics::Metrics;

/// The domain services the API calls, built by the process's composition root and handed in.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub identity: Identity,
    /// The key `identity` signs access tokens with.
    pub signing_key: SigningKey,
    pub scope: ScopeService,
    pub engine: Engine,
    pub watch: Watch,
    pub decisions: Decisions,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub identity: Identity,
    pub scope: ScopeService,
    pub engine: Engine,
    pub watch: Watch,
    pub decisions: Decisions,
    pub metrics: Arc<Metrics>,
    pub signing_key: SigningKey,
    pub started: Instant,
    /// How long a health check waits for a component before calling it down.
    pub health_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[IpAddr]>,
    /// The live streams open, counted against their caps.
    pub(crate) streams: Arc<Streams>,
    /// The readers behind the live alert streams, one per organisation followed.
    pub(crate) alert_feeds: Arc<crate::watch::live::AlertFeeds>,
    /// The readers behind the live streams of runs, one per run followed.
    pub(crate) run_feeds: Arc<crate::executions::live::RunFeeds>,
    /// Bouncers' startup answers, kept for the second they were made in.
    pub(crate) startup_bodies: Arc<crate::decisions::protocol::StartupBodies>,
}

/// The settings of the HTTP state.
#[derive(Clone, Debug, Default)]
pub struct StateOptions {
    pub health_timeout: Duration,
    pub trusted_proxies: Vec<IpAddr>,
    /// The bearer token `/metrics` requires; `None`: metrics are open.
    pub metrics_token: Option<String>,
    /// Limits and re-checks of live streams.
    pub streams: StreamOptions,
}

impl AppState {
    /// The HTTP state over `services`: metrics, live streams and their feeds.
    pub fn new(services: Services, options: StateOptions) -> Self {
        let Services { store, identity, signing_key, scope, engine, watch, decisions } = services;
        let metrics = Metrics::new(options.metrics_token.as_deref());
        Self {
            streams: Streams::new(options.streams, metrics.clone()),
            alert_feeds: Feeds::new(metrics.clone()),
            run_feeds: Feeds::new(metrics.clone()),
            startup_bodies: Arc::default(),
            scope,
            engine,
            watch,
            decisions,
            store,
            identity,
            metrics,
            signing_key,
            started: Instant::now(),
            health_timeout: options.health_timeout,
            trusted_proxies: options.trusted_proxies.into(),
        }
    }
}
