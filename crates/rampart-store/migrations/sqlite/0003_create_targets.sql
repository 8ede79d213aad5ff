-- Authorised targets: the scope every network tool must pass. Values are stored normalised
-- (lowercase punycode names, networks with host bits cleared), so one target has one spelling.

CREATE TABLE targets (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('ip', 'cidr', 'host', 'wildcard')),
    value       TEXT NOT NULL,
    ports       TEXT,                      -- such as 80,443,8000-8100; NULL for every port
    exclude     INTEGER NOT NULL,
    note        TEXT NOT NULL,
    tags        TEXT NOT NULL,             -- ',a,b,' so that one tag matches with LIKE '%,a,%'
    created_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (org_id, value, exclude)
) STRICT;
CREATE INDEX targets_by_org ON targets (org_id, id);
