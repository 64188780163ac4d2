//! Starting and stopping `pipelog serve` as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pipelog_store::postgres::scratch::ScratchDatabase;

pub const BINARY: &str = env!("CARGO_BIN_EXE_pipelog");
pub const CHOSEN_KEY: &str = "pl_chosen_by_the_test_suite_0123456789";

/// A running `pipelog serve`.
pub struct Server {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// A `pipelog` command with a clean environment: only what the test sets is seen.
pub fn pipelog(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command.env_clear().args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Whether this run of the suite is on PostgreSQL (`PIPELOG_TEST_BACKEND=postgres`).
pub fn on_postgres() -> bool {
    match std::env::var("PIPELOG_TEST_BACKEND").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("PIPELOG_TEST_BACKEND is `postgres` or `sqlite`, not `{other}`"),
    }
}

/// On PostgreSQL runs, the database of the servers started on `data_dir`: made at the
/// first start (on the server `PIPELOG_TEST_DATABASE_URL` names) and named in a file of the
/// data dir, so that a restart finds it again. `cargo xtask test` drops them afterwards.
pub fn database_for(data_dir: &Path) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let named = data_dir.join("test-database-url");
    if let Ok(url) = std::fs::read_to_string(&named) {
        return Some(url);
    }
    // Made on a runtime of its own: callers may be sync, or inside another runtime.
    let url = std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(ScratchDatabase::from_env())
            .expect("PIPELOG_TEST_BACKEND=postgres needs PIPELOG_TEST_DATABASE_URL")
            .unwrap()
            .url
    })
    .join()
    .unwrap();
    std::fs::create_dir_all(data_dir).unwrap();
    std::fs::write(&named, &url).unwrap();
    Some(url)
}

/// The options naming the store of `data_dir` to commands that open it themselves
/// (`keys create`, `audit verify`): the data dir, and on PostgreSQL runs its database.
pub fn store_args(data_dir: &Path) -> Vec<String> {
    let mut args = vec![
        "--data-dir".to_owned(),
        data_dir.to_str().unwrap().to_owned(),
    ];
    if let Some(url) = database_for(data_dir) {
        args.extend(["--database".to_owned(), url]);
    }
    args
}

/// Runs `sql` on the store of `data_dir`, behind pipelog's back; the rows it changed.
pub async fn execute_sql(data_dir: &Path, sql: &str) -> u64 {
    match database_for(data_dir) {
        None => {
            let database = rusqlite::Connection::open(data_dir.join("pipelog.db")).unwrap();
            database.execute(sql, []).unwrap() as u64
        }
        Some(url) => {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client.execute(sql, &[]).await.unwrap()
        }
    }
}

impl Server {
    /// Starts `pipelog serve --listen 127.0.0.1:0 --data-dir DIR ARGS...` and waits until it
    /// listens. On PostgreSQL runs of the suite, with `--database` and the data dir's own
    /// database.
    pub fn start(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
        let database = database_for(data_dir);
        let data_dir = data_dir.to_str().unwrap();
        let mut all = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir];
        if let Some(url) = &database {
            all.extend_from_slice(&["--database", url]);
        }
        all.extend_from_slice(args);
        Server::start_raw(&all, env)
    }

    /// Starts `pipelog ARGS...` (which must serve) and waits until it listens.
    pub fn start_raw(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = pipelog(args, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("pipelog starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = mpsc::channel();
        let lines = Arc::clone(&stderr);
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix("pipelog: listening on ") {
                    let _ = listening.send(rest.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base = match address.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "pipelog never listened; stderr: {:?}",
                    stderr.lock().unwrap()
                );
            }
        };
        Server {
            child,
            base,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The variables that point a client command at this server with the chosen key.
    pub fn client_env(&self) -> [(&'static str, &str); 2] {
        [("PIPELOG_URL", &self.base), ("PIPELOG_API_KEY", CHOSEN_KEY)]
    }

    /// Launches an execution of `job` with the chosen key; its id.
    pub async fn launch(&self, client: &reqwest::Client, job: &str) -> String {
        let execution = self
            .call(
                client,
                reqwest::Method::POST,
                "/v1/executions",
                serde_json::json!({"jobKey": job}),
            )
            .await;
        execution["id"].as_str().unwrap().to_owned()
    }

    /// A JSON request with the chosen key (`body`: none when `Null`); the answer's JSON,
    /// which must come with a success status.
    pub async fn call(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let mut request = client
            .request(method, self.url(path))
            .header("X-Api-Key", CHOSEN_KEY);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Appends lines to an execution with the native bulk append (`body`: NDJSON), which
    /// must answer 201.
    pub async fn append_ndjson(&self, client: &reqwest::Client, execution: &str, body: String) {
        let response = client
            .post(self.url(&format!("/v1/executions/{execution}/logs")))
            .header("X-Api-Key", CHOSEN_KEY)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    }

    /// Launches an execution of `job` and appends `lines` lines of [`synthetic_message`] to
    /// it, 10,000 at a time, one batch after another so that line `n` is the `n`-th stored;
    /// its id.
    pub async fn load_synthetic_log(
        &self,
        client: &reqwest::Client,
        job: &str,
        lines: usize,
    ) -> String {
        const BATCH: usize = 10_000;
        let id = self.launch(client, job).await;
        let loading = std::time::Instant::now();
        for first in (0..lines).step_by(BATCH) {
            let body: String = (first..lines.min(first + BATCH))
                .map(|n| format!("{}\n", serde_json::json!({"message": synthetic_message(n)})))
                .collect();
            self.append_ndjson(client, &id, body).await;
        }
        eprintln!("loaded {lines} lines in {:.1?}", loading.elapsed());
        id
    }

    /// An export's status, as Talend's status route answers it for its token.
    pub async fn export_status(
        &self,
        client: &reqwest::Client,
        execution: &str,
        token: &str,
    ) -> serde_json::Value {
        client
            .post(self.url(&format!("/monitoring/executions/{execution}/logs/status")))
            .header("X-Api-Key", CHOSEN_KEY)
            .header("content-type", "text/plain")
            .body(token.to_owned())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Every message of an execution in `seq` order, read page by page, checking that
    /// `seq` runs from 0 without a gap.
    pub async fn messages(&self, client: &reqwest::Client, execution: &str) -> Vec<String> {
        let mut messages = Vec::new();
        let mut path = format!("/v1/executions/{execution}/logs?limit=1000");
        loop {
            let page = self
                .call(client, reqwest::Method::GET, &path, serde_json::Value::Null)
                .await;
            for line in page["data"].as_array().unwrap() {
                assert_eq!(
                    line["seq"].as_u64().unwrap(),
                    messages.len() as u64,
                    "execution {execution}: seq has a gap or repeats"
                );
                messages.push(line["message"].as_str().unwrap().to_owned());
            }
            match page["nextCursor"].as_str() {
                Some(cursor) => {
                    path = format!("/v1/executions/{execution}/logs?limit=1000&cursor={cursor}")
                }
                None => return messages,
            }
        }
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The operator key printed at first start, if it was.
    pub fn printed_key(&self) -> Option<String> {
        self.stderr().iter().find_map(|line| {
            line.strip_prefix("pipelog: operator key: ")
                .map(str::to_owned)
        })
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {name}");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit by itself.
    pub fn wait(mut self) -> ExitStatus {
        self.child.wait().unwrap()
    }

    /// Sends SIGKILL and waits for the process to exit.
    pub fn kill(mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(mut self) -> ExitStatus {
        self.signal("-TERM");
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Line `n` (from 0) of the synthetic logs of [`Server::load_synthetic_log`]: its number,
/// and text of varying length.
pub fn synthetic_message(n: usize) -> String {
    let filler = "lorem ipsum dolor sit amet ".repeat(1 + n % 7);
    format!("line {n} {filler}")
}

/// A command's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a `pipelog` command to completion.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    pipelog(args, env).output().unwrap()
}

/// Runs a `pipelog` command to completion on a terminal of its own, an xterm 160 columns
/// wide (util-linux's `script` makes one): its stdout and stderr come back together, as the
/// terminal showed them.
pub fn run_in_terminal(args: &[&str], env: &[(&str, &str)]) -> Output {
    let quoted: Vec<String> = std::iter::once(BINARY)
        .chain(args.iter().copied())
        .map(|arg| format!("'{}'", arg.replace('\'', r"'\''")))
        .collect();
    let mut command = Command::new("script");
    command
        .env_clear()
        .args(["--quiet", "--return", "--flush", "--command"])
        // A terminal made without one to copy is 0 by 0, where nothing fits.
        .arg(format!(
            "PATH=/usr/bin:/bin stty cols 160 rows 50 && exec {}",
            quoted.join(" ")
        ))
        .arg("/dev/null")
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("util-linux's script runs")
}
