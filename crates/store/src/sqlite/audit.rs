//! Audit entries: recording them on their account's hash chain, finding them, and
//! verifying a chain.
//!
//! A find runs in two steps. SQL narrows the search with what indexes can serve: a time
//! range, the folded type or entity type, and `audit_terms`, the inverted index of values;
//! every such condition is one the query implies, so nothing that matches is left out.
//! The candidates come back newest first, and the find language's own evaluator
//! (`FindQuery::matches`) decides each one. Both steps stream: a page reads only as many
//! candidates as it needs.

use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, ChainHash, ChainLink, NewAuditEntry};
use pipelog_core::find_query::{
    Field, FindQuery, Node, Operator, Scalar, detail_values, fold, numeric,
};
use pipelog_core::ids::AccountId;
use pipelog_core::paging::Page;
use pipelog_core::time::UtcTime;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use serde_json::{Map, Value};

use super::columns::{corrupt, parsed, time};
use crate::{
    AuditPageRequest, BrokenLink, ChainAnchor, ChainHead, ChainVerification, RecordedAudit,
    StoreError,
};

/// How many bytes of a folded string its term keeps.
const TERM_BYTES: usize = 256;

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

/// A string's term: folded, and cut to `TERM_BYTES` at a character boundary.
fn text_term(text: &str) -> String {
    let mut folded = fold(text);
    if folded.len() > TERM_BYTES {
        let mut end = TERM_BYTES;
        while !folded.is_char_boundary(end) {
            end -= 1;
        }
        folded.truncate(end);
    }
    folded
}

/// The term of a value that is only there: an empty blob.
fn presence() -> SqlValue {
    SqlValue::Blob(Vec::new())
}

/// The index terms of one entry: `(path, term)`, duplicates possible.
fn terms_of(id: &AuditId, details: &Map<String, Value>) -> Vec<(String, SqlValue)> {
    let mut terms = vec![("id".to_owned(), SqlValue::Text(text_term(id.as_str())))];
    if let Some(number) = numeric(id.as_str()) {
        terms.push(("id".to_owned(), SqlValue::Real(number)));
    }
    for (path, value) in detail_values(details) {
        let path = format!(".{path}");
        match value {
            Value::String(text) => {
                terms.push((path.clone(), SqlValue::Text(text_term(text))));
                if let Some(number) = numeric(text) {
                    terms.push((path, SqlValue::Real(number)));
                }
            }
            Value::Number(number) => match number.as_f64() {
                Some(number) => terms.push((path, SqlValue::Real(number))),
                None => terms.push((path, presence())),
            },
            _ => terms.push((path, presence())),
        }
    }
    terms
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
        let same = existing.entity_type == new.entity_type
            && existing.event_type == new.event_type
            && existing.version == new.version
            && existing.details.canonical() == details
            && new
                .time_generated
                .is_none_or(|at| at == existing.time_generated);
        if !same {
            return Err(StoreError::Conflict(format!(
                "an audit entry with id {id} was recorded before with different content"
            )));
        }
        return Ok(RecordedAudit {
            entry: existing,
            created: false,
        });
    }
    let (seq, previous) = chain_head(connection, account)?;
    let id = new.id.clone().unwrap_or_else(AuditId::generate);
    let time_generated = new.time_generated.unwrap_or(now);
    let hash = ChainLink {
        account_id: account,
        seq,
        id: id.as_str(),
        time_generated,
        recorded_at: now,
        entity_type: new.entity_type.as_str(),
        event_type: new.event_type.as_str(),
        version: new.version.as_str(),
        details: &details,
    }
    .hash(&previous);
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
            id.as_str(),
            time_generated.unix_millis(),
            now.unix_millis(),
            new.entity_type.as_str(),
            new.event_type.as_str(),
            new.version.as_str(),
            details,
            fold(new.entity_type.as_str()),
            fold(new.event_type.as_str()),
            hash.as_bytes(),
        ])?;
    let rowid = connection.last_insert_rowid();
    let mut insert_term = connection.prepare_cached(
        "INSERT OR IGNORE INTO audit_terms (account_id, path, term, entry) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (path, term) in terms_of(&id, new.details.as_map()) {
        insert_term.execute(params![account.get(), path, term, rowid])?;
    }
    connection
        .prepare_cached(
            "INSERT INTO audit_chains (account_id, next_seq, head_hash) VALUES (?1, ?2, ?3) \
             ON CONFLICT (account_id) DO UPDATE SET next_seq = ?2, head_hash = ?3",
        )?
        .execute(params![account.get(), seq + 1, hash.as_bytes()])?;
    Ok(RecordedAudit {
        entry: AuditEntry {
            id,
            account_id: account,
            seq,
            time_generated,
            recorded_at: now,
            entity_type: new.entity_type.clone(),
            event_type: new.event_type.clone(),
            version: new.version.clone(),
            details: new.details.clone(),
            hash,
        },
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

/// Conditions a query implies: on the entry's own columns (`e`), and on the terms of one
/// path each.
#[derive(Debug, Default)]
struct Narrowing {
    conditions: Vec<String>,
    values: Vec<SqlValue>,
    terms: Vec<TermCondition>,
}

/// Entries with a term at `path` meeting `condition`, which continues
/// `SELECT entry FROM audit_terms WHERE account_id = ? AND path = ?`.
#[derive(Debug)]
struct TermCondition {
    path: String,
    condition: String,
    values: Vec<SqlValue>,
}

impl TermCondition {
    fn subquery(&self) -> String {
        format!(
            "SELECT entry FROM audit_terms WHERE account_id = ? AND path = ?{}",
            self.condition
        )
    }

    fn parameters(&self, account: AccountId) -> Vec<SqlValue> {
        let mut all = vec![
            SqlValue::Integer(account.get()),
            SqlValue::Text(self.path.clone()),
        ];
        all.extend(self.values.iter().cloned());
        all
    }

    /// How many entries it holds, counting no further than `limit`: one bounded range of
    /// the terms index.
    fn count_up_to(
        &self,
        connection: &Connection,
        account: AccountId,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let mut parameters = self.parameters(account);
        parameters.push(SqlValue::Integer(limit as i64));
        let sql = format!("SELECT count(*) FROM ({} LIMIT ?)", self.subquery());
        Ok(connection
            .prepare_cached(&sql)?
            .query_row(params_from_iter(parameters), |row| row.get(0))?)
    }
}

impl Narrowing {
    fn push(&mut self, condition: String, values: impl IntoIterator<Item = SqlValue>) {
        self.conditions.push(condition);
        self.values.extend(values);
    }

    fn placeholders(count: usize) -> String {
        vec!["?"; count].join(", ")
    }

    /// Entries with a term at `path` meeting `condition` (over the column `term`).
    fn terms(&mut self, path: String, condition: &str, values: Vec<SqlValue>) {
        self.terms.push(TermCondition {
            path,
            condition: condition.to_owned(),
            values,
        });
    }

    /// Derives what SQL can check for each part of the query that must hold.
    fn derive(query: &FindQuery) -> Narrowing {
        let mut narrowing = Narrowing::default();
        for node in query.root().conjuncts() {
            if let Node::Test(test) = node {
                narrowing.add(&test.field, &test.operator, test.case_sensitive);
            }
        }
        narrowing
    }

    fn add(&mut self, field: &Field, operator: &Operator, case_sensitive: bool) {
        match field {
            Field::TimeGenerated => self.add_time(operator),
            Field::Type => self.add_folded("e.event_type_folded", operator),
            Field::EntityType => self.add_folded("e.entity_type_folded", operator),
            Field::Version => {}
            Field::Id => self.add_terms("id".to_owned(), operator, case_sensitive),
            Field::Details(path) => self.add_terms(format!(".{path}"), operator, case_sensitive),
        }
    }

    fn add_time(&mut self, operator: &Operator) {
        let millis = |scalar: &Scalar| match scalar {
            Scalar::Time(at) => Some(SqlValue::Integer(at.unix_millis())),
            _ => None,
        };
        let (comparison, value) = match operator {
            Operator::Eq(at) => ("=", at),
            Operator::Greater(at) => (">", at),
            Operator::GreaterOrEqual(at) => (">=", at),
            Operator::Less(at) => ("<", at),
            Operator::LessOrEqual(at) => ("<=", at),
            Operator::In(times) => {
                let values: Option<Vec<SqlValue>> = times.iter().map(millis).collect();
                if let Some(values) = values {
                    let condition = format!(
                        "e.time_generated IN ({})",
                        Narrowing::placeholders(values.len())
                    );
                    self.push(condition, values);
                }
                return;
            }
            _ => return,
        };
        if let Some(value) = millis(value) {
            self.push(format!("e.time_generated {comparison} ?"), [value]);
        }
    }

    /// A type or entity type: folded equality and prefixes, whatever the case setting
    /// (an exact match is also a folded one).
    fn add_folded(&mut self, column: &str, operator: &Operator) {
        let texts = |scalars: &[Scalar]| -> Option<Vec<SqlValue>> {
            scalars
                .iter()
                .map(|scalar| match scalar {
                    Scalar::Text(text) => Some(SqlValue::Text(fold(text))),
                    _ => None,
                })
                .collect()
        };
        match operator {
            Operator::Eq(Scalar::Text(text)) => {
                self.push(format!("{column} = ?"), [SqlValue::Text(fold(text))]);
            }
            Operator::In(scalars) => {
                if let Some(values) = texts(scalars) {
                    let condition =
                        format!("{column} IN ({})", Narrowing::placeholders(values.len()));
                    self.push(condition, values);
                }
            }
            Operator::StartsWith(prefix) => {
                let prefix = fold(prefix);
                match prefix_end(&prefix) {
                    Some(end) => self.push(
                        format!("{column} >= ? AND {column} < ?"),
                        [SqlValue::Text(prefix), SqlValue::Text(end)],
                    ),
                    None => self.push(format!("{column} >= ?"), [SqlValue::Text(prefix)]),
                }
            }
            _ => {}
        }
    }

    fn add_terms(&mut self, path: String, operator: &Operator, case_sensitive: bool) {
        let term = |scalar: &Scalar| match scalar {
            Scalar::Text(text) => SqlValue::Text(text_term(text)),
            Scalar::Number(number) => SqlValue::Real(*number),
            Scalar::Bool(_) | Scalar::Null | Scalar::Time(_) => presence(),
        };
        match operator {
            Operator::Eq(scalar) => self.terms(path, " AND term = ?", vec![term(scalar)]),
            Operator::In(scalars) if !scalars.is_empty() => {
                let values: Vec<SqlValue> = scalars.iter().map(term).collect();
                let condition = format!(" AND term IN ({})", Narrowing::placeholders(values.len()));
                self.terms(path, &condition, values);
            }
            Operator::StartsWith(prefix) => {
                let folded = fold(prefix);
                if folded.len() > TERM_BYTES {
                    // A string that starts with it has exactly its cut as its term.
                    self.terms(
                        path,
                        " AND term = ?",
                        vec![SqlValue::Text(text_term(prefix))],
                    );
                } else {
                    match prefix_end(&folded) {
                        Some(end) => self.terms(
                            path,
                            " AND term >= ? AND term < ?",
                            vec![SqlValue::Text(folded), SqlValue::Text(end)],
                        ),
                        // Only strings have text terms, and only text sorts at or after ''.
                        None => self.terms(
                            path,
                            " AND term >= ? AND term < ?",
                            vec![SqlValue::Text(folded), presence()],
                        ),
                    }
                }
            }
            Operator::Greater(Scalar::Number(number))
            | Operator::GreaterOrEqual(Scalar::Number(number)) => {
                // Only numbers and numeric strings compare with a number.
                self.terms(
                    path,
                    " AND term >= ? AND term < ''",
                    vec![SqlValue::Real(*number)],
                );
            }
            Operator::Less(Scalar::Number(number))
            | Operator::LessOrEqual(Scalar::Number(number)) => {
                self.terms(path, " AND term <= ?", vec![SqlValue::Real(*number)]);
            }
            Operator::Greater(Scalar::Text(text))
            | Operator::GreaterOrEqual(Scalar::Text(text))
                if !case_sensitive && numeric(text).is_none() =>
            {
                // Strings that fold to at least the query; a term is a prefix of its
                // string's folded form, so it is at least the query's term.
                self.terms(
                    path,
                    " AND term >= ? AND term < ?",
                    vec![SqlValue::Text(text_term(text)), presence()],
                );
            }
            Operator::Less(Scalar::Text(text)) | Operator::LessOrEqual(Scalar::Text(text))
                if !case_sensitive && numeric(text).is_none() =>
            {
                self.terms(
                    path,
                    " AND term >= '' AND term <= ?",
                    vec![SqlValue::Text(fold(text))],
                );
            }
            Operator::Search(_)
            | Operator::Greater(_)
            | Operator::GreaterOrEqual(_)
            | Operator::Less(_)
            | Operator::LessOrEqual(_)
            | Operator::Exists(true) => self.terms(path, "", Vec::new()),
            Operator::In(_) | Operator::NotEq(_) | Operator::NotIn(_) | Operator::Exists(false) => {
            }
        }
    }
}

/// The least string greater than every string that starts with `prefix`, if any: the
/// prefix with its last character moved one code point up (dropping characters that
/// cannot move).
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
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
            values.extend(first.parameters(account));
            format!(
                "SELECT {ENTRY_COLUMNS} FROM (SELECT DISTINCT entry FROM ({})) AS driver \
                 CROSS JOIN audit_entries e ON e.id = driver.entry WHERE e.account_id = ?",
                first.subquery()
            )
        }
    };
    values.push(SqlValue::Integer(account.get()));
    for condition in &narrowing.conditions {
        sql.push_str(" AND ");
        sql.push_str(condition);
    }
    values.extend(narrowing.values.iter().cloned());
    for terms in driving.iter().skip(1) {
        sql.push_str(&format!(" AND e.id IN ({})", terms.subquery()));
        values.extend(terms.parameters(account));
    }
    sql.push_str(" ORDER BY e.time_generated DESC, e.public_id DESC");
    if let Some(request) = sql_pages {
        let size = i64::from(request.size.get());
        let skip = i64::try_from(request.page)
            .unwrap_or(i64::MAX)
            .saturating_mul(size);
        sql.push_str(" LIMIT ? OFFSET ?");
        values.push(SqlValue::Integer(size + 1));
        values.push(SqlValue::Integer(skip));
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
    let size = request.size.get() as usize;
    let skip = request.page.saturating_mul(size as u64);
    let narrowing = query.map_or_else(Narrowing::default, Narrowing::derive);
    let mut driving = Vec::new();
    for terms in &narrowing.terms {
        // A set holding fewer than `driving_terms` entries drives: its entries are read,
        // sorted and evaluated. A larger one is left to the evaluator while entries are
        // read in result order, where a page fills long before such a set is read whole.
        let count = terms.count_up_to(connection, account, driving_terms)?;
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
    let mut skipped = 0_u64;
    let mut items = Vec::with_capacity(size + 1);
    while let Some(row) = rows.next()? {
        let entry = entry_from_row(row)?;
        if let Some(query) = query {
            if !query.matches(&entry) {
                continue;
            }
            if skipped < skip {
                skipped += 1;
                continue;
            }
        }
        items.push(entry);
        if items.len() > size {
            break;
        }
    }
    Ok(Page::from_overfetch(items, request.size))
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

/// A verification that stopped at a broken link.
fn broken_at(checked: u64, id: Option<AuditId>, seq: u64, reason: String) -> ChainVerification {
    ChainVerification {
        checked,
        broken: Some(BrokenLink { id, seq, reason }),
    }
}

/// Recomputes an account's chain from its first entry, hashing each entry's columns as
/// they are stored, and compares every stored hash; with an anchor, also checks that the
/// chain passes through it.
pub(super) fn verify(
    connection: &Connection,
    account: AccountId,
    anchor: Option<ChainAnchor>,
) -> Result<ChainVerification, StoreError> {
    if let Some(anchor) = anchor
        && anchor.entries == 0
        && anchor.head != ChainHash::GENESIS
    {
        return Ok(broken_at(
            0,
            None,
            0,
            "the digest states an empty chain with a non-empty head".into(),
        ));
    }
    let mut statement = connection.prepare(
        "SELECT seq, public_id, time_generated, recorded_at, entity_type, event_type, version, \
             details, hash FROM audit_entries WHERE account_id = ?1 ORDER BY seq",
    )?;
    let mut rows = statement.query([account.get()])?;
    let mut checked = 0_u64;
    let mut previous = ChainHash::GENESIS;
    while let Some(row) = rows.next()? {
        let seq: u64 = row.get(0)?;
        let id: String = row.get(1)?;
        let broken = |reason: String| broken_at(checked, AuditId::parse(&id).ok(), seq, reason);
        if seq != checked {
            return Ok(broken(format!(
                "it is entry {seq} where entry {checked} should be: entries are missing before it"
            )));
        }
        let text = |index: usize| -> rusqlite::Result<&str> { Ok(row.get_ref(index)?.as_str()?) };
        let link = ChainLink {
            account_id: account,
            seq,
            id: &id,
            time_generated: time(row, 2)?,
            recorded_at: time(row, 3)?,
            entity_type: text(4)?,
            event_type: text(5)?,
            version: text(6)?,
            details: text(7)?,
        };
        let expected = link.hash(&previous);
        if row.get_ref(8)?.as_blob()? != expected.as_bytes() {
            return Ok(broken(
                "its content or its place does not match its hash".into(),
            ));
        }
        previous = expected;
        checked += 1;
        if let Some(anchor) = anchor
            && anchor.entries == checked
            && anchor.head != previous
        {
            // Every hash is consistent, yet not the chain the digest saw: history up to
            // here was rewritten, hashes and all.
            return Ok(broken_at(
                0,
                AuditId::parse(&id).ok(),
                seq,
                format!(
                    "the chain up to this entry no longer matches the digest of its first {} entries: \
                     entries up to here were rewritten along with their hashes",
                    anchor.entries
                ),
            ));
        }
    }
    if let Some(anchor) = anchor
        && anchor.entries > checked
    {
        return Ok(broken_at(
            checked,
            None,
            checked,
            format!(
                "the digest covers {} entries but the chain now holds {checked}",
                anchor.entries
            ),
        ));
    }
    let (next_seq, head) = chain_head(connection, account)?;
    if next_seq != checked || head != previous {
        return Ok(broken_at(
            checked,
            None,
            checked,
            format!(
                "the chain holds {checked} entries but its head records {next_seq}: entries at its end are missing or its head was changed"
            ),
        ));
    }
    Ok(ChainVerification {
        checked,
        broken: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn terms_cover_every_value() {
        let id = AuditId::parse("42").unwrap();
        let details =
            json!({"a": "ÉTÉ", "n": 7, "s": "4201", "b": true, "o": {"k": null}, "l": ["x"]});
        let details = details.as_object().unwrap();
        let terms = terms_of(&id, details);
        let expected = vec![
            ("id", SqlValue::Text("42".into())),
            ("id", SqlValue::Real(42.0)),
            (".a", SqlValue::Text("été".into())),
            (".b", presence()),
            (".l", presence()),
            (".l", SqlValue::Text("x".into())),
            (".n", SqlValue::Real(7.0)),
            (".o", presence()),
            (".o.k", presence()),
            (".s", SqlValue::Text("4201".into())),
            (".s", SqlValue::Real(4201.0)),
        ];
        let found: Vec<(&str, SqlValue)> = terms
            .iter()
            .map(|(path, term)| (path.as_str(), term.clone()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn long_strings_are_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let term = text_term(&long);
        assert!(term.len() <= TERM_BYTES && term.len() > TERM_BYTES - 2);
        assert!(long.starts_with(&term));
    }

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

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("\u{10FFFF}"), None);
    }
}
