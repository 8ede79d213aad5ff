-- The outbox: facts a change publishes, written in the change's transaction. SQLite has one
-- writer at a time, so ids grow in commit order. No foreign key to the organisation: a record
-- outlives what it speaks of until it is delivered.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       TEXT NOT NULL,
    org_id      BLOB,
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

-- Each consumer's progress: every record up to `delivered` is acknowledged. A dispatcher claims
-- the next batch by taking the lease (`holder`, `lease_until`) and a new `fence`; an
-- acknowledgement naming an older fence is refused, as a finish naming an older attempt is.
CREATE TABLE outbox_consumers (
    consumer     TEXT PRIMARY KEY NOT NULL,
    delivered    INTEGER NOT NULL DEFAULT 0,
    fence        INTEGER NOT NULL DEFAULT 0,
    holder       TEXT,
    lease_until  TEXT
) STRICT;
