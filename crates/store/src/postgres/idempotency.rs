//! Idempotency keys: claimed in a write's savepoint, answered once the request is, and
//! forgotten after the window (see `crate::idempotency`). Nodes claiming the same key at
//! once queue on its row: the later claim sees the earlier one once that one committed.

use pipelog_core::idempotency::{IdempotencyKey, RequestFingerprint};
use pipelog_core::ids::{AccountId, KeyId};
use pipelog_core::time::UtcTime;

use super::Db;
use super::columns::{byte_array, get, optional_number, time, uuid, uuid_bytes};
use crate::StoreError;
use crate::idempotency::{IdempotencyRecord, IdempotencyScope, RecordedAnswer, window_start};

/// Claims the scope's key for its attempt, inside the savepoint of a write. A claim older
/// than the window is taken over; a live claim of another attempt fails the write.
///
/// Two statements, not one with `RETURNING`: a claim the update leaves alone returns no
/// row, and it may be this very attempt's (a request's second write claims again, and
/// must not clear the answer its first one kept). When another node holds an uncommitted
/// claim of the key, the insert waits for its commit; the select that follows, in a
/// snapshot of its own (the writer's transactions are READ COMMITTED), then sees it.
pub(super) async fn claim(
    db: &Db,
    scope: &IdempotencyScope,
    now: UtcTime,
) -> Result<(), StoreError> {
    let expired_before = window_start(now);
    let account = scope.account.get();
    let api_key = uuid(scope.api_key.as_bytes());
    let idempotency_key = scope.key.as_str();
    let statement = db
        .prepare_cached(
            "INSERT INTO idempotency_keys \
             (account_id, api_key, idempotency_key, fingerprint, attempt, claimed_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account_id, api_key, idempotency_key) DO UPDATE \
             SET fingerprint = excluded.fingerprint, attempt = excluded.attempt, \
             claimed_at = excluded.claimed_at, status = NULL, content_type = NULL, \
             location = NULL, error = NULL, body = NULL \
             WHERE idempotency_keys.claimed_at < $7",
        )
        .await?;
    db.execute(
        &statement,
        &[
            &account,
            &api_key,
            &idempotency_key,
            &scope.fingerprint.0.as_slice(),
            &uuid(&scope.attempt),
            &now.unix_millis(),
            &expired_before,
        ],
    )
    .await?;
    let statement = db
        .prepare_cached(
            "SELECT attempt FROM idempotency_keys \
             WHERE account_id = $1 AND api_key = $2 AND idempotency_key = $3",
        )
        .await?;
    let row = db
        .query_one(&statement, &[&account, &api_key, &idempotency_key])
        .await?;
    scope.check_claim(uuid_bytes(&row, 0)?)
}

pub(super) async fn record(
    db: &Db,
    account: AccountId,
    api_key: KeyId,
    key: &IdempotencyKey,
    now: UtcTime,
) -> Result<Option<IdempotencyRecord>, StoreError> {
    let expired_before = window_start(now);
    let statement = db
        .prepare_cached(
            "SELECT fingerprint, claimed_at, status, content_type, location, error, body \
             FROM idempotency_keys \
             WHERE account_id = $1 AND api_key = $2 AND idempotency_key = $3 \
             AND claimed_at >= $4",
        )
        .await?;
    let Some(row) = db
        .query_opt(
            &statement,
            &[
                &account.get(),
                &uuid(api_key.as_bytes()),
                &key.as_str(),
                &expired_before,
            ],
        )
        .await?
    else {
        return Ok(None);
    };
    let answer = match optional_number::<i32, u16>(&row, 2)? {
        None => None,
        Some(status) => Some(RecordedAnswer {
            status,
            content_type: get(&row, 3)?,
            location: get(&row, 4)?,
            error: get(&row, 5)?,
            body: get::<Option<Vec<u8>>>(&row, 6)?.unwrap_or_default(),
        }),
    };
    Ok(Some(IdempotencyRecord {
        fingerprint: RequestFingerprint(byte_array(&row, 0)?),
        claimed_at: time(&row, 1)?,
        answer,
    }))
}

/// Keeps the answer of the attempt that holds the claim; a claim another attempt took
/// over meanwhile (after the window) is left alone.
pub(super) async fn answer(
    db: &Db,
    scope: &IdempotencyScope,
    answer: &RecordedAnswer,
) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached(
            "UPDATE idempotency_keys SET status = $5, content_type = $6, location = $7, \
             error = $8, body = $9 \
             WHERE account_id = $1 AND api_key = $2 AND idempotency_key = $3 AND attempt = $4",
        )
        .await?;
    db.execute(
        &statement,
        &[
            &scope.account.get(),
            &uuid(scope.api_key.as_bytes()),
            &scope.key.as_str(),
            &uuid(&scope.attempt),
            &i32::from(answer.status),
            &answer.content_type,
            &answer.location,
            &answer.error,
            &answer.body,
        ],
    )
    .await?;
    Ok(())
}

/// Forgets up to `limit` claims older than `before`, oldest first. Rows another node is
/// taking over (locked by its claim) are skipped, and the ones chosen are locked before
/// they are deleted, so their `ctid` still names them.
pub(super) async fn expire(db: &Db, before: UtcTime, limit: usize) -> Result<u64, StoreError> {
    let statement = db
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys \
             WHERE claimed_at < $1 ORDER BY claimed_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(db
        .execute(&statement, &[&before.unix_millis(), &limit])
        .await?)
}
