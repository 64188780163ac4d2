//! Jobs and executions: launching, the status transitions, claiming, listing.
//!
//! A change and the execution it reads back with its job are one statement (`WITH e AS
//! (INSERT or UPDATE ... RETURNING *) SELECT ... FROM e JOIN jobs`). What two nodes could
//! otherwise both do at once (start or end one execution, claim one queued execution,
//! create the execution of a new cid) is settled by a row lock or a unique index, never by
//! a read that another node's write could make stale.

use pipelog_core::audit_events;
use pipelog_core::execution::{
    ActionOrigin, Execution, ExecutionStatus, FinalStatus, LaunchExecution,
};
use pipelog_core::ids::{AccountId, Cid, ExecutionId, JobId, JobKey, KeyId};
use pipelog_core::job::{Job, JobSpec, JobType};
use pipelog_core::paging::{Page, PageLimit};
use pipelog_core::time::UtcTime;
use serde_json::{Map, Value};
use tokio_postgres::Row;

use super::Db;
use super::audit;
use super::columns::{
    self, count, optional_label, optional_time, optional_uuid_bytes, parsed, time, uuid, uuid_bytes,
};
use crate::execution_rules::{check_can_end, check_can_start, input_with_cid, reported_end};
use crate::{ExecutionFilter, LogTarget, ReportedRun, StoreError, TrackedRun};

// Macros rather than `const`s so that each statement is one `concat!`ed literal.

/// An execution and its job, from rows named `e` (executions) and `j` (jobs).
macro_rules! execution_columns {
    () => {
        "e.id, e.public_id, e.account_id, e.cid, e.status, e.action_origin, e.input, \
         e.launched_by, e.queued_at, e.started_at, e.ended_at, e.updated_at, e.next_seq, \
         e.first_seq, j.public_id, j.job_key, j.title, j.job_type, j.system_job_type, \
         j.periodicity, j.pipeline_id"
    };
}

macro_rules! execution_select {
    () => {
        concat!(
            "SELECT ",
            execution_columns!(),
            " FROM executions e JOIN jobs j ON j.account_id = e.account_id AND j.id = e.job_id"
        )
    };
}

/// Ends a statement whose `WITH e AS (UPDATE executions ... RETURNING *)` changed an
/// execution: reads it back with its job.
macro_rules! changed_execution {
    () => {
        concat!(
            " SELECT ",
            execution_columns!(),
            " FROM e JOIN jobs j ON j.account_id = e.account_id AND j.id = e.job_id"
        )
    };
}

/// The stored row behind an execution id, within the account.
pub(super) struct ExecutionRow {
    pub rowid: i64,
    pub execution: Execution,
}

fn execution_from_row(row: &Row) -> Result<ExecutionRow, StoreError> {
    Ok(ExecutionRow {
        rowid: columns::get(row, 0)?,
        execution: Execution {
            id: ExecutionId::from_bytes(uuid_bytes(row, 1)?),
            account_id: AccountId::new(columns::get(row, 2)?),
            cid: parsed(row, 3, Cid::parse)?,
            status: parsed(row, 4, ExecutionStatus::parse)?,
            action_origin: parsed(row, 5, ActionOrigin::parse)?,
            input: parsed(row, 6, |text| serde_json::from_str(text))?,
            launched_by: optional_uuid_bytes(row, 7)?.map(KeyId::from_bytes),
            queued_at: time(row, 8)?,
            started_at: optional_time(row, 9)?,
            ended_at: optional_time(row, 10)?,
            updated_at: time(row, 11)?,
            next_seq: count(row, 12)?,
            first_seq: count(row, 13)?,
            job: Job {
                id: JobId::from_bytes(uuid_bytes(row, 14)?),
                key: parsed(row, 15, JobKey::parse)?,
                title: optional_label(row, 16)?,
                job_type: parsed(row, 17, JobType::parse)?,
                system_job_type: optional_label(row, 18)?,
                periodicity: parsed(row, 19, |text| serde_json::from_str(text))?,
                pipeline_id: optional_label(row, 20)?,
            },
        },
    })
}

const NOT_FOUND: StoreError = StoreError::NotFound { what: "execution" };

/// The first row of a statement that returns executions, if any.
fn first_execution(rows: &[Row]) -> Result<Option<ExecutionRow>, StoreError> {
    rows.first().map(execution_from_row).transpose()
}

pub(super) async fn get(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
) -> Result<Execution, StoreError> {
    find(db, account, id).await.map(|row| row.execution)
}

pub(super) async fn find(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
) -> Result<ExecutionRow, StoreError> {
    let sql = concat!(
        execution_select!(),
        " WHERE e.account_id = $1 AND e.public_id = $2"
    );
    find_by(db, sql, account, id).await
}

/// As `find`, and locks the execution's row until the write's group commits, so that what
/// the caller decides from it still holds when it changes the row.
pub(super) async fn find_locked(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
) -> Result<ExecutionRow, StoreError> {
    let sql = concat!(
        execution_select!(),
        " WHERE e.account_id = $1 AND e.public_id = $2 FOR UPDATE OF e"
    );
    find_by(db, sql, account, id).await
}

/// The execution `sql` selects by account (`$1`) and id (`$2`).
async fn find_by(
    db: &Db,
    sql: &str,
    account: AccountId,
    id: ExecutionId,
) -> Result<ExecutionRow, StoreError> {
    let statement = db.prepare_cached(sql).await?;
    let rows = db
        .query(&statement, &[&account.get(), &uuid(id.as_bytes())])
        .await?;
    first_execution(&rows)?.ok_or(NOT_FOUND)
}

async fn find_by_cid_locked(
    db: &Db,
    account: AccountId,
    cid: &Cid,
) -> Result<Option<ExecutionRow>, StoreError> {
    let statement = db
        .prepare_cached(concat!(
            execution_select!(),
            " WHERE e.account_id = $1 AND e.cid = $2 FOR UPDATE OF e"
        ))
        .await?;
    let rows = db
        .query(&statement, &[&account.get(), &cid.as_str()])
        .await?;
    first_execution(&rows)
}

/// What appending lines needs of an execution: one narrow row, no job, no input.
pub(super) struct AppendTarget {
    pub rowid: i64,
    pub id: ExecutionId,
    pub status: ExecutionStatus,
}

fn append_target_from_row(row: &Row) -> Result<AppendTarget, StoreError> {
    Ok(AppendTarget {
        rowid: columns::get(row, 0)?,
        id: ExecutionId::from_bytes(uuid_bytes(row, 1)?),
        status: parsed(row, 2, ExecutionStatus::parse)?,
    })
}

/// The execution lines go to, its row locked until the write's group commits; for a cid
/// seen for the first time, a running execution created for it.
pub(super) async fn append_target(
    db: &Db,
    account: AccountId,
    target: &LogTarget,
    now: UtcTime,
) -> Result<AppendTarget, StoreError> {
    match target {
        LogTarget::Execution(id) => {
            let statement = db
                .prepare_cached(
                    "SELECT id, public_id, status FROM executions \
                     WHERE account_id = $1 AND public_id = $2 FOR UPDATE",
                )
                .await?;
            let row = db
                .query_opt(&statement, &[&account.get(), &uuid(id.as_bytes())])
                .await?
                .ok_or(NOT_FOUND)?;
            append_target_from_row(&row)
        }
        LogTarget::Cid {
            cid,
            job_if_new,
            launched_by,
        } => {
            if let Some(found) = append_target_by_cid(db, account, cid).await? {
                return Ok(found);
            }
            if let Some(created) =
                create_for_cid(db, account, cid, job_if_new, *launched_by, now).await?
            {
                return Ok(created);
            }
            // Another node created it since we looked; its row is committed by now.
            append_target_by_cid(db, account, cid)
                .await?
                .ok_or(NOT_FOUND)
        }
    }
}

async fn append_target_by_cid(
    db: &Db,
    account: AccountId,
    cid: &Cid,
) -> Result<Option<AppendTarget>, StoreError> {
    let statement = db
        .prepare_cached(
            "SELECT id, public_id, status FROM executions \
             WHERE account_id = $1 AND cid = $2 FOR UPDATE",
        )
        .await?;
    db.query_opt(&statement, &[&account.get(), &cid.as_str()])
        .await?
        .as_ref()
        .map(append_target_from_row)
        .transpose()
}

/// An execution about to be stored, with the job it runs.
struct NewExecution<'a> {
    account: AccountId,
    job: &'a JobSpec,
    cid: &'a Cid,
    status: ExecutionStatus,
    action_origin: ActionOrigin,
    input: &'a Map<String, Value>,
    launched_by: Option<KeyId>,
    now: UtcTime,
}

/// Stores a new execution, creating its job on first use (later launches update the fields
/// they give), and records its `job.queue`, with which every execution's audit trail
/// begins. `None` when the account has an execution with this cid already: another node
/// created it at the same moment.
async fn insert_execution(
    db: &Db,
    new: NewExecution<'_>,
) -> Result<Option<ExecutionRow>, StoreError> {
    let statement = db
        .prepare_cached(concat!(
            "WITH j AS ( \
                 INSERT INTO jobs AS job (account_id, public_id, job_key, title, job_type, \
                     system_job_type, periodicity, pipeline_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4::text, coalesce($5::text, 'USER'), $6::text, \
                     coalesce($7::text, '[]'), $8::text, $9, $9) \
                 ON CONFLICT (account_id, job_key) DO UPDATE SET \
                     title = coalesce($4, job.title), \
                     job_type = coalesce($5, job.job_type), \
                     system_job_type = coalesce($6, job.system_job_type), \
                     periodicity = coalesce($7, job.periodicity), \
                     pipeline_id = coalesce($8, job.pipeline_id), \
                     updated_at = $9 \
                 RETURNING *), \
             e AS ( \
                 INSERT INTO executions (account_id, public_id, job_id, cid, status, \
                     action_origin, input, launched_by, queued_at, started_at, updated_at) \
                 SELECT $1, $10::uuid, j.id, $11::text, $12::text, $13::text, $14::text, \
                     $15::uuid, $9, $16::bigint, $9 \
                 FROM j \
                 ON CONFLICT (account_id, cid) DO NOTHING \
                 RETURNING *) \
             SELECT ",
            execution_columns!(),
            " FROM e JOIN j ON j.id = e.job_id"
        ))
        .await?;
    let job = new.job;
    let periodicity = job
        .periodicity
        .as_ref()
        .map(|values| Value::Array(values.clone()).to_string());
    let started_at = (new.status == ExecutionStatus::Running).then_some(new.now.unix_millis());
    let rows = db
        .query(
            &statement,
            &[
                &new.account.get(),
                &uuid(JobId::generate().as_bytes()),
                &job.key.as_str(),
                &job.title.as_ref().map(|title| title.as_str()),
                &job.job_type.map(JobType::as_str),
                &job.system_job_type.as_ref().map(|kind| kind.as_str()),
                &periodicity,
                &job.pipeline_id.as_ref().map(|id| id.as_str()),
                &new.now.unix_millis(),
                &uuid(ExecutionId::generate().as_bytes()),
                &new.cid.as_str(),
                &new.status.as_str(),
                &new.action_origin.as_str(),
                &Value::Object(new.input.clone()).to_string(),
                &new.launched_by.as_ref().map(|key| uuid(key.as_bytes())),
                &started_at,
            ],
        )
        .await?;
    let Some(inserted) = first_execution(&rows)? else {
        return Ok(None);
    };
    audit::record(
        db,
        new.account,
        &audit_events::job_queue(&inserted.execution),
        new.now,
    )
    .await?;
    Ok(Some(inserted))
}

pub(super) async fn launch(
    db: &Db,
    account: AccountId,
    launch: &LaunchExecution,
    now: UtcTime,
) -> Result<Execution, StoreError> {
    let cid = Cid::generate();
    let new = NewExecution {
        account,
        job: &launch.job,
        cid: &cid,
        status: ExecutionStatus::Queued,
        action_origin: launch.action_origin,
        input: &input_with_cid(&launch.input, &cid),
        launched_by: launch.launched_by,
        now,
    };
    let inserted = insert_execution(db, new).await?.ok_or_else(|| {
        StoreError::Backend(format!("a freshly generated cid is taken already: {cid}"))
    })?;
    Ok(inserted.execution)
}

/// A running execution for a correlation id seen for the first time in a log request;
/// `None` when another node created one for it at the same moment.
async fn create_for_cid(
    db: &Db,
    account: AccountId,
    cid: &Cid,
    job: &JobKey,
    launched_by: Option<KeyId>,
    now: UtcTime,
) -> Result<Option<AppendTarget>, StoreError> {
    let new = NewExecution {
        account,
        job: &JobSpec::with_key(job.clone()),
        cid,
        status: ExecutionStatus::Running,
        action_origin: ActionOrigin::Api,
        input: &input_with_cid(&Map::new(), cid),
        launched_by,
        now,
    };
    let Some(ExecutionRow { rowid, execution }) = insert_execution(db, new).await? else {
        return Ok(None);
    };
    // Queued (job.queue is recorded) and started at once.
    audit::record(db, account, &audit_events::job_start(&execution), now).await?;
    Ok(Some(AppendTarget {
        rowid,
        id: execution.id,
        status: execution.status,
    }))
}

/// An orchestrator's report on the run it names `cid`; see `Store::report_run`. The
/// execution's row stays locked from the first look until the group commits, so reports
/// of one run sent to two nodes at once are applied one after the other.
pub(super) async fn report_run(
    db: &Db,
    account: AccountId,
    cid: &Cid,
    launch: &LaunchExecution,
    state: ReportedRun,
    now: UtcTime,
) -> Result<TrackedRun, StoreError> {
    let found = find_by_cid_locked(db, account, cid).await?;
    let (mut execution, created) = match found {
        Some(found) => (found.execution, false),
        None => {
            let new = NewExecution {
                account,
                job: &launch.job,
                cid,
                status: ExecutionStatus::Queued,
                action_origin: launch.action_origin,
                input: &input_with_cid(&launch.input, cid),
                launched_by: launch.launched_by,
                now,
            };
            match insert_execution(db, new).await? {
                Some(inserted) => (inserted.execution, true),
                // Another node created it since we looked; its row is committed by now.
                None => match find_by_cid_locked(db, account, cid).await? {
                    Some(found) => (found.execution, false),
                    None => return Err(NOT_FOUND),
                },
            }
        }
    };
    let before = execution.status;
    if execution.status == ExecutionStatus::Queued {
        execution = start(db, account, execution.id, now).await?;
    }
    if let Some(reported) = reported_end(&execution, cid, state)? {
        execution = end(db, account, execution.id, reported, now).await?;
    }
    Ok(TrackedRun {
        changed: created || execution.status != before,
        execution,
        created,
    })
}

pub(super) async fn start(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
    now: UtcTime,
) -> Result<Execution, StoreError> {
    let current = find_locked(db, account, id).await?;
    check_can_start(id, current.execution.status)?;
    let statement = db
        .prepare_cached(concat!(
            "WITH e AS (UPDATE executions SET status = 'RUNNING', started_at = $3, \
                 updated_at = $3 WHERE account_id = $1 AND id = $2 RETURNING *)",
            changed_execution!()
        ))
        .await?;
    let rows = db
        .query(
            &statement,
            &[&account.get(), &current.rowid, &now.unix_millis()],
        )
        .await?;
    let execution = first_execution(&rows)?.ok_or(NOT_FOUND)?.execution;
    audit::record(db, account, &audit_events::job_start(&execution), now).await?;
    Ok(execution)
}

pub(super) async fn end(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
    status: FinalStatus,
    now: UtcTime,
) -> Result<Execution, StoreError> {
    let current = find_locked(db, account, id).await?;
    check_can_end(id, current.execution.status)?;
    let statement = db
        .prepare_cached(concat!(
            "WITH e AS (UPDATE executions SET status = $3, ended_at = $4, updated_at = $4 \
                 WHERE account_id = $1 AND id = $2 RETURNING *)",
            changed_execution!()
        ))
        .await?;
    let rows = db
        .query(
            &statement,
            &[
                &account.get(),
                &current.rowid,
                &status.as_str(),
                &now.unix_millis(),
            ],
        )
        .await?;
    let execution = first_execution(&rows)?.ok_or(NOT_FOUND)?.execution;
    audit::record(db, account, &audit_events::job_end(&execution), now).await?;
    Ok(execution)
}

/// Starts the oldest queued execution of the job. Its row is locked by the statement that
/// picks it, and a row another node's write has locked is skipped, so each queued execution
/// goes to exactly one caller however many nodes claim at once. (A queued execution that is
/// taking lines at that moment is skipped too, and goes to a later claim.)
pub(super) async fn claim(
    db: &Db,
    account: AccountId,
    job: &JobKey,
    now: UtcTime,
) -> Result<Option<Execution>, StoreError> {
    let statement = db
        .prepare_cached(concat!(
            "WITH claimed AS ( \
                 SELECT id FROM executions \
                 WHERE account_id = $1 \
                   AND job_id = (SELECT id FROM jobs WHERE account_id = $1 AND job_key = $2) \
                   AND status = 'QUEUED' \
                 ORDER BY id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED), \
             e AS ( \
                 UPDATE executions SET status = 'RUNNING', started_at = $3, updated_at = $3 \
                 WHERE account_id = $1 AND id = (SELECT id FROM claimed) \
                 RETURNING *)",
            changed_execution!()
        ))
        .await?;
    let rows = db
        .query(
            &statement,
            &[&account.get(), &job.as_str(), &now.unix_millis()],
        )
        .await?;
    let Some(ExecutionRow { execution, .. }) = first_execution(&rows)? else {
        return Ok(None);
    };
    audit::record(db, account, &audit_events::job_start(&execution), now).await?;
    Ok(Some(execution))
}

pub(super) async fn list(
    db: &Db,
    account: AccountId,
    filter: &ExecutionFilter,
    after: Option<ExecutionId>,
    limit: PageLimit,
) -> Result<Page<Execution>, StoreError> {
    let before_rowid: i64 = match after {
        None => i64::MAX,
        Some(id) => match find(db, account, id).await {
            Ok(row) => row.rowid,
            Err(StoreError::NotFound { .. }) => return Err(StoreError::InvalidCursor),
            Err(error) => return Err(error),
        },
    };
    let statuses: Option<Vec<&str>> = (!filter.statuses.is_empty()).then(|| {
        filter
            .statuses
            .iter()
            .map(|status| status.as_str())
            .collect()
    });
    let statement = db
        .prepare_cached(concat!(
            execution_select!(),
            " WHERE e.account_id = $1 AND e.id < $2 \
               AND ($3::text[] IS NULL OR e.status = ANY($3)) \
               AND ($4::text IS NULL OR j.job_key = $4) \
               AND ($5::bigint IS NULL OR e.queued_at >= $5) \
               AND ($6::bigint IS NULL OR e.queued_at < $6) \
             ORDER BY e.id DESC LIMIT $7"
        ))
        .await?;
    let rows = db
        .query(
            &statement,
            &[
                &account.get(),
                &before_rowid,
                &statuses,
                &filter.job_key.as_ref().map(JobKey::as_str),
                &filter.queued.from.map(UtcTime::unix_millis),
                &filter.queued.to.map(UtcTime::unix_millis),
                &(i64::from(limit.get()) + 1),
            ],
        )
        .await?;
    let executions = rows
        .iter()
        .map(|row| execution_from_row(row).map(|row| row.execution))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(executions, limit))
}

#[cfg(test)]
mod tests {
    use futures_util::future::join_all;

    use super::*;
    use crate::Store;
    use crate::postgres::logs::tests::{Nodes, launch_request};

    /// Claims and run reports sent to two nodes at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nodes_claim_and_report_each_execution_once() {
        let Some(nodes) = Nodes::open(2).await else {
            return;
        };
        let account = nodes.account("acme").await;
        let mut launched = Vec::new();
        for _ in 0..10 {
            let execution = nodes.stores[0]
                .launch_execution(account, launch_request("worker-job"))
                .await
                .unwrap();
            launched.push(execution.id);
        }
        let job = JobKey::parse("worker-job").unwrap();
        let claims = (0..30).map(|n| nodes.stores[n % 2].claim_execution(account, job.clone()));
        let mut claimed: Vec<ExecutionId> = join_all(claims)
            .await
            .into_iter()
            .filter_map(|claim| claim.unwrap())
            .map(|execution| execution.id)
            .collect();
        claimed.sort();
        launched.sort();
        assert_eq!(
            claimed, launched,
            "each queued execution claimed exactly once"
        );

        let cid = Cid::parse("lineage-run").unwrap();
        let reports = (0..10).map(|n| {
            let state = if n < 5 {
                ReportedRun::Running
            } else {
                ReportedRun::Ended(FinalStatus::Completed)
            };
            let launch = launch_request("lineage-job");
            nodes.stores[n % 2].report_run(account, cid.clone(), launch, state)
        });
        let tracked: Vec<TrackedRun> = join_all(reports)
            .await
            .into_iter()
            .map(|tracked| tracked.unwrap())
            .collect();
        assert_eq!(tracked.iter().filter(|run| run.created).count(), 1);
        let id = tracked[0].execution.id;
        assert!(tracked.iter().all(|run| run.execution.id == id));
        let execution = nodes.stores[1].execution(account, id).await.unwrap();
        assert_eq!(
            execution.status,
            ExecutionStatus::Ended(FinalStatus::Completed)
        );
        nodes.close().await;
    }
}
