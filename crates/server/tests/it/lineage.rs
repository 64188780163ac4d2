//! OpenLineage run events at `POST /api/v1/lineage`: a run becomes an execution keyed by its
//! run id, with the usual audit events; late and repeated events change nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};

const RUN_ID: &str = "0176a8c2-fe01-7439-87e6-56a1a1b4029f";
const PRODUCER: &str = "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client";
const SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent";

/// The spec's getting-started START event.
fn start_event() -> Value {
    json!({
        "eventType": "START",
        "eventTime": "2020-12-28T19:52:00.001+10:00",
        "run": {"runId": RUN_ID},
        "job": {"namespace": "my-namespace", "name": "my-job"},
        "inputs": [{"namespace": "my-namespace", "name": "my-input"}],
        "producer": PRODUCER,
        "schemaURL": SCHEMA
    })
}

/// Its COMPLETE event, with an output carrying a schema facet.
fn complete_event() -> Value {
    run_event("COMPLETE", RUN_ID)
}

fn run_event(event_type: &str, run_id: &str) -> Value {
    json!({
        "eventType": event_type,
        "eventTime": "2020-12-28T20:52:00.001+10:00",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "my-namespace", "name": "my-job", "facets": {}},
        "outputs": [{
            "namespace": "my-namespace",
            "name": "my-output",
            "facets": {
                "schema": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://openlineage.io/spec/facets/1-0-0/SchemaDatasetFacet.json",
                    "fields": [{"name": "a", "type": "VARCHAR"}, {"name": "b", "type": "VARCHAR"}]
                }
            }
        }],
        "producer": PRODUCER,
        "schemaURL": SCHEMA
    })
}

/// Sends an event with the key as a bearer token, as the OpenLineage clients' `api_key`
/// auth does.
async fn send(app: &TestApp, key: &str, event: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/lineage"))
        .bearer_auth(key)
        .json(event)
        .send()
        .await
        .unwrap()
}

async fn job_events(app: &TestApp, key: &str, execution: &str) -> Vec<String> {
    let query = json!({"type": "eq", "field": "details.jobInstanceId", "value": execution});
    let found = expect_status(
        app.post("/v1/audit_logs/find", key, query).await,
        StatusCode::OK,
    )
    .await;
    let mut entries = found["data"].as_array().unwrap().clone();
    entries.sort_by_key(|entry| entry["seq"].as_u64().unwrap());
    entries
        .iter()
        .map(|entry| entry["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_starts_and_completes_its_execution_with_audit_events() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;

    let started = expect_status(send(&app, &key, &start_event()).await, StatusCode::CREATED).await;
    assert_eq!(started["status"], "RUNNING");
    assert_eq!(started["cid"], RUN_ID);
    assert_eq!(started["jobKey"], "my-namespace/my-job", "{started}");
    assert_eq!(started["jobTitle"], "my-job");
    assert_eq!(started["actionOrigin"], "API");
    let lineage = &started["input"]["openLineage"];
    assert_eq!(
        lineage["job"],
        json!({"namespace": "my-namespace", "name": "my-job"})
    );
    assert_eq!(
        lineage["inputs"],
        json!([{"namespace": "my-namespace", "name": "my-input"}])
    );
    assert_eq!(lineage["producer"], PRODUCER);
    let id = started["id"].as_str().unwrap().to_owned();

    // The run's own lines find it by its run id, as a cid.
    let line = app
        .client
        .post(app.url("/v1/data-factory/log"))
        .header("X-Api-Key", &key)
        .header("cid", RUN_ID)
        .json(
            &json!({"message": "rows loaded", "emitterName": "spark", "eventCorrelationId": "e1"}),
        )
        .send()
        .await
        .unwrap();
    let line = expect_status(line, StatusCode::CREATED).await;
    assert_eq!(line["jobInstanceId"], id.as_str());

    let completed = expect_status(send(&app, &key, &complete_event()).await, StatusCode::OK).await;
    assert_eq!(completed["id"], id.as_str());
    assert_eq!(completed["status"], "COMPLETED");
    assert_eq!(
        job_events(&app, &key, &id).await,
        ["job.queue", "job.start", "job.end"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_and_repeated_events_change_nothing_and_contradictions_conflict() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    expect_status(send(&app, &key, &start_event()).await, StatusCode::CREATED).await;
    // RUNNING while running, then COMPLETE twice, then a START that arrived late.
    for (event, status) in [
        (run_event("RUNNING", RUN_ID), "RUNNING"),
        (complete_event(), "COMPLETED"),
        (complete_event(), "COMPLETED"),
        (start_event(), "COMPLETED"),
    ] {
        let answer = expect_status(send(&app, &key, &event).await, StatusCode::OK).await;
        assert_eq!(answer["status"], status, "{}", event["eventType"]);
    }
    expect_error(
        send(&app, &key, &run_event("FAIL", RUN_ID)).await,
        StatusCode::CONFLICT,
        "already ended with status COMPLETED",
    )
    .await;
    let listed = app
        .get("/v1/executions?jobKey=my-namespace%2Fmy-job", &key)
        .await;
    let listed = expect_status(listed, StatusCode::OK).await;
    let runs = listed["data"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "one execution for the run: {listed}");
    let id = runs[0]["id"].as_str().unwrap();
    assert_eq!(
        job_events(&app, &key, id).await,
        ["job.queue", "job.start", "job.end"],
        "nothing recorded twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_first_seen_ending_is_recorded_whole() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    for (event_type, run_id, status) in [
        ("FAIL", "9f6a2c1e-5d4b-4a7e-8c3f-1b2d3e4f5a60", "FAILED"),
        (
            "ABORT",
            "9f6a2c1e-5d4b-4a7e-8c3f-1b2d3e4f5a61",
            "TERMINATED",
        ),
        (
            "COMPLETE",
            "9f6a2c1e-5d4b-4a7e-8c3f-1b2d3e4f5a62",
            "COMPLETED",
        ),
    ] {
        let answer = expect_status(
            send(&app, &key, &run_event(event_type, run_id)).await,
            StatusCode::CREATED,
        )
        .await;
        assert_eq!(answer["status"], status);
        assert_eq!(answer["cid"], run_id);
        assert!(answer["startedAt"].is_string() && answer["endedAt"].is_string());
        let id = answer["id"].as_str().unwrap();
        assert_eq!(
            job_events(&app, &key, id).await,
            ["job.queue", "job.start", "job.end"]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_without_a_run_change_are_accepted() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let other = expect_status(
        send(&app, &key, &run_event("OTHER", RUN_ID)).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(other["recorded"], false);
    let dataset_event = json!({
        "eventTime": "2024-01-01T00:00:00Z",
        "dataset": {"namespace": "my-namespace", "name": "my-output"},
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/DatasetEvent"
    });
    expect_status(send(&app, &key, &dataset_event).await, StatusCode::ACCEPTED).await;
    let listed = expect_status(app.get("/v1/executions", &key).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "no execution was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_events_are_refused_by_field() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let mut unknown_type = start_event();
    unknown_type["eventType"] = json!("FINISHED");
    expect_error(
        send(&app, &key, &unknown_type).await,
        StatusCode::BAD_REQUEST,
        "eventType",
    )
    .await;
    let mut no_job = start_event();
    no_job.as_object_mut().unwrap().remove("job");
    expect_error(
        send(&app, &key, &no_job).await,
        StatusCode::BAD_REQUEST,
        "job",
    )
    .await;
    let mut bad_run = start_event();
    bad_run["run"]["runId"] = json!("not a run id");
    expect_error(
        send(&app, &key, &bad_run).await,
        StatusCode::BAD_REQUEST,
        "run.runId",
    )
    .await;
    let mut long_name = start_event();
    long_name["job"]["name"] = json!("x".repeat(300));
    expect_error(
        send(&app, &key, &long_name).await,
        StatusCode::BAD_REQUEST,
        "job",
    )
    .await;
    let listed = expect_status(app.get("/v1/executions", &key).await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "nothing half-written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_stay_in_their_account_and_need_jobs_execute() {
    let app = TestApp::spawn().await;
    let acme = app.full_key("acme").await;
    let globex = app.full_key("globex").await;
    let acme_run =
        expect_status(send(&app, &acme, &start_event()).await, StatusCode::CREATED).await;
    // The same run id in another account is another execution, and ending it there leaves
    // acme's running.
    let globex_run = expect_status(
        send(&app, &globex, &complete_event()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(globex_run["id"], acme_run["id"]);
    let acme_id = acme_run["id"].as_str().unwrap();
    let shown = expect_status(
        app.get(&format!("/v1/executions/{acme_id}"), &acme).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "RUNNING");

    let reader = app.key("acme", &["JOBS_READ"]).await;
    expect_error(
        send(&app, &reader, &complete_event()).await,
        StatusCode::FORBIDDEN,
        "JOBS_EXECUTE",
    )
    .await;
}
