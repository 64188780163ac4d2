-- pipelog schema, version 9: web console sessions. A session is the SHA-256 of the token
-- its cookie holds, the key it stands for, and when it ends; the token itself is never
-- stored. Signing out deletes the row; expired rows are removed in the background.
CREATE TABLE console_sessions (
    token_hash BLOB    PRIMARY KEY,
    key_id     INTEGER NOT NULL REFERENCES api_keys (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
