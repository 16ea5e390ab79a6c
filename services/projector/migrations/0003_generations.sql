-- The projection's tables come in generations, so a rebuild fills fresh tables while readers keep the
-- live ones, then swaps them in at once. Readers use the views; the projector writes the active generation.
ALTER TABLE records RENAME TO records_g1;
ALTER TABLE record_events RENAME TO record_events_g1;
CREATE TABLE projection_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    active    int NOT NULL
);
INSERT INTO projection_state (active) VALUES (1);
CREATE VIEW records AS SELECT * FROM records_g1;
CREATE VIEW record_events AS SELECT * FROM record_events_g1;
