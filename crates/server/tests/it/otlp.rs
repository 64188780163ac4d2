//! OpenTelemetry logs at `POST /v1/logs`: OTLP/HTTP in protobuf and JSON, gzipped or not,
//! answered as the OTLP specification says, partial success included.

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TestApp, expect_status};

/// google.rpc.Status, as OTLP failures carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The OTLP specification's example export (`examples/logs.json`).
fn spec_example() -> Value {
    json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]},
        "scopeLogs": [{
            "scope": {
                "name": "my.library",
                "version": "1.0.0",
                "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]
            },
            "logRecords": [{
                "timeUnixNano": "1544712660300000000",
                "observedTimeUnixNano": "1544712660300000000",
                "severityNumber": 10,
                "severityText": "Information",
                "traceId": "5B8EFFF798038103D269B633813FC60C",
                "spanId": "EEE19B7EC3C1B174",
                "body": {"stringValue": "Example log record"},
                "attributes": [
                    {"key": "string.attribute", "value": {"stringValue": "some string"}},
                    {"key": "boolean.attribute", "value": {"boolValue": true}},
                    {"key": "int.attribute", "value": {"intValue": "10"}},
                    {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                    {"key": "array.attribute", "value": {"arrayValue": {"values": [{"stringValue": "many"}, {"stringValue": "values"}]}}},
                    {"key": "map.attribute", "value": {"kvlistValue": {"values": [{"key": "some.map.key", "value": {"stringValue": "some value"}}]}}}
                ]
            }]
        }]
    }]})
}

fn text(value: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(value.to_owned())),
    })
}

fn attribute(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: text(value),
        ..KeyValue::default()
    }
}

fn record(body: &str, severity_number: i32, attributes: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        body: text(body),
        severity_number,
        attributes,
        ..LogRecord::default()
    }
}

fn export_of(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![attribute("service.name", "loader")],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post(
    app: &TestApp,
    key: &str,
    content_type: &str,
    gzipped: bool,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/v1/logs"))
        .header("X-Api-Key", key)
        .header("content-type", content_type);
    if gzipped {
        request = request.header("content-encoding", "gzip");
    }
    request.body(body).send().await.unwrap()
}

/// The lines of the account's one execution with correlation id `cid`.
async fn lines_of(app: &TestApp, key: &str, cid: &str) -> (Value, Vec<Value>) {
    let listed = expect_status(app.get("/v1/executions", key).await, StatusCode::OK).await;
    let execution = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|execution| execution["cid"] == cid)
        .unwrap_or_else(|| panic!("no execution with cid {cid}: {listed}"))
        .clone();
    let id = execution["id"].as_str().unwrap();
    (execution.clone(), app.read_all(key, id).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_specs_json_example_becomes_a_line_of_its_trace() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let body = serde_json::to_vec(&spec_example()).unwrap();
    let response = post(&app, &key, "application/json", false, body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer.get("partialSuccess").is_none_or(Value::is_null),
        "{answer}"
    );

    let (execution, lines) = lines_of(&app, &key, "5b8efff798038103d269b633813fc60c").await;
    assert_eq!(execution["status"], "RUNNING");
    assert_eq!(execution["jobKey"], "my.service");
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["message"], "Example log record");
    assert_eq!(line["severity"], "info");
    assert_eq!(line["emitterName"], "my.library");
    assert_eq!(line["eventCorrelationId"], "eee19b7ec3c1b174");
    assert_eq!(line["timestamp"], "2018-12-13T14:51:00.300Z");
    assert_eq!(
        line["attributes"],
        json!({
            "service.name": "my.service",
            "string.attribute": "some string",
            "boolean.attribute": true,
            "int.attribute": 10,
            "double.attribute": 637.704,
            "array.attribute": ["many", "values"],
            "map.attribute": {"some.map.key": "some value"},
            "trace_id": "5b8efff798038103d269b633813fc60c",
            "span_id": "eee19b7ec3c1b174",
            "scope_name": "my.library",
            "scope_version": "1.0.0",
            "severity_text": "Information"
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzipped_protobuf_is_placed_by_cid_and_the_unplaceable_are_rejected_alone() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let ended = app.launch(&key, "done-job").await;
    let ended_id = ended["id"].as_str().unwrap();
    let ended_cid = ended["cid"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/executions/{ended_id}/start"), &key, json!({}))
        .await;
    app.end(&key, ended_id, "COMPLETED").await;

    let export = export_of(vec![
        record("first", 9, vec![attribute("pipelog.cid", "job-run-7")]),
        record("nowhere", 13, vec![]),
        record("second", 17, vec![attribute("pipelog.cid", "job-run-7")]),
        record("too late", 9, vec![attribute("pipelog.cid", &ended_cid)]),
        record(
            "third",
            21,
            vec![
                attribute("pipelog.cid", "job-run-7"),
                attribute("pipelog.job", "ignored-for-an-existing-run"),
            ],
        ),
    ]);
    let response = post(
        &app,
        &key,
        "application/x-protobuf",
        true,
        gzip(&export.encode_to_vec()),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let answer = ExportLogsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_log_records, 2);
    assert!(
        partial.error_message.contains("no pipelog.cid"),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("COMPLETED"),
        "{}",
        partial.error_message
    );

    let (execution, lines) = lines_of(&app, &key, "job-run-7").await;
    assert_eq!(
        execution["jobKey"], "loader",
        "the job of a new run: service.name"
    );
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["message"].as_str().unwrap(),
                line["severity"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("first", "info"), ("second", "error"), ("third", "error")]
    );
    let (_, ended_lines) = lines_of(&app, &key, &ended_cid).await;
    assert!(ended_lines.is_empty(), "nothing written to the ended run");
}

/// An exporter that resends after a failure writes each record once when records carry
/// `pipelog.client_id`, which becomes the line's `clientId` and not an attribute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_with_a_client_id_are_written_once_when_resent() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let with_id = |message: &str, id: &str| {
        record(
            message,
            9,
            vec![
                attribute("pipelog.cid", "resent-run"),
                attribute("pipelog.client_id", id),
            ],
        )
    };
    let first = export_of(vec![with_id("one", "r-1"), with_id("two", "r-2")]);
    let resent = export_of(vec![
        with_id("two", "r-2"),
        with_id("three", "r-3"),
        with_id("one", "r-1"),
    ]);
    for export in [first, resent] {
        let response = post(
            &app,
            &key,
            "application/x-protobuf",
            false,
            export.encode_to_vec(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let (_, lines) = lines_of(&app, &key, "resent-run").await;
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["message"].as_str().unwrap(),
                line["clientId"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("one", "r-1"), ("two", "r-2"), ("three", "r-3")]);
    assert!(lines[0]["attributes"].get("pipelog.client_id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_answer_a_status_in_the_requests_encoding() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;

    let response = post(
        &app,
        &key,
        "application/x-protobuf",
        false,
        b"\xff\xff\xff".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let status = Status::decode(response.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(
        status.message.contains("invalid OTLP protobuf"),
        "{}",
        status.message
    );

    let response = post(
        &app,
        &key,
        "application/json",
        false,
        b"{\"resourceLogs\": 7}".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let status: Value = response.json().await.unwrap();
    assert_eq!(status["code"], 3);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("invalid OTLP JSON"),
        "{status}"
    );

    let response = post(&app, &key, "application/json", true, b"not gzip".to_vec()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let status: Value = response.json().await.unwrap();
    assert!(
        status["message"].as_str().unwrap().contains("gzip"),
        "{status}"
    );

    let response = post(&app, &key, "text/plain", false, b"hello".to_vec()).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let reader = app.key("acme", &["EXECUTION_LOGS_READ"]).await;
    let body = export_of(vec![record("x", 9, vec![attribute("pipelog.cid", "c")])]).encode_to_vec();
    let response = post(&app, &reader, "application/x-protobuf", false, body).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let listed = expect_status(app.get("/v1/executions", &key).await, StatusCode::OK).await;
    assert_eq!(
        listed["data"],
        json!([]),
        "nothing written by a refused export"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_refused_by_its_unzipped_size() {
    let app = TestApp::spawn_with(pipelog_server::ServerConfig {
        max_body_bytes: 64 * 1024,
        ..Default::default()
    })
    .await;
    let key = app.full_key("acme").await;
    let bomb = gzip(&vec![0u8; 1024 * 1024]);
    assert!(bomb.len() < 64 * 1024);
    let response = post(&app, &key, "application/x-protobuf", true, bomb).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let status = Status::decode(response.bytes().await.unwrap()).unwrap();
    assert!(status.message.contains("gunzipped"), "{}", status.message);
}
