-- Watch: sensor nodes, the events they report, the alerts and attacker profiles those events
-- build, decoys touched, and hourly counters for the dashboard. Events, profiles, alerts and
-- counters are written in one transaction per ingested group, so they always agree.

CREATE TABLE nodes (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('honeypot', 'agent', 'network')),
    status        TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
    key_prefix    TEXT NOT NULL UNIQUE,
    key_hash      TEXT NOT NULL,
    metadata      jsonb NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_seen_at  timestamptz,
    UNIQUE (org_id, name)
);
CREATE INDEX nodes_by_org ON nodes (org_id, id);

CREATE TABLE alerts (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    source_ip        TEXT,
    attack_type      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    events           BIGINT NOT NULL,
    max_score        double precision NOT NULL,
    node_id          uuid,
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    status_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    status_note      TEXT NOT NULL
);
CREATE INDEX alerts_by_org ON alerts (org_id, id);
-- The open alerts of the sources an ingested group names are read at once.
CREATE INDEX alerts_by_source ON alerts (org_id, source_ip, attack_type, last_seen);

CREATE TABLE events (
    id                uuid PRIMARY KEY,
    org_id            uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    node_id           uuid REFERENCES nodes (id) ON DELETE SET NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('honeypot', 'agent', 'decoy')),
    occurred_at       timestamptz NOT NULL,
    received_at       timestamptz NOT NULL,
    source_ip         TEXT,
    source_port       INTEGER,
    destination_port  INTEGER,
    service           TEXT NOT NULL,
    activity          TEXT,
    payload           TEXT,
    usernames         jsonb NOT NULL,
    passwords         jsonb NOT NULL,
    hostname          TEXT,
    username          TEXT,
    process           TEXT,
    file_path         TEXT,
    action            TEXT,
    decoy_name        TEXT,
    decoy_type        TEXT,
    score             double precision NOT NULL,
    attack_type       TEXT NOT NULL,
    reasons           jsonb NOT NULL,
    scorer            TEXT NOT NULL,
    alert_id          uuid REFERENCES alerts (id) ON DELETE SET NULL
);
CREATE INDEX events_by_org ON events (org_id, id);
-- Most events join no alert: only those that do are indexed.
CREATE INDEX events_by_alert ON events (alert_id, id) WHERE alert_id IS NOT NULL;
CREATE INDEX events_by_node ON events (node_id, id);

CREATE TABLE attackers (
    org_id      uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    source_ip   TEXT NOT NULL,
    events      BIGINT NOT NULL,
    alerts      BIGINT NOT NULL,
    score_sum   double precision NOT NULL,
    max_score   double precision NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (org_id, source_ip)
);
-- No index by risk or recency: every ingested group updates both, and an organisation's
-- profiles are few enough to sort when listed (the primary key finds them).

-- What each attacker touched and tried, counted.
CREATE TABLE attacker_services (
    org_id     uuid NOT NULL,
    source_ip  TEXT NOT NULL,
    service    TEXT NOT NULL,
    events     BIGINT NOT NULL,
    PRIMARY KEY (org_id, source_ip, service),
    FOREIGN KEY (org_id, source_ip) REFERENCES attackers (org_id, source_ip) ON DELETE CASCADE
);
CREATE TABLE attacker_nodes (
    org_id     uuid NOT NULL,
    source_ip  TEXT NOT NULL,
    node_id    uuid NOT NULL,
    events     BIGINT NOT NULL,
    PRIMARY KEY (org_id, source_ip, node_id),
    FOREIGN KEY (org_id, source_ip) REFERENCES attackers (org_id, source_ip) ON DELETE CASCADE
);
CREATE TABLE attacker_usernames (
    org_id     uuid NOT NULL,
    source_ip  TEXT NOT NULL,
    username   TEXT NOT NULL,
    attempts   BIGINT NOT NULL,
    PRIMARY KEY (org_id, source_ip, username),
    FOREIGN KEY (org_id, source_ip) REFERENCES attackers (org_id, source_ip) ON DELETE CASCADE
);

-- Decoys touched, one row per node and decoy.
CREATE TABLE decoys (
    node_id       uuid NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    org_id        uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    decoy_type    TEXT NOT NULL,
    accesses      BIGINT NOT NULL,
    first_access  timestamptz NOT NULL,
    last_access   timestamptz NOT NULL,
    PRIMARY KEY (node_id, name)
);

-- Events and new alerts per hour, node and service (a deleted node's counts stay).
CREATE TABLE watch_counts (
    org_id   uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    hour     timestamptz NOT NULL,
    node_id  uuid NOT NULL,
    service  TEXT NOT NULL,
    events   BIGINT NOT NULL,
    alerts   BIGINT NOT NULL,
    PRIMARY KEY (org_id, hour, node_id, service)
);

-- A new or changed alert notifies `alerts:<organisation>`, so every server can stream an
-- organisation's alerts (one notice per organisation and commit: identical notices fold).
CREATE FUNCTION rampart_notify_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_changes', 'alerts:' || NEW.org_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER alerts_notify AFTER INSERT OR UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION rampart_notify_alert();
