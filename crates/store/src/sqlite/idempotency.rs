//! Idempotency keys: claimed in a write's savepoint, answered once the request is, and
//! forgotten after the window (see `crate::idempotency`).

use pipelog_core::idempotency::{IdempotencyKey, RequestFingerprint};
use pipelog_core::ids::{AccountId, KeyId};
use pipelog_core::time::UtcTime;
use rusqlite::{Connection, OptionalExtension, params};

use super::columns;
use crate::StoreError;
use crate::idempotency::{IdempotencyRecord, IdempotencyScope, RecordedAnswer, window_start};

/// Claims the scope's key for its attempt, inside the savepoint of a write. A claim older
/// than the window is taken over; a live claim of another attempt fails the write.
pub(super) fn claim(
    connection: &Connection,
    scope: &IdempotencyScope,
    now: UtcTime,
) -> Result<(), StoreError> {
    let expired_before = window_start(now);
    connection
        .prepare_cached(
            "INSERT INTO idempotency_keys \
             (account_id, api_key, idempotency_key, fingerprint, attempt, claimed_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (account_id, api_key, idempotency_key) DO UPDATE SET fingerprint = excluded.fingerprint, \
             attempt = excluded.attempt, claimed_at = excluded.claimed_at, status = NULL, \
             content_type = NULL, location = NULL, error = NULL, body = NULL \
             WHERE claimed_at < ?7",
        )?
        .execute(params![
            scope.account.get(),
            scope.api_key.as_bytes(),
            scope.key.as_str(),
            scope.fingerprint.0,
            scope.attempt,
            now.unix_millis(),
            expired_before,
        ])?;
    let attempt: [u8; 16] = connection
        .prepare_cached(
            "SELECT attempt FROM idempotency_keys \
             WHERE account_id = ?1 AND api_key = ?2 AND idempotency_key = ?3",
        )?
        .query_row(
            params![
                scope.account.get(),
                scope.api_key.as_bytes(),
                scope.key.as_str()
            ],
            |row| row.get(0),
        )?;
    scope.check_claim(attempt)
}

pub(super) fn record(
    connection: &Connection,
    account: AccountId,
    api_key: KeyId,
    key: &IdempotencyKey,
    now: UtcTime,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let expired_before = window_start(now);
    let record = connection
        .prepare_cached(
            "SELECT fingerprint, claimed_at, status, content_type, location, error, body \
             FROM idempotency_keys \
             WHERE account_id = ?1 AND api_key = ?2 AND idempotency_key = ?3 \
             AND claimed_at >= ?4",
        )?
        .query_row(
            params![
                account.get(),
                api_key.as_bytes(),
                key.as_str(),
                expired_before
            ],
            |row| {
                let status: Option<u16> = row.get(2)?;
                let answer = match status {
                    Some(status) => Some(RecordedAnswer {
                        status,
                        content_type: row.get(3)?,
                        location: row.get(4)?,
                        error: row.get(5)?,
                        body: row.get::<_, Option<Vec<u8>>>(6)?.unwrap_or_default(),
                    }),
                    None => None,
                };
                Ok(IdempotencyRecord {
                    fingerprint: RequestFingerprint(row.get(0)?),
                    claimed_at: columns::time(row, 1)?,
                    answer,
                })
            },
        )
        .optional()?;
    Ok(record)
}

/// Keeps the answer of the attempt that holds the claim; a claim another attempt took
/// over meanwhile (after the window) is left alone.
pub(super) fn answer(
    connection: &Connection,
    scope: &IdempotencyScope,
    answer: &RecordedAnswer,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "UPDATE idempotency_keys SET status = ?5, content_type = ?6, location = ?7, \
             error = ?8, body = ?9 \
             WHERE account_id = ?1 AND api_key = ?2 AND idempotency_key = ?3 AND attempt = ?4",
        )?
        .execute(params![
            scope.account.get(),
            scope.api_key.as_bytes(),
            scope.key.as_str(),
            scope.attempt,
            answer.status,
            answer.content_type,
            answer.location,
            answer.error,
            answer.body,
        ])?;
    Ok(())
}

pub(super) fn expire(
    connection: &Connection,
    before: UtcTime,
    limit: usize,
) -> Result<u64, StoreError> {
    let removed = connection
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys \
             WHERE claimed_at < ?1 ORDER BY claimed_at LIMIT ?2)",
        )?
        .execute(params![before.unix_millis(), limit as i64])?;
    Ok(removed as u64)
}
