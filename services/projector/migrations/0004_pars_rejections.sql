-- Records PARS itself rejected (RecordRejectedByPars). They never enter records (PARS kept nothing), but a
-- provider answered 202 must still find each by its ID. In generations like the other tables (0003): this
-- makes the active generation's table; a rebuild makes the next one. Rejections applied before this
-- migration appear after `pars projection rebuild`.
DO $$
DECLARE
    g int := (SELECT active FROM projection_state);
BEGIN
    EXECUTE format($sql$
        CREATE TABLE pars_rejections_g%s (
            record_id       uuid PRIMARY KEY,
            submission_id   uuid NOT NULL,
            provider_id     text NOT NULL,
            credit_id       text,
            activity_id     text,
            target_kind     text NOT NULL,
            board           text NOT NULL,
            first_name      text,
            last_name       text,
            dob             text,
            learner_id      text,
            completion_date date,
            errors          jsonb NOT NULL,
            rejected_at     timestamptz NOT NULL
        )$sql$, g);
    EXECUTE format('CREATE VIEW pars_rejections AS SELECT * FROM pars_rejections_g%s', g);
END
$$;
