//! Export files: built in the background a chunk at a time (memory does not grow with the
//! log), offered through links signed for a path and an expiry, and served to whoever
//! holds such a link, with `Range` so a broken download resumes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use pipelog_core::export::{ExportFormat, ExportJob, ExportStatus, ExportToken, text_line};
use pipelog_core::log_entry::LogEntry;
use pipelog_core::time::UtcTime;
use serde::Deserialize;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::ApiError;
use crate::executions::TalendLogView;
use crate::extract::QueryParams;
use crate::openapi::ErrorResponse;

/// Lines read from the store at a time while building.
const CHUNK: usize = 5000;
/// How often a builder renews its claim on the export it builds.
const RENEW_EVERY: Duration = Duration::from_secs(5);

/// The download route. It takes no key: the link's signature is the permission.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/exports/{token}/{file_name}", get(download))
}

/// Where an export's file lives: named by its token alone, so that nothing from a URL
/// ever becomes part of a path on disk.
pub(crate) fn file_path(dir: &Path, job: &ExportJob) -> PathBuf {
    let extension = match job.format {
        ExportFormat::Json => "json",
        ExportFormat::Text => "log",
    };
    dir.join(format!("{}.{extension}", job.token))
}

fn now_seconds() -> i64 {
    UtcTime::now().unix_millis() / 1000
}

/// The scheme and host clients reach this server at.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.config.public_url {
        return public.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty() && host.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
        .unwrap_or("localhost");
    let scheme = if state.config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A link to an export's file, signed to work for `valid_for` without a key.
pub(crate) fn download_link(
    state: &AppState,
    headers: &HeaderMap,
    job: &ExportJob,
    valid_for: Duration,
) -> String {
    let path = format!("/v1/exports/{}/{}", job.token, job.file_name);
    let expires =
        now_seconds().saturating_add(i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX));
    let signature = state.config.url_signing_key.sign(&path, expires);
    format!(
        "{}{path}?expires={expires}&signature={signature}",
        base_url(state, headers)
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LinkQuery {
    /// When the link stops working, in seconds since the epoch.
    expires: Option<i64>,
    /// The link's signature.
    signature: Option<String>,
}

#[utoipa::path(get, path = "/v1/exports/{token}/{file_name}", tag = "Talend execution logs",
    params(
        ("token" = ExportToken, Path, description = "The export's token."),
        ("file_name" = String, Path, description = "The file's name, as the link gives it."),
        LinkQuery,
        ("Range" = Option<String>, Header, description = "A byte range, to resume a download."),
    ),
    responses(
        (status = 200, description = "The file: text, or a JSON array of lines.", content(
            (String = "text/plain"),
            (String = "application/json"),
        )),
        (status = 206, description = "The range asked for."),
        (status = 400, description = "The token or a link parameter is malformed.", body = ErrorResponse),
        (status = 403, description = "The link is unsigned, tampered with or expired.", body = ErrorResponse),
        (status = 404, description = "No such export, or it has been removed.", body = ErrorResponse),
        (status = 416, description = "The range is outside the file."),
    ))]
pub(crate) async fn download(
    State(state): State<AppState>,
    path: Result<UrlPath<(String, String)>, PathRejection>,
    QueryParams(link): QueryParams<LinkQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let UrlPath((token, file_name)) =
        path.map_err(|rejection| ApiError::invalid("path", rejection.body_text()))?;
    let refused = |why: &str| ApiError::Forbidden(format!("the download link {why}"));
    let (Some(expires), Some(signature)) = (link.expires, link.signature) else {
        return Err(refused("is not signed"));
    };
    let path = format!("/v1/exports/{token}/{file_name}");
    if !state
        .config
        .url_signing_key
        .verifies(&path, expires, &signature)
    {
        return Err(refused("is not valid: its signature does not match"));
    }
    if now_seconds() >= expires {
        return Err(refused(
            "has expired; ask for the export's status again for a new one",
        ));
    }
    let gone = || ApiError::NotFound("the export is no longer kept".into());
    let token = ExportToken::parse(&token).ok_or_else(gone)?;
    let job = state.store.export(None, token).await.map_err(|_| gone())?;
    if job.file_name != file_name || job.status != ExportStatus::Ready {
        return Err(gone());
    }
    let mime = match job.format {
        ExportFormat::Json => mime::APPLICATION_JSON,
        ExportFormat::Text => mime::TEXT_PLAIN_UTF_8,
    };
    let served = ServeFile::new_with_mime(file_path(&state.config.exports_dir, &job), &mime)
        .oneshot(request)
        .await
        .map_err(|error| ApiError::Internal(format!("serving an export failed: {error}")))?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(gone());
    }
    let mut response = served.map(Body::new);
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", job.file_name))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    response
        .headers_mut()
        .insert(header::CONTENT_DISPOSITION, disposition);
    Ok(response)
}

/// How building an export ended.
#[derive(Debug)]
pub(crate) enum Built {
    /// The file is in place, this many bytes long.
    Done(u64),
    /// It could not be built; the reason is kept with the export.
    Failed(String),
    /// The server is stopping: the export stays claimed until the claim goes stale, and
    /// is built again from the start.
    Interrupted,
}

/// Builds an export's file: a chunk of lines at a time into a `.part` file of this builder's
/// own, renamed into place once complete. Own, because nodes share the exports directory:
/// a builder whose claim went stale while it was merely slow may still be writing when
/// another node takes the export over, and neither must write into the other's file.
pub(crate) async fn build(
    state: &AppState,
    job: &ExportJob,
    stopping: &watch::Receiver<bool>,
) -> Built {
    let done = file_path(&state.config.exports_dir, job);
    let partial = done.with_extension(format!("{}.part", uuid::Uuid::new_v4().simple()));
    match write(state, job, &partial, stopping).await {
        Ok(true) => match tokio::fs::rename(&partial, &done).await {
            Ok(()) => match tokio::fs::metadata(&done).await {
                Ok(metadata) => {
                    tracing::info!(
                        token = %job.token,
                        lines = job.lines(),
                        bytes = metadata.len(),
                        "export built"
                    );
                    Built::Done(metadata.len())
                }
                Err(error) => Built::Failed(format!("cannot read the export file: {error}")),
            },
            Err(error) => Built::Failed(format!("cannot put the export file in place: {error}")),
        },
        Ok(false) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Built::Interrupted
        }
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Built::Failed(error)
        }
    }
}

/// Writes the file; `Ok(false)` when the server began stopping first.
///
/// Three stages overlap: while one chunk is written to the file, the next is serialised on
/// a blocking thread and the one after is read by a reader. Serialising 5,000 lines takes
/// milliseconds, too long to hold an async worker.
async fn write(
    state: &AppState,
    job: &ExportJob,
    path: &Path,
    stopping: &watch::Receiver<bool>,
) -> Result<bool, String> {
    tokio::fs::create_dir_all(&state.config.exports_dir)
        .await
        .map_err(|error| format!("cannot create the exports directory: {error}"))?;
    let file = tokio::fs::File::create(path)
        .await
        .map_err(|error| format!("cannot create the export file: {error}"))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let io = |error: std::io::Error| format!("cannot write the export file: {error}");
    let json = job.format == ExportFormat::Json;
    if json {
        out.write_all(b"[").await.map_err(io)?;
    }
    let read_from = |from: u64| {
        let (store, account, execution, end) = (
            state.store.clone(),
            job.account_id,
            job.execution_id,
            job.end_seq,
        );
        tokio::spawn(async move {
            store
                .read_log_run(account, execution, from..end, CHUNK)
                .await
        })
    };
    let mut reading = (job.first_seq < job.end_seq).then(|| read_from(job.first_seq));
    let mut first = true;
    let mut renewed = tokio::time::Instant::now();
    let mut buffer = Vec::with_capacity(64 * 1024);
    while let Some(read) = reading.take() {
        if *stopping.borrow() {
            return Ok(false);
        }
        let run = read
            .await
            .map_err(|error| format!("cannot read the log: {error}"))?
            .map_err(|error| format!("cannot read the log: {error}"))?;
        let Some(last) = run.entries.last().map(|entry| entry.seq) else {
            // The rest was deleted meanwhile.
            break;
        };
        if last + 1 < job.end_seq {
            reading = Some(read_from(last + 1));
        }
        let continues = !first;
        buffer = tokio::task::spawn_blocking(move || {
            serialise(run.entries, &mut buffer, json, continues).map(|()| buffer)
        })
        .await
        .map_err(|error| format!("cannot write an entry: {error}"))??;
        first = false;
        out.write_all(&buffer).await.map_err(io)?;
        if renewed.elapsed() >= RENEW_EVERY {
            let _ = state.store.touch_export(job.token).await;
            renewed = tokio::time::Instant::now();
        }
    }
    if json {
        out.write_all(if first { b"]\n" } else { b"\n]\n" })
            .await
            .map_err(io)?;
    }
    out.flush().await.map_err(io)?;
    out.get_mut().sync_all().await.map_err(io)?;
    Ok(true)
}

/// A chunk of lines as the file holds them, into `buffer` (emptied first). `continues`:
/// lines came before, so a JSON file needs a comma first.
fn serialise(
    entries: Vec<LogEntry>,
    buffer: &mut Vec<u8>,
    json: bool,
    continues: bool,
) -> Result<(), String> {
    buffer.clear();
    for (index, entry) in entries.into_iter().enumerate() {
        if json {
            buffer.extend_from_slice(if continues || index > 0 {
                b",\n"
            } else {
                b"\n"
            });
            serde_json::to_writer(&mut *buffer, &TalendLogView::from(entry))
                .map_err(|error| format!("cannot write an entry: {error}"))?;
        } else {
            buffer.extend_from_slice(text_line(&entry).as_bytes());
            buffer.push(b'\n');
        }
    }
    Ok(())
}
