//! `POST /v1/data-factory/log`, exactly as seed 000 describes it.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};

/// The seed's response example, whose key set pipelog's answer must contain.
const SEED_RESPONSE: &str = r#"{
  "object": "data_factory_log",
  "id": "6630a1b2c3d4e5f6a7b8c9d0",
  "createdAt": "2026-04-07T10:30:00.000Z",
  "code": "LOG",
  "severity": "info",
  "message": "Import completed successfully",
  "messageType": "DEFAULT",
  "accountId": "2629",
  "cid": "abc123-def456",
  "eventCorrelationId": "evt-123",
  "jobInstanceId": "658445e23ad5b929948ab731",
  "emitterName": "My import job"
}"#;

async fn seed_request(app: &TestApp, key: &str, cid: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.url("/v1/data-factory/log"))
        .header("accept", "*/*")
        .header("X-Api-Key", key)
        .header("Content-Type", "application/json")
        .header("cid", cid)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_curl_example_gets_the_seeds_response_shape() {
    let app = TestApp::spawn().await;
    let key = app
        .key(
            "acme",
            &[
                "EXECUTION_LOGS_WRITE",
                "EXECUTION_LOGS_READ",
                "JOBS_EXECUTE",
                "JOBS_READ",
            ],
        )
        .await;
    let execution = app.launch(&key, "import").await;
    let cid = execution["cid"].as_str().unwrap();

    // The seed's curl body, byte for byte.
    let body = r#"{
"message": "Import completed successfully",
"emitterName": "My import job",
"eventCorrelationId": "evt-123",
"severity": "info"
}"#;
    let created = expect_status(
        seed_request(&app, &key, cid, body).await,
        StatusCode::CREATED,
    )
    .await;

    let seed: Value = serde_json::from_str(SEED_RESPONSE).unwrap();
    let wanted: BTreeSet<&String> = seed.as_object().unwrap().keys().collect();
    let got: BTreeSet<&String> = created.as_object().unwrap().keys().collect();
    assert!(
        wanted.is_subset(&got),
        "missing {:?}",
        wanted.difference(&got)
    );
    for (field, value) in seed.as_object().unwrap() {
        assert_eq!(
            created[field].is_string(),
            value.is_string(),
            "{field} has the seed's JSON type"
        );
    }
    assert_eq!(created["object"], "data_factory_log");
    assert_eq!(created["code"], "LOG");
    assert_eq!(created["severity"], "info");
    assert_eq!(
        created["messageType"], "DEFAULT",
        "the default message type"
    );
    assert_eq!(created["message"], "Import completed successfully");
    assert_eq!(created["emitterName"], "My import job");
    assert_eq!(created["eventCorrelationId"], "evt-123");
    assert_eq!(created["cid"], cid);
    assert_eq!(created["jobInstanceId"], execution["id"]);
    assert_eq!(created["accountId"], execution["accountId"]);
    let created_at = created["createdAt"].as_str().unwrap();
    assert_eq!(
        created_at.len(),
        "2026-04-07T10:30:00.000Z".len(),
        "{created_at}"
    );
    assert!(created_at.ends_with('Z'));

    // The line is in the execution's log.
    let lines = app.read_all(&key, execution["id"].as_str().unwrap()).await;
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], created["id"]);
    assert_eq!(lines[0]["message"], "Import completed successfully");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_and_every_field() {
    let app = TestApp::spawn().await;
    let key = app
        .key("acme", &["EXECUTION_LOGS_WRITE", "JOBS_EXECUTE"])
        .await;
    let cid = app.launch(&key, "import").await["cid"]
        .as_str()
        .unwrap()
        .to_owned();
    let markdown = expect_status(
        seed_request(
            &app,
            &key,
            &cid,
            r#"{"message":"**2** rows rejected","emitterName":"e","eventCorrelationId":"x","severity":"WARNING","messageType":"markdown"}"#,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(markdown["severity"], "warning");
    assert_eq!(markdown["messageType"], "MARKDOWN");
    let plain = expect_status(
        seed_request(
            &app,
            &key,
            &cid,
            r#"{"message":"m","emitterName":"e","eventCorrelationId":"x"}"#,
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(plain["severity"], "info");
    assert_eq!(
        plain["seq"].as_u64().unwrap(),
        markdown["seq"].as_u64().unwrap() + 1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_invalid_request_names_its_field() {
    let app = TestApp::spawn().await;
    let key = app
        .key("acme", &["EXECUTION_LOGS_WRITE", "JOBS_EXECUTE"])
        .await;
    let cid = app.launch(&key, "import").await["cid"]
        .as_str()
        .unwrap()
        .to_owned();
    let full = json!({"message": "m", "emitterName": "e", "eventCorrelationId": "x"});
    for (field, needle) in [
        ("message", "missing field `message`"),
        ("emitterName", "missing field `emitterName`"),
        ("eventCorrelationId", "missing field `eventCorrelationId`"),
    ] {
        let mut body = full.clone();
        body.as_object_mut().unwrap().remove(field);
        expect_error(
            seed_request(&app, &key, &cid, &body.to_string()).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    for (field, value, needle) in [
        (
            "severity",
            json!("fatal"),
            "`severity`: unknown severity `fatal`, expected one of debug, info, warning, error",
        ),
        (
            "messageType",
            json!("HTML"),
            "`messageType`: unknown messageType `HTML`, expected one of DEFAULT, MARKDOWN",
        ),
        (
            "message",
            json!(42),
            "`message`: invalid type: integer `42`, expected a string",
        ),
        (
            "emitterName",
            json!("x".repeat(300)),
            "`emitterName`: must be at most 256 bytes long",
        ),
    ] {
        let mut body = full.clone();
        body[field] = value;
        expect_error(
            seed_request(&app, &key, &cid, &body.to_string()).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    let no_cid = app
        .client
        .post(app.url("/v1/data-factory/log"))
        .header("X-Api-Key", &key)
        .json(&full)
        .send()
        .await
        .unwrap();
    expect_error(no_cid, StatusCode::BAD_REQUEST, "missing header `cid`").await;
    expect_error(
        seed_request(&app, &key, &"c".repeat(300), &full.to_string()).await,
        StatusCode::BAD_REQUEST,
        "invalid header `cid`: must be at most 256 bytes long",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_cid_starts_a_running_execution_and_an_ended_one_refuses() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let body = r#"{"message":"hello from airflow","emitterName":"nightly-import","eventCorrelationId":"evt-1"}"#;
    let first = expect_status(
        seed_request(&app, &key, "airflow-run-2026-11-22", body).await,
        StatusCode::CREATED,
    )
    .await;
    let second = expect_status(
        seed_request(&app, &key, "airflow-run-2026-11-22", body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        first["jobInstanceId"], second["jobInstanceId"],
        "one execution per cid"
    );
    let id = first["jobInstanceId"].as_str().unwrap();
    let execution = expect_status(
        app.get(&format!("/v1/executions/{id}"), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(execution["status"], "RUNNING");
    assert_eq!(execution["actionOrigin"], "API");
    assert_eq!(execution["jobKey"], "nightly-import");
    assert_eq!(execution["cid"], "airflow-run-2026-11-22");
    assert_eq!(execution["logCount"], 2);

    app.end(&key, id, "COMPLETED").await;
    expect_error(
        seed_request(&app, &key, "airflow-run-2026-11-22", body).await,
        StatusCode::CONFLICT,
        "has ended with status COMPLETED",
    )
    .await;
    assert_eq!(
        app.read_all(&key, id).await.len(),
        2,
        "nothing written after the end"
    );
    app.stop().await;
}

/// `POST /v1/data-factory/logs`, pipelog's batch form of the seed's route: the lines go to
/// the cid's execution (made on first use, named after the first line's emitter), a resent
/// line is written once by its `clientId`, and the `cid` header is checked as the seed's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_by_cid_make_the_execution_once_and_dedupe_by_client_id() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let send = |cid: &'static str, body: Value| {
        app.client
            .post(app.url("/v1/data-factory/logs"))
            .header("X-Api-Key", &key)
            .header("cid", cid)
            .json(&body)
            .send()
    };
    let first = expect_status(
        send(
            "cron-42",
            json!([
                {"message": "one", "emitterName": "backup", "clientId": "a"},
                {"message": "two", "severity": "error", "clientId": "b"},
            ]),
        )
        .await
        .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["count"], 2);
    assert_eq!(first["cid"], "cron-42");
    let id = first["executionId"].as_str().unwrap().to_owned();
    // A resend of the second line with a new one: the second is left out.
    let second = expect_status(
        send(
            "cron-42",
            json!([{"message": "two", "clientId": "b"}, {"message": "three", "clientId": "c"}]),
        )
        .await
        .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["executionId"], id.as_str(), "one execution per cid");
    assert_eq!(
        (second["count"].clone(), second["duplicates"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(second["firstSeq"], 2);

    let execution = expect_status(
        app.get(&format!("/v1/executions/{id}"), &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(execution["status"], "RUNNING");
    assert_eq!(execution["jobKey"], "backup");
    let messages: Vec<Value> = app
        .read_all(&key, &id)
        .await
        .iter()
        .map(|line| line["message"].clone())
        .collect();
    assert_eq!(messages, [json!("one"), json!("two"), json!("three")]);

    expect_error(
        send("bad cid", json!([{"message": "x"}])).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "header `cid`",
    )
    .await;
    app.stop().await;
}
