-- A batch's rows and records are written once, by the upload that inserts the batch, in its transaction
-- (batches/storage.py: save_batch), and no batch is ever deleted: the foreign keys guarded nothing, yet each row
-- copied in ran a trigger that locked the batch's row (≈ 35 µs a row: PostgreSQL's CPU for a 5,000-row file's
-- save 0.34-0.46 s with them, 0.04-0.08 s without; docs/PERFORMANCE.md). A retention rule for batches must delete
-- their rows and records itself.
ALTER TABLE batch_rows DROP CONSTRAINT batch_rows_batch_id_fkey;
ALTER TABLE batch_records DROP CONSTRAINT batch_records_batch_id_fkey;
