//! SIGTERM drains in-flight requests and commits every accepted write; SIGKILL loses
//! nothing that was acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::process::{CHOSEN_KEY, Server};

const KEY: (&str, &str) = ("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY);

/// Launches an execution and fires `writes` concurrent one-line appends at it; once
/// `stop_after` have been acknowledged, `stop` is called. Returns the execution id and the
/// messages acknowledged with 201.
async fn write_while_stopping(
    server: &Server,
    writes: usize,
    stop_after: usize,
    stop: impl FnOnce() + Send + 'static,
) -> (String, Vec<String>) {
    let client = reqwest::Client::new();
    let execution = server
        .call(
            &client,
            Method::POST,
            "/v1/executions",
            json!({"jobKey": "durable"}),
        )
        .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    let url = server.url(&format!("/v1/executions/{id}/logs"));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::Mutex::new(Some(stop)));
    let requests = (0..writes).map(|n| {
        let client = client.clone();
        let url = url.clone();
        let acknowledged = Arc::clone(&acknowledged);
        let stop = Arc::clone(&stop);
        async move {
            let message = format!("write {n}");
            let response = client
                .post(&url)
                .header("X-Api-Key", CHOSEN_KEY)
                .json(&json!([{"message": message}]))
                .send()
                .await;
            let ok = matches!(&response, Ok(r) if r.status() == StatusCode::CREATED);
            if ok
                && acknowledged.fetch_add(1, Ordering::SeqCst) + 1 == stop_after
                && let Some(stop) = stop.lock().unwrap().take()
            {
                stop();
            }
            ok.then_some(message)
        }
    });
    let acked = join_all(requests).await.into_iter().flatten().collect();
    (id, acked)
}

/// Every line of the execution, after a restart, with seqs checked for gaps.
async fn lines_after_restart(dir: &std::path::Path, id: &str) -> Vec<String> {
    let server = Server::start(dir, &[], &[KEY]);
    let messages = server.messages(&reqwest::Client::new(), id).await;
    assert!(server.terminate().success());
    messages
}

fn assert_all_present_once(acknowledged: &[String], stored: &[String]) {
    let mut sorted = stored.to_vec();
    sorted.sort();
    let before = sorted.len();
    sorted.dedup();
    assert_eq!(sorted.len(), before, "a line was stored twice");
    for message in acknowledged {
        assert!(
            sorted.binary_search(message).is_ok(),
            "acknowledged {message:?} was lost"
        );
    }
}

/// Fires 400 concurrent one-line writes at a fresh server, sends it `signal` once 50 were
/// acknowledged, waits for it to exit, restarts it, and checks that every acknowledged line
/// is there exactly once. Returns how the first process exited.
async fn acknowledged_writes_survive(signal: &'static str) -> std::process::ExitStatus {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[KEY]);
    let pid = server.pid().to_string();
    let (id, acknowledged) = write_while_stopping(&server, 400, 50, move || {
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill {signal}");
    })
    .await;
    assert!(acknowledged.len() >= 50);
    let exit = server.wait();
    let stored = lines_after_restart(dir.path(), &id).await;
    assert_all_present_once(&acknowledged, &stored);
    exit
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_commits_every_accepted_write() {
    let exit = acknowledged_writes_survive("-TERM").await;
    assert!(exit.success(), "a clean exit after SIGTERM, got {exit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged() {
    let exit = acknowledged_writes_survive("-KILL").await;
    assert!(!exit.success(), "SIGKILL cannot exit cleanly, got {exit}");
}
