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
    /// Exactly this location on it (`tcp/443`).
    pub location: Option<String>,
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
pub struct SeenIn {
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
    async fn runs(&self, org: OrgId, id: FindingId, limit: u32) -> StoreResult<Vec<SeenIn>>;
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

const HISTORY_INSERT: &str = "INSERT INTO finding_history (id, finding_id, at, actor_kind, actor_id, status, \
     assignee, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

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

/// Appends ` WHERE …`: the organisation, and a condition for each field of the filter that is
/// set, and no other (a condition that is always true would keep the database from using its
/// indexes). Overdue is judged at `$now`. A macro: the query builder differs per backend.
macro_rules! push_filter {
    ($query:expr, $org:expr, $filter:expr, $now:expr) => {{
        let query = &mut $query;
        let filter: &FindingFilter = $filter;
        let now: DateTime<Utc> = $now;
        query.push(" WHERE org_id = ").push_bind($org.as_uuid());
        if let Some(severity) = filter.severity {
            query.push(" AND severity_rank = ").push_bind(severity as i32);
        }
        if let Some(status) = filter.status {
            query.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(asset) = &filter.asset {
            query.push(" AND asset = ").push_bind(asset.clone());
        }
        if let Some(location) = &filter.location {
            query.push(" AND location = ").push_bind(location.clone());
        }
        if let Some(tool) = &filter.tool {
            query.push(" AND tools LIKE ").push_bind(format!("%,{},%", escape_like(tool))).push(" ESCAPE '\\'");
        }
        if let Some(check) = &filter.check {
            let pattern = match check.strip_suffix('*') {
                Some(family) => format!("{}%", escape_like(family)),
                None => escape_like(check),
            };
            query.push(" AND check_id LIKE ").push_bind(pattern).push(" ESCAPE '\\'");
        }
        if let Some(target) = &filter.target {
            let target = target.trim().to_lowercase();
            let escaped = escape_like(&target);
            query.push(" AND (asset = ").push_bind(target);
            query.push(" OR asset LIKE ").push_bind(format!("%.{escaped}")).push(" ESCAPE '\\'");
            query.push(" OR asset LIKE ").push_bind(format!("%://{escaped}%")).push(" ESCAPE '\\')");
        }
        if let Some(since) = filter.since {
            query.push(" AND last_seen >= ").push_bind(since);
        }
        if let Some(text) = &filter.text {
            let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
            query.push(" AND search LIKE ").push_bind(pattern).push(" ESCAPE '\\'");
        }
        if let Some(regression) = filter.regression {
            query.push(" AND regression = ").push_bind(regression);
        }
        if let Some(assignee) = filter.assignee {
            query.push(" AND assignee = ").push_bind(assignee.as_uuid());
        }
        if let Some(overdue) = filter.overdue {
            // Each severity is overdue once first seen before now less its service level.
            let before = |severity: Severity| now - chrono::Duration::days(sla_days(severity).unwrap_or(0));
            query.push(" AND ((status IN ('open', 'acknowledged') AND (");
            for (i, severity) in
                [Severity::Critical, Severity::High, Severity::Medium, Severity::Low].into_iter().enumerate()
            {
                if i > 0 {
                    query.push(" OR ");
                }
                query.push("(severity_rank = ").push_bind(severity as i32);
                query.push(" AND first_seen < ").push_bind(before(severity)).push(")");
            }
            query.push(")) = ").push_bind(overdue).push(")");
        }
        if let Some(execution) = filter.execution {
            query
                .push(" AND id IN (SELECT finding_id FROM execution_findings WHERE org_id = ")
                .push_bind($org.as_uuid());
            query.push(" AND execution_id = ").push_bind(execution.as_uuid()).push(")");
        }
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
        let now = self.now();
        let rows = on_pool!(&self.db, |pool| {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM findings"));
            push_filter!(query, org, filter, now);
            if let Some(from) = seek.from {
                query.push(format!(" AND ({column}, id) {after} (SELECT {column}, id FROM findings WHERE org_id = "));
                query.push_bind(org.as_uuid()).push(" AND id = ").push_bind(from.as_uuid()).push(")");
            }
            query
                .push(format!(" ORDER BY {column} {direction}, id {direction} LIMIT "))
                .push_bind(i64::from(seek.limit));
            query.build_query_as::<FindingRow>().fetch_all(pool).await
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

    async fn runs(&self, org: OrgId, id: FindingId, limit: u32) -> StoreResult<Vec<SeenIn>> {
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
            .map(|(execution, tool, at)| SeenIn { execution: ExecutionId::from_uuid(execution), tool, at })
            .collect())
    }

    async fn summary(&self, org: OrgId, filter: &FindingFilter) -> StoreResult<FindingSummary> {
        let overdue = FindingFilter { overdue: Some(true), ..filter.clone() };
        let now = self.now();
        let (groups, assets, overdue): (Vec<(String, String, String, i64)>, Vec<(String, i64)>, i64) =
            on_pool!(&self.db, |pool| {
                let mut grouped = sqlx::QueryBuilder::new("SELECT severity, status, tools, COUNT(*) FROM findings");
                push_filter!(grouped, org, filter, now);
                grouped.push(" GROUP BY severity, status, tools");
                let groups = grouped.build_query_as().fetch_all(pool).await?;
                let mut assets = sqlx::QueryBuilder::new("SELECT asset, COUNT(*) FROM findings");
                push_filter!(assets, org, filter, now);
                assets
                    .push(" GROUP BY asset ORDER BY COUNT(*) DESC, asset LIMIT ")
                    .push_bind(i64::from(SUMMARY_ASSETS));
                let assets = assets.build_query_as().fetch_all(pool).await?;
                let mut late = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM findings");
                push_filter!(late, org, &overdue, now);
                let overdue = late.build_query_scalar().fetch_one(pool).await?;
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
                    sqlx::query(HISTORY_INSERT)
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
                sqlx::query(HISTORY_INSERT)
                    .bind(Uuid::now_v7())
                    .bind(*id)
                    .bind(now)
                    .bind(Actor::System.kind().as_str())
                    .bind(None::<Uuid>)
                    .bind(FindingStatus::Open.as_str())
                    .bind(None::<String>)
                    .bind("the risk acceptance expired")
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
