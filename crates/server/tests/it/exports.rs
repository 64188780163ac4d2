//! Exports: `POST .../logs` builds a file, `.../logs/status` hands out a signed link, the
//! link downloads it without a key.

use std::time::{Duration, Instant};

use pipelog_server::{ServerConfig, UrlSigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{LINK_KEY, TestApp, expect_error, expect_status};

async fn status(
    app: &TestApp,
    key: &str,
    id: &str,
    body: String,
    content_type: &str,
) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/monitoring/executions/{id}/logs/status")))
        .header("X-Api-Key", key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Polls the status until the export is no longer in progress; the last answer.
async fn finished(app: &TestApp, key: &str, id: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = expect_status(
            status(app, key, id, token.to_owned(), "text/plain").await,
            StatusCode::OK,
        )
        .await;
        if answer["status"] != "IN_PROGRESS" {
            return answer;
        }
        assert!(answer.get("presignedURL").is_none());
        assert!(Instant::now() < deadline, "the export never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits for the export to be ready; its link.
async fn ready_link(app: &TestApp, key: &str, id: &str, token: &str) -> String {
    let answer = finished(app, key, id, token).await;
    assert_eq!(answer["status"], "READY", "{answer}");
    answer["presignedURL"].as_str().unwrap().to_owned()
}

/// Asks for an export of execution `id` (`query`: `?fileFormat=...`, or empty); its answer.
async fn start_export(app: &TestApp, key: &str, id: &str, query: &str) -> Value {
    expect_status(
        app.post(
            &format!("/monitoring/executions/{id}/logs{query}"),
            key,
            json!(null),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

async fn launch_with_lines(app: &TestApp, key: &str, count: usize) -> Value {
    let execution = app.launch(key, "export-job").await;
    let id = execution["id"].as_str().unwrap();
    let lines: Vec<Value> = (0..count)
        .map(|n| json!({"message": format!("line {n}"), "emitterName": "loader", "severity": if n % 10 == 9 { "error" } else { "info" }}))
        .collect();
    expect_status(
        app.post(
            &format!("/v1/executions/{id}/logs"),
            key,
            Value::Array(lines),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    execution
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_export_downloads_whole_and_in_ranges() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let execution = launch_with_lines(&app, &key, 2500).await;
    let id = execution["id"].as_str().unwrap();
    let started = start_export(&app, &key, id, "?fileFormat=TEXT&newFileName=true").await;
    assert_eq!(started["size"], 2500);
    let token = started["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 36, "a UUID like Talend's");
    let link = ready_link(&app, &key, id, &token).await;
    assert!(link.starts_with(&app.base), "{link}");

    // No key needed.
    let whole = reqwest::get(&link).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    let disposition = whole.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        disposition,
        format!(
            "attachment; filename=\"{}_{id}.log\"",
            execution["jobId"].as_str().unwrap()
        )
    );
    assert!(
        whole.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    let text = whole.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2500);
    let first: Vec<&str> = lines[0].splitn(4, ' ').collect();
    assert!(
        first[0].ends_with('Z') && first[0].len() == 24,
        "{}",
        lines[0]
    );
    assert_eq!(&first[1..], ["INFO", "[loader]", "line 0"]);
    assert!(lines[9].contains(" ERROR [loader] line 9"), "{}", lines[9]);

    // A broken download resumes where it stopped.
    let resumed = app
        .client
        .get(&link)
        .header("range", "bytes=100-")
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::PARTIAL_CONTENT);
    let total = text.len();
    assert_eq!(
        resumed.headers()["content-range"].to_str().unwrap(),
        format!("bytes 100-{}/{total}", total - 1)
    );
    assert_eq!(resumed.text().await.unwrap(), text[100..]);
    let slice = app
        .client
        .get(&link)
        .header("range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(slice.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(slice.text().await.unwrap(), text[..10]);

    // The same token as a JSON string, as Talend's document sends it.
    let as_json = expect_status(
        status(&app, &key, id, format!("\"{token}\""), "application/json").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(as_json["status"], "READY");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_export_is_an_array_of_entries_within_the_time_range() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let execution = launch_with_lines(&app, &key, 30).await;
    let id = execution["id"].as_str().unwrap();
    let started = start_export(&app, &key, id, "?fileFormat=json").await;
    let link = ready_link(&app, &key, id, started["token"].as_str().unwrap()).await;
    let response = reqwest::get(&link).await.unwrap();
    assert_eq!(
        response.headers()["content-disposition"].to_str().unwrap(),
        format!("attachment; filename=\"{id}.log\"")
    );
    let entries: Vec<Value> = response.json().await.unwrap();
    assert_eq!(entries.len(), 30);
    assert_eq!(entries[0]["logMessage"], "line 0");
    assert_eq!(entries[29]["seq"], 29);
    assert_eq!(entries[9]["severity"], "ERROR");

    let empty = start_export(&app, &key, id, "?endTime=2000-01-01T00:00:00Z").await;
    assert_eq!(empty["size"], 0);
    let link = ready_link(&app, &key, id, empty["token"].as_str().unwrap()).await;
    let entries: Vec<Value> = reqwest::get(&link).await.unwrap().json().await.unwrap();
    assert!(entries.is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_expired_and_foreign_requests_are_refused() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let other = app.full_key("initech").await;
    let execution = launch_with_lines(&app, &key, 5).await;
    let id = execution["id"].as_str().unwrap();
    let started = start_export(&app, &key, id, "").await;
    let token = started["token"].as_str().unwrap().to_owned();
    let link = ready_link(&app, &key, id, &token).await;

    let tampered = link.replace("signature=", "signature=00");
    expect_error(
        reqwest::get(&tampered).await.unwrap(),
        StatusCode::FORBIDDEN,
        "signature does not match",
    )
    .await;
    let later = {
        let expires: i64 = link
            .split("expires=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        link.replace(
            &format!("expires={expires}"),
            &format!("expires={}", expires + 3600),
        )
    };
    expect_error(
        reqwest::get(&later).await.unwrap(),
        StatusCode::FORBIDDEN,
        "signature does not match",
    )
    .await;
    let unsigned = link.split('?').next().unwrap().to_owned();
    expect_error(
        reqwest::get(&unsigned).await.unwrap(),
        StatusCode::FORBIDDEN,
        "is not signed",
    )
    .await;
    let renamed = link.replace(&format!("{id}.log"), "..%2F..%2Fpipelog.db");
    expect_error(
        reqwest::get(&renamed).await.unwrap(),
        StatusCode::FORBIDDEN,
        "signature",
    )
    .await;

    // A link signed correctly but past its time.
    let path = format!("/v1/exports/{token}/{id}.log");
    let past = 1_000_000_000;
    let signature = UrlSigningKey::from_bytes(LINK_KEY).sign(&path, past);
    let expired = format!("{}{path}?expires={past}&signature={signature}", app.base);
    expect_error(
        reqwest::get(&expired).await.unwrap(),
        StatusCode::FORBIDDEN,
        "has expired",
    )
    .await;

    // The status call: other accounts, other executions, bad tokens.
    expect_error(
        status(&app, &other, id, token.clone(), "text/plain").await,
        StatusCode::NOT_FOUND,
        "export not found",
    )
    .await;
    let elsewhere = app.launch_id(&key, "other").await;
    expect_error(
        status(&app, &key, &elsewhere, token.clone(), "text/plain").await,
        StatusCode::NOT_FOUND,
        "export not found",
    )
    .await;
    expect_error(
        status(&app, &key, id, "nope".into(), "text/plain").await,
        StatusCode::BAD_REQUEST,
        "invalid body",
    )
    .await;
    expect_error(
        status(
            &app,
            &key,
            id,
            "6c1a1f4e-0000-4000-8000-000000000000".into(),
            "text/plain",
        )
        .await,
        StatusCode::NOT_FOUND,
        "export not found",
    )
    .await;
    expect_error(
        app.post(
            &format!("/monitoring/executions/{id}/logs?fileFormat=pdf"),
            &key,
            json!(null),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown fileFormat `pdf`, expected one of json, text",
    )
    .await;
    expect_error(
        app.post(
            &format!("/monitoring/executions/{id}/logs?newFileName=maybe"),
            &key,
            json!(null),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid query parameter `newFileName`",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_exports_and_their_files_are_removed() {
    let app = TestApp::spawn_with(ServerConfig {
        export_lifetime: Duration::from_millis(300),
        maintenance_interval: Duration::from_millis(50),
        ..ServerConfig::default()
    })
    .await;
    let key = app.full_key("acme").await;
    let execution = launch_with_lines(&app, &key, 5).await;
    let id = execution["id"].as_str().unwrap();
    let started = start_export(&app, &key, id, "").await;
    let token = started["token"].as_str().unwrap().to_owned();
    let link = ready_link(&app, &key, id, &token).await;
    assert_eq!(std::fs::read_dir(app.exports_dir()).unwrap().count(), 1);

    // Kept twice the token's life, for the last link handed out; then gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(app.exports_dir()).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the expired export's file stayed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    expect_error(
        status(&app, &key, id, token, "text/plain").await,
        StatusCode::NOT_FOUND,
        "export not found",
    )
    .await;
    let response = reqwest::get(&link).await.unwrap();
    assert!(matches!(
        response.status(),
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_cannot_be_written_reports_failed() {
    let app = TestApp::spawn().await;
    // A plain file where the exports directory should be: no export file can be made.
    std::fs::write(app.exports_dir(), b"not a directory").unwrap();
    let key = app.full_key("acme").await;
    let execution = launch_with_lines(&app, &key, 5).await;
    let id = execution["id"].as_str().unwrap();
    let started = start_export(&app, &key, id, "").await;
    let answer = finished(&app, &key, id, started["token"].as_str().unwrap()).await;
    assert_eq!(answer, json!({"status": "FAILED"}));
    app.stop().await;
}
