//! A key of account B never reaches, nor learns of, account A's resources: 404, as for
//! anything that does not exist.

use reqwest::StatusCode;
use serde_json::json;

use crate::app::{TestApp, expect_error, expect_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_execution_is_not_found_anywhere() {
    let app = TestApp::spawn().await;
    let alice = app.full_key("account-a").await;
    let bob = app.full_key("account-b").await;
    let execution = app.launch(&alice, "payroll").await;
    let id = execution["id"].as_str().unwrap();
    let cid = execution["cid"].as_str().unwrap();
    app.append(&alice, id, &["salary data"]).await;

    let not_found = "execution not found";
    expect_error(
        app.get(&format!("/v1/executions/{id}"), &bob).await,
        StatusCode::NOT_FOUND,
        not_found,
    )
    .await;
    expect_error(
        app.get(&format!("/v1/executions/{id}/logs"), &bob).await,
        StatusCode::NOT_FOUND,
        not_found,
    )
    .await;
    expect_error(
        app.post(
            &format!("/v1/executions/{id}/logs"),
            &bob,
            json!([{"message": "injected"}]),
        )
        .await,
        StatusCode::NOT_FOUND,
        not_found,
    )
    .await;
    expect_error(
        app.post(&format!("/v1/executions/{id}/start"), &bob, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        not_found,
    )
    .await;
    expect_error(
        app.post(
            &format!("/v1/executions/{id}/end"),
            &bob,
            json!({"status": "FAILED"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        not_found,
    )
    .await;

    // Lists, claims and cursors show nothing of A.
    let listed = expect_status(app.get("/v1/executions", &bob).await, StatusCode::OK).await;
    assert!(listed["data"].as_array().unwrap().is_empty());
    let claim = app
        .post("/v1/executions/claim", &bob, json!({"jobKey": "payroll"}))
        .await;
    assert_eq!(claim.status(), StatusCode::NO_CONTENT);
    let alices_page = expect_status(
        app.get("/v1/executions?limit=1", &alice).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(alices_page["nextCursor"], serde_json::Value::Null);
    app.launch(&alice, "payroll").await;
    let alices_page = expect_status(
        app.get("/v1/executions?limit=1", &alice).await,
        StatusCode::OK,
    )
    .await;
    let cursor = alices_page["nextCursor"].as_str().unwrap();
    expect_error(
        app.get(&format!("/v1/executions?cursor={cursor}"), &bob)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid query parameter `cursor`",
    )
    .await;

    // A's cid, sent by B, is B's own new execution; A's log is untouched.
    let theirs = expect_status(
        app.client
            .post(app.url("/v1/data-factory/log"))
            .header("X-Api-Key", &bob)
            .header("cid", cid)
            .json(&json!({"message": "mine", "emitterName": "e", "eventCorrelationId": "x"}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(theirs["jobInstanceId"], execution["id"]);
    let alices_lines = app.read_all(&alice, id).await;
    assert_eq!(alices_lines.len(), 1);
    assert_eq!(alices_lines[0]["message"], "salary data");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_keys_are_not_found() {
    let app = TestApp::spawn().await;
    let alice_admin = app.key("account-a", &["KEYS_ADMIN"]).await;
    let bob_admin = app.key("account-b", &["KEYS_ADMIN"]).await;
    let alices = expect_status(
        app.post(
            "/v1/keys",
            &alice_admin,
            json!({"permissions": ["KEYS_ADMIN"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect_error(
        app.delete(
            &format!("/v1/keys/{}", alices["id"].as_str().unwrap()),
            &bob_admin,
        )
        .await,
        StatusCode::NOT_FOUND,
        "key not found",
    )
    .await;
    expect_error(
        app.get("/v1/keys?account=account-a", &bob_admin).await,
        StatusCode::NOT_FOUND,
        "not found",
    )
    .await;
    let bobs = expect_status(app.get("/v1/keys", &bob_admin).await, StatusCode::OK).await;
    assert!(
        bobs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["account"] == "account-b")
    );
    app.stop().await;
}
