-- Change notices need nothing in SQLite: the server is its only writer and tells its own
-- followers after each commit; claims need no lock, as SQLite has one writer at a time. This
-- migration keeps the numbering the same on both backends.
SELECT 1;
