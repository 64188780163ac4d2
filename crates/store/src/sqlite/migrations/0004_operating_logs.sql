-- pipelog schema, version 4: operating logs (seed 004), and keys that stand for data agents.

-- A key may stand for a data agent: operating log items written with it carry these.
ALTER TABLE api_keys ADD COLUMN agent_id        BLOB;
ALTER TABLE api_keys ADD COLUMN agent_code      TEXT;
ALTER TABLE api_keys ADD COLUMN agent_source_id BLOB;

-- One row per operation an account has logged, keyed by a small integer that its items
-- carry. `first_at` (the createdOn of its first item) places it in time for statistics
-- over a period. `timings` holds what statistics read of each of its items, appended as
-- they are recorded (the format is in sqlite/operating.rs), so that statistics over a
-- period read one row per operation rather than one per item; past a size bound appending
-- stops, `timings_complete` turns 0, and statistics read that operation's items instead.
CREATE TABLE operations (
    id               INTEGER PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts (id),
    public_id        BLOB    NOT NULL,
    first_at         INTEGER NOT NULL,
    timings          BLOB    NOT NULL DEFAULT x'',
    timings_complete INTEGER NOT NULL DEFAULT 1,
    UNIQUE (account_id, public_id)
) STRICT;
CREATE INDEX operations_first_at ON operations (account_id, first_at);

-- One row per item. Enumerations are small integers (see sqlite/operating.rs); ids are
-- 16-byte blobs; times are milliseconds since the epoch. `event_time` is utc_timestamp
-- when the writer gave one, else created_on. The free texts come last.
CREATE TABLE operating_items (
    id                  INTEGER PRIMARY KEY,
    public_id           BLOB    NOT NULL UNIQUE,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    operation           INTEGER NOT NULL REFERENCES operations (id),
    operation_type      INTEGER NOT NULL,
    activity_type       INTEGER,
    severity            INTEGER NOT NULL,
    system_level        INTEGER NOT NULL,
    created_on          INTEGER NOT NULL,
    event_time          INTEGER NOT NULL,
    utc_timestamp       INTEGER,
    source_id           BLOB,
    publisher_source_id BLOB,
    agent_id            BLOB,
    agent_code          TEXT,
    scope_id            TEXT,
    category            TEXT    NOT NULL,
    source              TEXT,
    message             TEXT,
    details             TEXT,
    custom_fields       TEXT
) STRICT;
-- An operation's items, in the order they were recorded.
CREATE INDEX operating_items_operation ON operating_items (operation);
-- Lists over an account's items by time, and by the owner's ids.
CREATE INDEX operating_items_created ON operating_items (account_id, created_on);
CREATE INDEX operating_items_source ON operating_items (account_id, source_id, created_on)
    WHERE source_id IS NOT NULL;
CREATE INDEX operating_items_publisher ON operating_items
    (account_id, publisher_source_id, created_on) WHERE publisher_source_id IS NOT NULL;
CREATE INDEX operating_items_agent ON operating_items (account_id, agent_id, created_on)
    WHERE agent_id IS NOT NULL;
CREATE INDEX operating_items_agent_code ON operating_items (account_id, agent_code, created_on)
    WHERE agent_code IS NOT NULL;
