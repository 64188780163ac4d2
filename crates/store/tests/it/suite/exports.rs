//! Export jobs.

use std::time::Duration;

use pipelog_core::export::{ExportFormat, ExportStatus, ExportToken};
use pipelog_core::log_entry::{LogLine, LogMessage};
use pipelog_core::paging::TimeRange;
use pipelog_store::{LogTarget, NewExport, Store, StoreError};

use super::{launch_request, some_account};

fn new_export(keep_for: Duration) -> NewExport {
    NewExport {
        format: ExportFormat::Text,
        created: TimeRange::default(),
        name_with_job: true,
        keep_for,
    }
}

pub async fn exports_are_claimed_once_finished_and_expired(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let lines = (0..7)
        .map(|n| LogLine::info(LogMessage::new(n.to_string()).unwrap()))
        .collect();
    store
        .append_logs(account, LogTarget::Execution(execution.id), lines)
        .await
        .unwrap();

    let job = store
        .create_export(account, execution.id, new_export(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(job.status, ExportStatus::InProgress);
    assert_eq!(job.lines(), 7);
    assert_eq!(
        job.file_name,
        format!("{}_{}.log", execution.job.id, execution.id)
    );
    assert_eq!(job.account_id, account);

    let claimed = store
        .claim_export(Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.token, job.token);
    assert_eq!(
        store.claim_export(Duration::from_secs(60)).await.unwrap(),
        None,
        "claimed once"
    );
    let reclaimed = store.claim_export(Duration::ZERO).await.unwrap();
    assert_eq!(
        reclaimed.map(|job| job.token),
        Some(job.token),
        "a stale claim is taken over"
    );

    store.finish_export(job.token, Ok(1234)).await.unwrap();
    let ready = store.export(Some(account), job.token).await.unwrap();
    assert_eq!(
        (ready.status, ready.bytes),
        (ExportStatus::Ready, Some(1234))
    );
    assert_eq!(store.claim_export(Duration::ZERO).await.unwrap(), None);

    let other = some_account(store, "initech").await;
    assert_eq!(
        store.export(Some(other), job.token).await.unwrap_err(),
        StoreError::NotFound { what: "export" }
    );
    assert_eq!(
        store.export(None, job.token).await.unwrap().token,
        job.token
    );
    assert!(store.export(None, ExportToken::generate()).await.is_err());

    assert!(store.expired_exports(10).await.unwrap().is_empty());
    let short = store
        .create_export(account, execution.id, new_export(Duration::ZERO))
        .await
        .unwrap();
    store
        .finish_export(short.token, Err("disk full".into()))
        .await
        .unwrap();
    assert_eq!(
        store.export(None, short.token).await.unwrap().status,
        ExportStatus::Failed
    );
    let expired = store.expired_exports(10).await.unwrap();
    assert_eq!(
        expired.iter().map(|job| job.token).collect::<Vec<_>>(),
        [short.token]
    );
    store.delete_export(short.token).await.unwrap();
    assert!(store.export(None, short.token).await.is_err());
}
