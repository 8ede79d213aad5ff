//! Rampart's HTTP API: a thin translation of HTTP into calls on the domain and the store.
//!
//! Handlers extract, parse into a core type, make one call and map the result to a view. No SQL,
//! transactions or business rules live here. Every route is declared with its OpenAPI description,
//! so the document at `/api/v1/openapi.json` lists exactly the routes the server has.
#![forbid(unsafe_code)]

pub mod api_keys;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod body;
pub mod decisions;
pub mod docs;
pub mod error;
pub mod executions;
pub mod findings;
pub mod health;
pub mod imports;
mod live;
pub mod metrics;
mod middleware;
pub mod orgs;
pub mod pagination;
pub mod query;
mod responses;
mod schemas;
pub mod server;
pub mod settings;
mod state;
pub mod targets;
pub mod users;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use body::{ApiForm, ApiJson};
pub use error::{ApiError, Problem};
pub use live::access::StreamOptions;
pub use middleware::{API_VERSION, API_VERSION_HEADER, REQUEST_ID_HEADER};
pub use query::ApiQuery;
pub use rampart_identity::SigningKey;
pub use server::{ServeOptions, serve};
pub use state::{AppState, Services, StateOptions};

/// Limits and policies of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// The largest request body accepted, on every route but ingestion, in bytes.
    pub body_limit: usize,
    /// The largest body the ingestion routes accept (a batch of events), in bytes.
    pub ingest_body_limit: usize,
    /// The largest report an import accepts, in bytes.
    pub import_body_limit: usize,
    /// The longest a handler may take to produce its response.
    pub request_timeout: Duration,
    /// Origins allowed to call the API from a browser; none by default.
    pub cors_origins: Vec<HeaderValue>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rampart",
        description = "Self-hosted security operations: scan what you own, catch who probes you.\n\n\
            Errors are RFC 9457 `application/problem+json` documents carrying the `request_id` of the response.",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only"),
    ),
    components(schemas(Problem, error::FieldErrorView)),
    tags(
        (name = "auth", description = "Log in, tokens, sessions"),
        (name = "api-keys", description = "Keys for scripts and integrations"),
        (name = "audit", description = "The record of security-relevant actions"),
        (name = "users", description = "Accounts of the server (superusers)"),
        (name = "orgs", description = "Organisations and their members"),
        (name = "executions", description = "Tools, and their runs as durable jobs"),
        (name = "targets", description = "The authorised targets: the scope every scan must stay inside"),
        (name = "nodes", description = "Sensors: honeypots, endpoint agents and network monitors, each with its key"),
        (name = "ingest", description = "Where sensors send their events, with their node key (`X-Node-Key`)"),
        (name = "alerts", description = "Alerts raised by scored events, grouped by source and attack type"),
        (name = "attackers", description = "The sources that probed the organisation, with what they touched and tried"),
        (name = "settings", description = "The organisation's settings of alerts"),
        (name = "decisions", description = "Decisions firewalls apply to addresses and networks, the allowlist no decision may cover, and the bouncers that pull them"),
        (name = "bouncers", description = "The CrowdSec bouncer protocol, for firewall bouncers, with a bouncer's key (`X-Api-Key`)"),
        (name = "legacy", description = "The dashboard paths of the system Rampart replaces, in its shapes, for the caller's organisation"),
        (name = "health", description = "Liveness, readiness and component health"),
        (name = "docs", description = "This documentation"),
        (name = "observability", description = "Metrics"),
    )
)]
struct ApiDoc;

/// Every route of the API with its OpenAPI description.
fn routes() -> OpenApiRouter<AppState> {
    api_routes().merge(ingest_routes()).merge(import_routes())
}

/// Where other tools' reports are imported: whole scanners' reports, so a body limit of their own.
fn import_routes() -> OpenApiRouter<AppState> {
    imports::router()
}

/// Where sensors send events: batches, so a body limit of their own.
fn ingest_routes() -> OpenApiRouter<AppState> {
    watch::ingest::router()
}

/// Every other route, domain by domain.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(docs::router())
        .merge(metrics::router())
        .merge(auth::router())
        .merge(api_keys::router())
        .merge(audit::router())
        .merge(users::router())
        .merge(orgs::router())
        .merge(targets::router())
        .merge(executions::router())
        .merge(findings::router())
        .merge(assets::router())
        .merge(watch::router())
        .merge(decisions::router())
        .merge(settings::router())
}

/// The OpenAPI 3.1 document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut spec = routes().split_for_parts().1;
    // After the routes are in, so that it sees every operation.
    utoipa::Modify::modify(&auth::SecuritySchemes, &mut spec);
    utoipa::Modify::modify(&responses::ProblemResponses, &mut spec);
    utoipa::Modify::modify(&query::EmptyIsAbsent, &mut spec);
    spec.info.version = env!("CARGO_PKG_VERSION").to_owned();
    spec
}

/// The application: every route behind the shared middleware.
pub fn app(state: AppState, options: &HttpOptions) -> Router {
    app_with(Router::new(), state, options)
}

/// The application with `extra` routes given the same middleware as the API's own; tests use it
/// to exercise the middleware with handlers that panic, stall or take a body.
pub fn app_with(extra: Router<AppState>, state: AppState, options: &HttpOptions) -> Router {
    // Each group has its body limit; the outer limit, the larger, holds for the fallback too.
    let (api, _) = api_routes().split_for_parts();
    let (ingest, _) = ingest_routes().split_for_parts();
    let (import, _) = import_routes().split_for_parts();
    let api = api
        .merge(extra)
        .layer(RequestBodyLimitLayer::new(options.body_limit))
        .merge(ingest.layer(RequestBodyLimitLayer::new(options.ingest_body_limit)))
        .merge(import.layer(RequestBodyLimitLayer::new(options.import_body_limit)));
    let spec: Arc<str> = openapi().to_json().expect("the OpenAPI document serialises").into();
    let context = Arc::new(middleware::RequestContext {
        metrics: state.metrics.clone(),
        request_timeout: options.request_timeout,
    });

    let mut router = api
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
        .layer(axum::Extension(docs::OpenApiJson(spec)))
        // The limit holds for every request, not only those read by a JSON extractor.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(
            options.body_limit.max(options.ingest_body_limit).max(options.import_body_limit),
        ))
        .layer(CatchPanicLayer::custom(middleware::panic_response));
    if !options.cors_origins.is_empty() {
        router = router.layer(cors(&options.cors_origins));
    }
    router.layer(axum::middleware::from_fn_with_state(context, middleware::request_context))
}

fn cors(origins: &[HeaderValue]) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            REQUEST_ID_HEADER,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static(watch::ingest::NODE_KEY_HEADER),
        ])
        .expose_headers([REQUEST_ID_HEADER, API_VERSION_HEADER])
        .max_age(Duration::from_secs(600))
}
