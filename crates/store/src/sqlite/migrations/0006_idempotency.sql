-- pipelog schema, version 6: idempotency keys. A row is written in the same savepoint as
-- the first write of the request that claims the key, and its answer (status, headers,
-- body) once that request is answered. Rows older than the idempotency window (24 h) are
-- removed by the server's maintenance.
CREATE TABLE idempotency_keys (
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    api_key         BLOB    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    fingerprint     BLOB    NOT NULL,
    attempt         BLOB    NOT NULL,
    claimed_at      INTEGER NOT NULL,
    -- NULL until the answer is recorded.
    status          INTEGER,
    content_type    TEXT,
    location        TEXT,
    error           TEXT,
    body            BLOB,
    UNIQUE (account_id, api_key, idempotency_key)
) STRICT;

CREATE INDEX idempotency_keys_by_age ON idempotency_keys (claimed_at);
