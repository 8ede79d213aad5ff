//! `/api/v1/stats` and `/api/v1/alerts/recent`: the dashboard's figures. Every number comes from
//! the hourly counters ingestion keeps in the same transaction as the events, so the figures
//! always agree with the events; [`figures`] folds them into series and breakdowns.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, DurationRound, Utc};
use rampart_core::watch::{AttackerOrder, NodeStatus};
use rampart_core::{NodeId, ValidationErrors};
use rampart_store::{AlertFilter, HourCount};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::dto::{AlertView, AttackerView};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::{ApiQuery, AppState};

/// Hours in the hourly series: the current hour and the 23 before it.
pub const HOURS: i64 = 24;
/// Days in the daily series (UTC days): today and the 29 before it.
pub const DAYS: i64 = 30;
/// How recently a node must have sent an event to count as online.
const ONLINE: Duration = Duration::minutes(5);
/// Attackers on the dashboard.
const TOP_ATTACKERS: u32 = 10;

/// Events and new alerts of one period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Bucket {
    /// Where the period starts (an hour, or a UTC midnight).
    pub start: DateTime<Utc>,
    pub events: u64,
    pub alerts: u64,
}

/// The counters folded: series with every period present, and breakdowns, most events first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figures {
    /// 24 buckets, oldest first, the last being the current hour.
    pub hourly: Vec<Bucket>,
    /// 30 buckets, oldest first, the last being today.
    pub daily: Vec<Bucket>,
    /// (service, events, alerts) over the 30 days.
    pub services: Vec<(String, u64, u64)>,
    /// (node, events, alerts) over the 30 days.
    pub nodes: Vec<(NodeId, u64, u64)>,
}

fn hour_of(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(Duration::hours(1)).unwrap_or(time)
}

fn day_of(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(Duration::days(1)).unwrap_or(time)
}

/// Where the counters [`figures`] needs start.
pub fn since(now: DateTime<Utc>) -> DateTime<Utc> {
    day_of(now) - Duration::days(DAYS - 1)
}

/// Folds hourly counters into the dashboard's figures as of `now`. Counters outside the 30 days
/// (or after the current hour: a sensor's clock ahead of ours) are left out.
pub fn figures(counts: &[HourCount], now: DateTime<Utc>) -> Figures {
    let (first_hour, first_day) = (hour_of(now) - Duration::hours(HOURS - 1), since(now));
    let end = hour_of(now) + Duration::hours(1);
    let series = |first: DateTime<Utc>, step: Duration, n: i64| -> Vec<Bucket> {
        (0..n).map(|i| Bucket { start: first + step * i as i32, events: 0, alerts: 0 }).collect()
    };
    let mut hourly = series(first_hour, Duration::hours(1), HOURS);
    let mut daily = series(first_day, Duration::days(1), DAYS);
    let mut services: HashMap<&str, (u64, u64)> = HashMap::new();
    let mut nodes: HashMap<NodeId, (u64, u64)> = HashMap::new();
    for count in counts.iter().filter(|count| count.hour >= first_day && count.hour < end) {
        let add = |bucket: &mut Bucket| {
            bucket.events += count.events;
            bucket.alerts += count.alerts;
        };
        if count.hour >= first_hour
            && let Some(bucket) = hourly.get_mut((count.hour - first_hour).num_hours() as usize)
        {
            add(bucket);
        }
        if let Some(bucket) = daily.get_mut((day_of(count.hour) - first_day).num_days() as usize) {
            add(bucket);
        }
        let service = services.entry(count.service.as_str()).or_default();
        *service = (service.0 + count.events, service.1 + count.alerts);
        let node = nodes.entry(count.node_id).or_default();
        *node = (node.0 + count.events, node.1 + count.alerts);
    }
    let mut services: Vec<(String, u64, u64)> =
        services.into_iter().map(|(service, (events, alerts))| (service.to_owned(), events, alerts)).collect();
    services.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut nodes: Vec<(NodeId, u64, u64)> =
        nodes.into_iter().map(|(node, (events, alerts))| (node, events, alerts)).collect();
    nodes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Figures { hourly, daily, services, nodes }
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
    let now = rampart_core::time::now();
    let counts = app.store.watch().counts(caller.org, since(now)).await?;
    let figures = figures(&counts, now);
    let top = app.store.watch().attackers(caller.org, AttackerOrder::Risk, 0, TOP_ATTACKERS).await?;
    let nodes = super::nodes::all(&app, caller.org).await?;
    let online = nodes
        .iter()
        .filter(|node| node.status == NodeStatus::Active && node.last_seen_at.is_some_and(|seen| seen >= now - ONLINE))
        .count();
    let names: HashMap<NodeId, &str> = nodes.iter().map(|node| (node.id, node.name.as_str())).collect();
    let sum = |buckets: &[Bucket]| {
        buckets.iter().fold((0, 0), |(events, alerts), bucket| (events + bucket.events, alerts + bucket.alerts))
    };
    let ((events_24h, alerts_24h), (events_30d, alerts_30d)) = (sum(&figures.hourly), sum(&figures.daily));
    Ok(Json(StatsView {
        generated_at: now,
        events_24h,
        alerts_24h,
        events_30d,
        alerts_30d,
        by_service: figures
            .services
            .into_iter()
            .map(|(service, events, alerts)| ServiceStats { service, events, alerts })
            .collect(),
        by_node: figures
            .nodes
            .into_iter()
            .map(|(node, events, alerts)| NodeStats {
                node_id: node.as_uuid(),
                name: names.get(&node).map(|name| (*name).to_owned()),
                events,
                alerts,
            })
            .collect(),
        hourly: figures.hourly,
        daily: figures.daily,
        top_attackers: top.into_iter().map(AttackerView::from).collect(),
        nodes_online: online as u64,
        nodes_total: nodes.len() as u64,
    }))
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
    let alerts = app.store.watch().alerts(org, &AlertFilter::default(), None, limit).await?;
    Ok(alerts.into_iter().map(AlertView::from).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    fn count(hour: &str, node: NodeId, service: &str, events: u64, alerts: u64) -> HourCount {
        HourCount { hour: at(hour), node_id: node, service: service.into(), events, alerts }
    }

    #[test]
    fn every_period_is_present_and_each_counter_lands_in_its_own() {
        let now = at("2026-11-24T21:10:00Z");
        let (one, two) = (NodeId::new(), NodeId::new());
        let counts = [
            // Forty days ago: outside every series.
            count("2026-10-15T10:00:00Z", one, "ssh", 100, 9),
            // The first day of the daily series, outside the hourly one.
            count("2026-10-26T00:00:00Z", one, "ssh", 4, 1),
            // The first hour of the hourly series (yesterday).
            count("2026-11-23T22:00:00Z", two, "http", 2, 0),
            // The current hour, on two nodes.
            count("2026-11-24T21:00:00Z", one, "ssh", 3, 1),
            count("2026-11-24T21:00:00Z", two, "ssh", 5, 0),
            // A sensor whose clock runs ahead.
            count("2026-11-24T23:00:00Z", two, "ssh", 7, 0),
        ];
        let figures = figures(&counts, now);

        assert_eq!(figures.hourly.len(), 24);
        assert_eq!(figures.hourly[0], Bucket { start: at("2026-11-23T22:00:00Z"), events: 2, alerts: 0 });
        assert_eq!(figures.hourly[23], Bucket { start: at("2026-11-24T21:00:00Z"), events: 8, alerts: 1 });
        assert_eq!(figures.hourly.iter().map(|b| b.events).sum::<u64>(), 10);
        assert_eq!(figures.daily.len(), 30);
        assert_eq!(figures.daily[0], Bucket { start: at("2026-10-26T00:00:00Z"), events: 4, alerts: 1 });
        assert_eq!(figures.daily[28], Bucket { start: at("2026-11-23T00:00:00Z"), events: 2, alerts: 0 });
        assert_eq!(figures.daily[29], Bucket { start: at("2026-11-24T00:00:00Z"), events: 8, alerts: 1 });
        assert_eq!(figures.daily.iter().map(|b| b.events).sum::<u64>(), 14);
        assert_eq!(figures.services, [("ssh".to_owned(), 12, 2), ("http".to_owned(), 2, 0)]);
        let mut nodes = figures.nodes.clone();
        nodes.sort_by_key(|(node, ..)| *node != one);
        assert_eq!(nodes, [(one, 7, 2), (two, 7, 0)]);
    }

    #[test]
    fn no_counters_are_series_of_zeros() {
        let now = at("2026-11-24T00:00:00Z");
        let figures = figures(&[], now);
        assert!(figures.hourly.iter().chain(&figures.daily).all(|bucket| bucket.events == 0 && bucket.alerts == 0));
        assert_eq!(figures.hourly.last().map(|bucket| bucket.start), Some(now));
        assert_eq!(figures.daily.first().map(|bucket| bucket.start), Some(at("2026-10-26T00:00:00Z")));
        assert!(figures.services.is_empty() && figures.nodes.is_empty());
    }
}
