//! Builds a running server from a configuration: store, migrations, signing key, router, listener.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::HeaderValue;
use rampart_api::{AppState, HttpOptions, ServeOptions, StateOptions};
use rampart_store::{ConnectOptions, SqlStore, Store};
use tokio::net::TcpListener;

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
        identity: config.identity(),
        trusted_proxies: config.http.trusted_proxies.clone(),
    }
}

/// A server bound to its address, ready to run.
pub struct Server {
    listener: TcpListener,
    app: axum::Router,
    options: ServeOptions,
    store: Arc<dyn Store>,
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
            request_timeout: config.http.request_timeout,
            cors_origins: config
                .http
                .cors_origins
                .iter()
                .map(|origin| HeaderValue::from_str(origin).context("http.cors_origins"))
                .collect::<anyhow::Result<_>>()?,
        };
        let app = rampart_api::app_with(extra, state, &http);
        let options = ServeOptions {
            header_read_timeout: config.http.header_read_timeout,
            shutdown_grace: config.http.shutdown_grace,
        };
        Ok(Self { listener, app, options, store })
    }

    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, drains, then closes the database.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        rampart_api::serve(self.listener, self.app, self.options, shutdown).await;
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
