//! `/api/v1/stats` and `/api/v1/alerts/recent`: the dashboard's figures, composed by the watch
//! ([`rampart_watch::dashboard`]) and shown here.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use rampart_core::ValidationErrors;
use rampart_watch::dashboard::{self, Dashboard, NodeFigures};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{AlertView, AttackerView};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::{ApiQuery, AppState};

/// Events and new alerts of one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Bucket {
    /// Where the period starts (an hour, or a UTC midnight).
    pub start: DateTime<Utc>,
    pub events: u64,
    pub alerts: u64,
}

impl From<dashboard::Bucket> for Bucket {
    fn from(bucket: dashboard::Bucket) -> Self {
        Self { start: bucket.start, events: bucket.events, alerts: bucket.alerts }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceStats {
    pub service: String,
    pub events: u64,
    pub alerts: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeStats {
    pub node_id: Uuid,
    /// Absent when the node has since been deleted.
    pub name: Option<String>,
    pub events: u64,
    pub alerts: u64,
}

/// The dashboard.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "generated_at": "2026-11-24T21:10:00Z", "events_24h": 57, "alerts_24h": 2, "events_30d": 1210, "alerts_30d": 31,
    "hourly": [{"start": "2026-11-23T22:00:00Z", "events": 0, "alerts": 0}, {"start": "2026-11-23T23:00:00Z", "events": 3, "alerts": 0}],
    "daily": [{"start": "2026-10-26T00:00:00Z", "events": 40, "alerts": 1}],
    "by_service": [{"service": "ssh", "events": 1100, "alerts": 25}, {"service": "decoy", "events": 110, "alerts": 6}],
    "by_node": [{"node_id": "0193a1f0-7c1e-7d3a-9f6b-2b1c8d9e0f12", "name": "ssh-trap-1", "events": 1210, "alerts": 31}],
    "top_attackers": [{"source_ip": "203.0.113.7", "events": 42, "alerts": 3, "avg_score": 5.25, "max_score": 9.0,
                       "first_seen": "2026-11-24T20:00:00Z", "last_seen": "2026-11-24T21:10:00Z"}],
    "nodes_online": 1, "nodes_total": 2
}))]
pub struct StatsView {
    pub generated_at: DateTime<Utc>,
    /// Events of the hourly series (the current hour and the 23 before it).
    pub events_24h: u64,
    /// Alerts raised in those hours.
    pub alerts_24h: u64,
    /// Events of the daily series (today and the 29 days before it, UTC).
    pub events_30d: u64,
    pub alerts_30d: u64,
    /// 24 hours, oldest first, every hour present.
    pub hourly: Vec<Bucket>,
    /// 30 days, oldest first, every day present.
    pub daily: Vec<Bucket>,
    /// Over the 30 days, most events first.
    pub by_service: Vec<ServiceStats>,
    /// Over the 30 days, most events first.
    pub by_node: Vec<NodeStats>,
    /// The ten riskiest sources of all time.
    pub top_attackers: Vec<AttackerView>,
    /// Active nodes that sent an event in the last 5 minutes.
    pub nodes_online: u64,
    pub nodes_total: u64,
}

/// The dashboard: events and alerts per hour (24 h) and per day (30 days), by service and by
/// node, the riskiest attackers, and how many nodes are online.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "alerts",
    security(("bearer" = ["viewer"])),
    responses((status = 200, description = "The figures", body = StatsView))
)]
pub async fn stats(caller: Caller, State(app): State<AppState>) -> Result<Json<StatsView>, ApiError> {
    Ok(Json(app.watch.dashboard(caller.org).await?.into()))
}

impl From<Dashboard> for StatsView {
    fn from(dashboard: Dashboard) -> Self {
        Self {
            generated_at: dashboard.generated_at,
            events_24h: dashboard.events_24h,
            alerts_24h: dashboard.alerts_24h,
            events_30d: dashboard.events_30d,
            alerts_30d: dashboard.alerts_30d,
            hourly: dashboard.hourly.into_iter().map(Bucket::from).collect(),
            daily: dashboard.daily.into_iter().map(Bucket::from).collect(),
            by_service: dashboard
                .by_service
                .into_iter()
                .map(|(service, events, alerts)| ServiceStats { service, events, alerts })
                .collect(),
            by_node: dashboard
                .by_node
                .into_iter()
                .map(|NodeFigures { node_id, name, events, alerts }| NodeStats {
                    node_id: node_id.as_uuid(),
                    name,
                    events,
                    alerts,
                })
                .collect(),
            top_attackers: dashboard.top_attackers.into_iter().map(AttackerView::from).collect(),
            nodes_online: dashboard.nodes_online,
            nodes_total: dashboard.nodes_total,
        }
    }
}

/// Most alerts `recent` answers with.
pub const RECENT_MAX: u32 = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// How many, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The organisation's latest `limit` alerts, newest first.
pub(crate) async fn latest(app: &AppState, org: rampart_core::OrgId, limit: u32) -> Result<Vec<AlertView>, ApiError> {
    Ok(app.watch.latest_alerts(org, limit).await?.into_iter().map(AlertView::from).collect())
}

/// The latest alerts raised, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/recent",
    tag = "alerts",
    security(("bearer" = ["viewer"])),
    params(RecentQuery),
    responses(
        (status = 200, description = "The latest alerts", body = Vec<AlertView>),
        (status = 422, description = "A bad limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn recent(
    caller: Caller,
    State(app): State<AppState>,
    ApiQuery(query): ApiQuery<RecentQuery>,
) -> Result<Json<Vec<AlertView>>, ApiError> {
    let limit = query.limit.unwrap_or(10);
    if !(1..=RECENT_MAX).contains(&limit) {
        return Err(ValidationErrors::single("limit", format!("must be between 1 and {RECENT_MAX}")).into());
    }
    Ok(Json(latest(&app, caller.org, limit).await?))
}
