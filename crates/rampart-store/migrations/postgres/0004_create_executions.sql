-- Executions: one tool run each. This table is also the job queue: a row is enqueued in the
-- transaction that inserts it, claimed by a worker that holds a lease renewed by heartbeat, and
-- each claim carries an attempt number so that a worker whose lease was lost cannot write.

CREATE TABLE executions (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    tool              TEXT NOT NULL,
    params            jsonb NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
    progress          INTEGER NOT NULL,
    progress_message  TEXT NOT NULL,
    result            jsonb,
    error             TEXT,
    actor_kind        TEXT NOT NULL,
    actor_id          uuid,
    attempt           INTEGER NOT NULL,
    max_attempts      INTEGER NOT NULL,
    timeout_ms        INTEGER NOT NULL,
    worker            TEXT,
    lease_until       timestamptz,
    cancel_requested  boolean NOT NULL,
    log_lines         INTEGER NOT NULL,
    log_truncated     boolean NOT NULL,
    created_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz,
    updated_at        timestamptz NOT NULL
);
CREATE INDEX executions_by_org ON executions (org_id, id);
CREATE INDEX executions_queued ON executions (status, id);
-- The claim counts each organisation's running runs.
CREATE INDEX executions_running ON executions (org_id) WHERE status = 'running';

CREATE TABLE execution_logs (
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    at            timestamptz NOT NULL,
    stream        TEXT NOT NULL CHECK (stream IN ('stdout', 'stderr')),
    line          TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);
