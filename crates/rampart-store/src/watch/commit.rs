//! The write path of watch data: a group of scored events and everything they change, in one
//! transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use rampart_core::outbox::{NewOutboxRecord, Topic};
use rampart_core::watch::{AlertCandidate, AlertChange, AlertGroup, EventDetail, Grouping, OpenAlert, group_alerts};
use rampart_core::{AlertId, NodeId, OrgId};
use sqlx::types::Json;
use uuid::Uuid;

use super::rows::{EVENT_COLUMNS, columns_of, parse_ip};
use super::{Committed, ScoredEvent, hour_of};
use crate::changes::Change;
use crate::db::{BeginWrite, Db, on_pool};
use crate::effects::WriteEffects;
use crate::{Effects, SqlStore, StoreError, StoreResult};

/// The PostgreSQL advisory lock ingestion commits take turns under.
const INGEST_LOCK: i64 = 0x0052_414d_5049_4e47;
/// Rows per multi-row statement: 27 columns × 400 stays under SQLite's 32,766 bound values.
const CHUNK: usize = 400;

fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
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

impl SqlStore {
    /// [`super::WatchStore::commit`].
    pub(super) async fn commit_watch(&self, events: &[ScoredEvent]) -> StoreResult<Vec<Committed>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.now();
        let postgres = matches!(self.db, Db::Postgres(_));
        let (committed, orgs_alerted) = on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            if postgres {
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(INGEST_LOCK).execute(&mut *tx).await?;
            }

            // Alerts first: each event over its threshold joins the alert of its group still
            // within the window after the group's previous event, or raises a new one (the rule
            // is core's). The open alerts of every source in the commit are read at once.
            let candidates: Vec<Option<AlertCandidate>> = events
                .iter()
                .map(|scored| {
                    scored.alert_window.map(|window| AlertCandidate {
                        group: AlertGroup {
                            org_id: scored.org_id,
                            source_ip: scored.event.source_ip,
                            attack_type: scored.score.attack_type.clone(),
                        },
                        node_id: scored.node_id,
                        occurred_at: scored.event.occurred_at,
                        score: scored.score.score,
                        window,
                    })
                })
                .collect();
            let mut sources: BTreeMap<OrgId, BTreeSet<Option<IpAddr>>> = BTreeMap::new();
            for candidate in candidates.iter().flatten() {
                sources.entry(candidate.group.org_id).or_default().insert(candidate.group.source_ip);
            }
            let mut open: Vec<OpenAlert> = Vec::new();
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
                        let source_ip = ip.as_deref().map(parse_ip).transpose()?;
                        open.push(OpenAlert {
                            group: AlertGroup { org_id: *org, source_ip, attack_type },
                            id: AlertId::from_uuid(id),
                            last_seen,
                        });
                    }
                }
            }
            let Grouping { alerts, changes } = group_alerts(open, &candidates, AlertId::new);
            let committed: Vec<Committed> = alerts.into_iter().map(|alert| Committed { alert }).collect();
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
                    .push_bind(alert.group.org_id.as_uuid())
                    .push_bind(alert.group.source_ip.map(|ip| ip.to_string()))
                    .push_bind(alert.group.attack_type.as_str())
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
                let effects = Effects { audit: None, outbox: chunk.iter().map(alert_record).collect() };
                tx.write_effects(&effects, now).await?;
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
}

/// The outbox record of an alert a commit raised (`alert.raised`) or grew (`alert.changed`).
fn alert_record(change: &AlertChange) -> NewOutboxRecord {
    let topic = if change.new { Topic::AlertRaised } else { Topic::AlertChanged };
    let payload =
        serde_json::json!({ "alert": change.id, "events_added": change.events, "max_score": change.max_score });
    NewOutboxRecord::new(topic, Some(change.group.org_id), payload)
}
