//! Jobs and executions.

use futures_util::future::join_all;
use pipelog_core::execution::{ActionOrigin, ExecutionStatus, FinalStatus};
use pipelog_core::ids::{Cid, ExecutionId, JobKey};
use pipelog_core::job::JobType;
use pipelog_core::paging::{PageLimit, TimeRange};
use pipelog_store::{ExecutionFilter, ReportedRun, Store, StoreError};
use serde_json::json;

use super::{launch_request, some_account};

pub async fn launch_creates_the_job_then_updates_it(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let mut first = launch_request("export-items_api_1");
    first.job.title = Some("export-items_api".parse_label());
    first.job.pipeline_id = Some("674f4b87761a6b19c9f0ee74".parse_label());
    first.action_origin = ActionOrigin::Periodic;
    first.input = json!({"table": "items", "eventCorrelationId": "overwritten"})
        .as_object()
        .unwrap()
        .clone();
    let one = store.launch_execution(account, first).await.unwrap();
    assert_eq!(one.status, ExecutionStatus::Queued);
    assert_eq!(one.job.key.as_str(), "export-items_api_1");
    assert_eq!(one.job.title.as_ref().unwrap().as_str(), "export-items_api");
    assert_eq!(one.job.job_type, JobType::User);
    assert_eq!(one.action_origin, ActionOrigin::Periodic);
    assert_eq!(one.input["table"], "items");
    assert_eq!(one.input["eventCorrelationId"], one.cid.as_str());
    assert_eq!(one.started_at, None);
    assert_eq!(one.next_seq, 0);

    let mut second = launch_request("export-items_api_1");
    second.job.title = Some("renamed".parse_label());
    let two = store.launch_execution(account, second).await.unwrap();
    assert_eq!(two.job.id, one.job.id, "the same job");
    assert_eq!(two.job.title.as_ref().unwrap().as_str(), "renamed");
    assert_eq!(
        two.job.pipeline_id, one.job.pipeline_id,
        "fields a launch leaves out keep their values"
    );
    assert_ne!(two.id, one.id);
    assert_ne!(two.cid, one.cid);
}

trait ParseLabel {
    fn parse_label<const MAX: usize>(self) -> pipelog_core::ids::Label<MAX>;
}

impl ParseLabel for &str {
    fn parse_label<const MAX: usize>(self) -> pipelog_core::ids::Label<MAX> {
        pipelog_core::ids::Label::parse(self).unwrap()
    }
}

pub async fn status_transitions_and_their_conflicts(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let queued = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();

    let started = store.start_execution(account, queued.id).await.unwrap();
    assert_eq!(started.status, ExecutionStatus::Running);
    assert!(started.started_at.is_some());
    let twice = store.start_execution(account, queued.id).await.unwrap_err();
    assert!(
        matches!(&twice, StoreError::Conflict(message) if message.contains("is RUNNING")),
        "{twice:?}"
    );

    let ended = store
        .end_execution(account, queued.id, FinalStatus::CompletedWithErrors)
        .await
        .unwrap();
    assert_eq!(
        ended.status,
        ExecutionStatus::Ended(FinalStatus::CompletedWithErrors)
    );
    assert!(ended.ended_at.unwrap() >= ended.started_at.unwrap());
    let again = store
        .end_execution(account, queued.id, FinalStatus::Failed)
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    let restart = store.start_execution(account, queued.id).await.unwrap_err();
    assert!(matches!(restart, StoreError::Conflict(_)), "{restart:?}");

    // A queued execution may be ended without ever starting (removed from the queue).
    let removed = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let removed = store
        .end_execution(account, removed.id, FinalStatus::Removed)
        .await
        .unwrap();
    assert_eq!(removed.started_at, None);

    let unknown = store
        .start_execution(account, ExecutionId::generate())
        .await
        .unwrap_err();
    assert_eq!(unknown, StoreError::NotFound { what: "execution" });
}

pub async fn claim_hands_each_execution_to_one_caller(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let job = JobKey::parse("worker-job").unwrap();
    assert_eq!(
        store.claim_execution(account, job.clone()).await.unwrap(),
        None
    );

    let mut launched = Vec::new();
    for _ in 0..3 {
        launched.push(
            store
                .launch_execution(account, launch_request("worker-job"))
                .await
                .unwrap()
                .id,
        );
    }
    store
        .launch_execution(account, launch_request("other-job"))
        .await
        .unwrap();

    let claims = join_all((0..10).map(|_| store.claim_execution(account, job.clone()))).await;
    let mut claimed: Vec<ExecutionId> = Vec::new();
    for claim in claims {
        if let Some(execution) = claim.unwrap() {
            assert_eq!(execution.status, ExecutionStatus::Running);
            assert!(execution.started_at.is_some());
            claimed.push(execution.id);
        }
    }
    let mut sorted = claimed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        3,
        "each queued execution claimed exactly once: {claimed:?}"
    );
    let mut expected = launched.clone();
    expected.sort();
    assert_eq!(sorted, expected);
}

pub async fn list_is_newest_first_filtered_and_paged(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let mut ids = Vec::new();
    for index in 0..7 {
        let job = if index % 2 == 0 { "even" } else { "odd" };
        ids.push(
            store
                .launch_execution(account, launch_request(job))
                .await
                .unwrap()
                .id,
        );
    }
    store.start_execution(account, ids[0]).await.unwrap();
    store
        .end_execution(account, ids[1], FinalStatus::Failed)
        .await
        .unwrap();

    let three = PageLimit::new(Some(3), 3, 100).unwrap();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_executions(account, ExecutionFilter::default(), after, three)
            .await
            .unwrap();
        after = page.items.last().map(|execution| execution.id);
        seen.extend(page.items.iter().map(|execution| execution.id));
        if !page.has_more {
            break;
        }
    }
    let newest_first: Vec<_> = ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);

    let all = PageLimit::new(Some(100), 100, 100).unwrap();
    let odd = store
        .list_executions(
            account,
            ExecutionFilter {
                job_key: Some(JobKey::parse("odd").unwrap()),
                ..ExecutionFilter::default()
            },
            None,
            all,
        )
        .await
        .unwrap();
    assert_eq!(odd.items.len(), 3);
    assert!(
        odd.items
            .iter()
            .all(|execution| execution.job.key.as_str() == "odd")
    );

    let settled = store
        .list_executions(
            account,
            ExecutionFilter {
                statuses: vec![
                    ExecutionStatus::Running,
                    ExecutionStatus::Ended(FinalStatus::Failed),
                ],
                ..ExecutionFilter::default()
            },
            None,
            all,
        )
        .await
        .unwrap();
    let settled: Vec<_> = settled.items.iter().map(|execution| execution.id).collect();
    assert_eq!(settled, vec![ids[1], ids[0]]);

    let first = store.execution(account, ids[0]).await.unwrap();
    let none_before = store
        .list_executions(
            account,
            ExecutionFilter {
                queued: TimeRange {
                    from: None,
                    to: Some(first.queued_at),
                },
                ..ExecutionFilter::default()
            },
            None,
            all,
        )
        .await
        .unwrap();
    assert!(
        none_before
            .items
            .iter()
            .all(|execution| execution.queued_at < first.queued_at),
        "the upper time bound is exclusive"
    );
    let from_first = store
        .list_executions(
            account,
            ExecutionFilter {
                queued: TimeRange {
                    from: Some(first.queued_at),
                    to: None,
                },
                ..ExecutionFilter::default()
            },
            None,
            all,
        )
        .await
        .unwrap();
    assert_eq!(from_first.items.len(), 7);
}

pub async fn another_account_sees_nothing(store: &dyn Store) {
    let acme = some_account(store, "acme").await;
    let initech = some_account(store, "initech").await;
    let execution = store
        .launch_execution(acme, launch_request("job"))
        .await
        .unwrap();

    let not_found = StoreError::NotFound { what: "execution" };
    assert_eq!(
        store.execution(initech, execution.id).await.unwrap_err(),
        not_found
    );
    assert_eq!(
        store
            .start_execution(initech, execution.id)
            .await
            .unwrap_err(),
        not_found
    );
    assert_eq!(
        store
            .end_execution(initech, execution.id, FinalStatus::Failed)
            .await
            .unwrap_err(),
        not_found
    );
    assert_eq!(
        store
            .claim_execution(initech, JobKey::parse("job").unwrap())
            .await
            .unwrap(),
        None
    );
    let all = PageLimit::new(Some(100), 100, 100).unwrap();
    let listed = store
        .list_executions(initech, ExecutionFilter::default(), None, all)
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    let cursor = store
        .list_executions(initech, ExecutionFilter::default(), Some(execution.id), all)
        .await
        .unwrap_err();
    assert_eq!(cursor, StoreError::InvalidCursor);
    // Untouched for its owner.
    assert_eq!(
        store.execution(acme, execution.id).await.unwrap().status,
        ExecutionStatus::Queued
    );
}

pub async fn reported_runs_move_forward_only(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let cid = Cid::parse("run-1").unwrap();
    let report = |state| store.report_run(account, cid.clone(), launch_request("ns/job"), state);

    let started = report(ReportedRun::Running).await.unwrap();
    assert!(started.created && started.changed);
    assert_eq!(started.execution.status, ExecutionStatus::Running);
    assert_eq!(started.execution.cid, cid);
    assert_eq!(started.execution.job.key.as_str(), "ns/job");
    let again = report(ReportedRun::Running).await.unwrap();
    assert!(!again.created && !again.changed);
    assert_eq!(again.execution.id, started.execution.id);

    let ended = report(ReportedRun::Ended(FinalStatus::Failed))
        .await
        .unwrap();
    assert!(!ended.created && ended.changed);
    assert_eq!(
        ended.execution.status,
        ExecutionStatus::Ended(FinalStatus::Failed)
    );
    let late = report(ReportedRun::Running).await.unwrap();
    assert!(!late.changed);
    assert_eq!(
        late.execution.status,
        ExecutionStatus::Ended(FinalStatus::Failed)
    );
    let repeated = report(ReportedRun::Ended(FinalStatus::Failed))
        .await
        .unwrap();
    assert!(!repeated.changed);
    let contradiction = report(ReportedRun::Ended(FinalStatus::Completed))
        .await
        .unwrap_err();
    assert!(
        matches!(contradiction, StoreError::Conflict(_)),
        "{contradiction:?}"
    );

    // A queued execution launched with a cid of its own is started by the report.
    let queued = store
        .launch_execution(account, launch_request("ns/job"))
        .await
        .unwrap();
    let started = store
        .report_run(
            account,
            queued.cid.clone(),
            launch_request("other"),
            ReportedRun::Running,
        )
        .await
        .unwrap();
    assert_eq!(started.execution.id, queued.id);
    assert_eq!(started.execution.status, ExecutionStatus::Running);
    assert_eq!(
        started.execution.job.key.as_str(),
        "ns/job",
        "the job stays"
    );

    // Another account's report with the same cid is its own run.
    let other = some_account(store, "globex").await;
    let theirs = store
        .report_run(
            other,
            cid.clone(),
            launch_request("ns/job"),
            ReportedRun::Running,
        )
        .await
        .unwrap();
    assert!(theirs.created);
    assert_ne!(theirs.execution.id, started.execution.id);
}
