//! `POST /v1/executions`, `GET /v1/executions[/{id}]`, `.../start`, `.../end`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{TestApp, expect_error, expect_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_start_end() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let response = app
        .post(
            "/v1/executions",
            &key,
            json!({
                "jobKey": "export-items_api_1",
                "jobTitle": "export-items_api",
                "jobType": "USER",
                "pipelineId": "674f4b87761a6b19c9f0ee74",
                "jobPeriodicity": [],
                "actionOrigin": "API",
                "input": {"table": "items"}
            }),
        )
        .await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let launched = expect_status(response, StatusCode::CREATED).await;
    let id = launched["id"].as_str().unwrap();
    assert_eq!(location, format!("/v1/executions/{id}"));
    uuid_like(id);
    assert_eq!(launched["status"], "QUEUED");
    assert_eq!(launched["jobKey"], "export-items_api_1");
    assert_eq!(launched["jobTitle"], "export-items_api");
    assert_eq!(launched["jobType"], "USER");
    assert_eq!(launched["actionOrigin"], "API");
    assert_eq!(launched["input"]["table"], "items");
    assert_eq!(launched["input"]["eventCorrelationId"], launched["cid"]);
    assert_eq!(launched["logCount"], 0);
    assert!(launched.get("startedAt").is_none());

    let shown = expect_status(app.get(&location, &key).await, StatusCode::OK).await;
    assert_eq!(shown, launched);

    let started = expect_status(
        app.post(&format!("{location}/start"), &key, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(started["status"], "RUNNING");
    assert!(started["startedAt"].is_string());
    expect_error(
        app.post(&format!("{location}/start"), &key, json!({}))
            .await,
        StatusCode::CONFLICT,
        "only a QUEUED execution can be started",
    )
    .await;

    expect_error(
        app.post(&format!("{location}/end"), &key, json!({"status": "RUNNING"})).await,
        StatusCode::BAD_REQUEST,
        "`status`: unknown final status `RUNNING`, expected one of COMPLETED, COMPLETED_WITH_ERRORS, TIMED_OUT, FAILED, TERMINATED, UNKNOWN, REMOVED, USER_ERROR",
    )
    .await;
    let ended = expect_status(
        app.post(
            &format!("{location}/end"),
            &key,
            json!({"status": "COMPLETED"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ended["status"], "COMPLETED");
    assert!(ended["endedAt"].is_string());
    expect_error(
        app.post(
            &format!("{location}/end"),
            &key,
            json!({"status": "FAILED"}),
        )
        .await,
        StatusCode::CONFLICT,
        "has already ended with status COMPLETED",
    )
    .await;
    app.stop().await;
}

fn uuid_like(id: &str) {
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.matches('-').count(), 4, "{id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launch_bodies_are_checked() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    for (body, needle) in [
        (json!({}), "missing field `jobKey`"),
        (json!({"jobKey": ""}), "`jobKey`: must not be empty"),
        (
            json!({"jobKey": "x", "jobType": "ROBOT"}),
            "`jobType`: unknown jobType `ROBOT`, expected one of USER, SYSTEM",
        ),
        (
            json!({"jobKey": "x", "actionOrigin": "CRON"}),
            "unknown actionOrigin `CRON`, expected one of APP, SETTINGS, PERIODIC, API, PUBLICATION, UNKOWN",
        ),
        (
            json!({"jobKey": "x", "input": [1, 2]}),
            "`input`: invalid type: sequence, expected a map",
        ),
        (
            json!({"jobKey": "x", "jobPeriodicity": "daily"}),
            "`jobPeriodicity`",
        ),
    ] {
        expect_error(
            app.post("/v1/executions", &key, body).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    // The seed's own spelling and the right one are both read; the seed's is written.
    for origin in ["UNKOWN", "UNKNOWN"] {
        let launched = app
            .post(
                "/v1/executions",
                &key,
                json!({"jobKey": "x", "actionOrigin": origin}),
            )
            .await;
        assert_eq!(
            expect_status(launched, StatusCode::CREATED).await["actionOrigin"],
            "UNKOWN"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_malformed_ids() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    expect_error(
        app.get("/v1/executions/658445e23ad5b929948ab731", &key)
            .await,
        StatusCode::BAD_REQUEST,
        "execution ID is not a UUID",
    )
    .await;
    let unknown = "6c1a1f4e-0000-4000-8000-000000000000";
    expect_error(
        app.get(&format!("/v1/executions/{unknown}"), &key).await,
        StatusCode::NOT_FOUND,
        "execution not found",
    )
    .await;
    expect_error(
        app.post(&format!("/v1/executions/{unknown}/start"), &key, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "execution not found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_page() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let mut ids = Vec::new();
    for index in 0..5 {
        let job = if index % 2 == 0 { "even" } else { "odd" };
        ids.push(
            app.launch(&key, job).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    expect_status(
        app.post(&format!("/v1/executions/{}/start", ids[4]), &key, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;

    let mut seen = Vec::new();
    let mut path = "/v1/executions?limit=2".to_owned();
    loop {
        let page = expect_status(app.get(&path, &key).await, StatusCode::OK).await;
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/executions?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let ids_of = |page: Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let odd = expect_status(
        app.get("/v1/executions?jobKey=odd", &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids_of(odd), vec![ids[3].clone(), ids[1].clone()]);
    let running = expect_status(
        app.get("/v1/executions?status=running", &key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids_of(running), vec![ids[4].clone()]);
    let both = expect_status(
        app.get("/v1/executions?status=RUNNING,QUEUED&jobKey=even", &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        ids_of(both),
        vec![ids[4].clone(), ids[2].clone(), ids[0].clone()]
    );
    let future = expect_status(
        app.get("/v1/executions?from=2999-01-01T00:00:00Z", &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(ids_of(future).is_empty());
    let past = expect_status(
        app.get("/v1/executions?to=2000-01-01T00:00:00Z", &key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(ids_of(past).is_empty());

    for (query, needle) in [
        (
            "status=DONE",
            "invalid query parameter `status`: unknown status `DONE`",
        ),
        (
            "from=yesterday",
            "invalid query parameter `from`: expected an ISO 8601 date-time",
        ),
        (
            "limit=5000",
            "invalid query parameter `limit`: must be between 1 and 1000, got 5000",
        ),
        ("limit=-1", "invalid query parameter `limit`"),
        ("cursor=AAAA", "invalid query parameter `cursor`"),
    ] {
        expect_error(
            app.get(&format!("/v1/executions?{query}"), &key).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    app.stop().await;
}
