-- Every learner record PARS kept, with its current status. Deleted records stay (deleted = true) so the
-- timeline remains whole, but leave every list.
CREATE TABLE records (
    record_id       uuid PRIMARY KEY,
    submission_id   uuid NOT NULL,
    provider_id     text NOT NULL,
    credit_id       text NOT NULL,
    activity_id     text NOT NULL,
    target_kind     text NOT NULL,
    board           text NOT NULL,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    dob             text,
    learner_id      text,
    completion_date date NOT NULL,
    submitted_at    timestamptz NOT NULL,
    credits         numeric NOT NULL,
    credit_types    jsonb NOT NULL,
    status          text NOT NULL,
    errors          jsonb NOT NULL DEFAULT '[]'::jsonb,
    deleted         boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX records_provider_submitted ON records (provider_id, submitted_at DESC) WHERE NOT deleted;
CREATE INDEX records_provider_activity ON records (provider_id, activity_id) WHERE NOT deleted;

-- The timeline: every event applied, once (event_id is the idempotency key).
CREATE TABLE record_events (
    seq         bigserial,
    event_id    uuid PRIMARY KEY,
    record_id   uuid NOT NULL,
    event_type  text NOT NULL,
    occurred_at timestamptz NOT NULL,
    payload     jsonb NOT NULL
);
CREATE INDEX record_events_record ON record_events (record_id, seq);
