-- pipelog's PostgreSQL schema, version 1: the same data as the embedded store's schema
-- version 8 (crates/store/src/sqlite/migrations), shaped for PostgreSQL and for many
-- pipelog nodes writing at once.
--
-- Every table of tenant data has the account id first in its primary key and in its
-- unique constraints, so that Citus can distribute the tables by account when one
-- PostgreSQL is not enough. Internal keys are bigint identities; the ids clients see are
-- `uuid`s. Times are milliseconds since the Unix epoch, UTC, as in the embedded store, so
-- that both backends order and compare them the same way.

CREATE TABLE accounts (
    id                           bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                         text    NOT NULL UNIQUE,
    created_at                   bigint  NOT NULL,
    -- Days of execution logs the account keeps; NULL: the server's default.
    execution_log_retention_days bigint
);

-- Keys are found by their hash whatever their account (a request names no account), so
-- the hash and the public id are unique over all accounts.
CREATE TABLE api_keys (
    id              bigint  GENERATED ALWAYS AS IDENTITY,
    public_id       uuid    NOT NULL UNIQUE,
    account_id      bigint  NOT NULL REFERENCES accounts (id),
    name            text,
    -- The first 8 bytes of the key's SHA-256, to find candidates; the whole hash is then
    -- compared in constant time. The key itself is never stored.
    lookup          bigint  NOT NULL,
    hash            bytea   NOT NULL UNIQUE,
    permissions     bigint  NOT NULL,
    -- Requests per minute; NULL for the server's default, 0 for no limit.
    rate_limit      bigint,
    is_operator     boolean NOT NULL DEFAULT false,
    created_at      bigint  NOT NULL,
    revoked_at      bigint,
    -- A key may stand for a data agent: operating log items written with it carry these.
    agent_id        uuid,
    agent_code      text,
    agent_source_id uuid,
    PRIMARY KEY (account_id, id)
);
CREATE INDEX api_keys_lookup ON api_keys (lookup);
CREATE INDEX api_keys_created ON api_keys (id);

CREATE TABLE jobs (
    account_id      bigint NOT NULL REFERENCES accounts (id),
    id              bigint GENERATED ALWAYS AS IDENTITY,
    public_id       uuid   NOT NULL,
    job_key         text   NOT NULL,
    title           text,
    job_type        text   NOT NULL,
    system_job_type text,
    periodicity     text   NOT NULL DEFAULT '[]',
    pipeline_id     text,
    created_at      bigint NOT NULL,
    updated_at      bigint NOT NULL,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, job_key),
    UNIQUE (account_id, public_id)
);

CREATE TABLE executions (
    account_id    bigint NOT NULL REFERENCES accounts (id),
    id            bigint GENERATED ALWAYS AS IDENTITY,
    public_id     uuid   NOT NULL,
    job_id        bigint NOT NULL,
    cid           text   NOT NULL,
    status        text   NOT NULL,
    action_origin text   NOT NULL,
    input         text   NOT NULL,
    launched_by   uuid,
    queued_at     bigint NOT NULL,
    started_at    bigint,
    ended_at      bigint,
    updated_at    bigint NOT NULL,
    -- The seq the next log line gets (= lines written so far), and the created_at of the
    -- last one: new lines never get an earlier time, so created_at grows with seq. Taking
    -- seqs updates this row, so writers to one execution (on any node) queue on its lock.
    next_seq      bigint NOT NULL DEFAULT 0,
    last_log_at   bigint NOT NULL DEFAULT 0,
    -- The stored lines are exactly the seq range [first_seq, next_seq): deleting them moves
    -- first_seq up to next_seq, retention moves it up to the first line new enough to keep.
    -- Rows below first_seq are removed afterwards, in small batches; purged_below says how
    -- far that has gone.
    first_seq     bigint NOT NULL DEFAULT 0,
    purged_below  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, public_id),
    UNIQUE (account_id, cid),
    FOREIGN KEY (account_id, job_id) REFERENCES jobs (account_id, id)
-- Every group of appends updates its execution's row: the room left in each page lets
-- those updates stay in the page (HOT) rather than add an entry to every index.
) WITH (fillfactor = 80);
-- Claiming the oldest queued execution of a job: the first entry of its (job, status).
CREATE INDEX executions_job_status ON executions (account_id, job_id, status, id);
CREATE INDEX executions_to_purge ON executions (account_id, id) WHERE purged_below < first_seq;

-- One row per log line; pages are read by seq range through the primary key, so a page
-- costs the same at any depth. No foreign key (a lookup per line): lines go in, by INSERT
-- or by COPY for large batches, under the lock of their execution's row, which is what
-- keeps them consistent. No index on created_at either: it grows with seq, so time bounds
-- are found by a binary search over seq.
CREATE TABLE execution_logs (
    account_id           bigint   NOT NULL,
    execution_id         bigint   NOT NULL,
    seq                  bigint   NOT NULL,
    created_at           bigint   NOT NULL,
    event_time           bigint,
    severity             smallint NOT NULL,
    message_type         smallint NOT NULL,
    emitter_name         text,
    event_correlation_id text,
    -- Structured attributes (OpenTelemetry records'), a JSON object; NULL for none.
    attributes           text,
    -- A writer's own id for the line, unique within its execution.
    client_id            text,
    -- The message's UTF-8 bytes: `text` cannot hold the NUL a message may.
    message              bytea    NOT NULL,
    PRIMARY KEY (account_id, execution_id, seq)
);
CREATE UNIQUE INDEX execution_logs_client_ids ON execution_logs (account_id, execution_id, client_id)
    WHERE client_id IS NOT NULL;

-- Audit entries, their per-account hash chains, and an inverted index of their values for
-- the find language. What only narrows finds (the folded types, the terms) is kept as
-- bytes and compared as bytes, as the embedded store compares text: no collation decides
-- their order, and a value may hold a NUL, which `text` cannot.
CREATE TABLE audit_entries (
    account_id         bigint NOT NULL REFERENCES accounts (id),
    id                 bigint GENERATED ALWAYS AS IDENTITY,
    -- The entry's place in its account's chain: 0, 1, 2 ...
    seq                bigint NOT NULL,
    -- Ordered by its bytes (`C`), as in the embedded store: entries of the same time are
    -- listed by it.
    public_id          text   COLLATE "C" NOT NULL,
    time_generated     bigint NOT NULL,
    recorded_at        bigint NOT NULL,
    entity_type        text   NOT NULL,
    event_type         text   NOT NULL,
    version            text   NOT NULL,
    -- Canonical JSON (keys sorted, no blanks): exactly the bytes the hash covers.
    details            text   NOT NULL,
    -- The types folded for case-insensitive matching (UTF-8), to narrow finds by index.
    entity_type_folded bytea  NOT NULL,
    event_type_folded  bytea  NOT NULL,
    -- SHA-256 of the previous entry's hash and this entry's content.
    hash               bytea  NOT NULL,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, seq),
    UNIQUE (account_id, public_id)
);
-- Newest first, ties by id: the order every find answers in.
CREATE INDEX audit_by_time ON audit_entries (account_id, time_generated, public_id);
CREATE INDEX audit_by_type ON audit_entries (account_id, event_type_folded, time_generated, public_id);
CREATE INDEX audit_by_entity_type ON audit_entries (account_id, entity_type_folded, time_generated, public_id);

-- The head of each account's chain: what the next entry follows. Recording an entry
-- locks this row, so an account's entries (from any node) are chained one at a time.
CREATE TABLE audit_chains (
    account_id bigint PRIMARY KEY REFERENCES accounts (id),
    next_seq   bigint NOT NULL,
    head_hash  bytea  NOT NULL
);

-- One row per value of an entry (its id, and every value in its details), each once. A
-- term is the folded string cut to 256 bytes (`term_text`, UTF-8), or the number
-- (`term_number`), or neither, which only says that the path is there; a string that
-- reads as a number has both rows. Terms narrow the search; the find language's
-- evaluator still decides every match.
CREATE TABLE audit_terms (
    account_id  bigint NOT NULL,
    -- `id`, or `.` followed by the details path (UTF-8).
    path        bytea  NOT NULL,
    term_text   bytea,
    term_number double precision,
    -- The entry's `id`.
    entry       bigint NOT NULL
);
CREATE INDEX audit_terms_text ON audit_terms (account_id, path, term_text, entry)
    WHERE term_text IS NOT NULL;
CREATE INDEX audit_terms_number ON audit_terms (account_id, path, term_number, entry)
    WHERE term_number IS NOT NULL;
-- Any value at a path, and the values that are only there.
CREATE INDEX audit_terms_path ON audit_terms (account_id, path, entry);

-- Exports of an execution's log to a file, built in the background by whichever node
-- claims them first.
CREATE TABLE exports (
    account_id   bigint NOT NULL REFERENCES accounts (id),
    id           bigint GENERATED ALWAYS AS IDENTITY,
    token        uuid   NOT NULL UNIQUE,
    execution_id bigint NOT NULL,
    format       text   NOT NULL,
    -- The lines exported: the seq range [first_seq, end_seq), fixed when it was asked for.
    first_seq    bigint NOT NULL,
    end_seq      bigint NOT NULL,
    file_name    text   NOT NULL,
    status       text   NOT NULL,
    bytes        bigint,
    error        text,
    created_at   bigint NOT NULL,
    expires_at   bigint NOT NULL,
    -- Who is building it since when: a builder that stops short leaves it to another.
    claimed_at   bigint,
    PRIMARY KEY (account_id, id),
    FOREIGN KEY (account_id, execution_id) REFERENCES executions (account_id, id)
);
CREATE INDEX exports_waiting ON exports (id) WHERE status = 'IN_PROGRESS';
CREATE INDEX exports_expiry ON exports (expires_at);

-- One row per operation an account has logged. `timings` holds what statistics read of
-- each of its items, appended as they are recorded under the row's lock (the format is in
-- crates/store/src/operating_codes.rs), so statistics over a period read one row per
-- operation; past a size bound it is emptied, `timings_complete` turns false, and
-- statistics read that operation's items instead.
CREATE TABLE operations (
    account_id       bigint  NOT NULL REFERENCES accounts (id),
    id               bigint  GENERATED ALWAYS AS IDENTITY,
    public_id        uuid    NOT NULL,
    first_at         bigint  NOT NULL,
    timings          bytea   NOT NULL DEFAULT '\x',
    timings_complete boolean NOT NULL DEFAULT true,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, public_id)
);
-- A period's operations in the order statistics add them, read a page at a time after the
-- last one's (first_at, id).
CREATE INDEX operations_first_at ON operations (account_id, first_at, id);

-- One row per operating log item. Enumerations are small integers (the codes of
-- crates/store/src/operating_codes.rs); `event_time` is utc_timestamp when the writer gave
-- one, else created_on.
CREATE TABLE operating_items (
    account_id          bigint   NOT NULL REFERENCES accounts (id),
    id                  bigint   GENERATED ALWAYS AS IDENTITY,
    public_id           uuid     NOT NULL,
    operation           bigint   NOT NULL,
    operation_type      smallint NOT NULL,
    activity_type       smallint,
    severity            smallint NOT NULL,
    system_level        boolean  NOT NULL,
    created_on          bigint   NOT NULL,
    event_time          bigint   NOT NULL,
    utc_timestamp       bigint,
    source_id           uuid,
    publisher_source_id uuid,
    agent_id            uuid,
    agent_code          text,
    scope_id            text,
    category            text     NOT NULL,
    source              text,
    -- UTF-8 bytes, as execution_logs.message.
    message             bytea,
    details             text,
    custom_fields       text,
    -- A writer's own id for the item, unique within its account.
    client_id           text,
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, public_id),
    FOREIGN KEY (account_id, operation) REFERENCES operations (account_id, id)
);
CREATE INDEX operating_items_operation ON operating_items (account_id, operation, id);
CREATE INDEX operating_items_created ON operating_items (account_id, created_on);
CREATE INDEX operating_items_source ON operating_items (account_id, source_id, created_on)
    WHERE source_id IS NOT NULL;
CREATE INDEX operating_items_publisher ON operating_items
    (account_id, publisher_source_id, created_on) WHERE publisher_source_id IS NOT NULL;
CREATE INDEX operating_items_agent ON operating_items (account_id, agent_id, created_on)
    WHERE agent_id IS NOT NULL;
CREATE INDEX operating_items_agent_code ON operating_items (account_id, agent_code, created_on)
    WHERE agent_code IS NOT NULL;
CREATE UNIQUE INDEX operating_items_client_ids ON operating_items (account_id, client_id)
    WHERE client_id IS NOT NULL;

-- Idempotency keys: a row is written in the same savepoint as the first write of the
-- request that claims the key, and its answer once that request is answered.
CREATE TABLE idempotency_keys (
    account_id      bigint   NOT NULL REFERENCES accounts (id),
    api_key         uuid     NOT NULL,
    idempotency_key text     NOT NULL,
    fingerprint     bytea    NOT NULL,
    attempt         uuid     NOT NULL,
    claimed_at      bigint   NOT NULL,
    -- NULL until the answer is recorded.
    status          integer,
    content_type    text,
    location        text,
    error           text,
    body            bytea,
    PRIMARY KEY (account_id, api_key, idempotency_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (claimed_at);

-- Rate limits shared by every node: per key, the theoretical arrival time of the next
-- request (GCRA), in milliseconds. Unlogged: no WAL, and a crash of PostgreSQL merely
-- forgets how far keys had got, which gives each key its full burst again.
CREATE UNLOGGED TABLE rate_limits (
    key_id uuid   PRIMARY KEY,
    tat    bigint NOT NULL
);
