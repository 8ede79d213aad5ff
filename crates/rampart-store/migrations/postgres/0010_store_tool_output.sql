-- What a run produced besides its result: findings and typed artifacts, written by the run's
-- finishing write in the transaction of its status, numbered in the order the tool gave them.
-- A run keeps at most 10000 of each; the run's row counts every one, kept or not.

ALTER TABLE executions ADD COLUMN findings_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN artifacts_total BIGINT NOT NULL DEFAULT 0;

CREATE TABLE execution_findings (
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    org_id        uuid NOT NULL,             -- the execution's, for reads scoped by organisation
    severity      TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    check_id      TEXT NOT NULL,
    title         TEXT NOT NULL,
    asset         TEXT NOT NULL,
    location      TEXT NOT NULL,
    detail        TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE execution_artifacts (
    execution_id  uuid NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    org_id        uuid NOT NULL,             -- the execution's, for reads scoped by organisation
    kind          TEXT NOT NULL CHECK (kind IN ('host', 'service', 'url', 'domain', 'certificate')),
    data          jsonb NOT NULL,            -- the artifact as JSON, tagged by `kind`
    PRIMARY KEY (execution_id, seq)
);
