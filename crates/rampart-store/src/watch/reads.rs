//! Reads of watch data: lists of events and alerts, attacker profiles, hourly counts and totals.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use rampart_core::watch::{Alert, AlertStatus, Attacker, AttackerOrder, AttackerProfile, Event};
use rampart_core::{AlertId, EventId, NodeId, OrgId};
use uuid::Uuid;

use super::rows::{ALERT_COLUMNS, AlertRow, AttackerRow, EVENT_COLUMNS, EventRow, count};
use super::{AlertFilter, EventFilter, HourCount, WatchTotals, hour_of};
use crate::db::on_pool;
use crate::{Seek, SqlStore, StoreError, StoreResult};

/// Most usernames shown in a profile.
const TOP_USERNAMES: i64 = 10;

impl SqlStore {
    pub(super) async fn watch_events(
        &self,
        org: OrgId,
        filter: &EventFilter,
        seek: Seek<EventId>,
    ) -> StoreResult<Vec<Event>> {
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
            if let Some(before) = seek.from {
                query.push(" AND id < ").push_bind(before.as_uuid());
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(seek.limit));
            query.build_query_as::<EventRow>().fetch_all(pool).await
        })?;
        rows.into_iter().map(EventRow::into_event).collect()
    }

    pub(super) async fn watch_alerts(
        &self,
        org: OrgId,
        filter: &AlertFilter,
        seek: Seek<AlertId>,
    ) -> StoreResult<Vec<Alert>> {
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
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(AlertRow::into_alert).collect()
    }

    pub(super) async fn watch_alert(&self, org: OrgId, id: AlertId) -> StoreResult<Alert> {
        let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AlertRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_alert()
    }

    pub(super) async fn watch_attackers(
        &self,
        org: OrgId,
        order: AttackerOrder,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<Attacker>> {
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

    pub(super) async fn watch_attacker(&self, org: OrgId, ip: IpAddr) -> StoreResult<AttackerProfile> {
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

    pub(super) async fn watch_counts(&self, org: OrgId, since: DateTime<Utc>) -> StoreResult<Vec<HourCount>> {
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

    pub(super) async fn watch_alerts_changed_since(
        &self,
        org: OrgId,
        after: (DateTime<Utc>, Option<AlertId>),
        limit: u32,
    ) -> StoreResult<Vec<Alert>> {
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

    pub(super) async fn watch_totals(&self, org: OrgId) -> StoreResult<WatchTotals> {
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
