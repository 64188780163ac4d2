//! `pipelog-bench`: pipelog measured against its ceilings, on one machine, in one run.
//!
//! ```text
//! pipelog-bench [--quick | --smoke] [--pipelog BINARY] [--work-dir DIR] [--json FILE]
//! ```
//!
//! It starts a release `pipelog serve` on a fresh data dir under the work dir, loads it
//! with realistic data, measures ingest, reads, exports, audit finds and operating
//! statistics, measures each figure's ceiling in the same run, and prints a table of
//! figures, ceilings and ratios (and writes it as JSON). `cargo xtask bench` builds
//! everything in release and runs it; docs/benchmarks.md explains every figure.
//!
//! With `--postgres URL`, pipelog serves a fresh database on that PostgreSQL server and only
//! ingest is measured, beside a plain `COPY` of the same rows there.
//!
//! `pipelog-bench raw-http [--pages DATA_DIR] [--durable DIR]` is the raw-HTTP ceilings'
//! server, started by the benchmark.

mod ceilings;
mod http;
mod phases;
mod postgres;
mod process;
mod report;
mod workload;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use pipelog_store::postgres::scratch::ScratchDatabase;
use serde_json::json;

use crate::ceilings::RawHttpOptions;
use crate::phases::{Bench, PostgresTarget};
use crate::workload::Scale;

const USAGE: &str =
    "usage: pipelog-bench [--quick | --smoke] [--pipelog BINARY] [--work-dir DIR] [--json FILE] [--postgres URL]

  --quick          a reduced run (about a minute); every ratio still has its ceiling
  --smoke          a tenth of --quick, to check that the harness runs; its figures mean nothing
  --pipelog FILE   the pipelog binary to measure [default: target/release/pipelog]
  --work-dir DIR   where data dirs are made (emptied first) [default: target/bench]
  --json FILE      where the results go as JSON [default: WORK_DIR/results.json]
  --postgres URL   measure ingest on PostgreSQL: pipelog serves a fresh database on the
                   server of URL (whose user may create databases), beside a plain COPY";

#[derive(Debug)]
struct Options {
    scale: Scale,
    pipelog: PathBuf,
    work_dir: PathBuf,
    json: Option<PathBuf>,
    postgres: Option<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut options = Options {
        scale: Scale::full(),
        pipelog: PathBuf::from("target/release/pipelog"),
        work_dir: PathBuf::from("target/bench"),
        json: None,
        postgres: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => options.scale = Scale::quick(),
            "--smoke" => options.scale = Scale::smoke(),
            "--pipelog" => options.pipelog = value("--pipelog")?.into(),
            "--work-dir" => options.work_dir = value("--work-dir")?.into(),
            "--json" => options.json = Some(value("--json")?.into()),
            "--postgres" => options.postgres = Some(value("--postgres")?),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(options)
}

fn raw_http_options(mut args: impl Iterator<Item = String>) -> anyhow::Result<RawHttpOptions> {
    let mut options = RawHttpOptions::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--pages" => options.pages = Some(value()?.into()),
            "--durable" => options.durable = Some(value()?.into()),
            other => bail!("unknown raw-http argument {other:?}"),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1).peekable();
    let outcome = if args.peek().map(String::as_str) == Some("raw-http") {
        args.next();
        raw_http_options(args).and_then(ceilings::serve_raw_http)
    } else if args
        .peek()
        .is_some_and(|arg| arg == "--help" || arg == "-h")
    {
        println!("{USAGE}");
        Ok(())
    } else {
        parse(args).and_then(run)
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pipelog-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> anyhow::Result<()> {
    anyhow::ensure!(
        options.pipelog.exists(),
        "no pipelog binary at {} (build it with `cargo build --release`, or run `cargo xtask bench`)",
        options.pipelog.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let scale = options.scale.clone();
    let database = match &options.postgres {
        Some(admin_url) => Some(runtime.block_on(ScratchDatabase::create(admin_url))?),
        None => None,
    };
    let target = database
        .as_ref()
        .zip(options.postgres.as_ref())
        .map(|(database, admin_url)| PostgresTarget {
            admin_url: admin_url.clone(),
            database_url: database.url.clone(),
        });
    let on_postgres = target.is_some();
    let mut bench = Bench::start(scale.clone(), &options.pipelog, &options.work_dir, target)?;
    runtime.block_on(async {
        bench.idle_rss("rss_idle_start_bytes", "server RSS idle, at start")?;
        bench.single_entry_ingest().await?;
        bench.bulk_ingest().await?;
        // The reads' ceilings read SQLite's file: on PostgreSQL, ingest alone.
        if !on_postgres {
            bench.page_reads().await?;
            bench.exports().await?;
            bench.audit().await?;
            bench.operating().await?;
        }
        bench.idle_rss("rss_idle_end_bytes", "server RSS idle, at the end")
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let report = &bench.finish()?;
    if let Some(database) = database {
        runtime.block_on(database.drop_database())?;
    }
    println!("{}", report.table());
    let json_path = options
        .json
        .unwrap_or_else(|| options.work_dir.join("results.json"));
    let document = report.json(json!({
        "scale": scale,
        "date": pipelog_core::time::UtcTime::now().to_string(),
        "cores": std::thread::available_parallelism().map(usize::from).ok(),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").ok().map(|text| text.trim().to_owned()),
        "seconds": report::round(seconds, 1),
        "backend": if options.postgres.is_some() { "postgres" } else { "sqlite" },
    }));
    std::fs::write(&json_path, serde_json::to_string_pretty(&document)? + "\n")
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    println!(
        "{} of {} targets missed; {:.0} s in all; results in {}",
        report.missed(),
        document["targets"].as_array().map_or(0, Vec::len),
        seconds,
        json_path.display()
    );
    Ok(())
}
