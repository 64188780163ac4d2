//! `cargo xtask fuzz`: builds the cargo-fuzz targets of `fuzz/` without cargo-fuzz, on the
//! stable toolchain, and runs each from its committed seed corpus for a fixed time.
//!
//! The build is what `cargo fuzz build --sanitizer none --debug-assertions` does (release,
//! libFuzzer's coverage instrumentation in RUSTFLAGS, for the host triple named explicitly
//! so the flags reach the targets' code but not build scripts or proc macros, into
//! `fuzz/target` so the workspace's own build is left alone), less two of its costs that
//! buy nothing in a short run: one codegen unit, and full debug info (line tables still
//! name the line of a crash). On 2 cores, a cold build takes 220 s instead of 269 s.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::{cargo, step, workspace_root};

/// How long `cargo xtask test` runs each target.
pub const SECONDS_IN_TEST: u64 = 20;
/// How long `cargo xtask fuzz` runs each target unless told.
const DEFAULT_SECONDS: u64 = 60;

/// cargo-fuzz's instrumentation (`src/project.rs`), less the sanitizer: libFuzzer's
/// inline 8-bit counters, its PC table, comparisons traced, stack depth (Linux), and
/// `cfg(fuzzing)`; plus debug assertions and overflow checks, so that an arithmetic
/// overflow is a crash here even though release builds wrap.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "-Cllvm-args=-simplifycfg-branch-fold-threshold=0",
    "-Cllvm-args=-sanitizer-coverage-stack-depth",
    "--cfg",
    "fuzzing",
    "-Clink-dead-code",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

/// `cargo xtask fuzz [--seconds N]`.
pub fn run(args: Vec<String>) -> Result<(), String> {
    let seconds = match args.as_slice() {
        [] => DEFAULT_SECONDS,
        [flag, seconds] if flag == "--seconds" => seconds
            .parse()
            .map_err(|_| format!("--seconds takes a whole number, got {seconds:?}"))?,
        _ => return Err("usage: cargo xtask fuzz [--seconds N]".to_owned()),
    };
    let fuzz = workspace_root().join("fuzz");
    let triple = host_triple()?;
    build(&fuzz, &triple)?;
    let binaries = fuzz.join("target").join(&triple).join("release");
    let mut failed = Vec::new();
    for target in targets(&fuzz)? {
        if let Err(problem) = run_target(&fuzz, &binaries.join(&target), &target, seconds) {
            eprintln!("xtask: fuzz {target}: {problem}");
            failed.push(target);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("fuzzing found a problem in: {}", failed.join(", ")))
    }
}

/// The triple `rustc` builds for by default.
fn host_triple() -> Result<String, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("-vV")
        .output()
        .map_err(|error| format!("cannot run rustc -vV: {error}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "rustc -vV names no host triple".to_owned())
}

/// Builds every target. Without `--locked`: when a dependency of the crates under test
/// changes, cargo adds it to `fuzz/Cargo.lock` and keeps every other version pinned, and
/// this says so, for the change to be committed.
fn build(fuzz: &Path, triple: &str) -> Result<(), String> {
    let lock = fuzz.join("Cargo.lock");
    let lock_before = std::fs::read(&lock).ok();
    let mut flags = RUSTFLAGS.join(" ");
    if let Ok(extra) = std::env::var("RUSTFLAGS") {
        flags.push(' ');
        flags.push_str(&extra);
    }
    let mut build = cargo();
    build
        .arg("build")
        .arg("--manifest-path")
        .arg(fuzz.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fuzz.join("target"))
        .args(["--target", triple, "--release", "--bins"])
        .args(["--config", "profile.release.debug=\"line-tables-only\""])
        .env("RUSTFLAGS", flags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_FUZZ", "1");
    step("fuzz build", build)?;
    if std::fs::read(&lock).ok() != lock_before {
        eprintln!("xtask: fuzz build: fuzz/Cargo.lock changed; commit it");
    }
    Ok(())
}

/// The targets: one per file in `fuzz/fuzz_targets`, in name order.
fn targets(fuzz: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz.join("fuzz_targets");
    let entries = std::fs::read_dir(&dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    let mut targets: Vec<String> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    targets.sort();
    Ok(targets)
}

/// Runs one target for `seconds` over a fresh scratch corpus (where libFuzzer keeps what it
/// finds) and the committed seeds (read only); a crash leaves its input in
/// `fuzz/artifacts/<target>/` and fails the run.
fn run_target(fuzz: &Path, binary: &Path, target: &str, seconds: u64) -> Result<(), String> {
    let scratch = fuzz.join("target/corpus").join(target);
    let seeds = fuzz.join("seeds").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    let logs = fuzz.join("target/logs");
    let log = logs.join(format!("{target}.log"));
    let _ = std::fs::remove_dir_all(&scratch);
    for dir in [&scratch, &artifacts, &logs] {
        std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    if !seeds.is_dir() {
        return Err(format!("no seed corpus at {}", seeds.display()));
    }
    let log_file =
        std::fs::File::create(&log).map_err(|error| format!("{}: {error}", log.display()))?;
    let mut command = Command::new(binary);
    command
        .arg(&scratch)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .arg("-timeout=10")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stdout(
            log_file
                .try_clone()
                .map_err(|error| format!("{}: {error}", log.display()))?,
        )
        .stderr(log_file);
    eprintln!("xtask: fuzz {target}: {command:?}");
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|error| format!("cannot run {}: {error}", binary.display()))?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let stat = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("stat::{name}:")))
            .map(str::trim)
            .unwrap_or("?")
            .to_owned()
    };
    let corpus = count_files(&scratch);
    eprintln!(
        "xtask: fuzz {target}: {status} after {:.1?}: {} executions, {corpus} new inputs kept, peak RSS {} MB",
        started.elapsed(),
        stat("number_of_executed_units"),
        stat("peak_rss_mb"),
    );
    if status.success() {
        return Ok(());
    }
    let tail: Vec<&str> = text.lines().rev().take(60).collect();
    for line in tail.into_iter().rev() {
        eprintln!("  {line}");
    }
    Err(format!(
        "crashed (whole log: {}; the input is in {}; replay it with `{} <file>`)",
        log.display(),
        artifacts.display(),
        binary.display(),
    ))
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}
