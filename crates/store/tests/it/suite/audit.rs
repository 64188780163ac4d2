//! Audit entries: recording, idempotency, pipelog's own events, finding, chains.

use pipelog_core::audit::ChainHash;
use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, NewAuditEntry};
use pipelog_core::execution::FinalStatus;
use pipelog_core::find_query::FindQuery;
use pipelog_core::ids::{AccountId, Cid, JobKey, Label};
use pipelog_core::log_entry::{LogLine, LogMessage};
use pipelog_core::paging::PageLimit;
use pipelog_core::permission::PermissionSet;
use pipelog_core::time::UtcTime;
use pipelog_store::{AuditPageRequest, ChainAnchor, KeyScope, LogTarget, Store, StoreError};
use serde_json::{Value, json};

use super::{launch_request, new_key, some_account};

pub fn new_entry(event_type: &str, at: &str, details: Value) -> NewAuditEntry {
    NewAuditEntry {
        id: None,
        time_generated: Some(UtcTime::parse(at).unwrap()),
        entity_type: Label::parse(event_type.split('.').next().unwrap()).unwrap(),
        event_type: Label::parse(event_type).unwrap(),
        version: Label::parse("2").unwrap(),
        details: AuditDetails::new(details.as_object().unwrap().clone()).unwrap(),
    }
}

pub fn page(page: u64, size: u32) -> AuditPageRequest {
    AuditPageRequest {
        page,
        size: PageLimit::new(Some(u64::from(size)), 10, 1000).unwrap(),
    }
}

/// Every entry of the account, newest first.
pub async fn everything(store: &dyn Store, account: AccountId) -> Vec<AuditEntry> {
    store
        .find_audit(account, None, page(0, 1000))
        .await
        .unwrap()
        .items
}

fn types(entries: &[AuditEntry]) -> Vec<&str> {
    entries
        .iter()
        .map(|entry| entry.event_type.as_str())
        .collect()
}

pub async fn entries_come_back_newest_first_in_pages(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let before = everything(store, account).await.len();
    for (index, at) in [
        "2025-02-21T14:58:15.584Z",
        "2025-02-21T14:58:17Z",
        "2025-02-21T14:58:16Z",
    ]
    .into_iter()
    .enumerate()
    {
        let mut entry = new_entry("item.update", at, json!({"n": index}));
        entry.id = Some(AuditId::parse(&format!("entry-{index}")).unwrap());
        let recorded = store.record_audit(account, entry).await.unwrap();
        assert!(recorded.created);
        assert_eq!(recorded.entry.time_generated, UtcTime::parse(at).unwrap());
    }
    // A tie on time is broken by id, last first.
    let mut tie = new_entry("item.update", "2025-02-21T14:58:16Z", json!({}));
    tie.id = Some(AuditId::parse("entry-9").unwrap());
    store.record_audit(account, tie).await.unwrap();

    let items: Vec<AuditEntry> = everything(store, account)
        .await
        .into_iter()
        .filter(|entry| entry.entity_type.as_str() == "item")
        .collect();
    let ids: Vec<&str> = items.iter().map(|entry| entry.id.as_str()).collect();
    assert_eq!(ids, ["entry-1", "entry-9", "entry-2", "entry-0"]);

    // Pages of two walk the same order as the whole list, the account's key.create included.
    let all = everything(store, account).await;
    assert_eq!(all.len(), before + 4);
    let mut paged = Vec::new();
    for number in 0.. {
        let page = store
            .find_audit(account, None, page(number, 2))
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        paged.extend(page.items.into_iter().map(|entry| entry.id));
        if !page.has_more {
            break;
        }
    }
    assert_eq!(
        paged,
        all.iter().map(|entry| entry.id.clone()).collect::<Vec<_>>()
    );
    let beyond = store.find_audit(account, None, page(100, 2)).await.unwrap();
    assert!(beyond.items.is_empty() && !beyond.has_more);
}

pub async fn a_client_id_makes_a_retry_harmless(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let mut entry = new_entry(
        "item.update",
        "2025-02-21T14:58:15.584Z",
        json!({"itemId": "6588231"}),
    );
    entry.id = Some(AuditId::parse("3fd28929-228d-11ef-91f5-002248824020").unwrap());
    let first = store.record_audit(account, entry.clone()).await.unwrap();
    let retry = store.record_audit(account, entry.clone()).await.unwrap();
    assert!(first.created && !retry.created);
    assert_eq!(retry.entry, first.entry);
    let mut without_time = entry.clone();
    without_time.time_generated = None;
    assert!(
        !store
            .record_audit(account, without_time)
            .await
            .unwrap()
            .created
    );

    let mut changed = entry.clone();
    changed.details =
        AuditDetails::new(json!({"itemId": "other"}).as_object().unwrap().clone()).unwrap();
    let conflict = store.record_audit(account, changed).await.unwrap_err();
    assert!(matches!(conflict, StoreError::Conflict(_)), "{conflict:?}");

    // Another account may use the same id for its own entry.
    let other = some_account(store, "initech").await;
    assert!(store.record_audit(other, entry).await.unwrap().created);
    assert_eq!(
        store.verify_audit(account, None).await.unwrap().broken,
        None
    );
}

pub async fn pipelog_records_job_and_key_events_with_the_change(store: &dyn Store) {
    let operator = store
        .create_key(new_key("acme", PermissionSet::all()), None)
        .await
        .unwrap();
    let account = operator.account_id;
    let mut launch = launch_request("export-items_api_1");
    launch.launched_by = Some(operator.id);
    let execution = store.launch_execution(account, launch).await.unwrap();
    store.start_execution(account, execution.id).await.unwrap();
    store
        .end_execution(account, execution.id, FinalStatus::Completed)
        .await
        .unwrap();
    // A refused change records nothing.
    store
        .end_execution(account, execution.id, FinalStatus::Failed)
        .await
        .unwrap_err();

    let claimed = store
        .launch_execution(account, launch_request("worker"))
        .await
        .unwrap();
    store
        .claim_execution(account, JobKey::parse("worker").unwrap())
        .await
        .unwrap();
    store
        .append_logs(
            account,
            LogTarget::Cid {
                cid: Cid::parse("external-run").unwrap(),
                job_if_new: JobKey::parse("airflow").unwrap(),
                launched_by: Some(operator.id),
            },
            vec![LogLine::info(LogMessage::new("hi".into()).unwrap())],
        )
        .await
        .unwrap();
    let made = store
        .create_key(new_key("acme", PermissionSet::all()), Some(operator.id))
        .await
        .unwrap();
    store
        .revoke_key(KeyScope::Account(account), made.id, Some(operator.id))
        .await
        .unwrap();
    store
        .revoke_key(KeyScope::Account(account), made.id, Some(operator.id))
        .await
        .unwrap();

    let mut entries = everything(store, account).await;
    entries.sort_by_key(|entry| entry.seq);
    assert_eq!(
        types(&entries),
        [
            "key.create",
            "job.queue",
            "job.start",
            "job.end",
            "job.queue",
            "job.start",
            "job.queue",
            "job.start",
            "key.create",
            "key.revoke"
        ]
    );
    let end = &entries[3];
    let details = end.details.as_map();
    assert_eq!(details["jobInstanceId"], execution.id.to_string());
    assert_eq!(details["jobInstanceStatus"], "COMPLETED");
    assert_eq!(details["userId"], operator.id.to_string());
    assert_eq!(details["accountId"], account.to_string());
    assert!(details.contains_key("jobInstanceStartAt") && details.contains_key("jobInstanceEndAt"));
    assert_eq!(
        entries[5].details.as_map()["jobInstanceId"],
        claimed.id.to_string()
    );
    let external = entries[6].details.as_map();
    assert_eq!(external["actionOrigin"], "API");
    assert_eq!(external["jobKey"], "airflow");
    assert_eq!(entries[8].details.as_map()["keyId"], made.id.to_string());
    assert_eq!(
        entries[8].details.as_map()["userId"],
        operator.id.to_string()
    );
    assert!(
        !entries[0].details.as_map().contains_key("userId"),
        "made by the command line"
    );
    assert_eq!(entries[9].details.as_map()["keyId"], made.id.to_string());

    let verified = store.verify_audit(account, None).await.unwrap();
    assert_eq!(verified.checked, entries.len() as u64);
    assert_eq!(verified.broken, None);
}

pub async fn finds_stay_in_their_account(store: &dyn Store) {
    let acme = some_account(store, "acme").await;
    let initech = some_account(store, "initech").await;
    store
        .record_audit(
            acme,
            new_entry(
                "item.update",
                "2025-02-21T14:58:15Z",
                json!({"secret": "yes"}),
            ),
        )
        .await
        .unwrap();
    let query = FindQuery::parse(&json!({"type": "eq", "field": "details.secret", "value": "yes"}))
        .unwrap();
    let theirs = store
        .find_audit(initech, Some(query.clone()), page(0, 100))
        .await
        .unwrap();
    assert!(theirs.items.is_empty());
    let ours = store
        .find_audit(acme, Some(query), page(0, 100))
        .await
        .unwrap();
    assert_eq!(ours.items.len(), 1);
    assert!(
        everything(store, initech)
            .await
            .iter()
            .all(|entry| entry.account_id == initech)
    );
}

pub async fn chains_verify_per_account(store: &dyn Store) {
    let acme = some_account(store, "acme").await;
    let initech = some_account(store, "initech").await;
    for n in 0..25 {
        let account = if n % 3 == 0 { initech } else { acme };
        store
            .record_audit(
                account,
                new_entry("item.update", "2025-02-21T14:58:15Z", json!({"n": n})),
            )
            .await
            .unwrap();
    }
    for account in [acme, initech] {
        let verified = store.verify_audit(account, None).await.unwrap();
        assert_eq!(verified.broken, None);
        assert_eq!(
            verified.checked,
            everything(store, account).await.len() as u64
        );
    }
    let mut seqs: Vec<u64> = everything(store, acme)
        .await
        .iter()
        .map(|entry| entry.seq)
        .collect();
    seqs.sort();
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "each account numbers its own chain"
    );
    let accounts = store.accounts().await.unwrap();
    assert!(
        accounts
            .iter()
            .any(|(id, name)| *id == acme && name.as_str() == "acme")
    );
}

pub async fn anchors_hold_the_chain_to_its_past(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    for n in 0..4 {
        store
            .record_audit(
                account,
                new_entry("item.update", "2025-02-21T14:58:15Z", json!({"n": n})),
            )
            .await
            .unwrap();
    }
    let head = store.audit_head(account).await.unwrap();
    assert_eq!(head.entries, 5, "the key.create and four entries");
    let newest = everything(store, account).await;
    assert_eq!(
        head.last_id.as_ref(),
        newest
            .iter()
            .find(|entry| entry.seq == 4)
            .map(|entry| &entry.id)
    );
    let anchor = ChainAnchor {
        entries: head.entries,
        head: head.head,
    };
    store
        .record_audit(
            account,
            new_entry("item.update", "2025-02-21T14:58:16Z", json!({"n": 4})),
        )
        .await
        .unwrap();
    // The chain grew; it still passes through the anchor.
    let verified = store.verify_audit(account, Some(anchor)).await.unwrap();
    assert_eq!((verified.checked, verified.broken), (6, None));

    let wrong = ChainAnchor {
        entries: 3,
        head: ChainHash::from_bytes([9; 32]),
    };
    let broken = store
        .verify_audit(account, Some(wrong))
        .await
        .unwrap()
        .broken
        .unwrap();
    assert_eq!(broken.seq, 2);
    assert!(
        broken.reason.contains("no longer matches the digest"),
        "{}",
        broken.reason
    );

    let beyond = ChainAnchor {
        entries: 99,
        head: anchor.head,
    };
    let broken = store
        .verify_audit(account, Some(beyond))
        .await
        .unwrap()
        .broken
        .unwrap();
    assert!(
        broken
            .reason
            .contains("covers 99 entries but the chain now holds 6"),
        "{}",
        broken.reason
    );

    let empty = store
        .audit_head(some_account(store, "initech").await)
        .await
        .unwrap();
    assert_eq!(empty.entries, 1);
}
