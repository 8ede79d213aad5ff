//! Executions, and the job queue they are. Claims, heartbeats, progress, logs and the finish all
//! name the attempt they belong to and are refused ([`StoreError::Fenced`]) once it is no longer
//! the current one, so a worker that lost its lease cannot overwrite a re-run. The finish appends
//! a `run.finished` outbox record in its transaction.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rampart_core::executions::{Execution, ExecutionStatus, Finish, LogLine, LogStream, NewExecution};
use rampart_core::identity::{Actor, AuditAction, NewAuditEvent, Outcome};
use rampart_core::outbox::{NewOutboxRecord, Topic};
use rampart_core::output::{Kept, RunOutput, ToolOutput};
use rampart_core::{ExecutionId, OrgId};
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

mod output;

use crate::assets::track::{Inventoried, TrackAssets};
use crate::changes::Change;
use crate::db::{BeginWrite, Db, on_pool};
use crate::effects::{Effects, EffectsOf, WriteEffects, unit_of_work};
use crate::findings::track::{Run, TrackFindings, Tracked};
use crate::{Seek, SqlStore, StoreError, StoreResult};

/// Which executions to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct ExecutionFilter {
    pub tool: Option<String>,
    pub status: Option<ExecutionStatus>,
    /// The user or API key that asked for it.
    pub actor_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Queues a run: the insert is the enqueue.
    async fn enqueue(&self, org: OrgId, new: &NewExecution, then: EffectsOf<'_, Execution>) -> StoreResult<Execution>;
    async fn get(&self, org: OrgId, id: ExecutionId) -> StoreResult<Execution>;
    /// Newest first, older than `before` when given.
    async fn list(&self, org: OrgId, filter: &ExecutionFilter, seek: Seek<ExecutionId>) -> StoreResult<Vec<Execution>>;
    /// A queued run is cancelled at once; a running one is asked to stop; a final one is left as it is.
    async fn cancel(&self, org: OrgId, id: ExecutionId, effects: &Effects) -> StoreResult<Execution>;
    /// The log lines after `after`, in order.
    async fn logs(&self, org: OrgId, id: ExecutionId, after: u32, limit: u32) -> StoreResult<Vec<LogLine>>;

    /// Claims a queued run for `worker`, with a lease of `lease`; its attempt number goes up by
    /// one. Fair between organisations: the run is the oldest of the organisation with the fewest
    /// runs running (fewer than `per_org`), ties going to the organisation waiting longest, so one
    /// organisation's backlog never holds back another's runs.
    async fn claim(&self, worker: &str, lease: Duration, per_org: u32) -> StoreResult<Option<Execution>>;
    /// Renews the lease; answers whether a cancel was asked for.
    async fn heartbeat(&self, id: ExecutionId, attempt: u32, lease: Duration) -> StoreResult<bool>;
    async fn progress(&self, id: ExecutionId, attempt: u32, percent: u8, message: &str) -> StoreResult<()>;
    /// Appends lines, keeping at most `cap` per run (then it is marked truncated).
    async fn append_logs(
        &self,
        id: ExecutionId,
        attempt: u32,
        lines: &[(LogStream, String)],
        cap: u32,
    ) -> StoreResult<()>;
    /// Ends a run. A run that succeeded stores its findings and artifacts in the same
    /// transaction; a fenced finish stores nothing.
    async fn finish(&self, id: ExecutionId, attempt: u32, finish: &Finish) -> StoreResult<Execution>;
    /// A run's findings and artifacts, in the order its tool gave them: empty until it ends, and
    /// for a run that did not succeed.
    async fn output(&self, org: OrgId, id: ExecutionId) -> StoreResult<RunOutput>;
    /// Records a run that is already over (an imported report): the row, succeeded, with its
    /// result, findings and artifacts and `then`'s effects, written as a finish writes them, in
    /// one transaction, with the `run.finished` outbox record.
    async fn record_finished(
        &self,
        org: OrgId,
        new: &NewExecution,
        output: &ToolOutput,
        then: EffectsOf<'_, Execution>,
    ) -> StoreResult<Execution>;
    /// Gives a run back to the queue (a worker shutting down), keeping its attempt count.
    async fn release(&self, id: ExecutionId, attempt: u32) -> StoreResult<()>;
    /// Runs whose lease expired go back to the queue, or fail as `worker lost` once out of
    /// attempts (or end as cancelled when a cancel was asked for). Answers how many changed.
    async fn reap_expired(&self) -> StoreResult<u64>;
}

const COLUMNS: &str = "id, org_id, tool, params, status, progress, progress_message, result, error, actor_kind, actor_id, \
     attempt, max_attempts, timeout_ms, worker, lease_until, cancel_requested, log_lines, log_truncated, \
     created_at, started_at, finished_at, updated_at";

#[derive(sqlx::FromRow)]
struct ExecutionRow {
    id: Uuid,
    org_id: Uuid,
    tool: String,
    params: Json<Value>,
    status: String,
    progress: i32,
    progress_message: String,
    result: Option<Json<Value>>,
    error: Option<String>,
    actor_kind: String,
    actor_id: Option<Uuid>,
    attempt: i32,
    max_attempts: i32,
    timeout_ms: i32,
    worker: Option<String>,
    #[allow(dead_code)]
    lease_until: Option<DateTime<Utc>>,
    cancel_requested: bool,
    log_lines: i32,
    log_truncated: bool,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

fn invalid<E>(_: E) -> StoreError {
    StoreError::Internal("a stored execution is invalid".into())
}

impl ExecutionRow {
    fn into_execution(self) -> StoreResult<Execution> {
        Ok(Execution {
            id: ExecutionId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            tool: self.tool,
            params: self.params.0,
            status: self.status.parse().map_err(invalid)?,
            progress: u8::try_from(self.progress.clamp(0, 100)).map_err(invalid)?,
            progress_message: self.progress_message,
            result: self.result.map(|json| json.0),
            error: self.error,
            actor: Actor::from_stored(&self.actor_kind, self.actor_id),
            attempt: u32::try_from(self.attempt).map_err(invalid)?,
            max_attempts: u32::try_from(self.max_attempts).map_err(invalid)?,
            timeout: Duration::from_millis(u64::try_from(self.timeout_ms).map_err(invalid)?),
            worker: self.worker,
            cancel_requested: self.cancel_requested,
            log_lines: u32::try_from(self.log_lines).map_err(invalid)?,
            log_truncated: self.log_truncated,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            updated_at: self.updated_at,
        })
    }
}

fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30))
}

/// The outbox record of a run's end: which run, and how it ended.
fn finished(run: &Execution) -> NewOutboxRecord {
    let payload = serde_json::json!({ "execution": run.id, "tool": run.tool, "status": run.status.as_str() });
    NewOutboxRecord::new(Topic::RunFinished, Some(run.org_id), payload)
}

/// `effects`, and the `changes.recorded` outbox record of what tracking the run's findings and
/// artifacts changed, when it changed anything.
fn with_changes(effects: Effects, run: &Execution, tracked: &Tracked, inventoried: &Inventoried) -> Effects {
    if !tracked.changed() && *inventoried == Inventoried::default() {
        return effects;
    }
    let payload = serde_json::json!({
        "execution": run.id,
        "tool": run.tool,
        "finding_new": tracked.new,
        "finding_reopened": tracked.reopened,
        "finding_resolved": tracked.resolved,
        "port_opened": inventoried.opened,
        "port_closed": inventoried.closed,
        "certificate_changed": inventoried.certificates_changed,
        "technology_changed": inventoried.technologies_changed,
    });
    effects.record(NewOutboxRecord::new(Topic::ChangesRecorded, Some(run.org_id), payload))
}

/// The audit event of the findings a run's finish resolved or reopened, when it did: the system
/// changed their status, in the run's name.
fn transitions(run: &Execution, tracked: &Tracked) -> Effects {
    if tracked.resolved + tracked.reopened == 0 {
        return Effects::none();
    }
    let event = NewAuditEvent::by_system(AuditAction::FindingUpdate, Outcome::Success)
        .target(format!("execution:{}", run.id))
        .detail(format!(
            "{} finding(s) resolved (not seen where the run looked), {} reopened as regressions",
            tracked.resolved, tracked.reopened
        ));
    Effects::audit(NewAuditEvent { org: Some(run.org_id), ..event })
}

fn int(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

fn total(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[async_trait]
impl ExecutionStore for SqlStore {
    async fn enqueue(&self, org: OrgId, new: &NewExecution, then: EffectsOf<'_, Execution>) -> StoreResult<Execution> {
        let sql = format!(
            "INSERT INTO executions ({COLUMNS}) VALUES ($1, $2, $3, $4, 'queued', 0, '', NULL, NULL, $5, $6, 0, $7, $8, \
             NULL, NULL, FALSE, 0, FALSE, $9, NULL, NULL, $9) RETURNING {COLUMNS}"
        );
        let now = self.now();
        let timeout_ms = i32::try_from(new.timeout.as_millis()).unwrap_or(i32::MAX);
        Ok(unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, ExecutionRow>(&sql)
                .bind(ExecutionId::new().as_uuid())
                .bind(org.as_uuid())
                .bind(&new.tool)
                .bind(Json(&new.params))
                .bind(new.actor.kind().as_str())
                .bind(new.actor.stored_id())
                .bind(int(new.max_attempts))
                .bind(timeout_ms)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .into_execution()?,
            then
        ))
    }

    async fn get(&self, org: OrgId, id: ExecutionId) -> StoreResult<Execution> {
        let sql = format!("SELECT {COLUMNS} FROM executions WHERE org_id = $1 AND id = $2");
        let row = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, ExecutionRow>(&sql).bind(org.as_uuid()).bind(id.as_uuid()).fetch_one(pool).await
        })?;
        row.into_execution()
    }

    async fn list(&self, org: OrgId, filter: &ExecutionFilter, seek: Seek<ExecutionId>) -> StoreResult<Vec<Execution>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM executions WHERE org_id = $1 AND ($2 IS NULL OR tool = $2) AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR actor_id = $4) AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR id < $6) \
             ORDER BY id DESC LIMIT $7"
        );
        let rows = on_pool!(&self.db, |pool| {
            sqlx::query_as::<_, ExecutionRow>(&sql)
                .bind(org.as_uuid())
                .bind(filter.tool.as_deref())
                .bind(filter.status.map(ExecutionStatus::as_str))
                .bind(filter.actor_id)
                .bind(filter.since)
                .bind(seek.from.map(|id| id.as_uuid()))
                .bind(i64::from(seek.limit))
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(ExecutionRow::into_execution).collect()
    }

    async fn cancel(&self, org: OrgId, id: ExecutionId, effects: &Effects) -> StoreResult<Execution> {
        // SET expressions read the row as it was, so each CASE sees the old status.
        let sql = format!(
            "UPDATE executions SET \
             status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END, \
             finished_at = CASE WHEN status = 'queued' THEN $3 ELSE finished_at END, \
             cancel_requested = CASE WHEN status = 'running' THEN TRUE ELSE cancel_requested END, \
             updated_at = $3 WHERE org_id = $1 AND id = $2 RETURNING {COLUMNS}"
        );
        let now = self.now();
        let run = unit_of_work!(
            self,
            |tx| sqlx::query_as::<_, ExecutionRow>(&sql)
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .into_execution()?,
            |_: &Execution| effects.clone()
        );
        self.changed(Change::Execution(id));
        Ok(run)
    }

    async fn logs(&self, org: OrgId, id: ExecutionId, after: u32, limit: u32) -> StoreResult<Vec<LogLine>> {
        self.get(org, id).await?;
        let sql = "SELECT seq, at, stream, line FROM execution_logs WHERE execution_id = $1 AND seq > $2 ORDER BY seq LIMIT $3";
        let rows: Vec<(i32, DateTime<Utc>, String, String)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(sql).bind(id.as_uuid()).bind(int(after)).bind(i64::from(limit)).fetch_all(pool).await
        })?;
        rows.into_iter()
            .map(|(seq, at, stream, line)| {
                Ok(LogLine {
                    seq: u32::try_from(seq).map_err(invalid)?,
                    at,
                    stream: stream.parse().map_err(invalid)?,
                    line,
                })
            })
            .collect()
    }

    async fn claim(&self, worker: &str, lease: Duration, per_org: u32) -> StoreResult<Option<Execution>> {
        let now = self.now();
        let row = match &self.db {
            // `rampart_claim` (migration 0009) tries the organisations in the same order, each
            // one's oldest run with `FOR UPDATE SKIP LOCKED`, after a lock that makes claims take
            // turns, so the per-organisation limit holds between concurrent workers.
            Db::Postgres(pool) => {
                sqlx::query_as::<_, ExecutionRow>(&format!("SELECT {COLUMNS} FROM rampart_claim($1, $2, $3, $4)"))
                    .bind(worker)
                    .bind(lease_end(now, lease))
                    .bind(now)
                    .bind(i64::from(per_org))
                    .fetch_optional(pool)
                    .await?
            }
            // One writer at a time: the statement is atomic as it is. The organisations waiting
            // are found by skipping through the queued index (one lookup each, not one per run),
            // and each is ordered by its running count, then by its oldest queued run.
            Db::Sqlite(pool) => {
                let sql = format!(
                    "UPDATE executions SET status = 'running', attempt = attempt + 1, worker = $1, lease_until = $2, \
                     started_at = COALESCE(started_at, $3), updated_at = $3 \
                     WHERE status = 'queued' AND id = ( \
                     WITH RECURSIVE queued_orgs (org_id) AS ( \
                     SELECT (SELECT org_id FROM executions WHERE status = 'queued' ORDER BY org_id LIMIT 1) \
                     UNION ALL SELECT (SELECT e.org_id FROM executions e WHERE e.status = 'queued' AND e.org_id > q.org_id \
                     ORDER BY e.org_id LIMIT 1) FROM queued_orgs q WHERE q.org_id IS NOT NULL), \
                     running AS (SELECT org_id, COUNT(*) AS n FROM executions WHERE status = 'running' GROUP BY org_id) \
                     SELECT (SELECT e.id FROM executions e WHERE e.status = 'queued' AND e.org_id = q.org_id \
                     ORDER BY e.id LIMIT 1) AS oldest \
                     FROM queued_orgs q LEFT JOIN running r ON r.org_id = q.org_id \
                     WHERE q.org_id IS NOT NULL AND COALESCE(r.n, 0) < $4 \
                     ORDER BY COALESCE(r.n, 0), oldest LIMIT 1) RETURNING {COLUMNS}"
                );
                sqlx::query_as::<_, ExecutionRow>(&sql)
                    .bind(worker)
                    .bind(lease_end(now, lease))
                    .bind(now)
                    .bind(i64::from(per_org))
                    .fetch_optional(pool)
                    .await?
            }
        };
        let claimed = row.map(ExecutionRow::into_execution).transpose()?;
        if let Some(run) = &claimed {
            self.changed(Change::Execution(run.id));
        }
        Ok(claimed)
    }

    async fn heartbeat(&self, id: ExecutionId, attempt: u32, lease: Duration) -> StoreResult<bool> {
        let now = self.now();
        let row: Option<(bool,)> = on_pool!(&self.db, |pool| {
            sqlx::query_as(
                "UPDATE executions SET lease_until = $3, updated_at = $4 WHERE id = $1 AND attempt = $2 AND status = 'running' \
                 RETURNING cancel_requested",
            )
            .bind(id.as_uuid())
            .bind(int(attempt))
            .bind(lease_end(now, lease))
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        row.map(|(cancel,)| cancel).ok_or(StoreError::Fenced)
    }

    async fn progress(&self, id: ExecutionId, attempt: u32, percent: u8, message: &str) -> StoreResult<()> {
        let now = self.now();
        let done = on_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE executions SET progress = $3, progress_message = $4, updated_at = $5 \
                 WHERE id = $1 AND attempt = $2 AND status = 'running'",
            )
            .bind(id.as_uuid())
            .bind(int(attempt))
            .bind(i32::from(percent.min(100)))
            .bind(message)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        self.fenced(id, done)
    }

    async fn append_logs(
        &self,
        id: ExecutionId,
        attempt: u32,
        lines: &[(LogStream, String)],
        cap: u32,
    ) -> StoreResult<()> {
        let now = self.now();
        on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            // Writing first takes the row's lock, so concurrent appends number their lines in turn.
            let current: Option<(i32,)> = sqlx::query_as(
                "UPDATE executions SET updated_at = $3 WHERE id = $1 AND attempt = $2 AND status = 'running' RETURNING log_lines",
            )
            .bind(id.as_uuid())
            .bind(int(attempt))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((count,)) = current else { return Err(StoreError::Fenced) };
            let room = usize::try_from(int(cap).saturating_sub(count).max(0)).unwrap_or(0);
            let kept = lines.len().min(room);
            for (offset, (stream, line)) in lines.iter().take(kept).enumerate() {
                sqlx::query(
                    "INSERT INTO execution_logs (execution_id, seq, at, stream, line) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id.as_uuid())
                .bind(count + 1 + i32::try_from(offset).unwrap_or(i32::MAX))
                .bind(now)
                .bind(stream.as_str())
                .bind(line)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE executions SET log_lines = $2, log_truncated = log_truncated OR $3 WHERE id = $1")
                .bind(id.as_uuid())
                .bind(count + i32::try_from(kept).unwrap_or(i32::MAX))
                .bind(kept < lines.len())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })?;
        self.changed(Change::Execution(id));
        Ok(())
    }

    async fn finish(&self, id: ExecutionId, attempt: u32, finish: &Finish) -> StoreResult<Execution> {
        let sql = format!(
            "UPDATE executions SET status = $3, result = $4, error = $5, \
             progress = CASE WHEN $3 = 'succeeded' THEN 100 ELSE progress END, \
             finished_at = $6, updated_at = $6, lease_until = NULL, findings_total = $7, artifacts_total = $8 \
             WHERE id = $1 AND attempt = $2 AND status = 'running' RETURNING {COLUMNS}"
        );
        let (result, error) = match finish {
            Finish::Succeeded(output) => (Some(Json(&output.result)), None),
            Finish::Failed(error) => (None, Some(error.clone())),
            Finish::Cancelled => (None, Some("cancelled".to_owned())),
            Finish::TimedOut => (None, Some("timed out".to_owned())),
        };
        let none = (Kept::default(), Kept::default());
        // Only a run that succeeded says what it found and what it looked for.
        let (findings, artifacts, coverage) = match finish {
            Finish::Succeeded(output) => (&output.findings, &output.artifacts, output.coverage.items()),
            _ => (&none.0, &none.1, &[][..]),
        };
        let now = self.now();
        let (run, effects) = on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query_as::<_, ExecutionRow>(&sql)
                .bind(id.as_uuid())
                .bind(int(attempt))
                .bind(finish.status().as_str())
                .bind(result)
                .bind(error.as_deref())
                .bind(now)
                .bind(total(findings.total()))
                .bind(total(artifacts.total()))
                .fetch_optional(&mut *tx)
                .await?;
            // Fenced: nothing is written, the output included.
            let Some(row) = row else { return Err(StoreError::Fenced) };
            let org = row.org_id;
            let run = row.into_execution()?;
            let at = Run { org, id, tool: &run.tool, now };
            let tracked = tx.track_findings(&at, findings.items(), coverage).await?;
            let inventoried = tx.track_assets(&at, artifacts.items(), coverage).await?;
            output::insert_output!(tx, org, id, findings, &tracked.ids, artifacts);
            tx.write_effects(&transitions(&run, &tracked), now).await?;
            let effects = with_changes(Effects::none().record(finished(&run)), &run, &tracked, &inventoried);
            tx.write_effects(&effects, now).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((run, effects))
        })?;
        self.changed(Change::Execution(id));
        self.committed(&effects);
        Ok(run)
    }

    async fn record_finished(
        &self,
        org: OrgId,
        new: &NewExecution,
        output: &ToolOutput,
        then: EffectsOf<'_, Execution>,
    ) -> StoreResult<Execution> {
        let sql = format!(
            "INSERT INTO executions ({COLUMNS}, findings_total, artifacts_total) VALUES ($1, $2, $3, $4, 'succeeded', \
             100, '', $5, NULL, $6, $7, 1, $8, $9, NULL, NULL, FALSE, 0, FALSE, $10, $10, $10, $10, $11, $12) \
             RETURNING {COLUMNS}"
        );
        let id = ExecutionId::new();
        let now = self.now();
        let timeout_ms = i32::try_from(new.timeout.as_millis()).unwrap_or(i32::MAX);
        let (findings, artifacts) = (&output.findings, &output.artifacts);
        let (run, effects) = on_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query_as::<_, ExecutionRow>(&sql)
                .bind(id.as_uuid())
                .bind(org.as_uuid())
                .bind(&new.tool)
                .bind(Json(&new.params))
                .bind(Json(&output.result))
                .bind(new.actor.kind().as_str())
                .bind(new.actor.stored_id())
                .bind(int(new.max_attempts))
                .bind(timeout_ms)
                .bind(now)
                .bind(total(findings.total()))
                .bind(total(artifacts.total()))
                .fetch_one(&mut *tx)
                .await?;
            let org = row.org_id;
            let run = row.into_execution()?;
            let at = Run { org, id, tool: &run.tool, now };
            let tracked = tx.track_findings(&at, findings.items(), output.coverage.items()).await?;
            let inventoried = tx.track_assets(&at, artifacts.items(), output.coverage.items()).await?;
            output::insert_output!(tx, org, id, findings, &tracked.ids, artifacts);
            tx.write_effects(&transitions(&run, &tracked), now).await?;
            let effects = with_changes(then(&run).record(finished(&run)), &run, &tracked, &inventoried);
            tx.write_effects(&effects, now).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((run, effects))
        })?;
        self.changed(Change::Execution(id));
        self.committed(&effects);
        Ok(run)
    }

    async fn output(&self, org: OrgId, id: ExecutionId) -> StoreResult<RunOutput> {
        let totals: (i64, i64) = on_pool!(&self.db, |pool| {
            sqlx::query_as("SELECT findings_total, artifacts_total FROM executions WHERE org_id = $1 AND id = $2")
                .bind(org.as_uuid())
                .bind(id.as_uuid())
                .fetch_one(pool)
                .await
        })?;
        output::read(&self.db, org, id, totals).await
    }

    async fn release(&self, id: ExecutionId, attempt: u32) -> StoreResult<()> {
        let now = self.now();
        let done = on_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE executions SET status = 'queued', worker = NULL, lease_until = NULL, updated_at = $3 \
                 WHERE id = $1 AND attempt = $2 AND status = 'running'",
            )
            .bind(id.as_uuid())
            .bind(int(attempt))
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })?;
        self.fenced(id, done)
    }

    async fn reap_expired(&self) -> StoreResult<u64> {
        let now = self.now();
        // On PostgreSQL a row locked by a transaction still in flight (a worker frozen mid-write)
        // is skipped rather than waited for: the reaper never hangs, and takes it next time.
        let candidates = match self.db {
            Db::Postgres(_) => {
                "SELECT id FROM executions WHERE status = 'running' AND lease_until < $1 FOR UPDATE SKIP LOCKED"
            }
            Db::Sqlite(_) => "SELECT id FROM executions WHERE status = 'running' AND lease_until < $1",
        };
        let sql = format!(
            "UPDATE executions SET \
             status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END, \
             error = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempt >= max_attempts THEN 'worker lost' ELSE error END, \
             finished_at = CASE WHEN cancel_requested OR attempt >= max_attempts THEN $1 ELSE NULL END, \
             worker = NULL, lease_until = NULL, updated_at = $1 \
             WHERE status = 'running' AND lease_until < $1 AND id IN ({candidates}) RETURNING id"
        );
        let reaped: Vec<(Uuid,)> = on_pool!(&self.db, |pool| sqlx::query_as(&sql).bind(now).fetch_all(pool).await)?;
        for (id,) in &reaped {
            self.changed(Change::Execution(ExecutionId::from_uuid(*id)));
        }
        Ok(reaped.len() as u64)
    }
}

impl SqlStore {
    /// The end of a write fenced by attempt: `Fenced` when it touched no row, else the run's change
    /// announced.
    fn fenced(&self, id: ExecutionId, done: u64) -> StoreResult<()> {
        if done == 0 {
            return Err(StoreError::Fenced);
        }
        self.changed(Change::Execution(id));
        Ok(())
    }
}
