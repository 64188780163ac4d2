//! The property test of the find language: on random entries and random queries, the store
//! answers exactly what the core evaluator says, in the same order, page by page.

use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, NewAuditEntry};
use pipelog_core::find_query::{FindQuery, newest_first};
use pipelog_core::ids::Label;
use pipelog_core::time::UtcTime;
use pipelog_store::Store;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use super::audit::page;
use super::some_account;

const WORDS: &[&str] = &[
    "SUCCESS", "success", "Failed", "4201", "42", "007", "1e2", "rose vif", "ROSE", "été", "ÉTÉ",
    "", "a.b", "zz",
];
const NUMBERS: &[f64] = &[0.0, 7.0, 42.0, 100.0, 4201.0, -1.5];
const KEYS: &[&str] = &[
    "status",
    "accountId",
    "count",
    "tags",
    "nested",
    "flag",
    "note",
];
const FIELDS: &[&str] = &[
    "id",
    "timeGenerated",
    "createdAt",
    "entityType",
    "type",
    "version",
    "details.status",
    "details.accountId",
    "details.count",
    "details.tags",
    "details.nested",
    "details.nested.k",
    "details.flag",
    "details.note",
    "details.missing",
];
const OPERATORS: &[&str] = &[
    "eq",
    "notEq",
    "in",
    "notIn",
    "search",
    "startsWith",
    "greater",
    "greaterOrEqual",
    "less",
    "lessOrEqual",
    "exists",
];
/// A few instants, so that times tie.
const SECONDS: &[i64] = &[1_740_000_000, 1_740_000_001, 1_740_000_002, 1_740_000_060];

fn instant(index: usize) -> String {
    UtcTime::from_unix_millis(SECONDS[index % SECONDS.len()] * 1000)
        .unwrap()
        .to_string()
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(|word| json!(word)),
        2 => prop::sample::select(NUMBERS).prop_map(|number| json!(number)),
        1 => any::<bool>().prop_map(|flag| json!(flag)),
        1 => Just(Value::Null),
    ]
}

fn detail_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        5 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
        1 => scalar().prop_map(|inner| json!({"k": inner})),
    ]
}

fn details() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop::sample::select(KEYS), detail_value(), 0..5).prop_map(|map| {
        map.into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    })
}

/// An entry: its id, time index, entity type, type, version and details.
type Generated = (
    Option<usize>,
    usize,
    &'static str,
    &'static str,
    &'static str,
    Map<String, Value>,
);

fn entries() -> impl Strategy<Value = Vec<Generated>> {
    prop::collection::vec(
        (
            prop::option::of(0..1000_usize),
            0..SECONDS.len(),
            prop::sample::select(&["item", "Item", "job", "ÉTÉ"][..]),
            prop::sample::select(&["item.update", "job.queue", "job.end", "Job.End"][..]),
            prop::sample::select(&["1", "2", "10"][..]),
            details(),
        ),
        1..30,
    )
}

fn test_value(field: &'static str, operator: &'static str) -> BoxedStrategy<Value> {
    let time = field == "timeGenerated" || field == "createdAt";
    let one: BoxedStrategy<Value> = if time {
        (0..SECONDS.len() + 1)
            .prop_map(|index| json!(instant(index)))
            .boxed()
    } else {
        scalar().boxed()
    };
    match operator {
        "in" | "notIn" => prop::collection::vec(one, 0..4)
            .prop_map(Value::Array)
            .boxed(),
        "exists" => any::<bool>().prop_map(|flag| json!(flag)).boxed(),
        "search" | "startsWith" => {
            prop::sample::select(&["", "ro", "SUC", "été", "4", "a.", "x"][..])
                .prop_map(|text| json!(text))
                .boxed()
        }
        "greater" | "greaterOrEqual" | "less" | "lessOrEqual" if !time => prop_oneof![
            prop::sample::select(WORDS).prop_map(|word| json!(word)),
            prop::sample::select(NUMBERS).prop_map(|number| json!(number)),
        ]
        .boxed(),
        _ => one,
    }
}

fn test() -> impl Strategy<Value = Value> {
    (prop::sample::select(FIELDS), prop::sample::select(OPERATORS), any::<bool>())
        .prop_filter("timeGenerated takes no text operators", |(field, operator, _)| {
            !(matches!(*field, "timeGenerated" | "createdAt") && matches!(*operator, "search" | "startsWith"))
        })
        .prop_flat_map(|(field, operator, case_sensitive)| {
            test_value(field, operator).prop_map(move |value| {
                json!({"type": operator, "field": field, "value": value, "caseSensitive": case_sensitive})
            })
        })
}

fn query() -> impl Strategy<Value = Value> {
    test().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|queries| json!({"type": "and", "queries": queries})),
            prop::collection::vec(inner.clone(), 1..4)
                .prop_map(|queries| json!({"type": "or", "queries": queries})),
            inner.prop_map(|query| json!({"type": "not", "queries": [query]})),
        ]
    })
}

pub async fn finds_agree_with_the_evaluator(store: &dyn Store) {
    let handle = tokio::runtime::Handle::current();
    // PROPTEST_CASES raises the count for a deeper run.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case_number = std::sync::atomic::AtomicU32::new(0);
    let strategy = (entries(), prop::collection::vec(query(), 1..8));
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&strategy, |(generated, queries)| {
            let case = case_number.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            handle.block_on(check_case(store, case, generated, queries))
        })
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

async fn check_case(
    store: &dyn Store,
    case: u32,
    generated: Vec<Generated>,
    queries: Vec<Value>,
) -> Result<(), TestCaseError> {
    // Each case gets an account of its own in the one store.
    let account = some_account(store, &format!("model-{case}")).await;
    // The account's own key.create is part of what finds search.
    let mut recorded: Vec<AuditEntry> = store
        .find_audit(account, None, page(0, 1000))
        .await
        .map_err(|error| TestCaseError::fail(error.to_string()))?
        .items;
    for (id, time, entity_type, event_type, version, details) in generated {
        let entry = NewAuditEntry {
            id: id.map(|n| AuditId::parse(&format!("id-{n}")).unwrap()),
            time_generated: Some(UtcTime::parse(&instant(time)).unwrap()),
            entity_type: Label::parse(entity_type).unwrap(),
            event_type: Label::parse(event_type).unwrap(),
            version: Label::parse(version).unwrap(),
            details: AuditDetails::new(details).unwrap(),
        };
        match store.record_audit(account, entry).await {
            Ok(result) if result.created => recorded.push(result.entry),
            // A repeated client id: a retry or a conflict, nothing new either way.
            Ok(_) | Err(pipelog_store::StoreError::Conflict(_)) => {}
            Err(error) => return Err(TestCaseError::fail(error.to_string())),
        }
    }
    recorded.sort_by(newest_first);
    for raw in queries {
        let query = FindQuery::parse(&raw)
            .map_err(|error| TestCaseError::fail(format!("{raw}: {error}")))?;
        let expected: Vec<&str> = recorded
            .iter()
            .filter(|entry| query.matches(entry))
            .map(|entry| entry.id.as_str())
            .collect();
        let found = store
            .find_audit(account, Some(query.clone()), page(0, 1000))
            .await
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        let found_ids: Vec<&str> = found.items.iter().map(|entry| entry.id.as_str()).collect();
        prop_assert_eq!(&found_ids, &expected, "query {}", raw);
        // The same, three at a time.
        let mut paged = Vec::new();
        for number in 0.. {
            let page = store
                .find_audit(account, Some(query.clone()), page(number, 3))
                .await
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            paged.extend(
                page.items
                    .into_iter()
                    .map(|entry| entry.id.as_str().to_owned()),
            );
            if !page.has_more {
                break;
            }
        }
        prop_assert_eq!(&paged, &expected, "paged, query {}", raw);
    }
    Ok(())
}
