//! The Data Factory log API of seed 000: `POST /v1/data-factory/log`.
//!
//! The `cid` header names the execution the line belongs to. A cid the account has never
//! seen creates a running execution (origin `API`, job keyed by the emitter's name), so an
//! external orchestrator can log without launching through pipelog first.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use pipelog_core::ids::{AccountId, Cid, ExecutionId, JobKey};
use pipelog_core::log_entry::{
    EmitterName, EventCorrelationId, LogEntryId, LogLine, LogMessage, MessageType, Severity,
};
use pipelog_core::time::UtcTime;
use pipelog_store::{Appended, LogTarget};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, parse_json};
use crate::idempotency::{answering, json_answer};
use crate::openapi::ErrorResponse;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/data-factory/log",
        post(create_log).route_layer(requires!(ExecutionLogsWrite)),
    )
}

/// The job an unknown cid's execution is filed under when the emitter has no name.
const UNNAMED_JOB: &str = "external";

/// The seed's request body. `timestamp` is pipelog's addition.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateLogBody {
    message: LogMessage,
    emitter_name: EmitterName,
    event_correlation_id: EventCorrelationId,
    severity: Option<Severity>,
    message_type: Option<MessageType>,
    timestamp: Option<UtcTime>,
}

/// The seed's response object; `seq` and `timestamp` are pipelog's additions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataFactoryLog {
    #[schema(example = "data_factory_log")]
    object: &'static str,
    id: LogEntryId,
    created_at: UtcTime,
    #[schema(example = "LOG")]
    code: &'static str,
    severity: Severity,
    message: LogMessage,
    message_type: MessageType,
    account_id: AccountId,
    cid: Cid,
    event_correlation_id: EventCorrelationId,
    job_instance_id: ExecutionId,
    emitter_name: EmitterName,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<UtcTime>,
}

pub(crate) fn cid_header(headers: &HeaderMap) -> Result<Cid, ApiError> {
    let value = headers.get("cid").ok_or_else(|| {
        ApiError::bad_request(
            "missing header `cid`: the correlation id of the execution (its input's eventCorrelationId)",
        )
    })?;
    let text = value.to_str().map_err(|_| {
        ApiError::invalid("header `cid`", "it may hold only visible ASCII characters")
    })?;
    Cid::parse(text.trim()).map_err(|error| ApiError::invalid("header `cid`", error))
}

/// The job a new cid's execution is a run of: the one keyed like the emitter, or
/// [`UNNAMED_JOB`] when the emitter has no name a job key can be.
pub(crate) fn job_if_new(emitter: Option<&str>) -> JobKey {
    emitter
        .and_then(|name| JobKey::parse(name).ok())
        .unwrap_or_else(|| JobKey::parse(UNNAMED_JOB).expect("`external` is a job key"))
}

/// The line a request writes, with the correlation id of its execution and the job of
/// that execution if it is new.
fn place(headers: &HeaderMap, body: &CreateLogBody) -> Result<(Cid, JobKey, LogLine), ApiError> {
    let cid = cid_header(headers)?;
    let job_if_new = job_if_new(Some(body.emitter_name.as_str()));
    let line = LogLine {
        message: body.message.clone(),
        severity: body.severity.unwrap_or(Severity::Info),
        message_type: body.message_type.unwrap_or(MessageType::Default),
        emitter_name: Some(body.emitter_name.clone()),
        event_correlation_id: Some(body.event_correlation_id.clone()),
        timestamp: body.timestamp,
        attributes: None,
        client_id: None,
    };
    Ok((cid, job_if_new, line))
}

/// What `POST /v1/data-factory/log` makes of a `cid` header and a body, before the store:
/// the execution's correlation id, its job if it is new, and the line; or the message of
/// the refusal. Public for the fuzz targets (`fuzz/`), not an API.
#[doc(hidden)]
pub fn decode_data_factory_log(cid: &[u8], body: &[u8]) -> Result<(Cid, JobKey, LogLine), String> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_bytes(cid).map_err(|error| error.to_string())?;
    headers.insert("cid", value);
    let body: CreateLogBody = parse_json(body, "body").map_err(|error| error.to_string())?;
    place(&headers, &body).map_err(|error| error.to_string())
}

/// Writes one log line to the execution the `cid` header names; a cid the account has never
/// seen creates a running execution of the job named like the emitter.
#[utoipa::path(
    post,
    path = "/v1/data-factory/log",
    tag = "Data Factory",
    params(("cid" = Cid, Header, description = "The execution's correlation id (its input's `eventCorrelationId`).")),
    request_body = CreateLogBody,
    responses(
        (status = 201, description = "The line, as stored.", body = DataFactoryLog),
        (status = 409, description = "The execution has ended.", body = ErrorResponse),
    )
)]
pub(crate) async fn create_log(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateLogBody>,
) -> Result<Response, ApiError> {
    let (cid, job_if_new, line) = place(&headers, &body)?;
    let (severity, message_type) = (line.severity, line.message_type);
    let account = principal.account();
    let appended = state.store.append_logs(
        account,
        LogTarget::Cid {
            cid,
            job_if_new,
            launched_by: Some(principal.key().id),
        },
        vec![line],
    );
    let render = move |appended: &Appended| {
        let log = DataFactoryLog {
            object: "data_factory_log",
            id: LogEntryId {
                execution_id: appended.execution_id,
                seq: appended.first_seq,
            },
            created_at: appended.created_at,
            code: "LOG",
            severity,
            message: body.message.clone(),
            message_type,
            account_id: account,
            cid: appended.cid.clone(),
            event_correlation_id: body.event_correlation_id.clone(),
            job_instance_id: appended.execution_id,
            emitter_name: body.emitter_name.clone(),
            seq: appended.first_seq,
            timestamp: body.timestamp,
        };
        json_answer(StatusCode::CREATED, &log, None)
    };
    Ok(answering(render, appended).await?)
}
