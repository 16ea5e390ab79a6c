-- Idempotency-Key of POST /v1/completions: a retry of a request (same provider, key and completion) gets the first
-- request's answer instead of submitting the completion again. A key is kept 24 hours: intake deletes older ones
-- every hour, and a claim treats an older key as free.
CREATE TABLE idempotency_keys (
    provider_id     text NOT NULL,
    idempotency_key text NOT NULL,
    fingerprint     bytea NOT NULL,
    answer          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_id, idempotency_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
