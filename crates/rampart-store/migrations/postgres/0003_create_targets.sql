-- Authorised targets: the scope every network tool must pass. Values are stored normalised
-- (lowercase punycode names, networks with host bits cleared), so one target has one spelling.

CREATE TABLE targets (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('ip', 'cidr', 'host', 'wildcard')),
    value       TEXT NOT NULL,
    ports       TEXT,                      -- such as 80,443,8000-8100; NULL for every port
    exclude     boolean NOT NULL,
    note        TEXT NOT NULL,
    tags        TEXT NOT NULL,             -- ',a,b,' so that one tag matches with LIKE '%,a,%'
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (org_id, value, exclude)
);
CREATE INDEX targets_by_org ON targets (org_id, id);
