//! The ceilings each pipelog figure is divided by, measured in the same run on the same
//! machine:
//!
//! - raw SQLite: the bulk load's very rows inserted in-process with one prepared statement
//!   into pipelog's own schema and indexes, in transactions of the same size, with the
//!   writer's `synchronous` setting and page cache;
//! - raw HTTP: the same stack (tokio, hyper, axum, serde) answering the Data Factory request
//!   with a handler that parses the same JSON into the same types and stores nothing;
//! - raw read: the same page read in-process from pipelog's own file with one prepared
//!   query.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use pipelog_core::ids::Cid;
use pipelog_core::log_entry::{EmitterName, EventCorrelationId, LogMessage, MessageType, Severity};
use pipelog_core::time::UtcTime;
use pipelog_store::Store;
use pipelog_store::sqlite::{DATABASE_FILE, SqliteOptions, SqliteStore};
use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};

use crate::http::Latencies;
use crate::process::LISTENING;
use crate::workload::{Scale, bulk_batch};

/// pipelog's default `--max-body-bytes`.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The raw-HTTP server: runs until killed.
pub fn serve_raw_http() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        eprintln!("raw-http: {LISTENING}{}", listener.local_addr()?);
        let router = Router::new()
            .route("/v1/data-factory/log", post(parse_and_answer))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
        axum::serve(listener, router).await?;
        anyhow::Ok(())
    })
}

/// Seed 000's request, parsed into the core types pipelog's handler parses it into.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateLogBody {
    message: LogMessage,
    emitter_name: EmitterName,
    event_correlation_id: EventCorrelationId,
    severity: Option<Severity>,
    message_type: Option<MessageType>,
    timestamp: Option<UtcTime>,
}

/// Seed 000's answer, with the fields pipelog's carries.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    object: &'static str,
    id: String,
    created_at: UtcTime,
    code: &'static str,
    severity: Severity,
    message: LogMessage,
    message_type: MessageType,
    account_id: &'static str,
    cid: Cid,
    event_correlation_id: EventCorrelationId,
    job_instance_id: &'static str,
    emitter_name: EmitterName,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<UtcTime>,
}

const EXECUTION: &str = "0195f5c4-7c1e-7000-8000-000000000001";

async fn parse_and_answer(
    headers: HeaderMap,
    axum::Json(body): axum::Json<CreateLogBody>,
) -> Result<(StatusCode, axum::Json<Answer>), StatusCode> {
    let cid = headers
        .get("cid")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| Cid::parse(text.trim()).ok())
        .ok_or(StatusCode::BAD_REQUEST)?;
    let answer = Answer {
        object: "log",
        id: format!("{EXECUTION}:0"),
        created_at: UtcTime::now(),
        code: "LOG_CREATED",
        severity: body.severity.unwrap_or(Severity::Info),
        message: body.message,
        message_type: body.message_type.unwrap_or(MessageType::Default),
        account_id: "default",
        cid,
        event_correlation_id: body.event_correlation_id,
        job_instance_id: EXECUTION,
        emitter_name: body.emitter_name,
        seq: 0,
        timestamp: body.timestamp,
    };
    Ok((StatusCode::CREATED, axum::Json(answer)))
}

/// What the raw-SQLite ceiling did.
#[derive(Debug)]
pub struct RawIngest {
    pub rows: u64,
    /// Time spent in transactions (generating the rows is left out).
    pub elapsed: Duration,
    pub bytes_used: u64,
}

/// The insert pipelog's writer prepares.
const INSERT: &str = "INSERT INTO execution_logs (execution_id, seq, created_at, event_time, \
     severity, message_type, emitter_name, event_correlation_id, message) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// The bulk load's rows into a fresh file in `dir` with pipelog's schema.
pub async fn raw_sqlite_ingest(dir: &Path, scale: &Scale) -> anyhow::Result<RawIngest> {
    // The schema, exactly as pipelog makes it: a store opened there and closed.
    let store = SqliteStore::open(dir, SqliteOptions::default())?;
    store.close().await?;
    let path = dir.join(DATABASE_FILE);
    let scale = scale.clone();
    tokio::task::spawn_blocking(move || {
        let mut connection = Connection::open(&path)?;
        // As pipelog's writer connection: WAL, fsync per commit, 64 MiB of page cache.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "temp_store", "MEMORY")?;
        connection.pragma_update(None, "cache_size", -65_536)?;
        let mut next_seq = vec![0u64; scale.executions() as usize];
        let mut elapsed = Duration::ZERO;
        let mut rows = 0;
        for number in 0..scale.bulk_batches() {
            let lines = bulk_batch(number);
            let execution = scale.execution_of_batch(number);
            let seq = &mut next_seq[execution as usize];
            let started = Instant::now();
            let created_at = UtcTime::now().unix_millis();
            let transaction = connection.transaction()?;
            {
                let mut insert = transaction.prepare_cached(INSERT)?;
                for line in &lines {
                    insert.execute(params![
                        execution + 1,
                        *seq,
                        created_at,
                        None::<i64>,
                        line.severity.rank(),
                        line.message_type.rank(),
                        line.emitter_name,
                        line.event_correlation_id,
                        line.message,
                    ])?;
                    *seq += 1;
                }
            }
            transaction.commit()?;
            elapsed += started.elapsed();
            rows += lines.len() as u64;
        }
        let bytes_used = bytes_used(&connection)?;
        anyhow::Ok(RawIngest {
            rows,
            elapsed,
            bytes_used,
        })
    })
    .await?
}

/// Bytes of the file's pages in use (the WAL's newer pages included, free pages left out).
pub fn bytes_used(connection: &Connection) -> anyhow::Result<u64> {
    let pragma = |name: &str| -> anyhow::Result<u64> {
        Ok(connection.query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))?)
    };
    Ok((pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?)
}

/// A read-only connection to pipelog's file, set up as its readers are (8 MiB of cache).
pub fn open_reader(data_dir: &Path) -> anyhow::Result<Connection> {
    let path = data_dir.join(DATABASE_FILE);
    let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    connection.pragma_update(None, "cache_size", -8_192)?;
    Ok(connection)
}

/// One stored line, decoded as a page read decodes it.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "read to be decoded, as a page read does; never looked at"
)]
struct Row {
    seq: u64,
    created_at: i64,
    event_time: Option<i64>,
    severity: u8,
    message_type: u8,
    emitter_name: Option<String>,
    event_correlation_id: Option<String>,
    message: String,
}

/// `rounds` reads of the 200 lines from `first_seq` of the execution with rowid `execution`,
/// with one prepared query.
pub fn raw_page_reads(
    connection: &Connection,
    execution: i64,
    first_seq: u64,
    rounds: u64,
) -> anyhow::Result<Latencies> {
    let mut query = connection.prepare(
        "SELECT seq, created_at, event_time, severity, message_type, emitter_name, \
         event_correlation_id, message FROM execution_logs \
         WHERE execution_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT 200",
    )?;
    let mut times = Latencies::default();
    for _ in 0..rounds {
        let started = Instant::now();
        let rows = query
            .query_map(params![execution, first_seq], |row| {
                Ok(Row {
                    seq: row.get(0)?,
                    created_at: row.get(1)?,
                    event_time: row.get(2)?,
                    severity: row.get(3)?,
                    message_type: row.get(4)?,
                    emitter_name: row.get(5)?,
                    event_correlation_id: row.get(6)?,
                    message: row.get(7)?,
                })
            })?
            .collect::<Result<Vec<Row>, _>>()?;
        times.record(started.elapsed());
        anyhow::ensure!(rows.len() == 200, "the raw read found {} lines", rows.len());
    }
    Ok(times)
}
