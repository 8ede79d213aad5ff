//! A run's findings become the organisation's tracked findings, in the run's finishing
//! transaction: each is matched by fingerprint to the one already tracked (seen again: counted,
//! reopened as a regression if it had been resolved) or tracked anew; then every live finding the
//! run covered and did not see is resolved. Each of these is a change event.
//!
//! Set-based throughout: the fingerprints are looked up, inserted and updated in multi-row
//! statements, so an import of 100,000 findings is a few hundred statements.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::changes::ChangeKind;
use rampart_core::findings::{FindingStatus, Sighting, fingerprint};
use rampart_core::output::{Covered, Finding};
use rampart_core::{ExecutionId, FindingId};
use uuid::Uuid;

use crate::StoreResult;
use crate::change_events::{NewChange, insert_changes};

/// Rows per multi-row statement: 21 values a row stays under SQLite's limit on bound values.
const CHUNK: usize = 1000;
/// Findings a run tracks, new or seen again, from which the table's statistics are read again.
const ANALYZE_AFTER: usize = 10_000;
/// Ids or fingerprints per `IN (…)` list.
const IN_CHUNK: usize = 5000;

/// What tracking a run's findings changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracked {
    /// The tracked finding each of the run's findings is, in the run's order.
    pub ids: Vec<Uuid>,
    pub new: u64,
    pub reopened: u64,
    pub resolved: u64,
}

impl Tracked {
    pub fn changed(&self) -> bool {
        self.new + self.reopened + self.resolved > 0
    }
}

/// Who ran, for the rows tracking writes.
pub struct Run<'a> {
    pub org: Uuid,
    pub id: ExecutionId,
    pub tool: &'a str,
    pub now: DateTime<Utc>,
}

/// Tracks a run's findings on a connection inside the run's finishing transaction.
#[async_trait]
pub(crate) trait TrackFindings {
    async fn track_findings(
        &mut self,
        run: &Run<'_>,
        findings: &[Finding],
        coverage: &[Covered],
    ) -> StoreResult<Tracked>;
}

/// A tracked finding as tracking needs it.
#[derive(sqlx::FromRow)]
struct Known {
    id: Uuid,
    fingerprint: String,
    status: String,
    severity: String,
    title: String,
    detail: String,
    tools: String,
}

/// A live finding on an asset a run covered.
#[derive(sqlx::FromRow)]
struct Live {
    id: Uuid,
    fingerprint: String,
    check_id: String,
    asset: String,
    location: String,
    title: String,
}

/// What a text search of findings reads: title, asset and check id, lowercase.
fn search_text(finding: &Finding) -> String {
    format!("{}\n{}\n{}", finding.title, finding.asset, finding.check_id).to_lowercase()
}

/// Appends ` IN (…)` to `$query`, binding each of `$values` (the database's own placeholders: on
/// SQLite, numbered ones are looked up one by one, which a list of thousands makes quadratic).
macro_rules! push_in {
    ($query:expr, $values:expr) => {{
        $query.push(" IN (");
        let mut list = $query.separated(", ");
        for value in $values {
            list.push_bind(value);
        }
        list.push_unseparated(")");
    }};
}
pub(crate) use push_in;

/// The same statements on either connection.
macro_rules! track_findings_on {
    ($conn:ty, $analyze:expr) => {
        #[async_trait]
        impl TrackFindings for $conn {
            async fn track_findings(
                &mut self,
                run: &Run<'_>,
                findings: &[Finding],
                coverage: &[Covered],
            ) -> StoreResult<Tracked> {
                let prints: Vec<String> = findings
                    .iter()
                    .map(|finding| fingerprint(&finding.check_id, &finding.asset, &finding.location))
                    .collect();
                // The first of the run's findings with a fingerprint speaks for it.
                let mut first: HashMap<&str, usize> = HashMap::with_capacity(prints.len());
                for (index, print) in prints.iter().enumerate() {
                    first.entry(print.as_str()).or_insert(index);
                }
                let unique: Vec<&str> = first.keys().copied().collect();

                let mut known: HashMap<String, Known> = HashMap::new();
                for chunk in unique.chunks(IN_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new(
                        "SELECT id, fingerprint, status, severity, title, detail, tools FROM findings WHERE org_id = ",
                    );
                    query.push_bind(run.org).push(" AND fingerprint");
                    push_in!(query, chunk.iter().copied());
                    for row in query.build_query_as::<Known>().fetch_all(&mut *self).await? {
                        known.insert(row.fingerprint.clone(), row);
                    }
                }

                let mut tracked = Tracked::default();
                let mut ids: HashMap<&str, Uuid> = HashMap::with_capacity(unique.len());
                let mut changes: Vec<NewChange<'_>> = Vec::new();
                let mut fresh: Vec<(Uuid, usize)> = Vec::new();
                let (mut seen, mut reopened, mut new_tool, mut restated) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                let tool_mark = format!(",{},", run.tool);
                for print in &unique {
                    let finding = &findings[first[print]];
                    match known.get(*print) {
                        None => {
                            let id = FindingId::new().as_uuid();
                            ids.insert(print, id);
                            fresh.push((id, first[print]));
                            changes.push(NewChange {
                                kind: ChangeKind::FindingNew,
                                asset: &finding.asset,
                                finding: Some(id),
                                detail: &finding.title,
                            });
                        }
                        Some(row) => {
                            ids.insert(print, row.id);
                            seen.push(row.id);
                            let status: FindingStatus = row.status.parse().unwrap_or(FindingStatus::Open);
                            if Sighting::of(status) == Sighting::Reopened {
                                reopened.push(row.id);
                                changes.push(NewChange {
                                    kind: ChangeKind::FindingReopened,
                                    asset: &finding.asset,
                                    finding: Some(row.id),
                                    detail: &finding.title,
                                });
                            }
                            if !row.tools.contains(&tool_mark) {
                                new_tool.push(row.id);
                            }
                            if row.severity != finding.severity.as_str()
                                || row.title != finding.title
                                || row.detail != finding.detail
                            {
                                restated.push((row.id, finding));
                            }
                        }
                    }
                }

                for chunk in fresh.chunks(CHUNK) {
                    let mut query = sqlx::QueryBuilder::new(
                        "INSERT INTO findings (id, org_id, fingerprint, severity, severity_rank, check_id, title, \
                         asset, location, detail, search, status, regression, assignee, accepted_until, \
                         first_seen, last_seen, occurrences, tools, last_execution_id, updated_at) ",
                    );
                    query.push_values(chunk, |mut row, (id, index)| {
                        let finding = &findings[*index];
                        row.push_bind(*id)
                            .push_bind(run.org)
                            .push_bind(prints[*index].as_str())
                            .push_bind(finding.severity.as_str())
                            .push_bind(finding.severity as i32)
                            .push_bind(finding.check_id.as_str())
                            .push_bind(finding.title.as_str())
                            .push_bind(finding.asset.as_str())
                            .push_bind(finding.location.as_str())
                            .push_bind(finding.detail.as_str())
                            .push_bind(search_text(finding))
                            .push_bind(FindingStatus::Open.as_str())
                            .push_bind(false)
                            .push_bind(None::<Uuid>)
                            .push_bind(None::<DateTime<Utc>>)
                            .push_bind(run.now)
                            .push_bind(run.now)
                            .push_bind(1_i64)
                            .push_bind(tool_mark.as_str())
                            .push_bind(run.id.as_uuid())
                            .push_bind(run.now);
                    });
                    query.build().execute(&mut *self).await?;
                }
                for chunk in seen.chunks(IN_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new("UPDATE findings SET last_seen = ");
                    query.push_bind(run.now).push(", occurrences = occurrences + 1, last_execution_id = ");
                    query.push_bind(run.id.as_uuid()).push(", updated_at = ").push_bind(run.now);
                    query.push(" WHERE org_id = ").push_bind(run.org).push(" AND id");
                    push_in!(query, chunk.iter().copied());
                    query.build().execute(&mut *self).await?;
                }
                for chunk in new_tool.chunks(IN_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new("UPDATE findings SET tools = tools || ");
                    query.push_bind(format!("{},", run.tool)).push(" WHERE org_id = ").push_bind(run.org).push(" AND id");
                    push_in!(query, chunk.iter().copied());
                    query.build().execute(&mut *self).await?;
                }
                for (id, finding) in &restated {
                    sqlx::query(
                        "UPDATE findings SET severity = $1, severity_rank = $2, title = $3, detail = $4, search = $5 \
                         WHERE org_id = $6 AND id = $7",
                    )
                    .bind(finding.severity.as_str())
                    .bind(finding.severity as i32)
                    .bind(finding.title.as_str())
                    .bind(finding.detail.as_str())
                    .bind(search_text(finding))
                    .bind(run.org)
                    .bind(*id)
                    .execute(&mut *self)
                    .await?;
                }
                let mut history: Vec<(Uuid, FindingStatus, &str)> = Vec::new();
                for chunk in reopened.chunks(IN_CHUNK) {
                    let mut query =
                        sqlx::QueryBuilder::new("UPDATE findings SET status = 'open', regression = TRUE WHERE org_id = ");
                    query.push_bind(run.org).push(" AND id");
                    push_in!(query, chunk.iter().copied());
                    query.build().execute(&mut *self).await?;
                    for id in chunk {
                        history.push((*id, FindingStatus::Open, "seen again after it was resolved: a regression"));
                    }
                }

                // Coverage: every live finding on a covered asset that the run looked for and did
                // not see is resolved.
                let mut by_asset: HashMap<&str, Vec<&Covered>> = HashMap::new();
                for covered in coverage {
                    by_asset.entry(covered.asset.as_str()).or_default().push(covered);
                }
                let assets: Vec<&str> = by_asset.keys().copied().collect();
                let mut live: Vec<Live> = Vec::new();
                for chunk in assets.chunks(IN_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new(
                        "SELECT id, fingerprint, check_id, asset, location, title FROM findings WHERE org_id = ",
                    );
                    query.push_bind(run.org).push(" AND status IN ('open', 'acknowledged') AND asset");
                    push_in!(query, chunk.iter().copied());
                    live.extend(query.build_query_as::<Live>().fetch_all(&mut *self).await?);
                }
                let seen_now: HashSet<&str> = unique.iter().copied().collect();
                let gone: Vec<&Live> = live
                    .iter()
                    .filter(|row| !seen_now.contains(row.fingerprint.as_str()))
                    .filter(|row| {
                        by_asset[row.asset.as_str()]
                            .iter()
                            .any(|covered| covered.covers(&row.check_id, &row.asset, &row.location))
                    })
                    .collect();
                for chunk in gone.chunks(IN_CHUNK) {
                    let mut query = sqlx::QueryBuilder::new("UPDATE findings SET status = 'resolved', updated_at = ");
                    query.push_bind(run.now).push(" WHERE org_id = ").push_bind(run.org).push(" AND id");
                    push_in!(query, chunk.iter().map(|row| row.id));
                    query.build().execute(&mut *self).await?;
                    for row in chunk {
                        history.push((row.id, FindingStatus::Resolved, "not seen by a run that looked for it"));
                        changes.push(NewChange {
                            kind: ChangeKind::FindingResolved,
                            asset: &row.asset,
                            finding: Some(row.id),
                            detail: &row.title,
                        });
                    }
                }

                for chunk in history.chunks(CHUNK) {
                    let mut query = sqlx::QueryBuilder::new(
                        "INSERT INTO finding_history (id, finding_id, at, actor_kind, actor_id, status, assignee, note) ",
                    );
                    query.push_values(chunk, |mut row, (id, status, note)| {
                        row.push_bind(Uuid::now_v7())
                            .push_bind(*id)
                            .push_bind(run.now)
                            .push_bind("system")
                            .push_bind(None::<Uuid>)
                            .push_bind(status.as_str())
                            .push_bind(None::<String>)
                            .push_bind(*note);
                    });
                    query.build().execute(&mut *self).await?;
                }
                insert_changes!(self, run, &changes);

                // A run that changed many findings changes how they are spread: the planner reads
                // the table's statistics again now, not when the background analyzer comes by.
                if let Some(analyze) = $analyze
                    && fresh.len() + seen.len() >= ANALYZE_AFTER
                {
                    sqlx::query(analyze).execute(&mut *self).await?;
                }
                tracked.new = fresh.len() as u64;
                tracked.reopened = reopened.len() as u64;
                tracked.resolved = gone.len() as u64;
                tracked.ids = prints.iter().map(|print| ids[print.as_str()]).collect();
                Ok(tracked)
            }
        }
    };
}

// SQLite's planner reads no statistics unless asked to keep them.
track_findings_on!(sqlx::SqliteConnection, None::<&str>);
track_findings_on!(sqlx::PgConnection, Some("ANALYZE findings"));
