//! The audit log: append and read, nothing else. The tables refuse UPDATE and DELETE as well
//! (triggers in the migrations), so not even a bug here could rewrite history. A change's own event
//! is written in the change's transaction (`effects.rs`); `append` records refusals that change nothing.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::identity::{Actor, AuditAction, AuditEvent, NewAuditEvent};
use rampart_core::{AuditEventId, OrgId};
use uuid::Uuid;

use crate::db::on_pool;
use crate::effects::{Effects, WriteEffects};
use crate::{Seek, SqlStore, StoreError, StoreResult};

/// Which events to read; every field narrows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<AuditAction>,
    /// The id of the acting user or API key.
    pub actor_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Records an event on its own: a refusal that changes nothing. A change's event goes with
    /// the change instead ([`crate::Effects`]).
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent>;

    async fn list(&self, org: OrgId, filter: &AuditFilter, seek: Seek<AuditEventId>) -> StoreResult<Vec<AuditEvent>>;
}

const COLUMNS: &str = "id, org_id, at, actor_kind, actor_id, action, target, outcome, ip, request_id, detail";

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    org_id: Option<Uuid>,
    at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    action: String,
    target: Option<String>,
    outcome: String,
    ip: Option<String>,
    request_id: Option<String>,
    detail: Option<String>,
}

impl EventRow {
    fn into_event(self) -> StoreResult<AuditEvent> {
        let invalid = |_| StoreError::Internal("a stored audit event is invalid".into());
        let actor = Actor::from_stored(&self.actor_kind, self.actor_id);
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(self.id),
            at: self.at,
            event: NewAuditEvent {
                org: self.org_id.map(OrgId::from_uuid),
                actor,
                action: self.action.parse().map_err(invalid)?,
                target: self.target,
                outcome: self.outcome.parse().map_err(invalid)?,
                ip: self.ip,
                request_id: self.request_id,
                detail: self.detail,
            },
        })
    }
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn append(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent> {
        let effects = Effects::audit(event.clone());
        let recorded = on_pool!(&self.db, |pool| pool.acquire().await?.write_effects(&effects, self.now()).await)?;
        recorded.ok_or_else(|| StoreError::Internal("an audit event was not recorded".into()))
    }

    async fn list(&self, org: OrgId, filter: &AuditFilter, seek: Seek<AuditEventId>) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE org_id = $1 AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR actor_id = $3) AND ($4 IS NULL OR at >= $4) AND ($5 IS NULL OR at < $5) \
             AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, EventRow>(&sql)
                .bind(org.as_uuid())
                .bind(filter.action.map(AuditAction::as_str))
                .bind(filter.actor_id)
                .bind(filter.since)
                .bind(filter.until)
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(EventRow::into_event).collect()
    }
}
