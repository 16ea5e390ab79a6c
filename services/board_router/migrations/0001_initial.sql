CREATE TABLE board_overrides (
    code text PRIMARY KEY,
    data jsonb NOT NULL
);

-- Records a board must process, as the router read them from RecordSubmitted.
CREATE TABLE routed_records (
    record_id uuid PRIMARY KEY,
    board     text NOT NULL,
    record    jsonb NOT NULL
);

-- One row per request sent to a board; asked again with the same request_id until a verdict settles it.
CREATE TABLE requests (
    request_id     uuid PRIMARY KEY,
    record_id      uuid NOT NULL,
    board          text NOT NULL,
    action         text NOT NULL,
    correlation_id text NOT NULL,
    provider_id    text NOT NULL,
    sent_at        timestamptz NOT NULL DEFAULT now(),
    answer_due     timestamptz NOT NULL,
    attempts       int NOT NULL DEFAULT 1,
    settled_at     timestamptz,
    verdict_id     uuid
);
CREATE INDEX requests_unsettled ON requests (answer_due) WHERE settled_at IS NULL;
