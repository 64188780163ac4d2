//! Audit entries: recording them on their account's hash chain, finding them, and
//! verifying a chain.
//!
//! A find runs in two steps. SQL narrows the search with what indexes can serve: a time
//! range, the folded type or entity type, and `audit_terms`, the inverted index of values;
//! every such condition is one the query implies, so nothing that matches is left out.
//! The candidates come back newest first, and the find language's own evaluator
//! (`FindQuery::matches`) decides each one. Both steps stream: a page reads only as many
//! candidates as it needs.
//!
//! What is indexed and what a query implies is shared with the PostgreSQL store
//! (`crate::audit_index`), as is the chain's logic (`crate::audit_chain`); this module is
//! their SQLite: `audit_terms.term` is an `ANY` column, where numbers sort before texts and
//! texts before blobs, and an empty blob stands for a value that is only there.

use std::ops::ControlFlow;

use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, ChainHash, ChainLink, NewAuditEntry};
use pipelog_core::find_query::{FindQuery, fold};
use pipelog_core::ids::AccountId;
use pipelog_core::paging::Page;
use pipelog_core::time::UtcTime;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::{Map, Value};

use super::columns::{corrupt, parsed, time};
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

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let details: Map<String, Value> = parsed(row, 7, |text| serde_json::from_str(text))?;
    let hash: [u8; 32] = row
        .get_ref(8)?
        .as_blob()?
        .try_into()
        .map_err(|_| corrupt(8, "expected a 32-byte hash"))?;
    Ok(AuditEntry {
        seq: row.get(0)?,
        id: parsed(row, 1, AuditId::parse)?,
        time_generated: time(row, 2)?,
        recorded_at: time(row, 3)?,
        entity_type: parsed(row, 4, pipelog_core::ids::Label::parse)?,
        event_type: parsed(row, 5, pipelog_core::ids::Label::parse)?,
        version: parsed(row, 6, pipelog_core::ids::Label::parse)?,
        details: AuditDetails::from_stored(details),
        hash: ChainHash::from_bytes(hash),
        account_id: AccountId::new(row.get(9)?),
    })
}

/// A term as `audit_terms.term` holds it.
fn term_value(term: &Term) -> SqlValue {
    match term {
        Term::Text(text) => SqlValue::Text(text.clone()),
        Term::Number(number) => SqlValue::Real(*number),
        Term::Present => presence(),
    }
}

/// The term of a value that is only there: an empty blob, which sorts after every text.
fn presence() -> SqlValue {
    SqlValue::Blob(Vec::new())
}

/// Records an entry on its account's chain, or, if the entry names an id the account
/// already has, returns that entry when it says the same (a retry), and a conflict when
/// it does not.
pub(super) fn record(
    connection: &Connection,
    account: AccountId,
    new: &NewAuditEntry,
    now: UtcTime,
) -> Result<RecordedAudit, StoreError> {
    let details = new.details.canonical();
    if let Some(id) = &new.id
        && let Some(existing) = by_id(connection, account, id)?
    {
        return audit_chain::repeated(existing, new, &details);
    }
    let (seq, previous) = chain_head(connection, account)?;
    let entry = audit_chain::chained(account, seq, &previous, new, &details, now);
    connection
        .prepare_cached(
            "INSERT INTO audit_entries (account_id, seq, public_id, time_generated, recorded_at, \
                 entity_type, event_type, version, details, entity_type_folded, \
                 event_type_folded, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            account.get(),
            seq,
            entry.id.as_str(),
            entry.time_generated.unix_millis(),
            now.unix_millis(),
            entry.entity_type.as_str(),
            entry.event_type.as_str(),
            entry.version.as_str(),
            details,
            fold(entry.entity_type.as_str()),
            fold(entry.event_type.as_str()),
            entry.hash.as_bytes(),
        ])?;
    let rowid = connection.last_insert_rowid();
    let mut insert_term = connection.prepare_cached(
        "INSERT OR IGNORE INTO audit_terms (account_id, path, term, entry) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (path, term) in terms_of(&entry.id, entry.details.as_map()) {
        insert_term.execute(params![account.get(), path, term_value(&term), rowid])?;
    }
    connection
        .prepare_cached(
            "INSERT INTO audit_chains (account_id, next_seq, head_hash) VALUES (?1, ?2, ?3) \
             ON CONFLICT (account_id) DO UPDATE SET next_seq = ?2, head_hash = ?3",
        )?
        .execute(params![account.get(), seq + 1, entry.hash.as_bytes()])?;
    Ok(RecordedAudit {
        entry,
        created: true,
    })
}

/// The seq the next entry gets and the hash it follows.
fn chain_head(connection: &Connection, account: AccountId) -> Result<(u64, ChainHash), StoreError> {
    let head: Option<(u64, Vec<u8>)> = connection
        .prepare_cached("SELECT next_seq, head_hash FROM audit_chains WHERE account_id = ?1")?
        .query_row([account.get()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    match head {
        None => Ok((0, ChainHash::GENESIS)),
        Some((next_seq, hash)) => {
            let hash: [u8; 32] = hash.try_into().map_err(|_| {
                StoreError::Backend("the audit chain's head hash is not 32 bytes".into())
            })?;
            Ok((next_seq, ChainHash::from_bytes(hash)))
        }
    }
}

fn by_id(
    connection: &Connection,
    account: AccountId,
    id: &AuditId,
) -> Result<Option<AuditEntry>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.account_id = ?1 AND e.public_id = ?2"
        ))?
        .query_row(params![account.get(), id.as_str()], entry_from_row)
        .optional()?)
}

/// The narrowing's conditions on the entry's own columns (`e`), in SQL, with their values.
fn entry_conditions(narrowing: &Narrowing) -> (Vec<String>, Vec<SqlValue>) {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for condition in &narrowing.entries {
        match condition {
            EntryCondition::Time(comparison, at) => {
                conditions.push(format!("e.time_generated {} ?", comparison.sql()));
                values.push(SqlValue::Integer(*at));
            }
            EntryCondition::TimeIn(times) => {
                conditions.push(format!(
                    "e.time_generated IN ({})",
                    placeholders(times.len())
                ));
                values.extend(times.iter().map(|at| SqlValue::Integer(*at)));
            }
            EntryCondition::Folded(column, FoldedMatch::OneOf(texts)) => {
                let column = column.sql();
                conditions.push(match texts.len() {
                    1 => format!("{column} = ?"),
                    count => format!("{column} IN ({})", placeholders(count)),
                });
                values.extend(texts.iter().cloned().map(SqlValue::Text));
            }
            EntryCondition::Folded(column, FoldedMatch::Range { from, below }) => {
                let column = column.sql();
                values.push(SqlValue::Text(from.clone()));
                match below {
                    Some(below) => {
                        conditions.push(format!("{column} >= ? AND {column} < ?"));
                        values.push(SqlValue::Text(below.clone()));
                    }
                    None => conditions.push(format!("{column} >= ?")),
                }
            }
        }
    }
    (conditions, values)
}

fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// The entries with a term meeting `terms`: the SQL and its parameters.
fn term_entries(account: AccountId, terms: &TermCondition) -> (String, Vec<SqlValue>) {
    let mut values = vec![
        SqlValue::Integer(account.get()),
        SqlValue::Text(terms.path.clone()),
    ];
    // Each range stays within one storage class: numbers sort before texts (the least
    // being ''), texts before blobs (the least being the presence blob).
    let condition = match &terms.term {
        TermMatch::Any => String::new(),
        TermMatch::OneOf(one) if one.len() == 1 => {
            values.push(term_value(&one[0]));
            " AND term = ?".to_owned()
        }
        TermMatch::OneOf(terms) => {
            values.extend(terms.iter().map(term_value));
            format!(" AND term IN ({})", placeholders(terms.len()))
        }
        TermMatch::Texts { from, below } => {
            values.push(SqlValue::Text(from.clone()));
            values.push(below.clone().map_or_else(presence, SqlValue::Text));
            " AND term >= ? AND term < ?".to_owned()
        }
        TermMatch::TextsUpTo(up_to) => {
            values.push(SqlValue::Text(up_to.clone()));
            " AND term >= '' AND term <= ?".to_owned()
        }
        TermMatch::NumbersFrom(number) => {
            values.push(SqlValue::Real(*number));
            " AND term >= ? AND term < ''".to_owned()
        }
        TermMatch::NumbersUpTo(number) => {
            values.push(SqlValue::Real(*number));
            " AND term <= ?".to_owned()
        }
    };
    let sql = format!("SELECT entry FROM audit_terms WHERE account_id = ? AND path = ?{condition}");
    (sql, values)
}

/// How many entries `terms` holds, counting no further than `limit`: one bounded range of
/// the terms index.
fn count_up_to(
    connection: &Connection,
    account: AccountId,
    terms: &TermCondition,
    limit: usize,
) -> Result<usize, StoreError> {
    let (subquery, mut values) = term_entries(account, terms);
    values.push(SqlValue::Integer(limit as i64));
    let sql = format!("SELECT count(*) FROM ({subquery} LIMIT ?)");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params_from_iter(values), |row| row.get(0))?)
}

/// The SQL that lists a find's candidates, newest first, with its parameters: the
/// narrowing's own conditions, and the entries of the `driving` term conditions. The first
/// driving set is the outer loop (SQLite always puts the left side of a `CROSS JOIN`
/// outside): its few entries are fetched by rowid and sorted. Without driving sets, the
/// entries are read in result order from an index and the page fills as it goes.
/// Without a query, SQL pages by itself (`LIMIT`, `OFFSET`); with one, the caller pages
/// what the evaluator keeps.
fn find_sql(
    account: AccountId,
    narrowing: &Narrowing,
    driving: &[&TermCondition],
    sql_pages: Option<AuditPageRequest>,
) -> (String, Vec<SqlValue>) {
    let mut values = Vec::new();
    let mut sql = match driving.split_first() {
        None => format!("SELECT {ENTRY_COLUMNS} FROM audit_entries e WHERE e.account_id = ?"),
        Some((first, _)) => {
            let (subquery, first_values) = term_entries(account, first);
            values.extend(first_values);
            format!(
                "SELECT {ENTRY_COLUMNS} FROM (SELECT DISTINCT entry FROM ({subquery})) AS driver \
                 CROSS JOIN audit_entries e ON e.id = driver.entry WHERE e.account_id = ?"
            )
        }
    };
    values.push(SqlValue::Integer(account.get()));
    let (conditions, condition_values) = entry_conditions(narrowing);
    for condition in conditions {
        sql.push_str(" AND ");
        sql.push_str(&condition);
    }
    values.extend(condition_values);
    for terms in driving.iter().skip(1) {
        let (subquery, terms_values) = term_entries(account, terms);
        sql.push_str(&format!(" AND e.id IN ({subquery})"));
        values.extend(terms_values);
    }
    sql.push_str(" ORDER BY e.time_generated DESC, e.public_id DESC");
    if let Some(request) = sql_pages {
        let (limit, offset) = sql_page(request);
        sql.push_str(" LIMIT ? OFFSET ?");
        values.push(SqlValue::Integer(limit));
        values.push(SqlValue::Integer(offset));
    }
    (sql, values)
}

/// One page of the entries `query` matches (all entries without one), newest first.
pub(super) fn find(
    connection: &Connection,
    account: AccountId,
    query: Option<&FindQuery>,
    request: AuditPageRequest,
    driving_terms: usize,
) -> Result<Page<AuditEntry>, StoreError> {
    let narrowing = query.map_or_else(Narrowing::default, Narrowing::derive);
    let mut driving = Vec::new();
    for terms in &narrowing.terms {
        // A set holding fewer than `driving_terms` entries drives: its entries are read,
        // sorted and evaluated. A larger one is left to the evaluator while entries are
        // read in result order, where a page fills long before such a set is read whole.
        let count = count_up_to(connection, account, terms, driving_terms)?;
        if count < driving_terms {
            driving.push((count, terms));
        }
    }
    // The smallest set drives; the other small ones filter.
    driving.sort_by_key(|(count, _)| *count);
    let driving: Vec<&TermCondition> = driving.into_iter().map(|(_, terms)| terms).collect();
    let sql_pages = query.is_none().then_some(request);
    let (sql, values) = find_sql(account, &narrowing, &driving, sql_pages);
    let mut statement = connection.prepare(&sql)?;
    let mut rows = statement.query(params_from_iter(values))?;
    let mut page = FindPage::new(query, request);
    while let Some(row) = rows.next()? {
        if page.offer(entry_from_row(row)?).is_break() {
            break;
        }
    }
    Ok(page.finish())
}

/// Where the account's chain stands now.
pub(super) fn head(connection: &Connection, account: AccountId) -> Result<ChainHead, StoreError> {
    let (entries, head) = chain_head(connection, account)?;
    let last_id = match entries.checked_sub(1) {
        None => None,
        Some(seq) => connection
            .prepare_cached(
                "SELECT public_id FROM audit_entries WHERE account_id = ?1 AND seq = ?2",
            )?
            .query_row(params![account.get(), seq], |row| {
                parsed(row, 0, AuditId::parse)
            })
            .optional()?,
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
pub(super) fn verify(
    connection: &Connection,
    account: AccountId,
    anchor: Option<ChainAnchor>,
) -> Result<ChainVerification, StoreError> {
    let mut walk = match ChainWalk::start(anchor) {
        Ok(walk) => walk,
        Err(outcome) => return Ok(outcome),
    };
    let mut statement = connection.prepare(
        "SELECT seq, public_id, time_generated, recorded_at, entity_type, event_type, version, \
             details, hash FROM audit_entries WHERE account_id = ?1 ORDER BY seq",
    )?;
    let mut rows = statement.query([account.get()])?;
    while let Some(row) = rows.next()? {
        let text = |index: usize| -> rusqlite::Result<&str> { Ok(row.get_ref(index)?.as_str()?) };
        let link = ChainLink {
            account_id: account,
            seq: row.get(0)?,
            id: text(1)?,
            time_generated: time(row, 2)?,
            recorded_at: time(row, 3)?,
            entity_type: text(4)?,
            event_type: text(5)?,
            version: text(6)?,
            details: text(7)?,
        };
        if let ControlFlow::Break(outcome) = walk.step(&link, row.get_ref(8)?.as_blob()?) {
            return Ok(outcome);
        }
    }
    let (next_seq, head) = chain_head(connection, account)?;
    Ok(walk.finish(next_seq, head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The query plan of a find, its term conditions driving it or not.
    fn plan(query: Value, drive_by_terms: bool) -> String {
        let mut connection = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut connection).unwrap();
        let query = FindQuery::parse(&query).unwrap();
        let narrowing = Narrowing::derive(&query);
        let driving: Vec<&TermCondition> = if drive_by_terms {
            narrowing.terms.iter().collect()
        } else {
            Vec::new()
        };
        let (sql, values) = find_sql(AccountId::new(1), &narrowing, &driving, None);
        let rows: Vec<String> = connection
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map(params_from_iter(values), |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows.join("\n")
    }

    #[test]
    fn the_seeds_finds_read_the_entity_type_and_time_index_in_order() {
        let simple = plan(
            json!({"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"}),
            false,
        );
        assert!(
            simple.contains(
                "USING INDEX audit_by_entity_type (account_id=? AND entity_type_folded=?)"
            ),
            "{simple}"
        );
        assert!(
            !simple.contains("TEMP B-TREE"),
            "no sort: the index gives the order\n{simple}"
        );
        let ranged = plan(
            json!({"type": "and", "queries": [
                {"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"},
                {"type": "greaterOrEqual", "caseSensitive": true, "field": "timeGenerated", "value": "2025-02-21T14:58:15.584Z"}
            ]}),
            false,
        );
        assert!(
            ranged.contains(
                "USING INDEX audit_by_entity_type (account_id=? AND entity_type_folded=? AND time_generated>?)"
            ),
            "{ranged}"
        );
        let by_type = plan(
            json!({"type": "eq", "field": "type", "value": "job.end"}),
            false,
        );
        assert!(by_type.contains("USING INDEX audit_by_type"), "{by_type}");
    }

    #[test]
    fn selective_terms_drive_the_find_and_broad_ones_leave_it_in_order() {
        let query = json!({"type": "and", "queries": [
            {"type": "eq", "field": "details.itemId", "value": "6588231"},
            {"type": "eq", "field": "type", "value": "item.update"}
        ]});
        let driven = plan(query.clone(), true);
        assert!(
            driven.contains("audit_terms USING PRIMARY KEY (account_id=? AND path=? AND term=?)"),
            "{driven}"
        );
        assert!(
            driven.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
            "entries fetched by rowid\n{driven}"
        );
        assert!(
            driven.find("audit_terms") < driven.find("SEARCH e"),
            "the terms are the outer loop\n{driven}"
        );
        let in_order = plan(query, false);
        assert!(!in_order.contains("audit_terms"), "{in_order}");
        assert!(in_order.contains("USING INDEX audit_by_type"), "{in_order}");
        assert!(!in_order.contains("TEMP B-TREE"), "{in_order}");
        let search = plan(
            json!({"type": "search", "field": "details.name", "value": "RETAIL"}),
            true,
        );
        assert!(
            search.contains("audit_terms USING PRIMARY KEY (account_id=? AND path=?)"),
            "{search}"
        );
    }
}
