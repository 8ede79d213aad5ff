//! A run's findings and artifacts: written by its finish, in the finish's transaction, and read
//! back by organisation. Rows are numbered in the order the tool gave them and written in
//! multi-row statements, so a run at the cap is a few dozen statements, not twenty thousand.

use rampart_core::output::{Artifact, Finding, Kept, RunOutput};
use rampart_core::{ExecutionId, OrgId};
use sqlx::types::Json;

use crate::db::{Db, on_pool};
use crate::{StoreError, StoreResult};

/// Rows per statement: 10 values each stays well under SQLite's limit on bound values.
pub(super) const CHUNK: usize = 500;

/// Inserts the findings and artifacts of run `$id` of organisation `$org` (a `Uuid`) within
/// transaction `$tx`, each finding naming the tracked finding it is (`$tracked`, in the same
/// order). A macro, not a function, so that it is compiled for each backend's transaction.
macro_rules! insert_output {
    ($tx:expr, $org:expr, $id:expr, $findings:expr, $tracked:expr, $artifacts:expr) => {{
        let (org, id): (uuid::Uuid, ExecutionId) = ($org, $id);
        let tracked: &[uuid::Uuid] = $tracked;
        let findings: Vec<(i32, (&rampart_core::output::Finding, &uuid::Uuid))> =
            (1..).zip($findings.items().iter().zip(tracked)).collect();
        for chunk in findings.chunks(output::CHUNK) {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO execution_findings \
                 (execution_id, seq, org_id, severity, check_id, title, asset, location, detail, finding_id) ",
            );
            query.push_values(chunk, |mut row, (seq, (finding, tracked))| {
                row.push_bind(id.as_uuid())
                    .push_bind(*seq)
                    .push_bind(org)
                    .push_bind(finding.severity.as_str())
                    .push_bind(finding.check_id.as_str())
                    .push_bind(finding.title.as_str())
                    .push_bind(finding.asset.as_str())
                    .push_bind(finding.location.as_str())
                    .push_bind(finding.detail.as_str())
                    .push_bind(**tracked);
            });
            query.build().execute(&mut *$tx).await?;
        }
        let artifacts: Vec<(i32, &rampart_core::output::Artifact)> = (1..).zip($artifacts.items().iter()).collect();
        for chunk in artifacts.chunks(output::CHUNK) {
            let mut query =
                sqlx::QueryBuilder::new("INSERT INTO execution_artifacts (execution_id, seq, org_id, kind, data) ");
            query.push_values(chunk, |mut row, (seq, artifact)| {
                row.push_bind(id.as_uuid())
                    .push_bind(*seq)
                    .push_bind(org)
                    .push_bind(artifact.kind())
                    .push_bind(sqlx::types::Json(*artifact));
            });
            query.build().execute(&mut *$tx).await?;
        }
    }};
}
pub(super) use insert_output;

#[derive(sqlx::FromRow)]
struct FindingRow {
    severity: String,
    check_id: String,
    title: String,
    asset: String,
    location: String,
    detail: String,
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored finding or artifact is invalid".into())
}

/// The output of run `id` of `org`, with the totals its row recorded.
pub(super) async fn read(db: &Db, org: OrgId, id: ExecutionId, totals: (i64, i64)) -> StoreResult<RunOutput> {
    let findings: Vec<FindingRow> = on_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT severity, check_id, title, asset, location, detail FROM execution_findings \
             WHERE org_id = $1 AND execution_id = $2 ORDER BY seq",
        )
        .bind(org.as_uuid())
        .bind(id.as_uuid())
        .fetch_all(pool)
        .await
    })?;
    let artifacts: Vec<(Json<Artifact>,)> = on_pool!(db, |pool| {
        sqlx::query_as("SELECT data FROM execution_artifacts WHERE org_id = $1 AND execution_id = $2 ORDER BY seq")
            .bind(org.as_uuid())
            .bind(id.as_uuid())
            .fetch_all(pool)
            .await
    })?;
    let findings = findings
        .into_iter()
        .map(|row| {
            Ok(Finding {
                severity: row.severity.parse().map_err(invalid)?,
                check_id: row.check_id,
                title: row.title,
                asset: row.asset,
                location: row.location,
                detail: row.detail,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let count = |total: i64| u64::try_from(total).unwrap_or(0);
    Ok(RunOutput {
        findings: Kept::restore(findings, count(totals.0)),
        artifacts: Kept::restore(artifacts.into_iter().map(|(data,)| data.0).collect(), count(totals.1)),
    })
}
