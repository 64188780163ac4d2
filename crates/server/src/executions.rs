//! Talend's Execution Logs API (seed 003, and Talend's own OpenAPI document):
//! `GET|DELETE|POST /monitoring/executions/{id}/logs` and `POST .../logs/status`.
//!
//! Every answer here conforms to Talend's document; pipelog's additions are extra fields,
//! never changed ones.

use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use pipelog_core::export::{ExportFormat, ExportStatus, ExportToken};
use pipelog_core::ids::ExecutionId;
use pipelog_core::log_entry::{
    EmitterName, EventCorrelationId, LogAttributes, LogEntry, LogEntryId, LogMessage, MessageType,
    Severity,
};
use pipelog_core::paging::{LogQuery, PageLimit, SeveritySet, SortOrder, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::NewExport;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::exports;
use crate::extract::{PathParam, QueryParams, body_bytes};
use crate::openapi::ErrorResponse;
use crate::response::Json;

/// Talend's page sizes.
const DEFAULT_COUNT: u32 = 50;
const MAX_COUNT: u32 = 200;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/monitoring/executions/{id}/logs",
            get(read)
                .merge(post(export))
                .route_layer(requires!(ExecutionLogsRead))
                .merge(axum::routing::delete(delete).route_layer(requires!(ExecutionLogsDelete))),
        )
        .route(
            "/monitoring/executions/{id}/logs/status",
            post(status).route_layer(requires!(ExecutionLogsRead)),
        )
}

fn execution_id(text: &str) -> Result<ExecutionId, ApiError> {
    ExecutionId::parse(text).map_err(|error| ApiError::bad_request(error.to_string()))
}

/// Talend's inclusive `startTime`/`endTime` as a half-open range.
fn inclusive_range(start: Option<UtcTime>, end: Option<UtcTime>) -> TimeRange {
    TimeRange {
        from: start,
        to: end.and_then(|end| UtcTime::from_unix_millis(end.unix_millis().saturating_add(1))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    count: Option<u64>,
    start_index: Option<u64>,
    /// `ASC` or `DESC` (the default), any case.
    order: Option<SortOrder>,
    start_time: Option<UtcTime>,
    end_time: Option<UtcTime>,
}

/// A line as Talend shows it (`severity`, `logType`, `logTimestamp`, `logMessage`), with
/// pipelog's own fields beside.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TalendLogView {
    severity: &'static str,
    log_type: MessageType,
    /// `createdAt`, in milliseconds since the epoch.
    log_timestamp: i64,
    log_message: LogMessage,
    id: LogEntryId,
    execution_id: ExecutionId,
    seq: u64,
    created_at: UtcTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<UtcTime>,
    message_type: MessageType,
    #[serde(skip_serializing_if = "Option::is_none")]
    emitter_name: Option<EmitterName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_correlation_id: Option<EventCorrelationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<LogAttributes>,
}

/// Talend writes severities in capitals.
fn talend_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Debug => "DEBUG",
        Severity::Info => "INFO",
        Severity::Warning => "WARNING",
        Severity::Error => "ERROR",
    }
}

impl From<LogEntry> for TalendLogView {
    fn from(entry: LogEntry) -> Self {
        TalendLogView {
            severity: talend_severity(entry.line.severity),
            log_type: entry.line.message_type,
            log_timestamp: entry.created_at.unix_millis(),
            id: entry.id(),
            execution_id: entry.execution_id,
            seq: entry.seq,
            created_at: entry.created_at,
            timestamp: entry.line.timestamp,
            message_type: entry.line.message_type,
            emitter_name: entry.line.emitter_name,
            event_correlation_id: entry.line.event_correlation_id,
            attributes: entry.line.attributes,
            log_message: entry.line.message,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TalendPage {
    size: u64,
    total_size: u64,
    total_size_filtered: u64,
    data: Vec<TalendLogView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_index: Option<u64>,
}

/// `GET /monitoring/executions/{id}/logs`: a page by position, newest first by default.
#[utoipa::path(get, path = "/monitoring/executions/{id}/logs", tag = "Talend execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id."), ReadQuery),
    responses(
        (status = 200, description = "A page by position: `count` lines from `startIndex`, newest first unless `order=ASC`.", body = TalendPage),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn read(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<ReadQuery>,
) -> Result<Json<TalendPage>, ApiError> {
    let id = execution_id(&id)?;
    let limit = PageLimit::new(query.count, DEFAULT_COUNT, MAX_COUNT)
        .map_err(|error| ApiError::invalid("query parameter `count`", error))?;
    let start_index = query.start_index.unwrap_or(0);
    let page = state
        .store
        .read_logs(
            principal.account(),
            id,
            LogQuery {
                order: query.order.unwrap_or(SortOrder::Desc),
                limit,
                resume_after: None,
                skip: start_index,
                severities: SeveritySet::all(),
                created: inclusive_range(query.start_time, query.end_time),
            },
        )
        .await?;
    let size = page.entries.items.len() as u64;
    let following = start_index.saturating_add(size);
    Ok(Json(TalendPage {
        size,
        total_size: page.execution.stored_lines(),
        total_size_filtered: page.selected,
        next_index: (following < page.selected).then_some(following),
        data: page
            .entries
            .items
            .into_iter()
            .map(TalendLogView::from)
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeletedView {
    execution_id: ExecutionId,
    /// The lines that were stored and are now gone.
    deleted: u64,
}

/// `DELETE /monitoring/executions/{id}/logs`: gone for readers at once, rows removed in
/// the background; 200 whether or not there was anything.
#[utoipa::path(delete, path = "/monitoring/executions/{id}/logs", tag = "Talend execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id.")),
    responses(
        (status = 200, description = "Deleted: gone for readers at once.", body = DeletedView),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
) -> Result<Json<DeletedView>, ApiError> {
    let id = execution_id(&id)?;
    let deleted = state
        .store
        .delete_logs(principal.account(), id, Some(principal.key().id))
        .await?;
    state.maintenance.purge_soon();
    tracing::info!(execution_id = %id, lines = deleted.deleted, "execution logs deleted");
    Ok(Json(DeletedView {
        execution_id: id,
        deleted: deleted.deleted,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// `json` (the default) or `text`, any case.
    file_format: Option<ExportFormat>,
    start_time: Option<UtcTime>,
    end_time: Option<UtcTime>,
    new_file_name: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ExportStarted {
    /// Lines the file will hold.
    size: u64,
    token: ExportToken,
}

/// `POST /monitoring/executions/{id}/logs`: starts building the file and answers at once.
#[utoipa::path(post, path = "/monitoring/executions/{id}/logs", tag = "Talend execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id."), ExportQuery),
    responses(
        (status = 200, description = "The export is being built; poll its status with the token.", body = ExportStarted),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn export(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    QueryParams(query): QueryParams<ExportQuery>,
) -> Result<Json<ExportStarted>, ApiError> {
    let id = execution_id(&id)?;
    let job = state
        .store
        .create_export(
            principal.account(),
            id,
            NewExport {
                format: query.file_format.unwrap_or(ExportFormat::Json),
                created: inclusive_range(query.start_time, query.end_time),
                name_with_job: query.new_file_name.unwrap_or(false),
                // Kept until the last link handed out for it has expired.
                keep_for: state.config.export_lifetime.saturating_mul(2),
            },
        )
        .await?;
    state.maintenance.build_soon();
    Ok(Json(ExportStarted {
        size: job.lines(),
        token: job.token,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExportStatusView {
    status: ExportStatus,
    #[serde(rename = "presignedURL", skip_serializing_if = "Option::is_none")]
    presigned_url: Option<String>,
}

/// The token in a status request: the body as text (seed 003), or as a JSON string
/// (Talend's document).
fn token_from_body(bytes: &[u8]) -> Result<ExportToken, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::invalid("body", "expected the export token as text"))?
        .trim();
    let token = if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|_| {
            ApiError::invalid("body", "expected the export token as text or a JSON string")
        })?
    } else {
        text.to_owned()
    };
    ExportToken::parse(&token).ok_or_else(|| {
        ApiError::invalid(
            "body",
            "expected the token `POST /monitoring/executions/{id}/logs` answered",
        )
    })
}

/// `POST /monitoring/executions/{id}/logs/status`: where the export stands, and its link
/// once ready.
#[utoipa::path(post, path = "/monitoring/executions/{id}/logs/status", tag = "Talend execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id.")),
    request_body(description = "The export's token, as text or as a JSON string.", content(
        (String = "text/plain"),
        (String = "application/json"),
    )),
    responses(
        (status = 200, description = "Where the export stands; `presignedURL` once it is READY.", body = ExportStatusView),
        (status = 404, description = "No such export, or its token has expired.", body = ErrorResponse),
    ))]
pub(crate) async fn status(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    headers: HeaderMap,
    request: Request,
) -> Result<Json<ExportStatusView>, ApiError> {
    let id = execution_id(&id)?;
    let bytes = body_bytes(request, &state).await?;
    let token = token_from_body(&bytes)?;
    let not_found = || ApiError::NotFound("export not found, or its token has expired".into());
    let job = match state.store.export(Some(principal.account()), token).await {
        Ok(job) => job,
        Err(pipelog_store::StoreError::NotFound { .. }) => return Err(not_found()),
        Err(error) => return Err(error.into()),
    };
    let token_expires = job
        .created_at
        .unix_millis()
        .saturating_add(millis(state.config.export_lifetime));
    if job.execution_id != id || UtcTime::now().unix_millis() >= token_expires {
        return Err(not_found());
    }
    let presigned_url = (job.status == ExportStatus::Ready)
        .then(|| exports::download_link(&state, &headers, &job, state.config.export_lifetime));
    Ok(Json(ExportStatusView {
        status: job.status,
        presigned_url,
    }))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_as_text_or_as_a_json_string() {
        let token = ExportToken::generate();
        assert_eq!(
            token_from_body(format!("{token}\n").as_bytes()).unwrap(),
            token
        );
        assert_eq!(
            token_from_body(format!("\"{token}\"").as_bytes()).unwrap(),
            token
        );
        assert!(token_from_body(b"\"not a token\"").is_err());
        assert!(token_from_body(b"").is_err());
        assert!(token_from_body(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn talend_end_times_are_inclusive() {
        let at = UtcTime::parse("2026-01-01T00:00:00Z").unwrap();
        let range = inclusive_range(None, Some(at));
        assert!(range.contains(at));
        assert!(!range.contains(UtcTime::from_unix_millis(at.unix_millis() + 1).unwrap()));
    }
}
