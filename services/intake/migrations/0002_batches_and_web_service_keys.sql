-- Batch uploads: the history, each file's rows as they came (for the rejection and success files), and each
-- learner record a row reported, with the outcome validation gave it.
CREATE TABLE batches (
    batch_id     uuid PRIMARY KEY,
    provider_id  text NOT NULL REFERENCES providers (id),
    file_name    text NOT NULL,
    format       text NOT NULL,
    layout       text,
    status       text NOT NULL CHECK (status IN ('processing', 'complete', 'failed')),
    reason       text,
    records      integer NOT NULL DEFAULT 0,
    added        integer NOT NULL DEFAULT 0,
    rejected     integer NOT NULL DEFAULT 0,
    preamble     jsonb NOT NULL DEFAULT '[]'::jsonb,
    header       jsonb NOT NULL DEFAULT '[]'::jsonb,
    uploaded_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at timestamptz
);
CREATE INDEX batches_history ON batches (provider_id, uploaded_at DESC);

CREATE TABLE batch_rows (
    batch_id   uuid NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    row_number integer NOT NULL,
    cells      text[] NOT NULL,
    PRIMARY KEY (batch_id, row_number)
);

CREATE TABLE batch_records (
    record_id  uuid PRIMARY KEY,
    batch_id   uuid NOT NULL REFERENCES batches (batch_id) ON DELETE CASCADE,
    row_number integer NOT NULL,
    target     text NOT NULL,
    own_cells  integer[] NOT NULL DEFAULT '{}',
    outcome    text CHECK (outcome IN ('added', 'rejected')),
    errors     jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX batch_records_of_batch ON batch_records (batch_id, row_number);

-- Web-service credentials are keys of their own role: a learning management system's key reaches only
-- /v1/ws, and an interactive key does not reach /v1/ws. A sandbox key's records are validated, never kept.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('provider', 'operator', 'webservice'));
ALTER TABLE api_keys DROP CONSTRAINT api_keys_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_provider_check CHECK ((role = 'operator') = (provider_id IS NULL));
ALTER TABLE api_keys ADD COLUMN sandbox boolean NOT NULL DEFAULT false;
