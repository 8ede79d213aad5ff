//! The composition root: the one place the domain services are built from the configuration and
//! the store — identity (with its signing key), scope, engine and watch — and the one place their
//! background tasks are collected, for the [`Supervisor`](crate::supervisor::Supervisor) to start.
//! `rampart-api` receives the services and builds only HTTP state; `rampart worker` builds the
//! scope and the engine, and nothing of HTTP or of the watch.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use rampart_api::Services;
use rampart_engine::{Engine, Worker};
use rampart_identity::{Identity, SigningKey};
use rampart_scope::{ScopeService, SystemResolver, outbound_gate};
use rampart_store::{ConnectOptions, SqlStore, Store, Task};
use rampart_tools::Registry;
use rampart_watch::Watch;

use crate::config::Config;

/// How often the outbox is pruned of what every consumer read or the retention let go.
const OUTBOX_PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

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

/// The identity service, with the token-signing key loaded (created on the first start).
pub async fn identity(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<(Identity, SigningKey)> {
    let signing_key = SigningKey::load_or_create(store.as_ref()).await.context("loading the token-signing key")?;
    let identity = Identity::new(store, signing_key.expose(), config.auth.clone());
    Ok((identity, signing_key))
}

/// The scope service: the server's policy, and `listening`, the server's own socket, which tools
/// may never reach.
pub fn scope(config: &Config, store: Arc<dyn Store>, listening: SocketAddr) -> ScopeService {
    ScopeService::new(store, Arc::new(config.deny_list(listening)))
}

/// The engine with the built-in tools and those the configuration declares (`tools.external`),
/// `secret_scan` with the configured rules and allowed directories;
/// the services tools consult (WHOIS, RDAP) are reached
/// through the outbound gate, which never reaches `listening`, the server's own socket.
pub fn engine(config: &Config, store: Arc<dyn Store>, scope: ScopeService, listening: SocketAddr) -> Engine {
    let outbound =
        outbound_gate(store.clone(), Arc::new(config.outbound.policy(vec![listening])), Arc::new(SystemResolver));
    let mut tools = Registry::with_declared(&config.tools);
    if let Ok(dns) = rampart_tools::dns_lookup::DnsLookup::with_resolvers(&config.dns.resolvers) {
        tools.add(Arc::new(dns));
    }
    // The configuration was checked when it was loaded, the bootstrap file with it.
    if let Ok(servers) = config.whois.servers() {
        tools.add(Arc::new(rampart_tools::whois::Whois::new(servers)));
    }
    if let Ok(secret_scan) = config.secret_scan.tool() {
        tools.add(Arc::new(secret_scan));
    }
    Engine::new(store, Arc::new(tools), scope, config.engine.clone()).with_outbound(outbound)
}

/// Every domain service of a server, and the tasks they need: the store's change listener and
/// upkeep, the watch's ingestion writer, the outbox's pruner and the sweep of expired risk
/// acceptances.
pub async fn build(
    config: &Config,
    store: Arc<dyn Store>,
    listening: SocketAddr,
) -> anyhow::Result<(Services, Vec<Task>)> {
    let (identity, signing_key) = identity(config, store.clone()).await?;
    let scope = scope(config, store.clone(), listening);
    let engine = engine(config, store.clone(), scope.clone(), listening);
    // The server's own outbound calls (the model) are held to the outbound policy.
    let outbound =
        outbound_gate(store.clone(), Arc::new(config.outbound.policy(vec![listening])), Arc::new(SystemResolver));
    let (watch, writer) = Watch::new(store.clone(), config.watch.clone(), outbound)
        .map_err(|error| anyhow::anyhow!("watch.model: {error}"))?;
    let (decisions, follower) =
        rampart_watch::decisions::Decisions::load(store.clone()).await.context("reading the decisions")?;
    let mut tasks: Vec<Task> = store.listener().into_iter().collect();
    tasks.extend(store.tasks());
    tasks.push(writer);
    tasks.push(follower);
    tasks.push(decisions.policy_dispatcher());
    tasks.push(rampart_store::outbox_pruner(store.clone(), rampart_store::outbox::RETENTION, OUTBOX_PRUNE_EVERY));
    tasks.push(engine.acceptance_sweeper());
    Ok((Services { store, identity, signing_key, scope, engine, watch, decisions }, tasks))
}

/// The tasks of a process that runs jobs: its workers, `concurrency` runs at once, and the reaper.
/// On shutdown, runs in progress have three quarters of `http.shutdown_grace` to finish; the last
/// quarter gives the others back to the queue.
pub fn workers(config: &Config, engine: &Engine, kind: &str, concurrency: usize) -> Vec<Task> {
    let grace = config.http.shutdown_grace * 3 / 4;
    vec![Worker::new(engine.clone(), worker_name(kind), concurrency).task(grace), engine.reaper()]
}

/// A name for a worker that tells which process it is: host, kind and process id.
pub fn worker_name(kind: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{kind}:{}", host.trim(), std::process::id())
}
