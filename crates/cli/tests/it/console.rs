//! The web console in a real browser: `tests/browser/console.mjs` drives Debian's Chromium
//! (through npm's playwright-core) against the binary, with a 1,000,000-line execution
//! loaded, and saves a screenshot of each step under `target/console-screenshots/`.
//!
//! Without `/usr/bin/chromium` or `tests/browser/node_modules` the test says it is
//! skipped, unless `PIPELOG_BROWSER_TESTS=required` (as `cargo xtask test` sets once it
//! has installed both), when it fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{CHOSEN_KEY, Server};

/// The browser the script drives (`apt-get install chromium`).
const CHROMIUM: &str = "/usr/bin/chromium";
/// Lines of the large execution the viewer is tried on.
const BIG_LOG_LINES: usize = 1_000_000;
/// How long the whole browser run may take before it is killed.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);

/// What the browser tests need and this machine lacks.
fn missing(browser_dir: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install chromium)"));
    }
    if !browser_dir.join("node_modules/playwright-core").is_dir() {
        missing.push(format!(
            "{} (npm ci in {})",
            browser_dir.join("node_modules/playwright-core").display(),
            browser_dir.display()
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node (apt-get install nodejs)".to_owned());
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_a_browser() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = manifest.join("tests/browser");
    let missing = missing(&browser_dir);
    if !missing.is_empty() {
        let missing = missing.join(", ");
        if std::env::var("PIPELOG_BROWSER_TESTS").as_deref() == Ok("required") {
            panic!("the browser tests are required but this machine lacks: {missing}");
        }
        eprintln!(
            "SKIPPED: the console's browser tests need {missing}; `cargo xtask test` installs \
             them (run as root)"
        );
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[], &[("PIPELOG_BOOTSTRAP_KEY", CHOSEN_KEY)]);
    let client = reqwest::Client::new();
    let big = server
        .load_synthetic_log(&client, "big", BIG_LOG_LINES)
        .await;

    let screenshots: PathBuf = manifest.join("../../target/console-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);
    std::fs::create_dir_all(&screenshots).unwrap();
    let screenshots = screenshots.canonicalize().unwrap();
    // stdout and stderr into one file, in the order they were written; kept beside the
    // screenshots.
    let log_path = screenshots.join("console.log");
    let log = File::create(&log_path).unwrap();
    let mut script = Command::new("node");
    script
        .arg(browser_dir.join("console.mjs"))
        .current_dir(&browser_dir)
        .env("PIPELOG_URL", &server.base)
        .env("PIPELOG_KEY", CHOSEN_KEY)
        .env("PIPELOG_SCREENSHOTS", &screenshots)
        .env("PIPELOG_BIG_EXECUTION", &big)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    let started = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let mut child = script.spawn().expect("node starts");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if started.elapsed() > SCRIPT_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    eprintln!(
        "console.mjs ran for {:.1?}; its output:\n{output}",
        started.elapsed()
    );
    // Its output is above; the failure names the step that failed.
    let failure = output
        .lines()
        .find(|line| line.starts_with("FAILED step"))
        .unwrap_or("see its output above");
    match status {
        Some(status) => assert!(
            status.success(),
            "console.mjs failed ({status}): {failure}; screenshots and console.log in {}",
            screenshots.display()
        ),
        None => panic!(
            "console.mjs did not finish within {SCRIPT_TIMEOUT:?}: {failure}; screenshots and \
             console.log in {}",
            screenshots.display()
        ),
    }
    assert!(server.terminate().success());
}
