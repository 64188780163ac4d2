//! Every error is `{status, message, requestId, detail?}` with the same id in `X-Request-Id`.

use pipelog_server::ServerConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::app::{ADMIN_KEY, TestApp, expect_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    let body = expect_error(
        app.get("/v1/nothing-here", ADMIN_KEY).await,
        StatusCode::NOT_FOUND,
        "no route for GET /v1/nothing-here",
    )
    .await;
    assert!(body.get("detail").is_none());
    // Without a key too: an unknown route is unknown to everyone.
    let anonymous = app.client.get(app.url("/nope")).send().await.unwrap();
    expect_error(anonymous, StatusCode::NOT_FOUND, "no route").await;

    expect_error(
        app.delete("/v1/data-factory/log", ADMIN_KEY).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "DELETE is not allowed on /v1/data-factory/log",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::spawn_with(ServerConfig {
        max_body_bytes: 4096,
        ..ServerConfig::default()
    })
    .await;
    let key = app.full_key("acme").await;
    let execution = app.launch(&key, "job").await;
    let path = format!("/v1/executions/{}/logs", execution["id"].as_str().unwrap());
    let big = json!([{"message": "x".repeat(5000)}]);
    expect_error(
        app.post(&path, &key, big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "larger than this server accepts",
    )
    .await;
    let small = json!([{"message": "x".repeat(100)}]);
    assert_eq!(
        app.post(&path, &key, small).await.status(),
        StatusCode::CREATED
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_body_limit_is_ten_mebibytes() {
    assert_eq!(ServerConfig::default().max_body_bytes, 10 * 1024 * 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_and_wrong_media_types() {
    let app = TestApp::spawn().await;
    let not_json = app
        .request(Method::POST, "/v1/executions", ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{\"jobKey\": ")
        .send()
        .await
        .unwrap();
    let body = expect_error(not_json, StatusCode::BAD_REQUEST, "body is not valid JSON").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("line 1 column")
    );

    let csv = app
        .request(Method::POST, "/v1/executions", ADMIN_KEY)
        .header("content-type", "text/csv")
        .body("jobKey\nx")
        .send()
        .await
        .unwrap();
    expect_error(csv, StatusCode::UNSUPPORTED_MEDIA_TYPE, "text/csv").await;

    let wrong_type = app
        .post("/v1/executions", ADMIN_KEY, json!({"jobKey": 7}))
        .await;
    expect_error(
        wrong_type,
        StatusCode::BAD_REQUEST,
        "`jobKey`: invalid type: integer `7`",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_made_or_kept() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/executions", ADMIN_KEY).await;
    let made = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(made.len(), 32, "{made}");

    let kept = app
        .request(Method::GET, "/v1/missing", ADMIN_KEY)
        .header("x-request-id", "trace-42.a_b")
        .send()
        .await
        .unwrap();
    let body = expect_error(kept, StatusCode::NOT_FOUND, "no route").await;
    assert_eq!(body["requestId"], "trace-42.a_b");

    let hostile = app
        .request(Method::GET, "/v1/missing", ADMIN_KEY)
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    let body = expect_error(hostile, StatusCode::NOT_FOUND, "no route").await;
    assert_ne!(body["requestId"], "<script>", "an unsafe id is replaced");
    app.stop().await;
}
