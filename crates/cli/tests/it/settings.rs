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
