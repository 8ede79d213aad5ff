//! The dashboards: `/api/v1/stats` and the replaced system's figures. Every number comes from
//! the hourly counters ingestion keeps in the same transaction as the events, so the figures
//! always agree with the events; [`figures`] folds them into series and breakdowns, and
//! [`Watch::dashboard`] and [`Watch::totals`] compose them with the attackers and the nodes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use rampart_core::watch::{Alert, Attacker, AttackerOrder, Node, NodeStatus};
use rampart_core::{NodeId, OrgId};
use rampart_store::{AlertFilter, HourCount, NodeFilter, Seek, StoreError};

use crate::Watch;

/// Hours in the hourly series: the current hour and the 23 before it.
pub const HOURS: i64 = 24;
/// Days in the daily series (UTC days): today and the 29 before it.
pub const DAYS: i64 = 30;
/// How recently a node must have sent an event to count as online.
pub const ONLINE: Duration = Duration::minutes(5);
/// Attackers on the dashboard.
pub const TOP_ATTACKERS: u32 = 10;
/// Nodes read per page when all of an organisation's are wanted.
const NODE_PAGE: u32 = 500;

/// Events and new alerts of one period.
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Whether a node counts as online at `now`: active, and it sent an event in the last
/// [`ONLINE`].
pub fn is_online(node: &Node, now: DateTime<Utc>) -> bool {
    node.status == NodeStatus::Active && node.last_seen_at.is_some_and(|seen| seen >= now - ONLINE)
}

/// (events, alerts) of a series.
fn sum(buckets: &[Bucket]) -> (u64, u64) {
    buckets.iter().fold((0, 0), |(events, alerts), bucket| (events + bucket.events, alerts + bucket.alerts))
}

/// One node's figures over the 30 days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFigures {
    pub node_id: NodeId,
    /// Absent when the node has since been deleted.
    pub name: Option<String>,
    pub events: u64,
    pub alerts: u64,
}

/// The dashboard of `/api/v1/stats`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
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
    /// (service, events, alerts) over the 30 days, most events first.
    pub by_service: Vec<(String, u64, u64)>,
    /// Over the 30 days, most events first.
    pub by_node: Vec<NodeFigures>,
    /// The riskiest sources of all time.
    pub top_attackers: Vec<Attacker>,
    /// Nodes [`is_online`].
    pub nodes_online: u64,
    pub nodes_total: u64,
}

/// All-time totals, the active nodes and the last 24 hours' events: the figures of the
/// replaced system's dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totals {
    /// Every event the organisation's sensors reported.
    pub events: u64,
    /// Every alert raised.
    pub alerts: u64,
    /// Nodes whose status is `active`.
    pub active_nodes: u64,
    /// Distinct source addresses.
    pub sources: u64,
    /// (service, events), most events first.
    pub events_by_service: Vec<(String, u64)>,
    /// Events of the hourly series (the current hour and the 23 before it).
    pub events_24h: u64,
}

impl Watch {
    /// The dashboard of `org` as of now.
    pub async fn dashboard(&self, org: OrgId) -> Result<Dashboard, StoreError> {
        let now = self.now();
        let store = self.store();
        let counts = store.watch().counts(org, since(now)).await?;
        let figures = figures(&counts, now);
        let top_attackers = store.watch().attackers(org, AttackerOrder::Risk, 0, TOP_ATTACKERS).await?;
        let nodes = self.all_nodes(org).await?;
        let names: HashMap<NodeId, &str> = nodes.iter().map(|node| (node.id, node.name.as_str())).collect();
        let ((events_24h, alerts_24h), (events_30d, alerts_30d)) = (sum(&figures.hourly), sum(&figures.daily));
        Ok(Dashboard {
            generated_at: now,
            events_24h,
            alerts_24h,
            events_30d,
            alerts_30d,
            by_service: figures.services,
            by_node: figures
                .nodes
                .into_iter()
                .map(|(node_id, events, alerts)| NodeFigures {
                    node_id,
                    name: names.get(&node_id).map(|name| (*name).to_owned()),
                    events,
                    alerts,
                })
                .collect(),
            hourly: figures.hourly,
            daily: figures.daily,
            top_attackers,
            nodes_online: nodes.iter().filter(|node| is_online(node, now)).count() as u64,
            nodes_total: nodes.len() as u64,
        })
    }

    /// The all-time totals of `org`, with its active nodes and the last 24 hours' events.
    pub async fn totals(&self, org: OrgId) -> Result<Totals, StoreError> {
        let now = self.now();
        let store = self.store();
        let totals = store.watch().totals(org).await?;
        let counts = store.watch().counts(org, since(now)).await?;
        let nodes = self.all_nodes(org).await?;
        Ok(Totals {
            events: totals.services.iter().map(|(_, events, _)| events).sum(),
            alerts: totals.services.iter().map(|(_, _, alerts)| alerts).sum(),
            active_nodes: nodes.iter().filter(|node| node.status == NodeStatus::Active).count() as u64,
            sources: totals.attackers,
            events_by_service: totals.services.into_iter().map(|(service, events, _)| (service, events)).collect(),
            events_24h: sum(&figures(&counts, now).hourly).0,
        })
    }

    /// The latest `limit` alerts of `org`, newest first.
    pub async fn latest_alerts(&self, org: OrgId, limit: u32) -> Result<Vec<Alert>, StoreError> {
        self.store().watch().alerts(org, &AlertFilter::default(), Seek::first(limit)).await
    }

    /// Every node of `org`, read page by page, oldest first.
    pub async fn all_nodes(&self, org: OrgId) -> Result<Vec<Node>, StoreError> {
        let mut nodes: Vec<Node> = Vec::new();
        loop {
            let after = nodes.last().map(|node| node.id);
            let page =
                self.store().nodes().list(org, &NodeFilter::default(), Seek { from: after, limit: NODE_PAGE }).await?;
            let done = page.len() < NODE_PAGE as usize;
            nodes.extend(page);
            if done {
                return Ok(nodes);
            }
        }
    }
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

    #[test]
    fn a_node_is_online_when_active_and_seen_in_the_last_five_minutes() {
        let now = at("2026-11-24T21:10:00Z");
        let node = Node {
            id: NodeId::new(),
            org_id: OrgId::new(),
            name: "ssh-trap-1".into(),
            kind: rampart_core::watch::NodeKind::Honeypot,
            status: NodeStatus::Active,
            key_prefix: "nk_Ab3dEf6hIj9k".into(),
            legacy_id: None,
            metadata: serde_json::json!({}),
            created_at: now,
            updated_at: now,
            last_seen_at: Some(now - ONLINE),
        };
        assert!(is_online(&node, now), "seen five minutes ago");
        let late = Node { last_seen_at: Some(now - ONLINE - Duration::microseconds(1)), ..node.clone() };
        assert!(!is_online(&late, now), "seen just before");
        let never = Node { last_seen_at: None, ..node.clone() };
        assert!(!is_online(&never, now), "never seen");
        let inactive = Node { status: NodeStatus::Inactive, ..node };
        assert!(!is_online(&inactive, now), "switched off");
    }
}
