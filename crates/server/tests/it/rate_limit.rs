//! Per-key rate limits: `RateLimit-*` headers on every answer, 429 with `Retry-After` past
//! the limit.

use reqwest::StatusCode;

use crate::app::{ADMIN_KEY, TestApp, expect_error};

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_gets_its_limit_then_429() {
    let app = TestApp::spawn().await;
    let key = app.key_with_limit("acme", &["JOBS_READ"], Some(3)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for remaining in ["2", "1", "0"] {
        let response = app.get("/v1/executions", &key).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-limit").as_deref(), Some("3"));
        assert_eq!(
            header(&response, "ratelimit-remaining").as_deref(),
            Some(remaining)
        );
        let reset: u64 = header(&response, "ratelimit-reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset <= 60, "{reset}");
    }
    let refused = app.get("/v1/executions", &key).await;
    let retry_after: u64 = header(&refused, "retry-after").unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(
        header(&refused, "ratelimit-remaining").as_deref(),
        Some("0")
    );
    expect_error(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "rate limit exceeded",
    )
    .await;

    // Another key of the same account is counted apart.
    let other = app.key_with_limit("acme", &["JOBS_READ"], Some(3)).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get("/v1/executions", &other).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_is_fifty_a_minute_and_zero_means_none() {
    let app = TestApp::spawn().await;
    let default = app.key_with_limit("acme", &["JOBS_READ"], None).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app.get("/v1/executions", &default).await;
    assert_eq!(header(&response, "ratelimit-limit").as_deref(), Some("50"));
    assert_eq!(
        header(&response, "ratelimit-remaining").as_deref(),
        Some("49")
    );

    let unlimited = app.key("acme", &["JOBS_READ"]).await;
    for _ in 0..60 {
        let response = app.get("/v1/executions", &unlimited).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-limit"), None);
    }
    // The bootstrap (operator) key has no limit.
    for _ in 0..60 {
        assert_eq!(
            app.get("/v1/executions", ADMIN_KEY).await.status(),
            StatusCode::OK
        );
    }
    app.stop().await;
}
