//! What the console's browser tests (`crates/cli/tests/it/console.rs`) need: Debian's
//! `chromium`, Node.js with npm, and npm's `playwright-core` as
//! `crates/cli/tests/browser/package-lock.json` pins it.
//!
//! Run as root (as CI runs), `cargo xtask test` installs the Debian packages that are
//! missing; `npm ci` installs `playwright-core` when `node_modules` is missing or was
//! installed from another lock. With all of it there, the test run gets
//! `PIPELOG_BROWSER_TESTS=required`, so that the browser tests fail rather than skip.
//! Otherwise they are skipped, and said to be.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::postgres::{run, running_as_root};

/// The variable that makes the browser tests fail, rather than skip, without a browser.
pub const REQUIRED_VAR: &str = "PIPELOG_BROWSER_TESTS";

/// The browser the tests drive (playwright-core cannot download one here).
const CHROMIUM: &str = "/usr/bin/chromium";

/// The copy of the lock `npm ci` last installed from, kept inside `node_modules`.
const INSTALLED_LOCK: &str = "node_modules/.pipelog-installed-lock.json";

/// The tests' npm project.
fn project(root: &Path) -> PathBuf {
    root.join("crates/cli/tests/browser")
}

/// Installs what the browser tests need; whether they can run. An error when installing
/// failed.
pub fn prepare(root: &Path) -> Result<bool, String> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push("chromium");
    }
    if !runs("node") {
        // Debian's nodejs comes without npm.
        missing.extend(["nodejs", "npm"]);
    } else if !runs("npm") {
        missing.push("npm");
    }
    if !missing.is_empty() {
        if !running_as_root() {
            eprintln!(
                "xtask: the browser tests are SKIPPED: this machine lacks {} (run as root to \
                 have them installed)",
                missing.join(", ")
            );
            return Ok(false);
        }
        apt_install(&missing)?;
    }
    let project = project(root);
    let lock = std::fs::read(project.join("package-lock.json"))
        .map_err(|error| format!("cannot read the browser tests' package-lock.json: {error}"))?;
    let installed = std::fs::read(project.join(INSTALLED_LOCK)).ok();
    if installed.as_deref() != Some(lock.as_slice())
        || !project.join("node_modules/playwright-core").is_dir()
    {
        let mut install = Command::new("npm");
        install
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&project);
        crate::step("install playwright-core", install)?;
        std::fs::write(project.join(INSTALLED_LOCK), &lock)
            .map_err(|error| format!("cannot note the installed lock: {error}"))?;
    }
    Ok(Path::new(CHROMIUM).exists() && project.join("node_modules/playwright-core").is_dir())
}

/// Whether `program --version` runs.
fn runs(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// `apt-get install` of `packages`, updating the package lists first when they do not
/// know one of them, and once more if the install fails on lists gone stale.
fn apt_install(packages: &[&str]) -> Result<(), String> {
    let install = || {
        run(
            &format!("install {}", packages.join(", ")),
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(packages)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if packages.iter().all(|package| known_to_apt(package)) && install().is_ok() {
        return Ok(());
    }
    run(
        "update the package lists",
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    install()
}

/// Whether the package lists offer `package`.
fn known_to_apt(package: &str) -> bool {
    Command::new("apt-cache")
        .args(["policy", package])
        .output()
        .is_ok_and(|output| {
            let text = String::from_utf8_lossy(&output.stdout);
            text.lines()
                .any(|line| line.trim().starts_with("Candidate:") && !line.contains("(none)"))
        })
}
