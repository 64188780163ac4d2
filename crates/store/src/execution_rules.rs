//! What both backends decide alike about executions, their lines and exports of them, apart
//! from any SQL: which status allows which change, what a run report changes, which lines of
//! a batch are new, which seqs a page reads.

use std::collections::HashSet;
use std::ops::Range;
use std::time::Duration;

use pipelog_core::execution::{Execution, ExecutionStatus, FinalStatus};
use pipelog_core::ids::{Cid, ExecutionId};
use pipelog_core::log_entry::LogLine;
use pipelog_core::paging::{LogQuery, SortOrder};
use serde_json::{Map, Value};

use crate::{ReportedRun, StoreError};

/// The input an execution is handed: the launch's, plus `eventCorrelationId` = its cid.
pub(crate) fn input_with_cid(input: &Map<String, Value>, cid: &Cid) -> Map<String, Value> {
    let mut input = input.clone();
    input.insert(
        "eventCorrelationId".into(),
        Value::String(cid.as_str().to_owned()),
    );
    input
}

/// Only a queued execution can be started.
pub(crate) fn check_can_start(id: ExecutionId, status: ExecutionStatus) -> Result<(), StoreError> {
    if status == ExecutionStatus::Queued {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "execution {id} is {status}; only a QUEUED execution can be started"
    )))
}

/// An execution ends once.
pub(crate) fn check_can_end(id: ExecutionId, status: ExecutionStatus) -> Result<(), StoreError> {
    if !status.has_ended() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "execution {id} has already ended with status {status}"
    )))
}

/// An ended execution takes no more lines; a queued or running one does.
pub(crate) fn check_takes_lines(
    id: ExecutionId,
    status: ExecutionStatus,
) -> Result<(), StoreError> {
    if !status.has_ended() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "execution {id} has ended with status {status}; it takes no more log lines"
    )))
}

/// The status a run report ends its execution with, once a queued one was started: `None`
/// when the report ends nothing (the run goes on, or it ended as reported already). A
/// report of another end than the one recorded is a conflict.
pub(crate) fn reported_end(
    execution: &Execution,
    cid: &Cid,
    state: ReportedRun,
) -> Result<Option<FinalStatus>, StoreError> {
    match (execution.status, state) {
        (ExecutionStatus::Ended(ended), ReportedRun::Ended(reported)) if ended != reported => {
            Err(StoreError::Conflict(format!(
                "execution {} (cid {cid}) has already ended with status {ended}; the report \
                 says {reported}",
                execution.id
            )))
        }
        (ExecutionStatus::Running, ReportedRun::Ended(reported)) => Ok(Some(reported)),
        _ => Ok(None),
    }
}

/// The lines of a batch to write: those without a client id, and those whose id neither
/// the execution holds (`held` says) nor an earlier line of the batch has. Also how many
/// were left out.
pub(crate) fn new_lines<E>(
    lines: &[LogLine],
    mut held: impl FnMut(&str) -> Result<bool, E>,
) -> Result<(Vec<&LogLine>, u64), E> {
    let mut seen = HashSet::new();
    let mut kept = Vec::with_capacity(lines.len());
    for line in lines {
        if let Some(id) = &line.client_id
            && (!seen.insert(id.as_str()) || held(id.as_str())?)
        {
            continue;
        }
        kept.push(line);
    }
    let duplicates = (lines.len() - kept.len()) as u64;
    Ok((kept, duplicates))
}

/// The seqs a page reads, from the stored lines its time range selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PageSeqs {
    /// How many stored lines the time range selects.
    pub selected: u64,
    /// The seq range to read, after the lines skipped and the cursor; `None` when the page
    /// is empty without reading anything.
    pub seqs: Option<Range<u64>>,
}

/// Narrows `in_time` (the stored lines of the query's time range) by the lines to skip,
/// then by the cursor.
pub(crate) fn page_seqs(in_time: Range<u64>, query: &LogQuery) -> PageSeqs {
    let Range {
        start: mut low,
        end: mut high,
    } = in_time;
    let selected = high.saturating_sub(low);
    match query.order {
        SortOrder::Asc => low = low.saturating_add(query.skip),
        SortOrder::Desc => high = high.saturating_sub(query.skip),
    }
    match (query.order, query.resume_after) {
        (SortOrder::Asc, Some(after)) => low = low.max(after.saturating_add(1)),
        (SortOrder::Desc, Some(after)) => high = high.min(after),
        (_, None) => {}
    }
    let readable = low < high && !query.severities.is_empty();
    PageSeqs {
        selected,
        seqs: readable.then_some(low..high),
    }
}

/// The part of `seqs` that the execution still stores.
pub(crate) fn stored_run(execution: &Execution, seqs: Range<u64>) -> Range<u64> {
    seqs.start.max(execution.first_seq)..seqs.end.min(execution.next_seq)
}

/// A duration in milliseconds, as times are stored (an export's life, a stale claim's age).
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The cases both backends' binary searches over seq (the first seq from which on every
/// line was created at or after an instant) are checked with, against a scan.
#[cfg(test)]
pub(crate) mod seq_search_cases {
    /// Lines as `(seq, created_at)`: seqs 3 to 6 are gone, and some lines share a
    /// millisecond.
    pub(crate) const LINES: [(u64, i64); 8] = [
        (0, 10),
        (1, 10),
        (2, 12),
        (7, 12),
        (8, 15),
        (9, 20),
        (10, 20),
        (11, 21),
    ];

    /// The instants searched for, from before the first line to after the last.
    pub(crate) const INSTANTS: std::ops::RangeInclusive<i64> = 8..=23;

    /// The seq ranges `[low, high)` searched in.
    pub(crate) const RANGES: [(u64, u64); 5] = [(0, 12), (0, 9), (2, 11), (5, 8), (12, 12)];

    /// Checks `found`, what the search of `[low, high)` for `instant` answered, against a
    /// scan of `LINES`.
    pub(crate) fn check(low: u64, high: u64, instant: i64, found: u64) {
        let expected = LINES
            .iter()
            .find(|(seq, created_at)| (low..high).contains(seq) && *created_at >= instant)
            .map_or(high, |(seq, _)| *seq);
        // Any seq in a gap before the expected line selects the same lines.
        let selected = |start: u64| {
            LINES
                .iter()
                .filter(|(seq, _)| (start..high).contains(seq))
                .count()
        };
        assert_eq!(
            selected(found),
            selected(expected),
            "instant {instant}, range [{low}, {high}): found {found}, expected {expected}"
        );
    }
}
