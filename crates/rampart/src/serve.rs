//! Builds a running server from a configuration: store, migrations, signing key, router, listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::HeaderValue;
use rampart_api::{AppState, HttpOptions, ServeOptions, StateOptions};
use rampart_engine::Worker;
use rampart_store::{ConnectOptions, SqlStore, Store};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Connects to the configured database and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let location = config.database_location();
    let options = ConnectOptions {
        location: location.clone(),
        max_connections: config.database.max_connections,
        acquire_timeout: config.database.acquire_timeout,
        busy_timeout: config.database.busy_timeout,
    };
    let store = SqlStore::connect(&options).await.context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(Arc::new(store))
}

/// The state's settings; `listening` is the server's own socket, which tools may never reach.
pub fn state_options(config: &Config, listening: SocketAddr) -> StateOptions {
    StateOptions {
        health_timeout: config.database.health_timeout,
        deny: config.deny_list(listening),
        outbound: config.outbound.policy(vec![listening]),
        engine: config.engine_config(),
        watch: config.watch_config(),
        identity: config.identity(),
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
    engine: rampart_engine::Engine,
    watch: rampart_watch::Watch,
    workers: usize,
}

impl Server {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        Self::build_with(config, axum::Router::new()).await
    }

    /// A server with `extra` routes behind the same middleware (see [`rampart_api::app_with`]).
    pub async fn build_with(config: &Config, extra: axum::Router<AppState>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {} (RAMPART_LISTEN or --listen)", config.listen))?;
        let listening = listener.local_addr().context("reading the listening address")?;
        let store = open_store(config).await?;
        let state = AppState::new(store.clone(), state_options(config, listening))
            .await
            .context("loading the token-signing key")?;
        crate::bootstrap::first_admin(config, &state.identity, store.as_ref()).await?;
        let http = HttpOptions {
            body_limit: config.http.body_limit,
            ingest_body_limit: config.http.ingest_body_limit,
            request_timeout: config.http.request_timeout,
            cors_origins: config
                .http
                .cors_origins
                .iter()
                .map(|origin| HeaderValue::from_str(origin).context("http.cors_origins"))
                .collect::<anyhow::Result<_>>()?,
        };
        let engine = state.engine.clone();
        let watch = state.watch.clone();
        let app = rampart_api::app_with(extra, state, &http);
        let options = ServeOptions {
            header_read_timeout: config.http.header_read_timeout,
            shutdown_grace: config.http.shutdown_grace,
            max_connections: config.http.max_connections,
            idle_timeout: config.http.idle_timeout,
        };
        Ok(Self { listener, app, options, store, engine, watch, workers: config.engine.workers })
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

    /// Runs no in-process workers (`serve --no-workers`): `rampart worker` processes run the jobs.
    pub fn without_workers(mut self) -> Self {
        self.workers = 0;
        self
    }

    /// Serves (and runs jobs) until `shutdown` completes, drains both, then closes the database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let stop = CancellationToken::new();
        let worker = (self.workers > 0).then(|| {
            let worker = Worker::new(self.engine.clone(), worker_name("serve"), self.workers);
            tokio::spawn(worker.run(stop.clone(), self.options.shutdown_grace))
        });
        rampart_api::serve(self.listener, self.app, self.options, shutdown).await;
        stop.cancel();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        self.store.close().await;
    }
}

/// A name for a worker that tells which process it is: host, kind and process id.
pub fn worker_name(kind: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{kind}:{}", host.trim(), std::process::id())
}

/// Runs jobs without serving HTTP, until `shutdown` completes.
pub async fn run_worker(config: &Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let state =
        AppState::new(store.clone(), state_options(config, config.listen)).await.context("loading the state")?;
    let stop = CancellationToken::new();
    let worker = Worker::new(state.engine.clone(), worker_name("worker"), config.engine.workers.max(1));
    let running = tokio::spawn(worker.run(stop.clone(), config.http.shutdown_grace));
    shutdown.await;
    stop.cancel();
    let _ = running.await;
    store.close().await;
    Ok(())
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
