-- Users, memberships, login sessions with their rotating refresh tokens, API keys, and the
-- append-only audit log. Secrets are stored only as hashes: Argon2id for passwords, SHA-256 for
-- the high-entropy random tokens and keys.

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,      -- lowercased
    username      TEXT NOT NULL UNIQUE,      -- lowercased
    full_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_active     INTEGER NOT NULL,
    is_superuser  INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
    org_id      BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE sessions (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used_at     TEXT,
    expires_at  TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id            BLOB PRIMARY KEY NOT NULL,
    org_id        BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL UNIQUE,
    key_hash      TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_by    BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT,
    expires_at    TEXT
) STRICT;
CREATE INDEX api_keys_by_org ON api_keys (org_id);

-- No foreign key to organisations: the record outlives what it describes.
CREATE TABLE audit_events (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB,
    at          TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    BLOB,
    action      TEXT NOT NULL,
    target      TEXT,
    outcome     TEXT NOT NULL,
    ip          TEXT,
    request_id  TEXT,
    detail      TEXT
) STRICT;
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
