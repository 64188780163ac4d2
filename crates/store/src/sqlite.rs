//! The embedded backend: one SQLite file in WAL mode in the data dir, one writer thread that
//! commits in groups, and a small pool of reader connections.
//!
//! Writes are closures run by the writer thread inside a savepoint of the current group's
//! transaction; each caller is answered only once the whole group has committed. Reads run
//! on blocking threads, each on its own connection, and see every committed write.

mod schema;
mod writer;
mod readers;
mod columns;
mod accounts;
mod executions;
mod logs;
mod audit;
mod exports;
mod operating;
mod idempotency;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pipelog_core::api_key::{ApiKey, KeyHash, KeyRole, NewApiKey, RateLimit};
use pipelog_core::audit::{AuditEntry, NewAuditEntry};
use pipelog_core::console_session::SessionHash;
use pipelog_core::execution::{Execution, FinalStatus, LaunchExecution};
use pipelog_core::export::{ExportJob, ExportToken};
use pipelog_core::find_query::FindQuery;
use pipelog_core::idempotency::IdempotencyKey;
use pipelog_core::ids::{AccountId, AccountName, Cid, ExecutionId, JobKey, KeyId};
use pipelog_core::ids::{OperatingItemId, OperationId};
use pipelog_core::log_entry::LogLine;
use pipelog_core::operating::{ItemTiming, NewOperatingItem, OperatingItem};
use pipelog_core::operating_stats::{AggregateStatistics, ComponentFilter};
use pipelog_core::paging::{LogQuery, Page, PageLimit, TimeRange};
use pipelog_core::permission::PermissionSet;
use pipelog_core::time::UtcTime;
use rusqlite::Connection;
use rusqlite::config::DbConfig;
use tokio::sync::watch;

use crate::followers::Followers;
use crate::group_commit::{log_batches_group, log_target_group, operating_items_group};
use crate::idempotency::{IdempotencyRecord, IdempotencyScope, RecordedAnswer};
use crate::{
    Appended, AuditPageRequest, ChainAnchor, ChainHead, ChainVerification, DeletedLogs,
    ExecutionFilter, KeyScope, LogPage, LogRun, LogTarget, NewExport, OperatingPage,
    OperatingQuery, OperationPosition, OperationWindow, RecentOperation, RecordedAudit,
    ReportedRun, Store, StoreError, StoreStats, TrackedRun, WrittenCounters,
};
use readers::Readers;
use writer::Writer;

/// The database file's name inside the data dir.
pub const DATABASE_FILE: &str = "pipelog.db";

/// How hard a commit presses data to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: every group commit is fsynced; an acknowledged write survives
    /// a crash of the machine, not only of the process. The default.
    Full,
    /// `synchronous=NORMAL`: an acknowledged write survives a crash of the process; the last
    /// commits before a power loss may be lost. Only as an explicit choice.
    Normal,
}

/// Tuning for the embedded store. The defaults suit the machines pipelog is measured on.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub durability: Durability,
    /// Reads that may run at once, each on its own connection.
    pub max_readers: usize,
    /// Writes that may wait for the writer. Past this, writes fail with `Overloaded`.
    pub write_queue_capacity: usize,
    /// An audit find test whose index terms match fewer entries than this reads those
    /// entries first; above it, entries are read newest first and evaluated until the page
    /// is full. Either way the answer is the same; only the cost differs.
    pub audit_driving_terms: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::Full,
            max_readers: 8,
            write_queue_capacity: 4096,
            audit_driving_terms: 5000,
        }
    }
}

/// A pipelog store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    audit_driving_terms: usize,
    followers: Followers,
    writer: Writer,
    readers: Readers,
    written: WrittenCounters,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`, brings its schema up to date and
    /// starts the writer thread. Blocks while it does; call it before serving.
    pub fn open(data_dir: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|error| {
            StoreError::Backend(format!(
                "cannot create the data dir {}: {error}",
                data_dir.display()
            ))
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let mut connection = open_connection(&path, options.durability, Role::Writer)?;
        schema::migrate(&mut connection)?;
        let writer = Writer::start(connection, options.write_queue_capacity)?;
        let readers = Readers::new(path.clone(), options.durability, options.max_readers);
        Ok(SqliteStore {
            audit_driving_terms: options.audit_driving_terms,
            followers: Followers::default(),
            path,
            writer,
            readers,
            written: WrittenCounters::default(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tells followers of an execution that it changed (after the change committed).
    fn announce(&self, id: ExecutionId) {
        self.followers.announce(id);
    }

    /// How many claims are waiting for an execution to be queued (a gauge for metrics).
    pub fn claims_waiting(&self) -> usize {
        self.followers.claims_waiting()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Writer,
    Reader,
}

/// How long a connection waits for another process's write lock (the `pipelog keys` CLI
/// writing to a running server's data dir, say) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection: more than pipelog has distinct queries.
const STATEMENT_CACHE: usize = 256;

fn open_connection(
    path: &Path,
    durability: Durability,
    role: Role,
) -> Result<Connection, StoreError> {
    let connection = Connection::open(path)
        .map_err(|error| StoreError::Backend(format!("cannot open {}: {error}", path.display())))?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // Every query pipelog runs is a `prepare_cached` one; the default cache of 16 would let
    // one kind of work (an audit find, say) evict another's statements and parse them again.
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "{} cannot use write-ahead logging (journal mode stayed {mode})",
            path.display()
        )));
    }
    let synchronous = match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    };
    connection.pragma_update(None, "synchronous", synchronous)?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Query planner stability for readers: a cached statement keeps its plan whatever is
    // bound to it. Without it, SQLite marks some parameters (a LIMIT, say) so that binding
    // a new value re-prepares the statement on its next step: a page read spent a tenth of
    // its time parsing and planning again. Not for the writer: measured, single-entry
    // ingest fell from 19.5k to 14.5k requests/s with it.
    if role == Role::Reader {
        connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    }
    // Savepoints copy each page they first touch into a sub-journal: in memory, not in a
    // temporary file written page by page.
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    // Page cache (SQLite's default is 2 MiB): 64 MiB for the writer, so the index pages it
    // rewrites stay in memory as the file grows; 8 MiB for each reader, whose cache is
    // dropped anyway whenever the database changed since its last read, and which must
    // not grow with what it reads (an export reads a whole log).
    let cache_kib = match role {
        Role::Writer => 65_536,
        Role::Reader => 8_192,
    };
    connection.pragma_update(None, "cache_size", -cache_kib)?;
    if role == Role::Reader {
        connection.pragma_update(None, "query_only", "ON")?;
    }
    Ok(connection)
}

#[async_trait]
impl Store for SqliteStore {
    async fn bootstrap(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.writer
            .barrier(move |connection, now| {
                if accounts::any_operator_key(connection)? {
                    return Ok(None);
                }
                let key = NewApiKey {
                    account: AccountName::default_account(),
                    name: None,
                    hash,
                    permissions: PermissionSet::all(),
                    rate_limit: RateLimit::Unlimited,
                    role: KeyRole::Operator,
                    agent: None,
                };
                accounts::insert_key(connection, &key, None, now).map(Some)
            })
            .await
    }

    async fn find_key(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.readers
            .read(move |connection| accounts::find_key(connection, &hash))
            .await
    }

    async fn create_key(&self, key: NewApiKey, actor: Option<KeyId>) -> Result<ApiKey, StoreError> {
        self.writer
            .barrier(move |connection, now| accounts::insert_key(connection, &key, actor, now))
            .await
    }

    async fn list_keys(
        &self,
        scope: KeyScope,
        after: Option<KeyId>,
        limit: PageLimit,
    ) -> Result<Page<ApiKey>, StoreError> {
        self.readers
            .read(move |connection| accounts::list_keys(connection, scope, after, limit))
            .await
    }

    async fn revoke_key(
        &self,
        scope: KeyScope,
        id: KeyId,
        actor: Option<KeyId>,
    ) -> Result<ApiKey, StoreError> {
        self.writer
            .barrier(move |connection, now| accounts::revoke_key(connection, scope, id, actor, now))
            .await
    }

    async fn find_account(&self, name: &AccountName) -> Result<Option<AccountId>, StoreError> {
        let name = name.clone();
        self.readers
            .read(move |connection| accounts::find_account(connection, &name))
            .await
    }

    async fn create_session(
        &self,
        hash: SessionHash,
        key: KeyId,
        expires: UtcTime,
    ) -> Result<(), StoreError> {
        self.writer
            .barrier(move |connection, now| {
                accounts::create_session(connection, hash, key, expires, now)
            })
            .await
    }

    async fn find_session(
        &self,
        hash: SessionHash,
        now: UtcTime,
    ) -> Result<Option<ApiKey>, StoreError> {
        self.readers
            .read(move |connection| accounts::find_session(connection, hash, now))
            .await
    }

    async fn delete_session(&self, hash: SessionHash) -> Result<(), StoreError> {
        self.writer
            .barrier(move |connection, _| accounts::delete_session(connection, hash))
            .await
    }

    async fn expire_sessions(&self, now: UtcTime, limit: usize) -> Result<u64, StoreError> {
        self.writer
            .barrier(move |connection, _| accounts::expire_sessions(connection, now, limit))
            .await
    }

    async fn launch_execution(
        &self,
        account: AccountId,
        launch: LaunchExecution,
    ) -> Result<Execution, StoreError> {
        let execution = self
            .writer
            .barrier(move |connection, now| executions::launch(connection, account, &launch, now))
            .await?;
        self.followers.queued();
        Ok(execution)
    }

    async fn start_execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> Result<Execution, StoreError> {
        self.writer
            .barrier(move |connection, now| executions::start(connection, account, id, now))
            .await
    }

    async fn end_execution(
        &self,
        account: AccountId,
        id: ExecutionId,
        status: FinalStatus,
    ) -> Result<Execution, StoreError> {
        let execution = self
            .writer
            .barrier(move |connection, now| executions::end(connection, account, id, status, now))
            .await?;
        self.announce(id);
        Ok(execution)
    }

    async fn report_run(
        &self,
        account: AccountId,
        cid: Cid,
        launch: LaunchExecution,
        state: ReportedRun,
    ) -> Result<TrackedRun, StoreError> {
        let tracked = self
            .writer
            .barrier(move |connection, now| {
                executions::report_run(connection, account, &cid, &launch, state, now)
            })
            .await?;
        if tracked.changed {
            self.announce(tracked.execution.id);
        }
        Ok(tracked)
    }

    async fn claim_execution(
        &self,
        account: AccountId,
        job: JobKey,
    ) -> Result<Option<Execution>, StoreError> {
        self.writer
            .barrier(move |connection, now| executions::claim(connection, account, &job, now))
            .await
    }

    fn queued_executions(&self) -> watch::Receiver<u64> {
        self.followers.queued_executions()
    }

    async fn execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> Result<Execution, StoreError> {
        self.readers
            .read(move |connection| executions::get(connection, account, id))
            .await
    }

    async fn list_executions(
        &self,
        account: AccountId,
        filter: ExecutionFilter,
        after: Option<ExecutionId>,
        limit: PageLimit,
    ) -> Result<Page<Execution>, StoreError> {
        self.readers
            .read(move |connection| executions::list(connection, account, &filter, after, limit))
            .await
    }

    async fn append_logs(
        &self,
        account: AccountId,
        target: LogTarget,
        lines: Vec<LogLine>,
    ) -> Result<Appended, StoreError> {
        let group = log_target_group(account, &target);
        let weight = lines.len();
        let appended = self
            .writer
            .grouped(group, weight, move |connection, now| {
                logs::append(connection, account, &target, &lines, now)
            })
            .await?;
        self.announce(appended.execution_id);
        self.written.add_log_lines(appended.count);
        Ok(appended)
    }

    async fn append_log_batches(
        &self,
        account: AccountId,
        batches: Vec<(LogTarget, Vec<LogLine>)>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let weight = batches.iter().map(|(_, lines)| lines.len()).sum();
        let group = log_batches_group(account, &batches);
        let outcomes = self
            .writer
            .grouped(group, weight, move |connection, now| {
                logs::append_batches(connection, account, &batches, now)
            })
            .await?;
        for appended in outcomes.iter().flatten() {
            self.announce(appended.execution_id);
            self.written.add_log_lines(appended.count);
        }
        Ok(outcomes)
    }

    async fn read_logs(
        &self,
        account: AccountId,
        id: ExecutionId,
        query: LogQuery,
    ) -> Result<LogPage, StoreError> {
        self.readers
            .read(move |connection| logs::read(connection, account, id, &query))
            .await
    }

    async fn read_log_run(
        &self,
        account: AccountId,
        id: ExecutionId,
        seqs: Range<u64>,
        limit: usize,
    ) -> Result<LogRun, StoreError> {
        self.readers
            .read(move |connection| logs::read_run(connection, account, id, seqs, limit))
            .await
    }

    async fn delete_logs(
        &self,
        account: AccountId,
        id: ExecutionId,
        actor: Option<KeyId>,
    ) -> Result<DeletedLogs, StoreError> {
        let deleted = self
            .writer
            .barrier(move |connection, now| logs::delete(connection, account, id, actor, now))
            .await?;
        self.announce(id);
        Ok(deleted)
    }

    async fn purge_deleted_logs(&self, max_rows: usize) -> Result<Option<u64>, StoreError> {
        self.writer
            .barrier(move |connection, _| logs::purge(connection, max_rows))
            .await
    }

    fn execution_changes(&self, id: ExecutionId) -> watch::Receiver<u64> {
        self.followers.execution_changes(id)
    }

    async fn log_retention(&self, account: AccountId) -> Result<Option<u32>, StoreError> {
        self.readers
            .read(move |connection| accounts::log_retention(connection, account))
            .await
    }

    async fn set_log_retention(
        &self,
        account: AccountId,
        days: Option<u32>,
        actor: Option<KeyId>,
    ) -> Result<Option<u32>, StoreError> {
        self.writer
            .barrier(move |connection, now| {
                accounts::set_log_retention(connection, account, days, actor, now)
            })
            .await
    }

    async fn expire_logs(
        &self,
        default_days: Option<u32>,
        now: UtcTime,
    ) -> Result<u64, StoreError> {
        const CANDIDATES_PER_READ: usize = 500;
        let mut expired = 0;
        let mut after = 0;
        loop {
            let candidates = self
                .readers
                .read(move |connection| {
                    logs::expiry_candidates(
                        connection,
                        default_days,
                        now,
                        after,
                        CANDIDATES_PER_READ,
                    )
                })
                .await?;
            let Some(&(last, _)) = candidates.last() else {
                return Ok(expired);
            };
            // One execution per commit: a sweep never holds the writer for long.
            for (rowid, cutoff) in candidates {
                expired += self
                    .writer
                    .barrier(move |connection, _| logs::expire(connection, rowid, cutoff))
                    .await?;
            }
            after = last;
        }
    }

    async fn create_export(
        &self,
        account: AccountId,
        id: ExecutionId,
        new: NewExport,
    ) -> Result<ExportJob, StoreError> {
        self.writer
            .barrier(move |connection, now| exports::create(connection, account, id, &new, now))
            .await
    }

    async fn export(
        &self,
        account: Option<AccountId>,
        token: ExportToken,
    ) -> Result<ExportJob, StoreError> {
        self.readers
            .read(move |connection| exports::get(connection, account, token))
            .await
    }

    async fn claim_export(&self, stale: Duration) -> Result<Option<ExportJob>, StoreError> {
        self.writer
            .barrier(move |connection, now| exports::claim(connection, stale, now))
            .await
    }

    async fn touch_export(&self, token: ExportToken) -> Result<(), StoreError> {
        self.writer
            .barrier(move |connection, now| exports::touch(connection, token, now))
            .await
    }

    async fn finish_export(
        &self,
        token: ExportToken,
        outcome: Result<u64, String>,
    ) -> Result<(), StoreError> {
        self.writer
            .barrier(move |connection, _| exports::finish(connection, token, &outcome))
            .await
    }

    async fn expired_exports(&self, limit: usize) -> Result<Vec<ExportJob>, StoreError> {
        self.readers
            .read(move |connection| exports::expired(connection, UtcTime::now(), limit))
            .await
    }

    async fn delete_export(&self, token: ExportToken) -> Result<(), StoreError> {
        self.writer
            .barrier(move |connection, _| exports::delete(connection, token))
            .await
    }

    async fn idempotency_record(
        &self,
        account: AccountId,
        api_key: KeyId,
        key: IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.readers
            .read(move |connection| {
                idempotency::record(connection, account, api_key, &key, UtcTime::now())
            })
            .await
    }

    async fn record_idempotent_answer(
        &self,
        scope: &Arc<IdempotencyScope>,
        answer: RecordedAnswer,
    ) -> Result<(), StoreError> {
        let scope = Arc::clone(scope);
        self.writer
            .barrier(move |connection, _| idempotency::answer(connection, &scope, &answer))
            .await
    }

    async fn expire_idempotency_keys(
        &self,
        before: UtcTime,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.writer
            .barrier(move |connection, _| idempotency::expire(connection, before, limit))
            .await
    }

    async fn record_audit(
        &self,
        account: AccountId,
        entry: NewAuditEntry,
    ) -> Result<RecordedAudit, StoreError> {
        let recorded = self
            .writer
            .barrier(move |connection, now| audit::record(connection, account, &entry, now))
            .await?;
        if recorded.created {
            self.written.add_audit_entry();
        }
        Ok(recorded)
    }

    async fn find_audit(
        &self,
        account: AccountId,
        query: Option<FindQuery>,
        page: AuditPageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let driving_terms = self.audit_driving_terms;
        self.readers
            .read(move |connection| {
                audit::find(connection, account, query.as_ref(), page, driving_terms)
            })
            .await
    }

    async fn audit_head(&self, account: AccountId) -> Result<ChainHead, StoreError> {
        self.readers
            .read(move |connection| audit::head(connection, account))
            .await
    }

    async fn verify_audit(
        &self,
        account: AccountId,
        anchor: Option<ChainAnchor>,
    ) -> Result<ChainVerification, StoreError> {
        self.readers
            .read(move |connection| audit::verify(connection, account, anchor))
            .await
    }

    async fn record_operating_items(
        &self,
        account: AccountId,
        items: Vec<NewOperatingItem>,
    ) -> Result<Vec<OperatingItem>, StoreError> {
        let weight = items.len();
        let group = operating_items_group(account);
        let recorded = self
            .writer
            .grouped(group, weight, move |connection, now| {
                operating::record(connection, account, &items, now)
            })
            .await?;
        self.written.add_operating_items(recorded.len() as u64);
        Ok(recorded)
    }

    async fn operating_item(
        &self,
        account: AccountId,
        id: OperatingItemId,
    ) -> Result<OperatingItem, StoreError> {
        self.readers
            .read(move |connection| operating::get(connection, account, id))
            .await
    }

    async fn list_operating_items(
        &self,
        account: AccountId,
        query: OperatingQuery,
    ) -> Result<OperatingPage, StoreError> {
        self.readers
            .read(move |connection| operating::list(connection, account, &query))
            .await
    }

    async fn operation_items(
        &self,
        account: AccountId,
        operation: OperationId,
        limit: usize,
    ) -> Result<Vec<OperatingItem>, StoreError> {
        self.readers
            .read(move |connection| {
                operating::operation_items(connection, account, operation, limit)
            })
            .await
    }

    async fn operation_timings(
        &self,
        account: AccountId,
        operation: OperationId,
        limit: usize,
    ) -> Result<Vec<ItemTiming>, StoreError> {
        self.readers
            .read(move |connection| {
                operating::operation_timings(connection, account, operation, limit)
            })
            .await
    }

    async fn recent_operations(
        &self,
        account: AccountId,
        window: TimeRange,
        before: Option<OperationPosition>,
        limit: PageLimit,
    ) -> Result<Page<RecentOperation>, StoreError> {
        self.readers
            .read(move |connection| {
                operating::recent_operations(connection, account, window, before, limit)
            })
            .await
    }

    async fn count_operations(
        &self,
        account: AccountId,
        window: OperationWindow,
    ) -> Result<u64, StoreError> {
        self.readers
            .read(move |connection| operating::count_operations(connection, account, window))
            .await
    }

    async fn operation_statistics(
        &self,
        account: AccountId,
        window: OperationWindow,
        filter: ComponentFilter,
    ) -> Result<AggregateStatistics, StoreError> {
        self.readers
            .read(move |connection| operating::statistics(connection, account, window, filter))
            .await
    }

    async fn accounts(&self) -> Result<Vec<(AccountId, AccountName)>, StoreError> {
        self.readers.read(accounts::all).await
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.readers.read(schema::check_current).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let path = self.path.clone();
        let exports = self.readers.read(exports::count_by_status).await?;
        let size_bytes = tokio::task::spawn_blocking(move || {
            // The database file and its write-ahead log; the shared-memory index is not data.
            ["", "-wal"]
                .iter()
                .filter_map(|suffix| {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    std::fs::metadata(file).ok()
                })
                .map(|metadata| metadata.len())
                .sum()
        })
        .await
        .map_err(|error| StoreError::Backend(format!("cannot measure the store: {error}")))?;
        let writer = self.writer.snapshot();
        Ok(writer.into_store_stats(self.written.snapshot(), size_bytes, exports))
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.writer.close().await;
        self.readers.close();
        Ok(())
    }
}
