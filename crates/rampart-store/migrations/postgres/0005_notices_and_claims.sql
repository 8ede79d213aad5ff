-- Change notices: every committed change a follower can see (state, progress, log lines, cancel,
-- a new attempt) notifies the `rampart_changes` channel with `execution:<id>`, so any server can
-- stream any run. Lease renewals alone notify nobody. PostgreSQL delivers a notice only when the
-- transaction commits, and folds identical notices of one transaction into one.

CREATE FUNCTION rampart_notify_execution() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_changes', 'execution:' || NEW.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER executions_notify
    AFTER UPDATE ON executions
    FOR EACH ROW
    WHEN ((OLD.status, OLD.progress, OLD.progress_message, OLD.log_lines, OLD.cancel_requested, OLD.attempt)
          IS DISTINCT FROM (NEW.status, NEW.progress, NEW.progress_message, NEW.log_lines, NEW.cancel_requested, NEW.attempt))
    EXECUTE FUNCTION rampart_notify_execution();

-- Claims take turns under one transaction-scoped advisory lock, and the claim is a statement of
-- its own after it: in a PL/pgSQL function each statement reads a fresh snapshot, so the claim
-- sees every claim committed before it and two workers cannot both take an organisation's last
-- free slot. One round trip per claim. Rows another transaction has locked are skipped, not
-- waited for. (SQLite runs the same UPDATE directly: it has one writer at a time.)
CREATE FUNCTION rampart_claim(worker_name text, lease_end timestamptz, now_at timestamptz, per_org bigint)
    RETURNS SETOF executions LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(23161749423213645);
    RETURN QUERY
    UPDATE executions SET status = 'running', attempt = attempt + 1, worker = worker_name, lease_until = lease_end,
        started_at = COALESCE(started_at, now_at), updated_at = now_at
    WHERE status = 'queued' AND id = (
        WITH busy AS (
            SELECT org_id FROM executions WHERE status = 'running' GROUP BY org_id HAVING COUNT(*) >= per_org
        )
        SELECT e.id FROM executions e WHERE e.status = 'queued' AND e.org_id NOT IN (SELECT org_id FROM busy)
        ORDER BY e.id LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING *;
END;
$$;
