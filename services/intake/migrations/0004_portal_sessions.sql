-- The provider portal's sign-ins: a browser signs in once with its key and gets a random session token in an
-- HttpOnly cookie; only the token's digest is kept, with the key it stands for (revoking the key ends it).
CREATE TABLE portal_sessions (
    token_hash  bytea PRIMARY KEY,
    key_id      text NOT NULL REFERENCES api_keys (key_id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX portal_sessions_expiry ON portal_sessions (expires_at);
