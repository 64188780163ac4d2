//! The PostgreSQL the test suite's PostgreSQL half runs against.
//!
//! `PIPELOG_TEST_DATABASE_URL`, when set, names it (a server whose user may create
//! databases). Otherwise, run as root (as CI runs), `cargo xtask test` installs Debian's
//! `postgresql` if it is missing, starts its cluster on 127.0.0.1 and makes a `pipelog`
//! role. Otherwise the PostgreSQL half is skipped, and said to be.

use std::path::Path;
use std::process::Command;

/// The variable the test suites read (`pipelog_store::postgres::scratch`).
pub const DATABASE_URL_VAR: &str = "PIPELOG_TEST_DATABASE_URL";

/// The URL of the server this machine's cluster serves, once prepared.
const LOCAL_URL: &str = "postgres://pipelog:pipelog@127.0.0.1:5432/postgres";

/// The server to test against; `None` when there is none to be had (not root, and no
/// `PIPELOG_TEST_DATABASE_URL`); an error when setting one up failed.
pub fn prepare() -> Result<Option<String>, String> {
    if let Ok(url) = std::env::var(DATABASE_URL_VAR) {
        return Ok(Some(url));
    }
    if !running_as_root() {
        return Ok(None);
    }
    if newest_version().is_none() {
        run(
            "update the package lists",
            Command::new("apt-get")
                .arg("update")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        run(
            "install PostgreSQL",
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "postgresql"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    let version =
        newest_version().ok_or("no PostgreSQL under /usr/lib/postgresql after installing it")?;
    if !Path::new(&format!("/etc/postgresql/{version}/main")).exists() {
        run(
            "create the cluster",
            Command::new("pg_createcluster").args([&version, "main"]),
        )?;
    }
    // Started already (by the package, or an earlier run) is fine.
    let started = Command::new("pg_ctlcluster")
        .args([&version, "main", "start"])
        .status()
        .map_err(|error| format!("cannot run pg_ctlcluster: {error}"))?;
    if !started.success() {
        eprintln!("xtask: pg_ctlcluster start: {started} (already running?)");
    }
    // A role the suites connect as over TCP with a password (the cluster's pg_hba asks
    // for one on 127.0.0.1); superuser, as the suites create and drop databases.
    as_postgres_psql(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pipelog') THEN \
             CREATE ROLE pipelog LOGIN SUPERUSER PASSWORD 'pipelog'; \
           END IF; \
         END $$",
    )?;
    Ok(Some(LOCAL_URL.to_owned()))
}

/// Drops the databases test runs made (and left, when a test failed before dropping its
/// own, or when a data dir's server made one).
pub fn drop_scratch_databases(url: &str) {
    let listed = Command::new("psql")
        .args([url, "-Atc"])
        .arg("SELECT datname FROM pg_database WHERE datname LIKE 'pipelog\\_test\\_%'")
        .output();
    let Some(listed) = listed.ok().filter(|output| output.status.success()) else {
        eprintln!("xtask: cannot list the scratch databases (is psql installed?)");
        return;
    };
    let names = String::from_utf8_lossy(&listed.stdout).into_owned();
    let names: Vec<&str> = names.lines().filter(|name| !name.is_empty()).collect();
    for name in &names {
        let _ = Command::new("psql")
            .args([
                url,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ])
            .status();
    }
    if !names.is_empty() {
        eprintln!("xtask: dropped {} scratch databases", names.len());
    }
}

/// Whether this process runs as root (and so may install Debian packages).
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// The newest PostgreSQL installed from Debian's packages, as its major version.
fn newest_version() -> Option<String> {
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .map(|version| version.to_string())
}

fn as_postgres_psql(sql: &str) -> Result<(), String> {
    run(
        "set up the pipelog role",
        Command::new("runuser").args(["-u", "postgres", "--", "psql", "-qXc", sql]),
    )
}

/// Runs `command` to completion; fails, naming it, if it fails.
pub fn run(name: &str, command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|error| format!("{name}: cannot run: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed: {status}"))
    }
}
