//! Audit entries: recording them on their account's hash chain, finding them, and
//! verifying a chain.
//!
//! As in the embedded store (`sqlite/audit.rs`), with the same index terms, narrowing
//! and chain logic (`crate::audit_index`, `crate::audit_chain`). What differs:
//! - An account's chain head row is locked before an entry goes on it, so the groups of
//!   two nodes chain their entries one after the other.
//! - A term is `term_text` (the folded string's UTF-8 bytes, compared as bytes, as SQLite
//!   compares text) or `term_number`, or neither for a value that is only there.
//! - A find first reads the entries of each small term set (fewer than `driving_terms`),
//!   and reads only the entries every such set holds; with none, it reads entries newest
//!   first from an index. Either way candidates come through a cursor, a batch at a time,
//!   so a page reads only as many as it needs, as SQLite's stepping does.

use std::ops::ControlFlow;

use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, ChainHash, ChainLink, NewAuditEntry};
use pipelog_core::find_query::{FindQuery, fold};
use pipelog_core::ids::{AccountId, Label};
use pipelog_core::paging::Page;
use pipelog_core::time::UtcTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::Db;
use super::columns::{byte_array, count, decoded, get, parsed, time};
use crate::audit_chain::{self, ChainWalk};
use crate::audit_index::{
    EntryCondition, FindPage, FoldedMatch, Narrowing, Term, TermCondition, TermMatch, sql_page,
    terms_of,
};
use crate::{
    AuditPageRequest, ChainAnchor, ChainHead, ChainVerification, RecordedAudit, StoreError,
};

const ENTRY_COLUMNS: &str = "e.seq, e.public_id, e.time_generated, e.recorded_at, \
     e.entity_type, e.event_type, e.version, e.details, e.hash, e.account_id";

/// The cursor a read walks its rows with; one at a time in a read's transaction.
const CURSOR: &str = "audit_rows";

/// Rows fetched from a cursor at most at once (an entry's details may be 64 KiB).
const MAX_BATCH: usize = 512;

fn entry_from_row(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: count(row, 0)?,
        id: parsed(row, 1, AuditId::parse)?,
        time_generated: time(row, 2)?,
        recorded_at: time(row, 3)?,
        entity_type: parsed(row, 4, Label::parse)?,
        event_type: parsed(row, 5, Label::parse)?,
        version: parsed(row, 6, Label::parse)?,
        details: decoded(row, 7, |text: &str| {
            serde_json::from_str(text).map(AuditDetails::from_stored)
        })?,
        hash: ChainHash::from_bytes(byte_array(row, 8)?),
        account_id: AccountId::new(get(row, 9)?),
    })
}

/// Records an entry on its account's chain, or, if the entry names an id the account
/// already has, returns that entry when it says the same (a retry), and a conflict when
/// it does not.
pub(super) async fn record(
    db: &Db,
    account: AccountId,
    entry: &NewAuditEntry,
    now: UtcTime,
) -> Result<RecordedAudit, StoreError> {
    // The head is locked first: an entry with the same id that another node recorded a
    // moment ago has committed by then, and is found below rather than inserted twice.
    let (seq, previous) = lock_chain_head(db, account).await?;
    let details = entry.details.canonical();
    if let Some(id) = &entry.id
        && let Some(existing) = by_id(db, account, id).await?
    {
        return audit_chain::repeated(existing, entry, &details);
    }
    let entry = audit_chain::chained(account, seq, &previous, entry, &details, now);
    let stored_seq = i64::try_from(seq)
        .map_err(|_| StoreError::Backend("the audit chain has run out of seqs".into()))?;
    let insert = db
        .prepare_cached(
            "INSERT INTO audit_entries (account_id, seq, public_id, time_generated, recorded_at, \
                 entity_type, event_type, version, details, entity_type_folded, \
                 event_type_folded, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        )
        .await?;
    let row = db
        .query_one(
            &insert,
            &[
                &account.get(),
                &stored_seq,
                &entry.id.as_str(),
                &entry.time_generated.unix_millis(),
                &now.unix_millis(),
                &entry.entity_type.as_str(),
                &entry.event_type.as_str(),
                &entry.version.as_str(),
                &details,
                &fold(entry.entity_type.as_str()).as_bytes(),
                &fold(entry.event_type.as_str()).as_bytes(),
                &entry.hash.as_bytes().as_slice(),
            ],
        )
        .await?;
    let key: i64 = get(&row, 0)?;
    insert_terms(db, account, key, &entry).await?;
    let advance = db
        .prepare_cached(
            "UPDATE audit_chains SET next_seq = next_seq + 1, head_hash = $2 WHERE account_id = $1",
        )
        .await?;
    db.execute(
        &advance,
        &[&account.get(), &entry.hash.as_bytes().as_slice()],
    )
    .await?;
    Ok(RecordedAudit {
        entry,
        created: true,
    })
}

/// Writes an entry's index terms, each once (an array may hold a value twice), in one
/// statement.
async fn insert_terms(
    db: &Db,
    account: AccountId,
    key: i64,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    let terms = terms_of(&entry.id, entry.details.as_map());
    let mut paths: Vec<&[u8]> = Vec::with_capacity(terms.len());
    let mut texts: Vec<Option<&[u8]>> = Vec::with_capacity(terms.len());
    let mut numbers: Vec<Option<f64>> = Vec::with_capacity(terms.len());
    for (path, term) in &terms {
        paths.push(path.as_bytes());
        texts.push(match term {
            Term::Text(text) => Some(text.as_bytes()),
            Term::Number(_) | Term::Present => None,
        });
        numbers.push(match term {
            Term::Number(number) => Some(*number),
            Term::Text(_) | Term::Present => None,
        });
    }
    let insert = db
        .prepare_cached(
            "INSERT INTO audit_terms (account_id, path, term_text, term_number, entry) \
             SELECT DISTINCT $1::bigint, path, term_text, term_number, $2::bigint \
             FROM unnest($3::bytea[], $4::bytea[], $5::float8[]) AS term (path, term_text, term_number)",
        )
        .await?;
    db.execute(&insert, &[&account.get(), &key, &paths, &texts, &numbers])
        .await?;
    Ok(())
}

/// Locks the account's chain head until the write's transaction ends, and returns the seq
/// the next entry gets and the hash it follows.
async fn lock_chain_head(db: &Db, account: AccountId) -> Result<(u64, ChainHash), StoreError> {
    let select = db
        .prepare_cached(
            "SELECT next_seq, head_hash FROM audit_chains WHERE account_id = $1 FOR UPDATE",
        )
        .await?;
    if let Some(row) = db.query_opt(&select, &[&account.get()]).await? {
        return chain_position(&row);
    }
    // The account's first entry. Two nodes may both get here: the second one's insert
    // waits for the first one's transaction, then does nothing, and its select below
    // waits for the lock.
    let create = db
        .prepare_cached(
            "INSERT INTO audit_chains (account_id, next_seq, head_hash) VALUES ($1, 0, $2) \
             ON CONFLICT (account_id) DO NOTHING",
        )
        .await?;
    db.execute(
        &create,
        &[&account.get(), &ChainHash::GENESIS.as_bytes().as_slice()],
    )
    .await?;
    let row = db.query_one(&select, &[&account.get()]).await?;
    chain_position(&row)
}

/// The seq the next entry gets and the hash it follows, without a lock (for reads).
async fn chain_head(db: &Db, account: AccountId) -> Result<(u64, ChainHash), StoreError> {
    let select = db
        .prepare_cached("SELECT next_seq, head_hash FROM audit_chains WHERE account_id = $1")
        .await?;
    match db.query_opt(&select, &[&account.get()]).await? {
        None => Ok((0, ChainHash::GENESIS)),
        Some(row) => chain_position(&row),
    }
}

fn chain_position(row: &Row) -> Result<(u64, ChainHash), StoreError> {
    Ok((count(row, 0)?, ChainHash::from_bytes(byte_array(row, 1)?)))
}

async fn by_id(
    db: &Db,
    account: AccountId,
    id: &AuditId,
) -> Result<Option<AuditEntry>, StoreError> {
    let select = db
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.account_id = $1 AND e.public_id = $2"
        ))
        .await?;
    db.query_opt(&select, &[&account.get(), &id.as_str()])
        .await?
        .map(|row| entry_from_row(&row))
        .transpose()
}

/// SQL being built, with its parameters.
#[derive(Default)]
struct BoundSql {
    sql: String,
    values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl BoundSql {
    /// Takes `value` as the next parameter, and returns its placeholder.
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.values.push(Box::new(value));
        format!("${}", self.values.len())
    }

    fn parameters(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| &**value as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The narrowing's conditions on the entry's own columns (`e`), added to `statement`.
/// The folded types are `bytea`, compared as bytes.
fn add_entry_conditions(statement: &mut BoundSql, narrowing: &Narrowing) {
    for condition in &narrowing.entries {
        let sql = match condition {
            EntryCondition::Time(comparison, at) => {
                format!(
                    "e.time_generated {} {}",
                    comparison.sql(),
                    statement.bind(*at)
                )
            }
            EntryCondition::TimeIn(times) => {
                format!("e.time_generated = ANY({})", statement.bind(times.clone()))
            }
            // One value as `=`: an index then still gives the entries in result order.
            EntryCondition::Folded(column, FoldedMatch::OneOf(texts)) if texts.len() == 1 => {
                format!("{} = {}", column.sql(), statement.bind(bytes(&texts[0])))
            }
            EntryCondition::Folded(column, FoldedMatch::OneOf(texts)) => {
                let texts: Vec<Vec<u8>> = texts.iter().map(|text| bytes(text)).collect();
                format!("{} = ANY({})", column.sql(), statement.bind(texts))
            }
            EntryCondition::Folded(column, FoldedMatch::Range { from, below }) => {
                let column = column.sql();
                let mut sql = format!("{column} >= {}", statement.bind(bytes(from)));
                if let Some(below) = below {
                    sql.push_str(&format!(" AND {column} < {}", statement.bind(bytes(below))));
                }
                sql
            }
        };
        statement.sql.push_str(" AND ");
        statement.sql.push_str(&sql);
    }
}

fn bytes(text: &str) -> Vec<u8> {
    text.as_bytes().to_vec()
}

/// The entries with a term meeting `terms`, as `entry` rows (one per term, so an entry
/// may come more than once), read no further than `limit` rows: one bounded range of a
/// terms index.
fn term_rows(account: AccountId, terms: &TermCondition, limit: usize) -> BoundSql {
    let mut statement = BoundSql::default();
    let account = statement.bind(account.get());
    let path = statement.bind(bytes(&terms.path));
    let condition = match &terms.term {
        TermMatch::Any => String::new(),
        TermMatch::OneOf(one_of) => {
            let mut texts = Vec::new();
            let mut numbers = Vec::new();
            let mut present = false;
            for term in one_of {
                match term {
                    Term::Text(text) => texts.push(bytes(text)),
                    Term::Number(number) => numbers.push(*number),
                    Term::Present => present = true,
                }
            }
            let mut alternatives = Vec::new();
            if !texts.is_empty() {
                alternatives.push(format!("term_text = ANY({})", statement.bind(texts)));
            }
            if !numbers.is_empty() {
                alternatives.push(format!("term_number = ANY({})", statement.bind(numbers)));
            }
            if present {
                alternatives.push("(term_text IS NULL AND term_number IS NULL)".to_owned());
            }
            format!(" AND ({})", alternatives.join(" OR "))
        }
        TermMatch::Texts { from, below } => {
            let mut sql = format!(" AND term_text >= {}", statement.bind(bytes(from)));
            if let Some(below) = below {
                sql.push_str(&format!(
                    " AND term_text < {}",
                    statement.bind(bytes(below))
                ));
            }
            sql
        }
        TermMatch::TextsUpTo(up_to) => {
            format!(" AND term_text <= {}", statement.bind(bytes(up_to)))
        }
        TermMatch::NumbersFrom(number) => {
            format!(" AND term_number >= {}", statement.bind(*number))
        }
        TermMatch::NumbersUpTo(number) => {
            format!(" AND term_number <= {}", statement.bind(*number))
        }
    };
    let limit = statement.bind(i64::try_from(limit).unwrap_or(i64::MAX));
    statement.sql = format!(
        "SELECT entry FROM audit_terms WHERE account_id = {account} AND path = {path}{condition} \
         LIMIT {limit}"
    );
    statement
}

/// The entries of a term set, sorted, when it holds fewer than `limit` rows; `None` when
/// it is larger.
async fn small_term_set(
    db: &Db,
    account: AccountId,
    terms: &TermCondition,
    limit: usize,
) -> Result<Option<Vec<i64>>, StoreError> {
    let statement = term_rows(account, terms, limit);
    let query = db.prepare_cached(&statement.sql).await?;
    let rows = db.query(&query, &statement.parameters()).await?;
    if rows.len() >= limit {
        return Ok(None);
    }
    let mut entries = rows
        .iter()
        .map(|row| get(row, 0))
        .collect::<Result<Vec<i64>, StoreError>>()?;
    entries.sort_unstable();
    entries.dedup();
    Ok(Some(entries))
}

/// The entries a find must read, when its small term sets decide them: those every set
/// holds. `None` when no set is small.
async fn driving_entries(
    db: &Db,
    account: AccountId,
    narrowing: &Narrowing,
    driving_terms: usize,
) -> Result<Option<Vec<i64>>, StoreError> {
    let mut driving: Option<Vec<i64>> = None;
    for terms in &narrowing.terms {
        // A set holding fewer than `driving_terms` entries drives: its entries are read,
        // sorted and evaluated. A larger one is left to the evaluator while entries are
        // read in result order, where a page fills long before such a set is read whole.
        let Some(entries) = small_term_set(db, account, terms, driving_terms).await? else {
            continue;
        };
        let entries = match driving {
            None => entries,
            Some(mut known) => {
                known.retain(|entry| entries.binary_search(entry).is_ok());
                known
            }
        };
        let none_left = entries.is_empty();
        driving = Some(entries);
        if none_left {
            break;
        }
    }
    Ok(driving)
}

/// One page of the entries `query` matches (all entries without one), newest first.
pub(super) async fn find(
    db: &Db,
    account: AccountId,
    query: Option<&FindQuery>,
    page: AuditPageRequest,
    driving_terms: usize,
) -> Result<Page<AuditEntry>, StoreError> {
    let Some(query) = query else {
        return everything(db, account, page).await;
    };
    let narrowing = Narrowing::derive(query);
    let mut statement = BoundSql::default();
    let account_placeholder = statement.bind(account.get());
    statement.sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.account_id = {account_placeholder}"
    );
    let driving = driving_entries(db, account, &narrowing, driving_terms).await?;
    let driven = driving.is_some();
    if let Some(entries) = driving {
        if entries.is_empty() {
            return Ok(Page::from_overfetch(Vec::new(), page.size));
        }
        let entries = statement.bind(entries);
        statement
            .sql
            .push_str(&format!(" AND e.id = ANY({entries})"));
    }
    add_entry_conditions(&mut statement, &narrowing);
    statement.sql = if driven {
        // The few entries are fetched (by primary key, or by another index when the
        // planner finds it cheaper) and sorted. Materialised, they are planned as a whole:
        // left to itself, the planner of a cursor may prefer reading the whole account in
        // result order to find them.
        format!(
            "WITH candidates AS MATERIALIZED ({}) \
             SELECT * FROM candidates ORDER BY time_generated DESC, public_id DESC",
            statement.sql
        )
    } else {
        // Read in result order from an index; the page fills as it goes.
        format!(
            "{} ORDER BY e.time_generated DESC, e.public_id DESC",
            statement.sql
        )
    };

    let mut found = FindPage::new(Some(query), page);
    let mut rows = Batches::open(db, &statement, found.wanted()).await?;
    'pages: while let Some(batch) = rows.next().await? {
        for row in &batch {
            if found.offer(entry_from_row(row)?).is_break() {
                break 'pages;
            }
        }
    }
    rows.close().await?;
    Ok(found.finish())
}

/// A page of all the account's entries: SQL pages by itself.
async fn everything(
    db: &Db,
    account: AccountId,
    page: AuditPageRequest,
) -> Result<Page<AuditEntry>, StoreError> {
    let (limit, offset) = sql_page(page);
    let select = db
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.account_id = $1 \
             ORDER BY e.time_generated DESC, e.public_id DESC LIMIT $2 OFFSET $3"
        ))
        .await?;
    let items = db
        .query(&select, &[&account.get(), &limit, &offset])
        .await?
        .iter()
        .map(entry_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.size))
}

/// The rows of a query, read through a cursor of the read's transaction a batch at a
/// time (each twice the last, up to `MAX_BATCH`): a caller who has seen enough reads no
/// further, and a long answer (a whole chain) is never held at once. A caller that
/// returns early leaves the cursor to the end of the transaction, which closes it.
struct Batches<'a> {
    db: &'a Db,
    size: usize,
    exhausted: bool,
}

impl<'a> Batches<'a> {
    /// Opens the cursor; the first batch holds `first` rows (within `1..=MAX_BATCH`).
    async fn open(
        db: &'a Db,
        statement: &BoundSql,
        first: usize,
    ) -> Result<Batches<'a>, StoreError> {
        db.execute(
            &format!("DECLARE {CURSOR} NO SCROLL CURSOR FOR {}", statement.sql),
            &statement.parameters(),
        )
        .await?;
        Ok(Batches {
            db,
            size: first.clamp(1, MAX_BATCH),
            exhausted: false,
        })
    }

    /// The next batch, or `None` after the last row.
    async fn next(&mut self) -> Result<Option<Vec<Row>>, StoreError> {
        if self.exhausted {
            return Ok(None);
        }
        let fetch = format!("FETCH FORWARD {} FROM {CURSOR}", self.size);
        let rows = self.db.query(fetch.as_str(), &[]).await?;
        self.exhausted = rows.len() < self.size;
        self.size = (self.size * 2).min(MAX_BATCH);
        Ok(Some(rows))
    }

    async fn close(self) -> Result<(), StoreError> {
        self.db.batch_execute(&format!("CLOSE {CURSOR}")).await?;
        Ok(())
    }
}

/// Where the account's chain stands now.
pub(super) async fn head(db: &Db, account: AccountId) -> Result<ChainHead, StoreError> {
    let (entries, head) = chain_head(db, account).await?;
    let last_id = match entries.checked_sub(1) {
        None => None,
        Some(seq) => {
            let select = db
                .prepare_cached(
                    "SELECT public_id FROM audit_entries WHERE account_id = $1 AND seq = $2",
                )
                .await?;
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            db.query_opt(&select, &[&account.get(), &seq])
                .await?
                .map(|row| parsed(&row, 0, AuditId::parse))
                .transpose()?
        }
    };
    Ok(ChainHead {
        entries,
        head,
        last_id,
    })
}

/// Recomputes an account's chain from its first entry, hashing each entry's columns as
/// they are stored, and compares every stored hash; with an anchor, also checks that the
/// chain passes through it.
pub(super) async fn verify(
    db: &Db,
    account: AccountId,
    anchor: Option<ChainAnchor>,
) -> Result<ChainVerification, StoreError> {
    let mut walk = match ChainWalk::start(anchor) {
        Ok(walk) => walk,
        Err(outcome) => return Ok(outcome),
    };
    let mut statement = BoundSql::default();
    let account_placeholder = statement.bind(account.get());
    statement.sql = format!(
        "SELECT seq, public_id, time_generated, recorded_at, entity_type, event_type, version, \
             details, hash FROM audit_entries WHERE account_id = {account_placeholder} ORDER BY seq"
    );
    let mut rows = Batches::open(db, &statement, MAX_BATCH).await?;
    while let Some(batch) = rows.next().await? {
        for row in &batch {
            let link = ChainLink {
                account_id: account,
                seq: count(row, 0)?,
                id: get(row, 1)?,
                time_generated: time(row, 2)?,
                recorded_at: time(row, 3)?,
                entity_type: get(row, 4)?,
                event_type: get(row, 5)?,
                version: get(row, 6)?,
                details: get(row, 7)?,
            };
            if let ControlFlow::Break(outcome) = walk.step(&link, get(row, 8)?) {
                return Ok(outcome);
            }
        }
    }
    rows.close().await?;
    let (next_seq, head) = chain_head(db, account).await?;
    Ok(walk.finish(next_seq, head))
}
