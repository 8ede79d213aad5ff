//! The allowlist: addresses and networks no decision may cover. Adding an entry ends, in the
//! same transaction, every decision that covers it, so the allowlist wins over what was decided
//! before it too.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::watch::decisions::{Addresses, AllowEntry, AllowIndex, Decision, NewAllowEntry};
use rampart_core::{AllowEntryId, OrgId, UserId};
use uuid::Uuid;

use super::{COLUMNS as DECISION_COLUMNS, DecisionRow, TICK};
use crate::changes::Change;
use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

/// The most entries an organisation's allowlist holds.
pub const ENTRIES_MAX: i64 = 10_000;

#[async_trait]
pub trait AllowlistStore: Send + Sync {
    /// Adds an entry and ends every decision of the organisation that covers an address of it;
    /// answers the entry and the decisions ended.
    async fn insert(
        &self,
        org: OrgId,
        new: &NewAllowEntry,
        by: Option<UserId>,
        then: EffectsOf<'_, (AllowEntry, Vec<Decision>)>,
    ) -> StoreResult<(AllowEntry, Vec<Decision>)>;
    /// By value, after `seek.from` when given.
    async fn list(&self, org: OrgId, seek: Seek<AllowEntryId>) -> StoreResult<Vec<AllowEntry>>;
    /// The whole allowlist (at most [`ENTRIES_MAX`] entries).
    async fn all(&self, org: OrgId) -> StoreResult<Vec<AllowEntry>>;
    async fn delete(&self, org: OrgId, id: AllowEntryId, effects: &Effects) -> StoreResult<()>;
}

pub(super) const COLUMNS: &str = "id, org_id, value, note, created_by, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct AllowRow {
    id: Uuid,
    org_id: Uuid,
    value: String,
    note: String,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl AllowRow {
    pub(super) fn into_entry(self) -> StoreResult<AllowEntry> {
        Ok(AllowEntry {
            id: AllowEntryId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            value: Addresses::parse(&self.value)
                .map_err(|_| StoreError::Internal("a stored allowlist entry is invalid".into()))?,
            note: self.note,
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: self.created_at,
        })
    }
}

#[async_trait]
impl AllowlistStore for SqlStore {
    async fn insert(
        &self,
        org: OrgId,
        new: &NewAllowEntry,
        by: Option<UserId>,
        then: EffectsOf<'_, (AllowEntry, Vec<Decision>)>,
    ) -> StoreResult<(AllowEntry, Vec<Decision>)> {
        let now = self.now();
        let insert = format!(
            "INSERT INTO allowlist (id, org_id, value, note, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        );
        let live =
            format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE org_id = $1 AND deleted_at IS NULL AND until > $2");
        let made = unit_of_work!(
            self,
            |tx| {
                let version: i64 = sqlx::query_scalar(TICK).fetch_one(&mut *tx).await?;
                let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM allowlist WHERE org_id = $1")
                    .bind(org.as_uuid())
                    .fetch_one(&mut *tx)
                    .await?;
                if held >= ENTRIES_MAX {
                    return Err(StoreError::Refused("the allowlist is full (10,000 entries)"));
                }
                let entry = sqlx::query_as::<_, AllowRow>(&insert)
                    .bind(AllowEntryId::new().as_uuid())
                    .bind(org.as_uuid())
                    .bind(new.value.to_string())
                    .bind(&new.note)
                    .bind(by.map(|user| user.as_uuid()))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::conflict_on("value"))?
                    .into_entry()?;
                let index = AllowIndex::new(vec![entry.clone()]);
                let covering: Vec<Uuid> = sqlx::query_as::<_, DecisionRow>(&live)
                    .bind(org.as_uuid())
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(DecisionRow::into_decision)
                    .filter_map(|decision| match decision {
                        Ok(decision) if index.covering(&decision.value).is_some() => Some(Ok(decision.id.as_uuid())),
                        Ok(_) => None,
                        Err(error) => Some(Err(error)),
                    })
                    .collect::<StoreResult<_>>()?;
                let mut ended = Vec::new();
                for chunk in covering.chunks(1000) {
                    let mut query = sqlx::QueryBuilder::new("UPDATE decisions SET deleted_at = ");
                    query.push_bind(now).push(", version = ").push_bind(version).push(" WHERE id IN (");
                    let mut list = query.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    list.push_unseparated(")");
                    query.push(format!(" RETURNING {DECISION_COLUMNS}"));
                    for row in query.build_query_as::<DecisionRow>().fetch_all(&mut *tx).await? {
                        ended.push(row.into_decision()?);
                    }
                }
                ended.sort_by_key(|decision| decision.seq);
                (entry, ended)
            },
            then
        );
        self.changed(Change::Decisions);
        Ok(made)
    }

    async fn list(&self, org: OrgId, seek: Seek<AllowEntryId>) -> StoreResult<Vec<AllowEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM allowlist WHERE org_id = $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AllowRow>(&sql)
                .bind(org.as_uuid())
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(AllowRow::into_entry).collect()
    }

    async fn all(&self, org: OrgId) -> StoreResult<Vec<AllowEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM allowlist WHERE org_id = $1 ORDER BY id LIMIT $2");
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, AllowRow>(&sql).bind(org.as_uuid()).bind(ENTRIES_MAX).fetch_all(pool).await
        })?;
        rows.into_iter().map(AllowRow::into_entry).collect()
    }

    async fn delete(&self, org: OrgId, id: AllowEntryId, effects: &Effects) -> StoreResult<()> {
        self.delete_owned("allowlist", org, id.as_uuid(), effects).await
    }
}
