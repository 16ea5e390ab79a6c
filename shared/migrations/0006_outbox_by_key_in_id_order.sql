-- A writer asks, for each key of its batch, whether an earlier row of that key is held or due. Between autovacuum's
-- visits the outbox holds tens of thousands of dead rows; planned as a join, the question read all of them (a
-- sequential scan: 20-46 ms a batch, growing with every file). Asked per key for its first row in id order, it is
-- an index scan that stops at the first live row, and each dead entry it passes is marked so that the next look
-- skips it (docs/PERFORMANCE.md). The relay's look for an earlier held row of a key reads the same order.
DROP INDEX outbox_by_key;
CREATE INDEX outbox_by_key ON outbox (key, id);
