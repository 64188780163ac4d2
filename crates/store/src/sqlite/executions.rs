//! Jobs and executions: launching, the status transitions, claiming, listing.

use pipelog_core::execution::{
    ActionOrigin, Execution, ExecutionStatus, FinalStatus, LaunchExecution,
};
use pipelog_core::ids::{AccountId, Cid, ExecutionId, JobId, JobKey, KeyId};
use pipelog_core::job::{Job, JobSpec, JobType};
use pipelog_core::paging::{Page, PageLimit};
use pipelog_core::time::UtcTime;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::{Map, Value};

use pipelog_core::audit_events;

use super::audit;
use super::columns::{
    corrupt, optional_label, optional_time, optional_uuid_bytes, parsed, time, uuid_bytes,
};
use crate::execution_rules::{check_can_end, check_can_start, input_with_cid, reported_end};
use crate::{ExecutionFilter, ReportedRun, StoreError, TrackedRun};

// Macros rather than `const`s so that each query is one `concat!`ed literal: built with
// `format!`, it was formatted and allocated again on every call (every append, every page).
macro_rules! execution_select {
    () => {
        "SELECT e.id, e.public_id, e.account_id, e.cid, e.status, \
     e.action_origin, e.input, e.launched_by, e.queued_at, e.started_at, e.ended_at, \
     e.updated_at, e.next_seq, j.public_id, j.job_key, j.title, j.job_type, \
     j.system_job_type, j.periodicity, j.pipeline_id, e.first_seq \
     FROM executions e JOIN jobs j ON j.id = e.job_id"
    };
}

fn execution_from_row(row: &Row<'_>) -> rusqlite::Result<Execution> {
    let input: Map<String, Value> = parsed(row, 6, |text| serde_json::from_str(text))?;
    let periodicity: Vec<Value> = parsed(row, 18, |text| serde_json::from_str(text))?;
    let next_seq: i64 = row.get(12)?;
    Ok(Execution {
        id: ExecutionId::from_bytes(uuid_bytes(row, 1)?),
        account_id: AccountId::new(row.get(2)?),
        cid: parsed(row, 3, Cid::parse)?,
        status: parsed(row, 4, ExecutionStatus::parse)?,
        action_origin: parsed(row, 5, ActionOrigin::parse)?,
        input,
        launched_by: optional_uuid_bytes(row, 7)?.map(KeyId::from_bytes),
        queued_at: time(row, 8)?,
        started_at: optional_time(row, 9)?,
        ended_at: optional_time(row, 10)?,
        updated_at: time(row, 11)?,
        next_seq: u64::try_from(next_seq).map_err(|_| corrupt(12, "negative seq"))?,
        first_seq: row.get(20)?,
        job: Job {
            id: JobId::from_bytes(uuid_bytes(row, 13)?),
            key: parsed(row, 14, JobKey::parse)?,
            title: optional_label(row, 15)?,
            job_type: parsed(row, 16, JobType::parse)?,
            system_job_type: optional_label(row, 17)?,
            periodicity,
            pipeline_id: optional_label(row, 19)?,
        },
    })
}

const NOT_FOUND: StoreError = StoreError::NotFound { what: "execution" };

/// The stored row behind an execution id, within the account.
pub(super) struct ExecutionRow {
    pub rowid: i64,
    pub execution: Execution,
}

pub(super) fn get(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
) -> Result<Execution, StoreError> {
    find(connection, account, id).map(|row| row.execution)
}

pub(super) fn find(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
) -> Result<ExecutionRow, StoreError> {
    connection
        .prepare_cached(concat!(
            execution_select!(),
            " WHERE e.public_id = ?1 AND e.account_id = ?2"
        ))?
        .query_row(params![id.as_bytes(), account.get()], |row| {
            Ok(ExecutionRow {
                rowid: row.get(0)?,
                execution: execution_from_row(row)?,
            })
        })
        .optional()?
        .ok_or(NOT_FOUND)
}

/// What appending lines needs of an execution: one narrow row, no job, no input.
pub(super) struct AppendTarget {
    pub rowid: i64,
    pub id: ExecutionId,
    pub cid: Cid,
    pub status: ExecutionStatus,
    pub next_seq: u64,
    pub last_log_at: UtcTime,
}

macro_rules! append_target_select {
    () => {
        "SELECT id, public_id, cid, status, next_seq, last_log_at FROM executions"
    };
}

fn append_target_from_row(row: &Row<'_>) -> rusqlite::Result<AppendTarget> {
    Ok(AppendTarget {
        rowid: row.get(0)?,
        id: ExecutionId::from_bytes(uuid_bytes(row, 1)?),
        cid: parsed(row, 2, Cid::parse)?,
        status: parsed(row, 3, ExecutionStatus::parse)?,
        next_seq: row.get(4)?,
        last_log_at: time(row, 5)?,
    })
}

pub(super) fn append_target(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
) -> Result<AppendTarget, StoreError> {
    connection
        .prepare_cached(concat!(
            append_target_select!(),
            " WHERE public_id = ?1 AND account_id = ?2"
        ))?
        .query_row(
            params![id.as_bytes(), account.get()],
            append_target_from_row,
        )
        .optional()?
        .ok_or(NOT_FOUND)
}

pub(super) fn append_target_by_cid(
    connection: &Connection,
    account: AccountId,
    cid: &Cid,
) -> Result<Option<AppendTarget>, StoreError> {
    Ok(connection
        .prepare_cached(concat!(
            append_target_select!(),
            " WHERE account_id = ?1 AND cid = ?2"
        ))?
        .query_row(params![account.get(), cid.as_str()], append_target_from_row)
        .optional()?)
}

fn by_rowid(connection: &Connection, rowid: i64) -> Result<Execution, StoreError> {
    connection
        .prepare_cached(concat!(execution_select!(), " WHERE e.id = ?1"))?
        .query_row([rowid], execution_from_row)
        .optional()?
        .ok_or(NOT_FOUND)
}

/// Creates the job on first use; later launches update the fields they give.
fn ensure_job(
    connection: &Connection,
    account: AccountId,
    spec: &JobSpec,
    now: UtcTime,
) -> Result<i64, StoreError> {
    let periodicity = spec
        .periodicity
        .as_ref()
        .map(|values| Value::Array(values.clone()).to_string());
    let rowid = connection
        .prepare_cached(
            "INSERT INTO jobs (public_id, account_id, job_key, title, job_type, system_job_type, \
                 periodicity, pipeline_id, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, coalesce(?5, 'USER'), ?6, coalesce(?7, '[]'), ?8, ?9, ?9) \
             ON CONFLICT (account_id, job_key) DO UPDATE SET \
                 title = coalesce(?4, title), \
                 job_type = coalesce(?5, job_type), \
                 system_job_type = coalesce(?6, system_job_type), \
                 periodicity = coalesce(?7, periodicity), \
                 pipeline_id = coalesce(?8, pipeline_id), \
                 updated_at = ?9 \
             RETURNING id",
        )?
        .query_row(
            params![
                JobId::generate().as_bytes(),
                account.get(),
                spec.key.as_str(),
                spec.title.as_ref().map(|title| title.as_str()),
                spec.job_type.map(JobType::as_str),
                spec.system_job_type.as_ref().map(|kind| kind.as_str()),
                periodicity,
                spec.pipeline_id.as_ref().map(|id| id.as_str()),
                now.unix_millis(),
            ],
            |row| row.get(0),
        )?;
    Ok(rowid)
}

/// An execution about to be stored.
struct NewExecution<'a> {
    account: AccountId,
    job_rowid: i64,
    cid: &'a Cid,
    status: ExecutionStatus,
    action_origin: ActionOrigin,
    input: &'a Map<String, Value>,
    launched_by: Option<KeyId>,
    now: UtcTime,
}

/// Stores a new execution and records its `job.queue`, with which every execution's audit
/// trail begins; returns its rowid and the execution as stored.
fn insert_execution(
    connection: &Connection,
    new: NewExecution<'_>,
) -> Result<(i64, Execution), StoreError> {
    let id = ExecutionId::generate();
    let started_at = (new.status == ExecutionStatus::Running).then_some(new.now.unix_millis());
    let input = Value::Object(new.input.clone()).to_string();
    connection
        .prepare_cached(
            "INSERT INTO executions (public_id, account_id, job_id, cid, status, action_origin, \
                 input, launched_by, queued_at, started_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?9)",
        )?
        .execute(params![
            id.as_bytes(),
            new.account.get(),
            new.job_rowid,
            new.cid.as_str(),
            new.status.as_str(),
            new.action_origin.as_str(),
            input,
            new.launched_by.as_ref().map(KeyId::as_bytes),
            new.now.unix_millis(),
            started_at,
        ])?;
    let rowid = connection.last_insert_rowid();
    let execution = by_rowid(connection, rowid)?;
    audit::record(
        connection,
        new.account,
        &audit_events::job_queue(&execution),
        new.now,
    )?;
    Ok((rowid, execution))
}

pub(super) fn launch(
    connection: &Connection,
    account: AccountId,
    launch: &LaunchExecution,
    now: UtcTime,
) -> Result<Execution, StoreError> {
    let job_rowid = ensure_job(connection, account, &launch.job, now)?;
    let cid = Cid::generate();
    let (_, execution) = insert_execution(
        connection,
        NewExecution {
            account,
            job_rowid,
            cid: &cid,
            status: ExecutionStatus::Queued,
            action_origin: launch.action_origin,
            input: &input_with_cid(&launch.input, &cid),
            launched_by: launch.launched_by,
            now,
        },
    )?;
    Ok(execution)
}

/// A running execution for a correlation id seen for the first time in a log request.
pub(super) fn create_for_cid(
    connection: &Connection,
    account: AccountId,
    cid: &Cid,
    job: &JobKey,
    launched_by: Option<KeyId>,
    now: UtcTime,
) -> Result<AppendTarget, StoreError> {
    let job_rowid = ensure_job(connection, account, &JobSpec::with_key(job.clone()), now)?;
    let status = ExecutionStatus::Running;
    let (rowid, execution) = insert_execution(
        connection,
        NewExecution {
            account,
            job_rowid,
            cid,
            status,
            action_origin: ActionOrigin::Api,
            input: &input_with_cid(&Map::new(), cid),
            launched_by,
            now,
        },
    )?;
    // Queued (job.queue is recorded) and started at once.
    audit::record(
        connection,
        account,
        &audit_events::job_start(&execution),
        now,
    )?;
    Ok(AppendTarget {
        rowid,
        id: execution.id,
        cid: cid.clone(),
        status,
        next_seq: 0,
        last_log_at: UtcTime::from_unix_millis(0).expect("the epoch is in range"),
    })
}

/// An orchestrator's report on the run it names `cid`; see `Store::report_run`.
pub(super) fn report_run(
    connection: &Connection,
    account: AccountId,
    cid: &Cid,
    launch: &LaunchExecution,
    state: ReportedRun,
    now: UtcTime,
) -> Result<TrackedRun, StoreError> {
    let (mut execution, created) = match append_target_by_cid(connection, account, cid)? {
        Some(found) => (find(connection, account, found.id)?.execution, false),
        None => {
            let job_rowid = ensure_job(connection, account, &launch.job, now)?;
            let (_, execution) = insert_execution(
                connection,
                NewExecution {
                    account,
                    job_rowid,
                    cid,
                    status: ExecutionStatus::Queued,
                    action_origin: launch.action_origin,
                    input: &input_with_cid(&launch.input, cid),
                    launched_by: launch.launched_by,
                    now,
                },
            )?;
            (execution, true)
        }
    };
    let before = execution.status;
    if execution.status == ExecutionStatus::Queued {
        execution = start(connection, account, execution.id, now)?;
    }
    if let Some(reported) = reported_end(&execution, cid, state)? {
        execution = end(connection, account, execution.id, reported, now)?;
    }
    Ok(TrackedRun {
        changed: created || execution.status != before,
        execution,
        created,
    })
}

pub(super) fn start(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
    now: UtcTime,
) -> Result<Execution, StoreError> {
    let current = find(connection, account, id)?;
    check_can_start(id, current.execution.status)?;
    connection
        .prepare_cached(
            "UPDATE executions SET status = 'RUNNING', started_at = ?1, updated_at = ?1 WHERE id = ?2",
        )?
        .execute(params![now.unix_millis(), current.rowid])?;
    let execution = by_rowid(connection, current.rowid)?;
    audit::record(
        connection,
        account,
        &audit_events::job_start(&execution),
        now,
    )?;
    Ok(execution)
}

pub(super) fn end(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
    status: FinalStatus,
    now: UtcTime,
) -> Result<Execution, StoreError> {
    let current = find(connection, account, id)?;
    check_can_end(id, current.execution.status)?;
    connection
        .prepare_cached(
            "UPDATE executions SET status = ?1, ended_at = ?2, updated_at = ?2 WHERE id = ?3",
        )?
        .execute(params![status.as_str(), now.unix_millis(), current.rowid])?;
    let execution = by_rowid(connection, current.rowid)?;
    audit::record(connection, account, &audit_events::job_end(&execution), now)?;
    Ok(execution)
}

pub(super) fn claim(
    connection: &Connection,
    account: AccountId,
    job: &JobKey,
    now: UtcTime,
) -> Result<Option<Execution>, StoreError> {
    let oldest_queued: Option<i64> = connection
        .prepare_cached(
            "SELECT e.id FROM executions e \
             WHERE e.job_id = (SELECT id FROM jobs WHERE account_id = ?1 AND job_key = ?2) \
               AND e.status = 'QUEUED' \
             ORDER BY e.id LIMIT 1",
        )?
        .query_row(params![account.get(), job.as_str()], |row| row.get(0))
        .optional()?;
    let Some(rowid) = oldest_queued else {
        return Ok(None);
    };
    connection
        .prepare_cached(
            "UPDATE executions SET status = 'RUNNING', started_at = ?1, updated_at = ?1 WHERE id = ?2",
        )?
        .execute(params![now.unix_millis(), rowid])?;
    let execution = by_rowid(connection, rowid)?;
    audit::record(
        connection,
        account,
        &audit_events::job_start(&execution),
        now,
    )?;
    Ok(Some(execution))
}

pub(super) fn list(
    connection: &Connection,
    account: AccountId,
    filter: &ExecutionFilter,
    after: Option<ExecutionId>,
    limit: PageLimit,
) -> Result<Page<Execution>, StoreError> {
    let before_rowid: i64 = match after {
        None => i64::MAX,
        Some(id) => match find(connection, account, id) {
            Ok(row) => row.rowid,
            Err(StoreError::NotFound { .. }) => return Err(StoreError::InvalidCursor),
            Err(error) => return Err(error),
        },
    };
    let statuses = (!filter.statuses.is_empty()).then(|| {
        Value::Array(
            filter
                .statuses
                .iter()
                .map(|status| Value::String(status.as_str().to_owned()))
                .collect(),
        )
        .to_string()
    });
    let executions = connection
        .prepare_cached(concat!(
            execution_select!(),
            " \
             WHERE e.account_id = ?1 AND e.id < ?2 \
               AND (?3 IS NULL OR e.status IN (SELECT value FROM json_each(?3))) \
               AND (?4 IS NULL OR j.job_key = ?4) \
               AND (?5 IS NULL OR e.queued_at >= ?5) \
               AND (?6 IS NULL OR e.queued_at < ?6) \
             ORDER BY e.id DESC LIMIT ?7"
        ))?
        .query_map(
            params![
                account.get(),
                before_rowid,
                statuses,
                filter.job_key.as_ref().map(JobKey::as_str),
                filter.queued.from.map(UtcTime::unix_millis),
                filter.queued.to.map(UtcTime::unix_millis),
                limit.get() + 1,
            ],
            execution_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(executions, limit))
}
