-- Every service schema gets these two tables.
-- outbox: messages written in the same transaction as the state they describe, published by the relay.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea,
    value       bytea NOT NULL,
    headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
    not_before  timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due ON outbox (not_before, id);

-- processed_events: the business ids a consumer has applied; a redelivered message finds its id here.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    processed_at timestamptz NOT NULL DEFAULT now()
);
