//! Operating log items: recording them under their operation, listing them with seed 004's
//! filters, and reading an operation's timings (or a period's) for statistics and charts.
//!
//! Each operation also keeps its items' timings in one blob (`operations.timings`), so that
//! statistics over a period read a row per operation instead of a row per item.
//!
//! How items are encoded (enumeration codes, the JSON of details and custom fields, the
//! timings blob) is shared with the PostgreSQL store: `crate::operating_codes`.

use std::collections::HashMap;

use pipelog_core::ids::{AccountId, AgentId, Label, OperatingItemId, OperationId, SourceId};
use pipelog_core::operating::{
    ActivityType, Category, ClientItemId, ItemText, ItemTiming, NewOperatingItem, OperatingItem,
    OperationType, StatusSeverity,
};
use pipelog_core::operating_stats::{AggregateStatistics, ComponentFilter, StatisticsAccumulator};
use pipelog_core::time::UtcTime;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::columns::{
    corrupt, optional_label, optional_time, optional_uuid_bytes, time, uuid_bytes,
};
use crate::operating_codes::{
    MAX_TIMINGS_BYTES, activity_code, custom_fields_from_json, custom_fields_json, decode_timings,
    details_from_json, details_json, encode_timing, from_code, operation_type_code,
    operation_type_codes,
};
use crate::{
    OperatingPage, OperatingQuery, OperationPosition, OperationWindow, RECENT_OPERATION_ITEMS,
    RecentOperation, StoreError,
};
use pipelog_core::paging::{Page, PageLimit, TimeRange};

const NOT_FOUND: StoreError = StoreError::NotFound {
    what: "operating log item",
};
const OPERATION_NOT_FOUND: StoreError = StoreError::NotFound { what: "operation" };

fn decode<T: Copy>(all: &[T], row: &Row<'_>, index: usize) -> rusqlite::Result<T> {
    let code: i64 = row.get(index)?;
    from_code(all, code).ok_or_else(|| corrupt(index, format!("unknown code {code}")))
}

fn decode_optional<T: Copy>(all: &[T], row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>> {
    match row.get::<_, Option<i64>>(index)? {
        None => Ok(None),
        Some(_) => decode(all, row, index).map(Some),
    }
}

fn severity(row: &Row<'_>, index: usize) -> rusqlite::Result<StatusSeverity> {
    let rank: i64 = row.get(index)?;
    StatusSeverity::from_rank(rank)
        .ok_or_else(|| corrupt(index, format!("unknown severity {rank}")))
}

/// Records `items` under their operations (created on first use) with `now` as their
/// `createdOn`. Runs inside the caller's savepoint: all or none.
pub(super) fn record(
    connection: &Connection,
    account: AccountId,
    items: &[NewOperatingItem],
    now: UtcTime,
) -> Result<Vec<OperatingItem>, StoreError> {
    // Looked up, then inserted when new: an upsert with RETURNING would open a statement
    // journal per item, which cost half the time of a batch in a profile.
    let mut find_operation = connection
        .prepare_cached("SELECT id FROM operations WHERE account_id = ?1 AND public_id = ?2")?;
    let mut insert_operation = connection.prepare_cached(
        "INSERT INTO operations (account_id, public_id, first_at) VALUES (?1, ?2, ?3)",
    )?;
    let mut operations: HashMap<OperationId, i64> = HashMap::new();
    // Each operation's timing records from this batch, appended once per operation.
    let mut appended: HashMap<i64, Vec<u8>> = HashMap::new();
    let mut insert = connection.prepare_cached(
        "INSERT INTO operating_items (public_id, account_id, operation, operation_type, \
         activity_type, severity, system_level, created_on, event_time, utc_timestamp, \
         source_id, publisher_source_id, agent_id, agent_code, scope_id, category, source, \
         message, details, custom_fields, client_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
         ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    )?;
    let mut recorded: Vec<OperatingItem> = Vec::with_capacity(items.len());
    // Items of this batch by client id: a repeat is answered as the first.
    let mut by_client_id: HashMap<&str, usize> = HashMap::new();
    for item in items {
        if let Some(client_id) = &item.client_id {
            let known = match by_client_id.get(client_id.as_str()) {
                Some(&index) => Some(recorded[index].clone()),
                None => stored_by_client_id(connection, account, client_id)?,
            };
            if let Some(known) = known {
                recorded.push(known);
                continue;
            }
            by_client_id.insert(client_id.as_str(), recorded.len());
        }
        let operation = match operations.get(&item.operation_id) {
            Some(&rowid) => rowid,
            None => {
                let found = find_operation
                    .query_row(
                        params![account.get(), item.operation_id.as_bytes()],
                        |row| row.get(0),
                    )
                    .optional()?;
                let rowid = match found {
                    Some(rowid) => rowid,
                    None => {
                        insert_operation.execute(params![
                            account.get(),
                            item.operation_id.as_bytes(),
                            now.unix_millis()
                        ])?;
                        connection.last_insert_rowid()
                    }
                };
                operations.insert(item.operation_id, rowid);
                rowid
            }
        };
        let id = OperatingItemId::generate();
        insert.execute(params![
            id.as_bytes(),
            account.get(),
            operation,
            i64::from(operation_type_code(item.operation_type)),
            item.activity_type
                .map(|activity| i64::from(activity_code(activity))),
            item.severity.rank(),
            item.system_level,
            now.unix_millis(),
            item.utc_timestamp.unwrap_or(now).unix_millis(),
            item.utc_timestamp.map(UtcTime::unix_millis),
            item.source_id.as_ref().map(SourceId::as_bytes),
            item.publisher_source_id.as_ref().map(SourceId::as_bytes),
            item.agent_id.as_ref().map(AgentId::as_bytes),
            item.agent_code.as_ref().map(|code| code.as_str()),
            item.scope_id.as_ref().map(|scope| scope.as_str()),
            item.category.to_string(),
            item.source.as_ref().map(|source| source.as_str()),
            item.message.as_ref().map(ItemText::as_str),
            details_json(&item.details),
            custom_fields_json(&item.custom_fields),
            item.client_id.as_ref().map(Label::as_str),
        ])?;
        let stored = OperatingItem {
            id,
            created_on: now,
            item: item.clone(),
        };
        encode_timing(&stored.timing(), appended.entry(operation).or_default());
        recorded.push(stored);
    }
    let mut read_timings = connection
        .prepare_cached("SELECT timings FROM operations WHERE id = ?1 AND timings_complete = 1")?;
    let mut write_timings = connection.prepare_cached(
        "UPDATE operations SET timings = ?1, timings_complete = ?2 WHERE id = ?3",
    )?;
    for (operation, records) in appended {
        let Some(mut timings) = read_timings
            .query_row([operation], |row| row.get::<_, Vec<u8>>(0))
            .optional()?
        else {
            // Past the bound already: its statistics read its items.
            continue;
        };
        let complete = timings.len() + records.len() <= MAX_TIMINGS_BYTES;
        if complete {
            timings.extend_from_slice(&records);
        } else {
            timings.clear();
        }
        write_timings.execute(params![timings, complete, operation])?;
    }
    Ok(recorded)
}

const ITEM_SELECT: &str = "SELECT i.public_id, o.public_id, i.operation_type, i.activity_type, \
     i.severity, i.system_level, i.created_on, i.utc_timestamp, i.source_id, \
     i.publisher_source_id, i.agent_id, i.agent_code, i.scope_id, i.category, i.source, \
     i.message, i.details, i.custom_fields, i.client_id \
     FROM operating_items i JOIN operations o ON o.id = i.operation";

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<OperatingItem> {
    let details = details_from_json(row.get_ref(16)?.as_str_or_null()?)
        .map_err(|problem| corrupt(16, problem))?;
    let custom_fields = custom_fields_from_json(row.get_ref(17)?.as_str_or_null()?)
        .map_err(|problem| corrupt(17, problem))?;
    Ok(OperatingItem {
        id: OperatingItemId::from_bytes(uuid_bytes(row, 0)?),
        created_on: time(row, 6)?,
        item: NewOperatingItem {
            operation_id: OperationId::from_bytes(uuid_bytes(row, 1)?),
            operation_type: decode(OperationType::ALL, row, 2)?,
            activity_type: decode_optional(ActivityType::ALL, row, 3)?,
            severity: severity(row, 4)?,
            system_level: row.get(5)?,
            utc_timestamp: optional_time(row, 7)?,
            source_id: optional_uuid_bytes(row, 8)?.map(SourceId::from_bytes),
            publisher_source_id: optional_uuid_bytes(row, 9)?.map(SourceId::from_bytes),
            agent_id: optional_uuid_bytes(row, 10)?.map(AgentId::from_bytes),
            agent_code: optional_label(row, 11)?,
            scope_id: optional_label(row, 12)?,
            category: Category::from_stored(row.get_ref(13)?.as_str()?),
            source: optional_label(row, 14)?,
            message: row.get::<_, Option<String>>(15)?.map(ItemText::from_stored),
            details,
            custom_fields,
            client_id: optional_label(row, 18)?,
        },
    })
}

/// The account's item with this client id, if it recorded one.
fn stored_by_client_id(
    connection: &Connection,
    account: AccountId,
    client_id: &ClientItemId,
) -> Result<Option<OperatingItem>, StoreError> {
    let item = connection
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE i.account_id = ?1 AND i.client_id = ?2"
        ))?
        .query_row(params![account.get(), client_id.as_str()], item_from_row)
        .optional()?;
    Ok(item)
}

pub(super) fn get(
    connection: &Connection,
    account: AccountId,
    id: OperatingItemId,
) -> Result<OperatingItem, StoreError> {
    connection
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE i.public_id = ?1 AND i.account_id = ?2"
        ))?
        .query_row(params![id.as_bytes(), account.get()], item_from_row)
        .optional()?
        .ok_or(NOT_FOUND)
}

fn operation_rowid(
    connection: &Connection,
    account: AccountId,
    operation: OperationId,
) -> Result<Option<i64>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT id FROM operations WHERE account_id = ?1 AND public_id = ?2")?
        .query_row(params![account.get(), operation.as_bytes()], |row| {
            row.get(0)
        })
        .optional()?)
}

/// The `WHERE` clause of a list and its parameters.
struct Conditions {
    clauses: Vec<String>,
    values: Vec<SqlValue>,
}

impl Conditions {
    /// Adds `clause`, numbering its `?` placeholders after those already taken.
    fn push(&mut self, clause: &str, values: impl IntoIterator<Item = SqlValue>) {
        let mut values = values.into_iter();
        let mut numbered = String::with_capacity(clause.len() + 8);
        for character in clause.chars() {
            numbered.push(character);
            if character == '?'
                && let Some(value) = values.next()
            {
                self.values.push(value);
                numbered.push_str(&self.values.len().to_string());
            }
        }
        self.clauses.push(numbered);
    }
}

fn blob(bytes: &[u8; 16]) -> SqlValue {
    SqlValue::Blob(bytes.to_vec())
}

/// The conditions of a list. Each is written so that SQLite's planner, which has no
/// statistics to go by, picks the narrowest index: an operation's items through the
/// operation's index (its rowid was found within the account already, so the account is
/// not restated), a publisher's view through the two source indexes.
fn conditions(account: AccountId, operation: Option<i64>, query: &OperatingQuery) -> Conditions {
    let mut conditions = Conditions {
        clauses: Vec::new(),
        values: Vec::new(),
    };
    let publisher_view = query.scope.is_some_and(|scope| scope.is_publisher_side());
    match (operation, query.source_id) {
        (Some(operation), _) => {
            conditions.push("i.operation = ?", [SqlValue::Integer(operation)]);
        }
        (None, Some(source)) if publisher_view => {
            // An OR over two columns would make SQLite scan the whole account.
            conditions.push(
                "i.id IN (SELECT id FROM operating_items WHERE account_id = ? AND source_id = ? \
                 UNION SELECT id FROM operating_items WHERE account_id = ? AND publisher_source_id = ?)",
                [
                    SqlValue::Integer(account.get()),
                    blob(source.as_bytes()),
                    SqlValue::Integer(account.get()),
                    blob(source.as_bytes()),
                ],
            );
        }
        (None, _) => conditions.push("i.account_id = ?", [SqlValue::Integer(account.get())]),
    }
    if let Some(scope) = query.scope {
        let codes = operation_type_codes(scope);
        conditions.push(&format!("i.operation_type IN ({codes})"), []);
    }
    if let Some(source) = query.source_id {
        if publisher_view {
            if operation.is_some() {
                conditions.push(
                    "(i.source_id = ? OR i.publisher_source_id = ?)",
                    [blob(source.as_bytes()), blob(source.as_bytes())],
                );
            }
        } else {
            conditions.push("i.source_id = ?", [blob(source.as_bytes())]);
        }
    }
    if !query.include_system_level {
        conditions.push("i.system_level = 0", []);
    }
    if let Some(severity) = query.min_severity {
        conditions.push("i.severity >= ?", [SqlValue::Integer(severity.rank())]);
    }
    if let Some(agent) = query.agent_id {
        conditions.push("i.agent_id = ?", [blob(agent.as_bytes())]);
    }
    if let Some(code) = &query.agent_code {
        conditions.push(
            "i.agent_code = ?",
            [SqlValue::Text(code.as_str().to_owned())],
        );
    }
    if let Some(from) = query.created_from {
        conditions.push("i.created_on >= ?", [SqlValue::Integer(from.unix_millis())]);
    }
    if let Some(to) = query.created_to {
        conditions.push("i.created_on <= ?", [SqlValue::Integer(to.unix_millis())]);
    }
    conditions
}

/// A page of the items `query` selects, oldest first, and their total. Without an
/// operation the list runs on the `(account, created_on)` index (or a source's), whose
/// order is the answer's.
pub(super) fn list(
    connection: &Connection,
    account: AccountId,
    query: &OperatingQuery,
) -> Result<OperatingPage, StoreError> {
    let operation = match query.operation {
        None => None,
        Some(id) => match operation_rowid(connection, account, id)? {
            Some(rowid) => Some(rowid),
            None => {
                return Ok(OperatingPage {
                    total: 0,
                    items: Vec::new(),
                });
            }
        },
    };
    let conditions = conditions(account, operation, query);
    let filter = conditions.clauses.join(" AND ");
    let total: i64 = connection
        .prepare_cached(&format!(
            "SELECT count(*) FROM operating_items i WHERE {filter}"
        ))?
        .query_row(params_from_iter(conditions.values.iter()), |row| row.get(0))?;
    let mut values = conditions.values.clone();
    values.push(SqlValue::Integer(i64::from(query.limit)));
    values.push(SqlValue::Integer(
        i64::try_from(query.offset).unwrap_or(i64::MAX),
    ));
    let (limit_at, offset_at) = (values.len() - 1, values.len());
    let mut statement = connection.prepare_cached(&format!(
        "{ITEM_SELECT} WHERE {filter} ORDER BY i.created_on, i.id LIMIT ?{limit_at} OFFSET ?{offset_at}"
    ))?;
    let items = statement
        .query_map(params_from_iter(values.iter()), item_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(OperatingPage {
        total: u64::try_from(total).unwrap_or(0),
        items,
    })
}

pub(super) fn operation_items(
    connection: &Connection,
    account: AccountId,
    operation: OperationId,
    limit: usize,
) -> Result<Vec<OperatingItem>, StoreError> {
    let rowid = operation_rowid(connection, account, operation)?.ok_or(OPERATION_NOT_FOUND)?;
    let mut statement = connection.prepare_cached(&format!(
        "{ITEM_SELECT} WHERE i.operation = ?1 ORDER BY i.id LIMIT ?2"
    ))?;
    let items = statement
        .query_map(
            params![rowid, i64::try_from(limit).unwrap_or(i64::MAX)],
            item_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(items)
}

/// The columns statistics read of an item.
const TIMING_COLUMNS: &str = "i.public_id, i.operation_type, i.activity_type, i.severity, \
     i.source_id, i.scope_id, i.event_time";

fn timing_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<ItemTiming> {
    Ok(ItemTiming {
        id: OperatingItemId::from_bytes(uuid_bytes(row, at)?),
        operation_type: decode(OperationType::ALL, row, at + 1)?,
        activity_type: decode_optional(ActivityType::ALL, row, at + 2)?,
        severity: severity(row, at + 3)?,
        source_id: optional_uuid_bytes(row, at + 4)?.map(SourceId::from_bytes),
        scope_id: optional_label(row, at + 5)?,
        at: time(row, at + 6)?,
    })
}

pub(super) fn operation_timings(
    connection: &Connection,
    account: AccountId,
    operation: OperationId,
    limit: usize,
) -> Result<Vec<ItemTiming>, StoreError> {
    let rowid = operation_rowid(connection, account, operation)?.ok_or(OPERATION_NOT_FOUND)?;
    timings_of(connection, rowid, limit)
}

fn timings_of(
    connection: &Connection,
    operation: i64,
    limit: usize,
) -> Result<Vec<ItemTiming>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {TIMING_COLUMNS} FROM operating_items i WHERE i.operation = ?1 \
         ORDER BY i.id LIMIT ?2"
    ))?;
    let timings = statement
        .query_map(
            params![operation, i64::try_from(limit).unwrap_or(i64::MAX)],
            |row| timing_from_row(row, 0),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(timings)
}

/// The account's operations newest first, each with its timing records (or, past their
/// size bound, its first items').
pub(super) fn recent_operations(
    connection: &Connection,
    account: AccountId,
    window: TimeRange,
    before: Option<OperationPosition>,
    limit: PageLimit,
) -> Result<Page<RecentOperation>, StoreError> {
    let (before_at, before_id) = match before {
        Some(position) => (
            Some(position.first_at.unix_millis()),
            Some(position.operation.as_bytes().to_vec()),
        ),
        None => (None, None),
    };
    let mut statement = connection.prepare_cached(
        "SELECT id, public_id, first_at, timings, timings_complete FROM operations \
         WHERE account_id = ?1 AND (?2 IS NULL OR first_at >= ?2) AND (?3 IS NULL OR first_at < ?3) \
         AND (?4 IS NULL OR first_at < ?4 OR (first_at = ?4 AND public_id < ?5)) \
         ORDER BY first_at DESC, public_id DESC LIMIT ?6",
    )?;
    let mut rows = statement.query(params![
        account.get(),
        window.from.map(UtcTime::unix_millis),
        window.to.map(UtcTime::unix_millis),
        before_at,
        before_id,
        limit.get() + 1
    ])?;
    let mut operations = Vec::new();
    while let Some(row) = rows.next()? {
        let mut timings = Vec::new();
        let complete = row.get::<_, bool>(4)?;
        if complete {
            decode_timings(row.get_ref(3)?.as_blob()?, &mut timings)
                .map_err(|problem| StoreError::from(corrupt(3, problem)))?;
        } else {
            timings = timings_of(connection, row.get(0)?, RECENT_OPERATION_ITEMS)?;
        }
        operations.push(RecentOperation {
            operation: OperationId::from_bytes(uuid_bytes(row, 1)?),
            first_at: time(row, 2)?,
            complete: complete || timings.len() < RECENT_OPERATION_ITEMS,
            timings,
        });
    }
    Ok(Page::from_overfetch(operations, limit))
}

pub(super) fn count_operations(
    connection: &Connection,
    account: AccountId,
    window: OperationWindow,
) -> Result<u64, StoreError> {
    let count: i64 = connection
        .prepare_cached(
            "SELECT count(*) FROM operations \
             WHERE account_id = ?1 AND first_at >= ?2 AND first_at <= ?3",
        )?
        .query_row(
            params![
                account.get(),
                window.from.unix_millis(),
                window.to.unix_millis()
            ],
            |row| row.get(0),
        )?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Feeds the accumulator one operation at a time, from each operation's timing records:
/// one row per operation, not per item. An operation whose records stopped at the size
/// bound has its items read instead.
pub(super) fn statistics(
    connection: &Connection,
    account: AccountId,
    window: OperationWindow,
    filter: ComponentFilter,
) -> Result<AggregateStatistics, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT id, public_id, timings, timings_complete FROM operations \
         WHERE account_id = ?1 AND first_at >= ?2 AND first_at <= ?3 ORDER BY first_at, id",
    )?;
    let mut rows = statement.query(params![
        account.get(),
        window.from.unix_millis(),
        window.to.unix_millis()
    ])?;
    let mut accumulator = StatisticsAccumulator::new(filter);
    let mut timings = Vec::new();
    while let Some(row) = rows.next()? {
        let operation = OperationId::from_bytes(uuid_bytes(row, 1)?);
        timings.clear();
        if row.get::<_, bool>(3)? {
            decode_timings(row.get_ref(2)?.as_blob()?, &mut timings)
                .map_err(|problem| StoreError::from(corrupt(2, problem)))?;
        } else {
            let rowid: i64 = row.get(0)?;
            timings.extend(timings_of(connection, rowid, usize::MAX)?);
        }
        accumulator.add(operation, &timings);
    }
    Ok(accumulator.finish())
}
