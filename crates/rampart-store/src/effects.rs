//! The unit of work: what a change writes besides itself — its audit event and its outbox
//! records — in the change's own transaction, so the three commit or roll back together.
//!
//! A mutating store call takes its [`Effects`] (or, when the event names what the call creates,
//! an [`EffectsOf`] built from the result) and writes them with [`WriteEffects`] before it
//! commits. Refusals that change nothing are appended on their own (`audit().append`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::AuditEventId;
use rampart_core::identity::{AuditEvent, NewAuditEvent};
use rampart_core::outbox::NewOutboxRecord;
use sqlx::types::Json;

use crate::changes::Change;
use crate::{StoreError, StoreResult};

/// The most outbox records one change appends.
pub const RECORDS_MAX: usize = 100;

/// What a change writes besides itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effects {
    pub audit: Option<NewAuditEvent>,
    pub outbox: Vec<NewOutboxRecord>,
}

impl Effects {
    /// Nothing: a change nobody audits (a worker's, a test's).
    pub fn none() -> Self {
        Self::default()
    }

    /// The change's audit event.
    pub fn audit(event: NewAuditEvent) -> Self {
        Self { audit: Some(event), outbox: Vec::new() }
    }

    /// One more outbox record.
    pub fn record(mut self, record: NewOutboxRecord) -> Self {
        self.outbox.push(record);
        self
    }
}

/// Effects named by what the change made (the id of a created row, the counts of an import).
pub type EffectsOf<'a, T> = &'a (dyn Fn(&T) -> Effects + Send + Sync);

/// Writes effects on a connection inside the caller's transaction.
#[async_trait]
pub(crate) trait WriteEffects {
    /// Writes `effects` as of `now` (the store's clock); answers the audit event as recorded.
    async fn write_effects(&mut self, effects: &Effects, now: DateTime<Utc>) -> StoreResult<Option<AuditEvent>>;
}

const AUDIT_INSERT: &str = "INSERT INTO audit_events (id, org_id, at, actor_kind, actor_id, action, target, outcome, ip, \
     request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
const OUTBOX_INSERT: &str = "INSERT INTO outbox (topic, org_id, payload, created_at) VALUES ($1, $2, $3, $4)";

/// The same statements on either connection; `$order` runs before the first outbox record.
macro_rules! write_effects_on {
    ($conn:ty, $order:expr) => {
        #[async_trait]
        impl WriteEffects for $conn {
            async fn write_effects(
                &mut self,
                effects: &Effects,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<AuditEvent>> {
                if effects.outbox.len() > RECORDS_MAX {
                    return Err(StoreError::Internal("a change appends more outbox records than its bound".into()));
                }
                let payloads = effects
                    .outbox
                    .iter()
                    .map(|record| record.encoded_payload().map(|_| Json(&record.payload)))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|reason| StoreError::Internal(reason.into()))?;
                let mut recorded = None;
                if let Some(event) = &effects.audit {
                    let id = AuditEventId::new();
                    sqlx::query(AUDIT_INSERT)
                        .bind(id.as_uuid())
                        .bind(event.org.map(|org| org.as_uuid()))
                        .bind(now)
                        .bind(event.actor.kind().as_str())
                        .bind(event.actor.stored_id())
                        .bind(event.action.as_str())
                        .bind(event.target.as_deref())
                        .bind(event.outcome.as_str())
                        .bind(event.ip.as_deref())
                        .bind(event.request_id.as_deref())
                        .bind(event.detail.as_deref())
                        .execute(&mut *self)
                        .await?;
                    recorded = Some(AuditEvent { id, at: now, event: event.clone() });
                }
                if !effects.outbox.is_empty()
                    && let Some(order) = $order
                {
                    sqlx::query(order).execute(&mut *self).await?;
                }
                for (record, payload) in effects.outbox.iter().zip(payloads) {
                    sqlx::query(OUTBOX_INSERT)
                        .bind(record.topic.as_str())
                        .bind(record.org.map(|org| org.as_uuid()))
                        .bind(payload)
                        .bind(now)
                        .execute(&mut *self)
                        .await?;
                }
                Ok(recorded)
            }
        }
    };
}

// SQLite has one writer at a time: ids are handed out in commit order as they are.
write_effects_on!(sqlx::SqliteConnection, None::<&str>);
// Outbox ids are taken under a lock held to the commit, so they grow in commit order: a reader
// past an id never misses a smaller one committed later. Only writers of outbox records take it.
write_effects_on!(sqlx::PgConnection, Some("SELECT pg_advisory_xact_lock(23161749423213646)"));

impl crate::SqlStore {
    /// After the commit of a change with `effects`: wakes this process's dispatchers on SQLite
    /// (PostgreSQL's trigger tells every process).
    pub(crate) fn committed(&self, effects: &Effects) {
        if !effects.outbox.is_empty() {
            self.changed(Change::Outbox);
        }
    }
}

/// Runs a change and its effects as one unit: opens a write transaction as `$tx`, evaluates
/// `$change` (which uses `&mut *$tx` and may return early with `?`), writes the effects `$then`
/// makes of its value, commits, and wakes the dispatchers. Evaluates to the change's value.
macro_rules! unit_of_work {
    ($store:expr, |$tx:ident| $change:expr, $then:expr) => {{
        let (value, effects) = $crate::db::on_pool!(&$store.db, |pool| {
            let mut $tx = $crate::db::BeginWrite::begin_write(pool).await?;
            let value = $change;
            let effects: $crate::Effects = ($then)(&value);
            $crate::effects::WriteEffects::write_effects(&mut *$tx, &effects, $store.now()).await?;
            $tx.commit().await?;
            (value, effects)
        });
        $store.committed(&effects);
        value
    }};
}
pub(crate) use unit_of_work;

impl crate::SqlStore {
    /// Deletes the row `id` of `org` from `table` with the change's `effects`: `NotFound` when
    /// the organisation has no such row. `table` is one of the store's own names, never input.
    pub(crate) async fn delete_owned(
        &self,
        table: &'static str,
        org: rampart_core::OrgId,
        id: uuid::Uuid,
        effects: &Effects,
    ) -> StoreResult<()> {
        let sql = format!("DELETE FROM {table} WHERE org_id = $1 AND id = $2");
        unit_of_work!(
            self,
            |tx| {
                let done = sqlx::query(&sql).bind(org.as_uuid()).bind(id).execute(&mut *tx).await?.rows_affected();
                if done == 0 {
                    return Err(StoreError::NotFound);
                }
            },
            |_: &()| effects.clone()
        );
        Ok(())
    }
}
