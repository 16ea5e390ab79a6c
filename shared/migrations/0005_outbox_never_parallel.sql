-- The outbox holds a few hundred live rows and, between autovacuum's visits, tens of thousands of dead ones (each row
-- lives well under a second). Counting those, the planner sent the relay's look for due rows to parallel workers:
-- 20-80 ms a look, every second while a writer holds rows, in each service, for a statement that finds nothing in a
-- few milliseconds on one backend (docs/PERFORMANCE.md). No statement on this table gains from workers.
ALTER TABLE outbox SET (parallel_workers = 0);
