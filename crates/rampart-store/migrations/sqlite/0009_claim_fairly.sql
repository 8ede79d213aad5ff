-- Claims are fair between organisations (the claim itself is one statement in the store): the
-- organisations with queued runs are found by skipping through this index, one lookup each, and
-- each one's oldest queued run is its first entry.
CREATE INDEX executions_by_status_org ON executions (status, org_id, id);
