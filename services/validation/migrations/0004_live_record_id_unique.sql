-- A live record's ID is unique (a record keeps one credit ID for one target), and its index now says so. PostgreSQL
-- knew it only from statistics: on a young table autovacuum had not yet analyzed, it guessed 200 distinct IDs, took
-- each of a batch's status updates to match a few hundred rows, and read the whole index for each batch
-- (docs/PERFORMANCE.md).
DROP INDEX live_records_record;
CREATE UNIQUE INDEX live_records_record ON live_records (record_id);
