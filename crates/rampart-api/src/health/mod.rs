//! Health: overall status with each component's status and latency, a liveness probe that touches
//! nothing, and a readiness probe that fails (503) while the database is unreachable and recovers
//! on its own when it returns.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::error::{ApiError, Problem};

/// Liveness, readiness and component health.
pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(live)).routes(routes!(ready))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Ok,
    Down,
}

/// The state of the server and of everything it depends on.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "status": "ok",
    "version": "0.1.0",
    "uptime_seconds": 42,
    "components": [{"name": "database", "status": "ok", "latency_ms": 0.4, "detail": "sqlite"}]
}))]
pub struct HealthReport {
    /// `ok` when every component is, `down` otherwise.
    pub status: HealthStatus,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub components: Vec<ComponentHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentHealth {
    pub name: &'static str,
    pub status: HealthStatus,
    /// How long the check took, in milliseconds.
    pub latency_ms: f64,
    /// The backend, or why the component is down; never a credential or a driver message.
    pub detail: String,
}

/// Liveness: the process answers.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Liveness {
    pub status: HealthStatus,
}

/// Overall health, with each component.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "health",
    responses((status = 200, description = "The health of the server and its components; `status` says whether all are up", body = HealthReport))
)]
pub async fn health(State(app): State<AppState>) -> Json<HealthReport> {
    Json(check(&app).await)
}

/// Liveness probe: answers as long as the process serves requests.
#[utoipa::path(
    get,
    path = "/api/v1/health/live",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: HealthStatus::Ok })
}

/// Readiness probe: 503 while a dependency is down.
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = HealthReport),
        (status = 503, description = "A dependency is down; `health` lists each component", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ready(State(app): State<AppState>) -> Result<Json<HealthReport>, ApiError> {
    let report = check(&app).await;
    if report.status == HealthStatus::Ok {
        return Ok(Json(report));
    }
    let down: Vec<_> = report.components.iter().filter(|c| c.status == HealthStatus::Down).map(|c| c.name).collect();
    Err(ApiError::Unavailable {
        detail: format!("not ready: {} down", down.join(", ")),
        health: serde_json::to_value(&report).ok(),
    })
}

async fn check(app: &AppState) -> HealthReport {
    let started = Instant::now();
    let database = match tokio::time::timeout(app.health_timeout, app.store.ping()).await {
        Ok(Ok(())) => (HealthStatus::Ok, app.store.backend().as_str().to_owned()),
        Ok(Err(error)) => (HealthStatus::Down, format!("{}: {error}", app.store.backend().as_str())),
        Err(_) => (HealthStatus::Down, format!("{}: no answer in time", app.store.backend().as_str())),
    };
    let components = vec![ComponentHealth {
        name: "database",
        status: database.0,
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        detail: database.1,
    }];
    let status =
        if components.iter().all(|c| c.status == HealthStatus::Ok) { HealthStatus::Ok } else { HealthStatus::Down };
    HealthReport {
        status,
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: app.started.elapsed().as_secs(),
        components,
    }
}
