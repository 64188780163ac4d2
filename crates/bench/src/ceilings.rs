//! The ceilings each pipelog figure is divided by, measured in the same run on the same
//! machine:
//!
//! - raw SQLite: the bulk load's very rows inserted in-process with one prepared statement
//!   into pipelog's own schema and indexes, in transactions of the same size, with the
//!   writer's `synchronous` setting and page cache;
//! - raw HTTP: the same stack (tokio, hyper, axum, serde) answering the Data Factory request
//!   with a handler that parses the same JSON into the same types and stores nothing;
//! - raw durable HTTP: the same handler handing each line to a writer thread that inserts
//!   it with one prepared statement into a file with pipelog's schema, commits whatever
//!   queued up in one transaction (`synchronous=FULL`), and answers after the commit: the
//!   least a durable single-entry ingest can cost, with none of pipelog's bookkeeping;
//! - raw read: the same page read in-process from pipelog's own file with one prepared
//!   query;
//! - raw page over HTTP: the raw-HTTP server reading that page with the same prepared query
//!   on a blocking thread and answering it as JSON: what a page costs with nothing of
//!   pipelog's own (keys, paging rules, cursors) in the way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pipelog_core::ids::Cid;
use pipelog_core::log_entry::{EmitterName, EventCorrelationId, LogMessage, MessageType, Severity};
use pipelog_core::time::UtcTime;
use pipelog_store::Store;
use pipelog_store::sqlite::{DATABASE_FILE, SqliteOptions, SqliteStore};
use rusqlite::{Connection, OpenFlags, params};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::http::Latencies;
use crate::process::LISTENING;
use crate::workload::{Scale, bulk_batch};

/// pipelog's default `--max-body-bytes`.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Where the raw-HTTP server finds its files.
#[derive(Debug, Default)]
pub struct RawHttpOptions {
    /// A pipelog data dir whose pages it serves at `GET /page/{execution rowid}/{first seq}`.
    pub pages: Option<PathBuf>,
    /// A fresh dir for the file `POST /durable/v1/data-factory/log` writes into.
    pub durable: Option<PathBuf>,
}

/// The raw-HTTP server: runs until killed.
pub fn serve_raw_http(options: RawHttpOptions) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let reader = options.pages.map(|dir| open_reader(&dir)).transpose()?;
    runtime.block_on(async {
        let durable = match options.durable {
            Some(dir) => Some(start_durable_writer(&dir).await?),
            None => None,
        };
        let state = Arc::new(RawState {
            reader: Mutex::new(reader),
            durable,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        eprintln!("raw-http: {LISTENING}{}", listener.local_addr()?);
        let router = Router::new()
            .route("/v1/data-factory/log", post(parse_and_answer))
            .route("/durable/v1/data-factory/log", post(parse_store_and_answer))
            .route("/page/{execution}/{seq}", get(raw_page))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(state);
        axum::serve(listener, router).await?;
        anyhow::Ok(())
    })
}

struct RawState {
    reader: Mutex<Option<Connection>>,
    durable: Option<mpsc::Sender<DurableWrite>>,
}

type Reader = Arc<RawState>;

/// The page from `seq`, read with the raw read's query on a blocking thread (as pipelog's
/// readers do) and answered as `{"data": [...]}`.
async fn raw_page(
    State(reader): State<Reader>,
    UrlPath((execution, seq)): UrlPath<(i64, u64)>,
) -> Response {
    let read = tokio::task::spawn_blocking(move || {
        let reader = reader.reader.lock().unwrap_or_else(|p| p.into_inner());
        let connection = reader
            .as_ref()
            .context("raw-http was started without a data dir")?;
        let rows = read_page(connection, execution, seq)?;
        anyhow::Ok(serde_json::to_vec(&PageBody { data: &rows })?)
    })
    .await;
    match read {
        Ok(Ok(body)) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Ok(Err(error)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error:#}")).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
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

fn cid_of(headers: &HeaderMap) -> Result<Cid, StatusCode> {
    headers
        .get("cid")
        .and_then(|value| value.to_str().ok())
        .and_then(|text| Cid::parse(text.trim()).ok())
        .ok_or(StatusCode::BAD_REQUEST)
}

fn answer(cid: Cid, body: CreateLogBody, seq: u64) -> (StatusCode, axum::Json<Answer>) {
    let answer = Answer {
        object: "log",
        id: format!("{EXECUTION}:{seq}"),
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
        seq,
        timestamp: body.timestamp,
    };
    (StatusCode::CREATED, axum::Json(answer))
}

async fn parse_and_answer(
    headers: HeaderMap,
    axum::Json(body): axum::Json<CreateLogBody>,
) -> Result<(StatusCode, axum::Json<Answer>), StatusCode> {
    Ok(answer(cid_of(&headers)?, body, 0))
}

async fn parse_store_and_answer(
    State(state): State<Reader>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<CreateLogBody>,
) -> Result<(StatusCode, axum::Json<Answer>), StatusCode> {
    let cid = cid_of(&headers)?;
    let writer = state.durable.as_ref().ok_or(StatusCode::NOT_FOUND)?;
    let (reply, stored) = oneshot::channel();
    let write = DurableWrite {
        cid: cid.as_str().to_owned(),
        timestamp: body.timestamp.map(UtcTime::unix_millis),
        severity: body.severity.unwrap_or(Severity::Info).rank(),
        message_type: body.message_type.unwrap_or(MessageType::Default).rank(),
        emitter_name: body.emitter_name.as_str().to_owned(),
        event_correlation_id: body.event_correlation_id.as_str().to_owned(),
        message: body.message.as_str().to_owned(),
        reply,
    };
    writer
        .send(write)
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let seq = stored
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(answer(cid, body, seq))
}

/// A line for the raw durable writer, and where to say its `seq` once committed.
struct DurableWrite {
    cid: String,
    timestamp: Option<i64>,
    severity: u8,
    message_type: u8,
    emitter_name: String,
    event_correlation_id: String,
    message: String,
    reply: oneshot::Sender<u64>,
}

/// A fresh file with pipelog's schema in `dir`, and the thread that writes into it.
async fn start_durable_writer(dir: &Path) -> anyhow::Result<mpsc::Sender<DurableWrite>> {
    let store = SqliteStore::open(dir, SqliteOptions::default())?;
    store.close().await?;
    let connection = open_raw_writer(&dir.join(DATABASE_FILE))?;
    let (queue, inbox) = mpsc::channel(SqliteOptions::default().write_queue_capacity);
    std::thread::Builder::new()
        .name("raw-writer".into())
        .spawn(move || {
            if let Err(error) = durable_writer(connection, inbox) {
                eprintln!("the raw durable writer stopped: {error:#}");
            }
        })?;
    Ok(queue)
}

/// Commits whatever queued up while the last commit ran, in one transaction, each
/// execution's lines together (as pipelog's writer orders a group); answers after the
/// commit.
fn durable_writer(
    mut connection: Connection,
    mut inbox: mpsc::Receiver<DurableWrite>,
) -> anyhow::Result<()> {
    let mut executions: HashMap<String, (i64, u64)> = HashMap::new();
    while let Some(first) = inbox.blocking_recv() {
        let mut group = vec![first];
        while let Ok(next) = inbox.try_recv() {
            group.push(next);
        }
        group.sort_by(|a, b| a.cid.cmp(&b.cid));
        let created_at = UtcTime::now().unix_millis();
        let transaction = connection.transaction()?;
        let mut seqs = Vec::with_capacity(group.len());
        {
            let mut insert = transaction.prepare_cached(INSERT)?;
            for write in &group {
                let next_id = executions.len() as i64 + 1;
                let (execution, seq) = executions.entry(write.cid.clone()).or_insert((next_id, 0));
                insert.execute(params![
                    *execution,
                    *seq,
                    created_at,
                    write.timestamp,
                    write.severity,
                    write.message_type,
                    write.emitter_name,
                    write.event_correlation_id,
                    write.message,
                ])?;
                seqs.push(*seq);
                *seq += 1;
            }
        }
        transaction.commit()?;
        for (write, seq) in group.into_iter().zip(seqs) {
            let _ = write.reply.send(seq);
        }
    }
    Ok(())
}

/// What a raw-ingest ceiling (SQLite's inserts, PostgreSQL's `COPY`) did.
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
        let mut connection = open_raw_writer(&path)?;
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

/// A connection set up as pipelog's writer's is: WAL, fsync per commit, 64 MiB of page
/// cache.
fn open_raw_writer(path: &Path) -> anyhow::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    connection.pragma_update(None, "cache_size", -65_536)?;
    Ok(connection)
}

/// A read-only connection to pipelog's file, set up as its readers are (8 MiB of cache).
pub fn open_reader(data_dir: &Path) -> anyhow::Result<Connection> {
    let path = data_dir.join(DATABASE_FILE);
    let connection = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("cannot open {}", path.display()))?;
    connection.pragma_update(None, "cache_size", -8_192)?;
    Ok(connection)
}

/// A page as pipelog's native API answers it (its other fields left out).
#[derive(Serialize)]
struct PageBody<'a> {
    data: &'a [Row],
}

/// One stored line, decoded as a page read decodes it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
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
    let mut times = Latencies::default();
    for _ in 0..rounds {
        let started = Instant::now();
        let rows = read_page(connection, execution, first_seq)?;
        times.record(started.elapsed());
        anyhow::ensure!(rows.len() == 200, "the raw read found {} lines", rows.len());
    }
    Ok(times)
}

/// The 200 lines from `first_seq` of the execution with rowid `execution`, with one prepared
/// query.
fn read_page(connection: &Connection, execution: i64, first_seq: u64) -> anyhow::Result<Vec<Row>> {
    let mut query = connection.prepare_cached(
        "SELECT seq, created_at, event_time, severity, message_type, emitter_name, \
         event_correlation_id, message FROM execution_logs \
         WHERE execution_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT 200",
    )?;
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
    Ok(rows)
}
