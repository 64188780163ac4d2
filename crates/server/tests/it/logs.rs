//! `GET` and `POST /v1/executions/{id}/logs`: cursor pages, filters, bulk batches.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};

fn seqs(lines: &[Value]) -> Vec<u64> {
    lines
        .iter()
        .map(|line| line["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_and_ndjson_batches_append_in_order() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let execution = app.launch(&key, "job").await;
    let id = execution["id"].as_str().unwrap();
    let path = format!("/v1/executions/{id}/logs");

    let appended = expect_status(
        app.post(
            &path,
            &key,
            json!([
                {"message": "starting"},
                {"message": "**3** files", "messageType": "MARKDOWN", "severity": "warning",
                 "emitterName": "loader", "eventCorrelationId": "evt-9", "timestamp": "2026-11-22T08:00:00.5+01:00"}
            ]),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(appended["count"], 2);
    assert_eq!(appended["firstSeq"], 0);
    assert_eq!(appended["lastSeq"], 1);
    assert_eq!(appended["executionId"], id);

    let ndjson = "{\"message\":\"three\"}\n\n{\"message\":\"four\",\"severity\":\"error\"}\n";
    let response = app
        .request(Method::POST, &path, &key)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    let appended = expect_status(response, StatusCode::CREATED).await;
    assert_eq!(
        (appended["firstSeq"].as_u64(), appended["lastSeq"].as_u64()),
        (Some(2), Some(3))
    );

    let lines = app.read_all(&key, id).await;
    assert_eq!(seqs(&lines), [0, 1, 2, 3]);
    let detailed = &lines[1];
    assert_eq!(detailed["id"], format!("{id}:1"));
    assert_eq!(detailed["executionId"], id);
    assert_eq!(detailed["jobInstanceId"], id);
    assert_eq!(detailed["cid"], execution["cid"]);
    assert_eq!(detailed["accountId"], execution["accountId"]);
    assert_eq!(detailed["code"], "LOG");
    assert_eq!(detailed["severity"], "warning");
    assert_eq!(detailed["messageType"], "MARKDOWN");
    assert_eq!(detailed["emitterName"], "loader");
    assert_eq!(detailed["eventCorrelationId"], "evt-9");
    assert_eq!(detailed["timestamp"], "2026-11-22T07:00:00.500Z");
    assert!(lines[0].get("timestamp").is_none());
    assert_eq!(lines[3]["severity"], "error");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_all_or_nothing_and_bounded() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let path = format!("/v1/executions/{id}/logs");
    expect_error(
        app.post(
            &path,
            &key,
            json!([{"message": "fine"}, {"message": "bad", "severity": "loud"}]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`[1].severity`: unknown severity `loud`",
    )
    .await;
    expect_error(
        app.post(
            &path,
            &key,
            json!([{"message": "fine"}, {"severity": "info"}]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`[1]`: missing field `message`",
    )
    .await;
    expect_error(
        app.post(&path, &key, json!({"message": "not an array"}))
            .await,
        StatusCode::BAD_REQUEST,
        "expected an array of at most 10000 log entries",
    )
    .await;
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({"message": "m"})).collect();
    expect_error(
        app.post(&path, &key, Value::Array(too_many)).await,
        StatusCode::BAD_REQUEST,
        "at most 10000 entries",
    )
    .await;
    assert!(
        app.read_all(&key, &id).await.is_empty(),
        "no refused batch left a line"
    );

    let most: Vec<Value> = (0..10_000)
        .map(|n| json!({"message": n.to_string()}))
        .collect();
    let appended = expect_status(
        app.post(&path, &key, Value::Array(most)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(appended["count"], 10_000);
    let empty = expect_status(app.post(&path, &key, json!([])).await, StatusCode::CREATED).await;
    assert_eq!(empty["count"], 0);
    assert_eq!(empty["firstSeq"], Value::Null);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_reach_any_depth_in_both_orders() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let total = 50_000_u64;
    for batch in 0..(total / 10_000) {
        let lines: Vec<Value> = (0..10_000)
            .map(|n| json!({"message": format!("line {}", batch * 10_000 + n)}))
            .collect();
        let path = format!("/v1/executions/{id}/logs");
        expect_status(
            app.post(&path, &key, Value::Array(lines)).await,
            StatusCode::CREATED,
        )
        .await;
    }
    for (order, first, step) in [("asc", 0_i64, 1_i64), ("desc", total as i64 - 1, -1)] {
        let mut path = format!("/v1/executions/{id}/logs?limit=1000&order={order}");
        let mut expected = first;
        let mut pages = 0;
        loop {
            let page = expect_status(app.get(&path, &key).await, StatusCode::OK).await;
            for line in page["data"].as_array().unwrap() {
                assert_eq!(line["seq"].as_i64().unwrap(), expected);
                assert_eq!(line["message"], format!("line {expected}"));
                expected += step;
            }
            pages += 1;
            match page["nextCursor"].as_str() {
                Some(cursor) => {
                    path = format!("/v1/executions/{id}/logs?limit=1000&cursor={cursor}")
                }
                None => break,
            }
        }
        assert_eq!(pages, 50, "{order}");
        assert_eq!(
            expected,
            if step > 0 { total as i64 } else { -1 },
            "{order}: reached the end"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_and_time_filters() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let path = format!("/v1/executions/{id}/logs");
    let severities = ["info", "warning", "debug", "error"];
    let batch: Vec<Value> = (0..40)
        .map(|n| json!({"message": n.to_string(), "severity": severities[n % 4]}))
        .collect();
    let appended = expect_status(
        app.post(&path, &key, Value::Array(batch)).await,
        StatusCode::CREATED,
    )
    .await;
    let written_at = appended["createdAt"].as_str().unwrap().to_owned();

    let mut found = Vec::new();
    let mut next = format!("{path}?severity=warning,error&limit=7&order=desc");
    loop {
        let page = expect_status(app.get(&next, &key).await, StatusCode::OK).await;
        found.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => next = format!("{path}?severity=warning,error&limit=7&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<u64> = (0..40).rev().filter(|n| n % 4 == 1 || n % 4 == 3).collect();
    assert_eq!(seqs(&found), expected);

    let from = expect_status(
        app.get(&format!("{path}?from={written_at}"), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        from["data"].as_array().unwrap().len(),
        40,
        "from is inclusive"
    );
    let to = expect_status(
        app.get(&format!("{path}?to={written_at}"), &key).await,
        StatusCode::OK,
    )
    .await;
    assert!(to["data"].as_array().unwrap().is_empty(), "to is exclusive");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_parameters_are_checked() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    app.append(&key, &id, &["a", "b", "c"]).await;
    let path = format!("/v1/executions/{id}/logs");
    let page = expect_status(
        app.get(&format!("{path}?limit=1&order=desc"), &key).await,
        StatusCode::OK,
    )
    .await;
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    let executions_cursor = expect_status(
        app.get("/v1/executions?limit=1", &key).await,
        StatusCode::OK,
    )
    .await;
    let _ = executions_cursor;
    for (query, needle) in [
        (
            "limit=1001".to_owned(),
            "invalid query parameter `limit`: must be between 1 and 1000, got 1001",
        ),
        ("limit=0".to_owned(), "must be between 1 and 1000, got 0"),
        (
            "order=sideways".to_owned(),
            "invalid query parameter `order`: unknown order `sideways`, expected one of asc, desc",
        ),
        (
            "severity=info,loud".to_owned(),
            "invalid query parameter `severity`: unknown severity `loud`",
        ),
        (
            "from=2026-13-01T00:00:00Z".to_owned(),
            "invalid query parameter `from`",
        ),
        ("cursor=%%%".to_owned(), "invalid query parameter `cursor`"),
        (
            format!("cursor={cursor}&order=asc"),
            "the cursor continues a page read in `desc` order",
        ),
    ] {
        expect_error(
            app.get(&format!("{path}?{query}"), &key).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    // The cursor alone continues in its own order.
    let rest = expect_status(
        app.get(&format!("{path}?cursor={cursor}"), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seqs(rest["data"].as_array().unwrap()), [1, 0]);

    expect_error(
        app.get("/v1/executions/not-a-uuid/logs", &key).await,
        StatusCode::BAD_REQUEST,
        "execution ID is not a UUID",
    )
    .await;
    expect_error(
        app.get(
            "/v1/executions/6c1a1f4e-0000-4000-8000-000000000000/logs",
            &key,
        )
        .await,
        StatusCode::NOT_FOUND,
        "execution not found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_may_carry_bounded_attributes() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let path = format!("/v1/executions/{id}/logs");
    let lines = json!([
        {"message": "plain"},
        {"message": "detailed", "attributes": {"rows": 42, "table": {"name": "orders"}}},
        {"message": "empty", "attributes": {}}
    ]);
    expect_status(app.post(&path, &key, lines).await, StatusCode::CREATED).await;
    let read = app.read_all(&key, &id).await;
    assert!(read[0].get("attributes").is_none(), "{}", read[0]);
    assert_eq!(
        read[1]["attributes"],
        json!({"rows": 42, "table": {"name": "orders"}})
    );
    assert!(read[2].get("attributes").is_none(), "{}", read[2]);

    let big = json!([{"message": "x", "attributes": {"blob": "x".repeat(20_000)}}]);
    expect_error(
        app.post(&path, &key, big).await,
        StatusCode::BAD_REQUEST,
        "attributes",
    )
    .await;
    let scalar = json!([{"message": "x", "attributes": 7}]);
    expect_error(
        app.post(&path, &key, scalar).await,
        StatusCode::BAD_REQUEST,
        "attributes",
    )
    .await;
    assert_eq!(
        app.read_all(&key, &id).await.len(),
        3,
        "nothing of a refused batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_lines_with_a_client_id_are_written_once() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "import").await;
    let path = format!("/v1/executions/{id}/logs");
    let first = expect_status(
        app.post(
            &path,
            &key,
            json!([{"message": "a", "clientId": "l-1"}, {"message": "b", "clientId": "l-2"}]),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        (first["count"].clone(), first["duplicates"].clone()),
        (json!(2), json!(0))
    );
    // The writer did not hear back, and resends with the next line, in another batch.
    let resent = expect_status(
        app.post(
            &path,
            &key,
            json!([{"message": "b", "clientId": "l-2"}, {"message": "c", "clientId": "l-3"}]),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(resent["count"], 1);
    assert_eq!(resent["duplicates"], 1);
    assert_eq!(
        (resent["firstSeq"].clone(), resent["lastSeq"].clone()),
        (json!(2), json!(2))
    );
    let page = expect_status(app.get(&path, &key).await, StatusCode::OK).await;
    let read: Vec<(Value, Value)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| (line["message"].clone(), line["clientId"].clone()))
        .collect();
    assert_eq!(
        read,
        [
            (json!("a"), json!("l-1")),
            (json!("b"), json!("l-2")),
            (json!("c"), json!("l-3"))
        ]
    );
    expect_error(
        app.post(
            &path,
            &key,
            json!([{"message": "d", "clientId": "x".repeat(129)}]),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "clientId",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_start_at_a_seq_filter_by_text_and_render_html() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let path = format!("/v1/executions/{id}/logs");
    // 30,000 lines; every 7,000th says "Needle", one is markdown, one is coloured.
    let lines: Vec<Value> = (0..30_000)
        .map(|n| match n {
            5 => json!({"message": "**bold** <script>x()</script>", "messageType": "MARKDOWN"}),
            6 => json!({"message": "\u{1b}[31mred\u{1b}[0m <b>"}),
            n if n % 7_000 == 0 => json!({"message": format!("line {n}: the NEEDLE is here")}),
            n => json!({"message": format!("line {n}")}),
        })
        .collect();
    for chunk in lines.chunks(10_000) {
        expect_status(
            app.post(&path, &key, Value::Array(chunk.to_vec())).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let read = |query: String| {
        let (app, key, path) = (&app, &key, &path);
        async move {
            expect_status(
                app.get(&format!("{path}?{query}"), key).await,
                StatusCode::OK,
            )
            .await
        }
    };

    // afterSeq starts a page anywhere, in either order.
    let page = read("afterSeq=100&limit=3".into()).await;
    assert_eq!(seqs(page["data"].as_array().unwrap()), [101, 102, 103]);
    let page = read("afterSeq=100&limit=3&order=desc".into()).await;
    assert_eq!(seqs(page["data"].as_array().unwrap()), [99, 98, 97]);
    let cursor = page["nextCursor"].as_str().unwrap().to_owned();
    expect_error(
        app.get(&format!("{path}?afterSeq=1&cursor={cursor}"), &key)
            .await,
        StatusCode::BAD_REQUEST,
        "afterSeq",
    )
    .await;

    // `contains` ignores case, and looks through at most 20,000 lines a request: the first
    // request finds the matches among seqs 0..20,000 and hands on a cursor.
    let first = read("contains=needle&limit=10".into()).await;
    assert_eq!(seqs(first["data"].as_array().unwrap()), [0, 7_000, 14_000]);
    let cursor = first["nextCursor"].as_str().expect("more to look through");
    let rest = read(format!("contains=needle&limit=10&cursor={cursor}")).await;
    assert_eq!(seqs(rest["data"].as_array().unwrap()), [21_000, 28_000]);
    assert!(rest["nextCursor"].is_null());
    // A full page stops there, with a cursor past its last line.
    let full = read("contains=NEEDLE&limit=2&order=desc".into()).await;
    assert_eq!(seqs(full["data"].as_array().unwrap()), [28_000, 21_000]);
    assert!(full["nextCursor"].is_string());
    for bad in ["contains=", &format!("contains={}", "x".repeat(1025))] {
        expect_error(
            app.get(&format!("{path}?{bad}"), &key).await,
            StatusCode::BAD_REQUEST,
            "contains",
        )
        .await;
    }

    // render=html adds safe HTML beside the message, which is left as written.
    let page = read("afterSeq=4&limit=2&render=html".into()).await;
    let (markdown, coloured) = (&page["data"][0], &page["data"][1]);
    assert_eq!(markdown["message"], "**bold** <script>x()</script>");
    let html = markdown["messageHtml"].as_str().unwrap();
    assert!(
        html.contains("<strong>bold</strong>") && !html.contains("<script"),
        "{html}"
    );
    assert_eq!(
        coloured["messageHtml"],
        "<span class=\"ansi-fg-1\">red</span> &lt;b&gt;"
    );
    let plain = read("limit=1".into()).await;
    assert!(plain["data"][0].get("messageHtml").is_none());
    expect_error(
        app.get(&format!("{path}?render=pdf"), &key).await,
        StatusCode::BAD_REQUEST,
        "render",
    )
    .await;
    app.stop().await;
}
