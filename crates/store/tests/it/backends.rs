//! Fixtures: a fresh store of each backend.

use pipelog_core::execution::LaunchExecution;
use pipelog_core::ids::JobKey;
use pipelog_core::log_entry::{LogLine, LogMessage};
use pipelog_store::postgres::scratch::{DATABASE_URL_VAR, ScratchDatabase};
use pipelog_store::postgres::{PostgresOptions, PostgresStore};
use pipelog_store::sqlite::{SqliteOptions, SqliteStore};
use pipelog_store::{LogTarget, Store};
use tempfile::TempDir;

use pipelog_core::audit::{ChainHash, ChainLink};
use pipelog_core::time::UtcTime;
use pipelog_store::ChainAnchor;
use serde_json::json;

use crate::suite::audit::new_entry;
use crate::suite::{launch_request, read_all, some_account};

pub struct SqliteFixture {
    store: SqliteStore,
    _dir: TempDir,
}

impl SqliteFixture {
    pub fn store(&self) -> &dyn Store {
        &self.store
    }

    pub async fn close(self) {
        self.store.close().await.unwrap();
    }
}

pub fn sqlite() -> SqliteFixture {
    sqlite_with(SqliteOptions::default())
}

/// The embedded store, always available.
pub async fn sqlite_suite() -> Option<SqliteFixture> {
    Some(sqlite())
}

pub struct PostgresFixture {
    store: PostgresStore,
    database: ScratchDatabase,
}

impl PostgresFixture {
    pub fn store(&self) -> &dyn Store {
        &self.store
    }

    pub async fn close(self) {
        self.store.close().await.unwrap();
        drop(self.store);
        self.database.drop_database().await.unwrap();
    }
}

/// A fresh PostgreSQL store in a database of its own, or `None` when no server is given.
pub async fn postgres() -> Option<PostgresFixture> {
    postgres_with(PostgresOptions::default()).await
}

/// A PostgreSQL store whose audit finds never start from index terms.
pub async fn postgres_reading_in_order() -> Option<PostgresFixture> {
    postgres_with(PostgresOptions {
        audit_driving_terms: 0,
        ..PostgresOptions::default()
    })
    .await
}

pub async fn postgres_with(options: PostgresOptions) -> Option<PostgresFixture> {
    let Some(database) = ScratchDatabase::from_env().await else {
        eprintln!("{DATABASE_URL_VAR} is not set: this test is skipped on PostgreSQL");
        return None;
    };
    let database = database.unwrap();
    let store = PostgresStore::open(&database.url, options).await.unwrap();
    Some(PostgresFixture { store, database })
}

pub fn sqlite_with(options: SqliteOptions) -> SqliteFixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), options).unwrap();
    SqliteFixture { store, _dir: dir }
}

/// A store whose audit finds never start from index terms: the other of the two plans.
pub fn sqlite_reading_in_order() -> SqliteFixture {
    sqlite_with(SqliteOptions {
        audit_driving_terms: 0,
        ..SqliteOptions::default()
    })
}

pub async fn sqlite_writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let account = some_account(&store, "acme").await;
    let launch: LaunchExecution = launch_request("nightly");
    let execution = store.launch_execution(account, launch).await.unwrap();
    let line = LogLine::info(LogMessage::new("kept".into()).unwrap());
    store
        .append_logs(account, LogTarget::Execution(execution.id), vec![line])
        .await
        .unwrap();
    store.close().await.unwrap();
    drop(store);

    let reopened = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let lines = read_all(&reopened, account, execution.id).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].line.message.as_str(), "kept");
    let claimed = reopened
        .claim_execution(account, JobKey::parse("nightly").unwrap())
        .await
        .unwrap()
        .expect("the queued execution survived");
    assert_eq!(claimed.id, execution.id);
    assert_eq!(claimed.next_seq, 1);
    reopened.close().await.unwrap();
}

/// An audit row as stored, for rewriting it by hand.
struct StoredEntry {
    rowid: i64,
    seq: u64,
    id: String,
    generated: i64,
    recorded: i64,
    entity_type: String,
    event_type: String,
    version: String,
    details: String,
}

/// Someone who can write the database changes an old entry and recomputes every hash after
/// it and the chain head: the chain alone looks intact; a digest taken before does not.
pub async fn sqlite_a_rewritten_history_passes_the_chain_but_not_a_digest() {
    let fixture = sqlite();
    let store = fixture.store();
    let account = some_account(store, "acme").await;
    for n in 0..5 {
        store
            .record_audit(
                account,
                new_entry(
                    "item.update",
                    "2025-02-21T14:58:15Z",
                    json!({"status": "SUCCESS", "n": n}),
                ),
            )
            .await
            .unwrap();
    }
    let head = store.audit_head(account).await.unwrap();
    let anchor = ChainAnchor {
        entries: head.entries,
        head: head.head,
    };

    let database = rusqlite::Connection::open(fixture.store.path()).unwrap();
    database
        .execute(
            "UPDATE audit_entries SET details = replace(details, 'SUCCESS', 'FAILED') WHERE account_id = ?1 AND seq = 2",
            [account.get()],
        )
        .unwrap();
    let mut previous = ChainHash::GENESIS;
    let rows: Vec<StoredEntry> = database
        .prepare(
            "SELECT id, seq, public_id, time_generated, recorded_at, entity_type, event_type, version, details \
             FROM audit_entries WHERE account_id = ?1 ORDER BY seq",
        )
        .unwrap()
        .query_map([account.get()], |row| {
            Ok(StoredEntry {
                rowid: row.get(0)?,
                seq: row.get(1)?,
                id: row.get(2)?,
                generated: row.get(3)?,
                recorded: row.get(4)?,
                entity_type: row.get(5)?,
                event_type: row.get(6)?,
                version: row.get(7)?,
                details: row.get(8)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for row in rows {
        let hash = ChainLink {
            account_id: account,
            seq: row.seq,
            id: &row.id,
            time_generated: UtcTime::from_unix_millis(row.generated).unwrap(),
            recorded_at: UtcTime::from_unix_millis(row.recorded).unwrap(),
            entity_type: &row.entity_type,
            event_type: &row.event_type,
            version: &row.version,
            details: &row.details,
        }
        .hash(&previous);
        database
            .execute(
                "UPDATE audit_entries SET hash = ?1 WHERE id = ?2",
                rusqlite::params![hash.as_bytes(), row.rowid],
            )
            .unwrap();
        previous = hash;
    }
    database
        .execute(
            "UPDATE audit_chains SET head_hash = ?1 WHERE account_id = ?2",
            rusqlite::params![previous.as_bytes(), account.get()],
        )
        .unwrap();
    drop(database);

    let alone = store.verify_audit(account, None).await.unwrap();
    assert_eq!(
        alone.broken, None,
        "a consistent rewrite fools the chain alone"
    );
    let broken = store
        .verify_audit(account, Some(anchor))
        .await
        .unwrap()
        .broken
        .unwrap();
    assert_eq!(broken.seq, head.entries - 1);
    assert!(broken.reason.contains("rewritten"), "{}", broken.reason);
    fixture.close().await;
}
