//! Shutting down: in-flight requests finish, long waits end early, and everything
//! acknowledged is there after a restart.

use futures_util::future::join_all;
use pipelog_server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_claim_ends_when_the_server_stops() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let client = app.client.clone();
    let url = app.url("/v1/executions/claim");
    let waiting = tokio::spawn(async move {
        client
            .post(url)
            .header("X-Api-Key", key)
            .json(&json!({"jobKey": "never", "waitSeconds": 30}))
            .send()
            .await
            .unwrap()
            .status()
    });
    // Wait (boundedly) until the claim is being served, so shutdown finds it in flight.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.claims_waiting() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the claim never reached the server"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let started = std::time::Instant::now();
    app.stop().await;
    let status = waiting.await.unwrap();
    assert!(
        status == StatusCode::NO_CONTENT,
        "a claim waiting through shutdown is answered 204, got {status}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "shutdown did not wait out the claim"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_restart() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let path = format!("/v1/executions/{id}/logs");
    let writes = (0..50).map(|n| app.post(&path, &key, json!([{"message": format!("w{n}")}])));
    let acknowledged: Vec<String> = join_all(writes)
        .await
        .into_iter()
        .enumerate()
        .filter(|(_, response)| response.status() == StatusCode::CREATED)
        .map(|(n, _)| format!("w{n}"))
        .collect();
    assert_eq!(acknowledged.len(), 50);
    let stopped = app.stop().await;

    let again = TestApp::spawn_in(stopped, ServerConfig::default()).await;
    let mut messages: Vec<String> = again
        .read_all(&key, &id)
        .await
        .iter()
        .map(|line: &Value| line["message"].as_str().unwrap().to_owned())
        .collect();
    messages.sort();
    let mut expected = acknowledged;
    expected.sort();
    assert_eq!(messages, expected);
    again.stop().await;
}
