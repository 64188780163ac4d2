//! `cargo xtask soak`: the reliability tests' longer modes, for a deeper run than CI's
//! (docs/reliability.md records their figures).
//!
//! - the crash harness (`crates/cli/tests/it/crash.rs`) for 200 kill/restart rounds;
//! - ten times the sustainable load for a minute (`crates/cli/tests/it/overload.rs`);
//! - the fuzz targets for five minutes each.

use std::time::Instant;

use crate::{cargo, fuzz, step};

/// Kill/restart rounds of the deeper crash run.
const CRASH_ROUNDS: &str = "200";
/// Seconds of overload in the deeper run.
const OVERLOAD_SECS: &str = "60";
/// Seconds each fuzz target runs in the deeper run.
const FUZZ_SECONDS: &str = "300";

pub(crate) fn run(args: Vec<String>) -> Result<(), String> {
    let started = Instant::now();
    let only = args.first().map(String::as_str);
    if let Some(other) = only.filter(|o| !matches!(*o, "crash" | "overload" | "fuzz")) {
        return Err(format!(
            "soak: no part {other:?}; the parts are crash, overload, fuzz"
        ));
    }
    if matches!(only, None | Some("crash")) {
        let mut crash = cargo();
        crash
            .args([
                "test", "--locked", "-p", "pipelog", "--test", "it", "crash::",
            ])
            .args(["--", "--nocapture"])
            .env("PIPELOG_CRASH_ROUNDS", CRASH_ROUNDS);
        step("soak: crash harness", crash)?;
    }
    if matches!(only, None | Some("overload")) {
        let mut overload = cargo();
        overload
            .args([
                "test",
                "--locked",
                "-p",
                "pipelog",
                "--test",
                "it",
                "overload::",
            ])
            .args(["--", "--nocapture"])
            .env("PIPELOG_OVERLOAD_SECS", OVERLOAD_SECS);
        step("soak: overload", overload)?;
    }
    if matches!(only, None | Some("fuzz")) {
        fuzz::run(vec!["--seconds".to_owned(), FUZZ_SECONDS.to_owned()])?;
    }
    eprintln!("xtask: soak: done in {:.1?}", started.elapsed());
    Ok(())
}
