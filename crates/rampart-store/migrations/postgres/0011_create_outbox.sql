-- The outbox: facts a change publishes, written in the change's transaction. Ids are handed out
-- under a transaction-scoped lock held to the commit (see `effects.rs`), so they grow in commit
-- order and a consumer reading past an id never skips a record committed later with a smaller one.
-- No foreign key to the organisation: a record outlives what it speaks of until it is delivered.
CREATE TABLE outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic       text NOT NULL,
    org_id      uuid,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL
);

-- Each consumer's progress: every record up to `delivered` is acknowledged. A dispatcher claims
-- the next batch by taking the lease (`holder`, `lease_until`) and a new `fence`; an
-- acknowledgement naming an older fence is refused, as a finish naming an older attempt is.
CREATE TABLE outbox_consumers (
    consumer     text PRIMARY KEY,
    delivered    bigint NOT NULL DEFAULT 0,
    fence        bigint NOT NULL DEFAULT 0,
    holder       text,
    lease_until  timestamptz
);

-- A new record wakes the dispatchers, whichever process wrote it (once per transaction).
CREATE FUNCTION rampart_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rampart_changes', 'outbox');
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION rampart_notify_outbox();
