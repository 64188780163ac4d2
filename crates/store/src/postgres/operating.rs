//! Operating log items on PostgreSQL: recording them under their operation, listing them
//! with seed 004's filters, and reading an operation's timings (or a period's) for
//! statistics and charts.
//!
//! As in the embedded store, each operation keeps its items' timing records in one blob
//! (`operations.timings`), so that statistics over a period read a row per operation; the
//! codes, the blob's format and its size bound are `crate::operating_codes`'. Nodes may
//! record items of one operation at once: each appends its records in an `UPDATE` of the
//! operation's row, which holds the row's lock and sees the row as the last append left
//! it, so every append lands.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use pipelog_core::ids::{AccountId, AgentId, Label, OperatingItemId, OperationId, SourceId};
use pipelog_core::operating::{
    ActivityType, Category, ItemText, ItemTiming, NewOperatingItem, OperatingItem, OperationScope,
    OperationType, StatusSeverity,
};
use pipelog_core::operating_stats::{AggregateStatistics, ComponentFilter, StatisticsAccumulator};
use pipelog_core::time::UtcTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::Db;
use super::columns::{
    self, count, decoded, optional_label, optional_time, optional_uuid_bytes, time, uuid,
    uuid_bytes,
};
use crate::operating_codes::{
    MAX_TIMINGS_BYTES, activity_code, custom_fields_from_json, custom_fields_json, decode_timings,
    details_from_json, details_json, encode_timing, from_code, operation_type_code,
    operation_type_codes, severity_code,
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

/// Operations read per statement when gathering a period's statistics: with blobs of at
/// most `MAX_TIMINGS_BYTES`, a page holds at most 16 MiB of them.
const STATISTICS_PAGE: i64 = 256;

/// What answers an item of a batch.
enum Answer<'a> {
    /// The new item at this index of the batch's new items (the first with its client id).
    New(usize),
    /// The item the account holds under this client id.
    Stored(&'a str),
}

/// Records `items` under their operations (created on first use) with `now` as their
/// `createdOn`. An item whose client id the account holds already, or an earlier item of
/// the batch has, is answered as that one and not recorded again. Runs inside the caller's
/// savepoint: all or none.
///
/// A batch costs the same few statements whatever its size: its client ids looked up, its
/// operations made sure of, its items inserted from one array per column, their timing
/// records appended.
pub(super) async fn record(
    db: &Db,
    account: AccountId,
    items: &[NewOperatingItem],
    now: UtcTime,
) -> Result<Vec<OperatingItem>, StoreError> {
    let client_ids: Vec<&str> = items.iter().filter_map(client_id).collect();
    let mut stored = stored_by_client_id(db, account, &client_ids).await?;
    let mut new_items: Vec<OperatingItem> = Vec::with_capacity(items.len());
    let mut answers = Vec::with_capacity(items.len());
    let mut first_in_batch: HashMap<&str, usize> = HashMap::new();
    for item in items {
        if let Some(client_id) = client_id(item) {
            if stored.contains_key(client_id) {
                answers.push(Answer::Stored(client_id));
                continue;
            }
            if let Some(&index) = first_in_batch.get(client_id) {
                answers.push(Answer::New(index));
                continue;
            }
            first_in_batch.insert(client_id, new_items.len());
        }
        answers.push(Answer::New(new_items.len()));
        new_items.push(OperatingItem {
            id: OperatingItemId::generate(),
            created_on: now,
            item: item.clone(),
        });
    }
    let inserted = record_new(db, account, &new_items, now).await?;
    // A new item left out lost a race: another node recorded its client id after the
    // lookup above. It is answered as that node's item.
    let lost: Vec<&str> = new_items
        .iter()
        .filter(|item| !inserted.contains(&item.id))
        .filter_map(|item| client_id(&item.item))
        .collect();
    stored.extend(stored_by_client_id(db, account, &lost).await?);
    answers
        .into_iter()
        .map(|answer| {
            let stored_under = match answer {
                Answer::New(index) if inserted.contains(&new_items[index].id) => {
                    return Ok(new_items[index].clone());
                }
                Answer::New(index) => client_id(&new_items[index].item),
                Answer::Stored(client_id) => Some(client_id),
            };
            stored_under
                .and_then(|client_id| stored.get(client_id).cloned())
                .ok_or_else(|| StoreError::Backend("an operating item was not recorded".into()))
        })
        .collect()
}

/// Records new items: their operations made sure of, the items inserted, and the timing
/// records of those inserted appended. Says which were inserted: all but those whose client
/// id another node recorded first.
async fn record_new(
    db: &Db,
    account: AccountId,
    items: &[OperatingItem],
    now: UtcTime,
) -> Result<HashSet<OperatingItemId>, StoreError> {
    if items.is_empty() {
        return Ok(HashSet::new());
    }
    create_operations(db, account, items, now).await?;
    let inserted = insert_items(db, account, items, now).await?;
    let appended = items.iter().filter(|item| inserted.contains(&item.id));
    append_timings(db, account, appended).await?;
    Ok(inserted)
}

fn client_id(item: &NewOperatingItem) -> Option<&str> {
    item.client_id.as_ref().map(Label::as_str)
}

/// The account's items with these client ids, by client id.
async fn stored_by_client_id(
    db: &Db,
    account: AccountId,
    client_ids: &[&str],
) -> Result<HashMap<String, OperatingItem>, StoreError> {
    if client_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let statement = db
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE i.account_id = $1 AND i.client_id = ANY($2)"
        ))
        .await?;
    let mut stored = HashMap::new();
    for row in db.query(&statement, &[&account.get(), &client_ids]).await? {
        let item = item_from_row(&row)?;
        if let Some(client_id) = client_id(&item.item) {
            stored.insert(client_id.to_owned(), item);
        }
    }
    Ok(stored)
}

/// Creates the operations of `items` the account does not have yet. When two nodes create
/// one at once, the second waits for the first's row and then leaves it be.
async fn create_operations(
    db: &Db,
    account: AccountId,
    items: &[OperatingItem],
    now: UtcTime,
) -> Result<(), StoreError> {
    // In one order, so that two nodes' batches over the same new operations wait for each
    // other rather than deadlock.
    let operations: BTreeSet<OperationId> =
        items.iter().map(|item| item.item.operation_id).collect();
    let operations: Vec<uuid::Uuid> = operations
        .iter()
        .map(|operation| uuid(operation.as_bytes()))
        .collect();
    let statement = db
        .prepare_cached(
            "INSERT INTO operations (account_id, public_id, first_at) \
             SELECT $1::bigint, public_id, $3::bigint FROM unnest($2::uuid[]) AS batch (public_id) \
             ON CONFLICT (account_id, public_id) DO NOTHING",
        )
        .await?;
    db.execute(
        &statement,
        &[&account.get(), &operations, &now.unix_millis()],
    )
    .await?;
    Ok(())
}

/// Inserts `items` (whose operations exist) in their order, so that their keys follow it,
/// and says which were inserted. One statement for the whole batch, its values one array
/// per column: a statement per item would cost a round trip per item, and a batch may hold
/// thousands.
async fn insert_items(
    db: &Db,
    account: AccountId,
    items: &[OperatingItem],
    now: UtcTime,
) -> Result<HashSet<OperatingItemId>, StoreError> {
    let columns = ItemColumns::of(items);
    let statement = db
        .prepare_cached(
            "INSERT INTO operating_items (account_id, operation, public_id, operation_type, \
             activity_type, severity, system_level, created_on, event_time, utc_timestamp, \
             source_id, publisher_source_id, agent_id, agent_code, scope_id, category, source, \
             message, details, custom_fields, client_id) \
             SELECT $1::bigint, o.id, batch.public_id, batch.operation_type, batch.activity_type, \
             batch.severity, batch.system_level, $2::bigint, batch.event_time, \
             batch.utc_timestamp, batch.source_id, batch.publisher_source_id, batch.agent_id, \
             batch.agent_code, batch.scope_id, batch.category, batch.source, batch.message, \
             batch.details, batch.custom_fields, batch.client_id \
             FROM unnest($3::uuid[], $4::uuid[], $5::smallint[], $6::smallint[], $7::smallint[], \
             $8::boolean[], $9::bigint[], $10::bigint[], $11::uuid[], $12::uuid[], $13::uuid[], \
             $14::text[], $15::text[], $16::text[], $17::text[], $18::bytea[], $19::text[], \
             $20::text[], $21::text[]) WITH ORDINALITY AS batch (operation_public_id, \
             public_id, operation_type, activity_type, severity, system_level, event_time, \
             utc_timestamp, source_id, publisher_source_id, agent_id, agent_code, scope_id, \
             category, source, message, details, custom_fields, client_id, position) \
             JOIN operations o ON o.account_id = $1 AND o.public_id = batch.operation_public_id \
             ORDER BY batch.position \
             ON CONFLICT (account_id, client_id) WHERE client_id IS NOT NULL DO NOTHING \
             RETURNING public_id",
        )
        .await?;
    let rows = db
        .query(
            &statement,
            &[
                &account.get(),
                &now.unix_millis(),
                &columns.operation_ids,
                &columns.ids,
                &columns.operation_types,
                &columns.activity_types,
                &columns.severities,
                &columns.system_levels,
                &columns.event_times,
                &columns.utc_timestamps,
                &columns.source_ids,
                &columns.publisher_source_ids,
                &columns.agent_ids,
                &columns.agent_codes,
                &columns.scope_ids,
                &columns.categories,
                &columns.sources,
                &columns.messages,
                &columns.details,
                &columns.custom_fields,
                &columns.client_ids,
            ],
        )
        .await?;
    rows.iter()
        .map(|row| uuid_bytes(row, 0).map(OperatingItemId::from_bytes))
        .collect()
}

/// Items as one array per column, for one `INSERT ... SELECT FROM unnest(...)`.
#[derive(Default)]
struct ItemColumns<'a> {
    operation_ids: Vec<uuid::Uuid>,
    ids: Vec<uuid::Uuid>,
    operation_types: Vec<i16>,
    activity_types: Vec<Option<i16>>,
    severities: Vec<i16>,
    system_levels: Vec<bool>,
    event_times: Vec<i64>,
    utc_timestamps: Vec<Option<i64>>,
    source_ids: Vec<Option<uuid::Uuid>>,
    publisher_source_ids: Vec<Option<uuid::Uuid>>,
    agent_ids: Vec<Option<uuid::Uuid>>,
    agent_codes: Vec<Option<&'a str>>,
    scope_ids: Vec<Option<&'a str>>,
    categories: Vec<String>,
    sources: Vec<Option<&'a str>>,
    messages: Vec<Option<&'a [u8]>>,
    details: Vec<Option<String>>,
    custom_fields: Vec<Option<String>>,
    client_ids: Vec<Option<&'a str>>,
}

impl<'a> ItemColumns<'a> {
    fn of(items: &'a [OperatingItem]) -> Self {
        let mut columns = ItemColumns::default();
        for stored in items {
            let item = &stored.item;
            columns
                .operation_ids
                .push(uuid(item.operation_id.as_bytes()));
            columns.ids.push(uuid(stored.id.as_bytes()));
            columns
                .operation_types
                .push(i16::from(operation_type_code(item.operation_type)));
            columns.activity_types.push(
                item.activity_type
                    .map(|activity| i16::from(activity_code(activity))),
            );
            columns
                .severities
                .push(i16::from(severity_code(item.severity)));
            columns.system_levels.push(item.system_level);
            columns.event_times.push(stored.event_time().unix_millis());
            columns
                .utc_timestamps
                .push(item.utc_timestamp.map(UtcTime::unix_millis));
            columns
                .source_ids
                .push(item.source_id.map(|id| uuid(id.as_bytes())));
            columns
                .publisher_source_ids
                .push(item.publisher_source_id.map(|id| uuid(id.as_bytes())));
            columns
                .agent_ids
                .push(item.agent_id.map(|id| uuid(id.as_bytes())));
            columns
                .agent_codes
                .push(item.agent_code.as_ref().map(Label::as_str));
            columns
                .scope_ids
                .push(item.scope_id.as_ref().map(Label::as_str));
            columns.categories.push(item.category.to_string());
            columns
                .sources
                .push(item.source.as_ref().map(Label::as_str));
            columns
                .messages
                .push(item.message.as_ref().map(|text| text.as_str().as_bytes()));
            columns.details.push(details_json(&item.details));
            columns
                .custom_fields
                .push(custom_fields_json(&item.custom_fields));
            columns
                .client_ids
                .push(item.client_id.as_ref().map(Label::as_str));
        }
        columns
    }
}

/// Appends the timing records of `items` to their operations' blobs, under each row's
/// lock. An operation already past the size bound takes no more; one that goes past it
/// now is emptied and marked incomplete, and its statistics read its items instead.
async fn append_timings(
    db: &Db,
    account: AccountId,
    items: impl Iterator<Item = &OperatingItem>,
) -> Result<(), StoreError> {
    // Operations in one order, as in `create_operations`.
    let mut appended: BTreeMap<OperationId, Vec<u8>> = BTreeMap::new();
    for item in items {
        encode_timing(
            &item.timing(),
            appended.entry(item.item.operation_id).or_default(),
        );
    }
    if appended.is_empty() {
        return Ok(());
    }
    let (operations, records): (Vec<uuid::Uuid>, Vec<Vec<u8>>) = appended
        .into_iter()
        .map(|(operation, records)| (uuid(operation.as_bytes()), records))
        .unzip();
    // The new length is computed from the row the UPDATE locked, which is the latest: an
    // append committed meanwhile by another node is kept and counted.
    let statement = db
        .prepare_cached(
            "UPDATE operations o \
             SET timings = CASE \
                 WHEN octet_length(o.timings) + octet_length(batch.records) <= $4::bigint \
                 THEN o.timings || batch.records ELSE '\\x'::bytea END, \
             timings_complete = \
                 octet_length(o.timings) + octet_length(batch.records) <= $4::bigint \
             FROM unnest($2::uuid[], $3::bytea[]) AS batch (public_id, records) \
             WHERE o.account_id = $1 AND o.public_id = batch.public_id AND o.timings_complete",
        )
        .await?;
    let bound = i64::try_from(MAX_TIMINGS_BYTES).unwrap_or(i64::MAX);
    db.execute(&statement, &[&account.get(), &operations, &records, &bound])
        .await?;
    Ok(())
}

/// The columns an item is read from, in `item_from_row`'s order. The join restates the
/// account, as every join between tenant tables does.
const ITEM_SELECT: &str = "SELECT i.public_id, o.public_id, i.operation_type, i.activity_type, \
     i.severity, i.system_level, i.created_on, i.utc_timestamp, i.source_id, \
     i.publisher_source_id, i.agent_id, i.agent_code, i.scope_id, i.category, i.source, \
     i.message, i.details, i.custom_fields, i.client_id \
     FROM operating_items i \
     JOIN operations o ON o.account_id = i.account_id AND o.id = i.operation";

fn item_from_row(row: &Row) -> Result<OperatingItem, StoreError> {
    Ok(OperatingItem {
        id: OperatingItemId::from_bytes(uuid_bytes(row, 0)?),
        created_on: time(row, 6)?,
        item: NewOperatingItem {
            operation_id: OperationId::from_bytes(uuid_bytes(row, 1)?),
            operation_type: operation_type(row, 2)?,
            activity_type: activity_type(row, 3)?,
            severity: severity(row, 4)?,
            system_level: columns::get(row, 5)?,
            utc_timestamp: optional_time(row, 7)?,
            source_id: optional_uuid_bytes(row, 8)?.map(SourceId::from_bytes),
            publisher_source_id: optional_uuid_bytes(row, 9)?.map(SourceId::from_bytes),
            agent_id: optional_uuid_bytes(row, 10)?.map(AgentId::from_bytes),
            agent_code: optional_label(row, 11)?,
            scope_id: optional_label(row, 12)?,
            category: Category::from_stored(columns::get(row, 13)?),
            source: optional_label(row, 14)?,
            message: columns::optional_utf8(row, 15)?.map(ItemText::from_stored),
            details: decoded(row, 16, details_from_json)?,
            custom_fields: decoded(row, 17, custom_fields_from_json)?,
            client_id: optional_label(row, 18)?,
        },
    })
}

/// The value of `all` a stored `smallint` code stands for.
fn code_of<T: Copy>(all: &[T], code: i16) -> Result<T, String> {
    from_code(all, i64::from(code)).ok_or_else(|| format!("unknown code {code}"))
}

fn operation_type(row: &Row, index: usize) -> Result<OperationType, StoreError> {
    decoded(row, index, |code| code_of(OperationType::ALL, code))
}

fn activity_type(row: &Row, index: usize) -> Result<Option<ActivityType>, StoreError> {
    decoded(row, index, |code: Option<i16>| {
        code.map(|code| code_of(ActivityType::ALL, code))
            .transpose()
    })
}

fn severity(row: &Row, index: usize) -> Result<StatusSeverity, StoreError> {
    decoded(row, index, |rank: i16| {
        StatusSeverity::from_rank(i64::from(rank)).ok_or_else(|| format!("unknown severity {rank}"))
    })
}

pub(super) async fn get(
    db: &Db,
    account: AccountId,
    id: OperatingItemId,
) -> Result<OperatingItem, StoreError> {
    let statement = db
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE i.account_id = $1 AND i.public_id = $2"
        ))
        .await?;
    match db
        .query_opt(&statement, &[&account.get(), &uuid(id.as_bytes())])
        .await?
    {
        Some(row) => item_from_row(&row),
        None => Err(NOT_FOUND),
    }
}

/// The operation's key within the account, if the account has one by that id.
async fn operation_key(
    db: &Db,
    account: AccountId,
    operation: OperationId,
) -> Result<Option<i64>, StoreError> {
    let statement = db
        .prepare_cached("SELECT id FROM operations WHERE account_id = $1 AND public_id = $2")
        .await?;
    let row = db
        .query_opt(&statement, &[&account.get(), &uuid(operation.as_bytes())])
        .await?;
    row.map(|row| columns::get(&row, 0)).transpose()
}

/// The `WHERE` clause of a list and its parameters. `$1` is the account.
struct Conditions {
    clauses: Vec<String>,
    values: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Conditions {
    fn new(account: AccountId) -> Self {
        Conditions {
            clauses: vec!["i.account_id = $1".to_owned()],
            values: vec![Box::new(account.get())],
        }
    }

    fn push(&mut self, clause: String) {
        self.clauses.push(clause);
    }

    /// Adds `clause`, every `?` of which stands for `value`.
    fn bind(&mut self, clause: &str, value: impl ToSql + Sync + Send + 'static) {
        self.values.push(Box::new(value));
        let placeholder = format!("${}", self.values.len());
        self.clauses.push(clause.replace('?', &placeholder));
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| &**value as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The conditions of a list, each one an index serves: the account leads every index; an
/// operation's items come through `operating_items_operation`; a source, an agent or an
/// agent code through its partial index (an `=` implies the index's `IS NOT NULL`); a
/// publisher's view, which matches either source column, through the two source indexes
/// together (a bitmap OR).
fn conditions(account: AccountId, query: &OperatingQuery) -> Conditions {
    let mut conditions = Conditions::new(account);
    if let Some(operation) = query.operation {
        // No such operation in the account: NULL, which matches nothing.
        conditions.bind(
            "i.operation = (SELECT id FROM operations WHERE account_id = $1 AND public_id = ?)",
            uuid(operation.as_bytes()),
        );
    }
    if let Some(scope) = query.scope {
        let codes = operation_type_codes(scope);
        conditions.push(format!("i.operation_type IN ({codes})"));
    }
    if let Some(source) = query.source_id {
        let publisher_view = query.scope.is_some_and(OperationScope::is_publisher_side);
        let clause = if publisher_view {
            "(i.source_id = ? OR i.publisher_source_id = ?)"
        } else {
            "i.source_id = ?"
        };
        conditions.bind(clause, uuid(source.as_bytes()));
    }
    if !query.include_system_level {
        conditions.push("NOT i.system_level".to_owned());
    }
    if let Some(severity) = query.min_severity {
        conditions.bind("i.severity >= ?", i16::from(severity_code(severity)));
    }
    if let Some(agent) = query.agent_id {
        conditions.bind("i.agent_id = ?", uuid(agent.as_bytes()));
    }
    if let Some(code) = &query.agent_code {
        conditions.bind("i.agent_code = ?", code.as_str().to_owned());
    }
    if let Some(from) = query.created_from {
        conditions.bind("i.created_on >= ?", from.unix_millis());
    }
    if let Some(to) = query.created_to {
        conditions.bind("i.created_on <= ?", to.unix_millis());
    }
    conditions
}

/// A page of the items `query` selects, oldest first, and their total, both read in the
/// one snapshot of the read.
pub(super) async fn list(
    db: &Db,
    account: AccountId,
    query: &OperatingQuery,
) -> Result<OperatingPage, StoreError> {
    let conditions = conditions(account, query);
    let filter = conditions.clauses.join(" AND ");
    let mut params = conditions.params();
    let statement = db
        .prepare_cached(&format!(
            "SELECT count(*) FROM operating_items i WHERE {filter}"
        ))
        .await?;
    let total = count(&db.query_one(&statement, &params).await?, 0)?;
    let (limit_at, offset_at) = (params.len() + 1, params.len() + 2);
    let statement = db
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE {filter} ORDER BY i.created_on, i.id \
             LIMIT ${limit_at} OFFSET ${offset_at}"
        ))
        .await?;
    let limit = i64::from(query.limit);
    let offset = i64::try_from(query.offset).unwrap_or(i64::MAX);
    params.push(&limit);
    params.push(&offset);
    let items = db
        .query(&statement, &params)
        .await?
        .iter()
        .map(item_from_row)
        .collect::<Result<_, _>>()?;
    Ok(OperatingPage { total, items })
}

pub(super) async fn operation_items(
    db: &Db,
    account: AccountId,
    operation: OperationId,
    limit: usize,
) -> Result<Vec<OperatingItem>, StoreError> {
    let key = operation_key(db, account, operation)
        .await?
        .ok_or(OPERATION_NOT_FOUND)?;
    let statement = db
        .prepare_cached(&format!(
            "{ITEM_SELECT} WHERE i.account_id = $1 AND i.operation = $2 ORDER BY i.id LIMIT $3"
        ))
        .await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    db.query(&statement, &[&account.get(), &key, &limit])
        .await?
        .iter()
        .map(item_from_row)
        .collect()
}

/// The columns statistics read of an item, in `timing_from_row`'s order.
const TIMING_COLUMNS: &str = "i.public_id, i.operation_type, i.activity_type, i.severity, \
     i.source_id, i.scope_id, i.event_time";

fn timing_from_row(row: &Row) -> Result<ItemTiming, StoreError> {
    Ok(ItemTiming {
        id: OperatingItemId::from_bytes(uuid_bytes(row, 0)?),
        operation_type: operation_type(row, 1)?,
        activity_type: activity_type(row, 2)?,
        severity: severity(row, 3)?,
        source_id: optional_uuid_bytes(row, 4)?.map(SourceId::from_bytes),
        scope_id: optional_label(row, 5)?,
        at: time(row, 6)?,
    })
}

pub(super) async fn operation_timings(
    db: &Db,
    account: AccountId,
    operation: OperationId,
    limit: usize,
) -> Result<Vec<ItemTiming>, StoreError> {
    let key = operation_key(db, account, operation)
        .await?
        .ok_or(OPERATION_NOT_FOUND)?;
    timings_of(db, account, key, limit).await
}

/// Up to `limit` timings of the operation with this key, in the order of their items.
async fn timings_of(
    db: &Db,
    account: AccountId,
    operation: i64,
    limit: usize,
) -> Result<Vec<ItemTiming>, StoreError> {
    let statement = db
        .prepare_cached(&format!(
            "SELECT {TIMING_COLUMNS} FROM operating_items i \
             WHERE i.account_id = $1 AND i.operation = $2 ORDER BY i.id LIMIT $3"
        ))
        .await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    db.query(&statement, &[&account.get(), &operation, &limit])
        .await?
        .iter()
        .map(timing_from_row)
        .collect()
}

/// The account's operations newest first, each with its timing records (or, past their
/// size bound, its first items').
pub(super) async fn recent_operations(
    db: &Db,
    account: AccountId,
    window: TimeRange,
    before: Option<OperationPosition>,
    limit: PageLimit,
) -> Result<Page<RecentOperation>, StoreError> {
    let statement = db
        .prepare_cached(
            "SELECT id, public_id, first_at, timings, timings_complete FROM operations \
             WHERE account_id = $1 AND ($2::bigint IS NULL OR first_at >= $2) \
             AND ($3::bigint IS NULL OR first_at < $3) \
             AND ($4::bigint IS NULL OR (first_at, public_id) < ($4, $5::uuid)) \
             ORDER BY first_at DESC, public_id DESC LIMIT $6",
        )
        .await?;
    let before_at = before.map(|position| position.first_at.unix_millis());
    let before_id = before.map(|position| uuid(position.operation.as_bytes()));
    let rows = db
        .query(
            &statement,
            &[
                &account.get(),
                &window.from.map(UtcTime::unix_millis),
                &window.to.map(UtcTime::unix_millis),
                &before_at,
                &before_id,
                &(i64::from(limit.get()) + 1),
            ],
        )
        .await?;
    let mut operations = Vec::with_capacity(rows.len());
    for row in &rows {
        let complete: bool = columns::get(row, 4)?;
        let mut timings = Vec::new();
        if complete {
            decoded(row, 3, |blob: &[u8]| decode_timings(blob, &mut timings))?;
        } else {
            let key: i64 = columns::get(row, 0)?;
            timings = timings_of(db, account, key, RECENT_OPERATION_ITEMS).await?;
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

pub(super) async fn count_operations(
    db: &Db,
    account: AccountId,
    window: OperationWindow,
) -> Result<u64, StoreError> {
    let statement = db
        .prepare_cached(
            "SELECT count(*) FROM operations \
             WHERE account_id = $1 AND first_at >= $2 AND first_at <= $3",
        )
        .await?;
    let row = db
        .query_one(
            &statement,
            &[
                &account.get(),
                &window.from.unix_millis(),
                &window.to.unix_millis(),
            ],
        )
        .await?;
    count(&row, 0)
}

/// Feeds the accumulator one operation at a time, in the order they began, from each
/// operation's timing records: one row per operation, not per item. An operation whose
/// records stopped at the size bound has its items read instead.
///
/// The operations are read a page at a time, each page after the last one's
/// `(first_at, id)` (the order of `operations_first_at`), so that a long period is not
/// held in memory at once; the read's snapshot keeps the pages consistent.
pub(super) async fn statistics(
    db: &Db,
    account: AccountId,
    window: OperationWindow,
    filter: ComponentFilter,
) -> Result<AggregateStatistics, StoreError> {
    let statement = db
        .prepare_cached(
            "SELECT id, public_id, first_at, timings, timings_complete FROM operations \
             WHERE account_id = $1 AND (first_at, id) > ($2, $3) AND first_at <= $4 \
             ORDER BY first_at, id LIMIT $5",
        )
        .await?;
    let mut accumulator = StatisticsAccumulator::new(filter);
    let mut timings = Vec::new();
    // Before every key of the window's first millisecond: keys are positive.
    let mut after = (window.from.unix_millis(), i64::MIN);
    loop {
        let rows = db
            .query(
                &statement,
                &[
                    &account.get(),
                    &after.0,
                    &after.1,
                    &window.to.unix_millis(),
                    &STATISTICS_PAGE,
                ],
            )
            .await?;
        for row in &rows {
            let key: i64 = columns::get(row, 0)?;
            let operation = OperationId::from_bytes(uuid_bytes(row, 1)?);
            after = (columns::get(row, 2)?, key);
            timings.clear();
            if columns::get(row, 4)? {
                decoded(row, 3, |blob: &[u8]| decode_timings(blob, &mut timings))?;
            } else {
                timings.extend(timings_of(db, account, key, usize::MAX).await?);
            }
            accumulator.add(operation, &timings);
        }
        if i64::try_from(rows.len()).unwrap_or(i64::MAX) < STATISTICS_PAGE {
            return Ok(accumulator.finish());
        }
    }
}
