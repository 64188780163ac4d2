//! Tenant isolation, operation by operation: a key of account B neither reaches nor learns of
//! account A's resources (404, worded exactly as for one that does not exist) and changes
//! none of them; a key of A without an operation's permission gets 403, and one holding only
//! that permission is served.
//!
//! The table is complete by construction: it is checked against `/openapi.json`, and an
//! operation that asks for a key but has no row fails the test, so a new endpoint cannot be
//! forgotten here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::app::{ALL_PERMISSIONS, TestApp, expect_status};

const ACCOUNT_A: &str = "account-a";
const ACCOUNT_B: &str = "account-b";
/// In every text A writes, so that any of it showing up in B's answers is seen.
const A_SECRET: &str = "a-secret";
/// A's operating log items name this source; statistics show it.
const A_SOURCE: &str = "5a5a5a5a-0000-4000-8000-00000000000a";
/// The run id of A's OpenLineage run.
const A_RUN: &str = "0176a8c2-fe01-7439-87e6-0000000000aa";

/// The operations that take no key, each with why.
const PUBLIC: &[(&str, &str)] = &[
    ("GET /healthz", "a probe; shows no tenant data"),
    ("GET /readyz", "a probe; shows no tenant data"),
    ("GET /metrics", "server-wide figures; no tenant data"),
    (
        "GET /v1/exports/{token}/{file_name}",
        "the signed link is the permission (tests/it/exports.rs)",
    ),
];

/// What B gets when a request names A's resources.
#[derive(Clone, Copy, Debug)]
enum ForB {
    /// 404, worded as for a resource that does not exist.
    NotFound,
    /// Refused with this status, worded as for a value that names nothing.
    Refused(StatusCode),
    /// Served with this status, from and into B's own data only.
    Own(StatusCode),
}

use ForB::{NotFound, Own, Refused};

/// What a row sends as its body.
#[derive(Clone, Copy, Debug)]
enum Body {
    None,
    Json(&'static str),
    Text(&'static str),
}

/// One request on one operation. `$name`s in the request, headers and body stand for
/// resources: A's own, or, to compare B's answers with, ones that do not exist.
#[derive(Debug)]
struct Row {
    /// The document's operation: `METHOD /path/{param}`.
    operation: &'static str,
    /// The operation's path with `$name`s for its parameters, and a query.
    request: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: Body,
    /// The permission the operation needs.
    permission: &'static str,
    for_b: ForB,
    /// What A's key holding only `permission` gets.
    for_a: StatusCode,
    /// Text A's answer shows (its own data), so B's not showing it means something.
    a_sees: Option<&'static str>,
}

/// A row whose B gets 404 and whose A gets 200.
fn row(operation: &'static str, request: &'static str, permission: &'static str) -> Row {
    Row {
        operation,
        request,
        headers: Vec::new(),
        body: Body::None,
        permission,
        for_b: NotFound,
        for_a: StatusCode::OK,
        a_sees: None,
    }
}

impl Row {
    fn json(self, body: &'static str) -> Row {
        Row {
            body: Body::Json(body),
            ..self
        }
    }

    fn text(self, body: &'static str) -> Row {
        Row {
            body: Body::Text(body),
            ..self
        }
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Row {
        self.headers.push((name, value));
        self
    }

    fn b_gets(self, for_b: ForB) -> Row {
        Row { for_b, ..self }
    }

    fn a_gets(self, for_a: StatusCode) -> Row {
        Row { for_a, ..self }
    }

    fn a_sees(self, text: &'static str) -> Row {
        Row {
            a_sees: Some(text),
            ..self
        }
    }

    fn method(&self) -> Method {
        let (method, _) = self.operation.split_once(' ').unwrap();
        Method::from_bytes(method.as_bytes()).unwrap()
    }

    /// Every text the row sends, with its `$name`s.
    fn templates(&self) -> impl Iterator<Item = &'static str> + '_ {
        let body = match self.body {
            Body::None => None,
            Body::Json(text) | Body::Text(text) => Some(text),
        };
        std::iter::once(self.request)
            .chain(self.headers.iter().map(|(_, value)| *value))
            .chain(body)
    }

    fn names(&self) -> BTreeSet<&'static str> {
        self.templates().flat_map(names_in).collect()
    }
}

/// Every authenticated operation, and what it does with another account's resources.
fn table() -> Vec<Row> {
    use StatusCode as S;
    vec![
        // Seed 000: a cid names an execution of the caller's account only.
        row("POST /v1/data-factory/log", "/v1/data-factory/log", "EXECUTION_LOGS_WRITE")
            .header("cid", "$running_cid")
            .json(r#"{"message": "b-written", "emitterName": "b-emitter", "eventCorrelationId": "b"}"#)
            .b_gets(Own(S::CREATED))
            .a_gets(S::CREATED),
        row("POST /v1/data-factory/logs", "/v1/data-factory/logs", "EXECUTION_LOGS_WRITE")
            .header("cid", "$running_cid")
            .json(r#"[{"message": "b-written", "emitterName": "b-emitter"}]"#)
            .b_gets(Own(S::CREATED))
            .a_gets(S::CREATED),
        // Executions: job keys are per account.
        row("POST /v1/executions", "/v1/executions", "JOBS_EXECUTE")
            .json(r#"{"jobKey": "$job", "jobTitle": "b-title"}"#)
            .b_gets(Own(S::CREATED))
            .a_gets(S::CREATED),
        row("GET /v1/executions", "/v1/executions?jobKey=$job", "JOBS_READ")
            .b_gets(Own(S::OK))
            .a_sees("$running"),
        row(
            "GET /v1/executions",
            "/v1/executions?limit=1&cursor=$executions_cursor",
            "JOBS_READ",
        )
        .b_gets(Refused(S::BAD_REQUEST)),
        row("GET /v1/executions/{id}", "/v1/executions/$running", "JOBS_READ")
            .a_sees("$running_cid"),
        row(
            "POST /v1/executions/{id}/start",
            "/v1/executions/$queued/start",
            "JOBS_EXECUTE",
        ),
        row(
            "POST /v1/executions/{id}/end",
            "/v1/executions/$to_end/end",
            "JOBS_EXECUTE",
        )
        .json(r#"{"status": "FAILED"}"#),
        row("POST /v1/executions/claim", "/v1/executions/claim", "JOBS_EXECUTE")
            .json(r#"{"jobKey": "$claimable_job"}"#)
            .b_gets(Own(S::NO_CONTENT))
            .a_sees("$claimable"),
        // Execution logs.
        row(
            "GET /v1/executions/{id}/logs",
            "/v1/executions/$running/logs",
            "EXECUTION_LOGS_READ",
        )
        .a_sees(A_SECRET),
        row(
            "POST /v1/executions/{id}/logs",
            "/v1/executions/$running/logs",
            "EXECUTION_LOGS_WRITE",
        )
        .json(r#"[{"message": "b-written"}]"#)
        .a_gets(S::CREATED),
        row(
            "GET /v1/executions/{id}/logs/stream",
            "/v1/executions/$running/logs/stream",
            "EXECUTION_LOGS_READ",
        ),
        row(
            "GET /v1/retention",
            "/v1/retention?account=$account",
            "EXECUTION_LOGS_READ",
        ),
        row(
            "PUT /v1/retention",
            "/v1/retention?account=$account",
            "EXECUTION_LOGS_DELETE",
        )
        .json(r#"{"executionLogsDays": 3650}"#),
        row("PUT /v1/retention", "/v1/retention", "EXECUTION_LOGS_DELETE")
            .json(r#"{"executionLogsDays": 3650}"#)
            .b_gets(Own(S::OK)),
        // Seed 003.
        row(
            "GET /monitoring/executions/{id}/logs",
            "/monitoring/executions/$running/logs",
            "EXECUTION_LOGS_READ",
        )
        .a_sees(A_SECRET),
        row(
            "DELETE /monitoring/executions/{id}/logs",
            "/monitoring/executions/$deletable/logs",
            "EXECUTION_LOGS_DELETE",
        ),
        row(
            "POST /monitoring/executions/{id}/logs",
            "/monitoring/executions/$running/logs",
            "EXECUTION_LOGS_READ",
        ),
        row(
            "POST /monitoring/executions/{id}/logs/status",
            "/monitoring/executions/$running/logs/status",
            "EXECUTION_LOGS_READ",
        )
        .text("$export_token")
        .a_sees("READY"),
        // Audit logs: each account has its own entries, ids and chain.
        row("GET /v1/audit_logs", "/v1/audit_logs?size=1000", "AUDIT_LOGS_READ")
            .b_gets(Own(S::OK))
            .a_sees(A_SECRET),
        row("POST /v1/audit_logs", "/v1/audit_logs", "AUDIT_LOGS_WRITE")
            .json(r#"{"id": "$audit_id", "entityType": "item", "type": "b.event", "version": "1", "details": {"by": "b"}}"#)
            // A has an entry of this id, with other content; B does not.
            .b_gets(Own(S::CREATED))
            .a_gets(S::CONFLICT),
        row("POST /v1/audit_logs/find", "/v1/audit_logs/find", "AUDIT_LOGS_READ")
            .json(r#"{"type": "eq", "field": "id", "value": "$audit_id"}"#)
            .b_gets(Own(S::OK))
            .a_sees(A_SECRET),
        row("GET /v1/audit_logs/verify", "/v1/audit_logs/verify", "AUDIT_LOGS_READ")
            .b_gets(Own(S::OK)),
        row("POST /v1/audit_logs/verify", "/v1/audit_logs/verify", "AUDIT_LOGS_READ")
            .json("$digest")
            .b_gets(Refused(S::BAD_REQUEST))
            .a_sees(r#""valid":true"#),
        row("GET /v1/audit_logs/digest", "/v1/audit_logs/digest", "AUDIT_LOGS_READ")
            .b_gets(Own(S::OK)),
        // Seed 004: operation ids are per account.
        row(
            "GET /api/v1/OperatingLogs",
            "/api/v1/OperatingLogs?operationId=$operation&includeSystemLevel=true",
            "OPERATING_LOGS_READ",
        )
        .b_gets(Own(S::OK))
        .a_sees(A_SECRET),
        row("POST /api/v1/OperatingLogs", "/api/v1/OperatingLogs", "OPERATING_LOGS_WRITE")
            .json(r#"{"operationId": "$operation", "operationType": "InputData", "message": "b-written"}"#)
            .b_gets(Own(S::CREATED))
            .a_gets(S::CREATED),
        row(
            "POST /api/v1/OperatingLogs/batch",
            "/api/v1/OperatingLogs/batch",
            "OPERATING_LOGS_WRITE",
        )
        .json(r#"[{"operationId": "$operation", "operationType": "InputData", "message": "b-written"}]"#)
        .b_gets(Own(S::CREATED))
        .a_gets(S::CREATED),
        row(
            "GET /api/v1/OperatingLogs/{id}",
            "/api/v1/OperatingLogs/$item",
            "OPERATING_LOGS_READ",
        )
        .a_sees(A_SECRET),
        row(
            "GET /v1/operations/statistics",
            "/v1/operations/statistics?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
            "OPERATING_LOGS_READ",
        )
        .b_gets(Own(S::OK))
        .a_sees(A_SOURCE),
        row(
            "GET /v1/operations/{operation_id}/statistics",
            "/v1/operations/$operation/statistics",
            "OPERATING_LOGS_READ",
        )
        .a_sees(A_SOURCE),
        row("GET /v1/operations", "/v1/operations", "OPERATING_LOGS_READ").b_gets(Own(S::OK)),
        row(
            "GET /v1/operations/{operation_id}/gantt",
            "/v1/operations/$operation/gantt",
            "OPERATING_LOGS_READ",
        ),
        // Keys: an account name other than the key's own is unknown to it.
        row("POST /v1/keys", "/v1/keys", "KEYS_ADMIN")
            .json(r#"{"account": "$account", "permissions": ["KEYS_ADMIN"], "rateLimit": 0}"#)
            .a_gets(S::CREATED),
        row("GET /v1/keys", "/v1/keys?account=$account", "KEYS_ADMIN").a_sees("$key_to_revoke"),
        row("GET /v1/keys", "/v1/keys", "KEYS_ADMIN")
            .b_gets(Own(S::OK))
            .a_sees("$key_to_revoke"),
        row("GET /v1/keys", "/v1/keys?limit=1&cursor=$keys_cursor", "KEYS_ADMIN")
            .b_gets(Refused(S::BAD_REQUEST)),
        row("DELETE /v1/keys/{id}", "/v1/keys/$key_to_revoke", "KEYS_ADMIN"),
        // OpenTelemetry and OpenLineage: correlation ids and run ids are per account.
        row("POST /v1/logs", "/v1/logs", "EXECUTION_LOGS_WRITE")
            .json(r#"{"resourceLogs": [{"resource": {"attributes": [{"key": "pipelog.cid", "value": {"stringValue": "$running_cid"}}]}, "scopeLogs": [{"logRecords": [{"body": {"stringValue": "b-written"}}]}]}]}"#)
            .b_gets(Own(S::OK)),
        row("POST /api/v1/lineage", "/api/v1/lineage", "JOBS_EXECUTE")
            .json(r#"{"eventType": "COMPLETE", "run": {"runId": "$lineage_run"}, "job": {"namespace": "a-namespace", "name": "a-lineage"}}"#)
            .b_gets(Own(S::CREATED)),
    ]
}

/// What follows a `$` in a template: the name, and the text after it.
fn split_name(part: &str) -> (&str, &str) {
    let end = part
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(part.len());
    part.split_at(end)
}

/// The `$name`s in a template.
fn names_in(template: &str) -> impl Iterator<Item = &str> {
    template.split('$').skip(1).map(|part| split_name(part).0)
}

/// Resources by name: A's own, or ones that do not exist.
type Resources = BTreeMap<&'static str, String>;

fn fill(template: &str, resources: &Resources) -> String {
    let mut filled = String::new();
    let mut parts = template.split('$');
    filled.push_str(parts.next().unwrap());
    for part in parts {
        let (name, rest) = split_name(part);
        let value = resources
            .get(name)
            .unwrap_or_else(|| panic!("no resource ${name} in {template}"));
        filled.push_str(value);
        filled.push_str(rest);
    }
    filled
}

/// Whether `request` (a path and a query) fills `operation`'s path.
fn fits(operation: &str, request: &str) -> bool {
    let (_, path) = operation.split_once(' ').unwrap();
    let (request_path, _) = request.split_once('?').unwrap_or((request, ""));
    let expected: Vec<&str> = path.split('/').collect();
    let given: Vec<&str> = request_path.split('/').collect();
    expected.len() == given.len()
        && expected.iter().zip(&given).all(|(expected, given)| {
            if expected.starts_with('{') {
                given.starts_with('$')
            } else {
                expected == given
            }
        })
}

/// `text` cut short for a failure's message.
fn brief(text: &str) -> &str {
    let end = (0..=text.len().min(300))
        .rev()
        .find(|end| text.is_char_boundary(*end))
        .unwrap_or(0);
    &text[..end]
}

/// An answer: its status and its body (left unread for an event stream, which does not end).
struct Answer {
    status: StatusCode,
    text: String,
}

impl Answer {
    fn brief(&self) -> &str {
        brief(&self.text)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The message and detail of an error answer, with the values `resources` gave the
    /// request's `$name`s put back as names.
    fn wording(&self, names: &BTreeSet<&str>, resources: &Resources) -> String {
        let body = self.json();
        let mut wording = format!("{} | {}", body["message"], body["detail"]);
        for name in names {
            wording = wording.replace(&resources[name], &format!("${name}"));
        }
        wording
    }
}

async fn send(app: &TestApp, row: &Row, key: &str, resources: &Resources) -> Answer {
    let mut request = app.request(row.method(), &fill(row.request, resources), key);
    for (name, value) in &row.headers {
        request = request.header(*name, fill(value, resources));
    }
    request = match row.body {
        Body::None => request,
        Body::Json(body) => request
            .header("content-type", "application/json")
            .body(fill(body, resources)),
        Body::Text(body) => request
            .header("content-type", "text/plain")
            .body(fill(body, resources)),
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let streams = response
        .headers()
        .get("content-type")
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    let text = if streams {
        String::new()
    } else {
        response.text().await.unwrap()
    };
    Answer { status, text }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_authenticated_operation_has_a_row() {
    let app = TestApp::spawn().await;
    let document = app.openapi_document().await;
    let table = table();
    let mut problems = Vec::new();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let methods = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let name = format!("{} {path}", method.to_uppercase());
            let takes_a_key = operation.get("security").is_some();
            let listed_public = PUBLIC.iter().any(|(public, _)| *public == name);
            let rows = table.iter().filter(|row| row.operation == name).count();
            match (takes_a_key, listed_public, rows) {
                (true, false, 0) => problems.push(format!(
                    "{name} takes a key but has no row in isolation::table()"
                )),
                (true, true, _) => {
                    problems.push(format!("{name} is listed as public but takes a key"))
                }
                (false, false, _) => problems.push(format!(
                    "{name} takes no key: list it in isolation::PUBLIC, saying why"
                )),
                (false, true, 1..) => problems.push(format!("{name} is public and has rows too")),
                (true, false, 1..) | (false, true, 0) => {}
            }
            documented.insert(name);
        }
    }
    assert!(
        documented.len() > 30,
        "the document's operations: {documented:?}"
    );
    for (public, _) in PUBLIC {
        if !documented.contains(*public) {
            problems.push(format!("{public} is listed as public but not documented"));
        }
    }
    for row in &table {
        if !documented.contains(row.operation) {
            problems.push(format!(
                "the row of {} names no documented operation",
                row.operation
            ));
        }
        if !fits(row.operation, row.request) {
            problems.push(format!(
                "the row of {}: {} does not fill its path",
                row.operation, row.request
            ));
        }
        if !ALL_PERMISSIONS.contains(&row.permission) {
            problems.push(format!(
                "the row of {}: no permission {}",
                row.operation, row.permission
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    app.stop().await;
}

/// A key of `account`; its id and secret.
async fn key_of(app: &TestApp, account: &str, permissions: &[&str]) -> (String, String) {
    let created = app.key_with_limit(account, permissions, Some(0)).await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    )
}

async fn post_ok(app: &TestApp, path: &str, key: &str, body: Value, status: StatusCode) -> Value {
    expect_status(app.post(path, key, body).await, status).await
}

/// A's resources, made with `key`, by name.
async fn a_resources(app: &TestApp, key: &str) -> Resources {
    let mut resources = Resources::new();
    resources.insert("account", ACCOUNT_A.to_owned());
    resources.insert("job", "a-payroll".to_owned());
    resources.insert("claimable_job", "a-claimable".to_owned());

    let running = post_ok(
        app,
        "/v1/executions",
        key,
        json!({"jobKey": "a-payroll", "jobTitle": format!("{A_SECRET} payroll")}),
        StatusCode::CREATED,
    )
    .await;
    let running_id = running["id"].as_str().unwrap().to_owned();
    post_ok(
        app,
        &format!("/v1/executions/{running_id}/start"),
        key,
        json!({}),
        StatusCode::OK,
    )
    .await;
    app.append(
        key,
        &running_id,
        &[format!("{A_SECRET} line 1"), format!("{A_SECRET} line 2")],
    )
    .await;
    resources.insert("running_cid", running["cid"].as_str().unwrap().to_owned());
    resources.insert("running", running_id.clone());
    resources.insert("queued", app.launch_id(key, "a-payroll").await);
    resources.insert("to_end", app.launch_id(key, "a-payroll").await);
    let deletable = app.launch_id(key, "a-payroll").await;
    app.append(key, &deletable, &[format!("{A_SECRET} to delete")])
        .await;
    resources.insert("deletable", deletable);
    resources.insert("claimable", app.launch_id(key, "a-claimable").await);
    post_ok(
        app,
        "/api/v1/lineage",
        key,
        json!({"eventType": "START", "run": {"runId": A_RUN},
               "job": {"namespace": "a-namespace", "name": "a-lineage"}}),
        StatusCode::CREATED,
    )
    .await;
    resources.insert("lineage_run", A_RUN.to_owned());

    let export = post_ok(
        app,
        &format!("/monitoring/executions/{running_id}/logs"),
        key,
        Value::Null,
        StatusCode::OK,
    )
    .await;
    let token = export["token"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = app
            .request(
                Method::POST,
                &format!("/monitoring/executions/{running_id}/logs/status"),
                key,
            )
            .body(token.clone())
            .send()
            .await
            .unwrap();
        let status = expect_status(status, StatusCode::OK).await;
        if status["status"] == "READY" {
            break;
        }
        assert_eq!(status["status"], "IN_PROGRESS", "{status}");
        assert!(Instant::now() < deadline, "the export never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    resources.insert("export_token", token);

    let entry = post_ok(
        app,
        "/v1/audit_logs",
        key,
        json!({"entityType": "item", "type": "a.event", "version": "1",
               "details": {"note": A_SECRET}}),
        StatusCode::CREATED,
    )
    .await;
    resources.insert("audit_id", entry["id"].as_str().unwrap().to_owned());

    let item = post_ok(
        app,
        "/api/v1/OperatingLogs",
        key,
        json!({"operationType": "InputData", "sourceId": A_SOURCE,
               "message": format!("{A_SECRET} item")}),
        StatusCode::CREATED,
    )
    .await;
    resources.insert("item", item["id"].as_str().unwrap().to_owned());
    resources.insert(
        "operation",
        item["operationId"].as_str().unwrap().to_owned(),
    );

    let (revocable, _) = key_of(app, ACCOUNT_A, &["JOBS_READ"]).await;
    resources.insert("key_to_revoke", revocable);

    for (name, list) in [("executions_cursor", "executions"), ("keys_cursor", "keys")] {
        let page = app.get(&format!("/v1/{list}?limit=1"), key).await;
        let page = expect_status(page, StatusCode::OK).await;
        resources.insert(name, page["nextCursor"].as_str().unwrap().to_owned());
    }

    // Last: no entry after it changes A's chain head until the checks are over.
    let digest = expect_status(app.get("/v1/audit_logs/digest", key).await, StatusCode::OK).await;
    resources.insert("head", digest["headHash"].as_str().unwrap().to_owned());
    resources.insert("digest", digest.to_string());
    resources
}

/// Resources of the same kinds as A's that name nothing, to hold B's answers to.
fn ghosts(a: &Resources) -> Resources {
    a.iter()
        .map(|(name, value)| {
            let ghost = match *name {
                "account" => "account-ghost".to_owned(),
                "job" => "ghost-job".to_owned(),
                "claimable_job" => "ghost-claimable".to_owned(),
                "running_cid" => "ghost-cid".to_owned(),
                "executions_cursor" => {
                    URL_SAFE_NO_PAD.encode(format!("execution:{}", uuid::Uuid::new_v4()))
                }
                "keys_cursor" => URL_SAFE_NO_PAD.encode(format!("key:{}", uuid::Uuid::new_v4())),
                "head" => "0".repeat(64),
                "digest" => {
                    let mut digest: Value = serde_json::from_str(value).unwrap();
                    digest["accountId"] = json!("999999");
                    digest.to_string()
                }
                _ => uuid::Uuid::new_v4().to_string(),
            };
            (*name, ghost)
        })
        .collect()
}

/// What A's data looks like to A, to compare before and after B's requests.
async fn snapshot(app: &TestApp, key: &str, a: &Resources) -> Vec<(String, Value)> {
    let mut paths = vec![
        "/v1/executions?limit=1000".to_owned(),
        "/v1/audit_logs?size=1000".to_owned(),
        "/v1/audit_logs/verify".to_owned(),
        "/api/v1/OperatingLogs?includeSystemLevel=true&limit=1000".to_owned(),
        "/v1/operations/statistics?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z".to_owned(),
        "/v1/operations?limit=200".to_owned(),
        "/v1/keys?limit=1000".to_owned(),
        "/v1/retention".to_owned(),
    ];
    for name in ["running", "deletable", "queued", "to_end", "claimable"] {
        paths.push(format!("/v1/executions/{}/logs?limit=1000", a[name]));
    }
    paths.push(format!("/v1/operations/{}/statistics", a["operation"]));
    let mut views = Vec::new();
    for path in paths {
        let view = expect_status(app.get(&path, key).await, StatusCode::OK).await;
        views.push((path, view));
    }
    let status = app
        .request(
            Method::POST,
            &format!("/monitoring/executions/{}/logs/status", a["running"]),
            key,
        )
        .body(a["export_token"].clone())
        .send()
        .await
        .unwrap();
    let status = expect_status(status, StatusCode::OK).await;
    views.push(("export status".to_owned(), status["status"].clone()));
    views
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_reaches_nothing_and_permissions_hold() {
    let app = TestApp::spawn().await;
    let (a_full_id, a_full) = key_of(&app, ACCOUNT_A, &ALL_PERMISSIONS).await;
    let (_, b_full) = key_of(&app, ACCOUNT_B, &ALL_PERMISSIONS).await;
    // For each permission, a key of A lacking it and one holding only it.
    let mut lacking = BTreeMap::new();
    let mut only = BTreeMap::new();
    let mut a_key_ids = vec![a_full_id];
    for permission in ALL_PERMISSIONS {
        let others: Vec<&str> = ALL_PERMISSIONS
            .into_iter()
            .filter(|other| *other != permission)
            .collect();
        let (id, key) = key_of(&app, ACCOUNT_A, &others).await;
        a_key_ids.push(id);
        lacking.insert(permission, key);
        let (id, key) = key_of(&app, ACCOUNT_A, &[permission]).await;
        a_key_ids.push(id);
        only.insert(permission, key);
    }
    let a = a_resources(&app, &a_full).await;
    let ghosts = ghosts(&a);
    let table = table();

    // What may come back to B: values B itself sent in a request it was served, which are
    // then B's own (a job key, a cid, an audit entry id of B's).
    let b_own: BTreeSet<&str> = table
        .iter()
        .filter(|row| matches!(row.for_b, Own(_)))
        .flat_map(Row::names)
        .collect();
    let mut secrets: Vec<String> = a
        .iter()
        .filter(|(name, _)| !b_own.contains(*name) && **name != "digest")
        .map(|(_, value)| value.clone())
        .collect();
    secrets.extend(a_key_ids);
    secrets.push(A_SECRET.to_owned());

    let before = snapshot(&app, &a_full, &a).await;
    let mut failures = Vec::new();
    // The rows where B is served come last: B's writes there make B's own resources under
    // the names it sent (an operation id, say), which the other rows must not meet.
    let (served, refused): (Vec<&Row>, Vec<&Row>) =
        table.iter().partition(|row| matches!(row.for_b, Own(_)));
    for row in refused.into_iter().chain(served) {
        let names = row.names();
        let at = format!("{} ({})", row.operation, row.request);
        let theirs = send(&app, row, &b_full, &a).await;
        let nothing = send(&app, row, &b_full, &ghosts).await;
        let expected = match row.for_b {
            NotFound => StatusCode::NOT_FOUND,
            Refused(status) | Own(status) => status,
        };
        if theirs.status != expected {
            failures.push(format!(
                "{at}: B on A's got {}, not {expected}: {}",
                theirs.status,
                theirs.brief()
            ));
        }
        if nothing.status != expected {
            failures.push(format!(
                "{at}: B on nothing got {}, not {expected}: {}",
                nothing.status,
                nothing.brief()
            ));
        }
        if expected.is_client_error()
            && theirs.wording(&names, &a) != nothing.wording(&names, &ghosts)
        {
            failures.push(format!(
                "{at}: B is told apart A's from nothing: {} vs {}",
                theirs.brief(),
                nothing.brief()
            ));
        }
        let sent: Vec<String> = row.templates().map(|text| fill(text, &a)).collect();
        for answer in [&theirs, &nothing] {
            let shown: Vec<&str> = secrets
                .iter()
                .map(String::as_str)
                .filter(|secret| {
                    answer.text.contains(secret) && !sent.iter().any(|text| text.contains(secret))
                })
                .collect();
            if !shown.is_empty() {
                failures.push(format!(
                    "{at}: B is shown A's {}: {}",
                    shown.join(", "),
                    answer.brief()
                ));
            }
        }

        let refused = send(&app, row, &lacking[row.permission], &a).await;
        let needed = format!("lacks the permission {}", row.permission);
        if refused.status != StatusCode::FORBIDDEN || !refused.text.contains(&needed) {
            failures.push(format!(
                "{at}: a key of A without {} got {}: {}",
                row.permission,
                refused.status,
                refused.brief()
            ));
        }
    }

    let after = snapshot(&app, &a_full, &a).await;
    for ((path, was), (_, is)) in before.iter().zip(&after) {
        if was != is {
            failures.push(format!(
                "A's {path} changed under B's requests or the refused ones:\n  was {}\n  now {}",
                brief(&was.to_string()),
                brief(&is.to_string())
            ));
        }
    }

    // Last, as they change A's data: each request, made by A with only the row's
    // permission, is served, so B's answers above are about the account and nothing else.
    for row in &table {
        let answer = send(&app, row, &only[row.permission], &a).await;
        let at = format!("{} ({})", row.operation, row.request);
        if answer.status != row.for_a {
            failures.push(format!(
                "{at}: A with only {} got {}, not {}: {}",
                row.permission,
                answer.status,
                row.for_a,
                answer.brief()
            ));
        }
        if let Some(sees) = row.a_sees {
            let sees = fill(sees, &a);
            if !answer.text.contains(&sees) {
                failures.push(format!("{at}: A is not shown {sees}: {}", answer.brief()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    app.stop().await;
}
