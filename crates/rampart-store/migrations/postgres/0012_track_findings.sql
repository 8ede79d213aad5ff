-- Findings as an organisation tracks them: one row per issue on an asset (its fingerprint: a hash
-- of check id, asset and location), whichever runs and tools saw it. Written by a run's finishing
-- transaction, with the run's own findings (execution_findings), which name the row they are.

CREATE TABLE findings (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    fingerprint       TEXT NOT NULL,
    severity          TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
    severity_rank     INTEGER NOT NULL,          -- 0 (info) to 4 (critical), for sorting by severity
    check_id          TEXT NOT NULL,
    title             TEXT NOT NULL,             -- as the last run that saw it said it
    asset             TEXT NOT NULL,
    location          TEXT NOT NULL,
    detail            TEXT NOT NULL,
    search            TEXT NOT NULL,             -- title, asset and check id, lowercase: what `q` reads
    status            TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'false_positive', 'accepted')),
    regression        BOOLEAN NOT NULL,          -- resolved once, then seen again
    assignee          uuid REFERENCES users (id) ON DELETE SET NULL,
    accepted_until    timestamptz,                      -- an accepted risk is open again after it
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    occurrences       BIGINT NOT NULL,          -- runs that saw it
    tools             TEXT NOT NULL,             -- ',tcp_scan,nmap,' so that one tool matches with LIKE
    last_execution_id uuid,
    updated_at        timestamptz NOT NULL,
    UNIQUE (org_id, fingerprint)
)
-- Half of each page is left free: a run that sees every finding again updates each in place (no
-- index is touched), rather than writing it anew and every index with it.
WITH (fillfactor = 50);
CREATE INDEX findings_by_status ON findings (org_id, status, severity_rank, id);
CREATE INDEX findings_by_asset ON findings (org_id, asset);
CREATE INDEX findings_accepted ON findings (accepted_until) WHERE status = 'accepted';

-- Which tracked finding each of a run's findings is (NULL for runs recorded before tracking).
ALTER TABLE execution_findings ADD COLUMN finding_id uuid;
CREATE INDEX execution_findings_by_finding ON execution_findings (finding_id);

-- A finding's history: every change of its status, assignee or notes, by whom and why.
CREATE TABLE finding_history (
    id          uuid PRIMARY KEY,       -- UUIDv7: in the order written
    finding_id  uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    uuid,
    status      TEXT,                            -- the status it took, when it changed
    assignee    TEXT,                            -- 'none' or the user id, when it changed
    note        TEXT NOT NULL
);
CREATE INDEX finding_history_by_finding ON finding_history (finding_id, id);

-- What changed between runs: new and resolved findings, regressions, ports opened and closed,
-- certificates and technologies changed. Listed by organisation, newest last.
CREATE TABLE change_events (
    id            uuid PRIMARY KEY,     -- UUIDv7
    org_id        uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    at            timestamptz NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('finding_new', 'finding_resolved', 'finding_reopened',
                                                'port_opened', 'port_closed', 'certificate_changed',
                                                'technology_changed')),
    asset         TEXT NOT NULL,
    execution_id  uuid,
    finding_id    uuid,
    detail        TEXT NOT NULL
);
CREATE INDEX change_events_by_org ON change_events (org_id, id);

-- What runs have seen: hosts, services, URLs, domains and certificates (the inventory findings
-- hang on), with when each was first and last seen. A service a later run looked for and did not
-- find is gone (its port closed) until it is seen again.
CREATE TABLE assets (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('host', 'service', 'url', 'domain', 'certificate')),
    value             TEXT NOT NULL,             -- 10.0.0.5, 10.0.0.5:tcp/22, a URL, a name, web.example:443
    host              TEXT NOT NULL,             -- what it stands on: a service's or an endpoint's host
    data              jsonb NOT NULL,            -- the artifact last seen
    gone              BOOLEAN NOT NULL,
    first_seen        timestamptz NOT NULL,
    last_seen         timestamptz NOT NULL,
    last_execution_id uuid,
    UNIQUE (org_id, kind, value)
);
CREATE INDEX assets_by_org ON assets (org_id, id);
CREATE INDEX assets_by_host ON assets (org_id, host);
