//! Fuzzes the audit find language (`pipelog_core::find_query`): bytes that are JSON become
//! a `FindQuery` or a `FindError`, never a panic; a query that parses stays within the
//! documented bounds (depth, nodes, list, text and field path sizes), and the evaluator runs it on a
//! fixed entry, agreeing with its own negation.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pipelog_core::audit::{AuditDetails, AuditEntry, AuditId, ChainHash};
use pipelog_core::find_query::{
    Field, FindQuery, MAX_DEPTH, MAX_LIST, MAX_NODES, MAX_TEXT, Node, Operator, Scalar,
};
use pipelog_core::ids::{AccountId, Label};
use pipelog_core::time::UtcTime;
use serde_json::{Value, json};

/// Seed 001's example entry, with details of every JSON kind beside the seed's strings.
static ENTRY: LazyLock<AuditEntry> = LazyLock::new(|| {
    let details = json!({
        "accountId": "4201",
        "userId": "3",
        "itemId": "6588231",
        "status": "SUCCESS",
        "actionOrigin": "DF_TABLE_IMPORT_ITEMS",
        "updatedFieldList": {"LIBCOLMODFR": "ROSE VIF", "COLLECTION_THEME": "2036", "COLOR_CODE": "1079"},
        "triggeredBy": "USER",
        "issuedAt": "2025-02-21T14:41:21.7820000Z",
        "tableId": "1467",
        "contextId": "4201",
        "jobId": "674f4c6b796b6a7e699ad916",
        "cid": "FSVVJs7sxm6zHif1RbDRKuxJhWzaPaL8TM4EwfcFJkU2tDwiiylYuLMiB8kQMTqx:4201:mXpV3BMC-1740148688131278068815233845416783033101:1",
        "retries": 2,
        "dryRun": false,
        "note": null,
        "tags": ["Spring", "sale", 7, {"deep": ["ÉTÉ", -1.5e3]}],
        "ratio": 0.75,
        "name": "Straße İstanbul ǅ",
        "empty": "",
        "nested": {"a": {"b": {"c": "007"}}}
    });
    let Value::Object(details) = details else {
        unreachable!("the details are an object")
    };
    AuditEntry {
        id: AuditId::parse("3fd28929-228d-11ef-91f5-002248824020").expect("a valid id"),
        account_id: AccountId::new(1),
        seq: 0,
        time_generated: UtcTime::parse("2025-02-21T14:58:15.584Z").expect("a valid time"),
        recorded_at: UtcTime::parse("2025-02-21T14:58:15.600Z").expect("a valid time"),
        entity_type: Label::parse("item").expect("a valid label"),
        event_type: Label::parse("item.update").expect("a valid label"),
        version: Label::parse("2").expect("a valid label"),
        details: AuditDetails::new(details).expect("valid details"),
        hash: ChainHash::GENESIS,
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let query = match FindQuery::parse(&value) {
        Ok(query) => query,
        Err(error) => {
            // The message a client reads must render too.
            let _ = error.to_string();
            return;
        }
    };
    let (depth, nodes) = check_bounds(query.root());
    assert!(depth <= MAX_DEPTH, "depth {depth} over {MAX_DEPTH}");
    assert!(nodes <= MAX_NODES, "{nodes} nodes over {MAX_NODES}");
    let matched = query.matches(&ENTRY);
    let _ = query.root().conjuncts();
    // One more level fits only below the bounds; there, `not` must invert the answer.
    if depth < MAX_DEPTH && nodes < MAX_NODES {
        let negated = FindQuery::parse(&json!({"type": "not", "queries": [value]}))
            .expect("a query one level below the bounds may be negated");
        assert_eq!(
            negated.matches(&ENTRY),
            !matched,
            "not must invert the answer"
        );
    }
});

/// The depth and node count of a parsed query; panics on a list or a text over its bound.
fn check_bounds(node: &Node) -> (usize, usize) {
    match node {
        Node::And(children) | Node::Or(children) => {
            let mut depth = 0;
            let mut nodes = 1;
            for child in children {
                let (child_depth, child_nodes) = check_bounds(child);
                depth = depth.max(child_depth);
                nodes += child_nodes;
            }
            (depth + 1, nodes)
        }
        Node::Not(child) => {
            let (depth, nodes) = check_bounds(child);
            (depth + 1, nodes + 1)
        }
        Node::Test(test) => {
            if let Field::Details(path) = &test.field {
                assert!(
                    path.len() <= MAX_TEXT,
                    "a field path of {} bytes",
                    path.len()
                );
            }
            match &test.operator {
                Operator::In(values) | Operator::NotIn(values) => {
                    assert!(values.len() <= MAX_LIST, "a list of {}", values.len());
                    values.iter().for_each(check_scalar);
                }
                Operator::Search(text) | Operator::StartsWith(text) => {
                    assert!(text.len() <= MAX_TEXT, "a text of {} bytes", text.len());
                }
                Operator::Eq(value)
                | Operator::NotEq(value)
                | Operator::Greater(value)
                | Operator::GreaterOrEqual(value)
                | Operator::Less(value)
                | Operator::LessOrEqual(value) => check_scalar(value),
                Operator::Exists(_) => {}
            }
            (1, 1)
        }
    }
}

fn check_scalar(value: &Scalar) {
    match value {
        Scalar::Text(text) => assert!(text.len() <= MAX_TEXT, "a text of {} bytes", text.len()),
        Scalar::Number(number) => assert!(number.is_finite(), "a number {number}"),
        Scalar::Bool(_) | Scalar::Null | Scalar::Time(_) => {}
    }
}
