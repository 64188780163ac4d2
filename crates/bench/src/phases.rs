//! The benchmark's phases, in the order they run against one server: ingest (single entries,
//! then bulk, each with its ceiling), footprint, page reads, exports, audit finds and
//! operating statistics.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::{Value, json};

use crate::ceilings;
use crate::http::{Call, Connection, Latencies, Run, run_for, run_numbered};
use crate::postgres;
use crate::process::{Server, create_key};
use crate::report::{Report, Target, mib, round, thousands};
use crate::workload::{
    BULK_BATCH, Scale, audit_entry, audit_finds, bulk_lines, data_factory_body, ndjson,
    operation_id, operation_items, timestamp,
};

/// The operator key of the benchmark's server (account `default`, never rate limited).
const OPERATOR_KEY: &str = "pl_bench_key_0123456789abcdef";
/// Connections of the single-entry run, each a job writing its own execution.
const SINGLE_ENTRY_CONNECTIONS: usize = 64;
const BULK_CONNECTIONS: usize = 4;
const AUDIT_CONNECTIONS: usize = 32;
const JSON: &str = "application/json";

/// One run of the benchmark against one fresh server.
pub struct Bench {
    scale: Scale,
    data_dir: PathBuf,
    work_dir: PathBuf,
    server: Server,
    /// On PostgreSQL: the server the ceiling runs on (a URL whose user may create
    /// databases), and the database pipelog serves.
    postgres: Option<PostgresTarget>,
    /// One key per account; the first is the operator key.
    keys: Vec<Arc<str>>,
    report: Report,
    /// Lines stored by the ingest runs, for the footprint.
    lines_stored: u64,
    /// The executions of the bulk load: public id and cid.
    executions: Vec<(String, String)>,
}

/// Where a PostgreSQL run keeps its data.
#[derive(Clone, Debug)]
pub struct PostgresTarget {
    /// The server, as a URL whose user may create databases.
    pub admin_url: String,
    /// The fresh database pipelog serves.
    pub database_url: String,
}

impl Bench {
    /// A fresh data dir under `work_dir` (and on PostgreSQL, the given fresh database), a
    /// key per account, and the server started on it.
    pub fn start(
        scale: Scale,
        pipelog: &Path,
        work_dir: &Path,
        postgres: Option<PostgresTarget>,
    ) -> anyhow::Result<Bench> {
        if work_dir.exists() {
            std::fs::remove_dir_all(work_dir)
                .with_context(|| format!("cannot empty {}", work_dir.display()))?;
        }
        let data_dir = work_dir.join("pipelog");
        std::fs::create_dir_all(&data_dir)?;
        let database = postgres.as_ref().map(|target| target.database_url.as_str());
        let mut keys: Vec<Arc<str>> = vec![OPERATOR_KEY.into()];
        for account in 1..scale.accounts {
            let key = create_key(pipelog, &data_dir, database, &format!("bench-{account}"))?;
            keys.push(key.into());
        }
        let server = Server::pipelog(pipelog, &data_dir, database, OPERATOR_KEY)?;
        eprintln!("bench: pipelog serves on {}", server.address);
        Ok(Bench {
            scale,
            data_dir,
            work_dir: work_dir.to_path_buf(),
            server,
            postgres,
            keys,
            report: Report::default(),
            lines_stored: 0,
            executions: Vec::new(),
        })
    }

    /// Stops the server and removes its data; what was measured.
    pub fn finish(self) -> anyhow::Result<Report> {
        let Bench {
            server,
            data_dir,
            report,
            ..
        } = self;
        drop(server);
        std::fs::remove_dir_all(&data_dir)
            .with_context(|| format!("cannot remove {}", data_dir.display()))?;
        Ok(report)
    }

    pub fn idle_rss(&mut self, key: &str, what: &str) -> anyhow::Result<()> {
        std::thread::sleep(Duration::from_secs(1));
        let rss = self.server.rss()?;
        self.report.figure(key, what, mib(rss), json!(rss));
        Ok(())
    }

    /// Sends the bulk load's lines over 4 connections, `per_request` of its batches
    /// of 1,000 to a request, each request to the execution of its first batch.
    async fn send_bulk(&self, per_request: u64) -> anyhow::Result<Run> {
        let ids: Arc<Vec<String>> =
            Arc::new(self.executions.iter().map(|(id, _)| id.clone()).collect());
        let (keys, scale) = (self.keys.clone(), self.scale.clone());
        run_numbered(
            self.server.address,
            BULK_CONNECTIONS,
            self.scale.bulk_batches() / per_request,
            move |number| {
                let first = number * per_request;
                let execution = scale.execution_of_batch(first);
                Ok(Call::post(
                    &keys[scale.account_of(execution)],
                    format!("/v1/executions/{}/logs", ids[execution as usize]),
                    "application/x-ndjson",
                    ndjson(&bulk_lines(first, per_request)),
                ))
            },
            |_, _| Ok(()),
        )
        .await
    }

    /// On PostgreSQL, bulk ingest's ceiling: the same rows by plain `COPY`; and the bytes
    /// the lines take there.
    async fn postgres_ceiling(&mut self, target: &PostgresTarget, rate: f64) -> anyhow::Result<()> {
        let used = postgres::lines_bytes(&target.database_url).await?;
        let per_line = used as f64 / self.lines_stored as f64;
        eprintln!("bench: the raw COPY ceiling");
        let raw = postgres::raw_copy_ingest(&target.admin_url, &self.scale, 1).await?;
        let raw_rate = raw.rows as f64 / raw.elapsed.as_secs_f64();
        let raw_per_row = raw.bytes_used as f64 / raw.rows as f64;
        self.report.ceiling(
            "raw_copy_rows_per_s",
            "raw PostgreSQL: same rows, binary COPY, 1,000 per commit",
            format!("{} rows/s", thousands(raw_rate)),
            json!({"rows": raw.rows, "seconds": round(raw.elapsed.as_secs_f64(), 3), "rows_per_s": raw_rate.round()}),
        );
        self.report.ratio(
            "bulk_vs_raw_copy",
            "bulk ingest / raw COPY",
            rate / raw_rate,
            Target::AtLeast(0.6),
        );
        self.report.figure(
            "bytes_per_line",
            &format!(
                "bytes per line in PostgreSQL, indexes included ({} lines)",
                thousands(self.lines_stored as f64)
            ),
            format!("{per_line:.0} B"),
            json!({"bytes_used": used, "lines": self.lines_stored, "per_line": round(per_line, 1)}),
        );
        self.report.ceiling(
            "raw_copy_bytes_per_row",
            "raw COPY bytes per row",
            format!("{raw_per_row:.0} B"),
            json!({"bytes_used": raw.bytes_used, "rows": raw.rows, "per_row": round(raw_per_row, 1)}),
        );
        self.report.ratio(
            "bytes_vs_raw_copy",
            "bytes per line / raw COPY's",
            per_line / raw_per_row,
            Target::AtMost(1.3),
        );
        self.postgres_copy_path(target).await
    }

    /// On PostgreSQL, the bulk load sent again in requests of 5,000 lines, past the store's
    /// threshold for binary `COPY` (smaller batches go in by one `INSERT`), beside a plain
    /// `COPY` of the same rows, 5,000 per commit.
    async fn postgres_copy_path(&mut self, target: &PostgresTarget) -> anyhow::Result<()> {
        const PER_REQUEST: u64 = 5;
        let requests = self.scale.bulk_batches() / PER_REQUEST;
        let lines = requests * PER_REQUEST * BULK_BATCH;
        eprintln!(
            "bench: bulk ingest of {} lines again, 5,000 to a request",
            thousands(lines as f64)
        );
        let run = self.send_bulk(PER_REQUEST).await?;
        self.lines_stored += lines;
        let rate = run.per_second(lines as f64);
        self.report.figure(
            "bulk_copy_lines_per_s",
            "bulk ingest, NDJSON of 5,000 lines (by COPY), 4 connections",
            format!("{} lines/s", thousands(rate)),
            json!({
                "lines": lines,
                "seconds": round(run.elapsed.as_secs_f64(), 3),
                "lines_per_s": rate.round(),
                "request_ms": latency_json(&run.latencies),
            }),
        );
        eprintln!("bench: the raw COPY ceiling, 5,000 rows per commit");
        let raw = postgres::raw_copy_ingest(&target.admin_url, &self.scale, PER_REQUEST).await?;
        let raw_rate = raw.rows as f64 / raw.elapsed.as_secs_f64();
        self.report.ceiling(
            "raw_copy_5000_rows_per_s",
            "raw PostgreSQL: same rows, binary COPY, 5,000 per commit",
            format!("{} rows/s", thousands(raw_rate)),
            json!({"rows": raw.rows, "seconds": round(raw.elapsed.as_secs_f64(), 3), "rows_per_s": raw_rate.round()}),
        );
        self.report.ratio(
            "bulk_copy_vs_raw_copy",
            "bulk ingest of 5,000 lines / raw COPY of 5,000",
            rate / raw_rate,
            Target::AtLeast(0.6),
        );
        Ok(())
    }

    /// `POST /v1/data-factory/log`, one entry per request, 64 keep-alive connections, beside
    /// the raw-HTTP ceiling with the same requests.
    pub async fn single_entry_ingest(&mut self) -> anyhow::Result<()> {
        eprintln!("bench: single-entry ingest");
        let duration = self.scale.ingest_duration();
        let durable_dir = self.work_dir.join("raw-durable");
        std::fs::create_dir_all(&durable_dir)?;
        let raw = Server::raw_http(&["--durable".as_ref(), durable_dir.as_os_str()])?;
        let key = Arc::clone(&self.keys[0]);
        let raw_run = run_for(raw.address, SINGLE_ENTRY_CONNECTIONS, duration, {
            let key = Arc::clone(&key);
            move |connection, number| single_entry(&key, DATA_FACTORY_LOG, connection, number)
        })
        .await?;
        let raw_durable_run = run_for(raw.address, SINGLE_ENTRY_CONNECTIONS, duration, {
            let key = Arc::clone(&key);
            move |connection, number| single_entry(&key, RAW_DURABLE_LOG, connection, number)
        })
        .await?;
        let rounds = self.scale.read_rounds;
        let round_trip = run_numbered(
            raw.address,
            1,
            rounds,
            move |number| single_entry(&key, DATA_FACTORY_LOG, 0, number),
            |_, _| Ok(()),
        )
        .await?;
        drop(raw);

        let keys = self.keys.clone();
        let sampler = self.server.sample_rss();
        let run = run_for(
            self.server.address,
            SINGLE_ENTRY_CONNECTIONS,
            duration,
            move |connection, number| {
                single_entry(
                    &keys[connection % keys.len()],
                    DATA_FACTORY_LOG,
                    connection,
                    number,
                )
            },
        )
        .await?;
        let peak = sampler.peak();
        self.lines_stored += run.requests;

        let rate = run.per_second(run.requests as f64);
        let raw_rate = raw_run.per_second(raw_run.requests as f64);
        let raw_durable_rate = raw_durable_run.per_second(raw_durable_run.requests as f64);
        self.report.ceiling(
            "raw_http_requests_per_s",
            "raw HTTP: same requests, parsed, nothing stored",
            format!(
                "{} req/s, {}",
                thousands(raw_rate),
                latency_text(&raw_run.latencies)
            ),
            rate_json(&raw_run, raw_rate),
        );
        self.report.ceiling(
            "raw_durable_http_requests_per_s",
            "raw durable HTTP: same requests, one insert each, group commit",
            format!(
                "{} req/s, {}",
                thousands(raw_durable_rate),
                latency_text(&raw_durable_run.latencies)
            ),
            rate_json(&raw_durable_run, raw_durable_rate),
        );
        self.report.ceiling(
            "raw_http_round_trip_ms",
            "raw HTTP round trip, one connection",
            latency_text(&round_trip.latencies),
            latency_json(&round_trip.latencies),
        );
        self.report.figure(
            "single_entry_requests_per_s",
            "single-entry ingest, 64 connections",
            format!(
                "{} req/s, {}",
                thousands(rate),
                latency_text(&run.latencies)
            ),
            rate_json(&run, rate),
        );
        self.report.ratio(
            "single_entry_vs_raw_http",
            "single-entry ingest / raw HTTP",
            rate / raw_rate,
            Target::AtLeast(0.5),
        );
        self.report.ratio(
            "single_entry_vs_raw_durable_http",
            "single-entry ingest / raw durable HTTP",
            rate / raw_durable_rate,
            Target::AtLeast(0.8),
        );
        self.report.figure(
            "rss_single_entry_bytes",
            "server RSS during single-entry ingest (peak)",
            mib(peak),
            json!(peak),
        );
        Ok(())
    }

    /// NDJSON batches of 1,000 lines over 4 connections into thousands of executions of
    /// several accounts, beside the same rows inserted into raw SQLite.
    pub async fn bulk_ingest(&mut self) -> anyhow::Result<()> {
        eprintln!(
            "bench: launching {} executions",
            thousands(self.scale.executions() as f64)
        );
        let launched = Arc::new(Mutex::new(vec![
            (String::new(), String::new());
            self.scale.executions() as usize
        ]));
        let (keys, scale) = (self.keys.clone(), self.scale.clone());
        run_numbered(
            self.server.address,
            8,
            self.scale.executions(),
            move |execution| {
                let key = &keys[scale.account_of(execution)];
                let body = json!({"jobKey": format!("bench-job-{}", execution % 50)});
                Ok(Call::post(key, "/v1/executions", JSON, body.to_string()))
            },
            {
                let launched = Arc::clone(&launched);
                move |execution, answer| {
                    let answer: Value = serde_json::from_slice(&answer)?;
                    let field = |name: &str| {
                        answer[name]
                            .as_str()
                            .map(str::to_owned)
                            .with_context(|| format!("no {name} in {answer}"))
                    };
                    launched.lock().expect("not poisoned")[execution as usize] =
                        (field("id")?, field("cid")?);
                    Ok(())
                }
            },
        )
        .await?;
        self.executions = std::mem::take(&mut *launched.lock().expect("not poisoned"));

        let batches = self.scale.bulk_batches();
        eprintln!(
            "bench: bulk ingest of {} lines",
            thousands((batches * BULK_BATCH) as f64)
        );
        let sampler = self.server.sample_rss();
        let run = self.send_bulk(1).await?;
        let peak = sampler.peak();
        let lines = batches * BULK_BATCH;
        self.lines_stored += lines;
        let rate = run.per_second(lines as f64);
        self.report.figure(
            "bulk_lines_per_s",
            "bulk ingest, NDJSON of 1,000 lines, 4 connections",
            format!(
                "{} lines/s, {:.1} MB/s",
                thousands(rate),
                run.per_second(run.bytes_sent as f64) / 1e6
            ),
            json!({
                "lines": lines,
                "seconds": round(run.elapsed.as_secs_f64(), 3),
                "lines_per_s": rate.round(),
                "mb_per_s": round(run.per_second(run.bytes_sent as f64) / 1e6, 2),
                "request_ms": latency_json(&run.latencies),
            }),
        );
        self.report.figure(
            "rss_bulk_bytes",
            "server RSS during bulk ingest (peak)",
            mib(peak),
            json!(peak),
        );

        if let Some(target) = self.postgres.clone() {
            return self.postgres_ceiling(&target, rate).await;
        }
        let used = ceilings::bytes_used(&ceilings::open_reader(&self.data_dir)?)?;
        let per_line = used as f64 / self.lines_stored as f64;

        eprintln!("bench: the raw-SQLite ceiling");
        let raw_dir = self.work_dir.join("raw-sqlite");
        let raw = ceilings::raw_sqlite_ingest(&raw_dir, &self.scale).await?;
        std::fs::remove_dir_all(&raw_dir)?;
        let raw_rate = raw.rows as f64 / raw.elapsed.as_secs_f64();
        let raw_per_row = raw.bytes_used as f64 / raw.rows as f64;
        self.report.ceiling(
            "raw_sqlite_rows_per_s",
            "raw SQLite: same rows, prepared insert, 1,000 per commit",
            format!("{} rows/s", thousands(raw_rate)),
            json!({"rows": raw.rows, "seconds": round(raw.elapsed.as_secs_f64(), 3), "rows_per_s": raw_rate.round()}),
        );
        self.report.ratio(
            "bulk_vs_raw_sqlite",
            "bulk ingest / raw SQLite",
            rate / raw_rate,
            Target::AtLeast(0.6),
        );
        self.report.figure(
            "bytes_per_line",
            &format!(
                "bytes on disk per line ({} lines)",
                thousands(self.lines_stored as f64)
            ),
            format!("{per_line:.0} B"),
            json!({"bytes_used": used, "lines": self.lines_stored, "per_line": round(per_line, 1)}),
        );
        self.report.ceiling(
            "raw_sqlite_bytes_per_row",
            "raw SQLite bytes per row",
            format!("{raw_per_row:.0} B"),
            json!({"bytes_used": raw.bytes_used, "rows": raw.rows, "per_row": round(raw_per_row, 1)}),
        );
        self.report.ratio(
            "bytes_vs_raw_sqlite",
            "bytes per line / raw SQLite's",
            per_line / raw_per_row,
            Target::AtMost(1.3),
        );
        Ok(())
    }

    /// Pages of 200 lines of the large execution, first and deep, native and Talend-style,
    /// beside the same pages read in-process.
    pub async fn page_reads(&mut self) -> anyhow::Result<()> {
        eprintln!("bench: page reads");
        let (large, cid) = self
            .executions
            .first()
            .context("no executions launched")?
            .clone();
        let key = Arc::clone(&self.keys[0]);
        let deep = self.scale.deep_seq();
        let rounds = self.scale.read_rounds;
        let cursor = URL_SAFE_NO_PAD.encode(format!("log:asc:{}", deep - 1));
        let native = format!("/v1/executions/{large}/logs?limit=200");
        let talend = format!("/monitoring/executions/{large}/logs?count=200");
        let at = self.server.address;
        let first = self.reads(at, &key, native.clone(), Some(0)).await?;
        let deep_page = self
            .reads(at, &key, format!("{native}&cursor={cursor}"), Some(deep))
            .await?;
        let talend_first = self.reads(at, &key, talend.clone(), None).await?;
        let talend_deep = self
            .reads(at, &key, format!("{talend}&startIndex={deep}"), None)
            .await?;

        let reader = ceilings::open_reader(&self.data_dir)?;
        let rowid: i64 =
            reader.query_row("SELECT id FROM executions WHERE cid = ?1", [&cid], |row| {
                row.get(0)
            })?;
        let raw_first = ceilings::raw_page_reads(&reader, rowid, 0, rounds)?;
        let raw_deep = ceilings::raw_page_reads(&reader, rowid, deep, rounds)?;
        drop(reader);
        let raw = Server::raw_http(&["--pages".as_ref(), self.data_dir.as_os_str()])?;
        let raw_http_first = self
            .reads(raw.address, &key, format!("/page/{rowid}/0"), Some(0))
            .await?;
        let raw_http_deep = self
            .reads(
                raw.address,
                &key,
                format!("/page/{rowid}/{deep}"),
                Some(deep),
            )
            .await?;
        drop(raw);

        let lines = thousands(self.scale.large_execution_lines as f64);
        let depth = thousands(deep as f64);
        self.report.ceiling(
            "raw_read_first_ms",
            "raw read, first 200 lines, one prepared query",
            latency_text(&raw_first),
            latency_json(&raw_first),
        );
        self.report.ceiling(
            "raw_read_deep_ms",
            &format!("raw read, 200 lines {depth} deep"),
            latency_text(&raw_deep),
            latency_json(&raw_deep),
        );
        self.report.ceiling(
            "raw_page_first_ms",
            "raw page over HTTP, first 200 lines as JSON",
            latency_text(&raw_http_first),
            latency_json(&raw_http_first),
        );
        self.report.ceiling(
            "raw_page_deep_ms",
            &format!("raw page over HTTP, 200 lines {depth} deep"),
            latency_text(&raw_http_deep),
            latency_json(&raw_http_deep),
        );
        let pages = [
            (
                "page_first_ms",
                format!("first page of a {lines}-line execution"),
                &first,
            ),
            (
                "page_deep_ms",
                format!("page {depth} lines deep (cursor)"),
                &deep_page,
            ),
            (
                "talend_first_ms",
                "Talend page, first (newest first)".to_owned(),
                &talend_first,
            ),
            (
                "talend_deep_ms",
                format!("Talend page, startIndex={depth}"),
                &talend_deep,
            ),
        ];
        for (key, what, latencies) in pages {
            self.report
                .figure(key, &what, latency_text(latencies), latency_json(latencies));
        }
        let p50 = |latencies: &Latencies| latencies.percentile_ms(50.0);
        self.report.ratio(
            "page_deep_vs_first",
            "deep page / first page (p50)",
            p50(&deep_page) / p50(&first),
            Target::AtMost(1.2),
        );
        self.report.ratio(
            "talend_deep_vs_first",
            "Talend deep page / first page (p50)",
            p50(&talend_deep) / p50(&talend_first),
            Target::AtMost(1.2),
        );
        let round_trip = self.report_figure_p50("raw_http_round_trip_ms")?;
        self.report.ratio(
            "page_vs_raw_read_and_round_trip",
            "first page over HTTP / (raw read + raw HTTP round trip)",
            p50(&first) / (p50(&raw_first) + round_trip),
            Target::AtMost(2.0),
        );
        self.report.ratio(
            "deep_page_vs_raw_read_and_round_trip",
            "deep page over HTTP / (raw read + raw HTTP round trip)",
            p50(&deep_page) / (p50(&raw_deep) + round_trip),
            Target::AtMost(2.0),
        );
        self.report.ratio(
            "page_vs_raw_page",
            "first page over HTTP / raw page over HTTP",
            p50(&first) / p50(&raw_http_first),
            Target::AtMost(2.0),
        );
        self.report.ratio(
            "deep_page_vs_raw_page",
            "deep page over HTTP / raw page over HTTP",
            p50(&deep_page) / p50(&raw_http_deep),
            Target::AtMost(2.0),
        );
        Ok(())
    }

    fn report_figure_p50(&self, key: &str) -> anyhow::Result<f64> {
        self.report
            .figure_value(key)
            .and_then(|figure| figure["p50"].as_f64())
            .with_context(|| format!("{key} was not measured"))
    }

    /// `rounds` GETs of `path` from the server at `address` on one connection; the first
    /// answer's `data` must hold 200 lines, starting at `first_seq` when given.
    async fn reads(
        &self,
        address: SocketAddr,
        key: &Arc<str>,
        path: String,
        first_seq: Option<u64>,
    ) -> anyhow::Result<Latencies> {
        let key = Arc::clone(key);
        let checked = path.clone();
        let run = run_numbered(
            address,
            1,
            self.scale.read_rounds,
            move |_| Ok(Call::get(&key, path.clone())),
            move |number, answer| {
                if number == 0 {
                    let answer: Value = serde_json::from_slice(&answer)?;
                    let lines = answer["data"].as_array().context("no data")?;
                    ensure!(lines.len() == 200, "{checked}: {} lines", lines.len());
                    if let Some(seq) = first_seq {
                        ensure!(
                            lines[0]["seq"] == json!(seq),
                            "{checked}: starts at {}",
                            lines[0]["seq"]
                        );
                    }
                }
                Ok(())
            },
        )
        .await?;
        Ok(run.latencies)
    }

    /// The large execution exported as text and as JSON: lines/s, and how far the server's
    /// resident memory rose above what it held before.
    pub async fn exports(&mut self) -> anyhow::Result<()> {
        let large = self
            .executions
            .first()
            .context("no executions launched")?
            .0
            .clone();
        let key = Arc::clone(&self.keys[0]);
        let mut connection = Connection::open(self.server.address).await?;
        for format in ["text", "json"] {
            eprintln!("bench: export as {format}");
            let before = self.server.rss()?;
            self.server.reset_peak_rss()?;
            let started = std::time::Instant::now();
            let path = format!("/monitoring/executions/{large}/logs");
            let asked: Value = serde_json::from_slice(
                &connection
                    .send(&Call::post(
                        &key,
                        format!("{path}?fileFormat={format}"),
                        JSON,
                        "",
                    ))
                    .await?,
            )?;
            let token = asked["token"].as_str().context("no token")?.to_owned();
            let lines = asked["size"].as_u64().context("no size")?;
            loop {
                let status: Value = serde_json::from_slice(
                    &connection
                        .send(&Call::post(
                            &key,
                            format!("{path}/status"),
                            "text/plain",
                            token.clone(),
                        ))
                        .await?,
                )?;
                match status["status"].as_str() {
                    Some("IN_PROGRESS") => tokio::time::sleep(Duration::from_millis(10)).await,
                    Some("READY") => break,
                    _ => bail!("export as {format}: {status}"),
                }
            }
            let elapsed = started.elapsed();
            let growth = self.server.peak_rss()?.saturating_sub(before);
            let rate = lines as f64 / elapsed.as_secs_f64();
            self.report.figure(
                &format!("export_{format}"),
                &format!("export as {format}, {} lines", thousands(lines as f64)),
                format!("{} lines/s, RSS +{}", thousands(rate), mib(growth)),
                json!({
                    "lines": lines,
                    "seconds": round(elapsed.as_secs_f64(), 3),
                    "lines_per_s": rate.round(),
                    "rss_before": before,
                    "rss_peak_growth": growth,
                }),
            );
            self.report.ratio(
                &format!("export_{format}_vs_500k"),
                &format!("export as {format}: lines/s / 500,000"),
                rate / 500_000.0,
                Target::AtLeast(1.0),
            );
            self.report.ratio(
                &format!("export_{format}_rss_vs_64mb"),
                &format!("export as {format}: RSS growth / 64 MB"),
                growth as f64 / 64e6,
                Target::AtMost(1.0),
            );
        }
        Ok(())
    }

    /// Audit entries recorded over 32 connections, then seed 001's find examples.
    pub async fn audit(&mut self) -> anyhow::Result<()> {
        let entries = self.scale.audit_entries;
        eprintln!(
            "bench: recording {} audit entries",
            thousands(entries as f64)
        );
        let key = Arc::clone(&self.keys[0]);
        let run = run_numbered(
            self.server.address,
            AUDIT_CONNECTIONS,
            entries,
            {
                let key = Arc::clone(&key);
                move |number| {
                    Ok(Call::post(
                        &key,
                        "/v1/audit_logs",
                        JSON,
                        audit_entry(number, entries).to_string(),
                    ))
                }
            },
            |_, _| Ok(()),
        )
        .await?;
        let rate = run.per_second(entries as f64);
        self.report.figure(
            "audit_record_per_s",
            "audit entries recorded, 32 connections",
            format!("{} entries/s", thousands(rate)),
            json!({"entries": entries, "seconds": round(run.elapsed.as_secs_f64(), 3), "entries_per_s": rate.round()}),
        );
        for (index, (name, query)) in audit_finds().into_iter().enumerate() {
            let body = Bytes::from(query.to_string());
            let key = Arc::clone(&key);
            let run = run_numbered(
                self.server.address,
                1,
                self.scale.read_rounds,
                move |_| {
                    Ok(Call::post(
                        &key,
                        "/v1/audit_logs/find?size=10&page=0",
                        JSON,
                        body.clone(),
                    ))
                },
                |_, _| Ok(()),
            )
            .await?;
            self.report.figure(
                &format!("audit_find_{}_ms", index + 1),
                &format!("audit find: {name}"),
                latency_text(&run.latencies),
                latency_json(&run.latencies),
            );
        }
        Ok(())
    }

    /// Operations of ten items each through the batch endpoint, then statistics over the
    /// period they cover, and one operation's.
    pub async fn operating(&mut self) -> anyhow::Result<()> {
        let operations = self.scale.operations;
        eprintln!("bench: writing {} operations", thousands(operations as f64));
        let key = Arc::clone(&self.keys[0]);
        let from = timestamp(pipelog_core::time::UtcTime::now().unix_millis() - 1000);
        // Operations of a day in 2026, ten seconds apart.
        const START: i64 = 1_790_000_000_000;
        const PER_BATCH: u64 = 100;
        let run = run_numbered(
            self.server.address,
            BULK_CONNECTIONS,
            operations.div_ceil(PER_BATCH),
            {
                let key = Arc::clone(&key);
                move |batch| {
                    let items: Vec<Value> = (batch * PER_BATCH
                        ..((batch + 1) * PER_BATCH).min(operations))
                        .flat_map(|number| operation_items(number, START))
                        .collect();
                    Ok(Call::post(
                        &key,
                        "/api/v1/OperatingLogs/batch",
                        JSON,
                        serde_json::to_vec(&items)?,
                    ))
                }
            },
            |_, _| Ok(()),
        )
        .await?;
        let items = operations * 10;
        let rate = run.per_second(items as f64);
        self.report.figure(
            "operating_items_per_s",
            "operating items, batches of 1,000, 4 connections",
            format!("{} items/s", thousands(rate)),
            json!({"items": items, "seconds": round(run.elapsed.as_secs_f64(), 3), "items_per_s": rate.round()}),
        );
        let period = format!("/v1/operations/statistics?from={from}&to=2999-01-01T00:00:00Z");
        let statistics = {
            let (key, path) = (Arc::clone(&key), period.clone());
            run_numbered(
                self.server.address,
                1,
                self.scale.statistics_rounds,
                move |_| Ok(Call::get(&key, path.clone())),
                move |number, answer| {
                    if number == 0 {
                        let answer: Value = serde_json::from_slice(&answer)?;
                        ensure!(
                            answer["operations"] == json!(operations),
                            "statistics of {}",
                            answer["operations"]
                        );
                    }
                    Ok(())
                },
            )
            .await?
        };
        self.report.figure(
            "operating_period_statistics_ms",
            &format!(
                "operating statistics over {} operations",
                thousands(operations as f64)
            ),
            latency_text(&statistics.latencies),
            latency_json(&statistics.latencies),
        );
        let one = format!("/v1/operations/{}/statistics", operation_id(operations / 2));
        let run = run_numbered(
            self.server.address,
            1,
            self.scale.read_rounds,
            move |_| Ok(Call::get(&key, one.clone())),
            |_, _| Ok(()),
        )
        .await?;
        self.report.figure(
            "operating_one_operation_ms",
            "one operation's statistics",
            latency_text(&run.latencies),
            latency_json(&run.latencies),
        );
        Ok(())
    }
}

/// Request `number` of connection `connection`: one line of that connection's job.
/// Seed 000's endpoint for one line.
const DATA_FACTORY_LOG: &str = "/v1/data-factory/log";
/// The raw-HTTP server's durable twin of it.
const RAW_DURABLE_LOG: &str = "/durable/v1/data-factory/log";

fn single_entry(
    key: &Arc<str>,
    path: &str,
    connection: usize,
    number: u64,
) -> anyhow::Result<Call> {
    let seed = (connection as u64) << 32 | number;
    Call::post(key, path, JSON, data_factory_body(seed))
        .with_header("cid", &format!("bench-job-run-{connection}"))
}

fn latency_text(latencies: &Latencies) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms",
        latencies.percentile_ms(50.0),
        latencies.percentile_ms(99.0)
    )
}

fn latency_json(latencies: &Latencies) -> Value {
    json!({
        "p50": round(latencies.percentile_ms(50.0), 3),
        "p99": round(latencies.percentile_ms(99.0), 3),
    })
}

fn rate_json(run: &Run, rate: f64) -> Value {
    json!({
        "requests": run.requests,
        "seconds": round(run.elapsed.as_secs_f64(), 3),
        "per_s": rate.round(),
        "latency_ms": latency_json(&run.latencies),
    })
}
