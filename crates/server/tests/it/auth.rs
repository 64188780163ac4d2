//! Keys in `X-Api-Key` or `Authorization: Bearer`; 401 without a valid one, 403 without
//! the permission.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::app::{TestApp, expect_error, expect_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_headers_carry_a_key() {
    let app = TestApp::spawn().await;
    let key = app.key("acme", &["JOBS_READ"]).await;
    for (name, value) in [
        ("X-Api-Key", key.clone()),
        ("Authorization", format!("Bearer {key}")),
        ("Authorization", format!("bearer {key}")),
    ] {
        let response = app
            .client
            .get(app.url("/v1/executions"))
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_and_malformed_keys_get_401() {
    let app = TestApp::spawn().await;
    let anonymous = app
        .client
        .get(app.url("/v1/executions"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body = expect_error(anonymous, StatusCode::UNAUTHORIZED, "missing API key").await;
    assert!(body["detail"].as_str().unwrap().contains("X-Api-Key"));

    let wrong = app.get("/v1/executions", "pl_not_a_key_anyone_has").await;
    expect_error(wrong, StatusCode::UNAUTHORIZED, "not valid").await;

    let basic = app
        .client
        .get(app.url("/v1/executions"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    expect_error(basic, StatusCode::UNAUTHORIZED, "Bearer <key>").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_permission_is_403_before_the_body_is_read() {
    let app = TestApp::spawn().await;
    let reader = app.key("acme", &["JOBS_READ"]).await;
    expect_error(
        app.post("/v1/executions", &reader, json!({"jobKey": "nightly"}))
            .await,
        StatusCode::FORBIDDEN,
        "lacks the permission JOBS_EXECUTE",
    )
    .await;
    let garbage = app
        .request(Method::POST, "/v1/executions", &reader)
        .body("not json")
        .send()
        .await
        .unwrap();
    expect_error(garbage, StatusCode::FORBIDDEN, "JOBS_EXECUTE").await;
    expect_error(
        app.get("/v1/keys", &reader).await,
        StatusCode::FORBIDDEN,
        "KEYS_ADMIN",
    )
    .await;

    let writer = app.key("acme", &["JOBS_EXECUTE"]).await;
    let launched = app.launch(&writer, "nightly").await;
    let id = launched["id"].as_str().unwrap();
    expect_error(
        app.get(&format!("/v1/executions/{id}"), &writer).await,
        StatusCode::FORBIDDEN,
        "JOBS_READ",
    )
    .await;
    expect_status(
        app.get(&format!("/v1/executions/{id}"), &reader).await,
        StatusCode::OK,
    )
    .await;
    app.stop().await;
}
