-- Claims are fair between organisations: the next run claimed belongs to the organisation with
-- the fewest runs running (below its limit), ties going to the one whose oldest queued run is
-- oldest, and is that organisation's oldest queued run. One organisation's backlog no longer
-- holds back another's runs.
--
-- The organisations with queued runs are found by skipping through this index, one lookup each
-- (a loose index scan), so a claim costs one lookup per organisation waiting, not one per run.
CREATE INDEX executions_by_status_org ON executions (status, org_id, id);

-- As in 0005, claims take turns under one transaction-scoped advisory lock, and each statement
-- after it reads a fresh snapshot, so the running counts include every claim committed before and
-- the per-organisation limit holds between concurrent workers. Organisations are tried in turn:
-- when another transaction holds the lock of one's oldest queued run (`SKIP LOCKED`), the next
-- organisation is tried.
CREATE OR REPLACE FUNCTION rampart_claim(worker_name text, lease_end timestamptz, now_at timestamptz, per_org bigint)
    RETURNS SETOF executions LANGUAGE plpgsql AS $$
DECLARE
    candidate uuid;
BEGIN
    PERFORM pg_advisory_xact_lock(23161749423213645);
    FOR candidate IN
        WITH RECURSIVE queued_orgs (org_id) AS (
            SELECT (SELECT org_id FROM executions WHERE status = 'queued' ORDER BY org_id LIMIT 1)
            UNION ALL
            SELECT (SELECT e.org_id FROM executions e WHERE e.status = 'queued' AND e.org_id > q.org_id
                    ORDER BY e.org_id LIMIT 1)
            FROM queued_orgs q WHERE q.org_id IS NOT NULL
        ),
        running AS (
            SELECT org_id, COUNT(*) AS n FROM executions WHERE status = 'running' GROUP BY org_id
        )
        SELECT q.org_id FROM queued_orgs q LEFT JOIN running r ON r.org_id = q.org_id
        WHERE q.org_id IS NOT NULL AND COALESCE(r.n, 0) < per_org
        ORDER BY COALESCE(r.n, 0),
            (SELECT e.id FROM executions e WHERE e.status = 'queued' AND e.org_id = q.org_id ORDER BY e.id LIMIT 1)
    LOOP
        RETURN QUERY
        UPDATE executions SET status = 'running', attempt = attempt + 1, worker = worker_name, lease_until = lease_end,
            started_at = COALESCE(started_at, now_at), updated_at = now_at
        WHERE status = 'queued' AND id = (
            SELECT e.id FROM executions e WHERE e.status = 'queued' AND e.org_id = candidate
            ORDER BY e.id LIMIT 1 FOR UPDATE SKIP LOCKED
        )
        RETURNING *;
        IF FOUND THEN
            RETURN;
        END IF;
    END LOOP;
END;
$$;
