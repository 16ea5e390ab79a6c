-- A writer that publishes its own rows (shared/outbox.py: OutboxWriter) first looks for earlier rows of the same keys
-- still in the outbox; without this index that was a scan of the whole outbox per statement (thousands of rows
-- while a batch upload waits for the relay, or a board's delayed answers).
CREATE INDEX outbox_by_key ON outbox (key);
