-- The timeline keeps each event as it came, as json (checked, kept as text) rather than jsonb: parsing every
-- event into jsonb's binary form was a quarter of PostgreSQL's work per event the projector applies, and
-- readers only ever take the whole payload. Done for the active generation; a rebuild copies its tables.
DO $$
DECLARE
    g int := (SELECT active FROM projection_state);
BEGIN
    DROP VIEW record_events;
    EXECUTE format('ALTER TABLE record_events_g%s ALTER payload TYPE json', g);
    EXECUTE format('CREATE VIEW record_events AS SELECT * FROM record_events_g%s', g);
END
$$;
