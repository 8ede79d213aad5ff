//! Decisions, the allowlist and bouncers. Every change to decisions takes the next version of
//! `decision_clock` first (its row lock, on PostgreSQL, held to the commit), so versions are
//! taken in commit order: a server's copy reads the versions after the last it saw and misses
//! nothing committed later (see the migration).

mod allowlist;
mod bouncers;
mod policies;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::watch::decisions::{
    Addresses, AllowEntry, AllowIndex, Decision, DecisionKind, DecisionOrigin, DecisionScope, NewDecision,
};
use rampart_core::{AlertId, DecisionId, OrgId, UserId};
use uuid::Uuid;

use crate::changes::Change;
use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{EffectsOf, Seek, SqlStore, StoreError, StoreResult};

pub use allowlist::AllowlistStore;
pub use bouncers::{BouncerStore, Pull};
pub use policies::PolicyStore;

/// Which decisions to list or delete; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct DecisionFilter {
    pub value: Option<Addresses>,
    pub kind: Option<DecisionKind>,
    pub scope: Option<DecisionScope>,
    pub origin: Option<DecisionOrigin>,
    pub scenario: Option<String>,
    pub alert: Option<AlertId>,
    /// Only those that apply now (`true`), or only those that ended (`false`).
    pub active: Option<bool>,
}

/// Why decisions were not made: the one at `index` would cover an allowlisted address.
#[derive(Clone, Debug, PartialEq)]
pub struct Allowlisted {
    pub index: usize,
    pub entry: AllowEntry,
}

/// Decisions changed at a version, as a server's copy reads them.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    pub version: i64,
    pub decision: Decision,
}

#[async_trait]
pub trait DecisionStore: Send + Sync {
    /// Makes the decisions, all or none: none when one would cover an address of the
    /// organisation's allowlist or of `protected` (read in the same transaction, so an entry added
    /// meanwhile is not missed).
    async fn insert(
        &self,
        org: OrgId,
        new: &[NewDecision],
        by: Option<UserId>,
        protected: &[AllowEntry],
        then: EffectsOf<'_, Vec<Decision>>,
    ) -> StoreResult<Result<Vec<Decision>, Allowlisted>>;
    /// Newest first, after `seek.from` when given.
    async fn list(&self, org: OrgId, filter: &DecisionFilter, seek: Seek<DecisionId>) -> StoreResult<Vec<Decision>>;
    async fn get(&self, org: OrgId, id: DecisionId) -> StoreResult<Decision>;
    /// Ends every decision that applies now and matches `filter` (at most `limit`), with the
    /// effects made of those ended; answers them.
    async fn delete(
        &self,
        org: OrgId,
        filter: &DecisionFilter,
        ids: Option<&[DecisionId]>,
        limit: u32,
        then: EffectsOf<'_, Vec<Decision>>,
    ) -> StoreResult<Vec<Decision>>;
    /// The latest version taken.
    async fn version(&self) -> StoreResult<i64>;
    /// Every organisation's decisions that apply at `now` or ended after `ended_after`, and the
    /// version read before them: what a server's copy starts from.
    async fn live(&self, now: DateTime<Utc>, ended_after: DateTime<Utc>) -> StoreResult<(i64, Vec<Decision>)>;
    /// Decisions changed after version `after`, every organisation's, in version order, at most
    /// `limit` versions' worth (a version's rows are never split).
    async fn changed(&self, after: i64, limit: u32) -> StoreResult<Vec<Versioned>>;
    /// Deletes at most `limit` decisions that ended before `before`; answers how many.
    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}

pub(crate) const COLUMNS: &str =
    "seq, id, org_id, kind, value, origin, scenario, reason, alert_id, created_by, created_at, until, deleted_at";

/// Takes the next version; on PostgreSQL the row lock orders every writer of decisions.
pub(crate) const TICK: &str = "UPDATE decision_clock SET version = version + 1 WHERE slot = 1 RETURNING version";

/// Decisions one statement inserts: 13 values each, well inside SQLite's bound on parameters.
const INSERT_CHUNK: usize = 1000;

#[derive(sqlx::FromRow)]
pub(crate) struct DecisionRow {
    seq: i64,
    id: Uuid,
    org_id: Uuid,
    kind: String,
    value: String,
    origin: String,
    scenario: String,
    reason: Option<String>,
    alert_id: Option<Uuid>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    until: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct VersionedRow {
    version: i64,
    #[sqlx(flatten)]
    row: DecisionRow,
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored decision is invalid".into())
}

impl DecisionRow {
    pub(crate) fn into_decision(self) -> StoreResult<Decision> {
        Ok(Decision {
            id: DecisionId::from_uuid(self.id),
            seq: self.seq,
            org_id: OrgId::from_uuid(self.org_id),
            kind: self.kind.parse().map_err(invalid)?,
            value: Addresses::parse(&self.value).map_err(invalid)?,
            origin: self.origin.parse().map_err(invalid)?,
            scenario: self.scenario,
            reason: self.reason,
            alert_id: self.alert_id.map(AlertId::from_uuid),
            created_by: self.created_by.map(UserId::from_uuid),
            created_at: self.created_at,
            until: self.until,
            deleted_at: self.deleted_at,
        })
    }
}

fn decisions(rows: Vec<DecisionRow>) -> StoreResult<Vec<Decision>> {
    rows.into_iter().map(DecisionRow::into_decision).collect()
}

/// Adds the filter's conditions to a query over `decisions` whose first bind is the organisation.
fn push_filter<'a, DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<'a, DB>,
    filter: &'a DecisionFilter,
    now: DateTime<Utc>,
) where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Uuid: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    if let Some(value) = &filter.value {
        query.push(" AND value = ").push_bind(value.to_string());
    }
    if let Some(kind) = filter.kind {
        query.push(" AND kind = ").push_bind(kind.as_str());
    }
    if let Some(scope) = filter.scope {
        query.push(" AND scope = ").push_bind(scope.as_str());
    }
    if let Some(origin) = filter.origin {
        query.push(" AND origin = ").push_bind(origin.as_str());
    }
    if let Some(scenario) = &filter.scenario {
        query.push(" AND scenario = ").push_bind(scenario.as_str());
    }
    if let Some(alert) = filter.alert {
        query.push(" AND alert_id = ").push_bind(alert.as_uuid());
    }
    match filter.active {
        Some(true) => {
            query.push(" AND deleted_at IS NULL AND until > ").push_bind(now);
        }
        Some(false) => {
            query.push(" AND (deleted_at IS NOT NULL OR until <= ").push_bind(now).push(")");
        }
        None => {}
    }
}

#[async_trait]
impl DecisionStore for SqlStore {
    async fn insert(
        &self,
        org: OrgId,
        new: &[NewDecision],
        by: Option<UserId>,
        protected: &[AllowEntry],
        then: EffectsOf<'_, Vec<Decision>>,
    ) -> StoreResult<Result<Vec<Decision>, Allowlisted>> {
        let now = self.now();
        let allowlist_sql = format!("SELECT {} FROM allowlist WHERE org_id = $1", allowlist::COLUMNS);
        let made = unit_of_work!(
            self,
            |tx| {
                let version: i64 = sqlx::query_scalar(TICK).fetch_one(&mut *tx).await?;
                let mut entries = sqlx::query_as::<_, allowlist::AllowRow>(&allowlist_sql)
                    .bind(org.as_uuid())
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .map(allowlist::AllowRow::into_entry)
                    .collect::<StoreResult<Vec<_>>>()?;
                entries.extend_from_slice(protected);
                let index = AllowIndex::new(entries);
                if let Some((index, entry)) =
                    new.iter().enumerate().find_map(|(at, decision)| Some((at, index.covering(&decision.value)?)))
                {
                    return Ok(Err(Allowlisted { index, entry: entry.clone() }));
                }
                let mut made = Vec::with_capacity(new.len());
                for chunk in new.chunks(INSERT_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new(
                        "INSERT INTO decisions (id, org_id, kind, scope, value, origin, scenario, reason, alert_id, \
                         created_by, created_at, until, version) ",
                    );
                    query.push_values(chunk, |mut row, decision| {
                        row.push_bind(DecisionId::new().as_uuid())
                            .push_bind(org.as_uuid())
                            .push_bind(decision.kind.as_str())
                            .push_bind(decision.value.scope().as_str())
                            .push_bind(decision.value.to_string())
                            .push_bind(decision.origin.as_str())
                            .push_bind(decision.scenario.as_str())
                            .push_bind(decision.reason.as_deref())
                            .push_bind(decision.alert.map(|alert| alert.as_uuid()))
                            .push_bind(by.map(|user| user.as_uuid()))
                            .push_bind(now)
                            .push_bind(decision.until)
                            .push_bind(version);
                    });
                    query.push(format!(" RETURNING {COLUMNS}"));
                    let rows = query.build_query_as::<DecisionRow>().fetch_all(&mut *tx).await?;
                    made.extend(decisions(rows)?);
                }
                made.sort_by_key(|decision| decision.seq);
                made
            },
            then
        );
        self.changed(Change::Decisions);
        Ok(Ok(made))
    }

    async fn list(&self, org: OrgId, filter: &DecisionFilter, seek: Seek<DecisionId>) -> StoreResult<Vec<Decision>> {
        let now = self.now();
        let rows = on_pool!(&self.db, |pool| {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM decisions WHERE org_id = "));
            query.push_bind(org.as_uuid());
            push_filter(&mut query, filter, now);
            if let Some(from) = seek.from {
                query.push(" AND id < ").push_bind(from.as_uuid());
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(seek.limit));
            query.build_query_as::<DecisionRow>().fetch_all(pool).await
        })?;
        decisions(rows)
    }

    async fn get(&self, org: OrgId, id: DecisionId) -> StoreResult<Decision> {
        let sql = format!("SELECT {COLUMNS} FROM decisions WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, DecisionRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_decision()
    }

    async fn delete(
        &self,
        org: OrgId,
        filter: &DecisionFilter,
        ids: Option<&[DecisionId]>,
        limit: u32,
        then: EffectsOf<'_, Vec<Decision>>,
    ) -> StoreResult<Vec<Decision>> {
        let now = self.now();
        let ended = unit_of_work!(
            self,
            |tx| {
                let version: i64 = sqlx::query_scalar(TICK).fetch_one(&mut *tx).await?;
                let mut query = sqlx::QueryBuilder::new("UPDATE decisions SET deleted_at = ");
                query.push_bind(now).push(", version = ").push_bind(version);
                query.push(" WHERE seq IN (SELECT seq FROM decisions WHERE org_id = ").push_bind(org.as_uuid());
                push_filter(&mut query, filter, now);
                query.push(" AND deleted_at IS NULL AND until > ").push_bind(now);
                if let Some(ids) = ids {
                    query.push(" AND id IN (");
                    let mut list = query.separated(", ");
                    for id in ids {
                        list.push_bind(id.as_uuid());
                    }
                    list.push_unseparated(")");
                }
                query.push(" ORDER BY seq LIMIT ").push_bind(i64::from(limit)).push(")");
                query.push(format!(" RETURNING {COLUMNS}"));
                let rows = query.build_query_as::<DecisionRow>().fetch_all(&mut *tx).await?;
                let mut ended = decisions(rows)?;
                ended.sort_by_key(|decision| decision.seq);
                ended
            },
            then
        );
        self.changed(Change::Decisions);
        Ok(ended)
    }

    async fn version(&self) -> StoreResult<i64> {
        Ok(on_pool!(&self.db, |pool| {
            sqlx::query_scalar("SELECT version FROM decision_clock WHERE slot = 1").fetch_one(pool).await?
        }))
    }

    async fn live(&self, now: DateTime<Utc>, ended_after: DateTime<Utc>) -> StoreResult<(i64, Vec<Decision>)> {
        // The version first: whatever committed after it is read again by `changed`.
        let version = self.version().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM decisions WHERE until > $1 AND (deleted_at IS NULL OR deleted_at > $1) ORDER BY seq"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, DecisionRow>(&sql).bind(ended_after.min(now)).fetch_all(pool).await
        })?;
        Ok((version, decisions(rows)?))
    }

    async fn changed(&self, after: i64, limit: u32) -> StoreResult<Vec<Versioned>> {
        // The versions first, so that a version's rows are read whole.
        let last: Option<i64> = on_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT MAX(version) FROM (SELECT DISTINCT version FROM decisions WHERE version > $1 \
                 ORDER BY version LIMIT $2) AS next",
            )
            .bind(after)
            .bind(i64::from(limit.max(1)))
            .fetch_one(pool)
            .await?
        });
        let Some(last) = last else { return Ok(Vec::new()) };
        let sql = format!(
            "SELECT version, {COLUMNS} FROM decisions WHERE version > $1 AND version <= $2 ORDER BY version, seq"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, VersionedRow>(&sql).bind(after).bind(last).fetch_all(pool).await
        })?;
        rows.into_iter().map(|row| Ok(Versioned { version: row.version, decision: row.row.into_decision()? })).collect()
    }

    async fn prune(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let deleted = on_pool!(&self.db, |pool| {
            sqlx::query(
                "DELETE FROM decisions WHERE seq IN (SELECT seq FROM decisions \
                 WHERE until < $1 OR deleted_at < $1 ORDER BY seq LIMIT $2)",
            )
            .bind(before)
            .bind(i64::from(limit))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(deleted)
    }
}
