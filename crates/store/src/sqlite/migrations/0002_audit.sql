-- pipelog schema, version 2: audit entries, their per-account hash chains, and an
-- inverted index of their values for the find language.

CREATE TABLE audit_entries (
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES accounts (id),
    -- The entry's place in its account's chain: 0, 1, 2 ...
    seq                INTEGER NOT NULL,
    public_id          TEXT    NOT NULL,
    time_generated     INTEGER NOT NULL,
    recorded_at        INTEGER NOT NULL,
    entity_type        TEXT    NOT NULL,
    event_type         TEXT    NOT NULL,
    version            TEXT    NOT NULL,
    -- Canonical JSON (keys sorted, no blanks): exactly the bytes the hash covers.
    details            TEXT    NOT NULL,
    -- The types folded for case-insensitive matching, to narrow finds by index.
    entity_type_folded TEXT    NOT NULL,
    event_type_folded  TEXT    NOT NULL,
    -- SHA-256 of the previous entry's hash and this entry's content.
    hash               BLOB    NOT NULL,
    UNIQUE (account_id, seq),
    UNIQUE (account_id, public_id)
) STRICT;
-- Newest first, ties by id: the order every find answers in.
CREATE INDEX audit_by_time ON audit_entries (account_id, time_generated, public_id);
CREATE INDEX audit_by_type ON audit_entries (account_id, event_type_folded, time_generated, public_id);
CREATE INDEX audit_by_entity_type ON audit_entries (account_id, entity_type_folded, time_generated, public_id);

-- The head of each account's chain: what the next entry follows.
CREATE TABLE audit_chains (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id),
    next_seq   INTEGER NOT NULL,
    head_hash  BLOB    NOT NULL
) STRICT;

-- One row per value of an entry (its id, and every value in its details), to find the
-- entries a query could match without reading them all. The term of a string is its
-- folded form cut to 256 bytes; of a number (or a string that reads as one), the number;
-- of anything else, an empty blob, which only says that the path is there. Terms narrow
-- the search; the find language's evaluator still decides every match.
CREATE TABLE audit_terms (
    account_id INTEGER NOT NULL,
    -- `id`, or `.` followed by the details path.
    path       TEXT    NOT NULL,
    term       ANY     NOT NULL,
    entry      INTEGER NOT NULL,
    PRIMARY KEY (account_id, path, term, entry)
) STRICT, WITHOUT ROWID;
