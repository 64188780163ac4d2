//! Fuzzes the compact find expressions (`pipelog_core::find_query::compact`): text that is
//! UTF-8 compiles to the find language's JSON or to an error placed inside it, never a
//! panic. The JSON parses with `FindQuery::parse` exactly when it is within the language's
//! bounds (depth, nodes, list, text), `compact::parse` agrees and places a refusal too, and
//! `not (...)` around an expression compiles to `not` of its JSON and inverts its answer.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, ChainHash};
use pipelog_core::find_query::compact::{self, CompactError, Problem};
use pipelog_core::find_query::{FindQuery, MAX_DEPTH, MAX_LIST, MAX_NODES, MAX_TEXT};
use pipelog_core::ids::{AccountId, Label};
use pipelog_core::time::UtcTime;
use serde_json::{Value, json};

/// A job's end, with details of every JSON kind.
static ENTRY: LazyLock<AuditEntry> = LazyLock::new(|| {
    let details = json!({
        "accountId": "4201",
        "jobInstanceStatus": "FAILED",
        "jobKey": "nightly-import",
        "jobInstanceEndAt": "2026-11-03T08:00:00.000Z",
        "retries": 2,
        "ratio": 0.75,
        "dryRun": false,
        "note": null,
        "tags": ["etl", "Prod", 7, {"deep": ["ÉTÉ", -1.5e3]}],
        "name": "Straße İstanbul ǅ",
        "updated by": "Ann",
        "nested": {"a": {"b": {"c": "007"}}}
    });
    let Value::Object(details) = details else {
        unreachable!("the details are an object")
    };
    AuditEntry {
        id: AuditId::parse("0193a5b2-7c1e-7d3a-9f0e-1b2c3d4e5f60").expect("a valid id"),
        account_id: AccountId::new(1),
        seq: 0,
        time_generated: UtcTime::parse("2026-11-03T08:00:00Z").expect("a valid time"),
        recorded_at: UtcTime::parse("2026-11-03T08:00:00.010Z").expect("a valid time"),
        entity_type: Label::parse("job").expect("a valid label"),
        event_type: Label::parse("job.end").expect("a valid label"),
        version: Label::parse("1").expect("a valid label"),
        details: AuditDetails::new(details).expect("valid details"),
        hash: ChainHash::GENESIS,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let compiled = compact::compile(text);
    let parsed = compact::parse(text);
    let dsl = match compiled {
        Ok(dsl) => dsl,
        Err(error) => {
            check_place(text, &error);
            assert_eq!(parsed.err(), Some(error), "compile and parse disagree");
            return;
        }
    };
    let over = over_bounds(&dsl);
    let query = match (FindQuery::parse(&dsl), parsed) {
        (Ok(query), Ok(compact_query)) => {
            assert!(!over, "a query over the bounds parsed: {dsl}");
            assert_eq!(query, compact_query, "compact::parse made another query");
            query
        }
        (Err(refusal), Err(error)) => {
            assert!(over, "the compiled JSON is refused: {refusal}: {dsl}");
            assert!(
                matches!(error.problem, Problem::Bound(_)),
                "a refusal reported as {error}"
            );
            check_place(text, &error);
            return;
        }
        (direct, compact) => panic!(
            "FindQuery::parse gives {:?} but compact::parse {:?}",
            direct.map(|_| ()),
            compact.map(|_| ())
        ),
    };
    let matched = query.matches(&ENTRY);
    // Within the bounds, `not (...)` is `not` of the same JSON and inverts the answer.
    if let Ok(negated) = compact::compile(&format!("not ({text})")) {
        assert_eq!(
            negated,
            json!({"type": "not", "queries": [dsl]}),
            "not (...) compiles to something else"
        );
        if let Ok(negated) = FindQuery::parse(&negated) {
            assert_eq!(
                negated.matches(&ENTRY),
                !matched,
                "not must invert the answer"
            );
        }
    }
});

/// An error's place is in the expression, and its column is that place in characters.
fn check_place(text: &str, error: &CompactError) {
    assert!(
        error.offset <= text.len() && text.is_char_boundary(error.offset),
        "offset {} in {} bytes",
        error.offset,
        text.len()
    );
    assert_eq!(
        error.column,
        text[..error.offset].chars().count() + 1,
        "column and offset disagree"
    );
    let _ = error.to_string();
}

/// Whether the JSON is over one of the find language's bounds.
fn over_bounds(dsl: &Value) -> bool {
    let (depth, nodes, over) = measure(dsl);
    depth > MAX_DEPTH || nodes > MAX_NODES || over
}

/// A node's depth, its node count, and whether a list or a text in it is too long.
fn measure(node: &Value) -> (usize, usize, bool) {
    if let Some(queries) = node.get("queries").and_then(Value::as_array) {
        let mut depth = 0;
        let mut nodes = 1;
        let mut over = false;
        for query in queries {
            let (query_depth, query_nodes, query_over) = measure(query);
            depth = depth.max(query_depth);
            nodes += query_nodes;
            over |= query_over;
        }
        return (depth + 1, nodes, over);
    }
    let long = |value: &Value| value.as_str().is_some_and(|text| text.len() > MAX_TEXT);
    let value = &node["value"];
    let over = long(&node["field"])
        || long(value)
        || value
            .as_array()
            .is_some_and(|items| items.len() > MAX_LIST || items.iter().any(long));
    (1, 1, over)
}
