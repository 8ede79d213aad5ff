//! An organisation's change events: what changed between runs, oldest first, written by the
//! finish of the run that saw the change (see [`crate::findings::track`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::changes::{ChangeEvent, ChangeKind};
use rampart_core::{ChangeEventId, ExecutionId, FindingId, OrgId};
use uuid::Uuid;

use crate::db::on_pool;
use crate::{Seek, SqlStore, StoreError, StoreResult};

/// A change event a run's finish writes: of a finding, or of an asset (no finding).
pub(crate) struct NewChange<'a> {
    pub kind: ChangeKind,
    pub asset: &'a str,
    pub finding: Option<Uuid>,
    pub detail: &'a str,
}

/// Inserts `$changes` (`NewChange`s) seen by run `$run` on connection `$conn`, in multi-row
/// statements. A macro, not a function, so that it is compiled for each backend's connection.
macro_rules! insert_changes {
    ($conn:expr, $run:expr, $changes:expr) => {{
        let changes: &[$crate::change_events::NewChange<'_>] = $changes;
        // 8 values a row stays under SQLite's limit on bound values.
        for chunk in changes.chunks(2000) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO change_events (id, org_id, at, kind, asset, execution_id, finding_id, detail) ",
            );
            query.push_values(chunk, |mut row, change| {
                row.push_bind(rampart_core::ChangeEventId::new().as_uuid())
                    .push_bind($run.org)
                    .push_bind($run.now)
                    .push_bind(change.kind.as_str())
                    .push_bind(change.asset)
                    .push_bind($run.id.as_uuid())
                    .push_bind(change.finding)
                    .push_bind(change.detail);
            });
            query.build().execute(&mut *$conn).await?;
        }
    }};
}
pub(crate) use insert_changes;

/// Which changes; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct ChangeFilter {
    pub kind: Option<ChangeKind>,
    pub asset: Option<String>,
    pub execution: Option<ExecutionId>,
    pub finding: Option<FindingId>,
    pub since: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ChangeEventStore: Send + Sync {
    /// Oldest first, after `from` when given: a reader following changes pages forward.
    async fn list(&self, org: OrgId, filter: &ChangeFilter, seek: Seek<ChangeEventId>)
    -> StoreResult<Vec<ChangeEvent>>;
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    id: Uuid,
    at: DateTime<Utc>,
    kind: String,
    asset: String,
    execution_id: Option<Uuid>,
    finding_id: Option<Uuid>,
    detail: String,
}

#[async_trait]
impl ChangeEventStore for SqlStore {
    async fn list(
        &self,
        org: OrgId,
        filter: &ChangeFilter,
        seek: Seek<ChangeEventId>,
    ) -> StoreResult<Vec<ChangeEvent>> {
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, ChangeRow>(
                "SELECT id, at, kind, asset, execution_id, finding_id, detail FROM change_events \
                 WHERE org_id = $1 AND ($2 IS NULL OR id > $2) AND ($3 IS NULL OR kind = $3) \
                 AND ($4 IS NULL OR asset = $4) AND ($5 IS NULL OR execution_id = $5) \
                 AND ($6 IS NULL OR finding_id = $6) AND ($7 IS NULL OR at >= $7) ORDER BY id LIMIT $8",
            )
            .bind(org.as_uuid())
            .bind(seek.from.map(|id| id.as_uuid()))
            .bind(filter.kind.map(ChangeKind::as_str))
            .bind(filter.asset.as_deref())
            .bind(filter.execution.map(|id| id.as_uuid()))
            .bind(filter.finding.map(|id| id.as_uuid()))
            .bind(filter.since)
            .bind(i64::from(seek.limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|row| {
                Ok(ChangeEvent {
                    id: ChangeEventId::from_uuid(row.id),
                    at: row.at,
                    kind: row
                        .kind
                        .parse()
                        .map_err(|_| StoreError::Internal("a stored change event is invalid".into()))?,
                    asset: row.asset,
                    execution: row.execution_id.map(ExecutionId::from_uuid),
                    finding: row.finding_id.map(FindingId::from_uuid),
                    detail: row.detail,
                })
            })
            .collect()
    }
}
