//! Settings come from a flag, else the environment, else the config file, else the default.

use reqwest::StatusCode;
use serde_json::json;

use crate::process::{CHOSEN_KEY, Server, run};

/// The `RateLimit-Limit` a key without its own limit gets: the server's default.
async fn default_limit(server: &Server) -> String {
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(server.url("/v1/keys"))
        .header("X-Api-Key", CHOSEN_KEY)
        .json(&json!({"account": "acme", "permissions": ["JOBS_READ"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = client
        .get(server.url("/v1/executions"))
        .header("X-Api-Key", created["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["ratelimit-limit"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_beats_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("from-the-file");
    let config = dir.path().join("pipelog.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = {:?}\ndefault_rate_limit = 7\n",
            data_dir.to_str().unwrap()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let key = ("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY);

    let from_file = Server::start_raw(&["serve", "--config", config], &[key]);
    assert_eq!(default_limit(&from_file).await, "7");
    assert!(from_file.terminate().success());
    assert!(
        data_dir.join("pipelog.db").exists(),
        "data_dir came from the file"
    );

    let from_env = Server::start_raw(
        &["serve"],
        &[
            key,
            ("PIPELOG_CONFIG", config),
            ("PIPELOG_DEFAULT_RATE_LIMIT", "8"),
        ],
    );
    assert_eq!(default_limit(&from_env).await, "8");
    assert!(from_env.terminate().success());

    let from_flag = Server::start_raw(
        &["serve", "--config", config, "--default-rate-limit", "9"],
        &[key, ("PIPELOG_DEFAULT_RATE_LIMIT", "8")],
    );
    assert_eq!(default_limit(&from_flag).await, "9");
    assert!(from_flag.terminate().success());
}

#[test]
fn a_bad_config_file_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pipelog.toml");
    std::fs::write(&config, "lisen = \"127.0.0.1:0\"\n").unwrap();
    let output = run(&["serve", "--config", config.to_str().unwrap()], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown field `lisen`"), "{stderr}");

    let output = run(&["serve", "--listen", "not-an-address"], &[]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--log-format", "json", "--log", "debug"],
        &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)],
    );
    let response = reqwest::Client::new()
        .get(server.url("/no/such/route"))
        .header("x-request-id", "probe-4711")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The server's stderr is read by a thread: wait (boundedly) for the event to arrive.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let stderr = loop {
        let stderr = server.stderr();
        if stderr.iter().any(|line| line.contains("request refused")) {
            break stderr;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing logged: {stderr:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(server.terminate().success());
    let events: Vec<serde_json::Value> = stderr
        .iter()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let refused = events
        .iter()
        .find(|event| event["message"] == "request refused")
        .unwrap_or_else(|| panic!("no refusal logged: {stderr:?}"));
    assert_eq!(refused["level"], "DEBUG");
    assert_eq!(refused["status"], 404);
    assert_eq!(refused["reason"], "no route for GET /no/such/route");
    assert_eq!(refused["span"]["request_id"], "probe-4711", "{refused}");
}
