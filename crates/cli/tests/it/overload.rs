//! Overload: offered ten times the load it sustains, the server sheds what it cannot take
//! with 503 and `Retry-After` (never a hang, never unbounded memory), loses nothing it
//! acknowledged, and serves normally again as soon as the load stops.
//!
//! The load is open-loop: requests are sent at a fixed rate whatever the answers, as
//! independent clients do. `cargo test` offers it for [`OVERLOAD`]; `PIPELOG_OVERLOAD_SECS`
//! asks for longer (`cargo xtask soak` runs a minute).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server};

const KEY: (&str, &str) = ("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY);
/// How long the sustainable rate is measured.
const MEASURING: Duration = Duration::from_secs(3);
/// How long ten times that rate is offered in a `cargo test` run.
const OVERLOAD: Duration = Duration::from_secs(5);
/// Requests of the overload not yet answered, at most: the generator's own memory bound.
const MAX_OUTSTANDING: usize = 2048;
/// Lines in each request: 8 of about 1 KiB, so bodies weigh on the admission budget.
const LINES_PER_REQUEST: usize = 8;
/// The server's budget of bodies in flight in this test: about 16 requests' worth.
const INFLIGHT_BYTES: &str = "262144";
/// Executions the load is spread over.
const EXECUTIONS: usize = 8;
/// The bound on the server's peak resident memory that docs/reliability.md states for
/// this test's settings (a debug build).
const MAX_RSS_BYTES: u64 = 512 * 1024 * 1024;

/// What the server answered, by kind.
#[derive(Debug, Default)]
struct Tally {
    acknowledged: u64,
    shed: u64,
    /// Any other status, or no answer: each is a failure of the test.
    other: Vec<String>,
}

/// One request of `LINES_PER_REQUEST` unique lines; on 201 its messages are recorded.
async fn send(
    http: reqwest::Client,
    base: Arc<str>,
    execution: Arc<str>,
    n: u64,
    tally: Arc<Mutex<Tally>>,
    stored: Arc<Mutex<HashMap<Arc<str>, Vec<String>>>>,
) {
    let padding = "x".repeat(1000);
    let messages: Vec<String> = (0..LINES_PER_REQUEST)
        .map(|line| format!("load-{n}-{line} {padding}"))
        .collect();
    let body: Vec<Value> = messages
        .iter()
        .map(|message| json!({"message": message}))
        .collect();
    let answer = http
        .post(format!("{base}/v1/executions/{execution}/logs"))
        .header("X-Api-Key", CHOSEN_KEY)
        .json(&body)
        .send()
        .await;
    let mut tally = tally.lock().unwrap();
    match answer {
        Ok(response) if response.status() == StatusCode::CREATED => {
            tally.acknowledged += 1;
            drop(tally);
            stored
                .lock()
                .unwrap()
                .entry(execution)
                .or_default()
                .extend(messages);
        }
        Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
            match response.headers().get("retry-after") {
                Some(_) => tally.shed += 1,
                None => tally.other.push("503 without Retry-After".into()),
            }
        }
        Ok(response) => tally.other.push(response.status().to_string()),
        Err(error) => tally.other.push(error.to_string()),
    }
}

/// The server's peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

/// Sends requests at `rate` per second for `length`, whatever the answers; returns how
/// many were sent, and how many were not because `MAX_OUTSTANDING` were unanswered.
async fn offer(
    rate: f64,
    length: Duration,
    base: &Arc<str>,
    executions: &[Arc<str>],
    tally: &Arc<Mutex<Tally>>,
    stored: &Arc<Mutex<HashMap<Arc<str>, Vec<String>>>>,
) -> (u64, u64) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    let (mut sent, mut skipped) = (0u64, 0u64);
    let mut outstanding = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while started.elapsed() < length {
        tick.tick().await;
        while outstanding.try_join_next().is_some() {}
        let due = (started.elapsed().as_secs_f64() * rate) as u64;
        while sent + skipped < due {
            if outstanding.len() >= MAX_OUTSTANDING {
                skipped = due - sent;
                break;
            }
            // Numbered apart from the measuring phase's requests.
            let n = (1 << 40) + sent;
            let execution = Arc::clone(&executions[n as usize % executions.len()]);
            outstanding.spawn(send(
                http.clone(),
                Arc::clone(base),
                execution,
                n,
                Arc::clone(tally),
                Arc::clone(stored),
            ));
            sent += 1;
        }
    }
    while outstanding.join_next().await.is_some() {}
    (sent, skipped)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_sustainable_load_is_shed_and_survived() {
    let overload = std::env::var("PIPELOG_OVERLOAD_SECS")
        .ok()
        .map_or(OVERLOAD, |secs| {
            Duration::from_secs(secs.parse().expect("PIPELOG_OVERLOAD_SECS: seconds"))
        });
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &[
            "--max-inflight-bytes",
            INFLIGHT_BYTES,
            "--max-body-bytes",
            "65536",
        ],
        &[KEY],
    );
    let http = reqwest::Client::new();
    let mut executions = Vec::new();
    for _ in 0..EXECUTIONS {
        let launched = server
            .call(
                &http,
                Method::POST,
                "/v1/executions",
                json!({"jobKey": "load"}),
            )
            .await;
        executions.push(Arc::<str>::from(launched["id"].as_str().unwrap()));
    }
    let base: Arc<str> = server.base.clone().into();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stored = Arc::new(Mutex::new(HashMap::new()));

    // What it sustains: 16 clients, each waiting for its answer before the next request.
    let measuring = Instant::now();
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..16u64 {
        let (http, base, executions) = (http.clone(), Arc::clone(&base), executions.clone());
        let (tally, stored) = (Arc::clone(&tally), Arc::clone(&stored));
        clients.spawn(async move {
            let mut n = client;
            while measuring.elapsed() < MEASURING {
                let execution = Arc::clone(&executions[n as usize % EXECUTIONS]);
                let (tally, stored) = (Arc::clone(&tally), Arc::clone(&stored));
                send(http.clone(), Arc::clone(&base), execution, n, tally, stored).await;
                n += 16;
            }
        });
    }
    while clients.join_next().await.is_some() {}
    let sustained = {
        let tally = tally.lock().unwrap();
        assert!(tally.other.is_empty(), "while measuring: {:?}", tally.other);
        tally.acknowledged as f64 / measuring.elapsed().as_secs_f64()
    };
    *tally.lock().unwrap() = Tally::default();

    let rate = 10.0 * sustained;
    let loading = Instant::now();
    let (offered, skipped) = offer(rate, overload, &base, &executions, &tally, &stored).await;
    let loaded_for = loading.elapsed();

    // Recovery: the very next request is served.
    let recovering = Instant::now();
    let mut recovered = None;
    while recovering.elapsed() < Duration::from_secs(10) {
        let probe = http
            .get(server.url("/v1/executions?limit=1"))
            .header("X-Api-Key", CHOSEN_KEY)
            .send()
            .await
            .unwrap();
        if probe.status() == StatusCode::OK {
            recovered = Some(recovering.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peak = peak_rss(server.pid());
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    eprintln!(
        "overload: sustained {sustained:.0} req/s; offered {offered} requests at {rate:.0} req/s ({skipped} more not sent: {MAX_OUTSTANDING} unanswered), answered within {loaded_for:.1?}: {} acknowledged, {} shed with 503, peak RSS {:.1} MiB, recovered after {recovered:?}",
        tally.acknowledged,
        tally.shed,
        peak as f64 / 1048576.0
    );
    assert!(
        tally.other.is_empty(),
        "answers other than 201 and 503: {:?}",
        &tally.other[..tally.other.len().min(10)]
    );
    assert!(tally.shed > 0, "ten times the sustainable load sheds some");
    assert!(tally.acknowledged > 0, "and still serves some");
    assert!(
        recovered.is_some(),
        "the server serves again once the load stops"
    );
    assert!(
        peak < MAX_RSS_BYTES,
        "peak RSS {peak} bytes, over the documented bound"
    );

    // Nothing acknowledged was lost or doubled.
    let stored = std::mem::take(&mut *stored.lock().unwrap());
    for (execution, mut acknowledged) in stored {
        let mut lines = server.messages(&http, &execution).await;
        acknowledged.sort();
        lines.sort();
        assert_eq!(
            lines, acknowledged,
            "execution {execution}: exactly what was acknowledged"
        );
    }
    assert!(server.terminate().success());
}
