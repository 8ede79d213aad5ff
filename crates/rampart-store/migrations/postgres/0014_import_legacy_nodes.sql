-- A node may keep the id it had in the system Rampart replaces (`node-` and 16 hex digits), so
-- the sensors deployed with it, which name that id in their bodies, keep working. It is unique
-- within an organisation; a node created here has none. (An imported key needs no column: it is
-- stored as every key is, a lookup prefix derived from the key and its hash.)
ALTER TABLE nodes ADD COLUMN legacy_id TEXT;
CREATE UNIQUE INDEX nodes_by_legacy_id ON nodes (org_id, legacy_id);
