CREATE TABLE providers (
    id    text PRIMARY KEY,
    name  text NOT NULL,
    email text NOT NULL
);

-- API keys are shown once; only their SHA-256 is kept. provider_id is NULL for operator keys.
CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    key_hash    bytea NOT NULL,
    role        text NOT NULL CHECK (role IN ('provider', 'operator')),
    provider_id text REFERENCES providers (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK ((role = 'provider') = (provider_id IS NOT NULL))
);
