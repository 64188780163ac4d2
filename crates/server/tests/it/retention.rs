//! `GET` and `PUT /v1/retention`.

use pipelog_server::ServerConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{ADMIN_KEY, TestApp, expect_error, expect_status};

async fn put(app: &TestApp, path: &str, key: &str, body: Value) -> reqwest::Response {
    app.request(reqwest::Method::PUT, path, key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_sets_its_retention_and_it_is_audited() {
    let app = TestApp::spawn_with(ServerConfig {
        default_log_retention_days: Some(30),
        ..ServerConfig::default()
    })
    .await;
    let admin = app
        .key(
            "acme",
            &[
                "EXECUTION_LOGS_READ",
                "EXECUTION_LOGS_DELETE",
                "AUDIT_LOGS_READ",
            ],
        )
        .await;
    let reader = app.key("acme", &["EXECUTION_LOGS_READ"]).await;
    let shown = expect_status(app.get("/v1/retention", &reader).await, StatusCode::OK).await;
    assert_eq!(
        shown,
        json!({"executionLogsDays": null, "serverDefaultDays": 30, "effectiveDays": 30})
    );

    expect_error(
        put(
            &app,
            "/v1/retention",
            &reader,
            json!({"executionLogsDays": 7}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "EXECUTION_LOGS_DELETE",
    )
    .await;
    let set = expect_status(
        put(
            &app,
            "/v1/retention",
            &admin,
            json!({"executionLogsDays": 7}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(set["effectiveDays"], 7);
    let back = expect_status(
        put(
            &app,
            "/v1/retention",
            &admin,
            json!({"executionLogsDays": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["effectiveDays"], 30);
    for days in [json!(0), json!(36_501), json!(-1), json!("7")] {
        let response = put(
            &app,
            "/v1/retention",
            &admin,
            json!({"executionLogsDays": days}),
        )
        .await;
        expect_error(response, StatusCode::BAD_REQUEST, "executionLogsDays").await;
    }

    let audit = expect_status(
        app.post(
            "/v1/audit_logs/find",
            &admin,
            json!({"type": "eq", "field": "type", "value": "retention.update"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let changes: Vec<(Value, Value)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["details"]["days"].clone(),
                entry["details"]["previousDays"].clone(),
            )
        })
        .collect();
    assert_eq!(changes, [(Value::Null, json!(7)), (json!(7), Value::Null)]);

    // The operator sets any account's; an account admin only its own.
    expect_status(
        put(
            &app,
            "/v1/retention?account=acme",
            ADMIN_KEY,
            json!({"executionLogsDays": 90}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        expect_status(app.get("/v1/retention", &reader).await, StatusCode::OK).await["effectiveDays"],
        90
    );
    app.full_key("initech").await;
    expect_error(
        put(
            &app,
            "/v1/retention?account=initech",
            &admin,
            json!({"executionLogsDays": 1}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "account initech not found",
    )
    .await;
    app.stop().await;
}
