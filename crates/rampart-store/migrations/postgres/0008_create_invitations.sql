-- Invitations to join an organisation: open until accepted, declined, revoked or expired. One
-- open invitation per address and organisation; inviting again renews it.

CREATE TABLE invitations (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    email       text NOT NULL,               -- lowercased
    role        text NOT NULL CHECK (role IN ('admin', 'analyst', 'viewer')),
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    UNIQUE (org_id, email)
);
CREATE INDEX invitations_by_email ON invitations (email);
