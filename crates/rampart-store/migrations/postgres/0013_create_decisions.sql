-- Decisions: what firewalls do about an address or a network, until when. A decision is never
-- changed after it is made except to be deleted before its end (`deleted_at`); `seq` is the number
-- the bouncer protocol knows it by. Every change to decisions (a decision made or deleted, an
-- allowlist entry added, which deletes what it covers) takes the next `decision_clock` version
-- first and stamps the rows it writes with it. The clock's row lock is held to the commit, so
-- versions are taken in commit order: a reader that has seen version N has seen every change up
-- to N, and a server keeps its copy current by reading the versions after the last it read.
CREATE TABLE decisions (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    org_id       uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('ban', 'captcha', 'throttle')),
    scope        text NOT NULL CHECK (scope IN ('ip', 'range')),
    value        text NOT NULL,
    origin       text NOT NULL CHECK (origin IN ('manual', 'policy', 'feed', 'import')),
    scenario     text NOT NULL,
    reason       text,
    alert_id     uuid,
    created_by   uuid,
    created_at   timestamptz NOT NULL,
    until        timestamptz NOT NULL,
    deleted_at   timestamptz,
    version      bigint NOT NULL
);
CREATE INDEX decisions_by_org ON decisions (org_id, id);
CREATE INDEX decisions_by_value ON decisions (org_id, value, seq);
CREATE INDEX decisions_by_version ON decisions (version);
CREATE INDEX decisions_by_until ON decisions (until);

CREATE TABLE decision_clock (
    slot     integer PRIMARY KEY CHECK (slot = 1),
    version  bigint NOT NULL
);
INSERT INTO decision_clock (slot, version) VALUES (1, 0);

-- A new version wakes every server's copy of the decisions, once the change is committed.
CREATE FUNCTION rampart_notify_decisions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_changes', 'decisions');
    RETURN NULL;
END;
$$;
CREATE TRIGGER decision_clock_notify AFTER UPDATE ON decision_clock
    FOR EACH STATEMENT EXECUTE FUNCTION rampart_notify_decisions();

-- Addresses and networks no decision may cover.
CREATE TABLE allowlist (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    value       text NOT NULL,
    note        text NOT NULL,
    created_by  uuid,
    created_at  timestamptz NOT NULL,
    UNIQUE (org_id, value)
);

-- Firewalls that pull decisions with a key (stored as its SHA-256; the key is shown once). The
-- last pull, its address and client are written in batches, not on every pull.
CREATE TABLE bouncers (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          text NOT NULL,
    key_prefix    text NOT NULL,
    key_hash      text NOT NULL UNIQUE,
    created_by    uuid,
    created_at    timestamptz NOT NULL,
    last_pull_at  timestamptz,
    last_ip       text,
    user_agent    text,
    UNIQUE (org_id, name)
);

-- A bouncer made or deleted wakes every server's copy of the keys; a pull recorded does not.
CREATE FUNCTION rampart_notify_bouncers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_changes', 'bouncers');
    RETURN NULL;
END;
$$;
CREATE TRIGGER bouncers_notify AFTER INSERT OR DELETE OR UPDATE OF key_hash, org_id ON bouncers
    FOR EACH STATEMENT EXECUTE FUNCTION rampart_notify_bouncers();

-- Policies: decisions made on their own from alerts. `durations` is a JSON array of seconds.
CREATE TABLE decision_policies (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name           text NOT NULL,
    attack_type    text,
    min_score      double precision,
    min_events     bigint,
    kind           text NOT NULL CHECK (kind IN ('ban', 'captcha', 'throttle')),
    durations      jsonb NOT NULL,
    repeat_window  bigint NOT NULL,
    dry_run        boolean NOT NULL,
    enabled        boolean NOT NULL,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    UNIQUE (org_id, name)
);

-- What each policy did with each alert it took: once per alert.
CREATE TABLE policy_hits (
    policy_id    uuid NOT NULL REFERENCES decision_policies (id) ON DELETE CASCADE,
    org_id       uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    alert_id     uuid NOT NULL,
    value        text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('decided', 'dry_run', 'allowlisted')),
    duration     bigint NOT NULL,
    decision_id  uuid,
    at           timestamptz NOT NULL,
    PRIMARY KEY (policy_id, alert_id)
);
CREATE INDEX policy_hits_by_value ON policy_hits (policy_id, value, at);
CREATE INDEX policy_hits_by_time ON policy_hits (policy_id, at);
