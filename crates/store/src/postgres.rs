//! The PostgreSQL backend: any number of pipelog nodes in front of one database.
//!
//! Each node has a pool of connections for reads, and one writer task that commits its
//! writes in groups on a connection of its own, as the embedded store's writer thread
//! does (`postgres/writer.rs`). Nodes share nothing but the database: what one must know
//! of another's writes (a line for a follower, an execution queued for a claimer) travels
//! by `NOTIFY` sent in the writing transaction and heard by every node's listener
//! (`postgres/listener.rs`).

mod schema;
mod writer;
mod listener;
mod columns;
mod accounts;
mod executions;
mod logs;
mod audit;
mod exports;
mod operating;
mod idempotency;
mod rate_limits;
pub mod scratch;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::future::BoxFuture;
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
use tokio::sync::watch;

use crate::followers::Followers;
use crate::group_commit::{log_batches_group, log_target_group, operating_items_group};
use crate::idempotency::{IdempotencyRecord, IdempotencyScope, RecordedAnswer};
use crate::{
    Appended, AuditPageRequest, ChainAnchor, ChainHead, ChainVerification, DeletedLogs,
    ExecutionFilter, KeyScope, LogPage, LogRun, LogTarget, NewExport, OperatingPage,
    OperatingQuery, OperationPosition, OperationWindow, RateDecision, RecentOperation,
    RecordedAudit, ReportedRun, Store, StoreError, StoreStats, TrackedRun, WrittenCounters,
};
pub use schema::SCHEMA_VERSION;
use writer::Writer;

/// A connection as the store's queries use it: the client with its statement cache.
pub(crate) type Db = deadpool_postgres::ClientWrapper;

/// What a read runs, on a pooled connection inside a read-only snapshot.
type ReadFuture<'a, T> = BoxFuture<'a, Result<T, StoreError>>;

/// The channel every node's writer notifies and every node's listener hears.
const NOTICE_CHANNEL: &str = "pipelog";

/// Tuning for the PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Reads that may run at once, each on a pooled connection. The writer's lanes take a
    /// connection each on top, and the listener one more.
    pub max_connections: usize,
    /// Writes that may wait for the writer. Past this, writes fail with `Overloaded`.
    pub write_queue_capacity: usize,
    /// Group commits this node runs at once, each on a connection of its own (see
    /// `postgres/writer.rs`).
    pub writer_lanes: usize,
    /// As `SqliteOptions::audit_driving_terms`: where an audit find starts from its terms.
    pub audit_driving_terms: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            write_queue_capacity: 4096,
            writer_lanes: 4,
            audit_driving_terms: 5000,
        }
    }
}

/// A pipelog store in a PostgreSQL database, shared with other nodes.
#[derive(Debug)]
pub struct PostgresStore {
    pool: Pool,
    audit_driving_terms: usize,
    followers: Arc<Followers>,
    writer: Writer,
    listener: listener::Listener,
    written: WrittenCounters,
}

/// A notice that an execution's log or status changed.
fn execution_notice(id: ExecutionId) -> String {
    format!("execution {id}")
}

/// A notice that an execution was queued.
const QUEUED_NOTICE: &str = "queued";

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host/database`), brings
    /// its schema up to date (safe when several nodes start at once) and starts the writer
    /// and the listener.
    pub async fn open(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|error| {
            StoreError::Backend(format!("the database URL is not a PostgreSQL URL: {error}"))
        })?;
        let manager = Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections.max(1) + options.writer_lanes.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(|error| StoreError::Backend(format!("cannot set up the pool: {error}")))?;
        {
            let mut connection = pool.get().await.map_err(|error| {
                StoreError::Backend(format!("cannot connect to PostgreSQL: {error}"))
            })?;
            schema::migrate(&mut connection).await?;
        }
        let followers = Arc::new(Followers::default());
        let listener = listener::Listener::start(config, NOTICE_CHANNEL, Arc::clone(&followers));
        let writer = Writer::start(
            pool.clone(),
            options.writer_lanes,
            options.write_queue_capacity,
        );
        Ok(PostgresStore {
            pool,
            audit_driving_terms: options.audit_driving_terms,
            followers,
            writer,
            listener,
            written: WrittenCounters::default(),
        })
    }

    /// Runs `op` on a pooled connection, in a read-only transaction that sees one snapshot
    /// of the database.
    async fn read<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        F: for<'a> FnOnce(&'a Db) -> ReadFuture<'a, T>,
    {
        let connection = self.pool.get().await.map_err(|error| {
            StoreError::Backend(format!("no connection to PostgreSQL: {error}"))
        })?;
        // Dropped before the transaction ends (the request went away), the connection is
        // closed rather than handed to the next reader inside a transaction.
        let mut guard = ReadGuard(Some(connection));
        let db: &Db = guard.0.as_ref().expect("held until the end");
        db.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let outcome = op(db).await;
        let end = if outcome.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        db.batch_execute(end).await?;
        guard.release();
        outcome
    }

    /// How many claims are waiting for an execution to be queued (a gauge for tests).
    pub fn claims_waiting(&self) -> usize {
        self.followers.claims_waiting()
    }

    /// Runs `op` in order on the account's lane as a change to execution `id`: its notice
    /// goes out with the commit, and this node's followers hear of it once committed.
    async fn change_execution<T, F>(
        &self,
        account: AccountId,
        id: ExecutionId,
        op: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a Db, UtcTime) -> writer::WriteFuture<'a, T> + Send + 'static,
    {
        let changed = self
            .writer
            .of(account)
            .barrier(move |db, now| {
                Box::pin(async move {
                    let changed = op(db, now).await?;
                    writer::notify(execution_notice(id));
                    Ok(changed)
                })
            })
            .await?;
        self.announce(id);
        Ok(changed)
    }

    /// Tells this node's followers of an execution that it changed (after the change
    /// committed); the other nodes hear of it through the notice the write sent.
    fn announce(&self, id: ExecutionId) {
        self.followers.announce(id);
    }
}

/// A pooled connection inside a read transaction.
struct ReadGuard(Option<deadpool_postgres::Object>);

impl ReadGuard {
    /// The transaction ended: the connection may serve the next reader.
    fn release(&mut self) {
        self.0.take();
    }
}

impl Drop for ReadGuard {
    fn drop(&mut self) {
        if let Some(connection) = self.0.take() {
            drop(deadpool_postgres::Object::take(connection));
        }
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn bootstrap(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, now| {
                Box::pin(async move {
                    // Two nodes starting at once on a fresh database: one creates the key.
                    accounts::lock_bootstrap(db).await?;
                    if accounts::any_operator_key(db).await? {
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
                    accounts::insert_key(db, &key, None, now).await.map(Some)
                })
            })
            .await
    }

    async fn find_key(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError> {
        self.read(move |db| Box::pin(async move { accounts::find_key(db, &hash).await }))
            .await
    }

    async fn create_key(&self, key: NewApiKey, actor: Option<KeyId>) -> Result<ApiKey, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, now| {
                Box::pin(async move { accounts::insert_key(db, &key, actor, now).await })
            })
            .await
    }

    async fn list_keys(
        &self,
        scope: KeyScope,
        after: Option<KeyId>,
        limit: PageLimit,
    ) -> Result<Page<ApiKey>, StoreError> {
        self.read(move |db| {
            Box::pin(async move { accounts::list_keys(db, scope, after, limit).await })
        })
        .await
    }

    async fn revoke_key(
        &self,
        scope: KeyScope,
        id: KeyId,
        actor: Option<KeyId>,
    ) -> Result<ApiKey, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, now| {
                Box::pin(async move { accounts::revoke_key(db, scope, id, actor, now).await })
            })
            .await
    }

    async fn find_account(&self, name: &AccountName) -> Result<Option<AccountId>, StoreError> {
        let name = name.clone();
        self.read(move |db| Box::pin(async move { accounts::find_account(db, &name).await }))
            .await
    }

    async fn create_session(
        &self,
        hash: SessionHash,
        key: KeyId,
        expires: UtcTime,
    ) -> Result<(), StoreError> {
        self.writer
            .shared()
            .barrier(move |db, now| {
                Box::pin(async move { accounts::create_session(db, hash, key, expires, now).await })
            })
            .await
    }

    async fn find_session(
        &self,
        hash: SessionHash,
        now: UtcTime,
    ) -> Result<Option<ApiKey>, StoreError> {
        self.read(move |db| Box::pin(async move { accounts::find_session(db, hash, now).await }))
            .await
    }

    async fn delete_session(&self, hash: SessionHash) -> Result<(), StoreError> {
        self.writer
            .shared()
            .barrier(move |db, _| Box::pin(async move { accounts::delete_session(db, hash).await }))
            .await
    }

    async fn expire_sessions(&self, now: UtcTime, limit: usize) -> Result<u64, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, _| {
                Box::pin(async move { accounts::expire_sessions(db, now, limit).await })
            })
            .await
    }

    async fn launch_execution(
        &self,
        account: AccountId,
        launch: LaunchExecution,
    ) -> Result<Execution, StoreError> {
        let execution = self
            .writer
            .of(account)
            .barrier(move |db, now| {
                Box::pin(async move {
                    let execution = executions::launch(db, account, &launch, now).await?;
                    writer::notify(QUEUED_NOTICE.into());
                    Ok(execution)
                })
            })
            .await?;
        self.followers.queued();
        Ok(execution)
    }

    async fn start_execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> Result<Execution, StoreError> {
        self.change_execution(account, id, move |db, now| {
            Box::pin(executions::start(db, account, id, now))
        })
        .await
    }

    async fn end_execution(
        &self,
        account: AccountId,
        id: ExecutionId,
        status: FinalStatus,
    ) -> Result<Execution, StoreError> {
        self.change_execution(account, id, move |db, now| {
            Box::pin(executions::end(db, account, id, status, now))
        })
        .await
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
            .of(account)
            .barrier(move |db, now| {
                Box::pin(async move {
                    let tracked =
                        executions::report_run(db, account, &cid, &launch, state, now).await?;
                    if tracked.changed {
                        writer::notify(execution_notice(tracked.execution.id));
                    }
                    Ok(tracked)
                })
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
            .of(account)
            .barrier(move |db, now| {
                Box::pin(async move { executions::claim(db, account, &job, now).await })
            })
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
        self.read(move |db| Box::pin(async move { executions::get(db, account, id).await }))
            .await
    }

    async fn list_executions(
        &self,
        account: AccountId,
        filter: ExecutionFilter,
        after: Option<ExecutionId>,
        limit: PageLimit,
    ) -> Result<Page<Execution>, StoreError> {
        self.read(move |db| {
            Box::pin(async move { executions::list(db, account, &filter, after, limit).await })
        })
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
            .of(account)
            .grouped(group, weight, move |db, now| {
                Box::pin(async move {
                    let appended = logs::append(db, account, &target, &lines, now).await?;
                    writer::notify(execution_notice(appended.execution_id));
                    Ok(appended)
                })
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
            .of(account)
            .grouped(group, weight, move |db, now| {
                Box::pin(async move {
                    let outcomes = logs::append_batches(db, account, &batches, now).await?;
                    for appended in outcomes.iter().flatten() {
                        writer::notify(execution_notice(appended.execution_id));
                    }
                    Ok(outcomes)
                })
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
        self.read(move |db| Box::pin(async move { logs::read(db, account, id, &query).await }))
            .await
    }

    async fn read_log_run(
        &self,
        account: AccountId,
        id: ExecutionId,
        seqs: Range<u64>,
        limit: usize,
    ) -> Result<LogRun, StoreError> {
        self.read(move |db| {
            Box::pin(async move { logs::read_run(db, account, id, seqs, limit).await })
        })
        .await
    }

    async fn delete_logs(
        &self,
        account: AccountId,
        id: ExecutionId,
        actor: Option<KeyId>,
    ) -> Result<DeletedLogs, StoreError> {
        self.change_execution(account, id, move |db, now| {
            Box::pin(logs::delete(db, account, id, actor, now))
        })
        .await
    }

    async fn purge_deleted_logs(&self, max_rows: usize) -> Result<Option<u64>, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, _| Box::pin(async move { logs::purge(db, max_rows).await }))
            .await
    }

    fn execution_changes(&self, id: ExecutionId) -> watch::Receiver<u64> {
        self.followers.execution_changes(id)
    }

    async fn log_retention(&self, account: AccountId) -> Result<Option<u32>, StoreError> {
        self.read(move |db| Box::pin(async move { accounts::log_retention(db, account).await }))
            .await
    }

    async fn set_log_retention(
        &self,
        account: AccountId,
        days: Option<u32>,
        actor: Option<KeyId>,
    ) -> Result<Option<u32>, StoreError> {
        self.writer
            .of(account)
            .barrier(move |db, now| {
                Box::pin(
                    async move { accounts::set_log_retention(db, account, days, actor, now).await },
                )
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
        let mut after = None;
        loop {
            let candidates = self
                .read(move |db| {
                    Box::pin(async move {
                        logs::expiry_candidates(db, default_days, now, after, CANDIDATES_PER_READ)
                            .await
                    })
                })
                .await?;
            let Some(&last) = candidates.last() else {
                return Ok(expired);
            };
            // One execution per commit: a sweep never holds the writer for long.
            for candidate in candidates {
                expired += self
                    .writer
                    .of(AccountId::new(candidate.account))
                    .barrier(move |db, _| {
                        Box::pin(async move { logs::expire(db, candidate).await })
                    })
                    .await?;
            }
            after = Some(last);
        }
    }

    async fn create_export(
        &self,
        account: AccountId,
        id: ExecutionId,
        new: NewExport,
    ) -> Result<ExportJob, StoreError> {
        self.writer
            .of(account)
            .barrier(move |db, now| {
                Box::pin(async move { exports::create(db, account, id, &new, now).await })
            })
            .await
    }

    async fn export(
        &self,
        account: Option<AccountId>,
        token: ExportToken,
    ) -> Result<ExportJob, StoreError> {
        self.read(move |db| Box::pin(async move { exports::get(db, account, token).await }))
            .await
    }

    async fn claim_export(&self, stale: Duration) -> Result<Option<ExportJob>, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, now| Box::pin(async move { exports::claim(db, stale, now).await }))
            .await
    }

    async fn touch_export(&self, token: ExportToken) -> Result<(), StoreError> {
        self.writer
            .shared()
            .barrier(move |db, now| Box::pin(async move { exports::touch(db, token, now).await }))
            .await
    }

    async fn finish_export(
        &self,
        token: ExportToken,
        outcome: Result<u64, String>,
    ) -> Result<(), StoreError> {
        self.writer
            .shared()
            .barrier(move |db, _| {
                Box::pin(async move { exports::finish(db, token, &outcome).await })
            })
            .await
    }

    async fn expired_exports(&self, limit: usize) -> Result<Vec<ExportJob>, StoreError> {
        self.read(move |db| {
            Box::pin(async move { exports::expired(db, UtcTime::now(), limit).await })
        })
        .await
    }

    async fn delete_export(&self, token: ExportToken) -> Result<(), StoreError> {
        self.writer
            .shared()
            .barrier(move |db, _| Box::pin(async move { exports::delete(db, token).await }))
            .await
    }

    async fn idempotency_record(
        &self,
        account: AccountId,
        api_key: KeyId,
        key: IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.read(move |db| {
            Box::pin(async move {
                idempotency::record(db, account, api_key, &key, UtcTime::now()).await
            })
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
            .of(scope.account)
            .barrier(move |db, _| {
                Box::pin(async move { idempotency::answer(db, &scope, &answer).await })
            })
            .await
    }

    async fn expire_idempotency_keys(
        &self,
        before: UtcTime,
        limit: usize,
    ) -> Result<u64, StoreError> {
        self.writer
            .shared()
            .barrier(move |db, _| {
                Box::pin(async move { idempotency::expire(db, before, limit).await })
            })
            .await
    }

    async fn record_audit(
        &self,
        account: AccountId,
        entry: NewAuditEntry,
    ) -> Result<RecordedAudit, StoreError> {
        let recorded = self
            .writer
            .of(account)
            .barrier(move |db, now| {
                Box::pin(async move { audit::record(db, account, &entry, now).await })
            })
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
        self.read(move |db| {
            Box::pin(
                async move { audit::find(db, account, query.as_ref(), page, driving_terms).await },
            )
        })
        .await
    }

    async fn audit_head(&self, account: AccountId) -> Result<ChainHead, StoreError> {
        self.read(move |db| Box::pin(async move { audit::head(db, account).await }))
            .await
    }

    async fn verify_audit(
        &self,
        account: AccountId,
        anchor: Option<ChainAnchor>,
    ) -> Result<ChainVerification, StoreError> {
        self.read(move |db| Box::pin(async move { audit::verify(db, account, anchor).await }))
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
            .of(account)
            .grouped(group, weight, move |db, now| {
                Box::pin(async move { operating::record(db, account, &items, now).await })
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
        self.read(move |db| Box::pin(async move { operating::get(db, account, id).await }))
            .await
    }

    async fn list_operating_items(
        &self,
        account: AccountId,
        query: OperatingQuery,
    ) -> Result<OperatingPage, StoreError> {
        self.read(move |db| Box::pin(async move { operating::list(db, account, &query).await }))
            .await
    }

    async fn operation_items(
        &self,
        account: AccountId,
        operation: OperationId,
        limit: usize,
    ) -> Result<Vec<OperatingItem>, StoreError> {
        self.read(move |db| {
            Box::pin(async move { operating::operation_items(db, account, operation, limit).await })
        })
        .await
    }

    async fn operation_timings(
        &self,
        account: AccountId,
        operation: OperationId,
        limit: usize,
    ) -> Result<Vec<ItemTiming>, StoreError> {
        self.read(move |db| {
            Box::pin(
                async move { operating::operation_timings(db, account, operation, limit).await },
            )
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
        self.read(move |db| {
            Box::pin(async move {
                operating::recent_operations(db, account, window, before, limit).await
            })
        })
        .await
    }

    async fn count_operations(
        &self,
        account: AccountId,
        window: OperationWindow,
    ) -> Result<u64, StoreError> {
        self.read(move |db| {
            Box::pin(async move { operating::count_operations(db, account, window).await })
        })
        .await
    }

    async fn operation_statistics(
        &self,
        account: AccountId,
        window: OperationWindow,
        filter: ComponentFilter,
    ) -> Result<AggregateStatistics, StoreError> {
        self.read(move |db| {
            Box::pin(async move { operating::statistics(db, account, window, filter).await })
        })
        .await
    }

    async fn take_rate_limit(
        &self,
        key: KeyId,
        per_minute: std::num::NonZeroU32,
    ) -> Result<Option<RateDecision>, StoreError> {
        let connection = self.pool.get().await.map_err(|error| {
            StoreError::Backend(format!("no connection to PostgreSQL: {error}"))
        })?;
        rate_limits::take(&connection, key, per_minute)
            .await
            .map(Some)
    }

    async fn accounts(&self) -> Result<Vec<(AccountId, AccountName)>, StoreError> {
        self.read(|db| Box::pin(accounts::all(db))).await
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.read(|db| Box::pin(schema::check_current(db))).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let (exports, size_bytes) = self
            .read(|db| {
                Box::pin(async move {
                    let exports = exports::count_by_status(db).await?;
                    let size: i64 = db
                        .query_one("SELECT pg_database_size(current_database())", &[])
                        .await?
                        .get(0);
                    Ok((exports, u64::try_from(size).unwrap_or(0)))
                })
            })
            .await?;
        let writer = self.writer.snapshot();
        Ok(writer.into_store_stats(self.written.snapshot(), size_bytes, exports))
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.writer.close().await;
        self.listener.stop().await;
        self.pool.close();
        Ok(())
    }
}
