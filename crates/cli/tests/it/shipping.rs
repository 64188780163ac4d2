//! The commands that write logs: `pipelog log` from a pipe under a rate limit, or across a
//! server's restart, loses and doubles nothing, and `pipelog run` turns a command into an execution whose log, final
//! status and exit code follow the command's.

use std::io::Write;
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::process::{CHOSEN_KEY, Server, pipelog, run, text};

/// Every line of an execution, oldest first.
async fn all_lines(server: &Server, client: &reqwest::Client, id: &str) -> Vec<Value> {
    let mut lines = Vec::new();
    let mut path = format!("/v1/executions/{id}/logs?limit=1000");
    loop {
        let page = server.call(client, Method::GET, &path, Value::Null).await;
        lines.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/v1/executions/{id}/logs?limit=1000&cursor={cursor}"),
            None => return lines,
        }
    }
}

/// The only execution of a job.
async fn execution_of(server: &Server, client: &reqwest::Client, job: &str) -> Value {
    let page = server
        .call(
            client,
            Method::GET,
            &format!("/v1/executions?jobKey={job}"),
            Value::Null,
        )
        .await;
    let executions = page["data"].as_array().unwrap();
    assert_eq!(executions.len(), 1, "{page}");
    executions[0].clone()
}

/// `pipelog ARGS` started with its stdin a pipe the test writes to, and its output kept.
fn log_from_a_pipe(args: &[&str], env: &[(&str, &str)]) -> (Child, ChildStdin) {
    let mut writer = pipelog(args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = writer.stdin.take().unwrap();
    (writer, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_from_a_pipe_under_a_rate_limit_writes_every_line_once() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    // Ten requests a minute: a new one every 6 s once the first ten are spent.
    let created = server
        .call(
            &client,
            Method::POST,
            "/v1/keys",
            json!({"permissions": ["EXECUTION_LOGS_WRITE"], "rateLimit": 10}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let env = [
        ("PIPELOG_URL", server.base.as_str()),
        ("PIPELOG_API_KEY", &key),
    ];

    let (writer, mut stdin) = log_from_a_pipe(
        &["log", "--cid", "cron-2026-11-22", "--emitter", "feeder"],
        &env,
    );
    // Lines as a slow producer writes them: more flushes than the limit allows, so some
    // batches are refused with 429 and sent again, and later lines queue up meanwhile.
    const LINES: usize = 60;
    let feeding = std::thread::spawn(move || {
        for number in 0..LINES {
            writeln!(stdin, "line {number}").unwrap();
            stdin.flush().unwrap();
            if number < 24 {
                std::thread::sleep(Duration::from_millis(120));
            }
        }
    });
    let output = tokio::task::spawn_blocking(move || writer.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    feeding.join().unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("429"),
        "the limit was reached and waited out: {stderr}"
    );

    let execution = execution_of(&server, &client, "feeder").await;
    assert_eq!(execution["cid"], "cron-2026-11-22");
    assert_eq!(execution["status"], "RUNNING");
    let lines = all_lines(&server, &client, execution["id"].as_str().unwrap()).await;
    let messages: Vec<String> = lines
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..LINES).map(|number| format!("line {number}")).collect();
    assert_eq!(messages, expected, "every line once, in order");
    assert!(lines.iter().all(|line| line["emitterName"] == "feeder"));
    let batches: std::collections::BTreeSet<&str> = lines
        .iter()
        .map(|line| line["createdAt"].as_str().unwrap())
        .collect();
    assert!(batches.len() > 1, "the lines went as they came, in batches");

    // One line, as an argument, with a severity; an execution that ended takes no more.
    let one = run(
        &[
            "log",
            "--cid",
            "cron-2026-11-22",
            "--severity",
            "error",
            "--markdown",
            "**disk full**",
        ],
        &server.client_env(),
    );
    assert!(one.status.success(), "{}", text(&one.stderr));
    let id = execution["id"].as_str().unwrap();
    let last = all_lines(&server, &client, id).await.pop().unwrap();
    assert_eq!(
        (&last["message"], &last["severity"], &last["messageType"]),
        (&json!("**disk full**"), &json!("error"), &json!("MARKDOWN"))
    );
    server
        .call(
            &client,
            Method::POST,
            &format!("/v1/executions/{id}/end"),
            json!({"status": "COMPLETED"}),
        )
        .await;
    let refused = run(
        &["log", "--execution", id, "too late"],
        &server.client_env(),
    );
    assert_eq!(refused.status.code(), Some(1));
    let error = text(&refused.stderr);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(error.contains("409"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_logs_a_command_and_ends_as_it_did() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let env = server.client_env();

    // A command that fails: its output is logged (and copied), its code passed through.
    let failed = run(
        &[
            "run",
            "--job",
            "import",
            "--",
            "sh",
            "-c",
            "echo reading orders; echo 'orders: no such table' >&2; exit 3",
        ],
        &env,
    );
    assert_eq!(failed.status.code(), Some(3), "{}", text(&failed.stderr));
    assert_eq!(text(&failed.stdout), "reading orders\n");
    assert!(text(&failed.stderr).contains("orders: no such table\n"));
    let execution = execution_of(&server, &client, "import").await;
    assert_eq!(execution["status"], "FAILED");
    assert_eq!(
        execution["input"]["command"],
        json!([
            "sh",
            "-c",
            "echo reading orders; echo 'orders: no such table' >&2; exit 3"
        ])
    );
    let lines = all_lines(&server, &client, execution["id"].as_str().unwrap()).await;
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|line| {
            (
                line["severity"].as_str().unwrap(),
                line["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(seen.contains(&("info", "reading orders")), "{seen:?}");
    assert!(
        seen.contains(&("error", "orders: no such table")),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&("error", "the command exited with code 3")),
        "{seen:?}"
    );
    assert_eq!(lines[0]["emitterName"], "sh");

    // A command that succeeds, quietly.
    let completed = run(
        &["run", "--job", "backup", "--quiet", "--", "echo", "done"],
        &env,
    );
    assert_eq!(
        completed.status.code(),
        Some(0),
        "{}",
        text(&completed.stderr)
    );
    assert_eq!(text(&completed.stdout), "", "--quiet copies nothing");
    assert_eq!(
        execution_of(&server, &client, "backup").await["status"],
        "COMPLETED"
    );

    // A command that cannot be started fails the execution with the shell's 127.
    let missing = run(
        &["run", "--job", "missing", "--", "/nonexistent/command"],
        &env,
    );
    assert_eq!(missing.status.code(), Some(127));
    let execution = execution_of(&server, &client, "missing").await;
    assert_eq!(execution["status"], "FAILED");
    let lines = all_lines(&server, &client, execution["id"].as_str().unwrap()).await;
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot run `/nonexistent/command`"),
        "{lines:?}"
    );

    // SIGTERM to pipelog reaches the command; the execution is TERMINATED, the exit 143.
    let mut wrapped = pipelog(
        &[
            "run",
            "--job",
            "long",
            "--",
            "sh",
            "-c",
            "echo started; exec sleep 30",
        ],
        &env,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut first = [0u8; 8];
    std::io::Read::read_exact(wrapped.stdout.as_mut().unwrap(), &mut first).unwrap();
    assert_eq!(&first, b"started\n");
    terminate(wrapped.id());
    let terminated = tokio::task::spawn_blocking(move || wrapped.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        terminated.status.code(),
        Some(143),
        "{}",
        text(&terminated.stderr)
    );
    let execution = execution_of(&server, &client, "long").await;
    assert_eq!(execution["status"], "TERMINATED");
}

/// SIGTERM to a process, as `kill PID` sends it.
fn terminate(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_sends_lines_as_they_come_and_outlasts_a_killed_server() {
    let data = tempfile::tempdir().unwrap();
    let bootstrap = [("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)];
    let server = Server::start(data.path(), &[], &bootstrap);
    let client = reqwest::Client::new();
    let env = server.client_env();
    let (writer, mut stdin) =
        log_from_a_pipe(&["log", "--cid", "outage", "--emitter", "outage"], &env);
    let mut feed = |numbers: std::ops::Range<usize>| {
        for number in numbers {
            writeln!(stdin, "line {number}").unwrap();
        }
        stdin.flush().unwrap();
    };

    // With stdin still open, the first lines reach the server: batches go by time.
    feed(0..10);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let id = loop {
        let page = server
            .call(
                &client,
                Method::GET,
                "/v1/executions?jobKey=outage",
                Value::Null,
            )
            .await;
        if let Some(execution) = page["data"].as_array().unwrap().first() {
            let id = execution["id"].as_str().unwrap().to_owned();
            if all_lines(&server, &client, &id).await.len() == 10 {
                break id;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "lines waiting in an open pipe were never sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    // The server dies; lines written meanwhile wait, retried, until it is back.
    let listen = server.base.trim_start_matches("http://").to_owned();
    assert!(!server.kill().success());
    feed(10..20);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut args = vec!["serve", "--listen", listen.as_str()];
    let store = crate::process::store_args(data.path());
    args.extend(store.iter().map(String::as_str));
    let server = Server::start_raw(&args, &bootstrap);
    feed(20..30);
    drop(stdin);
    let output = tokio::task::spawn_blocking(move || writer.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("(no answer: "),
        "each retry is noted: {stderr}"
    );
    let messages: Vec<String> = all_lines(&server, &client, &id)
        .await
        .iter()
        .map(|line| line["message"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..30).map(|number| format!("line {number}")).collect();
    assert_eq!(messages, expected, "every line once, in order");
}
