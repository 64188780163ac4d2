//! Tables for the find language: what parses, what is refused and why, and what matches.

use serde_json::{Value, json};

use super::*;
use crate::audit::{AuditDetails, AuditEntry, AuditId, ChainHash};
use crate::ids::{AccountId, Label};

/// Parses `query`; on failure, returns the message a client would read.
fn parse(query: Value) -> Result<FindQuery, String> {
    FindQuery::parse(&query).map_err(|error| error.to_string())
}

#[test]
fn the_seeds_examples_parse() {
    let simple =
        parse(json!({"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"}))
            .unwrap();
    assert_eq!(
        simple.root(),
        &Node::Test(Test {
            field: Field::EntityType,
            operator: Operator::Eq(Scalar::Text("item".into())),
            case_sensitive: true,
        })
    );
    let combined = parse(json!({
        "type": "and",
        "queries": [
            {"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"},
            {"type": "greaterOrEqual", "caseSensitive": true, "field": "timeGenerated", "value": "2025-02-21T14:58:15.584Z"}
        ]
    }))
    .unwrap();
    let Node::And(parts) = combined.root() else {
        panic!("{combined:?}")
    };
    assert_eq!(
        parts[1],
        Node::Test(Test {
            field: Field::TimeGenerated,
            operator: Operator::GreaterOrEqual(Scalar::Time(
                UtcTime::parse("2025-02-21T14:58:15.584Z").unwrap()
            )),
            case_sensitive: true,
        })
    );
    // createdAt is timeGenerated; caseSensitive defaults to false.
    let alias =
        parse(json!({"type": "less", "field": "createdAt", "value": "2021-12-30T10:17:29.000Z"}))
            .unwrap();
    let Node::Test(test) = alias.root() else {
        panic!()
    };
    assert_eq!(
        (&test.field, test.case_sensitive),
        (&Field::TimeGenerated, false)
    );
}

#[test]
fn refusals_name_the_place_and_what_is_allowed() {
    let check = |query: Value, expected: &str| {
        let error = parse(query.clone()).expect_err(&query.to_string());
        assert_eq!(error, expected, "{query}");
    };
    check(
        json!([]),
        "expected a query object such as {\"type\": \"eq\", \"field\": \"type\", \"value\": \"job.end\"}",
    );
    check(
        json!({"field": "type"}),
        &format!("missing `type`; allowed: {}", OPERATORS.join(", ")),
    );
    check(
        json!({"type": "equals", "field": "type", "value": 1}),
        &format!(
            "at `type`: unknown operator `equals`; allowed: {}",
            OPERATORS.join(", ")
        ),
    );
    check(
        json!({"type": "eq", "field": "name", "value": "RETAIL"}),
        &format!("at `field`: unknown field `name`; allowed: {FIELDS}"),
    );
    check(
        json!({"type": "eq", "field": "details.", "value": 1}),
        &format!("at `field`: unknown field `details.`; allowed: {FIELDS}"),
    );
    check(
        json!({"type": "eq", "field": "details.a..b", "value": 1}),
        &format!("at `field`: unknown field `details.a..b`; allowed: {FIELDS}"),
    );
    check(
        json!({"type": "eq", "field": "type"}),
        "`eq` needs a `value`",
    );
    check(
        json!({"type": "eq", "field": "type", "value": "x", "feild": 1}),
        "unknown key `feild`; allowed here: type, field, value, caseSensitive",
    );
    check(
        json!({"type": "eq", "field": "type", "value": [1]}),
        "at `value`: expected a string, a number, true, false or null",
    );
    check(
        json!({"type": "eq", "field": "type", "value": "x", "caseSensitive": "yes"}),
        "at `caseSensitive`: must be true or false",
    );
    check(
        json!({"type": "in", "field": "type", "value": "x"}),
        "at `value`: `in` takes an array of values",
    );
    check(
        json!({"type": "notIn", "field": "type", "value": vec![1; 101]}),
        "at `value`: holds more than 100 values",
    );
    check(
        json!({"type": "in", "field": "type", "value": ["a", {}]}),
        "at `value[1]`: expected a string, a number, true, false or null",
    );
    check(
        json!({"type": "exists", "field": "type", "value": "yes"}),
        "at `value`: `exists` takes true or false",
    );
    check(
        json!({"type": "search", "field": "type", "value": 3}),
        "at `value`: `search` takes a string",
    );
    check(
        json!({"type": "greater", "field": "version", "value": true}),
        "at `value`: `greater` takes a number, a string or a date-time",
    );
    check(
        json!({"type": "search", "field": "timeGenerated", "value": "2025"}),
        "`search` does not apply to timeGenerated; compare it with eq, greater, less and the like",
    );
    check(
        json!({"type": "eq", "field": "timeGenerated", "value": "yesterday"}),
        "at `value`: expected an ISO 8601 date-time with a time zone, such as 2026-04-07T10:30:00Z, got `yesterday`",
    );
    check(
        json!({"type": "eq", "field": "createdAt", "value": 1740148688}),
        "at `value`: timeGenerated compares with ISO 8601 date-times, such as \"2025-02-21T14:58:15.584Z\"",
    );
    check(json!({"type": "and"}), "`and` needs `queries`");
    check(
        json!({"type": "or", "queries": []}),
        "at `queries`: must not be empty",
    );
    check(
        json!({"type": "and", "queries": {}}),
        "at `queries`: must be an array of queries",
    );
    check(
        json!({"type": "not", "queries": [{"type": "exists", "field": "id", "value": true}, {"type": "exists", "field": "id", "value": true}]}),
        "at `queries`: `not` takes exactly one query, got 2",
    );
    check(
        json!({"type": "and", "field": "type", "queries": [1]}),
        "unknown key `field`; allowed here: type, queries",
    );
    check(
        json!({"type": "and", "queries": [{"type": "eq", "field": "type", "value": "a"}, {"type": "or", "queries": [{"type": "nope", "field": "type", "value": 1}]}]}),
        &format!(
            "at `queries[1].queries[0].type`: unknown operator `nope`; allowed: {}",
            OPERATORS.join(", ")
        ),
    );
    check(
        json!({"type": "eq", "field": "type", "value": "x".repeat(MAX_TEXT + 1)}),
        "at `value`: is longer than 4096 bytes",
    );
}

#[test]
fn depth_and_size_are_bounded() {
    let leaf = json!({"type": "exists", "field": "id", "value": true});
    let nest = |levels: usize| {
        let mut query = leaf.clone();
        for _ in 1..levels {
            query = json!({"type": "not", "queries": [query]});
        }
        query
    };
    assert!(parse(nest(MAX_DEPTH)).is_ok());
    let error = parse(nest(MAX_DEPTH + 1)).unwrap_err();
    assert!(
        error.ends_with("the query nests deeper than 10 levels"),
        "{error}"
    );

    let wide = |leaves: usize| json!({"type": "or", "queries": vec![leaf.clone(); leaves]});
    assert!(parse(wide(MAX_NODES - 1)).is_ok());
    assert_eq!(
        parse(wide(MAX_NODES)).unwrap_err(),
        "at `queries[199]`: the query holds more than 200 nodes"
    );
}

#[test]
fn numbers_in_strings() {
    for (text, expected) in [
        ("4201", Some(4201.0)),
        ("-0.5", Some(-0.5)),
        ("007", Some(7.0)),
        ("1e3", Some(1000.0)),
        ("2.5E-1", Some(0.25)),
        ("", None),
        ("-", None),
        ("+1", None),
        (" 1", None),
        ("1.", None),
        (".5", None),
        ("1e", None),
        ("0x10", None),
        ("1e999", None),
        ("NaN", None),
        ("12a", None),
    ] {
        assert_eq!(numeric(text), expected, "{text:?}");
    }
}

#[test]
fn folding_keeps_prefixes_and_substrings() {
    assert_eq!(fold("ÉTÉ Item"), "été item");
    // Per character: a final capital sigma folds like any other.
    assert_eq!(fold("ΑΣ"), "ασ");
    assert!(fold("ΑΣΑ").starts_with(&fold("ΑΣ")));
}

#[test]
fn detail_values_walk_objects_and_arrays() {
    let details = json!({"a": {"b": [1, {"c": "x"}]}, "a.b": "literal"});
    let found: Vec<(String, Value)> = detail_values(details.as_object().unwrap())
        .into_iter()
        .map(|(path, value)| (path, value.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("a".into(), json!({"b": [1, {"c": "x"}]})),
            ("a.b".into(), json!([1, {"c": "x"}])),
            ("a.b".into(), json!(1)),
            ("a.b".into(), json!({"c": "x"})),
            ("a.b.c".into(), json!("x")),
            ("a.b".into(), json!("literal")),
        ]
    );
}

/// The seed's own example entry.
fn item_update() -> AuditEntry {
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
        "retries": 2,
        "dryRun": false,
        "note": null,
        "tags": ["Spring", "sale"],
        "ratio": 0.75
    });
    AuditEntry {
        id: AuditId::parse("3fd28929-228d-11ef-91f5-002248824020").unwrap(),
        account_id: AccountId::new(1),
        seq: 0,
        time_generated: UtcTime::parse("2025-02-21T14:58:15.584Z").unwrap(),
        recorded_at: UtcTime::parse("2025-02-21T14:58:15.600Z").unwrap(),
        entity_type: Label::parse("item").unwrap(),
        event_type: Label::parse("item.update").unwrap(),
        version: Label::parse("2").unwrap(),
        details: AuditDetails::new(details.as_object().unwrap().clone()).unwrap(),
        hash: ChainHash::GENESIS,
    }
}

#[test]
fn what_matches() {
    let entry = item_update();
    let check = |query: Value, expected: bool| {
        let parsed = parse(query.clone()).unwrap_or_else(|error| panic!("{query}: {error}"));
        assert_eq!(parsed.matches(&entry), expected, "{query}");
    };
    let test = |kind: &str, field: &str, value: Value| json!({"type": kind, "field": field, "value": value});
    let sensitive = |kind: &str, field: &str, value: Value| json!({"type": kind, "field": field, "value": value, "caseSensitive": true});

    // Top-level fields, with and without case.
    check(test("eq", "entityType", json!("ITEM")), true);
    check(sensitive("eq", "entityType", json!("ITEM")), false);
    check(sensitive("eq", "entityType", json!("item")), true);
    check(test("startsWith", "type", json!("Item.")), true);
    check(test("search", "id", json!("11EF")), true);
    check(test("in", "type", json!(["job.end", "item.update"])), true);
    check(
        test("notIn", "type", json!(["job.end", "item.update"])),
        false,
    );
    // The version is the string "2": a query number reads it as a number.
    check(test("eq", "version", json!(2)), true);
    check(test("eq", "version", json!("2")), true);
    check(test("greater", "version", json!(10)), false);
    check(test("greater", "version", json!("10")), false);
    check(test("eq", "version", json!(true)), false);

    // Time compares instants, whatever the offset.
    check(
        test(
            "eq",
            "timeGenerated",
            json!("2025-02-21T15:58:15.584+01:00"),
        ),
        true,
    );
    check(
        test(
            "greaterOrEqual",
            "createdAt",
            json!("2025-02-21T14:58:15.584Z"),
        ),
        true,
    );
    check(
        test(
            "greater",
            "timeGenerated",
            json!("2025-02-21T14:58:15.584Z"),
        ),
        false,
    );
    check(
        test("less", "timeGenerated", json!("2026-01-01T00:00:00Z")),
        true,
    );
    check(
        test("notEq", "timeGenerated", json!("2026-01-01T00:00:00Z")),
        true,
    );
    check(test("exists", "timeGenerated", json!(false)), false);

    // Details: numbers written as strings.
    check(test("eq", "details.accountId", json!(4201)), true);
    check(test("eq", "details.accountId", json!("4201")), true);
    check(test("eq", "details.accountId", json!(4201.0)), true);
    check(test("eq", "details.retries", json!("2")), false);
    check(test("eq", "details.retries", json!(2)), true);
    check(test("greater", "details.tableId", json!(999)), true);
    check(test("greater", "details.tableId", json!("999")), true);
    check(test("less", "details.itemId", json!("10000000")), true);
    check(test("lessOrEqual", "details.ratio", json!(0.75)), true);
    // Strings against strings; a number never against a word.
    check(test("greater", "details.status", json!("fail")), true);
    check(sensitive("greater", "details.status", json!("fail")), false);
    check(test("greater", "details.status", json!(1)), false);
    check(test("less", "details.dryRun", json!(1)), false);

    // Nested keys, arrays, booleans, null.
    check(
        test("eq", "details.updatedFieldList.COLOR_CODE", json!(1079)),
        true,
    );
    check(
        test(
            "search",
            "details.updatedFieldList.LIBCOLMODFR",
            json!("rose"),
        ),
        true,
    );
    check(
        sensitive(
            "search",
            "details.updatedFieldList.LIBCOLMODFR",
            json!("rose"),
        ),
        false,
    );
    check(test("eq", "details.tags", json!("spring")), true);
    check(test("startsWith", "details.tags", json!("SA")), true);
    check(
        test("exists", "details.updatedFieldList", json!(true)),
        true,
    );
    check(test("eq", "details.updatedFieldList", json!("x")), false);
    check(test("eq", "details.dryRun", json!(false)), true);
    check(test("eq", "details.dryRun", json!("false")), false);
    check(test("eq", "details.note", json!(null)), true);
    check(test("exists", "details.note", json!(true)), true);
    check(test("eq", "details.userId", json!(null)), false);

    // A missing field fails everything but exists: false, notEq and notIn.
    for (kind, value, expected) in [
        ("eq", json!("x"), false),
        ("notEq", json!("x"), true),
        ("in", json!(["x"]), false),
        ("notIn", json!(["x"]), true),
        ("search", json!(""), false),
        ("startsWith", json!(""), false),
        ("greater", json!(0), false),
        ("lessOrEqual", json!("z"), false),
        ("exists", json!(true), false),
        ("exists", json!(false), true),
    ] {
        check(test(kind, "details.missing", value), expected);
    }

    // Combinators.
    check(
        json!({"type": "and", "queries": [test("eq", "entityType", json!("item")), test("eq", "details.status", json!("success"))]}),
        true,
    );
    check(
        json!({"type": "and", "queries": [test("eq", "entityType", json!("item")), test("eq", "details.status", json!("failed"))]}),
        false,
    );
    check(
        json!({"type": "or", "queries": [test("eq", "entityType", json!("job")), test("search", "details.jobId", json!("6b796b"))]}),
        true,
    );
    check(
        json!({"type": "not", "queries": [test("exists", "details.missing", json!(true))]}),
        true,
    );
}
