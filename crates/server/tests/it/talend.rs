//! Talend's Execution Logs API: `GET` and `DELETE /monitoring/executions/{id}/logs`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};

fn seqs(page: &Value) -> Vec<u64> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["seq"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_by_position_newest_first() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let messages: Vec<String> = (0..120).map(|n| format!("line {n}")).collect();
    let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
    app.append(&key, &id, &messages).await;
    let path = format!("/monitoring/executions/{id}/logs");

    let first = expect_status(app.get(&path, &key).await, StatusCode::OK).await;
    assert_eq!(first["size"], 50, "count defaults to 50");
    assert_eq!(first["totalSize"], 120);
    assert_eq!(first["totalSizeFiltered"], 120);
    assert_eq!(first["nextIndex"], 50);
    assert_eq!(
        seqs(&first)[..3],
        [119, 118, 117],
        "newest first by default"
    );
    let line = &first["data"][0];
    assert_eq!(line["severity"], "INFO");
    assert_eq!(line["logType"], "DEFAULT");
    assert_eq!(line["logMessage"], "line 119");
    assert!(line["logTimestamp"].is_i64());
    assert_eq!(line["id"], format!("{id}:119"));

    let deep = expect_status(
        app.get(&format!("{path}?startIndex=100&count=50"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(deep["size"], 20);
    assert_eq!(seqs(&deep), (0..20).rev().collect::<Vec<u64>>());
    assert!(
        deep.get("nextIndex").is_none(),
        "no next page after the last"
    );
    let ascending = expect_status(
        app.get(&format!("{path}?order=asc&startIndex=10&count=3"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seqs(&ascending), [10, 11, 12]);
    assert_eq!(ascending["nextIndex"], 13);
    let beyond = expect_status(
        app.get(&format!("{path}?startIndex=500"), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (beyond["size"].as_u64(), beyond["totalSize"].as_u64()),
        (Some(0), Some(120))
    );

    // Times are inclusive at both ends.
    let at = first["data"][0]["createdAt"].as_str().unwrap().to_owned();
    let window = expect_status(
        app.get(
            &format!("{path}?startTime={at}&endTime={at}&count=200"),
            &key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        window["totalSizeFiltered"], 120,
        "one batch, one commit time"
    );
    let before = expect_status(
        app.get(&format!("{path}?endTime=2000-01-01T00:00:00Z"), &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (
            before["size"].as_u64(),
            before["totalSizeFiltered"].as_u64()
        ),
        (Some(0), Some(0))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_ids_and_tenants_are_checked() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let other = app.full_key("initech").await;
    let id = app.launch_id(&key, "job").await;
    let path = format!("/monitoring/executions/{id}/logs");
    for (query, needle) in [
        (
            "count=201",
            "invalid query parameter `count`: must be between 1 and 200, got 201",
        ),
        ("count=0", "must be between 1 and 200, got 0"),
        ("count=1.5", "invalid query parameter `count`"),
        ("startIndex=-1", "invalid query parameter `startIndex`"),
        ("order=UP", "unknown order `UP`, expected one of asc, desc"),
        ("startTime=today", "invalid query parameter `startTime`"),
    ] {
        expect_error(
            app.get(&format!("{path}?{query}"), &key).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    expect_status(
        app.get(&format!("{path}?order=DESC"), &key).await,
        StatusCode::OK,
    )
    .await;
    for method_path in ["/monitoring/executions/658445e23ad5b929948ab731/logs"] {
        expect_error(
            app.get(method_path, &key).await,
            StatusCode::BAD_REQUEST,
            "execution ID is not a UUID",
        )
        .await;
        expect_error(
            app.delete(method_path, &key).await,
            StatusCode::BAD_REQUEST,
            "execution ID is not a UUID",
        )
        .await;
    }
    expect_error(
        app.get(&path, &other).await,
        StatusCode::NOT_FOUND,
        "execution not found",
    )
    .await;
    expect_error(
        app.delete(&path, &other).await,
        StatusCode::NOT_FOUND,
        "execution not found",
    )
    .await;
    expect_error(
        app.get(
            "/monitoring/executions/6c1a1f4e-0000-4000-8000-000000000000/logs",
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
async fn deleting_empties_the_log_and_is_audited() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let reader = app.key("acme", &["EXECUTION_LOGS_READ"]).await;
    let id = app.launch_id(&key, "job").await;
    let busy = app.launch_id(&key, "busy").await;
    app.append(&key, &id, &["a", "b", "c"]).await;
    app.append(&key, &busy, &["x"]).await;
    let path = format!("/monitoring/executions/{id}/logs");

    expect_error(
        app.delete(&path, &reader).await,
        StatusCode::FORBIDDEN,
        "EXECUTION_LOGS_DELETE",
    )
    .await;
    let deleted = expect_status(app.delete(&path, &key).await, StatusCode::OK).await;
    assert_eq!(deleted, json!({"executionId": id, "deleted": 3}));
    let empty = expect_status(app.get(&path, &key).await, StatusCode::OK).await;
    assert_eq!(
        (empty["size"].as_u64(), empty["totalSize"].as_u64()),
        (Some(0), Some(0))
    );
    let again = expect_status(app.delete(&path, &key).await, StatusCode::OK).await;
    assert_eq!(again["deleted"], 0, "200 when there was nothing");

    // Other executions take lines meanwhile; this one numbers on.
    app.append(&key, &busy, &["y"]).await;
    let later = app.append(&key, &id, &["d"]).await;
    assert_eq!(later["firstSeq"], 3);
    assert_eq!(app.read_all(&key, &busy).await.len(), 2);

    let audit = expect_status(
        app.post(
            "/v1/audit_logs/find",
            &key,
            json!({"type": "eq", "field": "type", "value": "execution_logs.delete"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let details: Vec<&Value> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| &entry["details"])
        .collect();
    assert_eq!(details.len(), 2);
    assert_eq!(details[1]["deletedLines"], 3);
    assert_eq!(details[1]["jobInstanceId"], id);
    assert!(details[1]["userId"].is_string());
    app.stop().await;
}
