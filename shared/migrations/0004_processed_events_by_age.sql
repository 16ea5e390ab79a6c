-- The retention of processed_events (shared/inbox.py: prune_processed) deletes the oldest ids first, a small batch at a
-- time: this index finds them without scanning the table. processed_at only grows (now() at the claim), so new entries
-- go to the index's right edge, and the dedupe itself still uses only the primary key.
CREATE INDEX processed_events_by_age ON processed_events (processed_at);
