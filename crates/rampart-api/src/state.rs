//! What every handler can reach: the store, the metrics, the signing key and the clock of the server.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rampart_engine::{Engine, EngineConfig};
use rampart_identity::{Identity, IdentityConfig};
use rampart_scope::{DenyList, OutboundPolicy, ScopeService, SystemResolver};
use rampart_store::{Store, StoreError};
use rampart_tools::Registry;
use rampart_watch::{Watch, WatchConfig};

use crate::live::access::{StreamOptions, Streams};
use crate::live::feeds::Feeds;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub identity: Identity,
    pub scope: ScopeService,
    pub engine: Engine,
    pub watch: Watch,
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
}

/// The settings the state is built from.
#[derive(Clone, Debug, Default)]
pub struct StateOptions {
    pub health_timeout: Duration,
    /// What no tool may reach, whatever the targets say.
    pub deny: DenyList,
    /// What the server's own outbound calls (the model) may reach.
    pub outbound: OutboundPolicy,
    pub identity: IdentityConfig,
    pub trusted_proxies: Vec<IpAddr>,
    /// The bearer token `/metrics` requires; `None`: metrics are open.
    pub metrics_token: Option<String>,
    pub engine: EngineConfig,
    pub watch: WatchConfig,
    /// Limits and re-checks of live streams.
    pub streams: StreamOptions,
}

impl AppState {
    /// Loads the token-signing key, generating and storing it on the first start.
    pub async fn new(store: Arc<dyn Store>, options: StateOptions) -> Result<Self, StoreError> {
        let signing_key = SigningKey::load_or_create(store.as_ref()).await?;
        let identity = Identity::new(store.clone(), signing_key.expose(), options.identity);
        let scope = ScopeService::new(store.clone(), Arc::new(options.deny));
        let engine = Engine::new(store.clone(), Arc::new(Registry::builtin()), scope.clone(), options.engine);
        let outbound =
            rampart_scope::outbound_gate(store.clone(), Arc::new(options.outbound), Arc::new(SystemResolver));
        let watch = Watch::new(store.clone(), options.watch, outbound).map_err(StoreError::Internal)?;
        let metrics = Metrics::new(options.metrics_token.as_deref());
        Ok(Self {
            streams: Streams::new(options.streams, metrics.clone()),
            alert_feeds: Feeds::new(metrics.clone()),
            run_feeds: Feeds::new(metrics.clone()),
            scope,
            engine,
            watch,
            store,
            identity,
            metrics,
            signing_key,
            started: Instant::now(),
            health_timeout: options.health_timeout,
            trusted_proxies: options.trusted_proxies.into(),
        })
    }
}

/// The key that signs access tokens. Its `Debug` output is redacted, and it is never logged or
/// sent: only the token code reads it, through [`SigningKey::expose`].
#[derive(Clone)]
pub struct SigningKey(Arc<[u8]>);

impl SigningKey {
    const NAME: &'static str = "token_signing_key";

    /// Kept in the database so that every server sharing it signs with the same key.
    async fn load_or_create(store: &dyn Store) -> Result<Self, StoreError> {
        let mut candidate = [0u8; 32];
        rand::fill(&mut candidate);
        let stored = store.secrets().get_or_insert(Self::NAME, &URL_SAFE_NO_PAD.encode(candidate)).await?;
        let bytes = URL_SAFE_NO_PAD
            .decode(stored)
            .map_err(|_| StoreError::Internal("the stored signing key is not valid base64".into()))?;
        Ok(Self(bytes.into()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}
