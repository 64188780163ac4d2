//! `pipelog keys create`, offline and beside a running server (on PostgreSQL runs, on the
//! server's database).

use std::path::Path;

use reqwest::StatusCode;

use crate::process::{Server, run, store_args};

fn create_key(data_dir: &Path, extra: &[&str]) -> String {
    let store = store_args(data_dir);
    let mut args = vec!["keys", "create"];
    args.extend(store.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let output = run(&args, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let key = stdout.lines().last().expect("a line on stdout").to_owned();
    assert!(key.starts_with("pl_"), "{stdout}");
    key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_offline_and_beside_a_running_server_work() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path();
    let offline = create_key(
        data_dir,
        &[
            "--account",
            "acme",
            "--permissions",
            "JOBS_READ,jobs_execute",
            "--rate-limit",
            "5",
            "--name",
            "ci",
        ],
    );

    let server = Server::start(dir.path(), &[], &[]);
    assert!(
        server.printed_key().is_some(),
        "a store whose first key came from the CLI still gets its operator key"
    );
    let client = reqwest::Client::new();
    let listed = client
        .get(server.url("/v1/executions"))
        .header("X-Api-Key", &offline)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(listed.headers()["ratelimit-limit"], "5");
    let forbidden = client
        .get(server.url("/v1/keys"))
        .header("X-Api-Key", &offline)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);

    // While the server runs, a key made in its data dir works at once.
    let beside = create_key(
        data_dir,
        &[
            "--account",
            "initech",
            "--permissions",
            "ALL",
            "--rate-limit",
            "0",
        ],
    );
    let keys = client
        .get(server.url("/v1/keys"))
        .header("X-Api-Key", &beside)
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status(), StatusCode::OK);
    assert!(
        keys.headers().get("ratelimit-limit").is_none(),
        "rate limit 0 is none"
    );

    // A data agent's key: the operating log items it writes carry the agent.
    let agent = "65d9f221-01ce-433f-bc63-e81a4201516a";
    let agent_key = create_key(
        data_dir,
        &[
            "--account",
            "initech",
            "--permissions",
            "OPERATING_LOGS_WRITE",
            "--agent-id",
            agent,
            "--agent-code",
            "ERP-EU",
            "--source-id",
            agent,
        ],
    );
    let written = client
        .post(server.url("/api/v1/OperatingLogs"))
        .header("Authorization", format!("Bearer {agent_key}"))
        .json(
            &serde_json::json!({"operationType": "InputData", "activityType": "Application|Start"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), StatusCode::CREATED);
    let item: serde_json::Value = written.json().await.unwrap();
    assert_eq!(
        (item["agentId"].as_str(), item["agentCode"].as_str()),
        (Some(agent), Some("ERP-EU"))
    );
    assert_eq!(item["sourceId"], agent);
    assert!(server.terminate().success());
}

#[test]
fn bad_arguments_name_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--account", "acme", "--permissions", "LOGS_READ"],
            "unknown permission `LOGS_READ`",
        ),
        (
            vec!["--account", "bad name", "--permissions", "JOBS_READ"],
            "invalid --account `bad name`",
        ),
        (
            vec!["--account", "acme", "--permissions", ","],
            "--permissions names no permission",
        ),
        (
            vec![
                "--account",
                "acme",
                "--permissions",
                "ALL",
                "--agent-id",
                "erp",
            ],
            "invalid --agent-id `erp`",
        ),
        (
            vec![
                "--account",
                "acme",
                "--permissions",
                "ALL",
                "--agent-code",
                "ERP",
            ],
            "--agent-id",
        ),
    ] {
        let mut all = vec!["keys", "create", "--data-dir", data_dir];
        all.extend(args);
        let output = run(&all, &[]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{stderr}");
        assert!(output.stdout.is_empty(), "no key printed on failure");
    }
}
