-- Users, memberships, login sessions with their rotating refresh tokens, API keys, and the
-- append-only audit log. Secrets are stored only as hashes: Argon2id for passwords, SHA-256 for
-- the high-entropy random tokens and keys.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL UNIQUE,      -- lowercased
    username      text NOT NULL UNIQUE,      -- lowercased
    full_name     text NOT NULL,
    password_hash text NOT NULL,
    is_active     boolean NOT NULL,
    is_superuser  boolean NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE memberships (
    org_id      uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        text NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE sessions (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash  text PRIMARY KEY,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    used_at     timestamptz,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id            uuid PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name          text NOT NULL,
    prefix        text NOT NULL UNIQUE,
    key_hash      text NOT NULL,
    role          text NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    expires_at    timestamptz
);
CREATE INDEX api_keys_by_org ON api_keys (org_id);

-- No foreign key to organisations: the record outlives what it describes.
CREATE TABLE audit_events (
    id          uuid PRIMARY KEY,
    org_id      uuid,
    at          timestamptz NOT NULL,
    actor_kind  text NOT NULL,
    actor_id    uuid,
    action      text NOT NULL,
    target      text,
    outcome     text NOT NULL,
    ip          text,
    request_id  text,
    detail      text
);
CREATE INDEX audit_events_by_org ON audit_events (org_id, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
