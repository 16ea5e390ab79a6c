CREATE TABLE providers (
    id    text PRIMARY KEY,
    name  text NOT NULL,
    email text NOT NULL
);

-- Rejections waiting for (or included in) a digest; event_id makes a redelivery a no-op.
CREATE TABLE rejections (
    event_id     uuid PRIMARY KEY,
    provider_id  text NOT NULL,
    record_id    uuid NOT NULL,
    board        text NOT NULL,
    errors       jsonb NOT NULL,
    occurred_at  timestamptz NOT NULL,
    digest_id    uuid
);
CREATE INDEX rejections_pending ON rejections (provider_id, occurred_at) WHERE digest_id IS NULL;
