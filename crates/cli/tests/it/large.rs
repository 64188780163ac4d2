//! A 1,000,000-line execution through the real binary: pages at any position, and an export
//! of all of it while the server's memory stays flat.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::process::{CHOSEN_KEY, Server, synthetic_message as message};

const LINES: usize = 1_000_000;

/// The server's resident memory, from /proc.
fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kilobytes: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kilobytes * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_lines_page_at_any_depth_and_export_in_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let id = server.load_synthetic_log(&client, "big", LINES).await;

    // A page at the start and one 900,000 lines deep, Talend's way.
    let page = |query: &str| {
        let path = format!("/monitoring/executions/{id}/logs?{query}");
        let (server, client) = (&server, &client);
        async move { server.call(client, Method::GET, &path, Value::Null).await }
    };
    let first = page("count=200&order=asc").await;
    assert_eq!(first["totalSize"], LINES);
    assert_eq!(first["data"][0]["logMessage"], message(0));
    let deep = page("count=200&order=asc&startIndex=900000").await;
    assert_eq!(deep["size"], 200);
    assert_eq!(deep["data"][0]["seq"], 900_000);
    assert_eq!(deep["data"][199]["logMessage"], message(900_199));
    assert_eq!(deep["nextIndex"], 900_200);

    // Export all of it as text, watching the server's memory while it builds.
    let pid = server.pid();
    let before = rss_bytes(pid);
    let started = server
        .call(
            &client,
            Method::POST,
            &format!("/monitoring/executions/{id}/logs?fileFormat=text"),
            Value::Null,
        )
        .await;
    assert_eq!(started["size"], LINES);
    let token = started["token"].as_str().unwrap().to_owned();
    let exporting = Instant::now();
    let mut peak = before;
    let link = loop {
        peak = peak.max(rss_bytes(pid));
        let status = server.export_status(&client, &id, &token).await;
        if status["status"] == "READY" {
            break status["presignedURL"].as_str().unwrap().to_owned();
        }
        assert_eq!(status["status"], "IN_PROGRESS");
        assert!(
            exporting.elapsed() < Duration::from_secs(600),
            "the export never finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let growth = peak.saturating_sub(before);
    eprintln!(
        "exported {LINES} lines in {:.1?}; RSS {} MiB before, peak growth {} MiB",
        exporting.elapsed(),
        before >> 20,
        growth >> 20
    );
    assert!(
        growth < 64 << 20,
        "exporting grew the server by {} MiB",
        growth >> 20
    );

    // Download it whole, streaming, and a range from the middle.
    let response = reqwest::get(&link).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let length: u64 = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut body = response.bytes_stream();
    let (mut lines, mut bytes, mut head) = (0_usize, 0_u64, Vec::new());
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|byte| **byte == b'\n').count();
        if head.len() < 200 {
            head.extend_from_slice(&chunk[..chunk.len().min(200)]);
        }
    }
    assert_eq!((lines, bytes), (LINES, length));
    assert!(String::from_utf8_lossy(&head).contains(&format!(" INFO [] {}", message(0))));
    let tail = client
        .get(&link)
        .header("range", format!("bytes={}-", length - 2000))
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    let tail = tail.text().await.unwrap();
    assert!(
        tail.trim_end()
            .ends_with(&message(LINES - 1).trim_end().to_owned()),
        "{tail}"
    );
    assert!(server.terminate().success());
}
