//! `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{ADMIN_KEY, TestApp, expect_error, expect_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_creates_accounts_and_keys_shown_once() {
    let app = TestApp::spawn().await;
    let created = app
        .key_with_limit("acme", &["JOBS_READ", "jobs_execute"], Some(120))
        .await;
    let secret = created["key"].as_str().unwrap();
    assert!(secret.starts_with("pl_") && secret.len() >= 35, "{secret}");
    assert_eq!(created["account"], "acme");
    assert_eq!(created["permissions"], json!(["JOBS_READ", "JOBS_EXECUTE"]));
    assert_eq!(created["rateLimit"], 120);
    assert_eq!(created["role"], "ACCOUNT");
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    // The new key works for its account.
    expect_status(app.get("/v1/executions", secret).await, StatusCode::OK).await;

    // Listing never shows a secret.
    let listed = expect_status(
        app.get("/v1/keys?account=acme", ADMIN_KEY).await,
        StatusCode::OK,
    )
    .await;
    let keys = listed["data"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], created["id"]);
    assert!(keys[0].get("key").is_none());
    assert!(!listed.to_string().contains(secret));
    assert_eq!(listed["nextCursor"], Value::Null);

    // The operator sees every account, its own bootstrap key included.
    let all = expect_status(app.get("/v1/keys", ADMIN_KEY).await, StatusCode::OK).await;
    let roles: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["OPERATOR", "ACCOUNT"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_bodies_are_checked() {
    let app = TestApp::spawn().await;
    expect_error(
        app.post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"account": "acme", "permissions": ["LOGS_READ"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`permissions[0]`: unknown permission `LOGS_READ`, expected one of EXECUTION_LOGS_READ",
    )
    .await;
    expect_error(
        app.post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"account": "acme", "permissions": []}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid field `permissions`: name at least one of",
    )
    .await;
    expect_error(
        app.post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"account": "no spaces", "permissions": ["JOBS_READ"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`account`: may hold only ASCII letters",
    )
    .await;
    expect_error(
        app.post("/v1/keys", ADMIN_KEY, json!({"account": "acme"}))
            .await,
        StatusCode::BAD_REQUEST,
        "missing field `permissions`",
    )
    .await;
    expect_error(
        app.post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"permissions": ["JOBS_READ"], "rateLimit": -1}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "`rateLimit`",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_admin_stays_in_its_account_and_grants_no_more_than_it_holds() {
    let app = TestApp::spawn().await;
    let admin = app
        .key_with_limit("acme", &["KEYS_ADMIN", "JOBS_READ"], Some(100))
        .await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    app.full_key("initech").await;

    // Its own account, implicitly or by name.
    let own = expect_status(
        app.post(
            "/v1/keys",
            &admin,
            json!({"permissions": ["JOBS_READ"], "rateLimit": 10}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(own["account"], "acme");
    expect_status(
        app.post(
            "/v1/keys",
            &admin,
            json!({"account": "acme", "permissions": ["JOBS_READ"], "rateLimit": 100}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // Another account, existing or not, is not found.
    for account in ["initech", "brand-new"] {
        expect_error(
            app.post(
                "/v1/keys",
                &admin,
                json!({"account": account, "permissions": ["JOBS_READ"]}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
        expect_error(
            app.get(&format!("/v1/keys?account={account}"), &admin)
                .await,
            StatusCode::NOT_FOUND,
            "not found",
        )
        .await;
    }

    expect_error(
        app.post(
            "/v1/keys",
            &admin,
            json!({"permissions": ["JOBS_READ", "EXECUTION_LOGS_DELETE"]}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "cannot grant permissions it does not hold: EXECUTION_LOGS_DELETE",
    )
    .await;
    for looser in [json!(0), json!(101), Value::Null] {
        // 0 is no limit; null is the server's default (50) which is tighter than 100.
        let response = app
            .post(
                "/v1/keys",
                &admin,
                json!({"permissions": ["JOBS_READ"], "rateLimit": looser}),
            )
            .await;
        if looser.is_null() {
            expect_status(response, StatusCode::CREATED).await;
        } else {
            expect_error(
                response,
                StatusCode::FORBIDDEN,
                "looser rate limit than its own (100 per minute)",
            )
            .await;
        }
    }

    // It lists only its own account's keys.
    let listed = expect_status(app.get("/v1/keys", &admin).await, StatusCode::OK).await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|key| key["account"] == "acme")
    );
    assert_eq!(listed["data"].as_array().unwrap().len(), 4);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_takes_effect_at_once_and_stays_in_the_account() {
    let app = TestApp::spawn().await;
    let acme_admin = app.key("acme", &["KEYS_ADMIN", "JOBS_READ"]).await;
    let initech_admin = app.key("initech", &["KEYS_ADMIN"]).await;
    let victim = expect_status(
        app.post(
            "/v1/keys",
            &acme_admin,
            json!({"permissions": ["JOBS_READ"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let victim_key = victim["key"].as_str().unwrap();
    let victim_id = victim["id"].as_str().unwrap();
    // Warm the cache: the key works.
    expect_status(app.get("/v1/executions", victim_key).await, StatusCode::OK).await;

    expect_error(
        app.delete(&format!("/v1/keys/{victim_id}"), &initech_admin)
            .await,
        StatusCode::NOT_FOUND,
        "key not found",
    )
    .await;
    expect_status(app.get("/v1/executions", victim_key).await, StatusCode::OK).await;

    let revoked = expect_status(
        app.delete(&format!("/v1/keys/{victim_id}"), &acme_admin)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(revoked["revokedAt"].is_string());
    expect_error(
        app.get("/v1/executions", victim_key).await,
        StatusCode::UNAUTHORIZED,
        "not valid",
    )
    .await;
    // Revoking again is harmless; a malformed id is a 400.
    expect_status(
        app.delete(&format!("/v1/keys/{victim_id}"), ADMIN_KEY)
            .await,
        StatusCode::OK,
    )
    .await;
    expect_error(
        app.delete("/v1/keys/not-a-uuid", ADMIN_KEY).await,
        StatusCode::BAD_REQUEST,
        "key ID is not a UUID",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_lists_page_with_a_cursor() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(app.key_with_limit("acme", &["JOBS_READ"], None).await["id"].clone());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/keys?account=acme&limit=2".to_owned();
    loop {
        let page = expect_status(app.get(&path, ADMIN_KEY).await, StatusCode::OK).await;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        seen.extend(data.iter().map(|key| key["id"].clone()));
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/keys?account=acme&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, created);
    expect_error(
        app.get("/v1/keys?limit=0", ADMIN_KEY).await,
        StatusCode::BAD_REQUEST,
        "invalid query parameter `limit`: must be between 1 and 1000, got 0",
    )
    .await;
    expect_error(
        app.get("/v1/keys?limit=1001", ADMIN_KEY).await,
        StatusCode::BAD_REQUEST,
        "must be between 1 and 1000",
    )
    .await;
    expect_error(
        app.get("/v1/keys?cursor=bogus", ADMIN_KEY).await,
        StatusCode::BAD_REQUEST,
        "invalid query parameter `cursor`",
    )
    .await;
    app.stop().await;
}
