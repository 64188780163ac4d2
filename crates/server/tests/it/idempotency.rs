//! `Idempotency-Key` on writes: a retry gets the first answer and writes nothing twice; a
//! key reused for another request is refused; a key whose first attempt committed but kept
//! no answer is never applied again.

use std::sync::Arc;

use futures_util::future::join_all;
use pipelog_core::execution::{ActionOrigin, Execution, LaunchExecution};
use pipelog_core::idempotency::{IdempotencyKey, RequestFingerprint};
use pipelog_core::ids::{AccountId, AccountName, JobKey, KeyId};
use pipelog_core::job::JobSpec;
use pipelog_core::time::UtcTime;
use pipelog_store::idempotency::{IdempotencyScope, RecordedAnswer, answer_with};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::app::{ADMIN_KEY, TestApp, expect_error, expect_status};

async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    idempotency: &str,
    body: &Value,
) -> Response {
    app.request(Method::POST, path, key)
        .header("Idempotency-Key", idempotency)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn replayed(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|value| value == "true")
}

/// Executions of `job` the key's account has.
async fn executions_of(app: &TestApp, key: &str, job: &str) -> usize {
    let listed = expect_status(
        app.get(&format!("/v1/executions?jobKey={job}&limit=100"), key)
            .await,
        StatusCode::OK,
    )
    .await;
    listed["data"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_gets_the_first_answer_and_writes_nothing_twice() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let launch = json!({"jobKey": "nightly"});

    let first = post_with_key(&app, "/v1/executions", &key, "launch-1", &launch).await;
    assert!(!replayed(&first));
    let location = first.headers().get("location").cloned();
    let first = expect_status(first, StatusCode::CREATED).await;
    let again = post_with_key(&app, "/v1/executions", &key, "\"launch-1\"", &launch).await;
    assert!(replayed(&again), "a replay says so");
    assert_eq!(again.headers().get("location").cloned(), location);
    assert_eq!(
        again.headers()["content-type"],
        "application/json",
        "the first answer's type"
    );
    let again = expect_status(again, StatusCode::CREATED).await;
    assert_eq!(again, first, "the first answer, byte for byte");
    assert_eq!(executions_of(&app, &key, "nightly").await, 1);

    // Lines: the retried batch is stored once.
    let id = first["id"].as_str().unwrap();
    let path = format!("/v1/executions/{id}/logs");
    let lines = json!([{"message": "one"}, {"message": "two"}]);
    let appended = expect_status(
        post_with_key(&app, &path, &key, "lines-1", &lines).await,
        StatusCode::CREATED,
    )
    .await;
    let retried = post_with_key(&app, &path, &key, "lines-1", &lines).await;
    assert!(replayed(&retried));
    assert_eq!(expect_status(retried, StatusCode::CREATED).await, appended);
    let page = expect_status(app.get(&path, &key).await, StatusCode::OK).await;
    assert_eq!(page["data"].as_array().unwrap().len(), 2);

    // Without a key, the same request is a new request.
    expect_status(
        app.post("/v1/executions", &key, launch.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(executions_of(&app, &key, "nightly").await, 2);

    // A key belongs to the API key that sent it: another key's "launch-1" is its own.
    let other = app.full_key("acme").await;
    let theirs = post_with_key(&app, "/v1/executions", &other, "launch-1", &launch).await;
    assert!(!replayed(&theirs));
    expect_status(theirs, StatusCode::CREATED).await;
    assert_eq!(executions_of(&app, &key, "nightly").await, 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_for_another_request_or_malformed_is_refused() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    expect_status(
        post_with_key(&app, "/v1/executions", &key, "k", &json!({"jobKey": "a"})).await,
        StatusCode::CREATED,
    )
    .await;
    expect_error(
        post_with_key(&app, "/v1/executions", &key, "k", &json!({"jobKey": "b"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "header `Idempotency-Key`: `k` was used for another request",
    )
    .await;
    assert_eq!(executions_of(&app, &key, "b").await, 0);

    for (bad, problem) in [
        ("", "must not be empty"),
        (
            &"k".repeat(256) as &str,
            "must be at most 255 bytes long, got 256",
        ),
        ("a\"b", "must be printable ASCII characters"),
    ] {
        expect_error(
            post_with_key(&app, "/v1/executions", &key, bad, &json!({"jobKey": "c"})).await,
            StatusCode::BAD_REQUEST,
            &format!("invalid header `Idempotency-Key`: {problem}"),
        )
        .await;
    }
    assert_eq!(executions_of(&app, &key, "c").await, 0);

    // Reads ignore the header.
    let read = app
        .request(Method::GET, "/v1/executions", &key)
        .header("Idempotency-Key", "")
        .send()
        .await
        .unwrap();
    expect_status(read, StatusCode::OK).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_keeps_no_answer_and_runs_again() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "nightly").await;
    let path = format!("/v1/executions/{id}/end");
    let body = json!({"status": "COMPLETED"});
    // Ending a queued execution that never started is allowed; ending it twice is not.
    let ended = post_with_key(&app, &path, &key, "end-1", &body).await;
    expect_status(ended, StatusCode::OK).await;
    let conflict = post_with_key(&app, &path, &key, "end-2", &body).await;
    assert_eq!(conflict.status(), StatusCode::CONFLICT);
    // "end-2" wrote nothing, so it kept nothing: its retry runs (and is refused again).
    let retried = post_with_key(&app, &path, &key, "end-2", &body).await;
    assert!(!replayed(&retried));
    assert_eq!(retried.status(), StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_keys_secret_is_never_answered_twice() {
    let app = TestApp::spawn().await;
    let body = json!({"account": "acme", "permissions": ["AUDIT_LOGS_READ"]});
    let created = expect_status(
        post_with_key(&app, "/v1/keys", ADMIN_KEY, "key-1", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let secret = created["key"].as_str().unwrap();
    let retried = post_with_key(&app, "/v1/keys", ADMIN_KEY, "key-1", &body).await;
    assert!(replayed(&retried));
    let text = expect_error(
        retried,
        StatusCode::CONFLICT,
        &format!(
            "the key {} was created by the first request with this Idempotency-Key",
            created["id"].as_str().unwrap()
        ),
    )
    .await;
    assert!(
        !text.to_string().contains(secret),
        "the secret is kept nowhere"
    );
    let kept = app.query_blobs("SELECT body FROM idempotency_keys").await;
    assert_eq!(kept.len(), 1, "the key was claimed");
    let kept = kept[0].clone().unwrap_or_default();
    assert!(!String::from_utf8_lossy(&kept).contains(secret));
    // One key was made.
    let keys = expect_status(
        app.get("/v1/keys?account=acme", ADMIN_KEY).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(keys["data"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_attempts_with_one_key_write_once() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let launch = json!({"jobKey": "raced"});
    let attempts = (0..12).map(|_| post_with_key(&app, "/v1/executions", &key, "race", &launch));
    let mut ids = Vec::new();
    for response in join_all(attempts).await {
        match response.status() {
            StatusCode::CREATED => {
                let body: Value = response.json().await.unwrap();
                ids.push(body["id"].as_str().unwrap().to_owned());
            }
            // Still being answered: a later retry gets the answer.
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    ids.dedup();
    assert!(ids.len() <= 1, "one execution answered: {ids:?}");
    assert_eq!(executions_of(&app, &key, "raced").await, 1);
    let settled = post_with_key(&app, "/v1/executions", &key, "race", &launch).await;
    assert!(replayed(&settled));
    expect_status(settled, StatusCode::CREATED).await;
    app.stop().await;
}

/// A first attempt at launching `job` with Idempotency-Key `key`, as the store sees it,
/// run straight on the store: a key of "acme", the scope the server would set, and the
/// launch its handler would make. Also the key's secret and the request's exact body.
struct Attempt {
    secret: String,
    body: String,
    account: AccountId,
    scope: Arc<IdempotencyScope>,
    launch: LaunchExecution,
}

async fn attempt(app: &TestApp, job: &str, key: &str) -> Attempt {
    let created = app
        .key_with_limit("acme", &["JOBS_EXECUTE", "JOBS_READ"], Some(0))
        .await;
    let body = format!(r#"{{"jobKey":"{job}"}}"#);
    let acme = AccountName::parse("acme").unwrap();
    let account = app.store.find_account(&acme).await.unwrap().unwrap();
    let scope = IdempotencyScope::new(
        account,
        KeyId::parse(created["id"].as_str().unwrap()).unwrap(),
        IdempotencyKey::parse(key).unwrap(),
        RequestFingerprint::of("POST", "/v1/executions", body.as_bytes()),
    );
    let launch = LaunchExecution {
        job: JobSpec::with_key(JobKey::parse(job).unwrap()),
        action_origin: ActionOrigin::Unknown,
        input: Default::default(),
        launched_by: None,
    };
    Attempt {
        secret: created["key"].as_str().unwrap().to_owned(),
        body,
        account,
        scope,
        launch,
    }
}

/// The attempt's request, sent again over HTTP.
async fn retry(app: &TestApp, attempt: &Attempt, key: &str) -> Response {
    app.request(Method::POST, "/v1/executions", &attempt.secret)
        .header("Idempotency-Key", key)
        .header("content-type", "application/json")
        .body(attempt.body.clone())
        .send()
        .await
        .unwrap()
}

/// The server stopped after an attempt's writes committed and before its answer was kept:
/// the retry is told so, and nothing is written twice. Then, past the window, the key is
/// forgotten and a retry is a new request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_without_an_answer_is_never_applied_again() {
    let app = TestApp::spawn().await;
    let attempt = attempt(&app, "interrupted", "lost").await;
    let launched = app
        .store
        .launch_execution(attempt.account, attempt.launch.clone());
    attempt.scope.run(launched).await.unwrap();
    assert!(attempt.scope.wrote() && !attempt.scope.answered());
    let key = attempt.secret.as_str();

    expect_error(
        retry(&app, &attempt, "lost").await,
        StatusCode::CONFLICT,
        "its writes stand and will not be applied again",
    )
    .await;
    assert_eq!(executions_of(&app, key, "interrupted").await, 1);

    let later = UtcTime::from_unix_millis(UtcTime::now().unix_millis() + 1).unwrap();
    assert_eq!(
        app.store.expire_idempotency_keys(later, 10).await.unwrap(),
        1
    );
    expect_status(retry(&app, &attempt, "lost").await, StatusCode::CREATED).await;
    assert_eq!(executions_of(&app, key, "interrupted").await, 2);
    app.stop().await;
}

/// A write whose handler said how its answer follows from its value keeps that answer in
/// its own savepoint: a kill right after its commit still leaves the answer for a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_kept_with_its_write_survives_without_a_second_commit() {
    let app = TestApp::spawn().await;
    let attempt = attempt(&app, "kept", "kept").await;
    let (account, launch) = (attempt.account, attempt.launch.clone());
    let key = attempt.secret.as_str();
    // What a handler does: say how the answer follows, then write; the server then stops.
    let execution = attempt
        .scope
        .run(async {
            answer_with(|execution: &Execution| RecordedAnswer {
                status: 201,
                content_type: Some("application/json".into()),
                location: Some(format!("/v1/executions/{}", execution.id)),
                error: None,
                body: format!(r#"{{"id":"{}"}}"#, execution.id).into_bytes(),
            });
            app.store.launch_execution(account, launch).await
        })
        .await
        .unwrap();
    assert!(attempt.scope.wrote() && attempt.scope.answered());

    let retry = retry(&app, &attempt, "kept").await;
    assert!(replayed(&retry));
    assert_eq!(
        retry.headers()["location"],
        format!("/v1/executions/{}", execution.id).as_str()
    );
    let answer = expect_status(retry, StatusCode::CREATED).await;
    assert_eq!(answer, json!({"id": execution.id.to_string()}));
    assert_eq!(executions_of(&app, key, "kept").await, 1);
    app.stop().await;
}
