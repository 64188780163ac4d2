//! Live tail: `GET /v1/executions/{id}/logs/stream`.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

use crate::app::{TestApp, expect_error};

/// One Server-Sent Event.
#[derive(Debug)]
struct Sse {
    id: Option<String>,
    event: String,
    data: Value,
}

/// Reads events off a streaming response until `until` says stop (or it ends).
async fn read_events(response: reqwest::Response, mut until: impl FnMut(&Sse) -> bool) -> Vec<Sse> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("the stream stalled")
    {
        buffer.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut id, mut event, mut data) = (None, "message".to_owned(), String::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id:") {
                    id = Some(value.trim().to_owned());
                } else if let Some(value) = line.strip_prefix("event:") {
                    event = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a heartbeat comment
            }
            let parsed = Sse {
                id,
                event,
                data: serde_json::from_str(&data).unwrap(),
            };
            let stop = until(&parsed);
            events.push(parsed);
            if stop {
                return events;
            }
        }
    }
    events
}

fn messages(events: &[Sse]) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.event == "log")
        .map(|event| event.data["message"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_get_every_line_once_then_the_end() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let execution = app.launch(&key, "job").await;
    let id = execution["id"].as_str().unwrap().to_owned();
    app.append(&key, &id, &["before 0", "before 1"]).await;
    let path = format!("/v1/executions/{id}/logs/stream");

    let open = |app: &TestApp| app.request(reqwest::Method::GET, &path, &key).send();
    let first = open(&app).await.unwrap();
    let second = open(&app).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    let readers = [first, second]
        .map(|response| tokio::spawn(read_events(response, |event| event.event == "end")));

    // Lines written while they follow, in many small commits and one large.
    for n in 0..30 {
        app.append(&key, &id, &[&format!("live {n}")]).await;
    }
    let bulk: Vec<String> = (0..2500).map(|n| format!("bulk {n}")).collect();
    app.append(&key, &id, &bulk).await;
    app.end(&key, &id, "COMPLETED").await;

    let mut expected = vec!["before 0".to_owned(), "before 1".to_owned()];
    expected.extend((0..30).map(|n| format!("live {n}")));
    expected.extend(bulk);
    for reader in readers {
        let events = reader.await.unwrap();
        assert_eq!(messages(&events), expected, "every line, once, in order");
        let ids: Vec<u64> = events
            .iter()
            .filter(|event| event.event == "log")
            .map(|event| event.id.as_deref().unwrap().parse().unwrap())
            .collect();
        assert_eq!(
            ids,
            (0..expected.len() as u64).collect::<Vec<_>>(),
            "the event id is the seq"
        );
        let end = events.last().unwrap();
        assert_eq!(end.event, "end");
        assert_eq!(end.data["status"], "COMPLETED");
        assert_eq!(end.data["lastSeq"], expected.len() - 1);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_resumes_after_the_last_event_and_can_start_at_the_tail() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let lines: Vec<String> = (0..10).map(|n| format!("line {n}")).collect();
    app.append(&key, &id, &lines).await;
    app.end(&key, &id, "FAILED").await;
    let path = format!("/v1/executions/{id}/logs/stream");

    let resumed = app
        .request(reqwest::Method::GET, &path, &key)
        .header("Last-Event-ID", "6")
        .send()
        .await
        .unwrap();
    let events = read_events(resumed, |event| event.event == "end").await;
    assert_eq!(messages(&events), ["line 7", "line 8", "line 9"]);
    assert_eq!(events.last().unwrap().data["status"], "FAILED");

    let tail = app
        .request(reqwest::Method::GET, &format!("{path}?tail=2"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        messages(&read_events(tail, |event| event.event == "end").await),
        ["line 8", "line 9"]
    );

    let page = app
        .get(&format!("/v1/executions/{id}/logs?limit=4"), &key)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let cursor = page["nextCursor"].as_str().unwrap();
    let from_cursor = app
        .request(
            reqwest::Method::GET,
            &format!("{path}?cursor={cursor}"),
            &key,
        )
        .send()
        .await
        .unwrap();
    let events = read_events(from_cursor, |event| event.event == "end").await;
    assert_eq!(
        messages(&events).first().map(String::as_str),
        Some("line 4")
    );

    expect_error(
        app.request(reqwest::Method::GET, &path, &key)
            .header("Last-Event-ID", "x")
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid header `Last-Event-ID`",
    )
    .await;
    let other = app.full_key("initech").await;
    expect_error(
        app.request(reqwest::Method::GET, &path, &other)
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "execution not found",
    )
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_ends_when_the_server_stops() {
    let app = TestApp::spawn().await;
    let key = app.full_key("acme").await;
    let id = app.launch_id(&key, "job").await;
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/v1/executions/{id}/logs/stream"),
            &key,
        )
        .send()
        .await
        .unwrap();
    let reader = tokio::spawn(read_events(response, |_| false));
    app.stop().await;
    let events = reader.await.unwrap();
    assert!(
        events.iter().all(|event| event.event != "end"),
        "no end: the execution did not end"
    );
}
