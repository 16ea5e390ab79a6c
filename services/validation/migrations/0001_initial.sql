-- Reference data loaded from the world file (and, later, registered through the API).
CREATE TABLE activities (
    id          text PRIMARY KEY,
    provider_id text NOT NULL,
    data        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activities_provider ON activities (provider_id);

CREATE TABLE board_overrides (
    code text PRIMARY KEY,
    data jsonb NOT NULL
);

-- The physician directory used for learner matching.
CREATE TABLE physicians (
    physician_key text PRIMARY KEY,
    last_name     text NOT NULL,
    first_name    text NOT NULL,
    dob           text NOT NULL,
    npi           text,
    data          jsonb NOT NULL
);
CREATE INDEX physicians_name ON physicians (lower(last_name), lower(first_name));
CREATE INDEX physicians_npi ON physicians (npi);

-- Live records by credit ID: the ground for 603 (duplicate Add) and 605 (unknown Delete).
CREATE TABLE live_records (
    provider_id text NOT NULL,
    credit_id   text NOT NULL,
    target_code text NOT NULL,
    record_id   uuid NOT NULL,
    record      jsonb NOT NULL,
    PRIMARY KEY (provider_id, credit_id, target_code)
);
