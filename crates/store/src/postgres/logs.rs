//! Execution log lines: appending with `seq` numbers, reading a page by `seq` range, and
//! removing lines deleted or past retention.
//!
//! Appending takes the batch's seqs with `UPDATE executions SET next_seq = next_seq + n`,
//! which locks the execution's row until the group commits: writers to one execution on
//! any node queue there, and each batch gets a contiguous run of seqs. A line's
//! `created_at` is the later of the clock and the execution's last line's, so it never
//! decreases along `seq`.
//!
//! Every page is one range scan of the primary key `(account_id, execution_id, seq)`, so a
//! page deep in a long log costs what the first page costs. Time bounds are turned into
//! `seq` bounds first, by a binary search over `seq` that runs inside one statement (a
//! recursive query probing the primary key): about 20 probes for a million lines, one
//! round trip, and no index on `created_at` to maintain on every insert.

use std::collections::HashSet;
use std::ops::Range;

use futures_util::pin_mut;
use pipelog_core::audit_events;
use pipelog_core::ids::{AccountId, Cid, ExecutionId, KeyId, Label};
use pipelog_core::log_entry::{
    LogAttributes, LogEntry, LogLine, LogMessage, MessageType, Severity,
};
use pipelog_core::paging::{LogQuery, Page, SortOrder, TimeRange};
use pipelog_core::time::UtcTime;
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

use super::Db;
use super::audit;
use super::columns::{
    count, decoded, get, optional_label, optional_time, parsed, time, utf8, uuid, uuid_bytes,
};
use super::executions::{self, ExecutionRow};
use crate::execution_rules::{self, PageSeqs, check_takes_lines, page_seqs, stored_run};
use crate::{Appended, DeletedLogs, LogPage, LogRun, LogTarget, StoreError};

/// Batches of at least this many lines go in by binary `COPY`, smaller ones by one
/// `INSERT ... SELECT FROM unnest(...)`. The `INSERT` takes the seqs in the same statement,
/// one round trip in all; `COPY` needs the seqs first, then two round trips of its own
/// (the server's go-ahead, then its count), but writes each row for less. Measured on one
/// machine (PostgreSQL 15 over loopback, 120-byte messages, release build), the `INSERT`
/// is faster up to about 100 lines, `COPY` only 3 to 10% faster from there to 1,000, then
/// 15% at 1,500 and a third at 4,000. Over a network each of `COPY`'s extra round trips
/// costs a few tenths of a millisecond more, as much as it saves on a thousand lines: so
/// only batches past that size are worth its trips.
const COPY_FROM_LINES: usize = 1024;

/// The columns a line is written with, in the order both ways of writing them use.
macro_rules! line_columns {
    () => {
        "account_id, execution_id, seq, created_at, event_time, severity, message_type, \
         emitter_name, event_correlation_id, attributes, client_id, message"
    };
}

/// The types of `line_columns!`, for `COPY`'s binary format.
const LINE_TYPES: [Type; 12] = [
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT2,
    Type::INT2,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::BYTEA,
];

/// Takes `$3` seqs from the execution named by `$2` (`$1` its account) if it takes lines:
/// moves `next_seq` on and `last_log_at` up to `$4`, the clock, and returns the execution's
/// row, the first seq taken and the lines' `created_at`.
macro_rules! take_seqs {
    ($execution_column:literal) => {
        concat!(
            "UPDATE executions \
             SET next_seq = next_seq + $3, last_log_at = GREATEST(last_log_at, $4) \
             WHERE account_id = $1 AND ",
            $execution_column,
            " = $2 AND status IN ('QUEUED', 'RUNNING') \
             RETURNING id, public_id, cid, next_seq - $3, last_log_at"
        )
    };
}

/// `take_seqs!`, and the lines written with the seqs it took in the same statement: one
/// array per column, `$5` to `$12`, in the order of `line_columns!` from `event_time` on.
macro_rules! take_seqs_and_insert {
    ($execution_column:literal) => {
        concat!(
            "WITH taken (id, public_id, cid, first_seq, created_at) AS (",
            take_seqs!($execution_column),
            "), inserted AS ( \
                 INSERT INTO execution_logs (",
            line_columns!(),
            ") \
                 SELECT $1, taken.id, taken.first_seq + line.position - 1, taken.created_at, \
                     line.event_time, line.severity, line.message_type, line.emitter_name, \
                     line.event_correlation_id, line.attributes, line.client_id, line.message \
                 FROM taken, unnest($5::bigint[], $6::smallint[], $7::smallint[], \
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::bytea[]) \
                     WITH ORDINALITY AS line (event_time, severity, message_type, \
                     emitter_name, event_correlation_id, attributes, client_id, message, \
                     position)) \
             SELECT id, public_id, cid, first_seq, created_at FROM taken"
        )
    };
}

/// The statements that take seqs from an execution named one way.
struct SeqStatements {
    take: &'static str,
    take_and_insert: &'static str,
}

const BY_PUBLIC_ID: SeqStatements = SeqStatements {
    take: take_seqs!("public_id"),
    take_and_insert: take_seqs_and_insert!("public_id"),
};

const BY_CID: SeqStatements = SeqStatements {
    take: take_seqs!("cid"),
    take_and_insert: take_seqs_and_insert!("cid"),
};

/// How a batch names its execution in the statements that take seqs.
enum ExecutionKey<'a> {
    PublicId(uuid::Uuid),
    Cid(&'a str),
}

impl<'a> ExecutionKey<'a> {
    fn of(target: &'a LogTarget) -> Self {
        match target {
            LogTarget::Execution(id) => ExecutionKey::PublicId(uuid(id.as_bytes())),
            LogTarget::Cid { cid, .. } => ExecutionKey::Cid(cid.as_str()),
        }
    }

    fn statements(&self) -> &'static SeqStatements {
        match self {
            ExecutionKey::PublicId(_) => &BY_PUBLIC_ID,
            ExecutionKey::Cid(_) => &BY_CID,
        }
    }

    fn param(&self) -> &(dyn ToSql + Sync) {
        match self {
            ExecutionKey::PublicId(id) => id,
            ExecutionKey::Cid(cid) => cid,
        }
    }
}

/// What taking seqs returned.
struct Taken {
    rowid: i64,
    id: ExecutionId,
    cid: Cid,
    first_seq: u64,
    created_at: UtcTime,
}

fn taken_from_row(row: &Row) -> Result<Taken, StoreError> {
    Ok(Taken {
        rowid: get(row, 0)?,
        id: ExecutionId::from_bytes(uuid_bytes(row, 1)?),
        cid: parsed(row, 2, Cid::parse)?,
        first_seq: count(row, 3)?,
        created_at: time(row, 4)?,
    })
}

pub(super) async fn append(
    db: &Db,
    account: AccountId,
    target: &LogTarget,
    lines: &[LogLine],
    now: UtcTime,
) -> Result<Appended, StoreError> {
    let (lines, duplicates) = if lines.iter().any(|line| line.client_id.is_some()) {
        // Which ids the execution holds is read under its row's lock, which this write
        // keeps until it commits: no other writer can add one of them meanwhile.
        let execution = executions::append_target(db, account, target, now).await?;
        check_takes_lines(execution.id, execution.status)?;
        let held = held_client_ids(db, account, execution.rowid, lines).await?;
        execution_rules::new_lines(lines, |id| Ok::<_, StoreError>(held.contains(id)))?
    } else {
        (lines.iter().collect(), 0)
    };
    let key = ExecutionKey::of(target);
    let taken = match write_lines(db, account, &key, &lines, now).await? {
        Some(taken) => taken,
        None => {
            // The execution is unknown, has ended, or is a cid seen for the first time,
            // which this creates.
            let execution = executions::append_target(db, account, target, now).await?;
            check_takes_lines(execution.id, execution.status)?;
            write_lines(db, account, &key, &lines, now)
                .await?
                .ok_or_else(|| {
                    StoreError::Backend(format!(
                        "execution {} took no lines though its row is locked",
                        execution.id
                    ))
                })?
        }
    };
    Ok(Appended {
        execution_id: taken.id,
        cid: taken.cid,
        first_seq: taken.first_seq,
        count: lines.len() as u64,
        duplicates,
        created_at: taken.created_at,
    })
}

/// The client ids of `lines` that the execution holds already, looked up together
/// through the index of client ids.
async fn held_client_ids(
    db: &Db,
    account: AccountId,
    execution: i64,
    lines: &[LogLine],
) -> Result<HashSet<String>, StoreError> {
    let ids: Vec<&str> = lines
        .iter()
        .filter_map(|line| line.client_id.as_ref().map(Label::as_str))
        .collect();
    let statement = db
        .prepare_cached(
            "SELECT client_id FROM execution_logs \
             WHERE account_id = $1 AND execution_id = $2 AND client_id = ANY($3)",
        )
        .await?;
    let rows = db
        .query(&statement, &[&account.get(), &execution, &ids])
        .await?;
    rows.iter().map(|row| get(row, 0)).collect()
}

/// Takes the seqs for `lines` and writes them, if the execution exists and takes lines
/// (`None` otherwise, and nothing is written).
async fn write_lines(
    db: &Db,
    account: AccountId,
    key: &ExecutionKey<'_>,
    lines: &[&LogLine],
    now: UtcTime,
) -> Result<Option<Taken>, StoreError> {
    if lines.len() < COPY_FROM_LINES {
        return take_seqs_and_insert(db, account, key, lines, now).await;
    }
    let Some(taken) = take_seqs(db, account, key, lines.len(), now).await? else {
        return Ok(None);
    };
    copy_lines(db, account, &taken, lines).await?;
    Ok(Some(taken))
}

async fn take_seqs(
    db: &Db,
    account: AccountId,
    key: &ExecutionKey<'_>,
    count: usize,
    now: UtcTime,
) -> Result<Option<Taken>, StoreError> {
    let statement = db.prepare_cached(key.statements().take).await?;
    db.query_opt(
        &statement,
        &[
            &account.get(),
            key.param(),
            &(count as i64),
            &now.unix_millis(),
        ],
    )
    .await?
    .as_ref()
    .map(taken_from_row)
    .transpose()
}

async fn take_seqs_and_insert(
    db: &Db,
    account: AccountId,
    key: &ExecutionKey<'_>,
    lines: &[&LogLine],
    now: UtcTime,
) -> Result<Option<Taken>, StoreError> {
    let event_times: Vec<Option<i64>> = lines
        .iter()
        .map(|line| line.timestamp.map(UtcTime::unix_millis))
        .collect();
    let severities: Vec<i16> = lines
        .iter()
        .map(|line| i16::from(line.severity.rank()))
        .collect();
    let message_types: Vec<i16> = lines
        .iter()
        .map(|line| i16::from(line.message_type.rank()))
        .collect();
    let emitter_names: Vec<Option<&str>> = lines
        .iter()
        .map(|line| line.emitter_name.as_ref().map(Label::as_str))
        .collect();
    let event_correlation_ids: Vec<Option<&str>> = lines
        .iter()
        .map(|line| line.event_correlation_id.as_ref().map(Label::as_str))
        .collect();
    let attributes: Vec<Option<String>> = lines
        .iter()
        .map(|line| line.attributes.as_ref().map(LogAttributes::to_json))
        .collect();
    let client_ids: Vec<Option<&str>> = lines
        .iter()
        .map(|line| line.client_id.as_ref().map(Label::as_str))
        .collect();
    let messages: Vec<&[u8]> = lines
        .iter()
        .map(|line| line.message.as_str().as_bytes())
        .collect();
    let statement = db.prepare_cached(key.statements().take_and_insert).await?;
    db.query_opt(
        &statement,
        &[
            &account.get(),
            key.param(),
            &(lines.len() as i64),
            &now.unix_millis(),
            &event_times,
            &severities,
            &message_types,
            &emitter_names,
            &event_correlation_ids,
            &attributes,
            &client_ids,
            &messages,
        ],
    )
    .await?
    .as_ref()
    .map(taken_from_row)
    .transpose()
}

/// Writes the lines with the seqs taken, by binary `COPY`, inside the write's transaction.
async fn copy_lines(
    db: &Db,
    account: AccountId,
    taken: &Taken,
    lines: &[&LogLine],
) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached(concat!(
            "COPY execution_logs (",
            line_columns!(),
            ") FROM STDIN (FORMAT binary)"
        ))
        .await?;
    let sink = db.copy_in(&statement).await?;
    let writer = BinaryCopyInWriter::new(sink, &LINE_TYPES);
    pin_mut!(writer);
    let created_at = taken.created_at.unix_millis();
    for (seq, line) in (taken.first_seq..).zip(lines) {
        writer
            .as_mut()
            .write(&[
                &account.get(),
                &taken.rowid,
                &(seq as i64),
                &created_at,
                &line.timestamp.map(UtcTime::unix_millis),
                &i16::from(line.severity.rank()),
                &i16::from(line.message_type.rank()),
                &line.emitter_name.as_ref().map(Label::as_str),
                &line.event_correlation_id.as_ref().map(Label::as_str),
                &line.attributes.as_ref().map(LogAttributes::to_json),
                &line.client_id.as_ref().map(Label::as_str),
                &line.message.as_str().as_bytes(),
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Each batch appended in its own savepoint of the current write: a batch that fails
/// (its execution has ended, say) leaves nothing, and the others stand. A savepoint that
/// cannot be taken or undone fails the whole write, so nothing half-done is committed.
pub(super) async fn append_batches(
    db: &Db,
    account: AccountId,
    batches: &[(LogTarget, Vec<LogLine>)],
    now: UtcTime,
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let mut outcomes = Vec::with_capacity(batches.len());
    for (target, lines) in batches {
        db.batch_execute("SAVEPOINT batch").await?;
        let outcome = append(db, account, target, lines, now).await;
        let end = match outcome {
            Ok(_) => "RELEASE SAVEPOINT batch",
            Err(_) => "ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch",
        };
        db.batch_execute(end).await?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// The severity or message type stored as its rank.
fn ranked<T>(code: i16, from_rank: impl FnOnce(u8) -> Option<T>) -> Result<T, &'static str> {
    u8::try_from(code)
        .ok()
        .and_then(from_rank)
        .ok_or("an unknown code")
}

fn entry_from_row(execution_id: ExecutionId, row: &Row) -> Result<LogEntry, StoreError> {
    Ok(LogEntry {
        execution_id,
        seq: count(row, 0)?,
        created_at: time(row, 1)?,
        line: LogLine {
            timestamp: optional_time(row, 2)?,
            severity: decoded(row, 3, |code| ranked(code, Severity::from_rank))?,
            message_type: decoded(row, 4, |code| ranked(code, MessageType::from_rank))?,
            emitter_name: optional_label(row, 5)?,
            event_correlation_id: optional_label(row, 6)?,
            message: LogMessage::from_stored(utf8(row, 7)?),
            attributes: decoded(row, 8, |json: Option<&str>| {
                json.map(LogAttributes::from_stored).transpose()
            })?,
            client_id: optional_label(row, 9)?,
        },
    })
}

/// A page: the lines with seq in `[$3, $4)` whose severity's bit is set in `$5`, at most
/// `$6` of them, in seq order. One range scan of the primary key.
macro_rules! page_select {
    ($order:literal) => {
        concat!(
            "SELECT seq, created_at, event_time, severity, message_type, emitter_name, \
                 event_correlation_id, message, attributes, client_id \
             FROM execution_logs \
             WHERE account_id = $1 AND execution_id = $2 AND seq >= $3 AND seq < $4 \
               AND ($5::integer = 15 OR ((1 << severity) & $5::integer) <> 0) \
             ORDER BY seq ",
            $order,
            " LIMIT $6"
        )
    };
}

const PAGE_ASC: &str = page_select!("ASC");
const PAGE_DESC: &str = page_select!("DESC");

/// Up to `limit` lines of the execution with seq in `seqs` and a severity among `bits`.
async fn read_seqs(
    db: &Db,
    account: AccountId,
    row: &ExecutionRow,
    seqs: Range<u64>,
    order: SortOrder,
    severity_bits: u8,
    limit: i64,
) -> Result<Vec<LogEntry>, StoreError> {
    let sql = match order {
        SortOrder::Asc => PAGE_ASC,
        SortOrder::Desc => PAGE_DESC,
    };
    let statement = db.prepare_cached(sql).await?;
    let rows = db
        .query(
            &statement,
            &[
                &account.get(),
                &row.rowid,
                &(seqs.start as i64),
                &(seqs.end as i64),
                &i32::from(severity_bits),
                &limit,
            ],
        )
        .await?;
    rows.iter()
        .map(|line| entry_from_row(row.execution.id, line))
        .collect()
}

pub(super) async fn read(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
    query: &LogQuery,
) -> Result<LogPage, StoreError> {
    let row = executions::find(db, account, id).await?;
    // The stored lines are [first_seq, next_seq); the page is that range narrowed by time,
    // then by the lines to skip, then by the cursor.
    let stored = row.execution.first_seq..row.execution.next_seq;
    let in_time = seqs_in_time(db, account, row.rowid, stored, &query.created).await?;
    let PageSeqs { selected, seqs } = page_seqs(in_time, query);
    let entries = match seqs {
        None => Page {
            items: Vec::new(),
            has_more: false,
        },
        Some(seqs) => {
            let overfetch = i64::from(query.limit.get()) + 1;
            let severities = query.severities.bits();
            let lines =
                read_seqs(db, account, &row, seqs, query.order, severities, overfetch).await?;
            Page::from_overfetch(lines, query.limit)
        }
    };
    Ok(LogPage {
        execution: row.execution,
        entries,
        selected,
    })
}

/// Up to `limit` stored lines with `seq` in `seqs`, oldest first.
pub(super) async fn read_run(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
    seqs: Range<u64>,
    limit: usize,
) -> Result<LogRun, StoreError> {
    let row = executions::find(db, account, id).await?;
    let seqs = stored_run(&row.execution, seqs);
    let entries = if seqs.is_empty() || limit == 0 {
        Vec::new()
    } else {
        let every_severity = 0b1111;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        read_seqs(
            db,
            account,
            &row,
            seqs,
            SortOrder::Asc,
            every_severity,
            limit,
        )
        .await?
    };
    Ok(LogRun {
        execution: row.execution,
        entries,
    })
}

/// The stored lines with `seq` in `seqs` created in `range`: a narrower seq range.
pub(super) async fn seqs_in_time(
    db: &Db,
    account: AccountId,
    execution: i64,
    seqs: Range<u64>,
    range: &TimeRange,
) -> Result<Range<u64>, StoreError> {
    let Range {
        start: mut low,
        end: mut high,
    } = seqs;
    if let Some(from) = range.from {
        low = first_seq_at_or_after(db, account, execution, low..high, from.unix_millis()).await?;
    }
    if let Some(to) = range.to {
        high = first_seq_at_or_after(db, account, execution, low..high, to.unix_millis()).await?;
    }
    Ok(low..high)
}

/// The smallest seq in `[low, high]` from which on every line of the execution was created
/// at or after `instant` (`high` when no line in range was): the binary search over seq,
/// one probe of the primary key per step, all in one statement. Each step looks at the
/// first line at or after the middle of `[low, high)`: created before `instant`, the answer
/// is past it; else (or with no line there) it is at or before the middle.
async fn first_seq_at_or_after(
    db: &Db,
    account: AccountId,
    execution: i64,
    seqs: Range<u64>,
    instant: i64,
) -> Result<u64, StoreError> {
    let statement = db
        .prepare_cached(
            "WITH RECURSIVE search (low, high) AS ( \
                 SELECT $3::bigint, $4::bigint \
               UNION ALL \
                 SELECT CASE WHEN probe.created_at < $5 THEN probe.seq + 1 ELSE search.low END, \
                        CASE WHEN probe.created_at < $5 THEN search.high \
                             ELSE search.low + (search.high - search.low) / 2 END \
                 FROM search LEFT JOIN LATERAL ( \
                     SELECT seq, created_at FROM execution_logs \
                     WHERE account_id = $1 AND execution_id = $2 \
                       AND seq >= search.low + (search.high - search.low) / 2 \
                       AND seq < search.high \
                     ORDER BY seq LIMIT 1) probe ON true \
                 WHERE search.low < search.high) \
             SELECT low FROM search WHERE low >= high",
        )
        .await?;
    let row = db
        .query_one(
            &statement,
            &[
                &account.get(),
                &execution,
                &(seqs.start as i64),
                &(seqs.end as i64),
                &instant,
            ],
        )
        .await?;
    count(&row, 0)
}

/// Deletes an execution's stored lines for readers (its rows go later, in batches) and
/// records the deletion. The row is locked first, so no batch lands between counting the
/// lines and hiding them.
pub(super) async fn delete(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<DeletedLogs, StoreError> {
    let ExecutionRow {
        rowid,
        mut execution,
    } = executions::find_locked(db, account, id).await?;
    let deleted = execution.stored_lines();
    let statement = db
        .prepare_cached(
            "UPDATE executions SET first_seq = next_seq WHERE account_id = $1 AND id = $2",
        )
        .await?;
    db.execute(&statement, &[&account.get(), &rowid]).await?;
    execution.first_seq = execution.next_seq;
    let event = audit_events::execution_logs_delete(&execution, deleted, actor, now);
    audit::record(db, account, &event, now).await?;
    Ok(DeletedLogs { execution, deleted })
}

/// Removes up to `max_rows` rows below some execution's `first_seq`. No lock is taken
/// before the delete: the rows are nobody's any more, and two nodes that purge the same
/// range at once merely delete it once between them.
pub(super) async fn purge(db: &Db, max_rows: usize) -> Result<Option<u64>, StoreError> {
    let pending = db
        .prepare_cached(
            "SELECT account_id, id, purged_below, first_seq FROM executions \
             WHERE purged_below < first_seq LIMIT 1",
        )
        .await?;
    let Some(row) = db.query_opt(&pending, &[]).await? else {
        return Ok(None);
    };
    let (account, execution): (i64, i64) = (get(&row, 0)?, get(&row, 1)?);
    let (purged_below, first_seq) = (count(&row, 2)?, count(&row, 3)?);
    let end = first_seq.min(purged_below.saturating_add(max_rows as u64));
    let remove = db
        .prepare_cached(
            "DELETE FROM execution_logs \
             WHERE account_id = $1 AND execution_id = $2 AND seq >= $3 AND seq < $4",
        )
        .await?;
    let removed = db
        .execute(
            &remove,
            &[&account, &execution, &(purged_below as i64), &(end as i64)],
        )
        .await?;
    let progress = db
        .prepare_cached(
            "UPDATE executions SET purged_below = GREATEST(purged_below, $3) \
             WHERE account_id = $1 AND id = $2",
        )
        .await?;
    db.execute(&progress, &[&account, &execution, &(end as i64)])
        .await?;
    Ok(Some(removed))
}

/// An execution whose oldest lines are past its account's retention, and the first
/// `created_at` to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ExpiryCandidate {
    pub account: i64,
    pub execution: i64,
    pub cutoff: i64,
}

/// Up to `limit` executions with lines past retention as of `now`, after `after` in the
/// order of their keys. Only executions whose first stored line is older than their
/// account's cutoff have lines to expire, so a sweep writes nothing for an old execution
/// whose remaining lines are all newer.
pub(super) async fn expiry_candidates(
    db: &Db,
    default_days: Option<u32>,
    now: UtcTime,
    after: Option<ExpiryCandidate>,
    limit: usize,
) -> Result<Vec<ExpiryCandidate>, StoreError> {
    const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;
    // Lines are never older than their execution, so one queued after the cutoff has none
    // to expire.
    let statement = db
        .prepare_cached(
            "SELECT e.account_id, e.id, c.cutoff \
             FROM executions e JOIN accounts a ON a.id = e.account_id \
             CROSS JOIN LATERAL (SELECT $1::bigint \
                 - coalesce(a.execution_log_retention_days, $2::integer)::bigint * $3::bigint \
                 AS cutoff) c \
             WHERE (e.account_id, e.id) > ($4, $5) AND e.first_seq < e.next_seq \
               AND c.cutoff IS NOT NULL AND e.queued_at < c.cutoff \
               AND EXISTS (SELECT 1 FROM execution_logs l \
                   WHERE l.account_id = e.account_id AND l.execution_id = e.id \
                     AND l.seq = e.first_seq AND l.created_at < c.cutoff) \
             ORDER BY e.account_id, e.id LIMIT $6",
        )
        .await?;
    let default_days = default_days.map(|days| i32::try_from(days).unwrap_or(i32::MAX));
    let (after_account, after_execution) =
        after.map_or((i64::MIN, i64::MIN), |last| (last.account, last.execution));
    let rows = db
        .query(
            &statement,
            &[
                &now.unix_millis(),
                &default_days,
                &DAY_MILLIS,
                &after_account,
                &after_execution,
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(ExpiryCandidate {
                account: get(row, 0)?,
                execution: get(row, 1)?,
                cutoff: get(row, 2)?,
            })
        })
        .collect()
}

/// Expires an execution's lines created before the candidate's cutoff: they are a prefix
/// of its stored lines. Returns how many. The row is locked while the prefix is found, so
/// a deletion on another node cannot move `first_seq` in between.
pub(super) async fn expire(db: &Db, candidate: ExpiryCandidate) -> Result<u64, StoreError> {
    let ExpiryCandidate {
        account,
        execution,
        cutoff,
    } = candidate;
    let bounds = db
        .prepare_cached(
            "SELECT first_seq, next_seq FROM executions \
             WHERE account_id = $1 AND id = $2 FOR UPDATE",
        )
        .await?;
    let Some(row) = db.query_opt(&bounds, &[&account, &execution]).await? else {
        return Ok(0);
    };
    let (first_seq, next_seq) = (count(&row, 0)?, count(&row, 1)?);
    let account_id = AccountId::new(account);
    let keep_from =
        first_seq_at_or_after(db, account_id, execution, first_seq..next_seq, cutoff).await?;
    if keep_from > first_seq {
        let statement = db
            .prepare_cached(
                "UPDATE executions SET first_seq = $3 WHERE account_id = $1 AND id = $2",
            )
            .await?;
        db.execute(&statement, &[&account, &execution, &(keep_from as i64)])
            .await?;
    }
    Ok(keep_from - first_seq)
}

/// Against the server `PIPELOG_TEST_DATABASE_URL` names (each test passes without one):
/// what the store suite cannot see through one store. Both ways of writing lines, the
/// search across gaps in seq, and several nodes writing to one database at once.
#[cfg(test)]
pub(super) mod tests {
    use futures_util::future::join_all;
    use pipelog_core::api_key::{ApiKeySecret, KeyRole, NewApiKey, RateLimit};
    use pipelog_core::execution::{ActionOrigin, LaunchExecution};
    use pipelog_core::ids::{AccountName, JobKey};
    use pipelog_core::job::JobSpec;
    use pipelog_core::paging::{PageLimit, SeveritySet};
    use pipelog_core::permission::PermissionSet;
    use serde_json::json;

    use super::*;
    use crate::execution_rules::seq_search_cases::{INSTANTS, LINES, RANGES, check};
    use crate::postgres::scratch::ScratchDatabase;
    use crate::postgres::{PostgresOptions, PostgresStore};
    use crate::{ExecutionFilter, Store};

    /// Stores on one scratch database: the nodes of one deployment.
    pub(in crate::postgres) struct Nodes {
        pub stores: Vec<PostgresStore>,
        database: ScratchDatabase,
    }

    impl Nodes {
        /// `count` nodes on a fresh database; `None` when no server is named.
        pub(in crate::postgres) async fn open(count: usize) -> Option<Nodes> {
            let database = ScratchDatabase::from_env().await?.unwrap();
            let mut stores = Vec::with_capacity(count);
            for _ in 0..count {
                let options = PostgresOptions::default();
                stores.push(PostgresStore::open(&database.url, options).await.unwrap());
            }
            Some(Nodes { stores, database })
        }

        /// Creates an account (through a key, the only way accounts come to be).
        pub(in crate::postgres) async fn account(&self, name: &str) -> AccountId {
            let key = NewApiKey {
                account: AccountName::parse(name).unwrap(),
                name: None,
                hash: ApiKeySecret::generate().hash(),
                permissions: PermissionSet::all(),
                rate_limit: RateLimit::ServerDefault,
                role: KeyRole::Account,
                agent: None,
            };
            self.stores[0]
                .create_key(key, None)
                .await
                .unwrap()
                .account_id
        }

        pub(in crate::postgres) async fn close(self) {
            for store in &self.stores {
                store.close().await.unwrap();
            }
            drop(self.stores);
            self.database.drop_database().await.unwrap();
        }
    }

    pub(in crate::postgres) fn launch_request(job: &str) -> LaunchExecution {
        LaunchExecution {
            job: JobSpec::with_key(JobKey::parse(job).unwrap()),
            action_origin: ActionOrigin::Api,
            input: Default::default(),
            launched_by: None,
        }
    }

    fn message(text: String) -> LogMessage {
        LogMessage::new(text).unwrap()
    }

    /// Every stored line of an execution, oldest first.
    async fn read_all(store: &PostgresStore, account: AccountId, id: ExecutionId) -> Vec<LogEntry> {
        let mut query = LogQuery {
            order: SortOrder::Asc,
            limit: PageLimit::new(Some(1000), 1000, 1000).unwrap(),
            resume_after: None,
            skip: 0,
            severities: SeveritySet::all(),
            created: TimeRange::default(),
        };
        let mut lines = Vec::new();
        loop {
            let page = store.read_logs(account, id, query.clone()).await.unwrap();
            query.resume_after = page.entries.items.last().map(|entry| entry.seq);
            lines.extend(page.entries.items);
            if !page.entries.has_more {
                return lines;
            }
        }
    }

    /// A line with every field set or not, by `n`.
    fn varied_line(n: usize) -> LogLine {
        let attributes = json!({"n": n, "nested": {"list": [n, null, "ü"]}});
        LogLine {
            message: message(match n % 3 {
                0 => String::new(),
                1 => format!("line {n}: ünïcödé 🚀\n\t'quoted' \"too\" \\ backslash"),
                _ => "x".repeat(n),
            }),
            severity: Severity::ALL[n % Severity::ALL.len()],
            message_type: MessageType::ALL[n % MessageType::ALL.len()],
            emitter_name: n
                .is_multiple_of(2)
                .then(|| Label::parse(&format!("emitter {n}")).unwrap()),
            event_correlation_id: n.is_multiple_of(5).then(|| Label::parse("evt-1").unwrap()),
            timestamp: (!n.is_multiple_of(4))
                .then(|| UtcTime::from_unix_millis(1_700_000_000_000 + n as i64).unwrap()),
            attributes: LogAttributes::new(attributes.as_object().unwrap().clone())
                .unwrap()
                .filter(|_| n % 3 != 1),
            client_id: n
                .is_multiple_of(3)
                .then(|| Label::parse(&format!("client-{n}")).unwrap()),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn both_ways_of_writing_lines_store_every_field_alike() {
        let Some(nodes) = Nodes::open(1).await else {
            return;
        };
        let store = &nodes.stores[0];
        let account = nodes.account("acme").await;
        let lines: Vec<LogLine> = (0..COPY_FROM_LINES).map(varied_line).collect();
        // The largest batch written by INSERT, then the smallest by COPY.
        for batch in [&lines[..COPY_FROM_LINES - 1], &lines[..]] {
            let execution = store
                .launch_execution(account, launch_request("job"))
                .await
                .unwrap();
            let target = LogTarget::Execution(execution.id);
            let appended = store
                .append_logs(account, target, batch.to_vec())
                .await
                .unwrap();
            assert_eq!(
                (appended.first_seq, appended.count, appended.duplicates),
                (0, batch.len() as u64, 0)
            );
            let stored = read_all(store, account, execution.id).await;
            let seqs: Vec<u64> = stored.iter().map(|entry| entry.seq).collect();
            assert_eq!(seqs, (0..batch.len() as u64).collect::<Vec<_>>());
            assert!(
                stored
                    .iter()
                    .all(|entry| entry.created_at == appended.created_at)
            );
            let stored: Vec<LogLine> = stored.into_iter().map(|entry| entry.line).collect();
            assert_eq!(stored, batch, "every field comes back as written");
        }

        // COPY to a cid seen for the first time, without client ids: the path that takes
        // seqs before it knows whether the execution exists.
        let plain: Vec<LogLine> = lines
            .iter()
            .map(|line| LogLine {
                client_id: None,
                ..line.clone()
            })
            .collect();
        let target = LogTarget::Cid {
            cid: Cid::parse("bulk").unwrap(),
            job_if_new: JobKey::parse("job").unwrap(),
            launched_by: None,
        };
        let first = store
            .append_logs(account, target.clone(), plain.clone())
            .await
            .unwrap();
        let second = store
            .append_logs(account, target, plain.clone())
            .await
            .unwrap();
        assert_eq!(second.execution_id, first.execution_id);
        assert_eq!(second.first_seq, COPY_FROM_LINES as u64);
        let stored: Vec<LogLine> = read_all(store, account, first.execution_id)
            .await
            .into_iter()
            .map(|entry| entry.line)
            .collect();
        assert_eq!(stored, [plain.clone(), plain].concat());
        nodes.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_search_agrees_with_a_scan_across_gaps_and_ties() {
        let Some(nodes) = Nodes::open(1).await else {
            return;
        };
        let db = nodes.stores[0].pool.get().await.unwrap();
        for (seq, created_at) in LINES {
            db.execute(
                "INSERT INTO execution_logs (account_id, execution_id, seq, created_at, \
                     severity, message_type, message) VALUES (1, 1, $1, $2, 1, 0, 'x')",
                &[&(seq as i64), &created_at],
            )
            .await
            .unwrap();
        }
        let account = AccountId::new(1);
        for instant in INSTANTS {
            for (low, high) in RANGES {
                let found = first_seq_at_or_after(&db, account, 1, low..high, instant)
                    .await
                    .unwrap();
                check(low, high, instant, found);
            }
        }
        drop(db);
        nodes.close().await;
    }

    /// Two nodes append to one execution at once, resending each other's client ids, and
    /// to a cid that neither has seen.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_appending_at_once_share_one_numbering() {
        let Some(nodes) = Nodes::open(2).await else {
            return;
        };
        let account = nodes.account("acme").await;
        let execution = nodes.stores[0]
            .launch_execution(account, launch_request("job"))
            .await
            .unwrap();
        let cid = Cid::parse("new-on-both-nodes").unwrap();
        // Batch n goes to node n % 2; batches 2m and 2m + 1 both begin with client id m.
        let to_execution = (0..100).map(|n| {
            let lines = (0..1 + n % 3)
                .map(|k| LogLine {
                    client_id: (k == 0).then(|| Label::parse(&format!("id-{}", n / 2)).unwrap()),
                    ..LogLine::info(message(format!("{n}.{k}")))
                })
                .collect();
            let target = LogTarget::Execution(execution.id);
            nodes.stores[n % 2].append_logs(account, target, lines)
        });
        let to_cid = (0..20).map(|n| {
            let target = LogTarget::Cid {
                cid: cid.clone(),
                job_if_new: JobKey::parse("job").unwrap(),
                launched_by: None,
            };
            let lines = vec![LogLine::info(message(format!("cid {n}")))];
            nodes.stores[n % 2].append_logs(account, target, lines)
        });
        let (to_execution, to_cid) = tokio::join!(join_all(to_execution), join_all(to_cid));

        let lines = read_all(&nodes.stores[1], account, execution.id).await;
        let seqs: Vec<u64> = lines.iter().map(|entry| entry.seq).collect();
        assert_eq!(
            seqs,
            (0..lines.len() as u64).collect::<Vec<_>>(),
            "no gap, no repeat"
        );
        assert!(
            lines
                .windows(2)
                .all(|pair| pair[0].created_at <= pair[1].created_at),
            "created_at grows with seq"
        );
        let found: Vec<&str> = lines
            .iter()
            .map(|entry| entry.line.message.as_str())
            .collect();
        let mut duplicates = 0;
        for (n, appended) in to_execution.iter().enumerate() {
            let appended = appended.as_ref().unwrap();
            duplicates += appended.duplicates;
            let run = &found[appended.first_seq as usize..][..appended.count as usize];
            assert!(
                run.iter().all(|text| text.starts_with(&format!("{n}."))),
                "{run:?}"
            );
        }
        assert_eq!(duplicates, 50, "each shared client id written once");
        for pair in 0..50 {
            let firsts = [format!("{}.0", 2 * pair), format!("{}.0", 2 * pair + 1)];
            let written = firsts.iter().filter(|text| found.contains(&text.as_str()));
            assert_eq!(written.count(), 1, "{firsts:?}");
        }
        assert_eq!(found.len(), 50 + (0..100).map(|n| n % 3).sum::<usize>());

        let created = to_cid[0].as_ref().unwrap().execution_id;
        assert!(
            to_cid
                .iter()
                .all(|appended| appended.as_ref().unwrap().execution_id == created)
        );
        assert_eq!(read_all(&nodes.stores[0], account, created).await.len(), 20);
        let limit = PageLimit::new(Some(10), 10, 10).unwrap();
        let executions = nodes.stores[0]
            .list_executions(account, ExecutionFilter::default(), None, limit)
            .await
            .unwrap();
        assert_eq!(executions.items.len(), 2, "one execution for the new cid");
        nodes.close().await;
    }
}
