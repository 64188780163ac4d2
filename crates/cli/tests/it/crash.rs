//! The crash-durability harness: concurrent clients write log lines, audit entries,
//! operating log items and executions while the server is killed with SIGKILL at random
//! moments; after every restart, everything that was acknowledged is there exactly once,
//! each execution's `seq` has no gap, and the audit chain verifies.
//!
//! `cargo test` runs [`ROUNDS`] rounds. `PIPELOG_CRASH_ROUNDS` asks for more (what
//! `cargo xtask soak` does), and `PIPELOG_CRASH_SEED` replays a run: the seed is printed
//! at the start of every run.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server};

const KEY: (&str, &str) = ("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY);
/// Kill/restart rounds in a `cargo test` run.
const ROUNDS: u32 = 20;
/// How long each round's clients may write before the kill, at most.
const MAX_WRITING: Duration = Duration::from_millis(800);
/// Clients of each kind writing at once.
const CLIENTS_PER_KIND: u32 = 2;
/// The audit entries the harness writes carry this type.
const AUDIT_TYPE: &str = "crash.write";

/// splitmix64: a few random choices a round, reproducible from a printed seed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What the server acknowledged, over all rounds so far.
#[derive(Clone, Default)]
struct Acknowledged {
    /// Log lines by execution id.
    lines: HashMap<String, Vec<String>>,
    /// Markers of audit entries.
    audit: Vec<String>,
    /// Messages of operating items, by operation id.
    items: HashMap<String, Vec<String>>,
    /// Executions whose launch was acknowledged.
    executions: Vec<String>,
}

type Shared = Arc<Mutex<Acknowledged>>;

/// A write a client sent: what it was, and the key that makes its retry safe.
#[derive(Clone, Debug)]
struct Write {
    kind: &'static str,
    path: String,
    body: Value,
    /// Unique in the run: the client's name and the write's number.
    tag: String,
    /// The operation an item write goes to.
    operation: Option<String>,
}

impl Write {
    /// The `n`th write of client `name`. Each carries unique texts, so a doubled write is
    /// seen after the restart.
    fn new(kind: &'static str, name: &str, n: u64, targets: &[String]) -> Write {
        let tag = format!("{name}-{n}");
        let mut operation = None;
        let (path, body) = match kind {
            "lines" => {
                let execution = &targets[n as usize % targets.len()];
                let lines: Vec<Value> = (0..1 + n % 7)
                    .map(|line| json!({"message": format!("{tag}-{line}")}))
                    .collect();
                (
                    format!("/v1/executions/{execution}/logs"),
                    Value::Array(lines),
                )
            }
            "audit" => (
                "/v1/audit_logs".to_owned(),
                json!({
                    "timeGenerated": "2026-11-22T10:00:00.000Z",
                    "entityType": "harness",
                    "version": "1",
                    "type": AUDIT_TYPE,
                    "details": {"marker": tag},
                }),
            ),
            "items" => {
                let id = targets[0].clone();
                let item = |suffix: &str| {
                    json!({
                        "operationId": id,
                        "operationType": "ConsumeData",
                        "activityType": "ProcessingResult",
                        "severity": "Info",
                        "message": format!("{tag}{suffix}"),
                        "source": "crash-harness",
                        "sourceId": "33333333-0000-4000-8000-000000000001",
                    })
                };
                operation = Some(id.clone());
                if n.is_multiple_of(2) {
                    ("/api/v1/OperatingLogs".to_owned(), item(""))
                } else {
                    (
                        "/api/v1/OperatingLogs/batch".to_owned(),
                        json!([item("-a"), item("-b"), item("-c")]),
                    )
                }
            }
            "executions" => (
                "/v1/executions".to_owned(),
                json!({"jobKey": format!("crash-{name}")}),
            ),
            other => panic!("no client kind {other}"),
        };
        Write {
            kind,
            path,
            body,
            tag,
            operation,
        }
    }

    /// Sends the write with its tag as `Idempotency-Key`.
    async fn send(&self, http: &reqwest::Client, base: &str) -> Sent {
        let sent = http
            .post(format!("{base}{}", self.path))
            .header("X-Api-Key", CHOSEN_KEY)
            .header("Idempotency-Key", &self.tag)
            .json(&self.body)
            .send()
            .await;
        let Ok(response) = sent else {
            return Sent::Lost;
        };
        let status = response.status();
        let replayed = response.headers().contains_key("idempotent-replayed");
        // The kill may cut the answer short: only a whole answer counts.
        let Ok(answer) = response.json::<Value>().await else {
            return Sent::Lost;
        };
        match status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => Sent::Refused,
            StatusCode::CONFLICT => Sent::AppliedAnswerLost,
            status if status.is_success() => Sent::Acknowledged { answer, replayed },
            status => panic!("{}: {status} {answer}", self.path),
        }
    }

    /// Notes what the server acknowledged.
    fn acknowledged(&self, answer: Option<&Value>, acknowledged: &mut Acknowledged) {
        match self.kind {
            "lines" => {
                let execution = self.path.split('/').nth(3).unwrap().to_owned();
                let messages = self.body.as_array().unwrap().iter();
                acknowledged
                    .lines
                    .entry(execution)
                    .or_default()
                    .extend(messages.map(|line| line["message"].as_str().unwrap().to_owned()));
            }
            "audit" => acknowledged.audit.push(self.tag.clone()),
            "items" => {
                let items = match &self.body {
                    Value::Array(items) => items.clone(),
                    item => vec![item.clone()],
                };
                acknowledged
                    .items
                    .entry(self.operation.clone().unwrap())
                    .or_default()
                    .extend(
                        items
                            .iter()
                            .map(|item| item["message"].as_str().unwrap().to_owned()),
                    );
            }
            // Launched, but without the answer the harness cannot tell which execution.
            _ => acknowledged
                .executions
                .extend(answer.map(|answer| answer["id"].as_str().unwrap().to_owned())),
        }
    }
}

enum Sent {
    Acknowledged {
        answer: Value,
        /// The answer of an earlier attempt, answered again.
        replayed: bool,
    },
    /// 503 or 429: nothing written, try again.
    Refused,
    /// 409 on a retry: the first attempt's writes committed, its answer was lost.
    AppliedAnswerLost,
    /// No whole answer: the server was killed.
    Lost,
}

/// One client's stream of writes until the server stops answering; returns the write
/// that was in flight then, to be retried after the restart.
async fn client(
    base: String,
    kind: &'static str,
    name: String,
    targets: Vec<String>,
    acknowledged: Shared,
) -> Option<Write> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for n in 0u64.. {
        let write = Write::new(kind, &name, n, &targets);
        loop {
            match write.send(&http, &base).await {
                Sent::Acknowledged { answer, .. } => {
                    write.acknowledged(Some(&answer), &mut acknowledged.lock().unwrap());
                    break;
                }
                Sent::Refused => continue,
                Sent::AppliedAnswerLost => panic!("{}: 409 on a first attempt", write.path),
                Sent::Lost => return Some(write),
            }
        }
    }
    None
}

/// How the retries of the writes a kill cut short were answered.
#[derive(Clone, Copy, Debug, Default)]
struct Retried {
    /// Applied before the kill, answered again from the kept answer.
    replayed: u32,
    /// Applied before the kill, which came before the answer was kept: 409. Never, for
    /// the writes the harness makes (their answers are kept with them).
    answer_lost: u32,
    /// Not applied before the kill: applied now.
    applied: u32,
}

/// Retries, with their keys, the writes the kill cut short. Each was applied once or not
/// at all; now it is applied, exactly once.
async fn retry(base: &str, writes: Vec<Write>, acknowledged: &Shared) -> Retried {
    let http = reqwest::Client::new();
    let mut retried = Retried::default();
    for write in writes {
        loop {
            let sent = write.send(&http, base).await;
            let mut acknowledged = acknowledged.lock().unwrap();
            match sent {
                Sent::Acknowledged { answer, replayed } => {
                    write.acknowledged(Some(&answer), &mut acknowledged);
                    *(if replayed {
                        &mut retried.replayed
                    } else {
                        &mut retried.applied
                    }) += 1;
                }
                Sent::AppliedAnswerLost => {
                    write.acknowledged(None, &mut acknowledged);
                    retried.answer_lost += 1;
                }
                Sent::Refused => continue,
                Sent::Lost => panic!("{}: the restarted server did not answer", write.path),
            }
            break;
        }
    }
    retried
}

/// Every acknowledged text is in `stored`, and nothing in `stored` is there twice.
fn exactly_once(what: &str, acknowledged: &[String], stored: Vec<String>) -> usize {
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    for text in stored {
        *counts.entry(text).or_default() += 1;
    }
    if let Some((text, count)) = counts.iter().find(|(_, count)| **count > 1) {
        panic!("{what}: {text:?} stored {count} times");
    }
    for text in acknowledged {
        assert!(
            counts.contains_key(text),
            "{what}: acknowledged {text:?} was lost"
        );
    }
    acknowledged.len()
}

/// What a check reads: after a round, what the round wrote to (and the audit chain, all of
/// it); at the end, everything.
enum Scope<'a> {
    Round {
        executions: &'a [String],
        operations: &'a [String],
        launched_since: usize,
    },
    Everything,
}

impl Scope<'_> {
    fn execution(&self, id: &String) -> bool {
        match self {
            Scope::Round { executions, .. } => executions.contains(id),
            Scope::Everything => true,
        }
    }

    fn operation(&self, id: &String) -> bool {
        match self {
            Scope::Round { operations, .. } => operations.contains(id),
            Scope::Everything => true,
        }
    }
}

/// Checks what was acknowledged against the restarted server; returns how many
/// acknowledged writes were checked.
async fn check(server: &Server, acknowledged: &Acknowledged, scope: Scope<'_>) -> usize {
    let http = reqwest::Client::new();
    let mut checked = 0;
    for (execution, lines) in &acknowledged.lines {
        if !scope.execution(execution) {
            continue;
        }
        let stored = server.messages(&http, execution).await;
        checked += exactly_once(&format!("lines of {execution}"), lines, stored);
    }
    for (operation, messages) in &acknowledged.items {
        if !scope.operation(operation) {
            continue;
        }
        let mut stored = Vec::new();
        loop {
            let path = format!(
                "/api/v1/OperatingLogs?operationId={operation}&limit=1000&offset={}",
                stored.len()
            );
            let page = server.call(&http, Method::GET, &path, Value::Null).await;
            let items = page["items"].as_array().unwrap();
            stored.extend(
                items
                    .iter()
                    .map(|item| item["message"].as_str().unwrap().to_owned()),
            );
            if items.len() < 1000 {
                break;
            }
        }
        checked += exactly_once(&format!("items of {operation}"), messages, stored);
    }
    let mut markers = Vec::new();
    let mut queued = Vec::new();
    for page in 0.. {
        let path = format!("/v1/audit_logs?size=1000&page={page}");
        let entries = server.call(&http, Method::GET, &path, Value::Null).await;
        let entries = entries["data"].as_array().unwrap().clone();
        for entry in &entries {
            match entry["type"].as_str().unwrap() {
                AUDIT_TYPE => markers.push(entry["details"]["marker"].as_str().unwrap().to_owned()),
                "job.queue" => queued.push(
                    entry["details"]["jobInstanceId"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                ),
                _ => {}
            }
        }
        if entries.len() < 1000 {
            break;
        }
    }
    checked += exactly_once("audit entries", &acknowledged.audit, markers);
    let launched_since = match scope {
        Scope::Round { launched_since, .. } => launched_since,
        Scope::Everything => 0,
    };
    for execution in &acknowledged.executions[launched_since..] {
        let path = format!("/v1/executions/{execution}");
        server.call(&http, Method::GET, &path, Value::Null).await;
    }
    checked += exactly_once(
        "job.queue entries of launched executions",
        &acknowledged.executions,
        queued,
    );
    let verified = server
        .call(&http, Method::GET, "/v1/audit_logs/verify", Value::Null)
        .await;
    assert_eq!(verified["valid"], true, "the audit chain: {verified}");
    checked
}

async fn launch(http: &reqwest::Client, server: &Server, job: &str) -> String {
    let execution = server
        .call(http, Method::POST, "/v1/executions", json!({"jobKey": job}))
        .await;
    execution["id"].as_str().unwrap().to_owned()
}

/// The whole harness: `rounds` kill/restart rounds over one data dir.
async fn kill_and_restart(dir: &Path, rounds: u32, seed: u64) {
    let started = Instant::now();
    let mut random = Random(seed);
    let acknowledged: Shared = Arc::default();
    let http = reqwest::Client::new();
    let mut server = Server::start(dir, &[], &[KEY]);
    // Two executions are written in every round, so `seq` must carry on across crashes.
    let lasting = vec![
        launch(&http, &server, "crash-lasting").await,
        launch(&http, &server, "crash-lasting").await,
    ];
    acknowledged
        .lock()
        .unwrap()
        .executions
        .extend(lasting.clone());
    let mut all_retried = Retried::default();
    for round in 0..rounds {
        let fresh = launch(&http, &server, "crash-round").await;
        let launched_since = {
            let mut acknowledged = acknowledged.lock().unwrap();
            acknowledged.executions.push(fresh.clone());
            acknowledged.executions.len()
        };
        let mut written = lasting.clone();
        written.push(fresh);
        let operations: Vec<String> = (0..CLIENTS_PER_KIND)
            .map(|_| uuid_like(&mut random))
            .collect();
        let mut clients = Vec::new();
        for (n, operation) in operations.iter().enumerate() {
            for (kind, targets) in [
                ("lines", written.clone()),
                ("audit", Vec::new()),
                ("items", vec![operation.clone()]),
                ("executions", Vec::new()),
            ] {
                clients.push(tokio::spawn(client(
                    server.base.clone(),
                    kind,
                    format!("r{round}-{kind}{n}"),
                    targets,
                    Arc::clone(&acknowledged),
                )));
            }
        }
        let writing = Duration::from_millis(random.below(MAX_WRITING.as_millis() as u64));
        tokio::time::sleep(writing).await;
        let exit = server.kill();
        assert!(!exit.success(), "SIGKILL cannot exit cleanly, got {exit}");
        let mut cut_short = Vec::new();
        for client in clients {
            cut_short.extend(client.await.unwrap());
        }
        let restarting = Instant::now();
        server = Server::start(dir, &[], &[KEY]);
        let checking = Instant::now();
        let retried = retry(&server.base, cut_short, &acknowledged).await;
        // Every write here keeps its answer in its own savepoint: none can be lost.
        assert_eq!(
            retried.answer_lost, 0,
            "a retry got 409: an answer was lost"
        );
        all_retried.replayed += retried.replayed;
        all_retried.answer_lost += retried.answer_lost;
        all_retried.applied += retried.applied;
        let scope = Scope::Round {
            executions: &written,
            operations: &operations,
            launched_since,
        };
        let snapshot = acknowledged.lock().unwrap().clone();
        let checked = check(&server, &snapshot, scope).await;
        eprintln!(
            "crash harness: round {} of {rounds}: killed after {writing:?}, restarted in {:?}; retried {retried:?}; {checked} acknowledged writes checked",
            round + 1,
            checking - restarting,
        );
    }
    let snapshot = acknowledged.lock().unwrap().clone();
    let checked = check(&server, &snapshot, Scope::Everything).await;
    assert!(server.terminate().success());
    eprintln!(
        "crash harness: {rounds} rounds survived, {checked} acknowledged writes checked, cut-short writes retried: {all_retried:?}, in {:.1?}",
        started.elapsed()
    );
}

/// A random UUID (version 4 layout), for operation ids.
fn uuid_like(random: &mut Random) -> String {
    let (high, low) = (random.next(), random.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xfff,
        low >> 52,
        low & 0xffff_ffff_ffff
    )
}

fn from_env(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {value:?}")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_or_doubled_across_kills() {
    let rounds = from_env("PIPELOG_CRASH_ROUNDS").map_or(ROUNDS, |rounds| rounds as u32);
    let seed = from_env("PIPELOG_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    });
    eprintln!("crash harness: {rounds} rounds, PIPELOG_CRASH_SEED={seed}");
    let dir = tempfile::tempdir().unwrap();
    kill_and_restart(dir.path(), rounds, seed).await;
}
