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

/// Bodies in memory are bounded: while one client holds the whole budget with a body it
/// sends slowly, another's write is refused at once with 503 and `Retry-After`, reads
/// still answer, and the budget comes back when the slow client goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_are_bounded_and_the_rest_shed() {
    use tokio::io::AsyncWriteExt;

    let app = TestApp::spawn_with(ServerConfig {
        max_body_bytes: 65_536,
        max_inflight_bytes: 65_536,
        ..ServerConfig::default()
    })
    .await;
    let id = app.launch_id(ADMIN_KEY, "slow").await;
    let path = format!("/v1/executions/{id}/logs");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: pipelog\r\nX-Api-Key: {ADMIN_KEY}\r\nContent-Type: application/json\r\nContent-Length: 65536\r\n\r\n[{{\"message\": \""
    );
    let send_slow = || async {
        let mut slow = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
            .await
            .unwrap();
        slow.write_all(head.as_bytes()).await.unwrap();
        slow.flush().await.unwrap();
        slow
    };
    let mut slow = send_slow().await;

    let write = || async {
        app.post(&path, ADMIN_KEY, json!([{"message": "fast"}]))
            .await
    };
    let mut refused = None;
    // The slow request's head may take a moment to be parsed and admitted; and if it is
    // parsed while a fast write holds a little of the budget, it is the one refused, and
    // is sent again.
    for _ in 0..100 {
        let response = write().await;
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            refused = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::CREATED);
        let mut answer = [0u8; 64];
        if let Ok(read) = slow.try_read(&mut answer) {
            let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
            assert!(
                answer.starts_with("HTTP/1.1 503"),
                "the slow request got {answer:?}"
            );
            slow = send_slow().await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("a write is shed while the budget is held");
    assert_eq!(refused.headers()["retry-after"], "1");
    expect_error(
        refused,
        StatusCode::SERVICE_UNAVAILABLE,
        "the server holds as many request bodies as it may (--max-inflight-bytes)",
    )
    .await;
    let read = app.get(&path, ADMIN_KEY).await;
    assert_eq!(read.status(), StatusCode::OK, "reads take no budget");

    drop(slow);
    let mut served = false;
    for _ in 0..100 {
        if write().await.status() == StatusCode::CREATED {
            served = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(served, "the budget comes back when the slow client goes");
    app.stop().await;
}
