//! `TestApp`: a real pipelog server on an ephemeral port, with helpers to drive it.

use std::sync::Arc;

use pipelog_core::api_key::ApiKeySecret;
use pipelog_server::{ServerConfig, UrlSigningKey};
use pipelog_store::Store;
use pipelog_store::sqlite::{SqliteOptions, SqliteStore};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_KEY: &str = "pl_test_operator_key_0123456789abcdef";
/// The download links' signing key in every test server, so tests can make links.
pub const LINK_KEY: [u8; 32] = [7; 32];

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<SqliteStore>,
    dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(ServerConfig::default()).await
    }

    pub async fn spawn_with(config: ServerConfig) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        TestApp::spawn_in(dir, config).await
    }

    /// A server over an existing data dir (a restart).
    pub async fn spawn_in(dir: TempDir, mut config: ServerConfig) -> TestApp {
        config.exports_dir = dir.path().join("exports");
        config.url_signing_key = UrlSigningKey::from_bytes(LINK_KEY);
        let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
        let admin = ApiKeySecret::chosen(ADMIN_KEY).unwrap();
        store.bootstrap(admin.hash()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let shared: Arc<dyn Store> = store.clone();
        let server = tokio::spawn(pipelog_server::run(listener, shared, config, async move {
            let _ = stop.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            dir,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Asks the server to shut down and waits until it has; returns the data dir.
    pub async fn stop(mut self) -> TempDir {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap().unwrap();
        self.store.close().await.unwrap();
        self.dir
    }

    pub fn exports_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("exports")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-Api-Key", key)
    }

    /// The server's own `/openapi.json`.
    pub async fn openapi_document(&self) -> Value {
        let response = self
            .client
            .get(self.url("/openapi.json"))
            .send()
            .await
            .unwrap();
        expect_status(response, StatusCode::OK).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Response {
        self.request(Method::GET, path, key).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Response {
        self.request(Method::POST, path, key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str, key: &str) -> Response {
        self.request(Method::DELETE, path, key)
            .send()
            .await
            .unwrap()
    }

    /// A new key of `account` with `permissions`, not rate limited unless `rate_limit` says.
    pub async fn key_with_limit(
        &self,
        account: &str,
        permissions: &[&str],
        rate_limit: Option<u32>,
    ) -> Value {
        let response = self
            .post(
                "/v1/keys",
                ADMIN_KEY,
                json!({"account": account, "permissions": permissions, "rateLimit": rate_limit}),
            )
            .await;
        expect_status(response, StatusCode::CREATED).await
    }

    pub async fn key(&self, account: &str, permissions: &[&str]) -> String {
        let created = self.key_with_limit(account, permissions, Some(0)).await;
        created["key"].as_str().unwrap().to_owned()
    }

    /// A key of `account` holding every permission.
    pub async fn full_key(&self, account: &str) -> String {
        self.key(account, &ALL_PERMISSIONS).await
    }

    pub async fn launch(&self, key: &str, job_key: &str) -> Value {
        let response = self
            .post("/v1/executions", key, json!({"jobKey": job_key}))
            .await;
        expect_status(response, StatusCode::CREATED).await
    }

    /// Launches an execution of `job_key`; its id.
    pub async fn launch_id(&self, key: &str, job_key: &str) -> String {
        self.launch(key, job_key).await["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Ends an execution with `status`.
    pub async fn end(&self, key: &str, execution: &str, status: &str) -> Value {
        let response = self
            .post(
                &format!("/v1/executions/{execution}/end"),
                key,
                json!({"status": status}),
            )
            .await;
        expect_status(response, StatusCode::OK).await
    }

    /// Appends `messages` as info lines through the bulk endpoint.
    pub async fn append(&self, key: &str, execution: &str, messages: &[impl AsRef<str>]) -> Value {
        let entries: Vec<Value> = messages
            .iter()
            .map(|message| json!({"message": message.as_ref()}))
            .collect();
        let response = self
            .post(
                &format!("/v1/executions/{execution}/logs"),
                key,
                Value::Array(entries),
            )
            .await;
        expect_status(response, StatusCode::CREATED).await
    }

    /// Every line of an execution, oldest first, following cursors.
    pub async fn read_all(&self, key: &str, execution: &str) -> Vec<Value> {
        let mut lines = Vec::new();
        let mut path = format!("/v1/executions/{execution}/logs?limit=1000");
        loop {
            let page = expect_status(self.get(&path, key).await, StatusCode::OK).await;
            lines.extend(page["data"].as_array().unwrap().iter().cloned());
            match page["nextCursor"].as_str() {
                Some(cursor) => {
                    path = format!("/v1/executions/{execution}/logs?limit=1000&cursor={cursor}")
                }
                None => return lines,
            }
        }
    }
}

pub const ALL_PERMISSIONS: [&str; 10] = [
    "EXECUTION_LOGS_READ",
    "EXECUTION_LOGS_WRITE",
    "EXECUTION_LOGS_DELETE",
    "AUDIT_LOGS_READ",
    "AUDIT_LOGS_WRITE",
    "OPERATING_LOGS_READ",
    "OPERATING_LOGS_WRITE",
    "JOBS_READ",
    "JOBS_EXECUTE",
    "KEYS_ADMIN",
];

/// Asserts the status and returns the JSON body (null when empty).
pub async fn expect_status(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
    }
}

/// Asserts an error response: its status, the ErrorResponse shape, and that its message
/// contains `needle`. Returns the body.
pub async fn expect_error(response: Response, status: StatusCode, needle: &str) -> Value {
    let header_id = response
        .headers()
        .get("x-request-id")
        .map(|value| value.to_str().unwrap().to_owned());
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned());
    let body = expect_status(response, status).await;
    assert_eq!(content_type.as_deref(), Some("application/json"));
    assert_eq!(body["status"], status.as_u16(), "{body}");
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("no message: {body}"));
    assert!(
        message.contains(needle),
        "message {message:?} lacks {needle:?}"
    );
    let request_id = body["requestId"].as_str().expect("requestId");
    assert_eq!(
        Some(request_id.to_owned()),
        header_id,
        "X-Request-Id matches requestId"
    );
    body
}
