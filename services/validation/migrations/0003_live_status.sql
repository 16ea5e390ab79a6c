-- A live record's status, as the record events tell it: deletes depend on it (a Submitted record waits
-- for its board; a Rejected one goes at once; an Accepted one asks its board).
ALTER TABLE live_records ADD COLUMN status text NOT NULL DEFAULT 'Submitted';
CREATE INDEX live_records_record ON live_records (record_id);
