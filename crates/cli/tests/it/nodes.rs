//! Many nodes: two `pipelog serve` processes on one PostgreSQL database and one shared data
//! dir (the secrets and the export files), started at once. A line written through one is
//! heard by a follower of the other; a key's rate limit holds across both; an export asked
//! for on one is built once and downloaded through the other; and an export whose builder
//! is killed mid-way is finished by the other node, running all along.
//!
//! PostgreSQL runs of the suite only (`PIPELOG_TEST_BACKEND=postgres`).

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server, database_for, on_postgres};

const BOOTSTRAP: (&str, &str) = ("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY);

/// Starts a node on the shared data dir (and so on its database).
fn node(dir: &Path) -> Server {
    Server::start(dir, &[], &[BOOTSTRAP])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_followers_limits_and_exports() {
    if !on_postgres() {
        eprintln!("skipped: many nodes need PostgreSQL (PIPELOG_TEST_BACKEND=postgres)");
        return;
    }
    let shared = tempfile::tempdir().unwrap();
    // The database is made before either node starts, so both migrate it at once.
    database_for(shared.path());
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| node(shared.path()));
        let b = scope.spawn(|| node(shared.path()));
        (a.join().unwrap(), b.join().unwrap())
    });
    let client = reqwest::Client::new();

    a_follower_on_b_hears_a_line_written_through_a(&a, &b, &client).await;
    a_key_is_limited_across_nodes(&a, &b, &client).await;
    let id = load_lines(&a, &client, 200_000).await;
    an_export_asked_on_a_is_built_once_and_served_by_b(&a, &b, &client, &id).await;

    // Whichever node builds an export, killing it leaves the export to the other, which
    // keeps running throughout.
    let token = export(&a, &client, &id).await;
    let exports = shared.path().join("exports");
    let deadline = Instant::now() + Duration::from_secs(60);
    let building = |node: &Server| {
        node.stderr()
            .iter()
            .any(|line| line.contains("building an export") && line.contains(&token))
    };
    let (builder, peer) = loop {
        if has_part_file(&exports) {
            if building(&a) {
                break (a, b);
            }
            if building(&b) {
                break (b, a);
            }
        }
        assert!(Instant::now() < deadline, "no node began the export");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let killed = builder.kill();
    assert!(!killed.success());
    // The killed node's claim goes stale (30 s) before the peer takes the export over.
    let link = wait_ready(&peer, &client, &id, &token, Duration::from_secs(120)).await;
    let text = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert_eq!(text.lines().count(), 200_000, "the peer built all of it");
    assert!(
        peer.stderr()
            .iter()
            .any(|line| line.contains("export built") && line.contains(&token)),
        "the peer built it"
    );
    peer.terminate();
}

async fn a_follower_on_b_hears_a_line_written_through_a(
    a: &Server,
    b: &Server,
    client: &reqwest::Client,
) {
    let execution = a
        .call(
            client,
            Method::POST,
            "/v1/executions",
            json!({"jobKey": "tail"}),
        )
        .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    let follow = client
        .get(b.url(&format!("/v1/executions/{id}/logs/stream")))
        .header("X-Api-Key", CHOSEN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), StatusCode::OK);
    let mut events = follow.bytes_stream();
    // Wait for the stream's first bytes, so the follower is in place before the write.
    let mut seen = String::new();
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        if let Some(chunk) = events.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    })
    .await;

    let written = Instant::now();
    a.call(
        client,
        Method::POST,
        &format!("/v1/executions/{id}/logs"),
        json!([{"message": "written through A"}]),
    )
    .await;
    while !seen.contains("written through A") {
        let chunk = tokio::time::timeout(Duration::from_secs(1), events.next())
            .await
            .expect("the follower on B heard nothing within a second")
            .expect("the stream ended")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let heard = written.elapsed();
    eprintln!("a line written through A reached a follower on B in {heard:?}");
    assert!(
        heard < Duration::from_secs(1),
        "B's follower heard the line after {heard:?}"
    );
}

async fn a_key_is_limited_across_nodes(a: &Server, b: &Server, client: &reqwest::Client) {
    let created = a
        .call(
            client,
            Method::POST,
            "/v1/keys",
            json!({"account": "limited", "permissions": ["JOBS_READ"], "rateLimit": 4}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    // Alternating nodes: each alone would allow four.
    for n in 0..8 {
        let node = if n % 2 == 0 { a } else { b };
        let response = client
            .get(node.url("/v1/executions"))
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429, 429, 429],
        "the limit of 4 per minute holds across both nodes"
    );
}

/// A new execution with `count` lines, written through `node`; its id.
async fn load_lines(node: &Server, client: &reqwest::Client, count: usize) -> String {
    let execution = node
        .call(
            client,
            Method::POST,
            "/v1/executions",
            json!({"jobKey": "big"}),
        )
        .await;
    let id = execution["id"].as_str().unwrap().to_owned();
    for first in (0..count).step_by(10_000) {
        let body: String = (first..(first + 10_000).min(count))
            .map(|n| {
                format!(
                    "{}\n",
                    json!({"message": format!("line {n} of a long log")})
                )
            })
            .collect();
        node.append_ndjson(client, &id, body).await;
    }
    id
}

async fn an_export_asked_on_a_is_built_once_and_served_by_b(
    a: &Server,
    b: &Server,
    client: &reqwest::Client,
    id: &str,
) {
    let token = export(a, client, id).await;
    let link = wait_ready(b, client, id, &token, Duration::from_secs(120)).await;
    assert!(
        link.starts_with(&b.base),
        "B hands out its own link: {link}"
    );
    let text = reqwest::get(&link).await.unwrap().text().await.unwrap();
    assert_eq!(text.lines().count(), 200_000);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("line 0 of a long log")
    );
    let built = [a, b]
        .iter()
        .map(|node| {
            node.stderr()
                .iter()
                .filter(|line| line.contains("export built"))
                .count()
        })
        .sum::<usize>();
    assert_eq!(built, 1, "one node built the export, once");
}

/// Asks `node` for a text export of the execution; its token.
async fn export(node: &Server, client: &reqwest::Client, id: &str) -> String {
    let started = node
        .call(
            client,
            Method::POST,
            &format!("/monitoring/executions/{id}/logs?fileFormat=text"),
            Value::Null,
        )
        .await;
    started["token"].as_str().unwrap().to_owned()
}

/// Polls the export's status on `node` until it is ready; its download link.
async fn wait_ready(
    node: &Server,
    client: &reqwest::Client,
    id: &str,
    token: &str,
    within: Duration,
) -> String {
    let deadline = Instant::now() + within;
    loop {
        let status = node.export_status(client, id, token).await;
        if status["status"] == "READY" {
            return status["presignedURL"].as_str().unwrap().to_owned();
        }
        assert_eq!(status["status"], "IN_PROGRESS", "{status}");
        assert!(Instant::now() < deadline, "the export never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn has_part_file(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| entry.path().extension().is_some_and(|ext| ext == "part"))
    })
}
