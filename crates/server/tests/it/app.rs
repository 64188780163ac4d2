//! `TestApp`: a real pipelog server on an ephemeral port, with helpers to drive it.
//!
//! The server runs on the embedded store, or on PostgreSQL when `PIPELOG_TEST_BACKEND` is
//! `postgres` (each server then gets a database of its own on the server
//! `PIPELOG_TEST_DATABASE_URL` names): `cargo xtask test` runs this suite both ways.

use std::path::PathBuf;
use std::sync::Arc;

use pipelog_core::api_key::ApiKeySecret;
use pipelog_server::{ServerConfig, UrlSigningKey};
use pipelog_store::Store;
use pipelog_store::postgres::scratch::{DATABASE_URL_VAR, ScratchDatabase};
use pipelog_store::postgres::{PostgresOptions, PostgresStore};
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
    pub store: Arc<dyn Store>,
    backend: Backend,
    dir: TempDir,
    database: Option<ScratchDatabase>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// The store a test server runs on, as its own type (for what only tests look at).
enum Backend {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PostgresStore>),
}

/// What a stopped server leaves, to start another on (a restart).
pub struct Stopped {
    dir: TempDir,
    database: Option<ScratchDatabase>,
}

/// Whether this run of the suite is on PostgreSQL.
pub fn on_postgres() -> bool {
    match std::env::var("PIPELOG_TEST_BACKEND").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("PIPELOG_TEST_BACKEND is `postgres` or `sqlite`, not `{other}`"),
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(ServerConfig::default()).await
    }

    pub async fn spawn_with(config: ServerConfig) -> TestApp {
        let database = if on_postgres() {
            let database = ScratchDatabase::from_env().await.unwrap_or_else(|| {
                panic!("PIPELOG_TEST_BACKEND=postgres needs {DATABASE_URL_VAR}")
            });
            Some(database.unwrap())
        } else {
            None
        };
        let stopped = Stopped {
            dir: tempfile::tempdir().unwrap(),
            database,
        };
        TestApp::spawn_in(stopped, config).await
    }

    /// A server over what a stopped one left (a restart).
    pub async fn spawn_in(stopped: Stopped, mut config: ServerConfig) -> TestApp {
        let Stopped { dir, database } = stopped;
        config.exports_dir = dir.path().join("exports");
        config.url_signing_key = UrlSigningKey::from_bytes(LINK_KEY);
        let (store, backend): (Arc<dyn Store>, Backend) = match &database {
            None => {
                let store =
                    Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
                (store.clone(), Backend::Sqlite(store))
            }
            Some(database) => {
                let store = Arc::new(
                    PostgresStore::open(&database.url, PostgresOptions::default())
                        .await
                        .unwrap(),
                );
                (store.clone(), Backend::Postgres(store))
            }
        };
        let admin = ApiKeySecret::chosen(ADMIN_KEY).unwrap();
        store.bootstrap(admin.hash()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stop) = oneshot::channel::<()>();
        let server = tokio::spawn(pipelog_server::run(
            listener,
            Arc::clone(&store),
            config,
            async move {
                let _ = stop.await;
            },
        ));
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            backend,
            dir,
            database,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// Asks the server to shut down and waits until it has; returns what it leaves.
    pub async fn stop(mut self) -> Stopped {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap().unwrap();
        self.store.close().await.unwrap();
        Stopped {
            dir: self.dir,
            database: self.database.take(),
        }
    }

    /// Claims waiting for an execution to be queued, on this server.
    pub fn claims_waiting(&self) -> usize {
        match &self.backend {
            Backend::Sqlite(store) => store.claims_waiting(),
            Backend::Postgres(store) => store.claims_waiting(),
        }
    }

    /// Runs `sql` (no parameters; valid on SQLite and PostgreSQL alike) on the store's
    /// database behind pipelog's back, as someone holding the database could; returns the
    /// rows it changed.
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        match &self.database {
            None => {
                let database = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                database.execute(sql, []).unwrap() as u64
            }
            Some(database) => postgres_client(&database.url)
                .await
                .execute(sql, &[])
                .await
                .unwrap(),
        }
    }

    /// The first column of every row `sql` selects, a blob (`bytea`) or null.
    pub async fn query_blobs(&self, sql: &str) -> Vec<Option<Vec<u8>>> {
        match &self.database {
            None => {
                let database = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                let mut statement = database.prepare(sql).unwrap();
                statement
                    .query_map([], |row| row.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Some(database) => postgres_client(&database.url)
                .await
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect(),
        }
    }

    /// The names of the tables in the store's database.
    pub async fn tables(&self) -> std::collections::BTreeSet<String> {
        match &self.database {
            None => {
                let database = rusqlite::Connection::open(self.sqlite_path()).unwrap();
                let mut statement = database
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .unwrap();
                statement
                    .query_map([], |row| row.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap()
            }
            Some(database) => postgres_client(&database.url)
                .await
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                    &[],
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect(),
        }
    }

    fn sqlite_path(&self) -> PathBuf {
        self.dir.path().join(pipelog_store::sqlite::DATABASE_FILE)
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

async fn postgres_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
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
