-- Invitations to join an organisation: open until accepted, declined, revoked or expired. One
-- open invitation per address and organisation; inviting again renews it.

CREATE TABLE invitations (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,               -- lowercased
    role        TEXT NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    invited_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    UNIQUE (org_id, email)
) STRICT;
CREATE INDEX invitations_by_email ON invitations (email);
