//! Accounts, API keys and the web console's sessions.

use pipelog_core::api_key::{ApiKey, KeyHash, KeyRole, NewApiKey, RateLimit};
use pipelog_core::console_session::SessionHash;
use pipelog_core::ids::{AccountId, AccountName, AgentId, KeyId, SourceId};
use pipelog_core::operating::DataAgent;
use pipelog_core::paging::{Page, PageLimit};
use pipelog_core::permission::PermissionSet;
use pipelog_core::time::UtcTime;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use pipelog_core::audit_events;

use super::audit;
use super::columns::{
    optional_label, optional_time, optional_uuid_bytes, parsed, time, uuid_bytes,
};
use crate::{KeyScope, StoreError};

const KEY_SELECT: &str = "SELECT k.public_id, k.account_id, a.name, k.name, k.permissions, \
     k.rate_limit, k.is_operator, k.created_at, k.revoked_at, k.hash, k.id, \
     k.agent_id, k.agent_code, k.agent_source_id \
     FROM api_keys k JOIN accounts a ON a.id = k.account_id";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: KeyId::from_bytes(uuid_bytes(row, 0)?),
        account_id: AccountId::new(row.get(1)?),
        account: parsed(row, 2, AccountName::parse)?,
        name: optional_label(row, 3)?,
        permissions: PermissionSet::from_bits(row.get(4)?),
        rate_limit: RateLimit::from_option(row.get(5)?),
        role: if row.get::<_, bool>(6)? {
            KeyRole::Operator
        } else {
            KeyRole::Account
        },
        agent: match optional_uuid_bytes(row, 11)? {
            None => None,
            Some(agent_id) => Some(DataAgent {
                agent_id: AgentId::from_bytes(agent_id),
                agent_code: optional_label(row, 12)?,
                source_id: optional_uuid_bytes(row, 13)?.map(SourceId::from_bytes),
            }),
        },
        created_at: time(row, 7)?,
        revoked_at: optional_time(row, 8)?,
    })
}

/// Whether the store ever had an operator key (revoked ones count).
pub(super) fn any_operator_key(connection: &Connection) -> Result<bool, StoreError> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE is_operator = 1)",
        [],
        |row| row.get(0),
    )?)
}

pub(super) fn find_account(
    connection: &Connection,
    name: &AccountName,
) -> Result<Option<AccountId>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT id FROM accounts WHERE name = ?1")?
        .query_row([name.as_str()], |row| row.get(0).map(AccountId::new))
        .optional()?)
}

fn ensure_account(
    connection: &Connection,
    name: &AccountName,
    now: UtcTime,
) -> Result<AccountId, StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO accounts (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![name.as_str(), now.unix_millis()])?;
    find_account(connection, name)?.ok_or(StoreError::NotFound { what: "account" })
}

pub(super) fn insert_key(
    connection: &Connection,
    key: &NewApiKey,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<ApiKey, StoreError> {
    let account = ensure_account(connection, &key.account, now)?;
    let id = KeyId::generate();
    let inserted = connection
        .prepare_cached(
            "INSERT INTO api_keys (public_id, account_id, name, lookup, hash, permissions, \
             rate_limit, is_operator, created_at, agent_id, agent_code, agent_source_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            id.as_bytes(),
            account.get(),
            key.name.as_ref().map(|name| name.as_str()),
            key.hash.lookup_prefix(),
            key.hash.as_bytes(),
            key.permissions.bits(),
            key.rate_limit.to_option(),
            key.role == KeyRole::Operator,
            now.unix_millis(),
            key.agent.as_ref().map(|agent| agent.agent_id.as_bytes()),
            key.agent
                .as_ref()
                .and_then(|agent| agent.agent_code.as_ref())
                .map(|code| code.as_str()),
            key.agent
                .as_ref()
                .and_then(|agent| agent.source_id.as_ref())
                .map(|source| source.as_bytes()),
        ]);
    match inserted {
        Ok(_) => {
            let created = key_by_id(connection, KeyScope::AllAccounts, id)?;
            audit::record(
                connection,
                created.account_id,
                &audit_events::key_create(&created, actor),
                now,
            )?;
            Ok(created)
        }
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => Err(
            StoreError::Conflict("a key with this secret already exists".into()),
        ),
        Err(error) => Err(error.into()),
    }
}

pub(super) fn find_key(
    connection: &Connection,
    hash: &KeyHash,
) -> Result<Option<ApiKey>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{KEY_SELECT} WHERE k.lookup = ?1 AND k.revoked_at IS NULL"
    ))?;
    let mut rows = statement.query([hash.lookup_prefix()])?;
    while let Some(row) = rows.next()? {
        let stored = row.get_ref(9)?.as_blob()?;
        if hash.matches(stored) {
            return Ok(Some(key_from_row(row)?));
        }
    }
    Ok(None)
}

fn key_by_id(connection: &Connection, scope: KeyScope, id: KeyId) -> Result<ApiKey, StoreError> {
    connection
        .prepare_cached(&format!(
            "{KEY_SELECT} WHERE k.public_id = ?1 AND (?2 IS NULL OR k.account_id = ?2)"
        ))?
        .query_row(params![id.as_bytes(), scope.account_id()], key_from_row)
        .optional()?
        .ok_or(StoreError::NotFound { what: "key" })
}

pub(super) fn list_keys(
    connection: &Connection,
    scope: KeyScope,
    after: Option<KeyId>,
    limit: PageLimit,
) -> Result<Page<ApiKey>, StoreError> {
    let after_rowid: i64 = match after {
        None => 0,
        Some(id) => connection
            .prepare_cached(
                "SELECT id FROM api_keys WHERE public_id = ?1 AND (?2 IS NULL OR account_id = ?2)",
            )?
            .query_row(params![id.as_bytes(), scope.account_id()], |row| row.get(0))
            .optional()?
            .ok_or(StoreError::InvalidCursor)?,
    };
    let keys = connection
        .prepare_cached(&format!(
            "{KEY_SELECT} WHERE (?1 IS NULL OR k.account_id = ?1) AND k.id > ?2 ORDER BY k.id LIMIT ?3"
        ))?
        .query_map(
            params![scope.account_id(), after_rowid, limit.get() + 1],
            key_from_row,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(keys, limit))
}

pub(super) fn revoke_key(
    connection: &Connection,
    scope: KeyScope,
    id: KeyId,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<ApiKey, StoreError> {
    let revoked_now = connection
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = ?1 \
             WHERE public_id = ?2 AND (?3 IS NULL OR account_id = ?3) AND revoked_at IS NULL",
        )?
        .execute(params![
            now.unix_millis(),
            id.as_bytes(),
            scope.account_id()
        ])?;
    let key = key_by_id(connection, scope, id)?;
    if revoked_now > 0 {
        audit::record(
            connection,
            key.account_id,
            &audit_events::key_revoke(&key, actor),
            now,
        )?;
    }
    Ok(key)
}

/// The days of execution logs the account keeps; `None`: the server's default.
pub(super) fn log_retention(
    connection: &Connection,
    account: AccountId,
) -> Result<Option<u32>, StoreError> {
    connection
        .prepare_cached("SELECT execution_log_retention_days FROM accounts WHERE id = ?1")?
        .query_row([account.get()], |row| row.get(0))
        .optional()?
        .ok_or(StoreError::NotFound { what: "account" })
}

pub(super) fn set_log_retention(
    connection: &Connection,
    account: AccountId,
    days: Option<u32>,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<Option<u32>, StoreError> {
    let previous = log_retention(connection, account)?;
    connection
        .prepare_cached("UPDATE accounts SET execution_log_retention_days = ?1 WHERE id = ?2")?
        .execute(params![days, account.get()])?;
    let event =
        audit_events::retention_update(account, "execution_logs", days, previous, actor, now);
    audit::record(connection, account, &event, now)?;
    Ok(days)
}

/// Every account, oldest first.
pub(super) fn all(connection: &Connection) -> Result<Vec<(AccountId, AccountName)>, StoreError> {
    connection
        .prepare_cached("SELECT id, name FROM accounts ORDER BY id")?
        .query_map([], |row| {
            Ok((
                AccountId::new(row.get(0)?),
                parsed(row, 1, AccountName::parse)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(StoreError::from)
}

/// Opens a session for an active key; not found when the key is gone or revoked.
pub(super) fn create_session(
    connection: &Connection,
    hash: SessionHash,
    key: KeyId,
    expires: UtcTime,
    now: UtcTime,
) -> Result<(), StoreError> {
    let created = connection
        .prepare_cached(
            "INSERT INTO console_sessions (token_hash, key_id, created_at, expires_at) \
             SELECT ?1, id, ?2, ?3 FROM api_keys WHERE public_id = ?4 AND revoked_at IS NULL",
        )?
        .execute(params![
            hash.as_bytes(),
            now.unix_millis(),
            expires.unix_millis(),
            key.as_bytes()
        ])?;
    if created == 0 {
        return Err(StoreError::NotFound { what: "key" });
    }
    Ok(())
}

pub(super) fn find_session(
    connection: &Connection,
    hash: SessionHash,
    now: UtcTime,
) -> Result<Option<ApiKey>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "{KEY_SELECT} JOIN console_sessions s ON s.key_id = k.id \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND k.revoked_at IS NULL"
        ))?
        .query_row(params![hash.as_bytes(), now.unix_millis()], key_from_row)
        .optional()?)
}

pub(super) fn delete_session(connection: &Connection, hash: SessionHash) -> Result<(), StoreError> {
    connection
        .prepare_cached("DELETE FROM console_sessions WHERE token_hash = ?1")?
        .execute([hash.as_bytes()])?;
    Ok(())
}

pub(super) fn expire_sessions(
    connection: &Connection,
    now: UtcTime,
    limit: usize,
) -> Result<u64, StoreError> {
    let removed = connection
        .prepare_cached(
            "DELETE FROM console_sessions WHERE token_hash IN \
             (SELECT token_hash FROM console_sessions WHERE expires_at <= ?1 LIMIT ?2)",
        )?
        .execute(params![
            now.unix_millis(),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ])?;
    Ok(removed as u64)
}
