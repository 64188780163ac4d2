//! Project tasks, run as `cargo xtask <task>`:
//!
//! - `test`: installs what the suite needs, then runs every test of the workspace and the
//!   conformance run of Talend's OpenAPI document (schemathesis, from PyPI). This is the
//!   README's test command, and what `.ci/run` runs. What it installs, as root when missing:
//!   Debian's `postgresql` (the suite's PostgreSQL half), and for the web console's browser
//!   tests Debian's `chromium`, `nodejs` and `npm`, then npm's `playwright-core` (`npm ci`
//!   in `crates/cli/tests/browser`).
//! - `bench [--quick] [--json FILE] [--postgres URL]`: builds pipelog and its benchmark
//!   harness in release and runs it (`crates/bench`); docs/benchmarks.md explains the
//!   figures. `test` runs its `--smoke` form (a tenth of `--quick`) on the debug builds the
//!   tests made: it must complete, its figures are not judged there.
//! - `fuzz [--seconds N]`: builds the fuzz targets of `fuzz/` with libFuzzer's coverage
//!   instrumentation (the flags `cargo fuzz build --sanitizer none` uses, on stable, into
//!   `fuzz/target`) and runs each for N seconds (60 by default) from its committed seeds;
//!   fails on any crash. `test` runs each for 20 seconds.
//! - `soak [crash|overload|fuzz]`: the reliability tests' longer modes (200 crash rounds,
//!   a minute of ten times the sustainable load, five minutes per fuzz target); all three
//!   without an argument. docs/reliability.md records their figures.
//! - `tidy`: the repository conventions alone (also part of `test`, as a unit test).

mod browser;
mod fuzz;
mod postgres;
mod soak;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let task = std::env::args().nth(1);
    let outcome = match task.as_deref() {
        Some("test") => test(),
        Some("bench") => bench(std::env::args().skip(2).collect()),
        Some("fuzz") => fuzz::run(std::env::args().skip(2).collect()),
        Some("soak") => soak::run(std::env::args().skip(2).collect()),
        Some("tidy") => tidy::check(&workspace_root()).map_err(|problems| problems.join("\n")),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\ntasks:\n  test   install what the suite needs and run all of it\n  bench  measure pipelog against its ceilings (--quick: about a minute)\n  fuzz   build the fuzz targets and run each (--seconds N, 60 by default)\n  soak   the reliability tests' longer modes (crash, overload, fuzz; about 20 minutes)\n  tidy   check the repository conventions"
            );
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("xtask: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// Runs `command`, reporting how long it took; fails if it fails.
fn step(name: &str, mut command: Command) -> Result<(), String> {
    eprintln!("xtask: {name}: {command:?}");
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|error| format!("{name}: cannot run: {error}"))?;
    eprintln!("xtask: {name}: {status} after {:.1?}", started.elapsed());
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed"))
    }
}

/// The schemathesis release the conformance run uses.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// Validates OpenAPI documents against the specification.
const OPENAPI_VALIDATOR: &str = "openapi-spec-validator==0.9.0";
/// The OpenTelemetry Python SDK and its OTLP/HTTP exporter, as data teams install them.
const OPENTELEMETRY: [&str; 2] = [
    "opentelemetry-sdk==1.45.2",
    "opentelemetry-exporter-otlp-proto-http==1.45.2",
];

/// The binary's tests that run again on PostgreSQL: those about the data it keeps, and the
/// commands that open a store themselves (the others are about the binary itself: flags,
/// signals, TLS, the client commands, which speak HTTP whatever the server's store).
const CLI_TESTS_ON_POSTGRES: [&str; 7] = [
    "crash",
    "overload",
    "large",
    "nodes",
    "keys::",
    "audit::",
    "exporting",
];

/// Every test of the workspace (unit, integration against real servers on port 0, doc
/// tests, the web console in a browser), on the embedded store and then on PostgreSQL,
/// then the conformance run.
fn test() -> Result<(), String> {
    let database = postgres::prepare()?;
    let browser = browser::prepare(&workspace_root())?;
    let mut tests = cargo();
    tests
        .args(["test", "--workspace", "--locked"])
        .env_remove("PIPELOG_TEST_BACKEND");
    // With a browser and playwright-core installed, the browser tests may not skip.
    if browser {
        tests.env(browser::REQUIRED_VAR, "required");
    }
    match &database {
        // The store suite runs its PostgreSQL half in this run already.
        Some(url) => {
            postgres::drop_scratch_databases(url);
            tests.env(postgres::DATABASE_URL_VAR, url);
        }
        None => {
            tests.env_remove(postgres::DATABASE_URL_VAR);
        }
    }
    step("tests", tests)?;
    match &database {
        Some(url) => {
            let on_postgres = |command: &mut Command| {
                command
                    .env(postgres::DATABASE_URL_VAR, url)
                    .env("PIPELOG_TEST_BACKEND", "postgres");
            };
            let mut server = cargo();
            server.args(["test", "--locked", "-p", "pipelog-server", "--test", "it"]);
            on_postgres(&mut server);
            step("HTTP tests on PostgreSQL", server)?;
            let mut binary = cargo();
            binary.args(["test", "--locked", "-p", "pipelog", "--test", "it", "--"]);
            binary.args(CLI_TESTS_ON_POSTGRES);
            on_postgres(&mut binary);
            step("the binary's tests on PostgreSQL", binary)?;
            postgres::drop_scratch_databases(url);
        }
        None => eprintln!(
            "xtask: the PostgreSQL half of the suite is SKIPPED: set {} to a server whose \
             user may create databases (postgres://user:password@host/postgres), or run as \
             root to have PostgreSQL installed and started here",
            postgres::DATABASE_URL_VAR
        ),
    }
    conformance()?;
    fuzz::run(vec![
        "--seconds".to_owned(),
        fuzz::SECONDS_IN_TEST.to_string(),
    ])?;
    bench_smoke()
}

/// The benchmark harness's smoke run (a tenth of `--quick`) on the debug builds the tests
/// made (a release build would cost CI four minutes): that it completes is what is
/// checked, not its figures.
fn bench_smoke() -> Result<(), String> {
    let root = workspace_root();
    let mut run = Command::new(root.join("target/debug/pipelog-bench"));
    run.current_dir(&root)
        .arg("--pipelog")
        .arg(root.join("target/debug/pipelog"))
        .arg("--work-dir")
        .arg(root.join("target/bench-smoke"))
        .arg("--smoke");
    step("bench smoke test", run)
}

/// The benchmark harness, built in release with the pipelog it measures; `args` go to it.
fn bench(args: Vec<String>) -> Result<(), String> {
    let root = workspace_root();
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--locked",
        "-p",
        "pipelog",
        "-p",
        "pipelog-bench",
    ]);
    step("build release", build)?;
    let mut run = Command::new(root.join("target/release/pipelog-bench"));
    run.current_dir(&root)
        .arg("--pipelog")
        .arg(root.join("target/release/pipelog"))
        .arg("--work-dir")
        .arg(root.join("target/bench"))
        .args(args);
    step("bench", run)
}

/// Real clients against the built server, installed from PyPI into a virtual environment
/// under `target/`: schemathesis with Talend's OpenAPI document, the OpenTelemetry Python
/// SDK sending logs, and a validator of pipelog's own OpenAPI document.
fn conformance() -> Result<(), String> {
    let root = workspace_root();
    let mut build = cargo();
    // The whole workspace with its tests' features, as `cargo test` built it: a no-op after
    // the tests, where building the one package would resolve other features and rebuild.
    build.args(["build", "--workspace", "--all-targets", "--locked"]);
    step("build pipelog", build)?;
    let venv = root.join("target/conformance-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        step("python venv", create)?;
    }
    let mut install = Command::new(&python);
    install
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            SCHEMATHESIS,
            OPENAPI_VALIDATOR,
        ])
        .args(OPENTELEMETRY);
    step("install the Python clients", install)?;
    let mut run = Command::new(&python);
    run.arg(root.join("xtask/conformance/talend.py"))
        .arg(root.join("target/debug/pipelog"))
        .arg(venv.join("bin/schemathesis"));
    step("Talend conformance", run)?;
    let mut otel = Command::new(&python);
    otel.arg(root.join("xtask/conformance/otel.py"))
        .arg(root.join("target/debug/pipelog"));
    step("OpenTelemetry Python SDK", otel)?;
    let mut openapi = Command::new(&python);
    openapi
        .arg(root.join("xtask/conformance/openapi.py"))
        .arg(root.join("target/debug/pipelog"))
        .arg(venv.join("bin/schemathesis"));
    step("OpenAPI document", openapi)
}
