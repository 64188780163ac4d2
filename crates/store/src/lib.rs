//! pipelog's storage: the [`Store`] trait every backend implements, the embedded SQLite
//! backend, and the PostgreSQL one that many pipelog nodes can share.
//!
//! The store speaks in `pipelog-core` types and knows nothing of HTTP or JSON bodies.
//! Every call that reads or changes tenant data takes the caller's [`AccountId`], and the
//! backend puts it in its queries: an id that belongs to another account is simply not
//! found. Every write is committed before its call returns.

mod error;
mod followers;
mod group_commit;
mod execution_rules;
mod audit_index;
mod audit_chain;
pub mod idempotency;
mod operating_codes;
pub mod sqlite;
pub mod postgres;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use pipelog_core::api_key::{ApiKey, KeyHash, NewApiKey};
use pipelog_core::audit::{AuditEntry, AuditId, ChainHash, NewAuditEntry};
use pipelog_core::console_session::SessionHash;
use pipelog_core::execution::{Execution, ExecutionStatus, FinalStatus, LaunchExecution};
use pipelog_core::export::{ExportFormat, ExportJob, ExportStatus, ExportToken};
use pipelog_core::find_query::FindQuery;
use pipelog_core::idempotency::IdempotencyKey;
use pipelog_core::ids::{AccountId, AccountName, Cid, ExecutionId, JobKey, KeyId};
use pipelog_core::ids::{AgentId, OperatingItemId, OperationId, SourceId};
use pipelog_core::log_entry::{LogEntry, LogLine};
use pipelog_core::operating::{
    AgentCode, ItemTiming, NewOperatingItem, OperatingItem, OperationScope, StatusSeverity,
};
use pipelog_core::operating_stats::{AggregateStatistics, ComponentFilter};
use pipelog_core::paging::{LogQuery, Page, PageLimit, TimeRange};
use pipelog_core::time::UtcTime;
use tokio::sync::watch;

pub use error::StoreError;
use idempotency::{IdempotencyRecord, IdempotencyScope, RecordedAnswer};

/// Whose keys a key-management call may see and change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// The operator's view: every account.
    AllAccounts,
    Account(AccountId),
}

impl KeyScope {
    /// The account id a scoped query binds: `None` (NULL) lets the operator's view see
    /// every account.
    pub(crate) fn account_id(self) -> Option<i64> {
        match self {
            KeyScope::AllAccounts => None,
            KeyScope::Account(account) => Some(account.get()),
        }
    }
}

/// Which execution a batch of log lines goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Execution(ExecutionId),
    /// The execution with this correlation id. If the account has none yet, a running
    /// execution is created for it (origin `API`) as a run of `job_if_new`, launched by
    /// `launched_by`, so that an external orchestrator can just send lines.
    Cid {
        cid: Cid,
        job_if_new: JobKey,
        launched_by: Option<KeyId>,
    },
}

/// Where an appended batch landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub execution_id: ExecutionId,
    pub cid: Cid,
    /// The `seq` of the batch's first line; the others follow without gaps.
    pub first_seq: u64,
    /// Lines written: the batch's, but for those left out as duplicates.
    pub count: u64,
    /// Lines left out because their client id was already in the execution (or earlier in
    /// the batch).
    pub duplicates: u64,
    /// The commit time given to every line of the batch.
    pub created_at: UtcTime,
}

/// A page of an execution's log, with the execution as it was when the page was read.
#[derive(Clone, Debug, PartialEq)]
pub struct LogPage {
    pub execution: Execution,
    pub entries: Page<LogEntry>,
    /// How many stored lines the query's time range holds (all of them without one).
    pub selected: u64,
}

/// A run of an execution's lines by `seq`, with the execution as it was when read.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRun {
    pub execution: Execution,
    pub entries: Vec<LogEntry>,
}

/// What deleting an execution's lines did.
#[derive(Clone, Debug, PartialEq)]
pub struct DeletedLogs {
    pub execution: Execution,
    /// The lines that were stored and no longer are.
    pub deleted: u64,
}

/// An export to be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewExport {
    pub format: ExportFormat,
    /// Bounds on `createdAt` of the lines exported.
    pub created: TimeRange,
    /// Name the file `<jobId>_<executionId>.log` rather than `<executionId>.log`.
    pub name_with_job: bool,
    /// How long the export and its file are kept.
    pub keep_for: std::time::Duration,
}

/// Which page of a find: `page` 0, 1, 2 ... of `size` entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditPageRequest {
    pub page: u64,
    pub size: PageLimit,
}

/// An audit entry as recorded, and whether this call recorded it (`false`: a retry of an
/// entry recorded before with the same id and content).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedAudit {
    pub entry: AuditEntry,
    pub created: bool,
}

/// What checking an account's audit chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainVerification {
    /// Entries whose hash was recomputed and found right, from the first one on.
    pub checked: u64,
    /// The first link that is not, if any.
    pub broken: Option<BrokenLink>,
}

/// Where an account's chain stands: what a digest states.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub entries: u64,
    /// The last entry's hash; all zeros for an empty chain.
    pub head: ChainHash,
    pub last_id: Option<AuditId>,
}

/// A position a verified chain must pass through: after `entries` entries, the hash
/// `head` (taken from a digest kept elsewhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainAnchor {
    pub entries: u64,
    pub head: ChainHash,
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenLink {
    /// The entry at fault; `None` when entries are missing at the chain's end.
    pub id: Option<AuditId>,
    pub seq: u64,
    pub reason: String,
}

/// Filters for listing executions, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecutionFilter {
    /// Only these statuses; empty for all.
    pub statuses: Vec<ExecutionStatus>,
    pub job_key: Option<JobKey>,
    /// Bounds on `queuedAt`.
    pub queued: TimeRange,
}

/// Which operating log items a list selects (seed 004's query parameters), in creation
/// order, `offset` items skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatingQuery {
    pub operation: Option<OperationId>,
    pub scope: Option<OperationScope>,
    /// Without it, system-level items are left out.
    pub include_system_level: bool,
    pub min_severity: Option<StatusSeverity>,
    pub agent_code: Option<AgentCode>,
    pub agent_id: Option<AgentId>,
    /// The owner's source; with a publisher-side scope, also the publisher of consumer items.
    pub source_id: Option<SourceId>,
    /// Inclusive bounds on `createdOn`.
    pub created_from: Option<UtcTime>,
    pub created_to: Option<UtcTime>,
    pub offset: u64,
    pub limit: u32,
}

/// A page of operating log items and how many the query selects in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatingPage {
    pub total: u64,
    pub items: Vec<OperatingItem>,
}

/// Operations whose first item was recorded within `[from, to]` (inclusive), for
/// statistics over a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationWindow {
    pub from: UtcTime,
    pub to: UtcTime,
}

/// One of an account's operations, as the list of recent ones shows it: its id, when its
/// first item was recorded, and what statistics read of its items (up to
/// [`RECENT_OPERATION_ITEMS`] of them).
#[derive(Clone, Debug)]
pub struct RecentOperation {
    pub operation: OperationId,
    pub first_at: UtcTime,
    pub timings: Vec<ItemTiming>,
    /// Whether `timings` holds every item (an operation past the bound shows its first ones).
    pub complete: bool,
}

/// The items of one operation the list of recent operations reads, at most.
pub const RECENT_OPERATION_ITEMS: usize = 10_000;

/// Where a list of recent operations continues: before this operation, which began at
/// `first_at` (newest first, ties by id, descending).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationPosition {
    pub first_at: UtcTime,
    pub operation: OperationId,
}

/// Where an orchestrator says a run it names by correlation id has got to (OpenLineage's
/// run events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportedRun {
    /// Started, or still running.
    Running,
    Ended(FinalStatus),
}

/// What reporting a run did to its execution.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackedRun {
    pub execution: Execution,
    /// The report created the execution.
    pub created: bool,
    /// The report changed the execution; a repeated or late one changes nothing.
    pub changed: bool,
}

/// What a store says about itself, for `/metrics`: cheap enough to take at every scrape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Writes waiting for the writer now, and how many may wait before writes are refused.
    pub write_queue_depth: usize,
    pub write_queue_capacity: usize,
    /// Writes per group commit, one observation per commit that succeeded.
    pub commit_writes: CountHistogram,
    /// Rows (lines, entries, items) the committed writes added, as the writes estimated them.
    pub committed_rows: u64,
    /// Group commits that failed: none of their writes was acknowledged.
    pub failed_commits: u64,
    /// What clients wrote since the store opened, by stream.
    pub written: Written,
    /// Bytes the store takes on disk.
    pub size_bytes: u64,
    /// Export jobs by status, of every account.
    pub exports: Vec<(ExportStatus, u64)>,
}

/// Entries clients wrote since the store opened (pipelog's own audit entries about jobs and
/// keys are not counted; retries answered from an earlier write are not either).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub log_lines: u64,
    pub audit_entries: u64,
    pub operating_items: u64,
}

/// What clients wrote through this store (this node, for a shared database) since it
/// opened, counted after each commit.
#[derive(Debug, Default)]
pub(crate) struct WrittenCounters {
    log_lines: AtomicU64,
    audit_entries: AtomicU64,
    operating_items: AtomicU64,
}

impl WrittenCounters {
    pub(crate) fn add_log_lines(&self, count: u64) {
        self.log_lines.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn add_audit_entry(&self) {
        self.audit_entries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_operating_items(&self, count: u64) {
        self.operating_items.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Written {
        Written {
            log_lines: self.log_lines.load(Ordering::Relaxed),
            audit_entries: self.audit_entries.load(Ordering::Relaxed),
            operating_items: self.operating_items.load(Ordering::Relaxed),
        }
    }
}

/// A histogram of whole numbers with fixed upper bounds, as Prometheus shows one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountHistogram {
    /// `(upper bound, observations at or below it)`: cumulative, bounds ascending.
    pub buckets: Vec<(u64, u64)>,
    /// Observations in all, and their sum.
    pub count: u64,
    pub sum: u64,
}

/// What a rate limit kept in the store said about one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    Allowed {
        /// Requests that may still be sent at once.
        remaining: u32,
        /// Until the whole burst is available again.
        reset: std::time::Duration,
    },
    Refused {
        /// Until the next request would be allowed.
        retry_after: std::time::Duration,
    },
}

/// The storage behind a pipelog server. One implementation per backend; the same test
/// suite runs against each.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// On a store that has never had an operator key, creates one with `hash` in the account
    /// `default` (creating that too if needed) and returns it. Otherwise does nothing: a
    /// revoked operator key is not replaced.
    async fn bootstrap(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError>;

    /// The active (not revoked) key with this hash.
    async fn find_key(&self, hash: KeyHash) -> Result<Option<ApiKey>, StoreError>;

    /// Creates a key, and its account if there is none of that name yet, and records
    /// `key.create` by `actor` (`None`: the operator's command line) in the same commit.
    async fn create_key(&self, key: NewApiKey, actor: Option<KeyId>) -> Result<ApiKey, StoreError>;

    /// Keys in creation order, revoked ones included, continuing after `after`.
    async fn list_keys(
        &self,
        scope: KeyScope,
        after: Option<KeyId>,
        limit: PageLimit,
    ) -> Result<Page<ApiKey>, StoreError>;

    /// Revokes a key and records `key.revoke` by `actor` in the same commit; revoking a
    /// revoked key changes (and records) nothing, and succeeds.
    async fn revoke_key(
        &self,
        scope: KeyScope,
        id: KeyId,
        actor: Option<KeyId>,
    ) -> Result<ApiKey, StoreError>;

    async fn find_account(&self, name: &AccountName) -> Result<Option<AccountId>, StoreError>;

    /// Opens a web console session: `hash` stands for the key `key` until `expires`.
    async fn create_session(
        &self,
        hash: SessionHash,
        key: KeyId,
        expires: UtcTime,
    ) -> Result<(), StoreError>;

    /// The key of a session that has not expired at `now`, while the key is not revoked.
    async fn find_session(
        &self,
        hash: SessionHash,
        now: UtcTime,
    ) -> Result<Option<ApiKey>, StoreError>;

    /// Ends a session (signing out); ending one that is gone succeeds.
    async fn delete_session(&self, hash: SessionHash) -> Result<(), StoreError>;

    /// Removes up to `limit` sessions that expired before `now`; how many it removed.
    async fn expire_sessions(&self, now: UtcTime, limit: usize) -> Result<u64, StoreError>;

    /// Queues a new execution of a job, creating or updating the job from `launch.job`.
    /// Like every execution change below, it records its audit event (`job.queue`,
    /// `job.start`, `job.end`) in the same commit.
    async fn launch_execution(
        &self,
        account: AccountId,
        launch: LaunchExecution,
    ) -> Result<Execution, StoreError>;

    /// `QUEUED` to `RUNNING`; any other status is a conflict.
    async fn start_execution(
        &self,
        account: AccountId,
        id: ExecutionId,
    ) -> Result<Execution, StoreError>;

    /// `QUEUED` or `RUNNING` to `status`; an ended execution is a conflict.
    async fn end_execution(
        &self,
        account: AccountId,
        id: ExecutionId,
        status: FinalStatus,
    ) -> Result<Execution, StoreError>;

    /// Hands the oldest queued execution of a job to the caller, marking it `RUNNING`.
    /// Two concurrent claims never get the same execution.
    /// Brings the account's execution with correlation id `cid` to where an orchestrator
    /// reports its run: launched from `launch` (with that cid) and started if there is none
    /// yet, started if queued, ended if the report says so; each step records its audit
    /// entry, all in one transaction. A report that an ended run is running, or ended as it
    /// did, changes nothing; a report that it ended otherwise is a conflict.
    async fn report_run(
        &self,
        account: AccountId,
        cid: Cid,
        launch: LaunchExecution,
        state: ReportedRun,
    ) -> Result<TrackedRun, StoreError>;

    async fn claim_execution(
        &self,
        account: AccountId,
        job: JobKey,
    ) -> Result<Option<Execution>, StoreError>;

    /// Ticks after every commit that queued an execution, so claimers can wait for one.
    fn queued_executions(&self) -> watch::Receiver<u64>;

    async fn execution(&self, account: AccountId, id: ExecutionId)
    -> Result<Execution, StoreError>;

    /// Executions newest first, continuing after `after`.
    async fn list_executions(
        &self,
        account: AccountId,
        filter: ExecutionFilter,
        after: Option<ExecutionId>,
        limit: PageLimit,
    ) -> Result<Page<Execution>, StoreError>;

    /// Appends lines to an execution, all or none, numbering them on from the execution's
    /// last `seq`. An ended execution takes no more lines (a conflict).
    async fn append_logs(
        &self,
        account: AccountId,
        target: LogTarget,
        lines: Vec<LogLine>,
    ) -> Result<Appended, StoreError>;

    /// Appends several batches, each to its own target and all or none of it, in one
    /// commit: each batch's outcome comes back in order, and the call fails as a whole
    /// only when nothing could be committed (overload, a failed commit).
    async fn append_log_batches(
        &self,
        account: AccountId,
        batches: Vec<(LogTarget, Vec<LogLine>)>,
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError>;

    /// One page of an execution's log. Costs the same at any depth.
    async fn read_logs(
        &self,
        account: AccountId,
        id: ExecutionId,
        query: LogQuery,
    ) -> Result<LogPage, StoreError>;

    /// Up to `limit` stored lines with `seq` in `seqs`, oldest first.
    async fn read_log_run(
        &self,
        account: AccountId,
        id: ExecutionId,
        seqs: std::ops::Range<u64>,
        limit: usize,
    ) -> Result<LogRun, StoreError>;

    /// Deletes every stored line of an execution, and records `execution_logs.delete` by
    /// `actor` in the same commit. The lines are gone for readers at once; their rows are
    /// removed afterwards by `purge_deleted_logs`. Lines written later keep numbering on.
    async fn delete_logs(
        &self,
        account: AccountId,
        id: ExecutionId,
        actor: Option<KeyId>,
    ) -> Result<DeletedLogs, StoreError>;

    /// Removes up to `max_rows` rows of lines that were deleted or expired, in one small
    /// commit. `None` when there is nothing left to remove.
    async fn purge_deleted_logs(&self, max_rows: usize) -> Result<Option<u64>, StoreError>;

    /// Ticks after every commit that changes an execution's log or status, for followers.
    fn execution_changes(&self, id: ExecutionId) -> watch::Receiver<u64>;

    /// The days of execution logs the account keeps (`None`: the server's default).
    async fn log_retention(&self, account: AccountId) -> Result<Option<u32>, StoreError>;

    /// Sets them, recording `retention.update` by `actor` in the same commit.
    async fn set_log_retention(
        &self,
        account: AccountId,
        days: Option<u32>,
        actor: Option<KeyId>,
    ) -> Result<Option<u32>, StoreError>;

    /// Expires lines older than each account's retention (or `default_days`) as of `now`,
    /// one execution per commit. Returns how many lines expired.
    async fn expire_logs(&self, default_days: Option<u32>, now: UtcTime)
    -> Result<u64, StoreError>;

    /// Records an export of the lines `new` selects, to be built; the lines are fixed now.
    async fn create_export(
        &self,
        account: AccountId,
        id: ExecutionId,
        new: NewExport,
    ) -> Result<ExportJob, StoreError>;

    /// An export, in `account` or (for signed downloads) in any.
    async fn export(
        &self,
        account: Option<AccountId>,
        token: ExportToken,
    ) -> Result<ExportJob, StoreError>;

    /// Claims the oldest export waiting to be built, unclaimed or claimed at least `stale`
    /// ago.
    async fn claim_export(
        &self,
        stale: std::time::Duration,
    ) -> Result<Option<ExportJob>, StoreError>;

    /// Renews a claim while building.
    async fn touch_export(&self, token: ExportToken) -> Result<(), StoreError>;

    /// Marks an export built (`Ok(bytes)`) or failed.
    async fn finish_export(
        &self,
        token: ExportToken,
        outcome: Result<u64, String>,
    ) -> Result<(), StoreError>;

    /// Up to `limit` exports past their expiry, to remove with their files.
    async fn expired_exports(&self, limit: usize) -> Result<Vec<ExportJob>, StoreError>;

    async fn delete_export(&self, token: ExportToken) -> Result<(), StoreError>;

    /// The claim on `key` by `api_key`, if one was made within the idempotency window.
    async fn idempotency_record(
        &self,
        account: AccountId,
        api_key: KeyId,
        key: IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Keeps the answer of the attempt `scope` ran, whose writes claimed its key.
    async fn record_idempotent_answer(
        &self,
        scope: &Arc<IdempotencyScope>,
        answer: RecordedAnswer,
    ) -> Result<(), StoreError>;

    /// Forgets up to `limit` claims made before `before`; returns how many.
    async fn expire_idempotency_keys(
        &self,
        before: UtcTime,
        limit: usize,
    ) -> Result<u64, StoreError>;

    /// Records an audit entry on its account's chain. An entry whose id the account has
    /// already recorded is a retry: the same content returns the first entry, other
    /// content is a conflict.
    async fn record_audit(
        &self,
        account: AccountId,
        entry: NewAuditEntry,
    ) -> Result<RecordedAudit, StoreError>;

    /// A page of the account's audit entries that `query` matches (all of them without
    /// one), newest first, ties by id, last first.
    async fn find_audit(
        &self,
        account: AccountId,
        query: Option<FindQuery>,
        page: AuditPageRequest,
    ) -> Result<Page<AuditEntry>, StoreError>;

    /// Where the account's audit chain stands now.
    async fn audit_head(&self, account: AccountId) -> Result<ChainHead, StoreError>;

    /// Recomputes the account's audit chain and reports the first broken link. With an
    /// anchor, the chain must also pass through it: after `entries` entries, reach its hash.
    async fn verify_audit(
        &self,
        account: AccountId,
        anchor: Option<ChainAnchor>,
    ) -> Result<ChainVerification, StoreError>;

    /// Records operating log items, all or none, in one commit.
    async fn record_operating_items(
        &self,
        account: AccountId,
        items: Vec<NewOperatingItem>,
    ) -> Result<Vec<OperatingItem>, StoreError>;

    async fn operating_item(
        &self,
        account: AccountId,
        id: OperatingItemId,
    ) -> Result<OperatingItem, StoreError>;

    /// A page of the items `query` selects, oldest first, and how many it selects in all.
    async fn list_operating_items(
        &self,
        account: AccountId,
        query: OperatingQuery,
    ) -> Result<OperatingPage, StoreError>;

    /// Up to `limit` items of one operation, oldest first; not found when it has none.
    async fn operation_items(
        &self,
        account: AccountId,
        operation: OperationId,
        limit: usize,
    ) -> Result<Vec<OperatingItem>, StoreError>;

    /// Up to `limit` items of one operation, reduced to what statistics read; not found
    /// when it has none.
    async fn operation_timings(
        &self,
        account: AccountId,
        operation: OperationId,
        limit: usize,
    ) -> Result<Vec<ItemTiming>, StoreError>;

    /// The account's operations, newest first by the time of their first item, within
    /// `window` and before `before`.
    async fn recent_operations(
        &self,
        account: AccountId,
        window: TimeRange,
        before: Option<OperationPosition>,
        limit: PageLimit,
    ) -> Result<Page<RecentOperation>, StoreError>;

    /// How many of the account's operations began within `window`.
    async fn count_operations(
        &self,
        account: AccountId,
        window: OperationWindow,
    ) -> Result<u64, StoreError>;

    /// Statistics over the operations that began within `window`, reading only the index
    /// that holds their timings, one operation at a time.
    async fn operation_statistics(
        &self,
        account: AccountId,
        window: OperationWindow,
        filter: ComponentFilter,
    ) -> Result<AggregateStatistics, StoreError>;

    /// Counts one request of `key` against a limit of `per_minute` (the whole minute's
    /// worth allowed at once, refilled evenly), in state every node sharing the store sees.
    /// `None`: this store keeps no limits, and the server keeps them itself (one node).
    async fn take_rate_limit(
        &self,
        key: KeyId,
        per_minute: std::num::NonZeroU32,
    ) -> Result<Option<RateDecision>, StoreError> {
        let _ = (key, per_minute);
        Ok(None)
    }

    /// Every account, with its name, oldest first: for checks that cover the whole store.
    async fn accounts(&self) -> Result<Vec<(AccountId, AccountName)>, StoreError>;

    /// Commits everything accepted so far and stops taking writes.
    /// Answers once the store can serve: reachable, its schema up to date.
    async fn ready(&self) -> Result<(), StoreError>;

    /// Figures for `/metrics`.
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    async fn close(&self) -> Result<(), StoreError>;
}
