//! Watch data: events, alerts, attacker profiles, decoys and hourly counters.
//!
//! [`WatchStore::commit`] writes a group of scored events in one transaction together with
//! everything they change — the alerts they join or raise, the profiles of their sources, the
//! decoys touched, the counters and the nodes' last-seen times — so counts never disagree with
//! the events. Rows are written with multi-row statements, aggregated first so each key appears
//! once. On PostgreSQL commits take turns under an advisory lock, so two servers cannot both
//! raise an alert for the same group, and their upserts cannot deadlock.
//!
//! The module has three parts: `commit` is the write path, `rows` the stored rows and their
//! conversions, `reads` the lists, profiles and totals.

mod commit;
mod reads;
mod rows;

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, Utc};
use rampart_core::watch::{Alert, AlertStatus, Attacker, AttackerOrder, AttackerProfile, Event, NewEvent, Score};
use rampart_core::{AlertId, EventId, NodeId, OrgId, UserId};

use crate::changes::Change;
use crate::effects::unit_of_work;
use crate::{Effects, Seek, SqlStore, StoreResult};
use rows::{ALERT_COLUMNS, AlertRow};

/// An event ready to be stored: validated, scored, its alert rule decided.
#[derive(Clone, Debug)]
pub struct ScoredEvent {
    pub id: EventId,
    pub org_id: OrgId,
    pub node_id: NodeId,
    pub received_at: DateTime<Utc>,
    pub event: NewEvent,
    pub score: Score,
    /// `builtin` or `model`.
    pub scorer: &'static str,
    /// Set when the score reached the organisation's threshold: the event joins the alert of its
    /// group (source address, attack type) last seen within this window, or raises a new one.
    pub alert_window: Option<Duration>,
}

/// What became of one committed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// The alert it joined, and whether it raised it.
    pub alert: Option<(AlertId, bool)>,
}

/// Which alerts to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub min_score: Option<f64>,
    pub source_ip: Option<IpAddr>,
    pub node_id: Option<NodeId>,
    /// Last seen at or after.
    pub since: Option<DateTime<Utc>>,
}

/// Which events to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub node_id: Option<NodeId>,
    pub alert_id: Option<AlertId>,
    pub since: Option<DateTime<Utc>>,
}

/// Everything an organisation's sensors reported, by service, and how many sources it saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchTotals {
    /// Distinct source addresses.
    pub attackers: u64,
    /// (service, events, alerts raised), most events first.
    pub services: Vec<(String, u64, u64)>,
}

/// Events and new alerts of one hour, node and service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourCount {
    pub hour: DateTime<Utc>,
    pub node_id: NodeId,
    pub service: String,
    pub events: u64,
    pub alerts: u64,
}

#[async_trait]
pub trait WatchStore: Send + Sync {
    /// Writes the events and everything they change, in one transaction; answers in order.
    async fn commit(&self, events: &[ScoredEvent]) -> StoreResult<Vec<Committed>>;
    /// Newest first, older than `before` when given.
    async fn events(&self, org: OrgId, filter: &EventFilter, seek: Seek<EventId>) -> StoreResult<Vec<Event>>;
    /// Newest first, older than `before` when given.
    async fn alerts(&self, org: OrgId, filter: &AlertFilter, seek: Seek<AlertId>) -> StoreResult<Vec<Alert>>;
    async fn alert(&self, org: OrgId, id: AlertId) -> StoreResult<Alert>;
    async fn set_alert_status(
        &self,
        org: OrgId,
        id: AlertId,
        status: AlertStatus,
        by: Option<UserId>,
        note: &str,
        effects: &Effects,
    ) -> StoreResult<Alert>;
    /// A page of attackers in `order`, after skipping `offset`.
    async fn attackers(&self, org: OrgId, order: AttackerOrder, offset: u32, limit: u32) -> StoreResult<Vec<Attacker>>;
    async fn attacker(&self, org: OrgId, ip: IpAddr) -> StoreResult<AttackerProfile>;
    /// Hourly counts from `since` on.
    async fn counts(&self, org: OrgId, since: DateTime<Utc>) -> StoreResult<Vec<HourCount>>;
    /// Alerts raised or changed after `after` (an `updated_at` and, among alerts changed at that
    /// same instant, an id), in the order they changed: a follower pages through changes with the
    /// last alert it read.
    async fn alerts_changed_since(
        &self,
        org: OrgId,
        after: (DateTime<Utc>, Option<AlertId>),
        limit: u32,
    ) -> StoreResult<Vec<Alert>>;
    /// All-time totals: events and alerts by service, and the number of sources.
    async fn totals(&self, org: OrgId) -> StoreResult<WatchTotals>;
}

fn hour_of(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(chrono::Duration::hours(1)).unwrap_or(time)
}

#[async_trait]
impl WatchStore for SqlStore {
    async fn commit(&self, events: &[ScoredEvent]) -> StoreResult<Vec<Committed>> {
        self.commit_watch(events).await
    }

    async fn events(&self, org: OrgId, filter: &EventFilter, seek: Seek<EventId>) -> StoreResult<Vec<Event>> {
        self.watch_events(org, filter, seek).await
    }

    async fn alerts(&self, org: OrgId, filter: &AlertFilter, seek: Seek<AlertId>) -> StoreResult<Vec<Alert>> {
        self.watch_alerts(org, filter, seek).await
    }

    async fn alert(&self, org: OrgId, id: AlertId) -> StoreResult<Alert> {
        self.watch_alert(org, id).await
    }

    async fn set_alert_status(
        &self,
        org: OrgId,
        id: AlertId,
        status: AlertStatus,
        by: Option<UserId>,
        note: &str,
        effects: &Effects,
    ) -> StoreResult<Alert> {
        let sql = format!(
            "UPDATE alerts SET status = $3, status_by = $4, status_note = $5, updated_at = $6 \
             WHERE org_id = $1 AND id = $2 RETURNING {ALERT_COLUMNS}"
        );
        let now = self.now();
        let value = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, AlertRow>(&sql)
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .bind(status.as_str())
                .bind(by.map(|id| id.as_uuid()))
                .bind(note)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .into_alert()?,
            |_: &Alert| effects.clone()
        );
        self.changed(Change::Alerts(org));
        Ok(value)
    }

    async fn attackers(&self, org: OrgId, order: AttackerOrder, offset: u32, limit: u32) -> StoreResult<Vec<Attacker>> {
        self.watch_attackers(org, order, offset, limit).await
    }

    async fn attacker(&self, org: OrgId, ip: IpAddr) -> StoreResult<AttackerProfile> {
        self.watch_attacker(org, ip).await
    }

    async fn counts(&self, org: OrgId, since: DateTime<Utc>) -> StoreResult<Vec<HourCount>> {
        self.watch_counts(org, since).await
    }

    async fn alerts_changed_since(
        &self,
        org: OrgId,
        after: (DateTime<Utc>, Option<AlertId>),
        limit: u32,
    ) -> StoreResult<Vec<Alert>> {
        self.watch_alerts_changed_since(org, after, limit).await
    }

    async fn totals(&self, org: OrgId) -> StoreResult<WatchTotals> {
        self.watch_totals(org).await
    }
}
