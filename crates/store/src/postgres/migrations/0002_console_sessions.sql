-- pipelog schema, version 2: web console sessions. A session is the SHA-256 of the token
-- its cookie holds, the key it stands for, and when it ends; the token itself is never
-- stored. Signing out deletes the row; expired rows are removed in the background.
-- Sessions are found by their hash alone, before any account is known: under Citus this
-- small table stays a plain (reference) table.
CREATE TABLE console_sessions (
    token_hash bytea  PRIMARY KEY,
    account_id bigint NOT NULL,
    key_id     bigint NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    FOREIGN KEY (account_id, key_id) REFERENCES api_keys (account_id, id)
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
