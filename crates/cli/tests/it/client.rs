//! The client commands against a real server: `pipelog login` keeps a profile, and
//! `pipelog executions` drives executions through it (or through `PIPELOG_URL` and
//! `PIPELOG_API_KEY`), printing tables or JSON, and failing with one line.

use std::io::Write;
use std::process::{Output, Stdio};

use serde_json::Value;

use crate::process::{CHOSEN_KEY, Server, pipelog, run, run_in_terminal, text};

/// Runs `pipelog ARGS` with `input` on stdin.
fn run_with_stdin(args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut child = pipelog(args, env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// What a command printed with `-o json` for a list or a stream: one object per line.
fn objects_per_line(output: &Output) -> Vec<Value> {
    text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn login_keeps_a_private_profile_that_executions_commands_use() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let home = tempfile::tempdir().unwrap();
    let env = [("HOME", home.path().to_str().unwrap())];

    // A key the server refuses is not kept.
    let refused = run_with_stdin(
        &["login", "--url", &server.base],
        &env,
        "pl_not_a_key_at_all_0000\n",
    );
    assert!(!refused.status.success());
    let error = text(&refused.stderr);
    assert_eq!(error.lines().count(), 1, "one line: {error}");
    assert!(error.contains("not valid"), "{error}");
    let config = home.path().join(".config/pipelog/config.toml");
    assert!(!config.exists());

    let logged_in = run_with_stdin(
        &[
            "login",
            "--url",
            &format!("{}/", server.base),
            "--profile",
            "ci",
        ],
        &env,
        &format!("{CHOSEN_KEY}\n"),
    );
    assert!(logged_in.status.success(), "{}", text(&logged_in.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is its owner's alone");
    }
    let kept = std::fs::read_to_string(&config).unwrap();
    assert!(
        kept.contains("[profiles.ci]") && kept.contains(CHOSEN_KEY),
        "{kept}"
    );

    // Without --profile, the default profile is used, and there is none.
    let missing = run(&["executions", "list"], &env);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("pipelog login --url URL"),
        "{}",
        text(&missing.stderr)
    );

    // PIPELOG_PROFILE picks a profile as --profile does; either variable alone overrides
    // its half of the profile.
    let home_dir = home.path().to_str().unwrap();
    let by_variable = run(
        &["executions", "list"],
        &[("HOME", home_dir), ("PIPELOG_PROFILE", "ci")],
    );
    assert!(
        by_variable.status.success(),
        "{}",
        text(&by_variable.stderr)
    );
    let other_key = run(
        &["executions", "list", "--profile", "ci"],
        &[
            ("HOME", home_dir),
            ("PIPELOG_API_KEY", "pl_not_the_profile_key_0000"),
        ],
    );
    assert!(!other_key.status.success());
    assert!(
        text(&other_key.stderr).contains("401"),
        "{}",
        text(&other_key.stderr)
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let other_url = run(
        &["executions", "list", "--profile", "ci"],
        &[("HOME", home_dir), ("PIPELOG_URL", nowhere.as_str())],
    );
    assert!(!other_url.status.success());
    assert!(
        text(&other_url.stderr).contains(&nowhere),
        "the error names the variable's server: {}",
        text(&other_url.stderr)
    );

    let profile = ["--profile", "ci"];
    let launched = run(
        &[
            &[
                "executions",
                "launch",
                "--job",
                "nightly",
                "--input",
                r#"{"day": 22}"#,
                "-o",
                "json",
            ][..],
            &profile[..],
        ]
        .concat(),
        &env,
    );
    assert!(launched.status.success(), "{}", text(&launched.stderr));
    let execution: Value = serde_json::from_slice(&launched.stdout).unwrap();
    assert_eq!(execution["status"], "QUEUED");
    assert_eq!(execution["input"]["day"], 22);
    let id = execution["id"].as_str().unwrap().to_owned();

    let started = run(
        &[&["executions", "start", &id][..], &profile[..]].concat(),
        &env,
    );
    assert!(started.status.success(), "{}", text(&started.stderr));
    let table = text(&started.stdout);
    let mut lines = table.lines();
    assert!(lines.next().unwrap().starts_with("ID "), "{table}");
    assert!(lines.next().unwrap().contains("RUNNING"), "{table}");

    let ended = run(
        &[
            &["executions", "end", &id, "--status", "FAILED"][..],
            &profile[..],
        ]
        .concat(),
        &env,
    );
    assert!(ended.status.success(), "{}", text(&ended.stderr));

    // Ending it again is the server's conflict, shown as one line with its message.
    let again = run(
        &[
            &["executions", "end", &id, "--status", "COMPLETED"][..],
            &profile[..],
        ]
        .concat(),
        &env,
    );
    assert!(!again.status.success());
    let error = text(&again.stderr);
    assert_eq!(error.lines().count(), 1, "{error}");
    assert!(
        error.starts_with("pipelog: error: POST /v1/executions/") && error.contains("409"),
        "{error}"
    );

    // The variables alone are enough, and override the profile.
    let with_variables = [
        ("HOME", home.path().to_str().unwrap()),
        ("PIPELOG_URL", server.base.as_str()),
        ("PIPELOG_API_KEY", CHOSEN_KEY),
    ];
    let listed = run(
        &["executions", "list", "--status", "FAILED", "-o", "json"],
        &with_variables,
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listed = objects_per_line(&listed);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["status"], "FAILED");

    let shown = run(&["executions", "show", &id], &with_variables);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let details = text(&shown.stdout);
    assert!(
        details
            .lines()
            .any(|line| line.starts_with("status") && line.ends_with("FAILED")),
        "{details}"
    );

    let unknown = run(
        &["executions", "show", "01937f3a-0000-7000-8000-000000000000"],
        &with_variables,
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("404"),
        "{}",
        text(&unknown.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_prints_filters_and_follows_until_the_end() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let id = server.launch(&client, "import").await;
    let append = |lines: Value| {
        let (server, client, id) = (&server, &client, &id);
        async move {
            server
                .call(
                    client,
                    reqwest::Method::POST,
                    &format!("/v1/executions/{id}/logs"),
                    lines,
                )
                .await
        }
    };
    append(serde_json::json!([
        {"message": "reading orders.csv", "severity": "info"},
        {"message": "row 17: bad date", "severity": "warning", "emitterName": "parser"},
        {"message": "Orders table locked", "severity": "error"},
    ]))
    .await;
    let env = server.client_env();

    let all = run(&["logs", &id], &env);
    assert!(all.status.success(), "{}", text(&all.stderr));
    let printed = text(&all.stdout);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(
        lines[1].contains(" WARNING [parser] row 17: bad date"),
        "{printed}"
    );
    assert!(!printed.contains('\x1b'), "no colours when piped");
    // On a terminal, severities are coloured, unless NO_COLOR is set to something.
    let on_terminal = |extra: &[(&'static str, &'static str)]| {
        let all: Vec<(&str, &str)> = env.iter().chain(extra).copied().collect();
        let output = run_in_terminal(&["logs", &id], &all);
        assert!(output.status.success(), "{}", text(&output.stdout));
        text(&output.stdout)
    };
    let coloured = on_terminal(&[]);
    assert!(coloured.contains("\x1b[33mWARNING"), "{coloured:?}");
    assert!(!on_terminal(&[("NO_COLOR", "1")]).contains('\x1b'));
    assert!(
        on_terminal(&[("NO_COLOR", "")]).contains('\x1b'),
        "an empty NO_COLOR is no request (no-color.org)"
    );

    let errors = run(&["logs", &id, "--severity", "error", "-o", "json"], &env);
    let errors = objects_per_line(&errors);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["message"], "Orders table locked");
    let grepped = run(&["logs", &id, "--grep", "ORDERS"], &env);
    assert_eq!(text(&grepped.stdout).lines().count(), 2, "ignoring case");

    // Following: the lines so far, a new one, then the end, whose status is the exit code.
    let follower = pipelog(&["logs", &id, "--follow"], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    append(serde_json::json!([{"message": "written while followed"}])).await;
    server
        .call(
            &client,
            reqwest::Method::POST,
            &format!("/v1/executions/{id}/end"),
            serde_json::json!({"status": "FAILED"}),
        )
        .await;
    let followed = tokio::task::spawn_blocking(move || follower.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        followed.status.code(),
        Some(11),
        "FAILED exits 11: {}",
        text(&followed.stderr)
    );
    let printed = text(&followed.stdout);
    assert_eq!(printed.lines().count(), 4, "{printed}");
    assert!(
        printed
            .lines()
            .last()
            .unwrap()
            .ends_with("written while followed")
    );

    // Followed once it has ended: every line, one JSON object each, and its status.
    let followed = run(&["logs", &id, "--follow", "-o", "json"], &env);
    assert_eq!(followed.status.code(), Some(11));
    let objects = objects_per_line(&followed);
    assert_eq!(objects.len(), 4);
    assert_eq!(objects[3]["message"], "written while followed");

    // --since: lines from a time on, or from an age ago.
    let since = objects[3]["createdAt"].as_str().unwrap();
    let recent = run(&["logs", &id, "--since", since], &env);
    assert!(recent.status.success(), "{}", text(&recent.stderr));
    let recent = text(&recent.stdout);
    assert_eq!(recent.lines().count(), 1, "{recent}");
    assert!(recent.ends_with("written while followed\n"), "{recent}");
    let within_an_hour = run(&["logs", &id, "--since", "1h"], &env);
    assert_eq!(text(&within_an_hour.stdout).lines().count(), 4);
    let bad = run(&["logs", &id, "--since", "yesterday"], &env);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--since"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_and_ops_commands_read_what_the_server_holds() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let env = server.client_env();
    for (job, status) in [("nightly", "FAILED"), ("hourly", "COMPLETED")] {
        let id = server.launch(&client, job).await;
        server
            .call(
                &client,
                reqwest::Method::POST,
                &format!("/v1/executions/{id}/end"),
                serde_json::json!({"status": status}),
            )
            .await;
    }

    // The compact expression and the JSON it compiles to find the same entry.
    let compact = "type = job.end and details.jobInstanceStatus in (FAILED, TIMED_OUT)";
    let found = run(&["audit", "find", compact, "-o", "json"], &env);
    assert!(found.status.success(), "{}", text(&found.stderr));
    let entries = objects_per_line(&found);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["details"]["jobInstanceStatus"], "FAILED");
    let explained = run(&["audit", "find", "--explain", compact], &env);
    let json = text(&explained.stdout);
    let same = run(&["audit", "find", &json, "-o", "json"], &env);
    assert_eq!(text(&same.stdout), text(&found.stdout));
    let table = run(&["audit", "find", "--limit", "3"], &env);
    let table = text(&table.stdout);
    assert_eq!(table.lines().count(), 4, "a header and 3 entries: {table}");
    assert!(table.starts_with("TIME "), "{table}");

    let bad = run(&["audit", "find", "type = job.end and"], &env);
    assert_eq!(bad.status.code(), Some(1));
    let error = text(&bad.stderr);
    assert_eq!(error.lines().count(), 1, "one line for scripts: {error}");
    assert!(error.contains("at column 19"), "{error}");
    // On a terminal, the expression follows with its column marked.
    let shown = text(&run_in_terminal(&["audit", "find", "type = job.end and"], &env).stdout);
    assert!(
        shown.contains("\n  type = job.end and\r\n                    ^"),
        "{shown:?}"
    );

    let verified = run(&["audit", "verify"], &env);
    assert!(verified.status.success(), "{}", text(&verified.stderr));
    assert!(
        text(&verified.stdout).ends_with("entries checked, chain intact\n"),
        "{}",
        text(&verified.stdout)
    );
    let digest = server
        .call(
            &client,
            reqwest::Method::GET,
            "/v1/audit_logs/digest",
            Value::Null,
        )
        .await;
    let digest_file = data.path().join("digest.json");
    std::fs::write(&digest_file, digest.to_string()).unwrap();
    let against = run(
        &[
            "audit",
            "verify",
            "--digest",
            digest_file.to_str().unwrap(),
            "-o",
            "json",
        ],
        &env,
    );
    assert!(against.status.success(), "{}", text(&against.stderr));
    let result: Value = serde_json::from_slice(&against.stdout).unwrap();
    assert_eq!(result["valid"], true);

    // One operation: a publisher's Start and Finish, a consumer's Ack and Finish.
    let operation = "f670127a-ef1b-4926-ab64-387fba251523";
    let publisher = "65d9f221-01ce-433f-bc63-e81a4201516a";
    let consumer = "1d9f221a-01ce-433f-bc63-e81a4201516a";
    let item = |kind: &str, activity: &str, source: &str, at: &str| {
        let mut item = serde_json::json!({
            "operationType": kind, "operationId": operation, "activityType": activity,
            "sourceId": source, "source": if source == publisher { "ERP" } else { "Shop" },
            "utcTimestamp": at,
        });
        if source == consumer {
            item["publisherSourceId"] = publisher.into();
        }
        item
    };
    server
        .call(
            &client,
            reqwest::Method::POST,
            "/api/v1/OperatingLogs/batch",
            serde_json::json!([
                item(
                    "InputData",
                    "Application|Start",
                    publisher,
                    "2026-11-22T10:00:00.000Z"
                ),
                item(
                    "InputData",
                    "Application|Finish",
                    publisher,
                    "2026-11-22T10:00:01.000Z"
                ),
                item(
                    "ConsumeData",
                    "Application|Ack",
                    consumer,
                    "2026-11-22T10:00:01.500Z"
                ),
                item(
                    "ConsumeData",
                    "Application|Finish",
                    consumer,
                    "2026-11-22T10:00:03.000Z"
                ),
            ]),
        )
        .await;
    let got = run(&["ops", "get", operation], &env);
    assert!(got.status.success(), "{}", text(&got.stderr));
    let listed = text(&got.stdout);
    assert_eq!(listed.lines().count(), 5, "{listed}");
    assert!(
        listed
            .lines()
            .nth(4)
            .unwrap()
            .contains("Application|Finish")
    );
    let items = run(&["ops", "get", operation, "-o", "json"], &env);
    let items = objects_per_line(&items);
    assert_eq!(items.len(), 4, "one object per line, as the table has rows");
    assert_eq!(items[3]["activityType"], "Application|Finish");
    let stats = run(&["ops", "stats", operation, "-o", "json"], &env);
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["endToEndMs"], 3000);
    let table = text(&run(&["ops", "stats", operation], &env).stdout);
    assert!(table.contains("end to end: 3000 ms"), "{table}");
    let chart = data.path().join("op.svg");
    let drawn = run(
        &[
            "ops",
            "gantt",
            operation,
            "--format",
            "svg",
            "-o",
            chart.to_str().unwrap(),
        ],
        &env,
    );
    assert!(drawn.status.success(), "{}", text(&drawn.stderr));
    assert!(std::fs::read_to_string(&chart).unwrap().starts_with("<svg"));
    let mermaid = run(&["ops", "gantt", operation], &env);
    assert!(mermaid.status.success(), "{}", text(&mermaid.stderr));
    assert!(
        text(&mermaid.stdout).starts_with("gantt\n"),
        "Mermaid by default: {}",
        text(&mermaid.stdout)
    );
    let unknown = run(
        &["ops", "stats", "00000000-0000-0000-0000-000000000000"],
        &env,
    );
    assert!(
        text(&unknown.stderr).contains("404"),
        "{}",
        text(&unknown.stderr)
    );
}
