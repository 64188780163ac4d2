//! Export jobs: recorded when asked for, claimed by the builder, finished, expired.

use std::time::Duration;

use pipelog_core::export::{ExportFormat, ExportJob, ExportStatus, ExportToken, export_file_name};
use pipelog_core::ids::{AccountId, ExecutionId};
use pipelog_core::time::UtcTime;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::columns::{parsed, time, uuid_bytes};
use super::executions::{self, ExecutionRow};
use super::logs;
use crate::execution_rules::millis;
use crate::{NewExport, StoreError};

const EXPORT_SELECT: &str = "SELECT x.token, x.account_id, e.public_id, x.format, x.first_seq, \
     x.end_seq, x.file_name, x.status, x.bytes, x.created_at, x.expires_at \
     FROM exports x JOIN executions e ON e.id = x.execution_id";

fn export_from_row(row: &Row<'_>) -> rusqlite::Result<ExportJob> {
    Ok(ExportJob {
        token: ExportToken::from_bytes(uuid_bytes(row, 0)?),
        account_id: AccountId::new(row.get(1)?),
        execution_id: ExecutionId::from_bytes(uuid_bytes(row, 2)?),
        format: parsed(row, 3, ExportFormat::parse)?,
        first_seq: row.get(4)?,
        end_seq: row.get(5)?,
        file_name: row.get(6)?,
        status: parsed(row, 7, ExportStatus::parse)?,
        bytes: row.get(8)?,
        created_at: time(row, 9)?,
        expires_at: time(row, 10)?,
    })
}

pub(super) fn create(
    connection: &Connection,
    account: AccountId,
    id: ExecutionId,
    new: &NewExport,
    now: UtcTime,
) -> Result<ExportJob, StoreError> {
    let ExecutionRow { rowid, execution } = executions::find(connection, account, id)?;
    let (first_seq, end_seq) = logs::seqs_in_time(
        connection,
        rowid,
        execution.first_seq,
        execution.next_seq,
        &new.created,
    )?;
    let token = ExportToken::generate();
    let file_name = export_file_name(execution.job.id, execution.id, new.name_with_job);
    let expires_at = now.unix_millis().saturating_add(millis(new.keep_for));
    connection
        .prepare_cached(
            "INSERT INTO exports (token, account_id, execution_id, format, first_seq, end_seq, \
                 file_name, status, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'IN_PROGRESS', ?8, ?9)",
        )?
        .execute(params![
            token.as_bytes(),
            account.get(),
            rowid,
            new.format.as_str(),
            first_seq,
            end_seq,
            file_name,
            now.unix_millis(),
            expires_at,
        ])?;
    get(connection, Some(account), token)
}

pub(super) fn get(
    connection: &Connection,
    account: Option<AccountId>,
    token: ExportToken,
) -> Result<ExportJob, StoreError> {
    connection
        .prepare_cached(&format!(
            "{EXPORT_SELECT} WHERE x.token = ?1 AND (?2 IS NULL OR x.account_id = ?2)"
        ))?
        .query_row(
            params![token.as_bytes(), account.map(AccountId::get)],
            export_from_row,
        )
        .optional()?
        .ok_or(StoreError::NotFound { what: "export" })
}

pub(super) fn claim(
    connection: &Connection,
    stale: Duration,
    now: UtcTime,
) -> Result<Option<ExportJob>, StoreError> {
    let stale_before = now.unix_millis().saturating_sub(millis(stale));
    let waiting: Option<[u8; 16]> = connection
        .prepare_cached(
            "SELECT token FROM exports \
             WHERE status = 'IN_PROGRESS' AND (claimed_at IS NULL OR claimed_at <= ?1) \
             ORDER BY id LIMIT 1",
        )?
        .query_row([stale_before], |row| uuid_bytes(row, 0))
        .optional()?;
    let Some(token) = waiting else {
        return Ok(None);
    };
    let token = ExportToken::from_bytes(token);
    touch(connection, token, now)?;
    get(connection, None, token).map(Some)
}

pub(super) fn touch(
    connection: &Connection,
    token: ExportToken,
    now: UtcTime,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE exports SET claimed_at = ?1 WHERE token = ?2")?
        .execute(params![now.unix_millis(), token.as_bytes()])?;
    Ok(())
}

pub(super) fn finish(
    connection: &Connection,
    token: ExportToken,
    outcome: &Result<u64, String>,
) -> Result<(), StoreError> {
    let (status, bytes, error) = match outcome {
        Ok(bytes) => (ExportStatus::Ready, Some(*bytes), None),
        Err(error) => (ExportStatus::Failed, None, Some(error.as_str())),
    };
    connection
        .prepare_cached("UPDATE exports SET status = ?1, bytes = ?2, error = ?3 WHERE token = ?4")?
        .execute(params![status.as_str(), bytes, error, token.as_bytes()])?;
    Ok(())
}

pub(super) fn expired(
    connection: &Connection,
    now: UtcTime,
    limit: usize,
) -> Result<Vec<ExportJob>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "{EXPORT_SELECT} WHERE x.expires_at <= ?1 ORDER BY x.expires_at LIMIT ?2"
        ))?
        .query_map(params![now.unix_millis(), limit], export_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(super) fn delete(connection: &Connection, token: ExportToken) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM exports WHERE token = ?1")?
        .execute([token.as_bytes()])?;
    Ok(())
}

/// Export jobs by status, across accounts.
pub(super) fn count_by_status(
    connection: &Connection,
) -> Result<Vec<(ExportStatus, u64)>, StoreError> {
    let mut counts = Vec::new();
    let mut statement =
        connection.prepare_cached("SELECT status, count(*) FROM exports GROUP BY status")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let status = parsed(row, 0, ExportStatus::parse)?;
        let count: i64 = row.get(1)?;
        counts.push((status, u64::try_from(count).unwrap_or(0)));
    }
    Ok(counts)
}
