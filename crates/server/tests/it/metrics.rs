//! `/metrics`, `/healthz` and `/readyz`: no key needed, requests counted by route template,
//! what clients wrote counted by stream, nothing that names an account or an id.

use reqwest::StatusCode;
use serde_json::json;

use crate::app::{TestApp, expect_status};

/// The value of the sample line that starts with `series` (name and labels exactly).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_a_key() {
    let app = TestApp::spawn().await;
    for (path, status) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let answer = expect_status(response, StatusCode::OK).await;
        assert_eq!(answer, json!({ "status": status }), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_and_writes_by_stream() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme-private-account").await;
    let id = app.launch_id(&key, "nightly-import").await;
    app.append(&key, &id, &["one", "two", "three"]).await;
    let path = format!("/v1/executions/{id}/logs?limit=2");
    expect_status(app.get(&path, &key).await, StatusCode::OK).await;
    expect_status(app.get(&path, &key).await, StatusCode::OK).await;
    let response = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let invented = reqwest::Method::from_bytes(b"BREW").unwrap();
    let response = app
        .client
        .request(invented, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");

    let reads = r#"pipelog_http_requests_total{method="GET",route="/v1/executions/{id}/logs",status="200"}"#;
    assert_eq!(sample(&text, reads), Some(2.0), "{text}");
    let unmatched = r#"pipelog_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&text, unmatched), Some(1.0), "{text}");
    let timed = r#"pipelog_http_request_duration_seconds_count{method="GET",route="/v1/executions/{id}/logs"}"#;
    assert_eq!(sample(&text, timed), Some(2.0), "{text}");

    let lines = r#"pipelog_entries_written_total{stream="execution_log"}"#;
    assert_eq!(sample(&text, lines), Some(3.0), "{text}");
    let items = r#"pipelog_entries_written_total{stream="operating"}"#;
    assert_eq!(sample(&text, items), Some(0.0), "{text}");
    assert!(
        sample(&text, "pipelog_commit_writes_count").unwrap() >= 2.0,
        "{text}"
    );
    assert!(
        sample(&text, "pipelog_committed_rows_total").unwrap() >= 3.0,
        "{text}"
    );
    assert_eq!(sample(&text, "pipelog_failed_commits_total"), Some(0.0));
    assert_eq!(sample(&text, "pipelog_write_queue_depth"), Some(0.0));
    assert!(sample(&text, "pipelog_write_queue_capacity").unwrap() > 0.0);
    assert!(sample(&text, "pipelog_store_size_bytes").unwrap() > 0.0);

    let invented = r#"pipelog_http_requests_total{method="OTHER",route="/healthz",status="405"}"#;
    assert_eq!(
        sample(&text, invented),
        Some(1.0),
        "invented methods share one series"
    );
    assert!(!text.contains("BREW"));
    for private in ["acme-private-account", "nightly-import", id.as_str()] {
        assert!(!text.contains(private), "{private} shows in the metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_jobs_are_counted_by_status() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    app.append(&key, &id, &["a line"]).await;
    expect_status(
        app.post(
            &format!("/monitoring/executions/{id}/logs"),
            &key,
            json!(null),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let jobs = |status: &str| {
        sample(
            &text,
            &format!(r#"pipelog_export_jobs{{status="{status}"}}"#),
        )
        .unwrap_or_else(|| panic!("no {status} series: {text}"))
    };
    assert_eq!(jobs("IN_PROGRESS") + jobs("READY"), 1.0, "{text}");
    assert_eq!(jobs("FAILED"), 0.0, "{text}");
}
