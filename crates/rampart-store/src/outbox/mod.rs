//! The outbox as a queue: records are appended by changes (see `effects.rs`) and read in id order
//! by each consumer, whose progress is one row. A dispatcher claims the next batch with a lease
//! and a fence, delivers it, and acknowledges it; an acknowledgement naming an older fence is
//! refused ([`StoreError::Fenced`]), as a finish naming an older attempt is. A consumer killed
//! mid-batch loses nothing: its lease expires and the batch is claimed again, so each record is
//! delivered at least once and consumers absorb a repeat by the record's id.
//!
//! These calls are unscoped: the outbox is the server's, read by its own dispatchers across
//! tenants. Each record carries its organisation, and a consumer acts within it.

mod dispatcher;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::OrgId;
use rampart_core::outbox::{NewOutboxRecord, OutboxRecord};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use tokio_util::sync::CancellationToken;

use crate::db::on_pool;
use crate::{SqlStore, Store, StoreError, StoreResult, Task};

pub use dispatcher::{Consumer, DeliveryError, DispatchConfig, DispatchError, Dispatcher};

/// The most records one claim or read answers.
pub const BATCH_MAX: u32 = 500;

/// Records claimed by one dispatcher of a consumer, in id order.
#[derive(Clone, Debug, PartialEq)]
pub struct Claimed {
    pub consumer: String,
    /// Names this claim; an acknowledgement with an older one is refused.
    pub fence: i64,
    /// The consumer's progress before this batch: every record up to it was acknowledged.
    pub after: i64,
    pub records: Vec<OutboxRecord>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims the next records of `consumer` for `holder`, at most `limit`, with a lease of `lease`.
    /// `None` when there is nothing to deliver or another dispatcher of the consumer holds a live lease.
    async fn claim(&self, consumer: &str, holder: &str, lease: Duration, limit: u32) -> StoreResult<Option<Claimed>>;
    /// Acknowledges every record of the claim up to `through` (its `after` when none was
    /// delivered) and gives the lease back. Refused once another dispatcher claimed since.
    async fn acknowledge(&self, consumer: &str, fence: i64, through: i64) -> StoreResult<()>;
    /// Records after `after`, in order, at most `limit`.
    async fn read(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxRecord>>;
    /// Deletes at most `limit` records that every known consumer acknowledged, or that were
    /// appended before `kept_since` whoever still wants them (the outbox is not an archive: a
    /// consumer stopped for longer than the retention misses what it did not read); answers how
    /// many.
    async fn prune(&self, limit: u32, kept_since: DateTime<Utc>) -> StoreResult<u64>;
}

const COLUMNS: &str = "id, topic, org_id, payload, created_at";

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: i64,
    topic: String,
    org_id: Option<Uuid>,
    payload: Json<Value>,
    created_at: DateTime<Utc>,
}

impl RecordRow {
    fn into_record(self) -> StoreResult<OutboxRecord> {
        Ok(OutboxRecord {
            id: self.id,
            created_at: self.created_at,
            record: NewOutboxRecord {
                topic: self
                    .topic
                    .parse()
                    .map_err(|_| StoreError::Internal("a stored outbox record is invalid".into()))?,
                org: self.org_id.map(OrgId::from_uuid),
                payload: self.payload.0,
            },
        })
    }
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30))
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn claim(&self, consumer: &str, holder: &str, lease: Duration, limit: u32) -> StoreResult<Option<Claimed>> {
        let now = self.now();
        let limit = i64::from(limit.clamp(1, BATCH_MAX));
        // One statement takes the lease: on PostgreSQL a second claimer waits for the first's row
        // lock, then finds the lease live and takes nothing. Nothing to deliver takes no lease.
        let taken: Option<(i64, i64)> = on_pool!(&self.db, |pool| {
            sqlx::query("INSERT INTO outbox_consumers (consumer) VALUES ($1) ON CONFLICT (consumer) DO NOTHING")
                .bind(consumer)
                .execute(pool)
                .await?;
            sqlx::query_as(
                "UPDATE outbox_consumers SET fence = fence + 1, holder = $2, lease_until = $3 \
                 WHERE consumer = $1 AND (lease_until IS NULL OR lease_until <= $4) \
                 AND EXISTS (SELECT 1 FROM outbox WHERE outbox.id > outbox_consumers.delivered) \
                 RETURNING delivered, fence",
            )
            .bind(consumer)
            .bind(holder)
            .bind(lease_end(now, lease))
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        let Some((after, fence)) = taken else { return Ok(None) };
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, RecordRow>(&sql).bind(after).bind(limit).fetch_all(pool).await
        })?;
        let records = rows.into_iter().map(RecordRow::into_record).collect::<Result<_, _>>()?;
        Ok(Some(Claimed { consumer: consumer.to_owned(), fence, after, records }))
    }

    async fn acknowledge(&self, consumer: &str, fence: i64, through: i64) -> StoreResult<()> {
        let done = on_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE outbox_consumers SET delivered = CASE WHEN delivered < $3 THEN $3 ELSE delivered END, \
                 holder = NULL, lease_until = NULL WHERE consumer = $1 AND fence = $2",
            )
            .bind(consumer)
            .bind(fence)
            .bind(through)
            .execute(pool)
            .await
            .map(|result| result.rows_affected())
        })?;
        if done == 0 { Err(StoreError::Fenced) } else { Ok(()) }
    }

    async fn read(&self, after: i64, limit: u32) -> StoreResult<Vec<OutboxRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, RecordRow>(&sql).bind(after).bind(i64::from(limit.min(BATCH_MAX))).fetch_all(pool).await
        })?;
        rows.into_iter().map(RecordRow::into_record).collect()
    }

    async fn prune(&self, limit: u32, kept_since: DateTime<Utc>) -> StoreResult<u64> {
        // With no consumer known, MIN is NULL and only what is past the retention is deleted.
        let deleted = on_pool!(&self.db, |pool| {
            sqlx::query(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox \
                 WHERE id <= (SELECT MIN(delivered) FROM outbox_consumers) OR created_at < $2 ORDER BY id LIMIT $1)",
            )
            .bind(i64::from(limit.min(10 * BATCH_MAX)))
            .bind(kept_since)
            .execute(pool)
            .await
            .map(|result| result.rows_affected())
        })?;
        Ok(deleted)
    }
}

/// How long a record is kept for a consumer that has not read it.
pub const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// The task that keeps the outbox small: every `every`, it deletes what every consumer has read
/// and what is older than `retention`, a bounded batch at a time.
pub fn pruner(store: Arc<dyn Store>, retention: Duration, every: Duration) -> Task {
    Task::new("outbox-pruner", move |stop: CancellationToken| async move {
        let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(7));
        while !stop.is_cancelled() {
            loop {
                let kept_since = store.clock().now() - retention;
                match store.outbox().prune(PRUNE_BATCH, kept_since).await {
                    Ok(deleted) if deleted == u64::from(PRUNE_BATCH) && !stop.is_cancelled() => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "cannot prune the outbox");
                        break;
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}

/// Records deleted by one statement of the pruner.
const PRUNE_BATCH: u32 = 1_000;
