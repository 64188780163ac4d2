//! `pipelog export`: a whole log to a file; killed mid-download and run again, it resumes
//! where the part stopped, and the file is exactly the log. On a terminal, a progress bar.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{CHOSEN_KEY, Server, pipelog, run, run_in_terminal, text};

const LINES: usize = 100_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_export_resumes_where_it_stopped() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let id = server.launch(&client, "big").await;
    let padding = "x".repeat(60);
    for batch in 0..LINES / 10_000 {
        let body: String = (batch * 10_000..(batch + 1) * 10_000)
            .map(|number| format!("{{\"message\":\"row {number} {padding}\"}}\n"))
            .collect();
        server.append_ndjson(&client, &id, body).await;
    }
    let env = server.client_env();
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("big.log");
    let part = out.path().join("big.log.pipelog-part");
    let file_arg = file.to_str().unwrap();

    // Slowed to 1 MiB a second (about 10 s for the file), and killed once 512 KiB are in.
    let mut slow = pipelog(
        &[
            "export",
            &id,
            "--format",
            "text",
            "-o",
            file_arg,
            "--limit-rate",
            "1M",
        ],
        &env,
    )
    .spawn()
    .unwrap();
    let started = Instant::now();
    loop {
        let written = std::fs::metadata(&part).map_or(0, |meta| meta.len());
        if written >= 512 * 1024 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the download never began"
        );
        assert!(slow.try_wait().unwrap().is_none(), "it ended too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    slow.kill().unwrap();
    slow.wait().unwrap();
    assert!(!file.exists(), "an interrupted download is not the file");
    let interrupted_at = std::fs::metadata(&part).unwrap().len();
    let state_file = out.path().join("big.log.pipelog-part.json");
    let state = std::fs::read(&state_file).expect("the part's export is named beside it");

    let export_again = || {
        let (id, file_arg) = (id.clone(), file_arg.to_owned());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        move || {
            let env: Vec<(&str, &str)> = env
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            run(&["export", &id, "--format", "text", "-o", &file_arg], &env)
        }
    };
    let resumed = tokio::task::spawn_blocking(export_again()).await.unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    let resumed_from: u64 = stderr
        .split("resuming the download at byte ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("it says where it resumed: {stderr}"));
    assert!(
        resumed_from >= interrupted_at,
        "{resumed_from} < {interrupted_at}"
    );
    assert!(!part.exists(), "the part became the file");

    assert!(!state_file.exists());

    // A part already whole (killed between the last byte and the rename) is finished
    // without a byte more: the server answers 416 with the file's length.
    let whole = std::fs::read(&file).unwrap();
    std::fs::rename(&file, &part).unwrap();
    std::fs::write(&state_file, &state).unwrap();
    let finished = tokio::task::spawn_blocking(export_again()).await.unwrap();
    let stderr = String::from_utf8_lossy(&finished.stderr);
    assert!(finished.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("resuming the download at byte {}", whole.len())),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), whole);

    let written = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), LINES);
    for (number, line) in lines.iter().enumerate() {
        assert!(
            line.ends_with(&format!(" row {number} {padding}")) && line.contains(" INFO "),
            "line {number}: {line}"
        );
    }

    // As JSON, on a terminal: the progress bar shows bytes, lines, rate and time left.
    let json_file = out.path().join("big.json");
    let shown = run_in_terminal(
        &[
            "export",
            &id,
            "--format",
            "json",
            "-o",
            json_file.to_str().unwrap(),
            "--limit-rate",
            "8M",
        ],
        &env,
    );
    let screen = text(&shown.stdout);
    assert!(shown.status.success(), "{screen}");
    assert!(
        screen.contains(&format!("/{LINES} lines")) && screen.contains("/s ETA "),
        "{screen:?}"
    );
    assert!(
        screen.contains(&format!("pipelog: {LINES} lines, ")),
        "{screen:?}"
    );
    let lines: Vec<Value> = serde_json::from_slice(&std::fs::read(&json_file).unwrap()).unwrap();
    assert_eq!(lines.len(), LINES);
    assert_eq!(
        lines[LINES - 1]["logMessage"],
        format!("row {} {padding}", LINES - 1)
    );
}
