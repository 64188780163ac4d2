-- pipelog schema, version 3: deleting execution logs, retention, and exports.

-- An execution's stored lines are exactly the seq range [first_seq, next_seq): deleting
-- them moves first_seq up to next_seq, retention moves it up to the first line new
-- enough to keep. Rows below first_seq are removed afterwards, in small batches;
-- purged_below says how far that has gone.
ALTER TABLE executions ADD COLUMN first_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE executions ADD COLUMN purged_below INTEGER NOT NULL DEFAULT 0;
CREATE INDEX executions_to_purge ON executions (id) WHERE purged_below < first_seq;

-- Days of execution logs an account keeps; NULL: the server's default.
ALTER TABLE accounts ADD COLUMN execution_log_retention_days INTEGER;

-- Exports of an execution's log to a file, built in the background.
CREATE TABLE exports (
    id           INTEGER PRIMARY KEY,
    token        BLOB    NOT NULL UNIQUE,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    execution_id INTEGER NOT NULL REFERENCES executions (id),
    format       TEXT    NOT NULL,
    -- The lines exported: the seq range [first_seq, end_seq), fixed when it was asked for.
    first_seq    INTEGER NOT NULL,
    end_seq      INTEGER NOT NULL,
    file_name    TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    bytes        INTEGER,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    -- Who is building it since when: a builder that stops short leaves it to another.
    claimed_at   INTEGER
) STRICT;
CREATE INDEX exports_waiting ON exports (id) WHERE status = 'IN_PROGRESS';
CREATE INDEX exports_expiry ON exports (expires_at);
