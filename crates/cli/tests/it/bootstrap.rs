//! First start: the operator key, printed once, or chosen through `PIPELOG_BOOTSTRAP_KEY`.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_printed_key_answers_the_seeds_curl_example() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[]);
    let key = server
        .printed_key()
        .expect("the operator key is printed at first start");
    assert!(key.starts_with("pl_"), "{key}");
    let client = reqwest::Client::new();

    let execution: Value = client
        .post(server.url("/v1/executions"))
        .header("X-Api-Key", &key)
        .json(&json!({"jobKey": "import"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = execution["cid"].as_str().unwrap();

    // Seed 000's curl example, with the base URL, key and cid filled in.
    let response = client
        .post(server.url("/v1/data-factory/log"))
        .header("accept", "*/*")
        .header("X-Api-Key", &key)
        .header("Content-Type", "application/json")
        .header("cid", cid)
        .body(
            r#"{
"message": "Import completed successfully",
"emitterName": "My import job",
"eventCorrelationId": "evt-123",
"severity": "info"
}"#,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let keys: BTreeSet<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for field in [
        "object",
        "id",
        "createdAt",
        "code",
        "severity",
        "message",
        "messageType",
        "accountId",
        "cid",
        "eventCorrelationId",
        "jobInstanceId",
        "emitterName",
    ] {
        assert!(keys.contains(field), "response lacks {field}: {created}");
    }
    assert_eq!(created["object"], "data_factory_log");
    assert_eq!(created["jobInstanceId"], execution["id"]);

    assert!(server.terminate().success());

    // A second start prints no key, and the first one still works.
    let again = Server::start(dir.path(), &[], &[]);
    assert_eq!(again.printed_key(), None);
    assert!(
        !again.stderr().iter().any(|line| line.contains(&key)),
        "the key is never shown twice"
    );
    let status = client
        .get(again.url("/v1/executions"))
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    assert!(again.terminate().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chosen_bootstrap_key_is_used_and_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    assert_eq!(server.printed_key(), None);
    assert!(!server.stderr().iter().any(|line| line.contains(CHOSEN_KEY)));
    let created = reqwest::Client::new()
        .post(server.url("/v1/keys"))
        .header("X-Api-Key", CHOSEN_KEY)
        .json(&json!({"account": "acme", "permissions": ["JOBS_READ"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        StatusCode::CREATED,
        "the chosen key is the operator's"
    );
    assert!(server.terminate().success());
}

#[test]
fn a_short_bootstrap_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("PIPELOG_BOOTSTRAP_KEY", "admin")],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PIPELOG_BOOTSTRAP_KEY"), "{stderr}");
    assert!(stderr.contains("at least 16 characters"), "{stderr}");
}
