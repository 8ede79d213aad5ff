-- Followers of an organisation's alerts read those changed since the last they saw, in the
-- order they changed.
CREATE INDEX alerts_by_change ON alerts (org_id, updated_at, id);
