-- pipelog schema, version 1: accounts, API keys, jobs, executions and their log lines.
--
-- Internal keys are small integers (rowids); the ids clients see are UUIDs stored as
-- 16-byte blobs with a unique index. Times are milliseconds since the Unix epoch, UTC.

CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    public_id   BLOB    NOT NULL UNIQUE,
    account_id  INTEGER NOT NULL REFERENCES accounts (id),
    name        TEXT,
    -- The first 8 bytes of the key's SHA-256, to find candidates; the whole hash is then
    -- compared in constant time. The key itself is never stored.
    lookup      INTEGER NOT NULL,
    hash        BLOB    NOT NULL UNIQUE,
    permissions INTEGER NOT NULL,
    -- Requests per minute; NULL for the server's default, 0 for no limit.
    rate_limit  INTEGER,
    is_operator INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX api_keys_lookup ON api_keys (lookup);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    public_id       BLOB    NOT NULL UNIQUE,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    job_key         TEXT    NOT NULL,
    title           TEXT,
    job_type        TEXT    NOT NULL,
    system_job_type TEXT,
    periodicity     TEXT    NOT NULL DEFAULT '[]',
    pipeline_id     TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (account_id, job_key)
) STRICT;

CREATE TABLE executions (
    id            INTEGER PRIMARY KEY,
    public_id     BLOB    NOT NULL UNIQUE,
    account_id    INTEGER NOT NULL REFERENCES accounts (id),
    job_id        INTEGER NOT NULL REFERENCES jobs (id),
    cid           TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    action_origin TEXT    NOT NULL,
    input         TEXT    NOT NULL,
    launched_by   BLOB,
    queued_at     INTEGER NOT NULL,
    started_at    INTEGER,
    ended_at      INTEGER,
    updated_at    INTEGER NOT NULL,
    -- The seq the next log line gets (= lines written so far), and the created_at of the
    -- last one: new lines never get an earlier time, so created_at grows with seq.
    next_seq      INTEGER NOT NULL DEFAULT 0,
    last_log_at   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, cid)
) STRICT;
-- Listing an account's executions newest first (the rowid rides along in the index).
CREATE INDEX executions_account ON executions (account_id);
-- Claiming the oldest queued execution of a job.
CREATE INDEX executions_job_status ON executions (job_id, status);

-- One row per log line. The rowid table plus a unique (execution_id, seq) index is the
-- shape measured fastest for group commits ordered by execution; pages are read by seq
-- range through that index, so a page costs the same at any depth. The message comes
-- last so that the other columns never need an overflow page.
CREATE TABLE execution_logs (
    execution_id         INTEGER NOT NULL,
    seq                  INTEGER NOT NULL,
    created_at           INTEGER NOT NULL,
    event_time           INTEGER,
    severity             INTEGER NOT NULL,
    message_type         INTEGER NOT NULL,
    emitter_name         TEXT,
    event_correlation_id TEXT,
    message              TEXT    NOT NULL
) STRICT;
CREATE UNIQUE INDEX execution_logs_seq ON execution_logs (execution_id, seq);
