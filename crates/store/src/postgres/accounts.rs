//! Accounts and API keys.

use pipelog_core::api_key::{ApiKey, KeyHash, KeyRole, NewApiKey, RateLimit};
use pipelog_core::audit_events;
use pipelog_core::console_session::SessionHash;
use pipelog_core::ids::{AccountId, AccountName, AgentId, KeyId, SourceId};
use pipelog_core::operating::DataAgent;
use pipelog_core::paging::{Page, PageLimit};
use pipelog_core::permission::PermissionSet;
use pipelog_core::time::UtcTime;
use tokio_postgres::Row;

use super::Db;
use super::audit;
use super::columns::{
    get, number, optional_label, optional_number, optional_time, optional_uuid_bytes, parsed, time,
    uuid, uuid_bytes,
};
use crate::{KeyScope, StoreError};

/// The advisory lock bootstrapping holds: "pipeboot" in ASCII, as a number (the
/// migrations' lock is "pipelog").
const BOOTSTRAP_LOCK: i64 = 0x7069_7065_626f_6f74;

const KEY_SELECT: &str = "SELECT k.public_id, k.account_id, a.name, k.name, k.permissions, \
     k.rate_limit, k.is_operator, k.created_at, k.revoked_at, k.hash, k.id, \
     k.agent_id, k.agent_code, k.agent_source_id \
     FROM api_keys k JOIN accounts a ON a.id = k.account_id";

fn key_from_row(row: &Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: KeyId::from_bytes(uuid_bytes(row, 0)?),
        account_id: AccountId::new(get(row, 1)?),
        account: parsed(row, 2, AccountName::parse)?,
        name: optional_label(row, 3)?,
        permissions: PermissionSet::from_bits(number::<i64, _>(row, 4)?),
        rate_limit: RateLimit::from_option(optional_number::<i64, _>(row, 5)?),
        role: if get::<bool>(row, 6)? {
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

/// Serialises bootstrapping across nodes, until the write's transaction ends: a node that
/// waited here then sees the operator key the first one created.
pub(super) async fn lock_bootstrap(db: &Db) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await?;
    db.execute(&statement, &[&BOOTSTRAP_LOCK]).await?;
    Ok(())
}

/// Whether the store ever had an operator key (revoked ones count).
pub(super) async fn any_operator_key(db: &Db) -> Result<bool, StoreError> {
    let statement = db
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys WHERE is_operator)")
        .await?;
    get(&db.query_one(&statement, &[]).await?, 0)
}

pub(super) async fn find_account(
    db: &Db,
    name: &AccountName,
) -> Result<Option<AccountId>, StoreError> {
    let statement = db
        .prepare_cached("SELECT id FROM accounts WHERE name = $1")
        .await?;
    match db.query_opt(&statement, &[&name.as_str()]).await? {
        None => Ok(None),
        Some(row) => Ok(Some(AccountId::new(get(&row, 0)?))),
    }
}

/// The account of this name, created if need be. A node creating the same account at the
/// same moment makes the insert wait for its commit and then do nothing; the select, in a
/// snapshot of its own (the writer's transactions are READ COMMITTED), sees that account.
async fn ensure_account(
    db: &Db,
    name: &AccountName,
    now: UtcTime,
) -> Result<AccountId, StoreError> {
    let statement = db
        .prepare_cached(
            "INSERT INTO accounts (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .await?;
    db.execute(&statement, &[&name.as_str(), &now.unix_millis()])
        .await?;
    find_account(db, name)
        .await?
        .ok_or(StoreError::NotFound { what: "account" })
}

pub(super) async fn insert_key(
    db: &Db,
    key: &NewApiKey,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<ApiKey, StoreError> {
    let account = ensure_account(db, &key.account, now).await?;
    let id = KeyId::generate();
    let agent = key.agent.as_ref();
    let statement = db
        .prepare_cached(
            "INSERT INTO api_keys (public_id, account_id, name, lookup, hash, permissions, \
             rate_limit, is_operator, created_at, agent_id, agent_code, agent_source_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .await?;
    let inserted = db
        .execute(
            &statement,
            &[
                &uuid(id.as_bytes()),
                &account.get(),
                &key.name.as_ref().map(|name| name.as_str()),
                &key.hash.lookup_prefix(),
                &key.hash.as_bytes().as_slice(),
                &i64::from(key.permissions.bits()),
                &key.rate_limit.to_option().map(i64::from),
                &(key.role == KeyRole::Operator),
                &now.unix_millis(),
                &agent.map(|agent| uuid(agent.agent_id.as_bytes())),
                &agent
                    .and_then(|agent| agent.agent_code.as_ref())
                    .map(|code| code.as_str()),
                &agent
                    .and_then(|agent| agent.source_id.as_ref())
                    .map(|source| uuid(source.as_bytes())),
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(
            "a key with this secret already exists".into(),
        ));
    }
    let created = key_by_id(db, KeyScope::AllAccounts, id).await?;
    audit::record(
        db,
        created.account_id,
        &audit_events::key_create(&created, actor),
        now,
    )
    .await?;
    Ok(created)
}

pub(super) async fn find_key(db: &Db, hash: &KeyHash) -> Result<Option<ApiKey>, StoreError> {
    let statement = db
        .prepare_cached(&format!(
            "{KEY_SELECT} WHERE k.lookup = $1 AND k.revoked_at IS NULL"
        ))
        .await?;
    for row in db.query(&statement, &[&hash.lookup_prefix()]).await? {
        let stored: &[u8] = get(&row, 9)?;
        if hash.matches(stored) {
            return key_from_row(&row).map(Some);
        }
    }
    Ok(None)
}

async fn key_by_id(db: &Db, scope: KeyScope, id: KeyId) -> Result<ApiKey, StoreError> {
    let statement = db
        .prepare_cached(&format!(
            "{KEY_SELECT} WHERE k.public_id = $1 AND ($2::bigint IS NULL OR k.account_id = $2)"
        ))
        .await?;
    match db
        .query_opt(&statement, &[&uuid(id.as_bytes()), &scope.account_id()])
        .await?
    {
        Some(row) => key_from_row(&row),
        None => Err(StoreError::NotFound { what: "key" }),
    }
}

/// Keys in creation order: `api_keys.id` is one identity over all accounts.
pub(super) async fn list_keys(
    db: &Db,
    scope: KeyScope,
    after: Option<KeyId>,
    limit: PageLimit,
) -> Result<Page<ApiKey>, StoreError> {
    let after_id: i64 = match after {
        None => 0,
        Some(id) => {
            let statement = db
                .prepare_cached(
                    "SELECT id FROM api_keys \
                     WHERE public_id = $1 AND ($2::bigint IS NULL OR account_id = $2)",
                )
                .await?;
            let row = db
                .query_opt(&statement, &[&uuid(id.as_bytes()), &scope.account_id()])
                .await?
                .ok_or(StoreError::InvalidCursor)?;
            get(&row, 0)?
        }
    };
    let statement = db
        .prepare_cached(&format!(
            "{KEY_SELECT} WHERE ($1::bigint IS NULL OR k.account_id = $1) AND k.id > $2 \
             ORDER BY k.id LIMIT $3"
        ))
        .await?;
    let keys = db
        .query(
            &statement,
            &[
                &scope.account_id(),
                &after_id,
                &(i64::from(limit.get()) + 1),
            ],
        )
        .await?
        .iter()
        .map(key_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(keys, limit))
}

/// Revokes the key once: a second revocation, even by another node at the same moment
/// (its update waits for the first one's commit, then finds the key revoked), changes
/// nothing and records nothing.
pub(super) async fn revoke_key(
    db: &Db,
    scope: KeyScope,
    id: KeyId,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<ApiKey, StoreError> {
    let statement = db
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = $1 \
             WHERE public_id = $2 AND ($3::bigint IS NULL OR account_id = $3) \
             AND revoked_at IS NULL",
        )
        .await?;
    let revoked_now = db
        .execute(
            &statement,
            &[
                &now.unix_millis(),
                &uuid(id.as_bytes()),
                &scope.account_id(),
            ],
        )
        .await?;
    let key = key_by_id(db, scope, id).await?;
    if revoked_now > 0 {
        audit::record(
            db,
            key.account_id,
            &audit_events::key_revoke(&key, actor),
            now,
        )
        .await?;
    }
    Ok(key)
}

/// The days of execution logs the account keeps; `None`: the server's default.
pub(super) async fn log_retention(db: &Db, account: AccountId) -> Result<Option<u32>, StoreError> {
    let statement = db
        .prepare_cached("SELECT execution_log_retention_days FROM accounts WHERE id = $1")
        .await?;
    match db.query_opt(&statement, &[&account.get()]).await? {
        Some(row) => optional_number::<i64, _>(&row, 0),
        None => Err(StoreError::NotFound { what: "account" }),
    }
}

pub(super) async fn set_log_retention(
    db: &Db,
    account: AccountId,
    days: Option<u32>,
    actor: Option<KeyId>,
    now: UtcTime,
) -> Result<Option<u32>, StoreError> {
    // The row stays locked until the commit, so that two nodes changing the retention at
    // once each record the value the other one left as the previous one.
    let statement = db
        .prepare_cached(
            "SELECT execution_log_retention_days FROM accounts WHERE id = $1 FOR UPDATE",
        )
        .await?;
    let previous = match db.query_opt(&statement, &[&account.get()]).await? {
        Some(row) => optional_number::<i64, _>(&row, 0)?,
        None => return Err(StoreError::NotFound { what: "account" }),
    };
    let statement = db
        .prepare_cached("UPDATE accounts SET execution_log_retention_days = $1 WHERE id = $2")
        .await?;
    db.execute(&statement, &[&days.map(i64::from), &account.get()])
        .await?;
    let event =
        audit_events::retention_update(account, "execution_logs", days, previous, actor, now);
    audit::record(db, account, &event, now).await?;
    Ok(days)
}

/// Every account, oldest first.
pub(super) async fn all(db: &Db) -> Result<Vec<(AccountId, AccountName)>, StoreError> {
    let statement = db
        .prepare_cached("SELECT id, name FROM accounts ORDER BY id")
        .await?;
    db.query(&statement, &[])
        .await?
        .iter()
        .map(|row| {
            Ok((
                AccountId::new(get(row, 0)?),
                parsed(row, 1, AccountName::parse)?,
            ))
        })
        .collect()
}

/// Opens a session for an active key; not found when the key is gone or revoked.
pub(super) async fn create_session(
    db: &Db,
    hash: SessionHash,
    key: KeyId,
    expires: UtcTime,
    now: UtcTime,
) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached(
            "INSERT INTO console_sessions (token_hash, account_id, key_id, created_at, expires_at) \
             SELECT $1, account_id, id, $2, $3 FROM api_keys WHERE public_id = $4 AND revoked_at IS NULL",
        )
        .await?;
    let created = db
        .execute(
            &statement,
            &[
                &hash.as_bytes().as_slice(),
                &now.unix_millis(),
                &expires.unix_millis(),
                &uuid(key.as_bytes()),
            ],
        )
        .await?;
    if created == 0 {
        return Err(StoreError::NotFound { what: "key" });
    }
    Ok(())
}

pub(super) async fn find_session(
    db: &Db,
    hash: SessionHash,
    now: UtcTime,
) -> Result<Option<ApiKey>, StoreError> {
    let statement = db
        .prepare_cached(&format!(
            "{KEY_SELECT} JOIN console_sessions s ON s.account_id = k.account_id AND s.key_id = k.id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL"
        ))
        .await?;
    match db
        .query_opt(
            &statement,
            &[&hash.as_bytes().as_slice(), &now.unix_millis()],
        )
        .await?
    {
        Some(row) => key_from_row(&row).map(Some),
        None => Ok(None),
    }
}

pub(super) async fn delete_session(db: &Db, hash: SessionHash) -> Result<(), StoreError> {
    let statement = db
        .prepare_cached("DELETE FROM console_sessions WHERE token_hash = $1")
        .await?;
    db.execute(&statement, &[&hash.as_bytes().as_slice()])
        .await?;
    Ok(())
}

pub(super) async fn expire_sessions(
    db: &Db,
    now: UtcTime,
    limit: usize,
) -> Result<u64, StoreError> {
    let statement = db
        .prepare_cached(
            "DELETE FROM console_sessions WHERE token_hash IN \
             (SELECT token_hash FROM console_sessions WHERE expires_at <= $1 LIMIT $2)",
        )
        .await?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(db
        .execute(&statement, &[&now.unix_millis(), &limit])
        .await?)
}
