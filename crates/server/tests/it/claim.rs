//! `POST /v1/executions/claim`: the oldest queued execution of a job, to exactly one worker.

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::app::{TestApp, expect_error, expect_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_hand_out_the_oldest_queued_execution() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let none = app
        .post("/v1/executions/claim", &key, json!({"jobKey": "worker"}))
        .await;
    assert_eq!(none.status(), StatusCode::NO_CONTENT);
    assert_eq!(none.text().await.unwrap(), "");

    let first = app.launch(&key, "worker").await;
    let second = app.launch(&key, "worker").await;
    app.launch(&key, "someone-else").await;

    let claimed = expect_status(
        app.post("/v1/executions/claim", &key, json!({"jobKey": "worker"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(claimed["id"], first["id"]);
    assert_eq!(claimed["status"], "RUNNING");
    assert_eq!(claimed["cid"], first["cid"]);
    assert_eq!(claimed["input"]["eventCorrelationId"], first["cid"]);
    let next = expect_status(
        app.post("/v1/executions/claim", &key, json!({"jobKey": "worker"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(next["id"], second["id"]);
    let empty = app
        .post("/v1/executions/claim", &key, json!({"jobKey": "worker"}))
        .await;
    assert_eq!(empty.status(), StatusCode::NO_CONTENT);

    expect_error(
        app.post(
            "/v1/executions/claim",
            &key,
            json!({"jobKey": "worker", "waitSeconds": 31}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid field `waitSeconds`: must be between 0 and 30, got 31",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_claim_gets_an_execution_launched_meanwhile() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let waiting = app.post(
        "/v1/executions/claim",
        &key,
        json!({"jobKey": "late", "waitSeconds": 30}),
    );
    let launching = async {
        // Let the claim register first in most runs; either order must hand it over.
        tokio::task::yield_now().await;
        app.launch(&key, "late").await
    };
    let (claimed, launched) = tokio::join!(waiting, launching);
    let claimed = expect_status(claimed, StatusCode::OK).await;
    assert_eq!(claimed["id"], launched["id"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_pollers_never_share_an_execution() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let pollers = (0..8).map(|_| {
        app.post(
            "/v1/executions/claim",
            &key,
            json!({"jobKey": "busy", "waitSeconds": 1}),
        )
    });
    let launches = async {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(app.launch_id(&key, "busy").await);
        }
        ids
    };
    let (responses, launched) = tokio::join!(join_all(pollers), launches);
    let mut claimed = Vec::new();
    let mut empty = 0;
    for response in responses {
        match response.status() {
            StatusCode::OK => claimed.push(
                response.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            StatusCode::NO_CONTENT => empty += 1,
            other => panic!("unexpected {other}"),
        }
    }
    let distinct: HashSet<_> = claimed.iter().cloned().collect();
    assert_eq!(
        distinct.len(),
        claimed.len(),
        "an execution went to two workers: {claimed:?}"
    );
    assert_eq!(
        distinct,
        launched.into_iter().collect::<HashSet<_>>(),
        "every launch was claimed once"
    );
    assert_eq!(empty, 5);
    app.stop().await;
}
