//! The audit API: seed 001's list and find, recording, pipelog's own events, the chain.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::app::{ADMIN_KEY, TestApp, expect_error, expect_status};

/// Seed 001's entry, as an integration would record it.
fn seed_entry() -> Value {
    json!({
        "timeGenerated": "2025-02-21T14:58:15.584Z",
        "entityType": "item",
        "version": "2",
        "details": {
            "accountId": "4201",
            "userId": "3",
            "itemId": "6588231",
            "status": "SUCCESS",
            "actionOrigin": "DF_TABLE_IMPORT_ITEMS",
            "updatedFieldList": {"LIBCOLMODFR": "ROSE VIF", "COLLECTION_THEME": "2036", "COLOR_CODE": "1079"},
            "triggeredBy": "USER",
            "issuedAt": "2025-02-21T14:41:21.7820000Z",
            "tableId": "1467",
            "contextId": "4201",
            "jobId": "674f4c6b796b6a7e699ad916",
            "cid": "FSVVJs7sxm6zHif1RbDRKuxJhWzaPaL8TM4EwfcFJkU2tDwiiylYuLMiB8kQMTqx:4201:mXpV3BMC-1740148688131278068815233845416783033101:1"
        },
        "type": "item.update"
    })
}

async fn find(app: &TestApp, key: &str, query: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/v1/audit_logs/find?{query}")))
        .header("accept", "*/*")
        .header("X-Api-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn types(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seeds_list_and_find_examples_work_verbatim() {
    let app = TestApp::spawn().await;
    let key = app
        .key("acme", &["AUDIT_LOGS_READ", "AUDIT_LOGS_WRITE"])
        .await;
    let recorded = expect_status(
        app.post("/v1/audit_logs", &key, seed_entry()).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(recorded["object"], "audit_log");
    assert_eq!(recorded["details"], seed_entry()["details"]);

    // GET /v1/audit_logs?size=1&page=0, as the seed's curl sends it.
    let listed = expect_status(
        app.client
            .get(app.url("/v1/audit_logs?size=1&page=0"))
            .header("accept", "application/json")
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["object"], "list");
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    for field in [
        "object",
        "timeGenerated",
        "entityType",
        "version",
        "details",
        "type",
        "id",
    ] {
        assert!(data[0].get(field).is_some(), "{field} in {}", data[0]);
    }
    assert_eq!(
        listed["hasMore"], true,
        "the key's own key.create is there too"
    );

    let first =
        json!({"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"});
    let second = json!({
        "type": "and",
        "queries": [
            {"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"},
            {"type": "greaterOrEqual", "caseSensitive": true, "field": "timeGenerated", "value": "2025-02-21T14:58:15.584Z"}
        ]
    });
    for query in [first, second] {
        let found = expect_status(
            find(&app, &key, "size=10&page=0", query).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(found["object"], "list");
        let data = found["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{found}");
        assert_eq!(data[0]["id"], recorded["id"]);
        assert_eq!(data[0]["timeGenerated"], "2025-02-21T14:58:15.584Z");
        assert_eq!(data[0]["version"], "2");
    }

    // The curl example searches a field audit entries do not have.
    let curl = json!({
        "type": "and",
        "queries": [
            {"type": "search", "caseSensitive": true, "field": "name", "value": "RETAIL"},
            {"type": "greaterOrEqual", "caseSensitive": true, "field": "createdAt", "value": "2021-12-30T10:17:29.000Z"}
        ]
    });
    expect_error(
        find(&app, &key, "size=10&page=0", curl).await,
        StatusCode::BAD_REQUEST,
        "invalid find query: at `queries[0].field`: unknown field `name`; allowed: id, timeGenerated (or createdAt), entityType, type, version, details.<key>",
    )
    .await;
    let as_details = json!({
        "type": "and",
        "queries": [
            {"type": "search", "field": "details.updatedFieldList.LIBCOLMODFR", "value": "rose"},
            {"type": "greaterOrEqual", "caseSensitive": true, "field": "createdAt", "value": "2021-12-30T10:17:29.000Z"}
        ]
    });
    let found = expect_status(find(&app, &key, "", as_details).await, StatusCode::OK).await;
    assert_eq!(types(&found), ["item.update"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_lifecycle_events_carry_the_seeds_details() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let launched = expect_status(
        app.post(
            "/v1/executions",
            &key,
            json!({"jobKey": "export-items_api_1", "jobTitle": "export-items_api", "pipelineId": "674f4b87761a6b19c9f0ee74", "jobPeriodicity": []}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = launched["id"].as_str().unwrap();
    app.post(&format!("/v1/executions/{id}/start"), &key, json!({}))
        .await;
    app.end(&key, id, "COMPLETED").await;

    let query = json!({"type": "and", "queries": [
        {"type": "eq", "field": "entityType", "value": "job"},
        {"type": "eq", "field": "details.jobInstanceId", "value": id}
    ]});
    let found = expect_status(find(&app, &key, "", query).await, StatusCode::OK).await;
    let mut entries: Vec<Value> = found["data"].as_array().unwrap().clone();
    entries.sort_by_key(|entry| entry["seq"].as_u64().unwrap());
    let kinds: Vec<&str> = entries
        .iter()
        .map(|entry| entry["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["job.queue", "job.start", "job.end"]);

    let queued = &entries[0]["details"];
    let mut fields: Vec<&str> = queued
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "accountId",
            "actionOrigin",
            "jobId",
            "jobInstanceId",
            "jobKey",
            "jobOwnerAccountId",
            "jobPeriodicity",
            "jobTitle",
            "jobType",
            "pipelineId",
            "userId"
        ]
    );
    assert_eq!(queued["jobKey"], "export-items_api_1");
    assert_eq!(queued["accountId"], launched["accountId"]);
    assert_eq!(queued["jobType"], "USER");
    assert_eq!(entries[0]["version"], "2");
    let ended = &entries[2]["details"];
    assert_eq!(ended["jobInstanceStatus"], "COMPLETED");
    for field in [
        "jobInstanceStartAt",
        "jobInstanceEndAt",
        "jobInstanceUpdatedAt",
        "jobTitle",
        "pipelineId",
    ] {
        assert!(ended.get(field).is_some(), "job.end lacks {field}: {ended}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_changes_are_audited_with_the_acting_key() {
    let app = TestApp::spawn().await;
    let made = app
        .key_with_limit("acme", &["AUDIT_LOGS_READ"], Some(0))
        .await;
    let reader = made["key"].as_str().unwrap();
    let victim = app.key_with_limit("acme", &["JOBS_READ"], None).await;
    expect_status(
        app.delete(
            &format!("/v1/keys/{}", victim["id"].as_str().unwrap()),
            ADMIN_KEY,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let operator = expect_status(
        app.get("/v1/keys?account=default", ADMIN_KEY).await,
        StatusCode::OK,
    )
    .await;
    let operator_id = operator["data"][0]["id"].clone();

    let found = expect_status(
        find(
            &app,
            reader,
            "",
            json!({"type": "eq", "field": "entityType", "value": "key"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(types(&found), ["key.revoke", "key.create", "key.create"]);
    let revoke = &found["data"][0]["details"];
    assert_eq!(revoke["keyId"], victim["id"]);
    assert_eq!(revoke["userId"], operator_id);
    let create = &found["data"][1]["details"];
    assert_eq!(create["keyId"], victim["id"]);
    assert_eq!(create["permissions"], json!(["JOBS_READ"]));
    assert_eq!(create["rateLimit"], Value::Null);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_checks_its_body_and_retries_are_idempotent() {
    let app = TestApp::spawn().await;
    let key = app
        .key("acme", &["AUDIT_LOGS_READ", "AUDIT_LOGS_WRITE"])
        .await;
    let with = |change: &dyn Fn(&mut Value)| {
        let mut body = seed_entry();
        change(&mut body);
        body
    };
    for (body, needle) in [
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("type");
            }),
            "missing field `type`",
        ),
        (
            with(&|b| {
                b.as_object_mut().unwrap().remove("details");
            }),
            "missing field `details`",
        ),
        (
            with(&|b| b["type"] = json!("")),
            "invalid field `type`: must not be empty",
        ),
        (
            with(&|b| b["details"] = json!([1])),
            "`details`: invalid type: sequence, expected a map",
        ),
        (
            with(&|b| b["details"] = json!({"big": "x".repeat(70_000)})),
            "invalid field `details`: must be at most 65536 bytes",
        ),
        (
            with(&|b| b["timeGenerated"] = json!("2025-02-21")),
            "`timeGenerated`: expected an ISO 8601 date-time",
        ),
        (
            with(&|b| b["id"] = json!("has space")),
            "`id`: may hold only visible ASCII characters",
        ),
        (
            with(&|b| b["version"] = json!(true)),
            "`version`: invalid type: boolean `true`, expected a version",
        ),
    ] {
        expect_error(
            app.post("/v1/audit_logs", &key, body).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    let numbered = expect_status(
        app.post("/v1/audit_logs", &key, with(&|b| b["version"] = json!(2)))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(numbered["version"], "2");

    let identified = with(&|b| b["id"] = json!("3fd28929-228d-11ef-91f5-002248824020"));
    let first = expect_status(
        app.post("/v1/audit_logs", &key, identified.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    let again = expect_status(
        app.post("/v1/audit_logs", &key, identified.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first, again);
    let mut different = identified.clone();
    different["details"]["status"] = json!("FAILED");
    expect_error(
        app.post("/v1/audit_logs", &key, different).await,
        StatusCode::CONFLICT,
        "was recorded before with different content",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_refusals_name_the_problem() {
    let app = TestApp::spawn().await;
    let key = app.key("acme", &["AUDIT_LOGS_READ"]).await;
    let leaf = json!({"type": "exists", "field": "id", "value": true});
    let mut deep = leaf.clone();
    for _ in 0..10 {
        deep = json!({"type": "not", "queries": [deep]});
    }
    let wide = json!({"type": "or", "queries": vec![leaf.clone(); 200]});
    for (query, body, needle) in [
        (
            "",
            json!({"type": "like", "field": "type", "value": "x"}),
            "unknown operator `like`; allowed: and, or, not, eq",
        ),
        (
            "",
            json!({"type": "eq", "field": "entity", "value": "x"}),
            "unknown field `entity`",
        ),
        (
            "",
            json!({"type": "in", "field": "type", "value": "job.end"}),
            "`in` takes an array of values",
        ),
        (
            "",
            json!({"type": "exists", "field": "type", "value": 1}),
            "`exists` takes true or false",
        ),
        (
            "",
            json!({"type": "not", "queries": [leaf.clone(), leaf.clone()]}),
            "`not` takes exactly one query, got 2",
        ),
        (
            "",
            json!({"type": "eq", "field": "timeGenerated", "value": "soon"}),
            "expected an ISO 8601 date-time",
        ),
        ("", deep, "the query nests deeper than 10 levels"),
        ("", wide, "the query holds more than 200 nodes"),
        (
            "size=1001",
            leaf.clone(),
            "invalid query parameter `size`: must be between 1 and 1000, got 1001",
        ),
        (
            "size=0",
            leaf.clone(),
            "invalid query parameter `size`: must be between 1 and 1000, got 0",
        ),
        ("page=-1", leaf.clone(), "invalid query parameter `page`"),
        (
            "page=1000001",
            leaf.clone(),
            "invalid query parameter `page`: must be between 0 and 1000000",
        ),
    ] {
        expect_error(
            find(&app, &key, query, body).await,
            StatusCode::BAD_REQUEST,
            needle,
        )
        .await;
    }
    let not_json = app
        .client
        .post(app.url("/v1/audit_logs/find"))
        .header("X-Api-Key", &key)
        .body("{\"type\":")
        .send()
        .await
        .unwrap();
    expect_error(
        not_json,
        StatusCode::BAD_REQUEST,
        "find query is not valid JSON",
    )
    .await;
    // An empty body finds everything.
    let everything = app
        .client
        .post(app.url("/v1/audit_logs/find"))
        .header("X-Api-Key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(everything, StatusCode::OK).await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_row_edited_behind_the_servers_back() {
    let app = TestApp::spawn().await;
    let key = app
        .key("acme", &["AUDIT_LOGS_READ", "AUDIT_LOGS_WRITE"])
        .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let mut body = seed_entry();
        body["details"]["n"] = json!(n);
        let recorded = expect_status(
            app.post("/v1/audit_logs", &key, body).await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(recorded["id"].as_str().unwrap().to_owned());
    }
    let intact = expect_status(app.get("/v1/audit_logs/verify", &key).await, StatusCode::OK).await;
    assert_eq!(
        intact,
        json!({"checked": 6, "valid": true, "firstBrokenId": null})
    );

    // Someone with the database file changes one entry's status.
    let changed = app
        .execute_sql(&format!(
            "UPDATE audit_entries SET details = replace(details, 'SUCCESS', 'FAILED') WHERE public_id = '{}'",
            ids[2]
        ))
        .await;
    assert_eq!(changed, 1);

    let broken = expect_status(app.get("/v1/audit_logs/verify", &key).await, StatusCode::OK).await;
    assert_eq!(broken["valid"], false);
    assert_eq!(broken["firstBrokenId"], ids[2]);
    assert_eq!(
        broken["checked"], 3,
        "the key.create and the two entries before it are intact"
    );
    assert!(
        broken["reason"]
            .as_str()
            .unwrap()
            .contains("does not match its hash")
    );

    // Another account's chain is its own, and intact.
    let other = app.key("initech", &["AUDIT_LOGS_READ"]).await;
    let theirs = expect_status(
        app.get("/v1/audit_logs/verify", &other).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(theirs["valid"], true);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_logs_stay_in_their_account_and_need_their_permissions() {
    let app = TestApp::spawn().await;
    let alice = app
        .key("account-a", &["AUDIT_LOGS_READ", "AUDIT_LOGS_WRITE"])
        .await;
    let bob = app
        .key("account-b", &["AUDIT_LOGS_READ", "AUDIT_LOGS_WRITE"])
        .await;
    expect_status(
        app.post("/v1/audit_logs", &alice, seed_entry()).await,
        StatusCode::CREATED,
    )
    .await;
    let theirs = expect_status(
        find(
            &app,
            &bob,
            "",
            json!({"type": "eq", "field": "details.itemId", "value": "6588231"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(theirs["data"].as_array().unwrap().is_empty());
    let listed = expect_status(
        app.get("/v1/audit_logs?size=1000", &bob).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["type"] == "key.create")
    );

    let writer = app.key("account-a", &["AUDIT_LOGS_WRITE"]).await;
    let reader = app.key("account-a", &["AUDIT_LOGS_READ"]).await;
    expect_error(
        app.get("/v1/audit_logs", &writer).await,
        StatusCode::FORBIDDEN,
        "AUDIT_LOGS_READ",
    )
    .await;
    expect_error(
        find(&app, &writer, "", json!({})).await,
        StatusCode::FORBIDDEN,
        "AUDIT_LOGS_READ",
    )
    .await;
    expect_error(
        app.get("/v1/audit_logs/verify", &writer).await,
        StatusCode::FORBIDDEN,
        "AUDIT_LOGS_READ",
    )
    .await;
    expect_error(
        app.post("/v1/audit_logs", &reader, seed_entry()).await,
        StatusCode::FORBIDDEN,
        "AUDIT_LOGS_WRITE",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_digests_are_checked_later() {
    let app = TestApp::spawn().await;
    let key = app
        .key("acme", &["AUDIT_LOGS_READ", "AUDIT_LOGS_WRITE"])
        .await;
    expect_status(
        app.post("/v1/audit_logs", &key, seed_entry()).await,
        StatusCode::CREATED,
    )
    .await;
    let digest = expect_status(app.get("/v1/audit_logs/digest", &key).await, StatusCode::OK).await;
    assert_eq!(digest["entries"], 2);
    assert_eq!(digest["algorithm"], "Ed25519");
    assert_eq!(digest["headHash"].as_str().unwrap().len(), 64);
    for field in ["accountId", "lastId", "issuedAt", "publicKey", "signature"] {
        assert!(digest[field].is_string(), "{field}: {digest}");
    }

    // Later, with more entries, the kept digest still holds.
    expect_status(
        app.post("/v1/audit_logs", &key, seed_entry()).await,
        StatusCode::CREATED,
    )
    .await;
    let checked = expect_status(
        app.post("/v1/audit_logs/verify", &key, digest.clone())
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        checked,
        json!({"checked": 3, "valid": true, "firstBrokenId": null})
    );

    // A digest someone altered does not.
    let mut altered = digest.clone();
    altered["entries"] = json!(1);
    let refused = expect_status(
        app.post("/v1/audit_logs/verify", &key, altered).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(refused["valid"], false);
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("signature is not this pipelog's")
    );

    // Another account cannot use it.
    let other = app.key("initech", &["AUDIT_LOGS_READ"]).await;
    expect_error(
        app.post("/v1/audit_logs/verify", &other, digest.clone())
            .await,
        StatusCode::BAD_REQUEST,
        "invalid field `accountId`: the digest is of another account",
    )
    .await;
    let mut garbled = digest;
    garbled["headHash"] = json!("xyz");
    expect_error(
        app.post("/v1/audit_logs/verify", &key, garbled).await,
        StatusCode::BAD_REQUEST,
        "invalid field `headHash`: expected 64 hexadecimal digits",
    )
    .await;
    app.stop().await;
}
