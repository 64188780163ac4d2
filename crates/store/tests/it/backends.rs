//! Fixtures: a fresh store of each backend.

use pipelog_core::execution::LaunchExecution;
use pipelog_core::ids::JobKey;
use pipelog_core::log_entry::{LogLine, LogMessage};
use pipelog_store::sqlite::{SqliteOptions, SqliteStore};
use pipelog_store::{LogTarget, Store};
use tempfile::TempDir;

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
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    SqliteFixture { store, _dir: dir }
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
