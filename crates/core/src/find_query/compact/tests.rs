//! The compact expressions' table: each expression with the exact JSON it compiles to (or
//! the exact error, with its column), and for some, which sample entries it finds.

use serde_json::{Value, json};

use super::*;
use crate::audit::{AuditDetails, AuditEntry, AuditId, ChainHash};
use crate::find_query::{FindQuery, MAX_NODES, MAX_TEXT};
use crate::ids::{AccountId, Label};

/// The entries matching rows are run against.
fn samples() -> Vec<(&'static str, AuditEntry)> {
    let entry = |id: &str, entity: &str, kind: &str, time: &str, details: Value| AuditEntry {
        id: AuditId::parse(id).unwrap(),
        account_id: AccountId::new(1),
        seq: 0,
        time_generated: UtcTime::parse(time).unwrap(),
        recorded_at: UtcTime::parse(time).unwrap(),
        entity_type: Label::parse(entity).unwrap(),
        event_type: Label::parse(kind).unwrap(),
        version: Label::parse("1").unwrap(),
        details: AuditDetails::new(details.as_object().unwrap().clone()).unwrap(),
        hash: ChainHash::GENESIS,
    };
    vec![
        (
            "failed",
            entry(
                "0193a5b2-7c1e-7d3a-9f0e-1b2c3d4e5f60",
                "job",
                "job.end",
                "2026-11-03T08:00:00Z",
                json!({
                    "accountId": "4201",
                    "jobInstanceStatus": "FAILED",
                    "jobKey": "nightly-import",
                    "jobTitle": "Nightly Import",
                    "retries": 2,
                    "tags": ["etl", "Prod"],
                    "dryRun": false,
                    "note": null,
                    "updated by": "Ann"
                }),
            ),
        ),
        (
            "completed",
            entry(
                "0193a5b2-7c1e-7d3a-9f0e-1b2c3d4e5f61",
                "job",
                "job.end",
                "2026-10-31T23:59:59Z",
                json!({
                    "accountId": "4201",
                    "jobInstanceStatus": "COMPLETED",
                    "jobKey": "weekly-export",
                    "jobTitle": "Weekly Export",
                    "retries": 0
                }),
            ),
        ),
        (
            "item",
            entry(
                "3fd28929-228d-11ef-91f5-002248824020",
                "item",
                "item.update",
                "2025-02-21T14:58:15.584Z",
                json!({"accountId": "4201", "itemId": "6588231", "status": "SUCCESS"}),
            ),
        ),
    ]
}

/// Compiles `expression` and checks the outcome both ways: `Ok` with the exact JSON (which
/// [`parse`] must turn into the query [`FindQuery::parse`] makes of it), or `Err` with the
/// exact message of [`parse`] (which [`compile`] gives too, unless it is a bound of the
/// find language that only the parser knows). `matching`, when given, names the sample
/// entries the query finds; it must find no other.
fn check(expression: &str, expected: Result<Value, &str>, matching: Option<&[&str]>) {
    let compiled = compile(expression);
    let parsed = parse(expression);
    match expected {
        Ok(dsl) => {
            assert_eq!(compiled, Ok(dsl.clone()), "{expression}");
            let query = parsed.unwrap_or_else(|error| panic!("{expression}: {error}"));
            assert_eq!(Ok(&query), FindQuery::parse(&dsl).as_ref(), "{expression}");
            if let Some(matching) = matching {
                for (name, entry) in samples() {
                    assert_eq!(
                        query.matches(&entry),
                        matching.contains(&name),
                        "{expression} on {name}"
                    );
                }
            }
        }
        Err(message) => {
            assert!(matching.is_none(), "an error finds nothing: {expression}");
            let error = parsed.expect_err(expression);
            assert_eq!(error.to_string(), message, "{expression}");
            // The column and the byte offset name the same place.
            assert_eq!(
                error.column,
                expression[..error.offset].chars().count() + 1,
                "{expression}"
            );
            match (&error.problem, compiled) {
                (Problem::Bound(_), Ok(_)) => {}
                (_, compiled) => assert_eq!(compiled, Err(error), "{expression}"),
            }
        }
    }
}

fn eq(field: &str, value: Value) -> Value {
    json!({"type": "eq", "field": field, "value": value})
}

fn test(kind: &str, field: &str, value: Value) -> Value {
    json!({"type": kind, "field": field, "value": value})
}

fn sensitive(kind: &str, field: &str, value: Value) -> Value {
    json!({"type": kind, "field": field, "value": value, "caseSensitive": true})
}

fn all(queries: &[Value]) -> Value {
    json!({"type": "and", "queries": queries})
}

fn any(queries: &[Value]) -> Value {
    json!({"type": "or", "queries": queries})
}

fn not(query: Value) -> Value {
    json!({"type": "not", "queries": [query]})
}

#[test]
fn the_issues_example_comes_first() {
    check(
        "type = job.end and details.jobInstanceStatus in (FAILED, TIMED_OUT) and timeGenerated >= 2026-11-01",
        Ok(all(&[
            eq("type", json!("job.end")),
            test(
                "in",
                "details.jobInstanceStatus",
                json!(["FAILED", "TIMED_OUT"]),
            ),
            test(
                "greaterOrEqual",
                "timeGenerated",
                json!("2026-11-01T00:00:00.000Z"),
            ),
        ])),
        Some(&["failed"]),
    );
}

#[test]
fn every_operator() {
    let status = "details.jobInstanceStatus";
    for (expression, dsl, matching) in [
        (
            "type = job.end",
            eq("type", json!("job.end")),
            &["failed", "completed"][..],
        ),
        (
            "type != job.end",
            test("notEq", "type", json!("job.end")),
            &["item"],
        ),
        (
            "details.jobInstanceStatus in (FAILED, TIMED_OUT)",
            test("in", status, json!(["FAILED", "TIMED_OUT"])),
            &["failed"],
        ),
        (
            "details.jobInstanceStatus not in (FAILED,TIMED_OUT)",
            test("notIn", status, json!(["FAILED", "TIMED_OUT"])),
            &["completed", "item"],
        ),
        (
            "details.jobInstanceStatus in (failed)",
            test("in", status, json!(["failed"])),
            &["failed"],
        ),
        (
            "details.jobTitle ~ import",
            test("search", "details.jobTitle", json!("import")),
            &["failed"],
        ),
        (
            "details.jobTitle contains \"ly Imp\"",
            test("search", "details.jobTitle", json!("ly Imp")),
            &["failed"],
        ),
        (
            "details.jobKey ^= week",
            test("startsWith", "details.jobKey", json!("week")),
            &["completed"],
        ),
        (
            "details.jobKey startsWith nightly-",
            test("startsWith", "details.jobKey", json!("nightly-")),
            &["failed"],
        ),
        (
            "details.retries > 1",
            test("greater", "details.retries", json!(1)),
            &["failed"],
        ),
        (
            "details.retries >= 0",
            test("greaterOrEqual", "details.retries", json!(0)),
            &["failed", "completed"],
        ),
        (
            "details.retries < 2",
            test("less", "details.retries", json!(2)),
            &["completed"],
        ),
        (
            "details.retries <= 2",
            test("lessOrEqual", "details.retries", json!(2)),
            &["failed", "completed"],
        ),
        (
            "details.note exists",
            test("exists", "details.note", json!(true)),
            &["failed"],
        ),
        (
            "details.note not exists",
            test("exists", "details.note", json!(false)),
            &["completed", "item"],
        ),
        (
            "id ^= 3FD2",
            test("startsWith", "id", json!("3FD2")),
            &["item"],
        ),
        (
            "entityType = item",
            eq("entityType", json!("item")),
            &["item"],
        ),
        (
            "version = 1",
            eq("version", json!(1)),
            &["failed", "completed", "item"],
        ),
        (
            "timeGenerated < 2026-11-01",
            test("less", "timeGenerated", json!("2026-11-01T00:00:00.000Z")),
            &["completed", "item"],
        ),
        (
            "timeGenerated <= 2025-02-21T14:58:15.584Z",
            test(
                "lessOrEqual",
                "timeGenerated",
                json!("2025-02-21T14:58:15.584Z"),
            ),
            &["item"],
        ),
        (
            "timeGenerated > 2026-11-01",
            test(
                "greater",
                "timeGenerated",
                json!("2026-11-01T00:00:00.000Z"),
            ),
            &["failed"],
        ),
        (
            "timeGenerated != 2026-11-03T08:00:00Z",
            test("notEq", "timeGenerated", json!("2026-11-03T08:00:00.000Z")),
            &["completed", "item"],
        ),
        (
            "timeGenerated exists",
            test("exists", "timeGenerated", json!(true)),
            &["failed", "completed", "item"],
        ),
    ] {
        check(expression, Ok(dsl), Some(matching));
    }
}

#[test]
fn precedence_and_parentheses() {
    let a = || eq("type", json!("a"));
    let b = || eq("type", json!("b"));
    let c = || eq("type", json!("c"));
    let d = || eq("type", json!("d"));
    for (expression, dsl) in [
        (
            "type = a or type = b and type = c",
            any(&[a(), all(&[b(), c()])]),
        ),
        (
            "type = a and type = b or type = c",
            any(&[all(&[a(), b()]), c()]),
        ),
        ("not type = a and type = b", all(&[not(a()), b()])),
        ("not type = a or type = b", any(&[not(a()), b()])),
        ("not (type = a or type = b)", not(any(&[a(), b()]))),
        ("not not type = a", not(not(a()))),
        (
            "(type = a or type = b) and type = c",
            all(&[any(&[a(), b()]), c()]),
        ),
        (
            "type = a and (type = b or type = c)",
            all(&[a(), any(&[b(), c()])]),
        ),
        (
            "type = a and type = b and type = c or type = d or type = a",
            any(&[all(&[a(), b(), c()]), d(), a()]),
        ),
        // Parentheses make no node; a run of `and`s is one node.
        ("((type = a))", a()),
        (
            "(type = a and type = b) and type = c",
            all(&[all(&[a(), b()]), c()]),
        ),
        ("(type=a)and(type=b)", all(&[a(), b()])),
        (
            "\ttype = a\n  AND NOT type = b Or type = c  ",
            any(&[all(&[a(), not(b())]), c()]),
        ),
    ] {
        check(expression, Ok(dsl), None);
    }
    // What each finds, on the samples.
    check(
        "type = item.update or type = job.end and details.retries > 1",
        Ok(any(&[
            eq("type", json!("item.update")),
            all(&[
                eq("type", json!("job.end")),
                test("greater", "details.retries", json!(1)),
            ]),
        ])),
        Some(&["failed", "item"]),
    );
    check(
        "(type = item.update or type = job.end) and details.retries > 1",
        Ok(all(&[
            any(&[
                eq("type", json!("item.update")),
                eq("type", json!("job.end")),
            ]),
            test("greater", "details.retries", json!(1)),
        ])),
        Some(&["failed"]),
    );
    check(
        "not details.note exists and entityType = job",
        Ok(all(&[
            not(test("exists", "details.note", json!(true))),
            eq("entityType", json!("job")),
        ])),
        Some(&["completed"]),
    );
}

#[test]
fn fields_and_keywords_ignore_case_but_details_keys_do_not() {
    for (expression, dsl) in [
        ("TYPE = a", eq("type", json!("a"))),
        ("entitytype = a", eq("entityType", json!("a"))),
        ("ID exists", test("exists", "id", json!(true))),
        ("Version != 2", test("notEq", "version", json!(2))),
        (
            "createdAt > 2026-01-01",
            test(
                "greater",
                "timeGenerated",
                json!("2026-01-01T00:00:00.000Z"),
            ),
        ),
        (
            "TIMEGENERATED > 2026-01-01",
            test(
                "greater",
                "timeGenerated",
                json!("2026-01-01T00:00:00.000Z"),
            ),
        ),
        ("Details.JobKey = a", eq("details.JobKey", json!("a"))),
        (
            "details.a.b.c IN (x) And details.d NOT IN (y)",
            all(&[
                test("in", "details.a.b.c", json!(["x"])),
                test("notIn", "details.d", json!(["y"])),
            ]),
        ),
        (
            "details.a CONTAINS x",
            test("search", "details.a", json!("x")),
        ),
        ("details.a Exists", test("exists", "details.a", json!(true))),
        (
            "details.a Not Exists",
            test("exists", "details.a", json!(false)),
        ),
        // A quoted field: keys with blanks or reserved characters.
        (
            "\"details.updated by\" = ann",
            eq("details.updated by", json!("ann")),
        ),
        (
            "\"details.a=b\" exists",
            test("exists", "details.a=b", json!(true)),
        ),
        ("\"type\" = a", eq("type", json!("a"))),
    ] {
        check(expression, Ok(dsl), None);
    }
    check(
        "\"details.updated by\" = ANN",
        Ok(eq("details.updated by", json!("ANN"))),
        Some(&["failed"]),
    );
    check(
        "details.JOBKEY exists",
        Ok(test("exists", "details.JOBKEY", json!(true))),
        Some(&[]),
    );
}

#[test]
fn case_sensitivity() {
    for (expression, dsl, matching) in [
        (
            "type = Job.End",
            eq("type", json!("Job.End")),
            &["failed", "completed"][..],
        ),
        (
            "type cs = Job.End",
            sensitive("eq", "type", json!("Job.End")),
            &[],
        ),
        (
            "type CS = job.end",
            sensitive("eq", "type", json!("job.end")),
            &["failed", "completed"],
        ),
        (
            "type cs != job.end",
            sensitive("notEq", "type", json!("job.end")),
            &["item"],
        ),
        (
            "details.jobTitle cs ~ import",
            sensitive("search", "details.jobTitle", json!("import")),
            &[],
        ),
        (
            "details.jobTitle cs contains Import",
            sensitive("search", "details.jobTitle", json!("Import")),
            &["failed"],
        ),
        (
            "details.jobKey cs ^= Nightly",
            sensitive("startsWith", "details.jobKey", json!("Nightly")),
            &[],
        ),
        (
            "details.tags cs in (prod)",
            sensitive("in", "details.tags", json!(["prod"])),
            &[],
        ),
        (
            "details.tags in (prod)",
            test("in", "details.tags", json!(["prod"])),
            &["failed"],
        ),
        (
            "details.tags cs not in (Prod)",
            sensitive("notIn", "details.tags", json!(["Prod"])),
            &["completed", "item"],
        ),
        (
            "details.jobKey cs > W",
            sensitive("greater", "details.jobKey", json!("W")),
            &["failed", "completed"],
        ),
        (
            "details.jobKey > W",
            test("greater", "details.jobKey", json!("W")),
            &["completed"],
        ),
        (
            "timeGenerated cs >= 2026-11-01",
            sensitive(
                "greaterOrEqual",
                "timeGenerated",
                json!("2026-11-01T00:00:00.000Z"),
            ),
            &["failed"],
        ),
    ] {
        check(expression, Ok(dsl), Some(matching));
    }
    check(
        "type == job.end",
        Err("at column 6: unexpected `==`: write `=`, or `cs =` to compare case-sensitively"),
        None,
    );
    check(
        "details.a cs exists",
        Err(
            "at column 14: expected an operator that compares (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `^=`, `in`, `not in`) after `cs`, found `exists`",
        ),
        None,
    );
    check(
        "details.a cs not exists",
        Err("at column 18: expected `in` after `not`, found `exists`"),
        None,
    );
}

#[test]
fn values_numbers_strings_and_literals() {
    let x = "details.x";
    for (expression, value) in [
        // Bare words that read as numbers are numbers; integers stay integers.
        ("details.x = 4201", json!(4201)),
        ("details.x = -17", json!(-17)),
        ("details.x = 007", json!(7)),
        ("details.x = -0.5", json!(-0.5)),
        ("details.x = 1e3", json!(1000.0)),
        ("details.x = 2.5E-1", json!(0.25)),
        (
            "details.x = 18446744073709551615",
            json!(18_446_744_073_709_551_615_u64),
        ),
        ("details.x = 99999999999999999999", json!(1e20)),
        // Anything else is a word.
        ("details.x = 12a", json!("12a")),
        ("details.x = +1", json!("+1")),
        ("details.x = 1.", json!("1.")),
        ("details.x = .5", json!(".5")),
        ("details.x = 0x10", json!("0x10")),
        ("details.x = NaN", json!("NaN")),
        ("details.x = inf", json!("inf")),
        ("details.x = job.end", json!("job.end")),
        ("details.x = 2026-11-01", json!("2026-11-01")),
        ("details.x = a/b:c@d#e%f$g?h+i", json!("a/b:c@d#e%f$g?h+i")),
        ("details.x = Straße", json!("Straße")),
        ("details.x = in", json!("in")),
        ("details.x = cs", json!("cs")),
        ("details.x = exists", json!("exists")),
        // Literals, in any case.
        ("details.x = true", json!(true)),
        ("details.x = FALSE", json!(false)),
        ("details.x = Null", json!(null)),
        // Quoted values are strings, whatever they look like.
        ("details.x = \"4201\"", json!("4201")),
        ("details.x = \"true\"", json!("true")),
        ("details.x = \"null\"", json!("null")),
        ("details.x = \"and\"", json!("and")),
        ("details.x = \"\"", json!("")),
        (
            "details.x = \"a = b (c, d) 'e' & f | g * h\"",
            json!("a = b (c, d) 'e' & f | g * h"),
        ),
        (
            r#"details.x = "say \"hi\" \\ now\n\tthen\r \u{e9}\u{1F600}\u{0}""#,
            json!("say \"hi\" \\ now\n\tthen\r é😀\u{0}"),
        ),
        ("details.x = \"line\nbreak\"", json!("line\nbreak")),
    ] {
        check(expression, Ok(eq(x, value)), None);
    }
    // After `~` and `^=`, every word is text; after `>` and the like, numbers are numbers.
    check("details.x ~ 42", Ok(test("search", x, json!("42"))), None);
    check(
        "details.x ^= true",
        Ok(test("startsWith", x, json!("true"))),
        None,
    );
    check("details.x > 10", Ok(test("greater", x, json!(10))), None);
    check(
        "details.x > \"10\"",
        Ok(test("greater", x, json!("10"))),
        None,
    );
    check("details.x < m", Ok(test("less", x, json!("m"))), None);
    check(
        "details.x in (1, \"2\", three, true, null)",
        Ok(test("in", x, json!([1, "2", "three", true, null]))),
        None,
    );
    // Through the evaluator: a number finds the string the seeds store, a quoted number
    // only that string, and booleans and null themselves.
    check(
        "details.accountId = 4201",
        Ok(eq("details.accountId", json!(4201))),
        Some(&["failed", "completed", "item"]),
    );
    check(
        "details.accountId = \"4201.0\"",
        Ok(eq("details.accountId", json!("4201.0"))),
        Some(&[]),
    );
    check(
        "details.accountId = 4201.0",
        Ok(eq("details.accountId", json!(4201.0))),
        Some(&["failed", "completed", "item"]),
    );
    check(
        "details.retries = \"2\"",
        Ok(eq("details.retries", json!("2"))),
        Some(&[]),
    );
    check(
        "details.dryRun = false",
        Ok(eq("details.dryRun", json!(false))),
        Some(&["failed"]),
    );
    check(
        "details.dryRun = \"false\"",
        Ok(eq("details.dryRun", json!("false"))),
        Some(&[]),
    );
    check(
        "details.note = null",
        Ok(eq("details.note", json!(null))),
        Some(&["failed"]),
    );
    check(
        "details.itemId > 6588230",
        Ok(test("greater", "details.itemId", json!(6_588_230))),
        Some(&["item"]),
    );
}

#[test]
fn dates() {
    let time = |kind: &str, value: &str| test(kind, "timeGenerated", json!(value));
    for (expression, dsl) in [
        // A bare date is midnight UTC; a date-time without an offset is UTC too.
        (
            "timeGenerated >= 2026-11-01",
            time("greaterOrEqual", "2026-11-01T00:00:00.000Z"),
        ),
        (
            "timeGenerated >= \"2026-11-01\"",
            time("greaterOrEqual", "2026-11-01T00:00:00.000Z"),
        ),
        (
            "timeGenerated = 2026-11-01T10:30:00",
            time("eq", "2026-11-01T10:30:00.000Z"),
        ),
        // An offset is kept as the instant it names.
        (
            "timeGenerated < 2026-11-01T10:30:00+01:00",
            time("less", "2026-11-01T09:30:00.000Z"),
        ),
        (
            "createdAt < \"2026-11-01T10:30:00.1234567Z\"",
            time("less", "2026-11-01T10:30:00.123Z"),
        ),
        (
            "timeGenerated in (2026-11-01, \"2026-11-02T00:00:00Z\")",
            test(
                "in",
                "timeGenerated",
                json!(["2026-11-01T00:00:00.000Z", "2026-11-02T00:00:00.000Z"]),
            ),
        ),
        (
            "timeGenerated not exists",
            test("exists", "timeGenerated", json!(false)),
        ),
        // Only timeGenerated reads dates: a details value stays the word.
        (
            "details.jobInstanceEndAt >= 2026-11-01",
            test(
                "greaterOrEqual",
                "details.jobInstanceEndAt",
                json!("2026-11-01"),
            ),
        ),
    ] {
        check(expression, Ok(dsl), None);
    }
    check(
        "timeGenerated >= 2026-11-01 and timeGenerated < 2026-11-03T08:00:00.001Z",
        Ok(all(&[
            time("greaterOrEqual", "2026-11-01T00:00:00.000Z"),
            time("less", "2026-11-03T08:00:00.001Z"),
        ])),
        Some(&["failed"]),
    );
    for (expression, message) in [
        (
            "timeGenerated = 2026",
            "at column 17: expected a date such as 2026-11-01 or an ISO 8601 date-time such as 2026-11-01T10:30:00Z, found `2026`",
        ),
        (
            "timeGenerated = true",
            "at column 17: expected a date such as 2026-11-01 or an ISO 8601 date-time such as 2026-11-01T10:30:00Z, found `true`",
        ),
        (
            "timeGenerated in (2026-11-01, 2026-13-01)",
            "at column 31: expected a date such as 2026-11-01 or an ISO 8601 date-time such as 2026-11-01T10:30:00Z, found `2026-13-01`",
        ),
        (
            "timeGenerated ~ 2026",
            "at column 15: `~` does not apply to timeGenerated; compare it with =, !=, in, >, >=, < or <=",
        ),
        (
            "createdAt startswith 2026",
            "at column 11: `startswith` does not apply to timeGenerated; compare it with =, !=, in, >, >=, < or <=",
        ),
    ] {
        check(expression, Err(message), None);
    }
}

#[test]
fn errors_name_the_column_and_what_was_expected() {
    let operators = "an operator (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `^=`, `in`, `not in`, `exists`, `not exists`, or `cs` before one)";
    for (expression, message) in [
        (
            "",
            "at column 1: expected a test, `not` or `(`, found end of input",
        ),
        (
            "   ",
            "at column 4: expected a test, `not` or `(`, found end of input",
        ),
        (
            "type in (",
            "at column 10: expected a value after `in (`, found end of input",
        ),
        (
            "type not in (",
            "at column 14: expected a value after `not in (`, found end of input",
        ),
        (
            "type in ()",
            "at column 10: expected a value after `in (`, found `)`",
        ),
        (
            "type in (a,",
            "at column 12: expected a value after `,`, found end of input",
        ),
        (
            "type in (a,)",
            "at column 12: expected a value after `,`, found `)`",
        ),
        (
            "type in (a b)",
            "at column 12: expected `,` or `)` after `a`, found `b`",
        ),
        (
            "type in a",
            "at column 9: expected `(` after `in`, found `a`",
        ),
        (
            "type",
            &format!("at column 5: expected {operators} after `type`, found end of input"),
        ),
        (
            "type job.end",
            &format!("at column 6: expected {operators} after `type`, found `job.end`"),
        ),
        (
            "type not = a",
            "at column 10: expected `in` or `exists` after `not`, found `=`",
        ),
        (
            "type =",
            "at column 7: expected a value after `=`, found end of input",
        ),
        (
            "type = (a)",
            "at column 8: expected a value after `=`, found `(`",
        ),
        (
            "type >= and",
            "at column 9: expected a value after `>=`, found `and` (quote a keyword to compare with it)",
        ),
        (
            "type = NOT",
            "at column 8: expected a value after `=`, found `NOT` (quote a keyword to compare with it)",
        ),
        (
            "details.x > true",
            "at column 13: expected a number or a string after `>`, found `true`",
        ),
        (
            "details.x <= null",
            "at column 14: expected a number or a string after `<=`, found `null`",
        ),
        (
            "details.x = 1e999",
            "at column 13: the number `1e999` is out of range",
        ),
        (
            "details.x in (1, -2e400)",
            "at column 18: the number `-2e400` is out of range",
        ),
        (
            "type = a b",
            "at column 10: expected `and`, `or` or the end after `a`, found `b`",
        ),
        (
            "type = a)",
            "at column 9: expected `and`, `or` or the end after `a`, found `)`",
        ),
        (
            "(type = a",
            "at column 10: expected `and`, `or` or `)` after `a`, found end of input",
        ),
        (
            "(type = a))",
            "at column 11: expected `and`, `or` or the end after `)`, found `)`",
        ),
        (
            "type = a and",
            "at column 13: expected a test, `not` or `(` after `and`, found end of input",
        ),
        (
            "type = a or or type = b",
            "at column 13: expected a test, `not` or `(` after `or`, found `or`",
        ),
        (
            "and type = a",
            "at column 1: expected a test, `not` or `(`, found `and`",
        ),
        (
            "not",
            "at column 4: expected a test, `not` or `(` after `not`, found end of input",
        ),
        (
            "()",
            "at column 2: expected a test, `not` or `(` after `(`, found `)`",
        ),
        (
            "name = RETAIL",
            &format!("at column 1: unknown field `name`; allowed: {FIELDS}"),
        ),
        (
            "details = x",
            &format!("at column 1: unknown field `details`; allowed: {FIELDS}"),
        ),
        (
            "details. = x",
            &format!("at column 1: unknown field `details.`; allowed: {FIELDS}"),
        ),
        (
            "type = a and details.a..b = x",
            &format!("at column 14: unknown field `details.a..b`; allowed: {FIELDS}"),
        ),
        (
            "\"\" = x",
            &format!("at column 1: unknown field ``; allowed: {FIELDS}"),
        ),
        (
            "type = \"abc",
            "at column 8: this string is not closed: expected `\"` before the end of input",
        ),
        (
            "type = \"abc\\",
            "at column 8: this string is not closed: expected `\"` before the end of input",
        ),
        (
            "type = \"a\\qb\"",
            "at column 10: unknown escape `\\q`; allowed: \\\" \\\\ \\n \\r \\t \\u{hex}",
        ),
        (
            "type = \"\\u{D800}\"",
            "at column 9: unknown escape `\\u{D800}`; allowed: \\\" \\\\ \\n \\r \\t \\u{hex}",
        ),
        (
            "type = \"\\u{}\"",
            "at column 9: unknown escape `\\u{}`; allowed: \\\" \\\\ \\n \\r \\t \\u{hex}",
        ),
        (
            "type = \"\\u{1234567}\"",
            "at column 9: unknown escape `\\u{1234567`; allowed: \\\" \\\\ \\n \\r \\t \\u{hex}",
        ),
        (
            "type = \"\\u00e9\"",
            "at column 9: unknown escape `\\u0`; allowed: \\\" \\\\ \\n \\r \\t \\u{hex}",
        ),
        (
            "type = a && type = b",
            "at column 10: unexpected `&`: write `and` to join tests",
        ),
        (
            "type = a || type = b",
            "at column 10: unexpected `|`: write `or` to join tests",
        ),
        (
            "type = job.*",
            "at column 12: unexpected `*`: there are no wildcards; write `^=` for starts with, `~` for contains, or quote the value",
        ),
        (
            "type = 'a'",
            "at column 8: unexpected `'`: strings take double quotes",
        ),
        (
            "type ! a",
            "at column 6: unexpected `!`: write `!=`, or `not` before a test",
        ),
        (
            "type ^ a",
            "at column 6: unexpected `^`: write `^=` for starts with",
        ),
        (
            "type = [a]",
            "at column 8: unexpected `[`: quote a value that holds it",
        ),
        (
            "type = a;",
            "at column 9: unexpected `;`: quote a value that holds it",
        ),
        (
            "type = a\u{1}b",
            "at column 9: unexpected `U+0001`: control characters go in strings",
        ),
        (
            "{\"type\": \"eq\"}",
            "at column 1: unexpected `{`: quote a value that holds it",
        ),
        // Columns count characters, not bytes.
        (
            "details.é = \"x",
            "at column 13: this string is not closed: expected `\"` before the end of input",
        ),
        (
            "details.ünï ~ ÉTÉ and",
            "at column 22: expected a test, `not` or `(` after `and`, found end of input",
        ),
        // A long quotation is cut.
        (
            "type = a bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "at column 10: expected `and`, `or` or the end after `a`, found `bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb…`",
        ),
    ] {
        check(expression, Err(message), None);
    }
}

#[test]
fn the_first_problem_in_reading_order_is_reported() {
    // A bad token later on does not hide an earlier mistake.
    check(
        "type = = \"unclosed",
        Err("at column 8: expected a value after `=`, found `=`"),
        None,
    );
    check(
        "nope = a and \"unclosed",
        Err(&format!(
            "at column 1: unknown field `nope`; allowed: {FIELDS}"
        )),
        None,
    );
}

#[test]
fn size_and_nesting_are_bounded_before_recursion() {
    let leaf = "type = a";
    let nots = |count: usize| format!("{}{leaf}", "not ".repeat(count));
    let parens = |count: usize| format!("{}{leaf}{}", "(".repeat(count), ")".repeat(count));
    let mut dsl = eq("type", json!("a"));
    for _ in 0..MAX_NESTING - 1 {
        dsl = not(dsl);
    }
    check(&nots(MAX_NESTING - 1), Ok(dsl), None);
    check(&parens(MAX_NESTING), Ok(eq("type", json!("a"))), None);
    check(
        &nots(MAX_NESTING + 1),
        Err("at column 41: parentheses and `not` nest deeper than 10 levels"),
        None,
    );
    check(
        &parens(MAX_NESTING + 1),
        Err("at column 11: parentheses and `not` nest deeper than 10 levels"),
        None,
    );
    check(
        &format!("{}{leaf}", "not (".repeat(6)),
        Err("at column 26: parentheses and `not` nest deeper than 10 levels"),
        None,
    );
    // Far deeper than any stack could take: refused at the eleventh, or for its size.
    check(
        &"(".repeat(1_000_000),
        Err("at column 65537: the expression is longer than 65536 bytes"),
        None,
    );
    check(
        &"(".repeat(MAX_EXPRESSION),
        Err("at column 11: parentheses and `not` nest deeper than 10 levels"),
        None,
    );
    let long = format!("type = {}", "a".repeat(MAX_EXPRESSION));
    check(
        &long,
        Err("at column 65537: the expression is longer than 65536 bytes"),
        None,
    );
    // Cut at a character boundary.
    let wide = format!("type = \"{}\"", "é".repeat(MAX_EXPRESSION / 2));
    let error = compile(&wide).unwrap_err();
    assert_eq!(error.problem, Problem::TooLong);
    assert!(wide.is_char_boundary(error.offset) && error.offset <= MAX_EXPRESSION);
    assert!(
        compile(&"a".repeat(MAX_EXPRESSION)).is_err_and(|error| error.problem != Problem::TooLong)
    );
}

#[test]
fn the_find_languages_bounds_are_placed_in_the_expression() {
    // 200 tests joined by `or` make 201 nodes: the 200th test is one too many.
    let tests: Vec<String> = (0..MAX_NODES)
        .map(|index| format!("details.k = {index}"))
        .collect();
    let wide = tests.join(" or ");
    let last = wide.rfind("details.k").unwrap();
    check(
        &wide,
        Err(&format!(
            "at column {}: the query holds more than 200 nodes",
            last + 1
        )),
        None,
    );
    assert!(compile(&wide).is_ok(), "compiles; only the parser counts");
    check(
        &tests[..MAX_NODES - 1].join(" or "),
        Ok(any(&(0..MAX_NODES - 1)
            .map(|index| eq("details.k", json!(index)))
            .collect::<Vec<_>>())),
        None,
    );

    // Ten levels of parentheses around `or`s and `and`s, under one `and`, make 11 levels.
    let mut deep = "type = a".to_owned();
    for level in 0..MAX_NESTING {
        let joiner = if level % 2 == 0 { "or" } else { "and" };
        deep = format!("type = a {joiner} ({deep})");
    }
    let deep = format!("type = a and {deep}");
    // The innermost `or` is at the tenth level: its first test is at the eleventh.
    let innermost = deep.rfind("(type = a or").unwrap() + "(".len();
    check(
        &deep,
        Err(&format!(
            "at column {}: the query nests deeper than 10 levels",
            innermost + 1
        )),
        None,
    );

    // 101 values in a list: the 101st is one too many.
    let values: Vec<String> = (0..=MAX_LIST).map(|index| index.to_string()).collect();
    let list = format!("details.k in ({})", values.join(", "));
    let hundred_first = list.rfind(", ").unwrap() + 2;
    check(
        &list,
        Err(&format!(
            "at column {}: the list holds more than 100 values",
            hundred_first + 1
        )),
        None,
    );
    check(
        &format!("details.k not in ({})", values[..MAX_LIST].join(",")),
        Ok(test(
            "notIn",
            "details.k",
            json!((0..MAX_LIST).collect::<Vec<_>>()),
        )),
        None,
    );

    // Texts and field names of more than 4096 bytes.
    let text = "x".repeat(MAX_TEXT + 1);
    check(
        &format!("type = a and details.k ~ \"{text}\""),
        Err("at column 26: the value is longer than 4096 bytes"),
        None,
    );
    check(
        &format!("details.k in (a, {text})"),
        Err("at column 18: the value is longer than 4096 bytes"),
        None,
    );
    check(
        &format!(
            "type = a or details.{} exists",
            "k".repeat(MAX_TEXT - "details.".len() + 1)
        ),
        Err("at column 13: the field is longer than 4096 bytes"),
        None,
    );
    check(
        &format!("details.{} exists", "k".repeat(MAX_TEXT - "details.".len())),
        Ok(test(
            "exists",
            &format!("details.{}", "k".repeat(MAX_TEXT - "details.".len())),
            json!(true),
        )),
        None,
    );
}
