//! Export jobs: recorded when asked for, claimed by a builder on any node, finished,
//! expired.
//!
//! A claim locks the export's row with `FOR UPDATE SKIP LOCKED` until the claiming write
//! commits, and a row another node is claiming is skipped: two nodes never build one
//! export, unless its claim went stale (the builder stopped touching it) and is taken over.

use std::time::Duration;

use pipelog_core::export::{ExportFormat, ExportJob, ExportStatus, ExportToken, export_file_name};
use pipelog_core::ids::{AccountId, ExecutionId};
use pipelog_core::time::UtcTime;
use tokio_postgres::Row;

use super::Db;
use super::columns::{self, count, optional_number, parsed, time, uuid, uuid_bytes};
use super::executions::{self, ExecutionRow};
use super::logs;
use crate::execution_rules::millis;
use crate::{NewExport, StoreError};

/// An export and its execution's id, from rows named `x` (exports) and `e` (executions).
macro_rules! export_select {
    ($exports:literal) => {
        concat!(
            "SELECT x.token, x.account_id, e.public_id, x.format, x.first_seq, x.end_seq, \
                 x.file_name, x.status, x.bytes, x.created_at, x.expires_at \
             FROM ",
            $exports,
            " x JOIN executions e ON e.account_id = x.account_id AND e.id = x.execution_id"
        )
    };
}

fn export_from_row(row: &Row) -> Result<ExportJob, StoreError> {
    Ok(ExportJob {
        token: ExportToken::from_bytes(uuid_bytes(row, 0)?),
        account_id: AccountId::new(columns::get(row, 1)?),
        execution_id: ExecutionId::from_bytes(uuid_bytes(row, 2)?),
        format: parsed(row, 3, ExportFormat::parse)?,
        first_seq: count(row, 4)?,
        end_seq: count(row, 5)?,
        file_name: columns::get(row, 6)?,
        status: parsed(row, 7, ExportStatus::parse)?,
        bytes: optional_number::<i64, _>(row, 8)?,
        created_at: time(row, 9)?,
        expires_at: time(row, 10)?,
    })
}

const NOT_FOUND: StoreError = StoreError::NotFound { what: "export" };

pub(super) async fn create(
    db: &Db,
    account: AccountId,
    id: ExecutionId,
    new: &NewExport,
    now: UtcTime,
) -> Result<ExportJob, StoreError> {
    let ExecutionRow { rowid, execution } = executions::find(db, account, id).await?;
    let stored = execution.first_seq..execution.next_seq;
    let lines = logs::seqs_in_time(db, account, rowid, stored, &new.created).await?;
    let file_name = export_file_name(execution.job.id, execution.id, new.name_with_job);
    let expires_at = now.unix_millis().saturating_add(millis(new.keep_for));
    let statement = db
        .prepare_cached(concat!(
            "WITH inserted AS ( \
                 INSERT INTO exports (token, account_id, execution_id, format, first_seq, \
                     end_seq, file_name, status, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'IN_PROGRESS', $8, $9) \
                 RETURNING *) ",
            export_select!("inserted")
        ))
        .await?;
    let row = db
        .query_one(
            &statement,
            &[
                &uuid(ExportToken::generate().as_bytes()),
                &account.get(),
                &rowid,
                &new.format.as_str(),
                &(lines.start as i64),
                &(lines.end as i64),
                &file_name,
                &now.unix_millis(),
                &expires_at,
            ],
        )
        .await?;
    export_from_row(&row)
}

pub(super) async fn get(
    db: &Db,
    account: Option<AccountId>,
    token: ExportToken,
) -> Result<ExportJob, StoreError> {
    let statement = db
        .prepare_cached(concat!(
            export_select!("exports"),
            " WHERE x.token = $1 AND ($2::bigint IS NULL OR x.account_id = $2)"
        ))
        .await?;
    let row = db
        .query_opt(
            &statement,
            &[&uuid(token.as_bytes()), &account.map(AccountId::get)],
        )
        .await?
        .ok_or(NOT_FOUND)?;
    export_from_row(&row)
}

/// The oldest export waiting for a builder, or whose builder's claim is older than `stale`,
/// now claimed by the caller.
pub(super) async fn claim(
    db: &Db,
    stale: Duration,
    now: UtcTime,
) -> Result<Option<ExportJob>, StoreError> {
    let stale_before = now.unix_millis().saturating_sub(millis(stale));
    let statement = db
        .prepare_cached(concat!(
            "WITH waiting AS ( \
                 SELECT account_id, id FROM exports \
                 WHERE status = 'IN_PROGRESS' AND (claimed_at IS NULL OR claimed_at <= $1) \
                 ORDER BY id LIMIT 1 \
                 FOR UPDATE SKIP LOCKED), \
             claimed AS ( \
                 UPDATE exports SET claimed_at = $2 \
                 WHERE (account_id, id) = (SELECT account_id, id FROM waiting) \
                 RETURNING *) ",
            export_select!("claimed")
        ))
        .await?;
    db.query_opt(&statement, &[&stale_before, &now.unix_millis()])
        .await?
        .as_ref()
        .map(export_from_row)
        .transpose()
}

pub(super) async fn touch(db: &Db, token: ExportToken, now: UtcTime) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached("UPDATE exports SET claimed_at = $1 WHERE token = $2")
        .await?;
    db.execute(&statement, &[&now.unix_millis(), &uuid(token.as_bytes())])
        .await?;
    Ok(())
}

pub(super) async fn finish(
    db: &Db,
    token: ExportToken,
    outcome: &Result<u64, String>,
) -> Result<(), StoreError> {
    let (status, bytes, error) = match outcome {
        Ok(bytes) => (
            ExportStatus::Ready,
            Some(i64::try_from(*bytes).unwrap_or(i64::MAX)),
            None,
        ),
        Err(error) => (ExportStatus::Failed, None, Some(error.as_str())),
    };
    let statement = db
        .prepare_cached("UPDATE exports SET status = $1, bytes = $2, error = $3 WHERE token = $4")
        .await?;
    db.execute(
        &statement,
        &[&status.as_str(), &bytes, &error, &uuid(token.as_bytes())],
    )
    .await?;
    Ok(())
}

pub(super) async fn expired(
    db: &Db,
    now: UtcTime,
    limit: usize,
) -> Result<Vec<ExportJob>, StoreError> {
    let statement = db
        .prepare_cached(concat!(
            export_select!("exports"),
            " WHERE x.expires_at <= $1 ORDER BY x.expires_at LIMIT $2"
        ))
        .await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = db.query(&statement, &[&now.unix_millis(), &limit]).await?;
    rows.iter().map(export_from_row).collect()
}

pub(super) async fn delete(db: &Db, token: ExportToken) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached("DELETE FROM exports WHERE token = $1")
        .await?;
    db.execute(&statement, &[&uuid(token.as_bytes())]).await?;
    Ok(())
}

/// Export jobs by status, across accounts.
pub(super) async fn count_by_status(db: &Db) -> Result<Vec<(ExportStatus, u64)>, StoreError> {
    let statement = db
        .prepare_cached("SELECT status, count(*) FROM exports GROUP BY status")
        .await?;
    let rows = db.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| Ok((parsed(row, 0, ExportStatus::parse)?, count(row, 1)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use futures_util::future::join_all;
    use pipelog_core::log_entry::{LogLine, LogMessage};
    use pipelog_core::paging::TimeRange;

    use super::*;
    use crate::postgres::logs::tests::{Nodes, launch_request};
    use crate::{LogTarget, Store};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_nodes_never_claim_one_export() {
        let Some(nodes) = Nodes::open(2).await else {
            return;
        };
        let account = nodes.account("acme").await;
        let store = &nodes.stores[0];
        let execution = store
            .launch_execution(account, launch_request("job"))
            .await
            .unwrap();
        let line = LogLine::info(LogMessage::new("x".into()).unwrap());
        store
            .append_logs(account, LogTarget::Execution(execution.id), vec![line])
            .await
            .unwrap();
        let mut created = Vec::new();
        for _ in 0..5 {
            let new = NewExport {
                format: ExportFormat::Text,
                created: TimeRange::default(),
                name_with_job: false,
                keep_for: Duration::from_secs(3600),
            };
            let export = store
                .create_export(account, execution.id, new)
                .await
                .unwrap();
            created.push(*export.token.as_bytes());
        }
        let stale = Duration::from_secs(60);
        let claims = (0..20).map(|n| nodes.stores[n % 2].claim_export(stale));
        let mut claimed: Vec<[u8; 16]> = join_all(claims)
            .await
            .into_iter()
            .filter_map(|claim| claim.unwrap())
            .map(|export| *export.token.as_bytes())
            .collect();
        claimed.sort();
        created.sort();
        assert_eq!(claimed, created, "each export claimed exactly once");
        nodes.close().await;
    }
}
