//! Execution log lines: appending with `seq` numbers, and reading a page by `seq` range.
//!
//! Every page is one range scan of the `(execution_id, seq)` index, so a page deep in a
//! long log costs what the first page costs. Time bounds are turned into `seq` bounds
//! first: `created_at` never decreases along `seq` (the writer gives a line the later of
//! the clock and the execution's previous line), so the first line at or after an instant
//! can be found by binary search over `seq`, about 20 index probes for a million lines.

use std::ops::Range;

use pipelog_core::audit_events;
use pipelog_core::execution::Execution;
use pipelog_core::ids::{AccountId, ExecutionId, KeyId, Label};
use pipelog_core::log_entry::{
    LogAttributes, LogEntry, LogLine, LogMessage, MessageType, Severity,
};
use pipelog_core::paging::{LogQuery, Page, SortOrder, TimeRange};
use pipelog_core::time::UtcTime;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::audit;
use super::columns::{corrupt, optional_label, optional_time, time};
use super::executions::{self, ExecutionRow};
use super::writer::statement;
use crate::execution_rules::{self, PageSeqs, check_takes_lines, page_seqs, stored_run};
use crate::{Appended, DeletedLogs, LogPage, LogRun, LogTarget, StoreError};

pub(super) fn append(
    connection: &Connection,
    account: AccountId,
    target: &LogTarget,
    lines: &[LogLine],
    now: UtcTime,
) -> Result<Appended, StoreError> {
    let execution = match target {
        LogTarget::Execution(id) => executions::append_target(connection, account, *id)?,
        LogTarget::Cid {
            cid,
            job_if_new,
            launched_by,
        } => match executions::append_target_by_cid(connection, account, cid)? {
            Some(found) => found,
            None => {
                executions::create_for_cid(connection, account, cid, job_if_new, *launched_by, now)?
            }
        },
    };
    check_takes_lines(execution.id, execution.status)?;
    let rowid = execution.rowid;
    let created_at = now.max(execution.last_log_at);
    let first_seq = execution.next_seq;
    let (lines, duplicates) = new_lines(connection, rowid, lines)?;
    let mut insert = connection.prepare_cached(
        "INSERT INTO execution_logs (execution_id, seq, created_at, event_time, severity, \
             message_type, emitter_name, event_correlation_id, message, attributes, client_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    for (offset, line) in lines.iter().enumerate() {
        insert.execute(params![
            rowid,
            first_seq + offset as u64,
            created_at.unix_millis(),
            line.timestamp.map(UtcTime::unix_millis),
            line.severity.rank(),
            line.message_type.rank(),
            line.emitter_name.as_ref().map(Label::as_str),
            line.event_correlation_id.as_ref().map(Label::as_str),
            line.message.as_str(),
            line.attributes.as_ref().map(LogAttributes::to_json),
            line.client_id.as_ref().map(Label::as_str),
        ])?;
    }
    let count = lines.len() as u64;
    connection
        .prepare_cached("UPDATE executions SET next_seq = ?1, last_log_at = ?2 WHERE id = ?3")?
        .execute(params![first_seq + count, created_at.unix_millis(), rowid])?;
    Ok(Appended {
        execution_id: execution.id,
        cid: execution.cid,
        first_seq,
        count,
        duplicates,
        created_at,
    })
}

/// The lines of a batch to write, and how many were left out as duplicates; see
/// `execution_rules::new_lines`.
fn new_lines<'a>(
    connection: &Connection,
    execution: i64,
    lines: &'a [LogLine],
) -> Result<(Vec<&'a LogLine>, u64), StoreError> {
    if lines.iter().all(|line| line.client_id.is_none()) {
        return Ok((lines.iter().collect(), 0));
    }
    let mut held = connection.prepare_cached(
        "SELECT 1 FROM execution_logs WHERE execution_id = ?1 AND client_id = ?2",
    )?;
    Ok(execution_rules::new_lines(lines, |id| {
        held.exists(params![execution, id])
    })?)
}

/// Each batch appended in its own savepoint of the current write: a batch that fails
/// (its execution has ended, say) leaves nothing, and the others stand. A savepoint that
/// cannot be taken or undone fails the whole write, so nothing half-done is committed.
pub(super) fn append_batches(
    connection: &Connection,
    account: AccountId,
    batches: &[(LogTarget, Vec<LogLine>)],
    now: UtcTime,
) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let mut outcomes = Vec::with_capacity(batches.len());
    for (target, lines) in batches {
        statement(connection, "SAVEPOINT batch")?;
        let outcome = append(connection, account, target, lines, now);
        if outcome.is_err() {
            statement(connection, "ROLLBACK TO batch")?;
        }
        statement(connection, "RELEASE batch")?;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

fn entry_from_row(execution_id: ExecutionId, row: &Row<'_>) -> rusqlite::Result<LogEntry> {
    let seq: i64 = row.get(0)?;
    let severity: u8 = row.get(3)?;
    let message_type: u8 = row.get(4)?;
    Ok(LogEntry {
        execution_id,
        seq: u64::try_from(seq).map_err(|_| corrupt(0, "negative seq"))?,
        created_at: time(row, 1)?,
        line: LogLine {
            timestamp: optional_time(row, 2)?,
            severity: Severity::from_rank(severity)
                .ok_or_else(|| corrupt(3, "unknown severity"))?,
            message_type: MessageType::from_rank(message_type)
                .ok_or_else(|| corrupt(4, "unknown message type"))?,
            emitter_name: optional_label(row, 5)?,
            event_correlation_id: optional_label(row, 6)?,
            message: LogMessage::from_stored(row.get(7)?),
            attributes: match row.get_ref(8)?.as_str_or_null()? {
                Some(json) => {
                    Some(LogAttributes::from_stored(json).map_err(|error| corrupt(8, error))?)
                }
                None => None,
            },
            client_id: optional_label(row, 9)?,
        },
    })
}

const PAGE_ASC: &str = "SELECT seq, created_at, event_time, severity, message_type, emitter_name, \
     event_correlation_id, message, attributes, client_id FROM execution_logs \
     WHERE execution_id = ?1 AND seq >= ?2 AND seq < ?3 AND (?4 = 15 OR ((1 << severity) & ?4) != 0) \
     ORDER BY seq ASC LIMIT ?5";
const PAGE_DESC: &str = "SELECT seq, created_at, event_time, severity, message_type, emitter_name, \
     event_correlation_id, message, attributes, client_id FROM execution_logs \
     WHERE execution_id = ?1 AND seq >= ?2 AND seq < ?3 AND (?4 = 15 OR ((1 << severity) & ?4) != 0) \
     ORDER BY seq DESC LIMIT ?5";

pub(super) fn read(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
    query: &LogQuery,
) -> Result<LogPage, StoreError> {
    let ExecutionRow { rowid, execution } = executions::find(connection, account, id)?;
    let (selected, entries) = read_range(connection, rowid, &execution, query)?;
    Ok(LogPage {
        execution,
        entries,
        selected,
    })
}

/// The stored lines with `seq` in `[low, high)` created in `range`: a narrower seq range,
/// found by binary search.
pub(super) fn seqs_in_time(
    connection: &Connection,
    rowid: i64,
    mut low: u64,
    mut high: u64,
    range: &TimeRange,
) -> Result<(u64, u64), StoreError> {
    if let Some(from) = range.from {
        low = first_seq_at_or_after(connection, rowid, low, high, from)?;
    }
    if let Some(to) = range.to {
        high = first_seq_at_or_after(connection, rowid, low, high, to)?;
    }
    Ok((low, high))
}

/// Reads a page; also says how many stored lines the time range selects.
fn read_range(
    connection: &Connection,
    rowid: i64,
    execution: &Execution,
    query: &LogQuery,
) -> Result<(u64, Page<LogEntry>), StoreError> {
    let id = execution.id;
    // The stored lines are [first_seq, next_seq); the page is that range narrowed by time,
    // then by the lines to skip, then by the cursor.
    let (low, high) = seqs_in_time(
        connection,
        rowid,
        execution.first_seq,
        execution.next_seq,
        &query.created,
    )?;
    let PageSeqs { selected, seqs } = page_seqs(low..high, query);
    let Some(Range {
        start: low,
        end: high,
    }) = seqs
    else {
        let empty = Page {
            items: Vec::new(),
            has_more: false,
        };
        return Ok((selected, empty));
    };
    let sql = match query.order {
        SortOrder::Asc => PAGE_ASC,
        SortOrder::Desc => PAGE_DESC,
    };
    let entries = connection
        .prepare_cached(sql)?
        .query_map(
            params![
                rowid,
                low,
                high,
                query.severities.bits(),
                query.limit.get() + 1
            ],
            |row| entry_from_row(id, row),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((selected, Page::from_overfetch(entries, query.limit)))
}

/// Up to `limit` stored lines with `seq` in `seqs`, oldest first.
pub(super) fn read_run(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
    seqs: Range<u64>,
    limit: usize,
) -> Result<LogRun, StoreError> {
    let ExecutionRow { rowid, execution } = executions::find(connection, account, id)?;
    let Range {
        start: low,
        end: high,
    } = stored_run(&execution, seqs);
    let entries = if low >= high || limit == 0 {
        Vec::new()
    } else {
        connection
            .prepare_cached(PAGE_ASC)?
            .query_map(params![rowid, low, high, 15, limit], |row| {
                entry_from_row(id, row)
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(LogRun { execution, entries })
}

/// Deletes an execution's stored lines for readers (its rows go later, in batches) and
/// records the deletion.
pub(super) fn delete(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<DeletedLogs, StoreError> {
    let ExecutionRow {
        rowid,
        mut execution,
    } = executions::find(connection, account, id)?;
    let deleted = execution.stored_lines();
    connection
        .prepare_cached("UPDATE executions SET first_seq = next_seq WHERE id = ?1")?
        .execute([rowid])?;
    execution.first_seq = execution.next_seq;
    let event = audit_events::execution_logs_delete(&execution, deleted, actor, now);
    audit::record(connection, account, &event, now)?;
    Ok(DeletedLogs { execution, deleted })
}

/// Removes up to `max_rows` rows below some execution's `first_seq`.
pub(super) fn purge(connection: &Connection, max_rows: usize) -> Result<Option<u64>, StoreError> {
    let pending: Option<(i64, u64, u64)> = connection
        .prepare_cached(
            "SELECT id, purged_below, first_seq FROM executions \
             WHERE purged_below < first_seq LIMIT 1",
        )?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?;
    let Some((rowid, purged_below, first_seq)) = pending else {
        return Ok(None);
    };
    let end = first_seq.min(purged_below.saturating_add(max_rows as u64));
    let removed = connection
        .prepare_cached(
            "DELETE FROM execution_logs WHERE execution_id = ?1 AND seq >= ?2 AND seq < ?3",
        )?
        .execute(params![rowid, purged_below, end])?;
    connection
        .prepare_cached("UPDATE executions SET purged_below = ?1 WHERE id = ?2")?
        .execute(params![end, rowid])?;
    Ok(Some(removed as u64))
}

/// Executions whose first stored line was created before their account's retention
/// cutoff, after rowid `after`: `(rowid, cutoff)`. Only those have lines to expire, so a
/// sweep writes nothing for an old execution whose remaining lines are all newer.
pub(super) fn expiry_candidates(
    connection: &Connection,
    default_days: Option<u32>,
    now: UtcTime,
    after: i64,
    limit: usize,
) -> Result<Vec<(i64, i64)>, StoreError> {
    const DAY_MILLIS: i64 = 24 * 60 * 60 * 1000;
    // Lines are never older than their execution, so one queued after the cutoff has none
    // to expire.
    Ok(connection
        .prepare_cached(
            "SELECT e.id, ?1 - coalesce(a.execution_log_retention_days, ?2) * ?3 AS cutoff \
             FROM executions e JOIN accounts a ON a.id = e.account_id \
             WHERE e.id > ?4 AND e.first_seq < e.next_seq \
               AND coalesce(a.execution_log_retention_days, ?2) IS NOT NULL \
               AND e.queued_at < ?1 - coalesce(a.execution_log_retention_days, ?2) * ?3 \
               AND EXISTS (SELECT 1 FROM execution_logs l WHERE l.execution_id = e.id \
                   AND l.seq = e.first_seq \
                   AND l.created_at < ?1 - coalesce(a.execution_log_retention_days, ?2) * ?3) \
             ORDER BY e.id LIMIT ?5",
        )?
        .query_map(
            params![now.unix_millis(), default_days, DAY_MILLIS, after, limit],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Expires an execution's lines created before `cutoff`: they are a prefix of its stored
/// lines. Returns how many.
pub(super) fn expire(connection: &Connection, rowid: i64, cutoff: i64) -> Result<u64, StoreError> {
    let bounds: Option<(u64, u64)> = connection
        .prepare_cached("SELECT first_seq, next_seq FROM executions WHERE id = ?1")?
        .query_row([rowid], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((first_seq, next_seq)) = bounds else {
        return Ok(0);
    };
    let Some(cutoff) = UtcTime::from_unix_millis(cutoff) else {
        return Ok(0);
    };
    let keep_from = first_seq_at_or_after(connection, rowid, first_seq, next_seq, cutoff)?;
    if keep_from > first_seq {
        connection
            .prepare_cached("UPDATE executions SET first_seq = ?1 WHERE id = ?2")?
            .execute(params![keep_from, rowid])?;
    }
    Ok(keep_from - first_seq)
}

/// The smallest seq in `[low, high]` from which on every line of the execution was created
/// at or after `instant` (`high` when no line in range was).
fn first_seq_at_or_after(
    connection: &Connection,
    execution_rowid: i64,
    mut low: u64,
    mut high: u64,
    instant: UtcTime,
) -> Result<u64, StoreError> {
    let mut probe = connection.prepare_cached(
        "SELECT seq, created_at FROM execution_logs \
         WHERE execution_id = ?1 AND seq >= ?2 AND seq < ?3 ORDER BY seq LIMIT 1",
    )?;
    while low < high {
        let middle = low + (high - low) / 2;
        let found: Option<(u64, i64)> = probe
            .query_row(params![execution_rowid, middle, high], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        match found {
            Some((seq, created_at)) if created_at < instant.unix_millis() => low = seq + 1,
            // The line at or after `middle` is late enough, or there is none before `high`.
            _ => high = middle,
        }
    }
    Ok(low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution_rules::seq_search_cases::{INSTANTS, LINES, RANGES, check};

    fn store_with_times(times: &[(u64, i64)]) -> Connection {
        let mut connection = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut connection).unwrap();
        for (seq, created_at) in times {
            connection
                .execute(
                    "INSERT INTO execution_logs (execution_id, seq, created_at, severity, message_type, message) \
                     VALUES (1, ?1, ?2, 1, 0, 'x')",
                    params![seq, created_at],
                )
                .unwrap();
        }
        connection
    }

    #[test]
    fn binary_search_agrees_with_a_scan_across_gaps_and_ties() {
        let connection = store_with_times(&LINES);
        for instant in INSTANTS {
            for (low, high) in RANGES {
                let instant_time = UtcTime::from_unix_millis(instant).unwrap();
                let found = first_seq_at_or_after(&connection, 1, low, high, instant_time).unwrap();
                check(low, high, instant, found);
            }
        }
    }

    #[test]
    fn a_page_is_an_index_range_search_never_a_scan() {
        let connection = store_with_times(&[]);
        for sql in [PAGE_ASC, PAGE_DESC] {
            let plan: Vec<String> = connection
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map(params![1, 0, 10, 15, 51], |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            let plan = plan.join("\n");
            assert!(
                plan.contains(
                    "USING INDEX execution_logs_seq (execution_id=? AND seq>? AND seq<?)"
                ),
                "{plan}"
            );
            assert!(!plan.contains("SCAN"), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
