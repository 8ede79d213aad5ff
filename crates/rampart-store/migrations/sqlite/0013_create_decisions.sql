-- Decisions: what firewalls do about an address or a network, until when. A decision is never
-- changed after it is made except to be deleted before its end (`deleted_at`); `seq` is the number
-- the bouncer protocol knows it by. Every change to decisions (a decision made or deleted, an
-- allowlist entry added, which deletes what it covers) takes the next `decision_clock` version
-- and stamps the rows it writes with it: a reader that has seen version N has seen every change
-- up to N, so a server keeps its copy current by reading the versions after the last it read.
CREATE TABLE decisions (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           BLOB NOT NULL UNIQUE,
    org_id       BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('ban', 'captcha', 'throttle')),
    scope        TEXT NOT NULL CHECK (scope IN ('ip', 'range')),
    value        TEXT NOT NULL,
    origin       TEXT NOT NULL CHECK (origin IN ('manual', 'policy', 'feed', 'import')),
    scenario     TEXT NOT NULL,
    reason       TEXT,
    alert_id     BLOB,
    created_by   BLOB,
    created_at   TEXT NOT NULL,
    until        TEXT NOT NULL,
    deleted_at   TEXT,
    version      INTEGER NOT NULL
) STRICT;
CREATE INDEX decisions_by_org ON decisions (org_id, id);
CREATE INDEX decisions_by_value ON decisions (org_id, value, seq);
CREATE INDEX decisions_by_version ON decisions (version);
CREATE INDEX decisions_by_until ON decisions (until);

CREATE TABLE decision_clock (
    slot     INTEGER PRIMARY KEY NOT NULL CHECK (slot = 1),
    version  INTEGER NOT NULL
) STRICT;
INSERT INTO decision_clock (slot, version) VALUES (1, 0);

-- Addresses and networks no decision may cover.
CREATE TABLE allowlist (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    value       TEXT NOT NULL,
    note        TEXT NOT NULL,
    created_by  BLOB,
    created_at  TEXT NOT NULL,
    UNIQUE (org_id, value)
) STRICT;

-- Firewalls that pull decisions with a key (stored as its SHA-256; the key is shown once). The
-- last pull, its address and client are written in batches, not on every pull.
CREATE TABLE bouncers (
    id            BLOB PRIMARY KEY NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    key_prefix    TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_by    BLOB,
    created_at    TEXT NOT NULL,
    last_pull_at  TEXT,
    last_ip       TEXT,
    user_agent    TEXT,
    UNIQUE (org_id, name)
) STRICT;

-- Policies: decisions made on their own from alerts. `durations` is a JSON array of seconds.
CREATE TABLE decision_policies (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    attack_type    TEXT,
    min_score      REAL,
    min_events     INTEGER,
    kind           TEXT NOT NULL CHECK (kind IN ('ban', 'captcha', 'throttle')),
    durations      TEXT NOT NULL,
    repeat_window  INTEGER NOT NULL,
    dry_run        INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (org_id, name)
) STRICT;

-- What each policy did with each alert it took: once per alert.
CREATE TABLE policy_hits (
    policy_id    BLOB NOT NULL REFERENCES decision_policies (id) ON DELETE CASCADE,
    org_id       BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    alert_id     BLOB NOT NULL,
    value        TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('decided', 'dry_run', 'allowlisted')),
    duration     INTEGER NOT NULL,
    decision_id  BLOB,
    at           TEXT NOT NULL,
    PRIMARY KEY (policy_id, alert_id)
) STRICT;
CREATE INDEX policy_hits_by_value ON policy_hits (policy_id, value, at);
CREATE INDEX policy_hits_by_time ON policy_hits (policy_id, at);
