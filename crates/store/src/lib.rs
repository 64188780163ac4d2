//! pipelog's storage: the [`Store`] trait every backend implements, and the embedded
//! SQLite backend.
//!
//! The store speaks in `pipelog-core` types and knows nothing of HTTP or JSON bodies.
//! Every call that reads or changes tenant data takes the caller's [`AccountId`], and the
//! backend puts it in its queries: an id that belongs to another account is simply not
//! found. Every write is committed before its call returns.

mod error;
pub mod sqlite;

use async_trait::async_trait;
use pipelog_core::api_key::{ApiKey, KeyHash, NewApiKey};
use pipelog_core::execution::{Execution, ExecutionStatus, FinalStatus, LaunchExecution};
use pipelog_core::ids::{AccountId, AccountName, Cid, ExecutionId, JobKey, KeyId};
use pipelog_core::log_entry::{LogEntry, LogLine};
use pipelog_core::paging::{LogQuery, Page, PageLimit, TimeRange};
use pipelog_core::time::UtcTime;
use tokio::sync::watch;

pub use error::StoreError;

/// Whose keys a key-management call may see and change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// The operator's view: every account.
    AllAccounts,
    Account(AccountId),
}

/// Which execution a batch of log lines goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Execution(ExecutionId),
    /// The execution with this correlation id. If the account has none yet, a running
    /// execution is created for it (origin `API`) as a run of `job_if_new`, so that an
    /// external orchestrator can just send lines.
    Cid {
        cid: Cid,
        job_if_new: JobKey,
    },
}

/// Where an appended batch landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub execution_id: ExecutionId,
    pub cid: Cid,
    /// The `seq` of the batch's first line; the others follow without gaps.
    pub first_seq: u64,
    pub count: u64,
    /// The commit time given to every line of the batch.
    pub created_at: UtcTime,
}

/// A page of an execution's log, with the execution as it was when the page was read.
#[derive(Clone, Debug, PartialEq)]
pub struct LogPage {
    pub execution: Execution,
    pub entries: Page<LogEntry>,
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

    /// Creates a key, and its account if there is none of that name yet.
    async fn create_key(&self, key: NewApiKey) -> Result<ApiKey, StoreError>;

    /// Keys in creation order, revoked ones included, continuing after `after`.
    async fn list_keys(
        &self,
        scope: KeyScope,
        after: Option<KeyId>,
        limit: PageLimit,
    ) -> Result<Page<ApiKey>, StoreError>;

    /// Revokes a key; revoking a revoked key changes nothing and succeeds.
    async fn revoke_key(&self, scope: KeyScope, id: KeyId) -> Result<ApiKey, StoreError>;

    async fn find_account(&self, name: &AccountName) -> Result<Option<AccountId>, StoreError>;

    /// Queues a new execution of a job, creating or updating the job from `launch.job`.
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

    /// One page of an execution's log. Costs the same at any depth.
    async fn read_logs(
        &self,
        account: AccountId,
        id: ExecutionId,
        query: LogQuery,
    ) -> Result<LogPage, StoreError>;

    /// Commits everything accepted so far and stops taking writes.
    async fn close(&self) -> Result<(), StoreError>;
}
