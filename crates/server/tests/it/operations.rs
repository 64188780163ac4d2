//! Operations as a whole: statistics of one operation (docs/operating-logs.md's worked
//! example, number for number), statistics over a period, anomalies, and Gantt charts whose
//! labels nothing can break out of.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};
use crate::operating::{C1, C2, C3, OP_A, P1, PATH, write_fixture};

/// docs/operating-logs.md's worked example.
const WORKED: &str = "f670127a-ef1b-4926-ab64-387fba251523";
const ERP: &str = "00000000-0000-0000-0000-00000000000a";
const SHOP: &str = "00000000-0000-0000-0000-00000000000b";
const CRM: &str = "00000000-0000-0000-0000-00000000000c";

/// `2026-04-07T10:00:00Z` plus `millis`.
fn at(millis: i64) -> String {
    format!(
        "2026-04-07T10:00:{:02}.{:03}Z",
        millis / 1000,
        millis % 1000
    )
}

fn timed(
    operation: &str,
    kind: &str,
    activity: &str,
    (source, name): (&str, &str),
    millis: i64,
) -> Value {
    json!({"operationId": operation, "operationType": kind, "activityType": activity,
           "sourceId": source, "source": name, "utcTimestamp": at(millis)})
}

fn with(mut item: Value, field: &str, value: &str) -> Value {
    item[field] = json!(value);
    item
}

async fn write_batch(app: &TestApp, key: &str, items: Vec<Value>) {
    let response = app
        .post(&format!("{PATH}/batch"), key, Value::Array(items))
        .await;
    expect_status(response, StatusCode::CREATED).await;
}

async fn write_worked_example(app: &TestApp, key: &str) {
    let (erp, shop, crm) = ((ERP, "Erp"), (SHOP, "Shop"), (CRM, "Crm"));
    let rejected = with(
        with(
            timed(WORKED, "ConsumeData", "Validation", crm, 1300),
            "severity",
            "Error",
        ),
        "message",
        "Record 456 rejected: field 'Email' is invalid.",
    );
    write_batch(
        app,
        key,
        vec![
            timed(WORKED, "InputData", "Application|Start", erp, 0),
            with(
                timed(WORKED, "InputData", "Application|Begin", erp, 100),
                "scopeId",
                "read",
            ),
            with(
                timed(WORKED, "InputData", "Application|End", erp, 400),
                "scopeId",
                "read",
            ),
            with(
                timed(WORKED, "InputData", "Application|Begin", erp, 450),
                "scopeId",
                "send",
            ),
            with(
                timed(WORKED, "InputData", "Application|End", erp, 700),
                "scopeId",
                "send",
            ),
            timed(WORKED, "InputData", "Application|Finish", erp, 800),
            timed(WORKED, "ConsumeData", "Application|Ack", shop, 1000),
            with(
                timed(WORKED, "ConsumeData", "Application|Begin", shop, 1100),
                "scopeId",
                "import",
            ),
            with(
                timed(WORKED, "ConsumeData", "Application|End", shop, 1600),
                "scopeId",
                "import",
            ),
            timed(WORKED, "ConsumeData", "Application|Finish", shop, 1700),
            timed(WORKED, "ConsumeData", "Application|Start", crm, 1200),
            rejected,
            timed(WORKED, "ConsumeData", "Application|Finish", crm, 1500),
        ],
    )
    .await;
}

fn component<'a>(statistics: &'a Value, kind: &str, source: Option<&str>) -> &'a Value {
    statistics["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|component| {
            component["key"]["kind"] == kind && component["key"]["sourceId"].as_str() == source
        })
        .unwrap_or_else(|| panic!("no {kind} {source:?} in {statistics}"))
}

#[tokio::test]
async fn the_worked_example_has_the_documented_numbers() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    write_worked_example(&app, &key).await;
    let statistics = expect_status(
        app.get(&format!("/v1/operations/{WORKED}/statistics"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statistics["operationId"], WORKED);
    assert_eq!(
        statistics["components"].as_array().unwrap().len(),
        4,
        "{statistics}"
    );

    let erp = component(&statistics, "publisher", Some(ERP));
    assert_eq!(erp["milestones"]["spanMs"], 800);
    assert_eq!(erp["milestones"]["basis"], "milestones");
    let pairs: Vec<(&str, i64)> = erp["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair["scopeId"].as_str().unwrap(),
                pair["durationMs"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(pairs, [("read", 300), ("send", 250)]);
    assert_eq!(erp["scopedMs"], 550);
    assert_eq!(erp["span"]["count"], 1);

    let platform = component(&statistics, "platform", None);
    assert_eq!(platform["milestones"]["spanMs"], 200);
    assert_eq!(platform["milestones"]["basis"], "handover");
    assert_eq!(platform["milestones"]["spanFrom"], at(800));
    assert_eq!(platform["milestones"]["spanTo"], at(1000));

    let shop = component(&statistics, "consumer", Some(SHOP));
    assert_eq!(shop["milestones"]["startedWith"], "Application|Ack");
    assert_eq!(shop["milestones"]["spanMs"], 700);
    assert_eq!(shop["scopedMs"], 500);

    let crm = component(&statistics, "consumer", Some(CRM));
    assert_eq!(crm["milestones"]["spanMs"], 300);
    assert_eq!(crm["validation"], json!({"warnings": 0, "errors": 1}));

    assert_eq!(statistics["endToEndMs"], 1700);
    assert_eq!(statistics["anomalies"], json!([]));
    assert_eq!(statistics["firstEventAt"], at(0));
    assert_eq!(statistics["lastEventAt"], at(1700));
}

#[tokio::test]
async fn unpaired_and_out_of_order_records_are_reported() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    write_fixture(&app, &key).await;
    let operation = "dddddddd-0000-4000-8000-00000000000d";
    let (p1, c1, c2, c3) = ((P1, "P1"), (C1, "C1"), (C2, "C2"), (C3, "C3"));
    write_batch(
        &app,
        &key,
        vec![
            timed(operation, "InputData", "Application|Start", p1, 0),
            with(
                timed(operation, "InputData", "Application|Begin", p1, 10),
                "scopeId",
                "x",
            ),
            with(
                timed(operation, "InputData", "Application|End", p1, 20),
                "scopeId",
                "y",
            ),
            timed(operation, "ConsumeData", "Application|Finish", c1, 100),
            timed(operation, "ConsumeData", "Application|Start", c2, 300),
            timed(operation, "ConsumeData", "Application|Finish", c2, 200),
            with(
                timed(operation, "ConsumeData", "Application|Begin", c3, 50),
                "scopeId",
                "z",
            ),
            with(
                timed(operation, "ConsumeData", "Application|End", c3, 40),
                "scopeId",
                "z",
            ),
        ],
    )
    .await;
    let statistics = expect_status(
        app.get(&format!("/v1/operations/{operation}/statistics"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    let mut kinds: Vec<(String, Option<String>)> = statistics["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|anomaly| {
            (
                anomaly["kind"].as_str().unwrap().to_owned(),
                anomaly["component"]["sourceId"].as_str().map(str::to_owned),
            )
        })
        .collect();
    kinds.sort();
    let expected = [
        ("endBeforeBegin", Some(C3)),
        ("endWithoutBegin", Some(P1)),
        ("finishBeforeStart", Some(C2)),
        ("finishWithoutStart", Some(C1)),
        ("startWithoutFinish", Some(P1)),
        ("unpairedBegin", Some(P1)),
    ]
    .map(|(kind, source)| (kind.to_owned(), source.map(str::to_owned)));
    assert_eq!(kinds, expected, "{statistics}");
    // Nothing was guessed: no span for a component whose milestones do not close.
    assert!(component(&statistics, "publisher", Some(P1))["milestones"]["spanMs"].is_null());
    assert!(component(&statistics, "consumer", Some(C3))["scopedMs"].is_null());

    // The fixture's operation A, for contrast: the platform measured by its handover.
    let fixture = expect_status(
        app.get(&format!("/v1/operations/{OP_A}/statistics"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fixture["anomalies"], json!([]));
    assert_eq!(component(&fixture, "publisher", Some(P1))["scopedMs"], 300);
    assert_eq!(
        component(&fixture, "platform", None)["milestones"]["spanMs"],
        500
    );
    assert_eq!(
        component(&fixture, "consumer", Some(C1))["milestones"]["spanMs"],
        600
    );
    assert_eq!(
        component(&fixture, "consumer", Some(C2))["validation"]["errors"],
        1
    );
    assert_eq!(fixture["endToEndMs"], 2000);

    expect_error(
        app.get(
            "/v1/operations/99999999-0000-4000-8000-000000000099/statistics",
            &key,
        )
        .await,
        StatusCode::NOT_FOUND,
        "operation not found",
    )
    .await;
}

#[tokio::test]
async fn statistics_over_a_period_aggregate_per_component() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let before = "2000-01-01T00:00:00Z";
    write_worked_example(&app, &key).await;
    // Three more operations in which only Erp logged, taking 400, 1200 and 2000 ms.
    for (number, span) in [(1, 400), (2, 1200), (3, 2000)] {
        let operation = format!("eeeeeeee-0000-4000-8000-00000000000{number}");
        write_batch(
            &app,
            &key,
            vec![
                timed(
                    &operation,
                    "InputData",
                    "Application|Start",
                    (ERP, "Erp"),
                    0,
                ),
                timed(
                    &operation,
                    "InputData",
                    "Application|Finish",
                    (ERP, "Erp"),
                    span,
                ),
            ],
        )
        .await;
    }
    let period = format!("from={before}&to=2999-01-01T00:00:00Z");
    let statistics = expect_status(
        app.get(&format!("/v1/operations/statistics?{period}"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(statistics["operations"], 4);
    assert_eq!(statistics["from"], "2000-01-01T00:00:00.000Z");
    let erp = component(&statistics, "publisher", Some(ERP));
    assert_eq!(erp["operations"], 4);
    assert_eq!(
        erp["span"],
        json!({"count": 4, "meanMs": 1100.0, "medianMs": 1000.0, "minMs": 400, "maxMs": 2000, "p95Ms": 2000})
    );
    assert_eq!(erp["scoped"]["count"], 1);
    assert_eq!(
        statistics["endToEnd"],
        json!({"count": 4, "meanMs": 1325.0, "medianMs": 1450.0, "minMs": 400, "maxMs": 2000, "p95Ms": 2000})
    );
    assert_eq!(
        component(&statistics, "consumer", Some(CRM))["validation"]["errors"],
        1
    );

    // One phase, one source.
    let consumers = expect_status(
        app.get(
            &format!("/v1/operations/statistics?{period}&operationType=ConsumeData"),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let kinds: Vec<&Value> = consumers["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|component| &component["key"]["kind"])
        .collect();
    assert_eq!(kinds, [&json!("consumer"), &json!("consumer")]);
    let shop = expect_status(
        app.get(
            &format!("/v1/operations/statistics?{period}&sourceId={SHOP}"),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shop["operations"], 1);
    assert_eq!(shop["components"].as_array().unwrap().len(), 1);
    assert_eq!(shop["components"][0]["span"]["medianMs"], 700.0);

    // A period before anything was written holds nothing.
    let empty = expect_status(
        app.get(
            "/v1/operations/statistics?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(empty["operations"], 0);
    assert!(empty["endToEnd"].is_null());

    for (parameters, needle) in [
        (
            "to=2026-01-01T00:00:00Z",
            "query parameter `from` is required",
        ),
        (
            "from=2026-01-01T00:00:00Z",
            "query parameter `to` is required",
        ),
        (
            "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            "is before from",
        ),
        (
            &format!("{period}&operationType=Load") as &str,
            "unknown operation type `Load`",
        ),
        (
            &format!("{period}&sourceId=erp") as &str,
            "query parameter `sourceId`",
        ),
    ] {
        expect_error(
            app.get(&format!("/v1/operations/statistics?{parameters}"), &key)
                .await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
}

/// Whether a line of Mermaid text is one pipelog writes: the header, a section, or a task
/// whose label holds only letters, digits, spaces, `-`, `_`, `.` and entity codes.
fn is_expected_mermaid_line(line: &str) -> bool {
    let safe = |text: &str| {
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(entity) = rest.strip_prefix('#') {
                let Some(end) = entity.find(';') else {
                    return false;
                };
                if end == 0 || !entity[..end].bytes().all(|byte| byte.is_ascii_digit()) {
                    return false;
                }
                rest = &entity[end + 1..];
            } else {
                let character = rest.chars().next().unwrap();
                if !(character.is_ascii_alphanumeric() || " -_.".contains(character)) {
                    return false;
                }
                rest = &rest[character.len_utf8()..];
            }
        }
        true
    };
    if ["gantt", "    dateFormat x", "    axisFormat %H:%M:%S"].contains(&line)
        || line.starts_with("    title Operation ")
    {
        return true;
    }
    if let Some(title) = line.strip_prefix("    section ") {
        return safe(title);
    }
    // `<label> :<tags, >t<n>, <start>, <end>`
    let Some((label, rest)) = line
        .strip_prefix("    ")
        .and_then(|task| task.split_once(" :"))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split(", ").collect();
    let [tags @ .., id, start, end] = parts.as_slice() else {
        return false;
    };
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    safe(label)
        && tags
            .iter()
            .all(|tag| ["milestone", "crit", "active", "done"].contains(tag))
        && id.strip_prefix('t').is_some_and(digits)
        && digits(start)
        && digits(end)
}

#[tokio::test]
async fn gantt_charts_draw_the_operation_and_escape_every_label() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    write_worked_example(&app, &key).await;
    let response = app
        .get(&format!("/v1/operations/{WORKED}/gantt"), &key)
        .await;
    assert_eq!(
        response.headers()["content-type"],
        "text/vnd.mermaid; charset=utf-8"
    );
    let chart = response.text().await.unwrap();
    assert!(
        chart.starts_with(&format!("gantt\n    title Operation {WORKED}\n")),
        "{chart}"
    );
    let sections: Vec<&str> = chart
        .lines()
        .filter(|line| line.starts_with("    section "))
        .collect();
    assert_eq!(
        sections,
        [
            "    section Publisher Erp",
            "    section Platform",
            "    section Consumer Shop",
            "    section Consumer Crm"
        ]
    );
    let tasks = chart.lines().filter(|line| line.contains(" :")).count();
    assert_eq!(tasks, 11, "{chart}");
    assert!(chart.lines().all(is_expected_mermaid_line), "{chart}");
    assert!(
        chart.lines().any(|line| line.contains(":crit, milestone")),
        "{chart}"
    );

    // Sources, scopes and messages written to break out of their labels.
    let hostile = "dddddddd-0000-4000-8000-00000000000d";
    let evil_source = (C1, "Evil: %% section pwned, crit <b>");
    let message = "<script>alert(1)</script>\n%%{init: {'theme':'dark'}}%%\nclick t1 call alert(1)";
    write_batch(
        &app,
        &key,
        vec![
            timed(hostile, "ConsumeData", "Application|Start", evil_source, 0),
            with(
                timed(hostile, "ConsumeData", "Application|Begin", evil_source, 10),
                "scopeId",
                "x :crit, done, t9, 0, 1 #35; %% click",
            ),
            with(
                timed(hostile, "ConsumeData", "Application|End", evil_source, 20),
                "scopeId",
                "x :crit, done, t9, 0, 1 #35; %% click",
            ),
            with(
                with(
                    timed(hostile, "ConsumeData", "Validation", evil_source, 30),
                    "severity",
                    "Error",
                ),
                "message",
                message,
            ),
            timed(
                hostile,
                "ConsumeData",
                "Application|Finish",
                evil_source,
                40,
            ),
        ],
    )
    .await;
    let chart = app
        .get(&format!("/v1/operations/{hostile}/gantt"), &key)
        .await
        .text()
        .await
        .unwrap();
    assert!(chart.lines().all(is_expected_mermaid_line), "{chart}");
    assert_eq!(
        chart
            .lines()
            .filter(|line| line.starts_with("    section "))
            .count(),
        1,
        "{chart}"
    );
    for forbidden in ["%%", "<script", "<b>", "click t1", "{init"] {
        assert!(!chart.contains(forbidden), "{forbidden:?} in {chart}");
    }

    let response = app
        .get(&format!("/v1/operations/{hostile}/gantt?format=svg"), &key)
        .await;
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{svg}");
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;script&gt;"), "{svg}");

    expect_error(
        app.get(&format!("/v1/operations/{WORKED}/gantt?format=png"), &key)
            .await,
        StatusCode::BAD_REQUEST,
        "query parameter `format`: expected mermaid or svg",
    )
    .await;
    expect_error(
        app.get("/v1/operations/not-an-operation/gantt", &key).await,
        StatusCode::NOT_FOUND,
        "operation not found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recent_operations_come_newest_first_with_span_and_worst_severity() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let other = app.full_key("other").await;
    let erp = (ERP, "Erp");
    let ops = [
        "00000000-0000-4000-8000-000000000001",
        "00000000-0000-4000-8000-000000000002",
        "00000000-0000-4000-8000-000000000003",
    ];
    // Recorded one after the other, so that the last is the newest.
    let batches = [
        vec![
            timed(ops[0], "InputData", "Application|Start", erp, 0),
            timed(ops[0], "InputData", "Application|Finish", erp, 1000),
        ],
        vec![
            timed(ops[1], "InputData", "Application|Start", erp, 0),
            with(
                timed(ops[1], "ConsumeData", "Validation", erp, 500),
                "severity",
                "Warning",
            ),
            timed(ops[1], "ConsumeData", "Application|Finish", erp, 2500),
        ],
        vec![
            timed(ops[2], "ConsumeData", "Application|Start", erp, 200),
            with(
                timed(ops[2], "ConsumeData", "Validation", erp, 300),
                "severity",
                "Error",
            ),
        ],
    ];
    for batch in batches {
        write_batch(&app, &key, batch).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    write_batch(
        &app,
        &other,
        vec![timed(WORKED, "InputData", "Application|Start", erp, 0)],
    )
    .await;

    let first = expect_status(
        app.get("/v1/operations?limit=2", &key).await,
        StatusCode::OK,
    )
    .await;
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{first}");
    assert_eq!(data[0]["operationId"], ops[2]);
    assert_eq!(data[0]["durationMs"], 100);
    assert_eq!(data[0]["worstSeverity"], "Error");
    assert_eq!(data[0]["firstAt"], at(200));
    assert_eq!(data[0]["operationTypes"], json!(["ConsumeData"]));
    assert_eq!(data[1]["operationId"], ops[1]);
    assert_eq!(data[1]["durationMs"], 2500);
    assert_eq!(data[1]["worstSeverity"], "Warning");
    assert_eq!(data[1]["items"], 3);
    assert_eq!(
        data[1]["operationTypes"],
        json!(["InputData", "ConsumeData"])
    );
    let cursor = first["nextCursor"].as_str().unwrap();
    let rest = expect_status(
        app.get(&format!("/v1/operations?limit=2&cursor={cursor}"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 1, "{rest}");
    assert_eq!(rest["data"][0]["operationId"], ops[0]);
    assert_eq!(rest["data"][0]["worstSeverity"], "Info");
    assert_eq!(rest["data"][0]["complete"], true);
    assert!(rest["nextCursor"].is_null());

    // The other account sees its own operation only; bounds are checked.
    let theirs = expect_status(app.get("/v1/operations", &other).await, StatusCode::OK).await;
    assert_eq!(theirs["data"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["data"][0]["operationId"], WORKED);
    expect_error(
        app.get("/v1/operations?limit=201", &key).await,
        StatusCode::BAD_REQUEST,
        "limit",
    )
    .await;
    expect_error(
        app.get("/v1/operations?cursor=nope", &key).await,
        StatusCode::BAD_REQUEST,
        "cursor",
    )
    .await;
    let future = expect_status(
        app.get("/v1/operations?from=2100-01-01T00:00:00Z", &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(future["data"], json!([]));
    app.stop().await;
}
