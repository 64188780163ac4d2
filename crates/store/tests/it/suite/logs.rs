//! Execution log lines.

use futures_util::future::join_all;
use pipelog_core::execution::{ActionOrigin, ExecutionStatus, FinalStatus};
use pipelog_core::ids::{Cid, JobKey, Label};
use pipelog_core::log_entry::{
    LogAttributes, LogEntry, LogLine, LogMessage, MessageType, Severity,
};
use pipelog_core::paging::{SeveritySet, SortOrder, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::{LogTarget, Store, StoreError};

use super::{launch_request, query, read_all, some_account};

fn line(message: &str, severity: Severity) -> LogLine {
    LogLine {
        severity,
        ..LogLine::info(LogMessage::new(message.to_owned()).unwrap())
    }
}

fn messages(entries: &[LogEntry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| entry.line.message.as_str().to_owned())
        .collect()
}

pub async fn append_numbers_lines_without_gaps(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let target = LogTarget::Execution(execution.id);

    let detailed = LogLine {
        message: LogMessage::new("**done**".into()).unwrap(),
        severity: Severity::Warning,
        message_type: MessageType::Markdown,
        emitter_name: Some(Label::parse("My import job").unwrap()),
        event_correlation_id: Some(Label::parse("evt-123").unwrap()),
        timestamp: Some(UtcTime::parse("2026-04-07T10:30:00.123Z").unwrap()),
        attributes: LogAttributes::new(
            serde_json::json!({"http.status": 200, "rows": [1, 2], "table": "orders"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap(),
        client_id: Some(Label::parse("line-1").unwrap()),
    };
    let first = store
        .append_logs(
            account,
            target.clone(),
            vec![
                line("a", Severity::Info),
                line("b", Severity::Info),
                detailed.clone(),
            ],
        )
        .await
        .unwrap();
    assert_eq!((first.first_seq, first.count), (0, 3));
    assert_eq!(first.execution_id, execution.id);
    assert_eq!(first.cid, execution.cid);
    let second = store
        .append_logs(
            account,
            target,
            vec![line("d", Severity::Error), line("e", Severity::Debug)],
        )
        .await
        .unwrap();
    assert_eq!((second.first_seq, second.count), (3, 2));
    assert!(second.created_at >= first.created_at);

    let lines = read_all(store, account, execution.id).await;
    assert_eq!(
        lines.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(messages(&lines), ["a", "b", "**done**", "d", "e"]);
    assert_eq!(lines[2].line, detailed, "every field comes back as written");
    assert_eq!(lines[2].created_at, first.created_at);
    assert_eq!(lines[2].execution_id, execution.id);
    assert_eq!(
        store
            .execution(account, execution.id)
            .await
            .unwrap()
            .next_seq,
        5
    );
}

/// A batch as large as bulk ingest sends (on PostgreSQL, past the size where lines go in by
/// COPY rather than INSERT) keeps every field of every line, and its resent client ids.
pub async fn large_batches_keep_every_field_and_client_id(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let target = LogTarget::Execution(execution.id);
    let severities = [
        Severity::Debug,
        Severity::Info,
        Severity::Warning,
        Severity::Error,
    ];
    let written: Vec<LogLine> = (0..3000)
        .map(|n| LogLine {
            message: LogMessage::new(format!("line {n}: ünïcödé, tabs\tand \"quotes\"")).unwrap(),
            severity: severities[n % severities.len()],
            message_type: if n % 3 == 0 {
                MessageType::Markdown
            } else {
                MessageType::Default
            },
            emitter_name: (n % 2 == 0).then(|| Label::parse(&format!("emitter {n}")).unwrap()),
            event_correlation_id: (n % 5 == 0).then(|| Label::parse("evt").unwrap()),
            timestamp: (n % 7 == 0)
                .then(|| UtcTime::from_unix_millis(1_700_000_000_000 + n as i64).unwrap()),
            attributes: if n % 4 == 0 {
                LogAttributes::new(
                    serde_json::json!({"n": n, "even": n % 2 == 0})
                        .as_object()
                        .unwrap()
                        .clone(),
                )
                .unwrap()
            } else {
                None
            },
            client_id: (n % 10 == 0).then(|| Label::parse(&format!("id-{n}")).unwrap()),
        })
        .collect();
    let first = store
        .append_logs(account, target.clone(), written.clone())
        .await
        .unwrap();
    assert_eq!(
        (first.first_seq, first.count, first.duplicates),
        (0, 3000, 0)
    );

    // The same 3,000 again: the 300 with a client id are left out, the others appended.
    let again = store
        .append_logs(account, target, written.clone())
        .await
        .unwrap();
    assert_eq!(
        (again.first_seq, again.count, again.duplicates),
        (3000, 2700, 300)
    );

    let stored = read_all(store, account, execution.id).await;
    assert_eq!(stored.len(), 5700);
    for (entry, line) in stored.iter().zip(&written) {
        assert_eq!(
            &entry.line, line,
            "line {} comes back as written",
            entry.seq
        );
        assert_eq!(entry.created_at, first.created_at);
    }
    let resent: Vec<&LogLine> = written
        .iter()
        .filter(|line| line.client_id.is_none())
        .collect();
    for (entry, line) in stored[3000..].iter().zip(resent) {
        assert_eq!(
            &entry.line, line,
            "line {} comes back as written",
            entry.seq
        );
    }
}

/// A line whose client id the execution holds (or an earlier line of its batch has) is
/// left out, and numbering goes on without a gap; ids are per execution.
pub async fn resent_lines_with_a_client_id_are_written_once(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let launch = || store.launch_execution(account, launch_request("job"));
    let (one, other) = (launch().await.unwrap(), launch().await.unwrap());
    let with_id = |message: &str, id: &str| LogLine {
        client_id: Some(Label::parse(id).unwrap()),
        ..line(message, Severity::Info)
    };
    let first = store
        .append_logs(
            account,
            LogTarget::Execution(one.id),
            vec![
                with_id("a", "1"),
                line("plain", Severity::Info),
                with_id("b", "2"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((first.first_seq, first.count, first.duplicates), (0, 3, 0));
    // Resent after a failure, re-batched, with a repeat inside the batch.
    let resent = store
        .append_logs(
            account,
            LogTarget::Execution(one.id),
            vec![
                with_id("b", "2"),
                with_id("c", "3"),
                with_id("c again", "3"),
                line("plain", Severity::Info),
                with_id("a", "1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (resent.first_seq, resent.count, resent.duplicates),
        (3, 2, 3)
    );
    let lines = read_all(store, account, one.id).await;
    assert_eq!(messages(&lines), ["a", "plain", "b", "c", "plain"]);
    assert_eq!(
        lines.iter().map(|entry| entry.seq).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    // Another execution's ids are its own.
    let elsewhere = store
        .append_logs(
            account,
            LogTarget::Execution(other.id),
            vec![with_id("a", "1")],
        )
        .await
        .unwrap();
    assert_eq!((elsewhere.count, elsewhere.duplicates), (1, 0));
}

pub async fn pages_in_both_orders_with_cursor(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let lines: Vec<_> = (0..25)
        .map(|n| line(&n.to_string(), Severity::Info))
        .collect();
    store
        .append_logs(account, LogTarget::Execution(execution.id), lines)
        .await
        .unwrap();

    for (order, expected) in [
        (SortOrder::Asc, (0..25).collect::<Vec<u64>>()),
        (SortOrder::Desc, (0..25).rev().collect()),
    ] {
        let mut query = query(order, 10);
        let mut seqs = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let page = store
                .read_logs(account, execution.id, query.clone())
                .await
                .unwrap()
                .entries;
            sizes.push(page.items.len());
            query.resume_after = page.items.last().map(|entry| entry.seq);
            seqs.extend(page.items.iter().map(|entry| entry.seq));
            if !page.has_more {
                break;
            }
        }
        assert_eq!(seqs, expected, "{order}");
        assert_eq!(sizes, [10, 10, 5], "{order}");
    }

    let mut past_the_end = query(SortOrder::Asc, 10);
    past_the_end.resume_after = Some(24);
    let page = store
        .read_logs(account, execution.id, past_the_end)
        .await
        .unwrap()
        .entries;
    assert!(page.items.is_empty() && !page.has_more);
    let mut before_the_start = query(SortOrder::Desc, 10);
    before_the_start.resume_after = Some(0);
    let page = store
        .read_logs(account, execution.id, before_the_start)
        .await
        .unwrap()
        .entries;
    assert!(page.items.is_empty() && !page.has_more);
}

pub async fn severity_and_time_filters(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let target = LogTarget::Execution(execution.id);
    let severities = [
        Severity::Info,
        Severity::Warning,
        Severity::Debug,
        Severity::Error,
    ];
    for batch in 0..4 {
        let lines = (0..6)
            .map(|n| line(&format!("{batch}.{n}"), severities[(batch + n) % 4]))
            .collect();
        store
            .append_logs(account, target.clone(), lines)
            .await
            .unwrap();
    }
    let everything = read_all(store, account, execution.id).await;
    assert_eq!(everything.len(), 24);

    // Severity, in both orders and across pages.
    let problems = SeveritySet::at_least(Severity::Warning);
    for order in [SortOrder::Asc, SortOrder::Desc] {
        let mut query = query(order, 4);
        query.severities = problems;
        let mut found = Vec::new();
        loop {
            let page = store
                .read_logs(account, execution.id, query.clone())
                .await
                .unwrap()
                .entries;
            query.resume_after = page.items.last().map(|entry| entry.seq);
            found.extend(page.items);
            if !page.has_more {
                break;
            }
        }
        let mut expected: Vec<_> = everything
            .iter()
            .filter(|entry| problems.contains(entry.line.severity))
            .cloned()
            .collect();
        if order == SortOrder::Desc {
            expected.reverse();
        }
        assert_eq!(found, expected, "{order}");
    }

    // Time, at every instant a line was written and around them, against the model.
    let mut instants: Vec<i64> = everything
        .iter()
        .flat_map(|entry| {
            let at = entry.created_at.unix_millis();
            [at - 1, at, at + 1]
        })
        .collect();
    instants.sort();
    instants.dedup();
    for at in instants {
        let instant = UtcTime::from_unix_millis(at).unwrap();
        for range in [
            TimeRange {
                from: Some(instant),
                to: None,
            },
            TimeRange {
                from: None,
                to: Some(instant),
            },
        ] {
            let mut query = query(SortOrder::Asc, 1000);
            query.created = range;
            let page = store
                .read_logs(account, execution.id, query)
                .await
                .unwrap()
                .entries;
            let expected: Vec<_> = everything
                .iter()
                .filter(|entry| range.contains(entry.created_at))
                .cloned()
                .collect();
            assert_eq!(page.items, expected, "{range:?}");
        }
    }
}

pub async fn cid_target_creates_a_running_execution_once(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let cid = Cid::parse("airflow:dag_run:2026-11-22").unwrap();
    let target = LogTarget::Cid {
        cid: cid.clone(),
        job_if_new: JobKey::parse("My import job").unwrap(),
        launched_by: None,
    };
    let first = store
        .append_logs(account, target, vec![line("one", Severity::Info)])
        .await
        .unwrap();
    assert_eq!(first.cid, cid);
    assert_eq!(first.first_seq, 0);

    let execution = store.execution(account, first.execution_id).await.unwrap();
    assert_eq!(execution.status, ExecutionStatus::Running);
    assert_eq!(execution.action_origin, ActionOrigin::Api);
    assert_eq!(execution.job.key.as_str(), "My import job");
    assert_eq!(execution.input["eventCorrelationId"], cid.as_str());
    assert!(execution.started_at.is_some());

    let again = LogTarget::Cid {
        cid: cid.clone(),
        job_if_new: JobKey::parse("another emitter").unwrap(),
        launched_by: None,
    };
    let second = store
        .append_logs(account, again, vec![line("two", Severity::Info)])
        .await
        .unwrap();
    assert_eq!(
        second.execution_id, first.execution_id,
        "one execution per cid"
    );
    assert_eq!(second.first_seq, 1);
    let execution = store.execution(account, first.execution_id).await.unwrap();
    assert_eq!(execution.job.key.as_str(), "My import job");

    // A launched execution's cid leads to it.
    let launched = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let by_cid = LogTarget::Cid {
        cid: launched.cid.clone(),
        job_if_new: JobKey::parse("unused").unwrap(),
        launched_by: None,
    };
    let appended = store
        .append_logs(account, by_cid, vec![line("hello", Severity::Info)])
        .await
        .unwrap();
    assert_eq!(appended.execution_id, launched.id);
}

pub async fn ended_execution_takes_no_lines(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    store
        .append_logs(
            account,
            LogTarget::Execution(execution.id),
            vec![line("before", Severity::Info)],
        )
        .await
        .unwrap();
    store
        .end_execution(account, execution.id, FinalStatus::Completed)
        .await
        .unwrap();

    for target in [
        LogTarget::Execution(execution.id),
        LogTarget::Cid {
            cid: execution.cid.clone(),
            job_if_new: JobKey::parse("job").unwrap(),
            launched_by: None,
        },
    ] {
        let refused = store
            .append_logs(
                account,
                target,
                vec![line("after", Severity::Info), line("more", Severity::Info)],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, StoreError::Conflict(message) if message.contains("COMPLETED")),
            "{refused:?}"
        );
    }
    let lines = read_all(store, account, execution.id).await;
    assert_eq!(
        messages(&lines),
        ["before"],
        "nothing of a refused batch is written"
    );
}

pub async fn concurrent_appends_commit_in_groups_without_gaps(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let mut executions = Vec::new();
    for _ in 0..4 {
        executions.push(
            store
                .launch_execution(account, launch_request("job"))
                .await
                .unwrap()
                .id,
        );
    }
    let appends = (0..200).map(|n| {
        let target = LogTarget::Execution(executions[n % 4]);
        let lines = (0..(1 + n % 3))
            .map(|k| line(&format!("{n}.{k}"), Severity::Info))
            .collect();
        store.append_logs(account, target, lines)
    });
    let results = join_all(appends).await;
    for result in &results {
        result.as_ref().unwrap();
    }

    for (index, id) in executions.iter().enumerate() {
        let lines = read_all(store, account, *id).await;
        let seqs: Vec<u64> = lines.iter().map(|entry| entry.seq).collect();
        assert_eq!(
            seqs,
            (0..lines.len() as u64).collect::<Vec<_>>(),
            "no gap, no repeat"
        );
        let mut written: Vec<String> = (0..200)
            .filter(|n| n % 4 == index)
            .flat_map(|n| (0..(1 + n % 3)).map(move |k| format!("{n}.{k}")))
            .collect();
        let mut found = messages(&lines);
        written.sort();
        found.sort();
        assert_eq!(found, written, "every acknowledged line, once");
        // Each batch landed as one contiguous run.
        for result in results
            .iter()
            .flatten()
            .filter(|appended| appended.execution_id == *id)
        {
            let run = &lines[result.first_seq as usize..(result.first_seq + result.count) as usize];
            let batch = run[0]
                .line
                .message
                .as_str()
                .split('.')
                .next()
                .unwrap()
                .to_owned();
            assert!(run.iter().all(|entry| {
                entry
                    .line
                    .message
                    .as_str()
                    .starts_with(&format!("{batch}."))
            }));
        }
    }
}

pub async fn another_account_cannot_read_or_append(store: &dyn Store) {
    let acme = some_account(store, "acme").await;
    let initech = some_account(store, "initech").await;
    let execution = store
        .launch_execution(acme, launch_request("job"))
        .await
        .unwrap();
    store
        .append_logs(
            acme,
            LogTarget::Execution(execution.id),
            vec![line("secret", Severity::Info)],
        )
        .await
        .unwrap();

    let not_found = StoreError::NotFound { what: "execution" };
    assert_eq!(
        store
            .read_logs(initech, execution.id, query(SortOrder::Asc, 10))
            .await
            .unwrap_err(),
        not_found
    );
    assert_eq!(
        store
            .append_logs(
                initech,
                LogTarget::Execution(execution.id),
                vec![line("x", Severity::Info)]
            )
            .await
            .unwrap_err(),
        not_found
    );
    // The same cid string in another account is another execution altogether.
    let theirs = store
        .append_logs(
            initech,
            LogTarget::Cid {
                cid: execution.cid.clone(),
                job_if_new: JobKey::parse("job").unwrap(),
                launched_by: None,
            },
            vec![line("mine", Severity::Info)],
        )
        .await
        .unwrap();
    assert_ne!(theirs.execution_id, execution.id);
    assert_eq!(
        messages(&read_all(store, acme, execution.id).await),
        ["secret"]
    );
}

pub async fn deleting_hides_lines_at_once_and_numbering_goes_on(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let target = LogTarget::Execution(execution.id);
    let lines = (0..10)
        .map(|n| line(&n.to_string(), Severity::Info))
        .collect();
    store
        .append_logs(account, target.clone(), lines)
        .await
        .unwrap();
    let mut changes = store.execution_changes(execution.id);
    changes.borrow_and_update();

    let deleted = store
        .delete_logs(account, execution.id, None)
        .await
        .unwrap();
    assert_eq!(deleted.deleted, 10);
    assert_eq!(deleted.execution.stored_lines(), 0);
    assert!(
        changes.has_changed().unwrap(),
        "followers hear of the deletion"
    );
    assert!(read_all(store, account, execution.id).await.is_empty());
    let again = store
        .delete_logs(account, execution.id, None)
        .await
        .unwrap();
    assert_eq!(again.deleted, 0, "deleting nothing is fine");

    let later = store
        .append_logs(account, target, vec![line("after", Severity::Info)])
        .await
        .unwrap();
    assert_eq!(later.first_seq, 10, "seq numbers are never reused");
    assert_eq!(
        messages(&read_all(store, account, execution.id).await),
        ["after"]
    );

    // The rows go in batches; the lines readers see do not change meanwhile.
    let mut removed = 0;
    while let Some(batch) = store.purge_deleted_logs(4).await.unwrap() {
        assert!(batch <= 4);
        removed += batch;
    }
    assert_eq!(removed, 10);
    assert_eq!(
        messages(&read_all(store, account, execution.id).await),
        ["after"]
    );

    let audit = store
        .find_audit(
            account,
            Some(
                pipelog_core::find_query::FindQuery::parse(&serde_json::json!(
                    {"type": "eq", "field": "type", "value": "execution_logs.delete"}
                ))
                .unwrap(),
            ),
            super::audit::page(0, 10),
        )
        .await
        .unwrap();
    let deleted_lines: Vec<&serde_json::Value> = audit
        .items
        .iter()
        .map(|entry| &entry.details.as_map()["deletedLines"])
        .collect();
    assert_eq!(
        deleted_lines,
        [&serde_json::json!(0), &serde_json::json!(10)]
    );
}

pub async fn skip_counts_positions_and_selected_counts_the_time_range(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let lines = (0..20)
        .map(|n| line(&n.to_string(), Severity::Info))
        .collect();
    let appended = store
        .append_logs(account, LogTarget::Execution(execution.id), lines)
        .await
        .unwrap();
    for (order, skip, first) in [
        (SortOrder::Asc, 5, 5),
        (SortOrder::Desc, 5, 14),
        (SortOrder::Asc, 19, 19),
    ] {
        let mut query = query(order, 3);
        query.skip = skip;
        let page = store.read_logs(account, execution.id, query).await.unwrap();
        assert_eq!(page.selected, 20);
        assert_eq!(page.execution.stored_lines(), 20);
        assert_eq!(page.entries.items[0].seq, first, "{order} skip {skip}");
    }
    let mut beyond = query(SortOrder::Asc, 3);
    beyond.skip = 20;
    assert!(
        store
            .read_logs(account, execution.id, beyond)
            .await
            .unwrap()
            .entries
            .items
            .is_empty()
    );

    let mut later = query(SortOrder::Asc, 3);
    later.created = TimeRange {
        from: Some(UtcTime::from_unix_millis(appended.created_at.unix_millis() + 1).unwrap()),
        to: None,
    };
    assert_eq!(
        store
            .read_logs(account, execution.id, later)
            .await
            .unwrap()
            .selected,
        0
    );

    let run = store
        .read_log_run(account, execution.id, 18..100, 10)
        .await
        .unwrap();
    assert_eq!(
        run.entries
            .iter()
            .map(|entry| entry.seq)
            .collect::<Vec<_>>(),
        [18, 19]
    );
}

pub async fn retention_expires_old_lines_as_a_prefix(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let other = some_account(store, "initech").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let theirs = store
        .launch_execution(other, launch_request("job"))
        .await
        .unwrap();
    for (owner, id) in [(account, execution.id), (other, theirs.id)] {
        let lines = (0..5)
            .map(|n| line(&n.to_string(), Severity::Info))
            .collect();
        store
            .append_logs(owner, LogTarget::Execution(id), lines)
            .await
            .unwrap();
    }
    assert_eq!(store.log_retention(account).await.unwrap(), None);
    assert_eq!(
        store
            .set_log_retention(account, Some(7), None)
            .await
            .unwrap(),
        Some(7)
    );
    assert_eq!(store.log_retention(account).await.unwrap(), Some(7));

    let now = UtcTime::now();
    assert_eq!(
        store.expire_logs(None, now).await.unwrap(),
        0,
        "nothing is a week old yet"
    );
    let in_eight_days = UtcTime::from_unix_millis(now.unix_millis() + 8 * 86_400_000).unwrap();
    assert_eq!(store.expire_logs(None, in_eight_days).await.unwrap(), 5);
    assert!(read_all(store, account, execution.id).await.is_empty());
    assert_eq!(
        read_all(store, other, theirs.id).await.len(),
        5,
        "initech keeps its logs"
    );
    assert_eq!(
        store.expire_logs(Some(1), in_eight_days).await.unwrap(),
        5,
        "the default applies to the rest"
    );
    assert!(read_all(store, other, theirs.id).await.is_empty());

    // New lines after expiry number on and are kept.
    let later = store
        .append_logs(
            account,
            LogTarget::Execution(execution.id),
            vec![line("new", Severity::Info)],
        )
        .await
        .unwrap();
    assert_eq!(later.first_seq, 5);
    assert_eq!(store.expire_logs(None, now).await.unwrap(), 0);
    let changes = store
        .find_audit(account, None, super::audit::page(0, 100))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|entry| entry.event_type.as_str() == "retention.update")
        .count();
    assert_eq!(changes, 1);
}

pub async fn followers_hear_of_appends_and_ends(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let execution = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let mut changes = store.execution_changes(execution.id);
    let mut other = store.execution_changes(execution.id);
    changes.borrow_and_update();
    other.borrow_and_update();
    store
        .append_logs(
            account,
            LogTarget::Execution(execution.id),
            vec![line("x", Severity::Info)],
        )
        .await
        .unwrap();
    assert!(changes.has_changed().unwrap());
    changes.borrow_and_update();
    store
        .end_execution(
            account,
            execution.id,
            pipelog_core::execution::FinalStatus::Completed,
        )
        .await
        .unwrap();
    assert!(changes.has_changed().unwrap());
    assert!(other.has_changed().unwrap(), "every follower hears it");
}

pub async fn a_failing_batch_leaves_the_others_written(store: &dyn Store) {
    let account = some_account(store, "acme").await;
    let open = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    let ended = store
        .launch_execution(account, launch_request("job"))
        .await
        .unwrap();
    store.start_execution(account, ended.id).await.unwrap();
    store
        .end_execution(account, ended.id, FinalStatus::Completed)
        .await
        .unwrap();
    let outcomes = store
        .append_log_batches(
            account,
            vec![
                (
                    LogTarget::Execution(open.id),
                    vec![line("a", Severity::Info), line("b", Severity::Info)],
                ),
                (
                    LogTarget::Execution(ended.id),
                    vec![line("late", Severity::Info)],
                ),
                (
                    LogTarget::Execution(open.id),
                    vec![line("c", Severity::Error)],
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0].as_ref().unwrap().first_seq, 0);
    assert!(
        matches!(outcomes[1], Err(StoreError::Conflict(_))),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(outcomes[2].as_ref().unwrap().first_seq, 2);
    let lines = read_all(store, account, open.id).await;
    assert_eq!(messages(&lines), ["a", "b", "c"]);
    assert!(read_all(store, account, ended.id).await.is_empty());
}
