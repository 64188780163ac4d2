//! The store suite: every test takes a fresh `&dyn Store` and runs on every backend.

pub mod audit;
pub mod audit_model;
pub mod executions;
pub mod exports;
pub mod keys;
pub mod logs;
pub mod operating;

use pipelog_core::api_key::{ApiKeySecret, KeyRole, NewApiKey, RateLimit};
use pipelog_core::execution::{ActionOrigin, LaunchExecution};
use pipelog_core::ids::{AccountId, AccountName, ExecutionId, JobKey};
use pipelog_core::job::JobSpec;
use pipelog_core::log_entry::LogEntry;
use pipelog_core::paging::{LogQuery, PageLimit, SeveritySet, SortOrder, TimeRange};
use pipelog_core::permission::PermissionSet;
use pipelog_store::Store;
use serde_json::Map;

/// Creates an account (through a key, the only way accounts come to be) and returns its id.
pub async fn some_account(store: &dyn Store, name: &str) -> AccountId {
    let key = new_key(name, PermissionSet::all());
    store.create_key(key, None).await.unwrap().account_id
}

pub fn new_key(account: &str, permissions: PermissionSet) -> NewApiKey {
    NewApiKey {
        account: AccountName::parse(account).unwrap(),
        name: None,
        hash: ApiKeySecret::generate().hash(),
        permissions,
        rate_limit: RateLimit::ServerDefault,
        role: KeyRole::Account,
        agent: None,
    }
}

pub fn launch_request(job_key: &str) -> LaunchExecution {
    LaunchExecution {
        job: JobSpec::with_key(JobKey::parse(job_key).unwrap()),
        action_origin: ActionOrigin::Api,
        input: Map::new(),
        launched_by: None,
    }
}

pub fn query(order: SortOrder, limit: u32) -> LogQuery {
    LogQuery {
        order,
        limit: PageLimit::new(Some(u64::from(limit)), limit, 1000).unwrap(),
        resume_after: None,
        skip: 0,
        severities: SeveritySet::all(),
        created: TimeRange::default(),
    }
}

/// Every line of an execution, oldest first, read page by page.
pub async fn read_all(store: &dyn Store, account: AccountId, id: ExecutionId) -> Vec<LogEntry> {
    let mut lines = Vec::new();
    let mut query = query(SortOrder::Asc, 1000);
    loop {
        let page = store
            .read_logs(account, id, query.clone())
            .await
            .unwrap()
            .entries;
        query.resume_after = page.items.last().map(|entry| entry.seq);
        lines.extend(page.items);
        if !page.has_more {
            return lines;
        }
    }
}
