-- What a digest line shows, kept when the rejection arrives: the record's own details come from its
-- RecordSubmitted (same partition, earlier), or inline for a record PARS itself rejected.
ALTER TABLE rejections
    ADD COLUMN activity_id     text,
    ADD COLUMN first_name      text,
    ADD COLUMN last_name       text,
    ADD COLUMN learner_id      text,
    ADD COLUMN completion_date text,
    ADD COLUMN received_at     timestamptz NOT NULL DEFAULT now();

CREATE TABLE records (
    record_id       uuid PRIMARY KEY,
    provider_id     text NOT NULL,
    activity_id     text NOT NULL,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    learner_id      text,
    completion_date text NOT NULL
);

CREATE TABLE activities (
    id    text PRIMARY KEY,
    title text NOT NULL
);

ALTER TABLE providers ADD COLUMN digest_pars_rejections boolean NOT NULL DEFAULT false;

-- One digest per provider per window. A rejection joins exactly one digest (rejections.digest_id), in the
-- transaction that creates it; the digest is then sent, and re-sent with the same Message-ID after a crash.
CREATE TABLE digests (
    digest_id       uuid PRIMARY KEY,
    provider_id     text NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    rejections      int NOT NULL,
    UNIQUE (provider_id, window_start)
);
CREATE INDEX digests_pending ON digests (next_attempt_at) WHERE status = 'pending';
