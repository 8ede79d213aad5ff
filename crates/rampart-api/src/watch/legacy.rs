//! The dashboard paths of the system Rampart replaces (DecoyVerse), for the clients already
//! written against them: `/api/stats`, `/api/recent-attacks`, `/api/alerts` and
//! `/api/attacker-profile/{ip}`. They answer in that system's snake_case shapes, for the caller's
//! organisation, behind the same credentials and roles as the rest of the API (a bearer token or
//! an API key, viewer or above). They read what `/api/v1` reads; nothing here has rules of its own.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::attackers::parse_ip;
use super::dto::AlertView;
use super::stats::latest;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};

/// Alerts `/api/recent-attacks` answers with, as the replaced system did.
const RECENT_ATTACKS: u32 = 10;
/// Alerts `/api/alerts` answers with, as the replaced system did.
const ALERTS: u32 = 50;

/// The replaced system's dashboard figures.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "total_attacks": 1210, "high_risk_alerts": 31, "active_nodes": 2, "unique_attackers": 57,
    "attacks_by_service": {"ssh": 1100, "decoy": 110}, "recent_24h": 57
}))]
pub struct LegacyStats {
    /// Every event the organisation's sensors reported, all time.
    pub total_attacks: u64,
    /// Every alert raised, all time (an alert is raised only by a score at the threshold).
    pub high_risk_alerts: u64,
    /// Nodes whose status is `active`.
    pub active_nodes: u64,
    /// Distinct source addresses, all time.
    pub unique_attackers: u64,
    /// Events by service, all time.
    #[schema(value_type = Object)]
    pub attacks_by_service: BTreeMap<String, u64>,
    /// Events of the last 24 hours (the current hour and the 23 before it).
    pub recent_24h: u64,
}

/// An alert as the replaced system showed it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "timestamp": "2026-11-24T20:40:00Z", "source_ip": "203.0.113.7",
    "attack_type": "credential_attack", "risk_score": 8.0, "node_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f13",
    "status": "open", "event_count": 12
}))]
pub struct LegacyAlert {
    pub id: Uuid,
    /// When its latest event happened (an alert groups repeats).
    pub timestamp: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub attack_type: String,
    /// Its highest score.
    pub risk_score: f64,
    pub node_id: Option<Uuid>,
    /// `open`, `acknowledged` or `resolved`.
    pub status: &'static str,
    /// Events grouped into it.
    pub event_count: u64,
}

impl From<AlertView> for LegacyAlert {
    fn from(alert: AlertView) -> Self {
        Self {
            id: alert.id,
            timestamp: alert.last_seen,
            source_ip: alert.source_ip,
            attack_type: alert.attack_type,
            risk_score: alert.max_score,
            node_id: alert.node_id,
            status: alert.status,
            event_count: alert.events,
        }
    }
}

/// An attacker profile as the replaced system showed it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "source_ip": "203.0.113.7", "total_attacks": 42, "avg_risk_score": 5.25, "max_risk_score": 9.0,
    "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-24T21:10:00Z", "services_targeted": ["ssh", "http"],
    "nodes_targeted": ["0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12"], "usernames_tried": ["root", "admin"]
}))]
pub struct LegacyProfile {
    pub source_ip: String,
    pub total_attacks: u64,
    pub avg_risk_score: f64,
    pub max_risk_score: f64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Most events first.
    pub services_targeted: Vec<String>,
    /// Node ids, most events first.
    pub nodes_targeted: Vec<Uuid>,
    /// The ten it tried most, most first.
    pub usernames_tried: Vec<String>,
}

/// The replaced system's dashboard figures, for the caller's organisation.
#[utoipa::path(
    get,
    path = "/api/stats",
    tag = "legacy",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The figures", body = LegacyStats))
)]
pub async fn stats(caller: Caller, State(app): State<AppState>) -> Result<Json<LegacyStats>, ApiError> {
    let totals = app.watch.totals(caller.org).await?;
    Ok(Json(LegacyStats {
        total_attacks: totals.events,
        high_risk_alerts: totals.alerts,
        active_nodes: totals.active_nodes,
        unique_attackers: totals.sources,
        attacks_by_service: totals.events_by_service.into_iter().collect(),
        recent_24h: totals.events_24h,
    }))
}

/// The latest 10 alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/recent-attacks",
    tag = "legacy",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The latest alerts", body = Vec<LegacyAlert>))
)]
pub async fn recent_attacks(caller: Caller, State(app): State<AppState>) -> Result<Json<Vec<LegacyAlert>>, ApiError> {
    let alerts = latest(&app, caller.org, RECENT_ATTACKS).await?;
    Ok(Json(alerts.into_iter().map(LegacyAlert::from).collect()))
}

/// The latest 50 alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/alerts",
    tag = "legacy",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The latest alerts", body = Vec<LegacyAlert>))
)]
pub async fn alerts(caller: Caller, State(app): State<AppState>) -> Result<Json<Vec<LegacyAlert>>, ApiError> {
    let alerts = latest(&app, caller.org, ALERTS).await?;
    Ok(Json(alerts.into_iter().map(LegacyAlert::from).collect()))
}

/// What one source did to the organisation, in the replaced system's shape.
#[utoipa::path(
    get,
    path = "/api/attacker-profile/{ip}",
    tag = "legacy",
    security(("bearer" = ["viewer"])),
    params(crate::watch::attackers::IpPath),
    responses(
        (status = 200, description = "The profile", body = LegacyProfile),
        (status = 404, description = "The organisation never saw this address", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an IP address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn attacker_profile(
    caller: Caller,
    State(app): State<AppState>,
    Path(ip): Path<String>,
) -> Result<Json<LegacyProfile>, ApiError> {
    let profile = app.store.watch().attacker(caller.org, parse_ip("ip", &ip)?).await?;
    let attacker = profile.attacker;
    Ok(Json(LegacyProfile {
        source_ip: attacker.source_ip.to_string(),
        total_attacks: attacker.events,
        avg_risk_score: attacker.avg_score,
        max_risk_score: attacker.max_score,
        first_seen: attacker.first_seen,
        last_seen: attacker.last_seen,
        services_targeted: profile.services.into_iter().map(|(service, _)| service).collect(),
        nodes_targeted: profile.nodes.into_iter().map(|(node, _)| node.as_uuid()).collect(),
        usernames_tried: profile.top_usernames.into_iter().map(|(username, _)| username).collect(),
    }))
}
