//! Prometheus metrics: requests by route and status, latency histograms, and the database pool.
//! Labels are bounded: the matched route template (never the raw path) and known methods only;
//! no label names an organisation, a user or an address, so the server's whole traffic shows and
//! no tenant's own. With `metrics.token` set, only a scraper bearing that token reads them; only
//! its SHA-256 digest is kept, compared in constant time.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The Prometheus scrape.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

pub struct Metrics {
    /// The digest of the bearer token a scraper must send; `None`: metrics are open.
    token_digest: Option<[u8; 32]>,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
    events: Family<OutcomeLabels, Counter>,
    model_fallbacks: Family<ReasonLabels, Gauge>,
    password_hashes: Family<PoolLabels, Gauge>,
    /// Live streams open (server-sent events and WebSockets).
    pub(crate) live_streams: Gauge,
    /// Readers of the database behind the live streams: one per organisation or run followed.
    pub(crate) live_readers: Gauge,
}

impl Metrics {
    /// Metrics readable by anyone (`token: None`) or only with `Authorization: Bearer <token>`.
    pub fn new(token: Option<&str>) -> Arc<Self> {
        let mut registry = Registry::with_prefix("rampart");
        let requests = Family::<RequestLabels, Counter>::default();
        // 0.5 ms to about 16 s.
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered, by method, route and status", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", latency.clone());
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (idle, in_use, max)",
            pool.clone(),
        );
        let events = Family::<OutcomeLabels, Counter>::default();
        registry.register("events", "Sensor events taken (accepted, committed) or refused (rejected)", events.clone());
        let model_fallbacks = Family::<ReasonLabels, Gauge>::default();
        registry.register(
            "model_fallbacks",
            "Events the external model did not score, so the built-in scorer did, by reason",
            model_fallbacks.clone(),
        );
        let password_hashes = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "password_hashes",
            "Password hashes (Argon2id) by state (in_flight, max_in_flight since start, slots)",
            password_hashes.clone(),
        );
        let token_digest = token.map(digest);
        let live_streams = Gauge::default();
        registry.register(
            "live_streams",
            "Live streams open (server-sent events and WebSockets)",
            live_streams.clone(),
        );
        let live_readers = Gauge::default();
        registry.register(
            "live_readers",
            "Database readers behind the live streams, one per organisation (alerts) or run followed",
            live_readers.clone(),
        );
        Arc::new(Self {
            token_digest,
            registry,
            requests,
            latency,
            pool,
            events,
            model_fallbacks,
            password_hashes,
            live_streams,
            live_readers,
        })
    }

    pub(crate) fn record(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.requests.get_or_create(&RequestLabels { method, route: route.to_owned(), status }).inc();
        self.latency.get_or_create(&RouteLabels { method, route: route.to_owned() }).observe(elapsed.as_secs_f64());
    }
}

impl Metrics {
    pub(crate) fn events_ingested(&self, accepted: usize, rejected: usize) {
        self.events.get_or_create(&OutcomeLabels { outcome: "accepted" }).inc_by(accepted as u64);
        self.events.get_or_create(&OutcomeLabels { outcome: "rejected" }).inc_by(rejected as u64);
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Metrics {
    /// True when the request may read the metrics: none are required, or it bears the token.
    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(expected) = &self.token_digest else { return true };
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        // Digests of equal length, compared in constant time: neither the token nor its length
        // can be learned from the time an answer takes.
        presented.is_some_and(|token| bool::from(digest(token).ct_eq(expected)))
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Prometheus text exposition. With `metrics.token` set, only `Authorization: Bearer <token>` reads it.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "observability",
    responses((status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain", body = String,
        example = "# TYPE rampart_http_requests counter\nrampart_http_requests_total{method=\"GET\",route=\"/api/v1/health/live\",status=\"200\"} 1\n"),
        (status = 401, description = "`metrics.token` is set and the request does not bear it", body = crate::error::Problem, content_type = "application/problem+json"))
)]
pub async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if !app.metrics.admits(&headers) {
        return crate::error::ApiError::Unauthorized("the metrics need the scraper's bearer token".into())
            .into_response();
    }
    let stats = app.store.pool_stats();
    let in_use = stats.size.saturating_sub(stats.idle);
    app.metrics.pool.get_or_create(&PoolLabels { state: "idle" }).set(i64::from(stats.idle));
    app.metrics.pool.get_or_create(&PoolLabels { state: "in_use" }).set(i64::from(in_use));
    app.metrics.pool.get_or_create(&PoolLabels { state: "max" }).set(i64::from(stats.max));
    let work = app.identity.password_work();
    for (state, value) in [("in_flight", work.in_flight), ("max_in_flight", work.max_in_flight), ("slots", work.slots)]
    {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        app.metrics.password_hashes.get_or_create(&PoolLabels { state }).set(value);
    }
    if let Some(model) = app.watch.model() {
        for (reason, count) in model.fallbacks() {
            let count = i64::try_from(count).unwrap_or(i64::MAX);
            app.metrics.model_fallbacks.get_or_create(&ReasonLabels { reason }).set(count);
        }
    }
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &app.metrics.registry).is_err() {
        return crate::error::ApiError::Internal("cannot encode metrics".into()).into_response();
    }
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
