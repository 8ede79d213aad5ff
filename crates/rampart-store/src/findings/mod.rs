//! An organisation's tracked findings: listed with filters and a sort, counted, changed by people
//! one or many at a time with why (each change in the finding's history and the audit log), and
//! reopened when an accepted risk's time is up. A run's finish tracks its findings (see [`track`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::findings::{FindingChange, FindingStatus, HistoryEntry, Severity, TrackedFinding, sla_days};
use rampart_core::identity::{Actor, AuditAction, NewAuditEvent, Outcome};
use rampart_core::{ExecutionId, FindingId, OrgId, UserId};
use uuid::Uuid;

pub(crate) mod track;

use crate::db::on_pool;
use crate::effects::unit_of_work;
use crate::{Effects, EffectsOf, Seek, SqlStore, StoreError, StoreResult};

/// Which findings; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    pub severity: Option<Severity>,
    pub status: Option<FindingStatus>,
    /// Exactly this asset.
    pub asset: Option<String>,
    /// Seen by this tool.
    pub tool: Option<String>,
    /// This check id, or a family of them: `tls_inspect.*`.
    pub check: Option<String>,
    /// On this target: the asset is the name or address, a name under it, or a URL on it.
    pub target: Option<String>,
    /// Seen since.
    pub since: Option<DateTime<Utc>>,
    /// In the title, asset or check id, whatever the case.
    pub text: Option<String>,
    pub regression: Option<bool>,
    pub assignee: Option<UserId>,
    /// Live and past its due date now (true), or not (false).
    pub overdue: Option<bool>,
    /// Seen by this run.
    pub execution: Option<ExecutionId>,
}

/// The order of a list; the newest first among equals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FindingSort {
    /// The most severe first.
    #[default]
    SeverityDesc,
    SeverityAsc,
    LastSeenDesc,
    LastSeenAsc,
    FirstSeenDesc,
    FirstSeenAsc,
}

impl FindingSort {
    fn column_and_direction(self) -> (&'static str, &'static str, &'static str) {
        match self {
            FindingSort::SeverityDesc => ("severity_rank", "DESC", "<"),
            FindingSort::SeverityAsc => ("severity_rank", "ASC", ">"),
            FindingSort::LastSeenDesc => ("last_seen", "DESC", "<"),
            FindingSort::LastSeenAsc => ("last_seen", "ASC", ">"),
            FindingSort::FirstSeenDesc => ("first_seen", "DESC", "<"),
            FindingSort::FirstSeenAsc => ("first_seen", "ASC", ">"),
        }
    }
}

/// Counts of the findings a filter selects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FindingSummary {
    pub total: u64,
    pub by_severity: BTreeMap<String, u64>,
    pub by_status: BTreeMap<String, u64>,
    pub by_tool: BTreeMap<String, u64>,
    /// The assets with the most findings, most first, at most [`SUMMARY_ASSETS`].
    pub by_asset: Vec<(String, u64)>,
    pub overdue: u64,
}

/// Assets a summary names at most.
pub const SUMMARY_ASSETS: u32 = 20;

/// A run that saw a finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub execution: ExecutionId,
    pub tool: String,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait FindingStore: Send + Sync {
    async fn list(
        &self,
        org: OrgId,
        filter: &FindingFilter,
        sort: FindingSort,
        seek: Seek<FindingId>,
    ) -> StoreResult<Vec<TrackedFinding>>;
    async fn get(&self, org: OrgId, id: FindingId) -> StoreResult<TrackedFinding>;
    /// Its history, oldest first, at most `limit` entries.
    async fn history(&self, org: OrgId, id: FindingId, limit: u32) -> StoreResult<Vec<HistoryEntry>>;
    /// The runs that saw it, newest first, at most `limit`.
    async fn sightings(&self, org: OrgId, id: FindingId, limit: u32) -> StoreResult<Vec<Sighting>>;
    async fn summary(&self, org: OrgId, filter: &FindingFilter) -> StoreResult<FindingSummary>;
    /// Applies `change` (already checked) to each of `ids` by `actor`, with a history entry each
    /// and `then`'s effects, in one transaction. `NotFound` when the organisation lacks any of them:
    /// then nothing changes.
    async fn change(
        &self,
        org: OrgId,
        ids: &[FindingId],
        change: &FindingChange,
        actor: Actor,
        then: EffectsOf<'_, Vec<TrackedFinding>>,
    ) -> StoreResult<Vec<TrackedFinding>>;
    /// Accepted risks whose time is up at `now` are open again, each with a history entry and an
    /// audit event. Answers how many.
    async fn reopen_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

const COLUMNS: &str = "id, fingerprint, severity, check_id, title, asset, location, detail, status, regression, \
     assignee, accepted_until, first_seen, last_seen, occurrences, tools, last_execution_id, updated_at";

#[derive(sqlx::FromRow)]
struct FindingRow {
    id: Uuid,
    fingerprint: String,
    severity: String,
    check_id: String,
    title: String,
    asset: String,
    location: String,
    detail: String,
    status: String,
    regression: bool,
    assignee: Option<Uuid>,
    accepted_until: Option<DateTime<Utc>>,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    occurrences: i64,
    tools: String,
    last_execution_id: Option<Uuid>,
    updated_at: DateTime<Utc>,
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored finding is invalid".into())
}

impl FindingRow {
    fn into_finding(self) -> StoreResult<TrackedFinding> {
        Ok(TrackedFinding {
            id: FindingId::from_uuid(self.id),
            fingerprint: self.fingerprint,
            severity: self.severity.parse().map_err(invalid)?,
            check_id: self.check_id,
            title: self.title,
            asset: self.asset,
            location: self.location,
            detail: self.detail,
            status: self.status.parse().map_err(invalid)?,
            regression: self.regression,
            assignee: self.assignee.map(UserId::from_uuid),
            accepted_until: self.accepted_until,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            occurrences: u64::try_from(self.occurrences).unwrap_or(0),
            tools: self.tools.split(',').filter(|tool| !tool.is_empty()).map(str::to_owned).collect(),
            last_execution: self.last_execution_id.map(ExecutionId::from_uuid),
            updated_at: self.updated_at,
        })
    }
}

/// Text matched literally by LIKE: its own characters escaped.
fn escape_like(text: &str) -> String {
    text.chars().flat_map(|c| if matches!(c, '\\' | '%' | '_') { vec!['\\', c] } else { vec![c] }).collect()
}

/// The conditions of a filter, on `$1` (the organisation) and `$2`…`$19`; overdue is judged at
/// the time bound in `$15`…`$18` (the first sighting before which each severity is overdue).
const FILTER: &str = "org_id = $1 AND ($2 IS NULL OR severity = $2) AND ($3 IS NULL OR status = $3) \
     AND ($4 IS NULL OR asset = $4) AND ($5 IS NULL OR tools LIKE $5 ESCAPE '\\') \
     AND ($6 IS NULL OR check_id LIKE $6 ESCAPE '\\') \
     AND ($7 IS NULL OR asset = $7 OR asset LIKE $8 ESCAPE '\\' OR asset LIKE $9 ESCAPE '\\') \
     AND ($10 IS NULL OR last_seen >= $10) \
     AND ($11 IS NULL OR lower(title) LIKE $11 ESCAPE '\\' OR lower(asset) LIKE $11 ESCAPE '\\' \
          OR check_id LIKE $11 ESCAPE '\\') \
     AND ($12 IS NULL OR regression = $12) AND ($13 IS NULL OR assignee = $13) \
     AND ($14 IS NULL OR (status IN ('open', 'acknowledged') AND ((severity_rank = 4 AND first_seen < $15) \
          OR (severity_rank = 3 AND first_seen < $16) OR (severity_rank = 2 AND first_seen < $17) \
          OR (severity_rank = 1 AND first_seen < $18))) = $14) \
     AND ($19 IS NULL OR id IN (SELECT finding_id FROM execution_findings WHERE org_id = $1 AND execution_id = $19))";

/// The values of [`FILTER`], bound in order after the organisation (a macro: the query type
/// differs per backend).
macro_rules! bind_filter {
    ($query:expr, $org:expr, $filter:expr, $now:expr) => {{
        let filter: &FindingFilter = $filter;
        let now: DateTime<Utc> = $now;
        let target = filter.target.as_deref().map(|target| escape_like(&target.trim().to_lowercase()));
        let due_before = |severity: Severity| now - chrono::Duration::days(sla_days(severity).unwrap_or(0));
        $query
            .bind($org.as_uuid())
            .bind(filter.severity.map(Severity::as_str))
            .bind(filter.status.map(FindingStatus::as_str))
            .bind(filter.asset.clone())
            .bind(filter.tool.as_deref().map(|tool| format!("%,{},%", escape_like(tool))))
            .bind(filter.check.as_deref().map(|check| match check.strip_suffix('*') {
                Some(family) => format!("{}%", escape_like(family)),
                None => escape_like(check),
            }))
            .bind(filter.target.as_ref().map(|target| target.trim().to_lowercase()))
            .bind(target.as_ref().map(|target| format!("%.{target}")))
            .bind(target.as_ref().map(|target| format!("%://{target}%")))
            .bind(filter.since)
            .bind(filter.text.as_deref().map(|text| format!("%{}%", escape_like(&text.to_lowercase()))))
            .bind(filter.regression)
            .bind(filter.assignee.map(|id| id.as_uuid()))
            .bind(filter.overdue)
            .bind(due_before(Severity::Critical))
            .bind(due_before(Severity::High))
            .bind(due_before(Severity::Medium))
            .bind(due_before(Severity::Low))
            .bind(filter.execution.map(|id| id.as_uuid()))
    }};
}

#[derive(sqlx::FromRow)]
struct HistoryRow {
    at: DateTime<Utc>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    status: Option<String>,
    assignee: Option<String>,
    note: String,
}

/// An assignee as history stores it: `none`, or the user's id.
fn stored_assignee(assignee: Option<UserId>) -> String {
    assignee.map_or_else(|| "none".to_owned(), |id| id.to_string())
}

#[async_trait]
impl FindingStore for SqlStore {
    async fn list(
        &self,
        org: OrgId,
        filter: &FindingFilter,
        sort: FindingSort,
        seek: Seek<FindingId>,
    ) -> StoreResult<Vec<TrackedFinding>> {
        let (column, direction, after) = sort.column_and_direction();
        let sql = format!(
            "SELECT {COLUMNS} FROM findings WHERE {FILTER} AND ($20 IS NULL OR ({column}, id) {after} \
             (SELECT {column}, id FROM findings WHERE org_id = $1 AND id = $20)) \
             ORDER BY {column} {direction}, id {direction} LIMIT $21"
        );
        let rows = on_pool!(&self.db, |pool| {
            bind_filter!(sqlx::query_as::<_, FindingRow>(&sql), org, filter, self.now())
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(FindingRow::into_finding).collect()
    }

    async fn get(&self, org: OrgId, id: FindingId) -> StoreResult<TrackedFinding> {
        let sql = format!("SELECT {COLUMNS} FROM findings WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, FindingRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_optional(pool).await
        })?;
        row.ok_or(StoreError::NotFound)?.into_finding()
    }

    async fn history(&self, org: OrgId, id: FindingId, limit: u32) -> StoreResult<Vec<HistoryEntry>> {
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, HistoryRow>(
                "SELECT h.at, h.actor_kind, h.actor_id, h.status, h.assignee, h.note FROM finding_history h \
                 JOIN findings f ON f.id = h.finding_id WHERE f.org_id = $1 AND h.finding_id = $2 \
                 ORDER BY h.id LIMIT $3",
            )
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter()
            .map(|row| {
                let assignee = match row.assignee.as_deref() {
                    None => None,
                    Some("none") => Some(None),
                    Some(text) => Some(Some(text.parse::<UserId>().map_err(invalid)?)),
                };
                Ok(HistoryEntry {
                    at: row.at,
                    actor: Actor::from_stored(&row.actor_kind, row.actor_id),
                    status: row.status.map(|status| status.parse()).transpose().map_err(invalid)?,
                    assignee,
                    note: row.note,
                })
            })
            .collect()
    }

    async fn sightings(&self, org: OrgId, id: FindingId, limit: u32) -> StoreResult<Vec<Sighting>> {
        let rows: Vec<(Uuid, String, DateTime<Utc>)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT e.id, e.tool, COALESCE(e.finished_at, e.created_at) FROM executions e \
                 WHERE e.org_id = $1 AND e.id IN \
                 (SELECT execution_id FROM execution_findings WHERE org_id = $1 AND finding_id = $2) \
                 ORDER BY e.id DESC LIMIT $3",
            )
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(execution, tool, at)| Sighting { execution: ExecutionId::from_uuid(execution), tool, at })
            .collect())
    }

    async fn summary(&self, org: OrgId, filter: &FindingFilter) -> StoreResult<FindingSummary> {
        let grouped = format!(
            "SELECT severity, status, tools, COUNT(*) FROM findings WHERE {FILTER} GROUP BY severity, status, tools"
        );
        let assets = format!(
            "SELECT asset, COUNT(*) FROM findings WHERE {FILTER} GROUP BY asset ORDER BY COUNT(*) DESC, asset LIMIT $20"
        );
        let overdue = FindingFilter { overdue: Some(true), ..filter.clone() };
        let now = self.now();
        let overdue_sql = format!("SELECT COUNT(*) FROM findings WHERE {FILTER}");
        let (groups, assets, overdue): (Vec<(String, String, String, i64)>, Vec<(String, i64)>, i64) =
            on_pool!(&self.db, |pool| {
                let groups = bind_filter!(sqlx::query_as(&grouped), org, filter, now).fetch_all(pool).await?;
                let assets = bind_filter!(sqlx::query_as(&assets), org, filter, now)
                    .bind(i64::from(SUMMARY_ASSETS))
                    .fetch_all(pool)
                    .await?;
                let overdue =
                    bind_filter!(sqlx::query_scalar(&overdue_sql), org, &overdue, now).fetch_one(pool).await?;
                Ok::<_, sqlx::Error>((groups, assets, overdue))
            })?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        let mut summary = FindingSummary { overdue: count(overdue), ..FindingSummary::default() };
        for (severity, status, tools, n) in groups {
            summary.total += count(n);
            *summary.by_severity.entry(severity).or_default() += count(n);
            *summary.by_status.entry(status).or_default() += count(n);
            for tool in tools.split(',').filter(|tool| !tool.is_empty()) {
                *summary.by_tool.entry(tool.to_owned()).or_default() += count(n);
            }
        }
        summary.by_asset = assets.into_iter().map(|(asset, n)| (asset, count(n))).collect();
        Ok(summary)
    }

    async fn change(
        &self,
        org: OrgId,
        ids: &[FindingId],
        change: &FindingChange,
        actor: Actor,
        then: EffectsOf<'_, Vec<TrackedFinding>>,
    ) -> StoreResult<Vec<TrackedFinding>> {
        let now = self.now();
        let select = format!("SELECT {COLUMNS} FROM findings WHERE org_id = $1 AND id = $2");
        let changed = unit_of_work!(
            self,
            |tx| {
                let mut changed = Vec::with_capacity(ids.len());
                for id in ids {
                    let mut update = sqlx::QueryBuilder::new("UPDATE findings SET updated_at = ");
                    update.push_bind(now);
                    if let Some(status) = change.status {
                        update.push(", status = ").push_bind(status.as_str());
                        update.push(", accepted_until = ").push_bind(change.accepted_until);
                    }
                    if let Some(assignee) = change.assignee {
                        update.push(", assignee = ").push_bind(assignee.map(|id| id.as_uuid()));
                    }
                    update.push(" WHERE org_id = ").push_bind(org.as_uuid());
                    update.push(" AND id = ").push_bind(id.as_uuid());
                    if update.build().execute(&mut *tx).await?.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    sqlx::query(
                        "INSERT INTO finding_history (id, finding_id, at, actor_kind, actor_id, status, assignee, note) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(id.as_uuid())
                    .bind(now)
                    .bind(actor.kind().as_str())
                    .bind(actor.stored_id())
                    .bind(change.status.map(FindingStatus::as_str))
                    .bind(change.assignee.map(stored_assignee))
                    .bind(change.note.as_str())
                    .execute(&mut *tx)
                    .await?;
                    let row = sqlx::query_as::<_, FindingRow>(&select)
                        .bind(org.as_uuid())
                        .bind(id.as_uuid())
                        .fetch_one(&mut *tx)
                        .await?;
                    changed.push(row.into_finding()?);
                }
                changed
            },
            then
        );
        Ok(changed)
    }

    async fn reopen_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let reopened = on_pool!(&self.db, |pool| {
            let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
            let ids: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "SELECT id, org_id FROM findings WHERE status = 'accepted' AND accepted_until <= $1 \
                 ORDER BY id LIMIT 10000",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            for (id, org) in &ids {
                let event = NewAuditEvent {
                    org: Some(OrgId::from_uuid(*org)),
                    ..NewAuditEvent::by_system(AuditAction::FindingUpdate, Outcome::Success)
                        .target(format!("finding:{id}"))
                        .detail("status open: the risk acceptance expired")
                };
                crate::effects::WriteEffects::write_effects(&mut *tx, &Effects::audit(event), now).await?;
                sqlx::query(
                    "UPDATE findings SET status = 'open', accepted_until = NULL, updated_at = $1 WHERE id = $2",
                )
                .bind(now)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO finding_history (id, finding_id, at, actor_kind, actor_id, status, assignee, note) \
                     VALUES ($1, $2, $3, 'system', NULL, 'open', NULL, 'the risk acceptance expired')",
                )
                .bind(Uuid::now_v7())
                .bind(*id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(ids.len() as u64)
        })?;
        Ok(reopened)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_text_is_literal() {
        assert_eq!(escape_like(r"a_b%c\d"), r"a\_b\%c\\d");
    }
}
