//! Builds a running server from a configuration: store, migrations, the domain services (see
//! [`crate::services`]), the HTTP state, router and listener, and the supervised background tasks.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::HeaderValue;
use rampart_api::{AppState, HttpOptions, ServeOptions, StateOptions};
use rampart_store::{Store, Task};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::services;
pub use crate::services::open_store;
use crate::supervisor::Supervisor;

/// The HTTP state's settings.
pub fn state_options(config: &Config) -> StateOptions {
    StateOptions {
        health_timeout: config.database.health_timeout,
        trusted_proxies: config.http.trusted_proxies.clone(),
        metrics_token: config.metrics.token.clone(),
        streams: rampart_api::StreamOptions {
            recheck: config.http.stream_recheck,
            max_streams: config.http.max_streams,
            max_streams_per_user: config.http.max_streams_per_user,
        },
    }
}

/// A server bound to its address, ready to run.
pub struct Server {
    listener: TcpListener,
    app: axum::Router,
    options: ServeOptions,
    store: Arc<dyn Store>,
    watch: rampart_watch::Watch,
    /// The tasks the services need: started by [`Server::run`].
    tasks: Vec<Task>,
    /// The in-process workers and their reaper, unless [`Server::without_workers`].
    workers: Vec<Task>,
}

impl Server {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with(config, axum::Router::new()).await
    }

    /// A server with `extra` routes behind the same middleware (see [`rampart_api::app_with`]).
    pub async fn build_with(config: &Config, extra: axum::Router<AppState>) -> anyhow::Result<Self> {
        Self::build_on(config, open_store(config).await?, extra).await
    }

    /// A server over a store already open and migrated (tests give one a clock they move).
    pub async fn build_on(
        config: &Config,
        store: Arc<dyn Store>,
        extra: axum::Router<AppState>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (RAMPART_LISTEN or --listen)", config.listen))?;
        let listening = listener.local_addr().context("reading the listening address")?;
        let (services, tasks) = services::build(config, store.clone(), listening).await?;
        crate::bootstrap::first_admin(config, &services.identity, store.as_ref()).await?;
        let workers = match config.engine.workers {
            0 => Vec::new(),
            concurrency => services::workers(config, &services.engine, "serve", concurrency),
        };
        let http = HttpOptions {
            body_limit: config.http.body_limit,
            ingest_body_limit: config.http.ingest_body_limit,
            import_body_limit: config.http.import_body_limit,
            request_timeout: config.http.request_timeout,
            cors_origins: config
                .http
                .cors_origins
                .iter()
                .map(|origin| HeaderValue::from_str(origin).context("http.cors_origins"))
                .collect::<anyhow::Result<_>>()?,
        };
        let watch = services.watch.clone();
        let app = rampart_api::app_with(extra, AppState::new(services, state_options(config)), &http);
        let options = ServeOptions {
            header_read_timeout: config.http.header_read_timeout,
            shutdown_grace: config.http.shutdown_grace,
            max_connections: config.http.max_connections,
            idle_timeout: config.http.idle_timeout,
        };
        Ok(Self { listener, app, options, store, watch, tasks, workers })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn watch(&self) -> rampart_watch::Watch {
        self.watch.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The names of the background tasks [`Server::run`] starts.
    pub fn task_names(&self) -> Vec<&str> {
        self.tasks.iter().chain(&self.workers).map(Task::name).collect()
    }

    /// Runs no in-process workers (`serve --no-workers`): `rampart worker` processes run the jobs.
    pub fn without_workers(mut self) -> Self {
        self.workers.clear();
        self
    }

    /// Starts the background tasks and serves until `shutdown` completes; then drains the
    /// requests in flight, then the tasks (each within `http.shutdown_grace`), then closes the
    /// database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut supervisor = Supervisor::new();
        for task in self.tasks.into_iter().chain(self.workers) {
            supervisor.start(task);
        }
        let grace = self.options.shutdown_grace;
        rampart_api::serve(self.listener, self.app, self.options, shutdown).await;
        supervisor.shutdown(grace).await;
        self.store.close().await;
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
    }
}
