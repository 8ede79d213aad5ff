//! Watch data: events, alerts, attacker profiles, decoys and hourly counters.
//!
//! [`WatchStore::commit`] writes a group of scored events in one transaction together with
//! everything they change — the alerts they join or raise, the profiles of their sources, the
//! decoys touched, the counters and the nodes' last-seen times — so counts never disagree with
//! the events. Rows are written with multi-row statements, aggregated first so each key appears
//! once. On PostgreSQL commits take turns under an advisory lock, so two servers cannot both
//! raise an alert for the same group, and their upserts cannot deadlock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, Utc};
use rampart_core::outbox::{NewOutboxRecord, Topic};
use rampart_core::watch::{
    Alert, AlertStatus, Attacker, AttackerOrder, AttackerProfile, Event, EventDetail, EventKind, NewEvent, Score,
};
use rampart_core::{AlertId, EventId, NodeId, OrgId, UserId};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::changes::Change;
use crate::db::{BeginWrite, Db, on_pool};
use crate::effects::{WriteEffects, unit_of_work};
use crate::{Effects, SqlStore, StoreError};

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
    async fn commit(&self, events: &[ScoredEvent]) -> Result<Vec<Committed>, StoreError>;
    /// Newest first, older than `before` when given.
    async fn events(
        &self,
        org: OrgId,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError>;
    /// Newest first, older than `before` when given.
    async fn alerts(
        &self,
        org: OrgId,
        filter: &AlertFilter,
        before: Option<AlertId>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError>;
    async fn alert(&self, org: OrgId, id: AlertId) -> Result<Alert, StoreError>;
    async fn set_alert_status(
        &self,
        org: OrgId,
        id: AlertId,
        status: AlertStatus,
        by: Option<UserId>,
        note: &str,
        effects: &Effects,
    ) -> Result<Alert, StoreError>;
    /// A page of attackers in `order`, after skipping `offset`.
    async fn attackers(
        &self,
        org: OrgId,
        order: AttackerOrder,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Attacker>, StoreError>;
    async fn attacker(&self, org: OrgId, ip: IpAddr) -> Result<AttackerProfile, StoreError>;
    /// Hourly counts from `since` on.
    async fn counts(&self, org: OrgId, since: DateTime<Utc>) -> Result<Vec<HourCount>, StoreError>;
    /// Alerts raised or changed after `after` (an `updated_at` and, among alerts changed at that
    /// same instant, an id), in the order they changed: a follower pages through changes with the
    /// last alert it read.
    async fn alerts_changed_since(
        &self,
        org: OrgId,
        after: (DateTime<Utc>, Option<AlertId>),
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError>;
    /// All-time totals: events and alerts by service, and the number of sources.
    async fn totals(&self, org: OrgId) -> Result<WatchTotals, StoreError>;
}

/// The PostgreSQL advisory lock ingestion commits take turns under.
const INGEST_LOCK: i64 = 0x0052_414d_5049_4e47;
/// Rows per multi-row statement: 27 columns × 400 stays under SQLite's 32,766 bound values.
const CHUNK: usize = 400;
/// Most usernames shown in a profile.
const TOP_USERNAMES: i64 = 10;

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("stored watch data is invalid".into())
}

fn parse_ip(text: &str) -> Result<IpAddr, StoreError> {
    text.parse().map_err(invalid)
}

/// An alert's group: organisation, source, attack type.
type GroupKey = (OrgId, Option<IpAddr>, String);

/// An alert a commit raises (`new`) or grows: the events it adds, their highest score and
/// their time span.
struct AlertChange {
    id: AlertId,
    key: GroupKey,
    new: bool,
    node_id: NodeId,
    events: u64,
    max_score: f64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// The outbox record of an alert a commit raised (`alert.raised`) or grew (`alert.changed`).
fn alert_record(change: &AlertChange) -> NewOutboxRecord {
    let topic = if change.new { Topic::AlertRaised } else { Topic::AlertChanged };
    let payload =
        serde_json::json!({ "alert": change.id, "events_added": change.events, "max_score": change.max_score });
    NewOutboxRecord::new(topic, Some(change.key.0), payload)
}

/// What one source did in a commit.
struct SourceSum {
    events: u64,
    alerts: u64,
    score_sum: f64,
    max_score: f64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

/// How one decoy was touched in a commit.
struct DecoySum {
    org: OrgId,
    decoy_type: String,
    accesses: u64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
}

/// (organisation, hour, node, service)
type HourKey = (OrgId, DateTime<Utc>, NodeId, String);

/// Per-source, per-decoy and per-hour sums of a commit.
#[derive(Default)]
struct Sums {
    attackers: BTreeMap<(OrgId, IpAddr), SourceSum>,
    services: BTreeMap<(OrgId, IpAddr, String), u64>,
    nodes: BTreeMap<(OrgId, IpAddr, NodeId), u64>,
    usernames: BTreeMap<(OrgId, IpAddr, String), u64>,
    decoys: BTreeMap<(NodeId, String), DecoySum>,
    /// (events, new alerts)
    hours: BTreeMap<HourKey, (u64, u64)>,
    last_seen: BTreeMap<NodeId, DateTime<Utc>>,
}

fn hour_of(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_trunc(chrono::Duration::hours(1)).unwrap_or(time)
}

impl Sums {
    fn add(&mut self, scored: &ScoredEvent, raised: bool) {
        let event = &scored.event;
        let (org, at) = (scored.org_id, event.occurred_at);
        let service = event.service().to_owned();
        if let Some(ip) = event.source_ip {
            let sum = self.attackers.entry((org, ip)).or_insert(SourceSum {
                events: 0,
                alerts: 0,
                score_sum: 0.0,
                max_score: 0.0,
                first: at,
                last: at,
            });
            sum.events += 1;
            sum.alerts += u64::from(raised);
            sum.score_sum += scored.score.score;
            sum.max_score = sum.max_score.max(scored.score.score);
            sum.first = sum.first.min(at);
            sum.last = sum.last.max(at);
            *self.services.entry((org, ip, service.clone())).or_default() += 1;
            *self.nodes.entry((org, ip, scored.node_id)).or_default() += 1;
            for username in event.usernames() {
                *self.usernames.entry((org, ip, username.to_owned())).or_default() += 1;
            }
        }
        if let EventDetail::Decoy { name, decoy_type, .. } = &event.detail {
            let sum = self.decoys.entry((scored.node_id, name.clone())).or_insert(DecoySum {
                org,
                decoy_type: decoy_type.clone(),
                accesses: 0,
                first: at,
                last: at,
            });
            sum.accesses += 1;
            sum.first = sum.first.min(at);
            sum.last = sum.last.max(at);
        }
        let hour = self.hours.entry((org, hour_of(at), scored.node_id, service)).or_default();
        hour.0 += 1;
        hour.1 += u64::from(raised);
        let seen = self.last_seen.entry(scored.node_id).or_insert(scored.received_at);
        *seen = (*seen).max(scored.received_at);
    }
}

/// The stored text of optional details, in column order.
struct EventColumns<'a> {
    activity: Option<&'a str>,
    payload: Option<&'a str>,
    usernames: &'a [String],
    passwords: &'a [String],
    hostname: Option<&'a str>,
    username: Option<&'a str>,
    process: Option<&'a str>,
    file_path: Option<&'a str>,
    action: Option<&'a str>,
    decoy_name: Option<&'a str>,
    decoy_type: Option<&'a str>,
    source_port: Option<i32>,
    destination_port: Option<i32>,
}

fn columns_of(detail: &EventDetail) -> EventColumns<'_> {
    let none = EventColumns {
        activity: None,
        payload: None,
        usernames: &[],
        passwords: &[],
        hostname: None,
        username: None,
        process: None,
        file_path: None,
        action: None,
        decoy_name: None,
        decoy_type: None,
        source_port: None,
        destination_port: None,
    };
    match detail {
        EventDetail::Honeypot { source_port, destination_port, activity, payload, usernames, passwords, .. } => {
            EventColumns {
                activity: Some(activity),
                payload: Some(payload),
                usernames,
                passwords,
                source_port: source_port.map(i32::from),
                destination_port: destination_port.map(i32::from),
                ..none
            }
        }
        EventDetail::Agent { hostname, username, process, file_path, action } => EventColumns {
            hostname: Some(hostname),
            username: username.as_deref(),
            process: process.as_deref(),
            file_path: file_path.as_deref(),
            action: Some(action),
            ..none
        },
        EventDetail::Decoy { name, decoy_type, hostname, username, file_path, action } => EventColumns {
            decoy_name: Some(name),
            decoy_type: Some(decoy_type),
            hostname: hostname.as_deref(),
            username: username.as_deref(),
            file_path: file_path.as_deref(),
            action: action.as_deref(),
            ..none
        },
    }
}

const EVENT_COLUMNS: &str = "id, org_id, node_id, kind, occurred_at, received_at, source_ip, source_port, destination_port, \
     service, activity, payload, usernames, passwords, hostname, username, process, file_path, action, decoy_name, \
     decoy_type, score, attack_type, reasons, scorer, alert_id";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    org_id: Uuid,
    node_id: Option<Uuid>,
    kind: String,
    occurred_at: DateTime<Utc>,
    received_at: DateTime<Utc>,
    source_ip: Option<String>,
    source_port: Option<i32>,
    destination_port: Option<i32>,
    service: String,
    activity: Option<String>,
    payload: Option<String>,
    usernames: Json<Vec<String>>,
    passwords: Json<Vec<String>>,
    hostname: Option<String>,
    username: Option<String>,
    process: Option<String>,
    file_path: Option<String>,
    action: Option<String>,
    decoy_name: Option<String>,
    decoy_type: Option<String>,
    score: f64,
    attack_type: String,
    reasons: Json<Value>,
    scorer: String,
    alert_id: Option<Uuid>,
}

impl EventRow {
    fn into_event(self) -> Result<Event, StoreError> {
        let port = |port: Option<i32>| port.and_then(|port| u16::try_from(port).ok());
        let detail = match self.kind.parse::<EventKind>().map_err(invalid)? {
            EventKind::Honeypot => EventDetail::Honeypot {
                service: self.service,
                source_port: port(self.source_port),
                destination_port: port(self.destination_port),
                activity: self.activity.unwrap_or_default(),
                payload: self.payload.unwrap_or_default(),
                usernames: self.usernames.0,
                passwords: self.passwords.0,
            },
            EventKind::Agent => EventDetail::Agent {
                hostname: self.hostname.unwrap_or_default(),
                username: self.username,
                process: self.process,
                file_path: self.file_path,
                action: self.action.unwrap_or_default(),
            },
            EventKind::Decoy => EventDetail::Decoy {
                name: self.decoy_name.unwrap_or_default(),
                decoy_type: self.decoy_type.unwrap_or_default(),
                hostname: self.hostname,
                username: self.username,
                file_path: self.file_path,
                action: self.action,
            },
        };
        let reasons = serde_json::from_value(self.reasons.0).map_err(invalid)?;
        Ok(Event {
            id: EventId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            node_id: self.node_id.map(NodeId::from_uuid),
            received_at: self.received_at,
            event: NewEvent {
                occurred_at: self.occurred_at,
                source_ip: self.source_ip.as_deref().map(parse_ip).transpose()?,
                detail,
            },
            score: Score { score: self.score, attack_type: self.attack_type, reasons },
            scorer: self.scorer,
            alert_id: self.alert_id.map(AlertId::from_uuid),
        })
    }
}

const ALERT_COLUMNS: &str = "id, org_id, source_ip, attack_type, status, events, max_score, node_id, first_seen, \
     last_seen, created_at, updated_at, status_by, status_note";

#[derive(sqlx::FromRow)]
struct AlertRow {
    id: Uuid,
    org_id: Uuid,
    source_ip: Option<String>,
    attack_type: String,
    status: String,
    events: i64,
    max_score: f64,
    node_id: Option<Uuid>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    status_by: Option<Uuid>,
    status_note: String,
}

impl AlertRow {
    fn into_alert(self) -> Result<Alert, StoreError> {
        Ok(Alert {
            id: AlertId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            source_ip: self.source_ip.as_deref().map(parse_ip).transpose()?,
            attack_type: self.attack_type,
            status: self.status.parse().map_err(invalid)?,
            events: count(self.events),
            max_score: self.max_score,
            node_id: self.node_id.map(NodeId::from_uuid),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            created_at: self.created_at,
            updated_at: self.updated_at,
            status_by: self.status_by.map(UserId::from_uuid),
            status_note: self.status_note,
        })
    }
}

#[derive(sqlx::FromRow)]
struct AttackerRow {
    source_ip: String,
    events: i64,
    alerts: i64,
    score_sum: f64,
    max_score: f64,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

impl AttackerRow {
    fn into_attacker(self) -> Result<Attacker, StoreError> {
        let events = count(self.events);
        let average = if events == 0 { 0.0 } else { self.score_sum / events as f64 };
        Ok(Attacker {
            source_ip: parse_ip(&self.source_ip)?,
            events,
            alerts: count(self.alerts),
            avg_score: (average * 100.0).round() / 100.0,
            max_score: self.max_score,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        })
    }
}

/// Runs one multi-row statement per chunk of `rows`: `head` is the statement up to `VALUES`,
/// `tail` what follows the values (an `ON CONFLICT` clause), `bind` pushes one row's values.
macro_rules! insert_rows {
    ($tx:expr, $head:expr, $tail:expr, $rows:expr, |$builder:ident, $row:pat_param| $bind:expr) => {
        for chunk in $rows.chunks(CHUNK) {
            let mut query = sqlx::QueryBuilder::new($head);
            query.push_values(chunk, |mut $builder, $row| {
                $bind;
            });
            query.push($tail);
            query.build().execute(&mut *$tx).await?;
        }
    };
}

#[async_trait]
impl WatchStore for SqlStore {
    async fn commit(&self, events: &[ScoredEvent]) -> Result<Vec<Committed>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = rampart_core::time::now();
        let postgres = matches!(self.db, Db::Postgres(_));
        let (committed, orgs_alerted) = on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            if postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INGEST_LOCK).execute(&mut *tx).await?;
            }

            // Alerts first: each event over its threshold joins the alert of its group still
            // within the window after the group's previous event, or raises a new one. The open
            // alerts of every source in the commit are read at once.
            let mut order: Vec<usize> = (0..events.len()).filter(|&i| events[i].alert_window.is_some()).collect();
            order.sort_by_key(|&i| events[i].event.occurred_at);
            let mut sources: BTreeMap<OrgId, BTreeSet<Option<IpAddr>>> = BTreeMap::new();
            for &index in &order {
                sources.entry(events[index].org_id).or_default().insert(events[index].event.source_ip);
            }
            // (alert, last seen, index in `changes` once it changes)
            let mut current: HashMap<GroupKey, (AlertId, DateTime<Utc>, Option<usize>)> = HashMap::new();
            for (org, ips) in &sources {
                let addresses: Vec<String> = ips.iter().flatten().map(IpAddr::to_string).collect();
                let mut lookups: Vec<Option<&[String]>> = addresses.chunks(CHUNK).map(Some).collect();
                if ips.contains(&None) {
                    lookups.push(None);
                }
                for lookup in lookups {
                    let mut query = sqlx::QueryBuilder::new(
                        "SELECT id, source_ip, attack_type, last_seen FROM alerts WHERE status <> 'resolved' AND org_id = ",
                    );
                    query.push_bind(org.as_uuid());
                    match lookup {
                        Some(chunk) => {
                            query.push(" AND source_ip IN (");
                            let mut list = query.separated(", ");
                            for address in chunk {
                                list.push_bind(address.as_str());
                            }
                            query.push(")");
                        }
                        None => {
                            query.push(" AND source_ip IS NULL");
                        }
                    }
                    let found: Vec<(Uuid, Option<String>, String, DateTime<Utc>)> =
                        query.build_query_as().fetch_all(&mut *tx).await?;
                    for (id, ip, attack_type, last_seen) in found {
                        let key: GroupKey = (*org, ip.as_deref().map(parse_ip).transpose()?, attack_type);
                        if current.get(&key).is_none_or(|(_, seen, _)| *seen < last_seen) {
                            current.insert(key, (AlertId::from_uuid(id), last_seen, None));
                        }
                    }
                }
            }
            let mut changes: Vec<AlertChange> = Vec::new();
            let mut committed = vec![Committed { alert: None }; events.len()];
            for index in order {
                let scored = &events[index];
                let window = chrono::Duration::from_std(scored.alert_window.unwrap_or_default())
                    .unwrap_or(chrono::Duration::hours(1));
                let (at, score) = (scored.event.occurred_at, scored.score.score);
                let key: GroupKey = (scored.org_id, scored.event.source_ip, scored.score.attack_type.clone());
                let joined = match current.get_mut(&key) {
                    Some((id, last_seen, change)) if at <= *last_seen + window => {
                        *last_seen = (*last_seen).max(at);
                        let slot = *change.get_or_insert_with(|| {
                            changes.push(AlertChange {
                                id: *id,
                                key: key.clone(),
                                new: false,
                                node_id: scored.node_id,
                                events: 0,
                                max_score: score,
                                first_seen: at,
                                last_seen: at,
                            });
                            changes.len() - 1
                        });
                        Some(slot)
                    }
                    _ => None,
                };
                let slot = match joined {
                    Some(slot) => slot,
                    None => {
                        let id = AlertId::new();
                        changes.push(AlertChange {
                            id,
                            key: key.clone(),
                            new: true,
                            node_id: scored.node_id,
                            events: 0,
                            max_score: score,
                            first_seen: at,
                            last_seen: at,
                        });
                        current.insert(key, (id, at, Some(changes.len() - 1)));
                        changes.len() - 1
                    }
                };
                let change = &mut changes[slot];
                let raised = change.new && change.events == 0;
                change.events += 1;
                change.max_score = change.max_score.max(score);
                change.first_seen = change.first_seen.min(at);
                change.last_seen = change.last_seen.max(at);
                committed[index] = Committed { alert: Some((change.id, raised)) };
            }
            // New alerts are inserted; alerts that grow meet their own row and add to it.
            insert_rows!(
                tx,
                "INSERT INTO alerts (id, org_id, source_ip, attack_type, status, events, max_score, node_id, first_seen, \
                 last_seen, created_at, updated_at, status_by, status_note) ",
                " ON CONFLICT (id) DO UPDATE SET events = alerts.events + excluded.events, \
                 max_score = CASE WHEN excluded.max_score > alerts.max_score THEN excluded.max_score ELSE alerts.max_score END, \
                 last_seen = CASE WHEN excluded.last_seen > alerts.last_seen THEN excluded.last_seen ELSE alerts.last_seen END, \
                 updated_at = excluded.updated_at",
                changes,
                |row, alert| row
                    .push_bind(alert.id.as_uuid())
                    .push_bind(alert.key.0.as_uuid())
                    .push_bind(alert.key.1.map(|ip| ip.to_string()))
                    .push_bind(alert.key.2.as_str())
                    .push_bind("open")
                    .push_bind(signed(alert.events))
                    .push_bind(alert.max_score)
                    .push_bind(alert.node_id.as_uuid())
                    .push_bind(alert.first_seen)
                    .push_bind(alert.last_seen)
                    .push_bind(now)
                    .push_bind(now)
                    .push_bind(None::<Uuid>)
                    .push_bind("")
            );

            let rows: Vec<(&ScoredEvent, &Committed)> = events.iter().zip(&committed).collect();
            insert_rows!(tx, format!("INSERT INTO events ({EVENT_COLUMNS}) "), "", rows, |row, (scored, done)| {
                let columns = columns_of(&scored.event.detail);
                row.push_bind(scored.id.as_uuid())
                    .push_bind(scored.org_id.as_uuid())
                    .push_bind(scored.node_id.as_uuid())
                    .push_bind(scored.event.kind().as_str())
                    .push_bind(scored.event.occurred_at)
                    .push_bind(scored.received_at)
                    .push_bind(scored.event.source_ip.map(|ip| ip.to_string()))
                    .push_bind(columns.source_port)
                    .push_bind(columns.destination_port)
                    .push_bind(scored.event.service())
                    .push_bind(columns.activity)
                    .push_bind(columns.payload)
                    .push_bind(Json(columns.usernames))
                    .push_bind(Json(columns.passwords))
                    .push_bind(columns.hostname)
                    .push_bind(columns.username)
                    .push_bind(columns.process)
                    .push_bind(columns.file_path)
                    .push_bind(columns.action)
                    .push_bind(columns.decoy_name)
                    .push_bind(columns.decoy_type)
                    .push_bind(scored.score.score)
                    .push_bind(scored.score.attack_type.as_str())
                    .push_bind(Json(&scored.score.reasons))
                    .push_bind(scored.scorer)
                    .push_bind(done.alert.map(|(id, _)| id.as_uuid()))
            });

            let mut sums = Sums::default();
            for (scored, done) in events.iter().zip(&committed) {
                sums.add(scored, done.alert.is_some_and(|(_, raised)| raised));
            }
            let attackers: Vec<_> = sums.attackers.iter().collect();
            insert_rows!(
                tx,
                "INSERT INTO attackers (org_id, source_ip, events, alerts, score_sum, max_score, first_seen, last_seen) ",
                " ON CONFLICT (org_id, source_ip) DO UPDATE SET events = attackers.events + excluded.events, \
                 alerts = attackers.alerts + excluded.alerts, score_sum = attackers.score_sum + excluded.score_sum, \
                 max_score = CASE WHEN excluded.max_score > attackers.max_score THEN excluded.max_score ELSE attackers.max_score END, \
                 first_seen = CASE WHEN excluded.first_seen < attackers.first_seen THEN excluded.first_seen ELSE attackers.first_seen END, \
                 last_seen = CASE WHEN excluded.last_seen > attackers.last_seen THEN excluded.last_seen ELSE attackers.last_seen END",
                attackers,
                |row, ((org, ip), sum)| row
                    .push_bind(org.as_uuid())
                    .push_bind(ip.to_string())
                    .push_bind(signed(sum.events))
                    .push_bind(signed(sum.alerts))
                    .push_bind(sum.score_sum)
                    .push_bind(sum.max_score)
                    .push_bind(sum.first)
                    .push_bind(sum.last)
            );
            let services: Vec<_> = sums.services.iter().collect();
            insert_rows!(
                tx,
                "INSERT INTO attacker_services (org_id, source_ip, service, events) ",
                " ON CONFLICT (org_id, source_ip, service) DO UPDATE SET events = attacker_services.events + excluded.events",
                services,
                |row, ((org, ip, service), events)| row
                    .push_bind(org.as_uuid())
                    .push_bind(ip.to_string())
                    .push_bind(service.as_str())
                    .push_bind(signed(**events))
            );
            let nodes: Vec<_> = sums.nodes.iter().collect();
            insert_rows!(
                tx,
                "INSERT INTO attacker_nodes (org_id, source_ip, node_id, events) ",
                " ON CONFLICT (org_id, source_ip, node_id) DO UPDATE SET events = attacker_nodes.events + excluded.events",
                nodes,
                |row, ((org, ip, node), events)| row
                    .push_bind(org.as_uuid())
                    .push_bind(ip.to_string())
                    .push_bind(node.as_uuid())
                    .push_bind(signed(**events))
            );
            let usernames: Vec<_> = sums.usernames.iter().collect();
            insert_rows!(
                tx,
                "INSERT INTO attacker_usernames (org_id, source_ip, username, attempts) ",
                " ON CONFLICT (org_id, source_ip, username) DO UPDATE \
                 SET attempts = attacker_usernames.attempts + excluded.attempts",
                usernames,
                |row, ((org, ip, username), attempts)| row
                    .push_bind(org.as_uuid())
                    .push_bind(ip.to_string())
                    .push_bind(username.as_str())
                    .push_bind(signed(**attempts))
            );
            let decoys: Vec<_> = sums.decoys.iter().collect();
            insert_rows!(
                tx,
                "INSERT INTO decoys (node_id, name, org_id, decoy_type, accesses, first_access, last_access) ",
                " ON CONFLICT (node_id, name) DO UPDATE SET accesses = decoys.accesses + excluded.accesses, \
                 decoy_type = excluded.decoy_type, \
                 first_access = CASE WHEN excluded.first_access < decoys.first_access THEN excluded.first_access ELSE decoys.first_access END, \
                 last_access = CASE WHEN excluded.last_access > decoys.last_access THEN excluded.last_access ELSE decoys.last_access END",
                decoys,
                |row, ((node, name), sum)| row
                    .push_bind(node.as_uuid())
                    .push_bind(name.as_str())
                    .push_bind(sum.org.as_uuid())
                    .push_bind(sum.decoy_type.as_str())
                    .push_bind(signed(sum.accesses))
                    .push_bind(sum.first)
                    .push_bind(sum.last)
            );
            let hours: Vec<_> = sums.hours.iter().collect();
            insert_rows!(
                tx,
                "INSERT INTO watch_counts (org_id, hour, node_id, service, events, alerts) ",
                " ON CONFLICT (org_id, hour, node_id, service) DO UPDATE \
                 SET events = watch_counts.events + excluded.events, alerts = watch_counts.alerts + excluded.alerts",
                hours,
                |row, ((org, hour, node, service), (events, alerts))| row
                    .push_bind(org.as_uuid())
                    .push_bind(*hour)
                    .push_bind(node.as_uuid())
                    .push_bind(service.as_str())
                    .push_bind(signed(*events))
                    .push_bind(signed(*alerts))
            );
            for (node, seen) in &sums.last_seen {
                sqlx::query(
                    "UPDATE nodes SET last_seen_at = $2 WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)",
                )
                .bind(node.as_uuid())
                .bind(*seen)
                .execute(&mut *tx)
                .await?;
            }
            // Each alert raised or grown is an outbox record, in the same transaction.
            for chunk in changes.chunks(crate::effects::RECORDS_MAX) {
                tx.write_effects(&Effects { audit: None, outbox: chunk.iter().map(alert_record).collect() }).await?;
            }
            tx.commit().await?;
            let mut orgs_alerted: Vec<OrgId> = events
                .iter()
                .zip(&committed)
                .filter(|(_, done)| done.alert.is_some())
                .map(|(scored, _)| scored.org_id)
                .collect();
            orgs_alerted.sort();
            orgs_alerted.dedup();
            Ok::<_, StoreError>((committed, orgs_alerted))
        })?;
        if !orgs_alerted.is_empty() {
            self.changed(Change::Outbox);
        }
        for org in orgs_alerted {
            self.changed(Change::Alerts(org));
        }
        Ok(committed)
    }

    async fn events(
        &self,
        org: OrgId,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<Event>, StoreError> {
        // Only the filters given are written, so each can use its index (an `OR $n IS NULL` cannot).
        let rows = on_pool!(&self.db, |pool| {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE org_id = "));
            query.push_bind(org.as_uuid());
            if let Some(alert) = filter.alert_id {
                query.push(" AND alert_id = ").push_bind(alert.as_uuid());
            }
            if let Some(node) = filter.node_id {
                query.push(" AND node_id = ").push_bind(node.as_uuid());
            }
            if let Some(since) = filter.since {
                query.push(" AND occurred_at >= ").push_bind(since);
            }
            if let Some(before) = before {
                query.push(" AND id < ").push_bind(before.as_uuid());
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(limit));
            query.build_query_as::<EventRow>().fetch_all(pool).await
        })?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    async fn alerts(
        &self,
        org: OrgId,
        filter: &AlertFilter,
        before: Option<AlertId>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE org_id = $1 AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR max_score >= $3) AND ($4 IS NULL OR source_ip = $4) AND ($5 IS NULL OR node_id = $5) \
             AND ($6 IS NULL OR last_seen >= $6) AND ($7 IS NULL OR id < $7) ORDER BY id DESC LIMIT $8"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AlertRow>(&sql)
                .bind(org.as_uuid())
                .bind(filter.status.map(AlertStatus::as_str))
                .bind(filter.min_score)
                .bind(filter.source_ip.map(|ip| ip.to_string()))
                .bind(filter.node_id.map(|id| id.as_uuid()))
                .bind(filter.since)
                .bind(before.map(|id| id.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(AlertRow::into_alert).collect()
    }

    async fn alert(&self, org: OrgId, id: AlertId) -> Result<Alert, StoreError> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AlertRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_alert()
    }

    async fn set_alert_status(
        &self,
        org: OrgId,
        id: AlertId,
        status: AlertStatus,
        by: Option<UserId>,
        note: &str,
        effects: &Effects,
    ) -> Result<Alert, StoreError> {
        let sql = format!(
            "UPDATE alerts SET status = $3, status_by = $4, status_note = $5, updated_at = $6 \
             WHERE org_id = $1 AND id = $2 RETURNING {ALERT_COLUMNS}"
        );
        let now = rampart_core::time::now();
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

    async fn attackers(
        &self,
        org: OrgId,
        order: AttackerOrder,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Attacker>, StoreError> {
        let order = match order {
            AttackerOrder::Risk => "max_score DESC, events DESC, source_ip",
            AttackerOrder::Recency => "last_seen DESC, source_ip",
        };
        let sql = format!(
            "SELECT source_ip, events, alerts, score_sum, max_score, first_seen, last_seen FROM attackers \
             WHERE org_id = $1 ORDER BY {order} LIMIT $2 OFFSET $3"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AttackerRow>(&sql)
                .bind(org.as_uuid())
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(AttackerRow::into_attacker).collect()
    }

    async fn attacker(&self, org: OrgId, ip: IpAddr) -> Result<AttackerProfile, StoreError> {
        let ip = ip.to_string();
        let (row, services, nodes, usernames) = on_pool!(&self.db, |pool| {
            let row = sqlx::query_as::<_, AttackerRow>(
                "SELECT source_ip, events, alerts, score_sum, max_score, first_seen, last_seen FROM attackers \
                 WHERE org_id = $1 AND source_ip = $2",
            )
            .bind(org.as_uuid())
            .bind(&ip)
            .fetch_one(pool)
            .await?;
            let services: Vec<(String, i64)> = sqlx::query_as(
                "SELECT service, events FROM attacker_services WHERE org_id = $1 AND source_ip = $2 \
                 ORDER BY events DESC, service",
            )
            .bind(org.as_uuid())
            .bind(&ip)
            .fetch_all(pool)
            .await?;
            let nodes: Vec<(Uuid, i64)> = sqlx::query_as(
                "SELECT node_id, events FROM attacker_nodes WHERE org_id = $1 AND source_ip = $2 \
                 ORDER BY events DESC, node_id",
            )
            .bind(org.as_uuid())
            .bind(&ip)
            .fetch_all(pool)
            .await?;
            let usernames: Vec<(String, i64)> = sqlx::query_as(
                "SELECT username, attempts FROM attacker_usernames WHERE org_id = $1 AND source_ip = $2 \
                 ORDER BY attempts DESC, username LIMIT $3",
            )
            .bind(org.as_uuid())
            .bind(&ip)
            .bind(TOP_USERNAMES)
            .fetch_all(pool)
            .await?;
            Ok::<_, StoreError>((row, services, nodes, usernames))
        })?;
        Ok(AttackerProfile {
            attacker: row.into_attacker()?,
            services: services.into_iter().map(|(service, events)| (service, count(events))).collect(),
            nodes: nodes.into_iter().map(|(node, events)| (NodeId::from_uuid(node), count(events))).collect(),
            top_usernames: usernames.into_iter().map(|(name, attempts)| (name, count(attempts))).collect(),
        })
    }

    async fn counts(&self, org: OrgId, since: DateTime<Utc>) -> Result<Vec<HourCount>, StoreError> {
        let rows: Vec<(DateTime<Utc>, Uuid, String, i64, i64)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT hour, node_id, service, events, alerts FROM watch_counts WHERE org_id = $1 AND hour >= $2 \
                 ORDER BY hour, node_id, service",
            )
            .bind(org.as_uuid())
            .bind(hour_of(since))
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(hour, node, service, events, alerts)| HourCount {
                hour,
                node_id: NodeId::from_uuid(node),
                service,
                events: count(events),
                alerts: count(alerts),
            })
            .collect())
    }

    async fn alerts_changed_since(
        &self,
        org: OrgId,
        after: (DateTime<Utc>, Option<AlertId>),
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        // The nil id sorts before every id: with none, every alert changed at that instant is in.
        let (since, after_id) = (after.0, after.1.map_or(Uuid::nil(), |id| id.as_uuid()));
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE org_id = $1 \
             AND (updated_at > $2 OR (updated_at = $2 AND id > $3)) ORDER BY updated_at, id LIMIT $4"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AlertRow>(&sql)
                .bind(org.as_uuid())
                .bind(since)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(AlertRow::into_alert).collect()
    }

    async fn totals(&self, org: OrgId) -> Result<WatchTotals, StoreError> {
        let (attackers, services) = on_pool!(&self.db, |pool| {
            let attackers: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attackers WHERE org_id = $1")
                .bind(org.as_uuid())
                .fetch_one(pool)
                .await?;
            let services: Vec<(String, i64, i64)> = sqlx::query_as(
                "SELECT service, CAST(SUM(events) AS BIGINT), CAST(SUM(alerts) AS BIGINT) FROM watch_counts \
                 WHERE org_id = $1 GROUP BY service ORDER BY 2 DESC, service",
            )
            .bind(org.as_uuid())
            .fetch_all(pool)
            .await?;
            Ok::<_, sqlx::Error>((attackers, services))
        })?;
        Ok(WatchTotals {
            attackers: count(attackers),
            services: services
                .into_iter()
                .map(|(service, events, alerts)| (service, count(events), count(alerts)))
                .collect(),
        })
    }
}
