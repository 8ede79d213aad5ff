-- Watch: sensor nodes, the events they report, the alerts and attacker profiles those events
-- build, decoys touched, and hourly counters for the dashboard. Events, profiles, alerts and
-- counters are written in one transaction per ingested group, so they always agree.

CREATE TABLE nodes (
    id            BLOB PRIMARY KEY NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('honeypot', 'agent', 'network')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    key_prefix    TEXT NOT NULL UNIQUE,
    key_hash      TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    last_seen_at  TEXT,
    UNIQUE (org_id, name)
) STRICT;
CREATE INDEX nodes_by_org ON nodes (org_id, id);

CREATE TABLE alerts (
    id               BLOB PRIMARY KEY NOT NULL,
    org_id           BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    source_ip        TEXT,
    attack_type      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    events           INTEGER NOT NULL,
    max_score        REAL NOT NULL,
    node_id          BLOB,
    first_seen       TEXT NOT NULL,
    last_seen        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    status_by        BLOB REFERENCES users (id) ON DELETE SET NULL,
    status_note      TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_by_org ON alerts (org_id, id);
-- The open alerts of the sources an ingested group names are read at once.
CREATE INDEX alerts_by_source ON alerts (org_id, source_ip, attack_type, last_seen);

CREATE TABLE events (
    id                BLOB PRIMARY KEY NOT NULL,
    org_id            BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    node_id           BLOB REFERENCES nodes (id) ON DELETE SET NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('honeypot', 'agent', 'decoy')),
    occurred_at       TEXT NOT NULL,
    received_at       TEXT NOT NULL,
    source_ip         TEXT,
    source_port       INTEGER,
    destination_port  INTEGER,
    service           TEXT NOT NULL,
    activity          TEXT,
    payload           TEXT,
    usernames         TEXT NOT NULL,
    passwords         TEXT NOT NULL,
    hostname          TEXT,
    username          TEXT,
    process           TEXT,
    file_path         TEXT,
    action            TEXT,
    decoy_name        TEXT,
    decoy_type        TEXT,
    score             REAL NOT NULL,
    attack_type       TEXT NOT NULL,
    reasons           TEXT NOT NULL,
    scorer            TEXT NOT NULL,
    alert_id          BLOB REFERENCES alerts (id) ON DELETE SET NULL
) STRICT;
CREATE INDEX events_by_org ON events (org_id, id);
-- Most events join no alert: only those that do are indexed.
CREATE INDEX events_by_alert ON events (alert_id, id) WHERE alert_id IS NOT NULL;
CREATE INDEX events_by_node ON events (node_id, id);

CREATE TABLE attackers (
    org_id      BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    source_ip   TEXT NOT NULL,
    events      INTEGER NOT NULL,
    alerts      INTEGER NOT NULL,
    score_sum   REAL NOT NULL,
    max_score   REAL NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    PRIMARY KEY (org_id, source_ip)
) STRICT;

-- What each attacker touched and tried, counted.
CREATE TABLE attacker_services (
    org_id     BLOB NOT NULL,
    source_ip  TEXT NOT NULL,
    service    TEXT NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (org_id, source_ip, service),
    FOREIGN KEY (org_id, source_ip) REFERENCES attackers (org_id, source_ip) ON DELETE CASCADE
) STRICT;
CREATE TABLE attacker_nodes (
    org_id     BLOB NOT NULL,
    source_ip  TEXT NOT NULL,
    node_id    BLOB NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (org_id, source_ip, node_id),
    FOREIGN KEY (org_id, source_ip) REFERENCES attackers (org_id, source_ip) ON DELETE CASCADE
) STRICT;
CREATE TABLE attacker_usernames (
    org_id     BLOB NOT NULL,
    source_ip  TEXT NOT NULL,
    username   TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    PRIMARY KEY (org_id, source_ip, username),
    FOREIGN KEY (org_id, source_ip) REFERENCES attackers (org_id, source_ip) ON DELETE CASCADE
) STRICT;

-- Decoys touched, one row per node and decoy.
CREATE TABLE decoys (
    node_id       BLOB NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    decoy_type    TEXT NOT NULL,
    accesses      INTEGER NOT NULL,
    first_access  TEXT NOT NULL,
    last_access   TEXT NOT NULL,
    PRIMARY KEY (node_id, name)
) STRICT;

-- Events and new alerts per hour, node and service (a deleted node's counts stay).
CREATE TABLE watch_counts (
    org_id   BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    hour     TEXT NOT NULL,
    node_id  BLOB NOT NULL,
    service  TEXT NOT NULL,
    events   INTEGER NOT NULL,
    alerts   INTEGER NOT NULL,
    PRIMARY KEY (org_id, hour, node_id, service)
) STRICT;
