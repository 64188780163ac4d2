//! OpenTelemetry logs at `POST /v1/logs`: OTLP/HTTP exports, protobuf or JSON, gzipped or
//! not, as the OTLP specification says a server takes and answers them.
//!
//! Each log record becomes an execution log line. Its execution is the one whose
//! correlation id is the record's `pipelog.cid` attribute (else its resource's), else its
//! trace id in hex; one seen for the first time is created running, as a run of the job
//! named by `pipelog.job`, else the resource's `service.name`. The severity number (else
//! the severity text) gives the severity, the body the message, and the record's and its
//! resource's attributes, trace and span ids and scope are kept as the line's attributes.
//! A record's `pipelog.client_id` attribute is its line's `clientId`: an exporter that
//! resends records after a failure writes each once.
//! A record that cannot be placed is rejected alone, as a partial success; all the others
//! are committed together before the answer.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::Read;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use pipelog_core::ids::{Cid, JobKey, KeyId};
use pipelog_core::log_entry::{
    ClientLineId, EmitterName, EventCorrelationId, LogAttributes, LogLine, LogMessage, MessageType,
    Severity,
};
use pipelog_core::time::UtcTime;
use pipelog_store::{LogTarget, StoreError};
use prost::Message;
use serde_json::{Map, Number, Value};

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::native::MAX_BATCH_ENTRIES;
use crate::request_context::ProtocolError;

/// The attribute that names a record's execution by its correlation id.
const CID_ATTRIBUTE: &str = "pipelog.cid";
/// The attribute that names the job of an execution a record creates.
const JOB_ATTRIBUTE: &str = "pipelog.job";
/// The record's own id, the line's `clientId`.
const CLIENT_ID_ATTRIBUTE: &str = "pipelog.client_id";
/// The job of an execution a record creates when nothing names one.
const DEFAULT_JOB: &str = "opentelemetry";

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/logs",
        post(export).route_layer(requires!(ExecutionLogsWrite)),
    )
}

/// How the request was encoded; the answer is encoded the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// google.rpc.Status, the body of every OTLP failure.
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC's codes, as OTLP/HTTP failures carry them.
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const INTERNAL: i32 = 13;
const UNAVAILABLE: i32 = 14;

/// An OTLP failure: its HTTP status, a `Status` body in the request's encoding, and the
/// message logged like any failed request.
fn failure(encoding: Encoding, status: StatusCode, message: String) -> Response {
    let code = match status {
        StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
        StatusCode::PAYLOAD_TOO_LARGE => RESOURCE_EXHAUSTED,
        status if status.is_server_error() => INTERNAL,
        _ => INVALID_ARGUMENT,
    };
    let body = match encoding {
        Encoding::Protobuf => Status {
            code,
            message: message.clone(),
        }
        .encode_to_vec(),
        Encoding::Json => {
            serde_json::to_vec(&serde_json::json!({ "code": code, "message": message }))
                .unwrap_or_default()
        }
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response.extensions_mut().insert(ProtocolError { message });
    response
}

fn success(encoding: Encoding, answer: &ExportLogsServiceResponse) -> Response {
    let body = match encoding {
        Encoding::Protobuf => answer.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(answer).unwrap_or_default(),
    };
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(encoding.content_type()),
    );
    response
}

/// Takes an OTLP/HTTP log export; see docs/api.md for how records become lines.
#[utoipa::path(
    post,
    path = "/v1/logs",
    tag = "OpenTelemetry",
    request_body(
        description = "An `ExportLogsServiceRequest`, protobuf or OTLP JSON, gzipped or not (`Content-Encoding: gzip`).",
        content(
            (Vec<u8> = "application/x-protobuf"),
            (Object = "application/json"),
        )
    ),
    responses(
        (status = 200, description = "Every accepted record is committed. An `ExportLogsServiceResponse` in the request's encoding; its `partialSuccess` counts the records rejected, and why.", content(
            (Vec<u8> = "application/x-protobuf"),
            (Object = "application/json"),
        )),
        (status = 400, description = "The body does not decode. A `google.rpc.Status` in the request's encoding.", content(
            (Vec<u8> = "application/x-protobuf"),
            (Object = "application/json"),
        )),
        (status = 413, description = "The body, or the body gunzipped, is too large, or it holds more than 10,000 records. A `google.rpc.Status`.", content(
            (Vec<u8> = "application/x-protobuf"),
            (Object = "application/json"),
        )),
        (status = 415, description = "Another content type or encoding. A `google.rpc.Status`, in JSON.", body = Object),
        (status = 503, description = "The writer's queue is full; nothing was stored. A `google.rpc.Status`.", content(
            (Vec<u8> = "application/x-protobuf"),
            (Object = "application/json"),
        )),
    )
)]
pub(crate) async fn export(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let header_text =
        |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    let content_type = header_text(header::CONTENT_TYPE).unwrap_or("");
    let content_encoding = header_text(header::CONTENT_ENCODING).unwrap_or("identity");
    // A body too large (or cut short) is refused in the protocol's own terms too.
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let encoding = if content_type.contains("protobuf") {
                Encoding::Protobuf
            } else {
                Encoding::Json
            };
            let message = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                "the request body is larger than this server accepts (see --max-body-bytes)"
                    .to_owned()
            } else {
                format!("cannot read the request body: {}", rejection.body_text())
            };
            return failure(encoding, rejection.status(), message);
        }
    };
    let (encoding, request) = match decode_request(
        content_type,
        content_encoding,
        &body,
        state.config.max_body_bytes,
    ) {
        Ok(decoded) => decoded,
        Err(refusal) => return failure(refusal.encoding, refusal.status, refusal.message),
    };
    let (batches, mut rejected) = place_records(&request, Some(principal.key().id));
    let mut rejected_count: i64 = rejected.iter().map(|(count, _)| *count).sum();
    if !batches.is_empty() {
        let sizes: Vec<usize> = batches.iter().map(|(_, lines)| lines.len()).collect();
        let outcomes = match state
            .store
            .append_log_batches(principal.account(), batches)
            .await
        {
            Ok(outcomes) => outcomes,
            Err(error) => {
                let status = match error {
                    StoreError::Overloaded | StoreError::Closed => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                return failure(encoding, status, format!("nothing was stored: {error}"));
            }
        };
        for (outcome, size) in outcomes.into_iter().zip(sizes) {
            if let Err(error) = outcome {
                rejected_count += size as i64;
                rejected.push((size as i64, error.to_string()));
            }
        }
    }
    let partial_success = (rejected_count > 0).then(|| ExportLogsPartialSuccess {
        rejected_log_records: rejected_count,
        error_message: rejection_message(&rejected),
    });
    success(encoding, &ExportLogsServiceResponse { partial_success })
}

/// A body `POST /v1/logs` refuses whole: the status, the message, and the encoding to
/// answer in.
#[derive(Debug)]
struct Refusal {
    encoding: Encoding,
    status: StatusCode,
    message: String,
}

/// Decodes an export body as its `Content-Type` and `Content-Encoding` say, gunzipped
/// within `max_bytes`, holding at most `MAX_BATCH_ENTRIES` records.
fn decode_request(
    content_type: &str,
    content_encoding: &str,
    body: &[u8],
    max_bytes: usize,
) -> Result<(Encoding, ExportLogsServiceRequest), Refusal> {
    let encoding = match content_type.split(';').next().map(str::trim) {
        Some("application/x-protobuf" | "application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        _ => {
            return Err(Refusal {
                encoding: Encoding::Json,
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: format!(
                    "Content-Type must be application/x-protobuf or application/json, got {content_type:?}"
                ),
            });
        }
    };
    let refuse = |status, message| Refusal {
        encoding,
        status,
        message,
    };
    let body = gunzip(content_encoding, body, max_bytes)
        .map_err(|(status, message)| refuse(status, message))?;
    let request = match encoding {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(body.as_ref())
            .map_err(|error| format!("invalid OTLP protobuf: {error}")),
        Encoding::Json => serde_json::from_slice::<ExportLogsServiceRequest>(&body)
            .map_err(|error| format!("invalid OTLP JSON: {error}")),
    }
    .map_err(|message| refuse(StatusCode::BAD_REQUEST, message))?;
    let records: usize = request
        .resource_logs
        .iter()
        .flat_map(|resource| &resource.scope_logs)
        .map(|scope| scope.log_records.len())
        .sum();
    if records > MAX_BATCH_ENTRIES {
        return Err(refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("an export may hold at most {MAX_BATCH_ENTRIES} log records, got {records}"),
        ));
    }
    Ok((encoding, request))
}

/// The body, gunzipped if `content_encoding` says gzip, never larger than `max_bytes`.
fn gunzip<'a>(
    content_encoding: &str,
    body: &'a [u8],
    max_bytes: usize,
) -> Result<Cow<'a, [u8]>, (StatusCode, String)> {
    match content_encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => Ok(Cow::Borrowed(body)),
        "gzip" => {
            let mut unzipped = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(max_bytes as u64 + 1)
                .read_to_end(&mut unzipped)
                .map_err(|error| {
                    (
                        StatusCode::BAD_REQUEST,
                        format!("the gzip body cannot be read: {error}"),
                    )
                })?;
            if unzipped.len() > max_bytes {
                return Err((
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the body is larger than {max_bytes} bytes once gunzipped"),
                ));
            }
            Ok(Cow::Owned(unzipped))
        }
        other => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding must be gzip or none, got {other:?}"),
        )),
    }
}

/// The lines an export's records become, by execution, and the records rejected, by
/// reason.
#[doc(hidden)]
pub type PlacedRecords = (Vec<(LogTarget, Vec<LogLine>)>, Vec<(i64, String)>);

/// What `POST /v1/logs` makes of a body before the store: decoded as `content_type` and
/// `content_encoding` say, each record placed (executions created by no key), or the
/// message of the refusal. Public for the fuzz targets (`fuzz/`), not an API.
#[doc(hidden)]
pub fn decode_export(
    content_type: &str,
    content_encoding: &str,
    body: &[u8],
    max_bytes: usize,
) -> Result<PlacedRecords, String> {
    let (_, request) = decode_request(content_type, content_encoding, body, max_bytes)
        .map_err(|refusal| refusal.message)?;
    Ok(place_records(&request, None))
}

/// At most this many distinct reasons are named in a partial success's message.
const REASONS_NAMED: usize = 5;

fn rejection_message(rejected: &[(i64, String)]) -> String {
    let mut reasons: Vec<String> = Vec::new();
    for (count, reason) in rejected {
        let line = format!("{count} record(s): {reason}");
        if !reasons.contains(&line) && reasons.len() < REASONS_NAMED {
            reasons.push(line);
        }
    }
    reasons.join("; ")
}

/// Where each record goes: batches by execution (records in order within each; an
/// execution created for them is launched by `launched_by`), and the records that cannot
/// go anywhere, counted by reason.
fn place_records(request: &ExportLogsServiceRequest, launched_by: Option<KeyId>) -> PlacedRecords {
    let mut batches: Vec<(LogTarget, Vec<LogLine>)> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut rejected: Vec<(i64, String)> = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = resource_logs
            .resource
            .as_ref()
            .map_or(&[][..], |resource| resource.attributes.as_slice());
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_logs.scope.as_ref();
            for record in &scope_logs.log_records {
                match place(resource, scope, record) {
                    Ok((cid, job, line)) => {
                        let slot = *index
                            .entry((cid.as_str().to_owned(), job.as_str().to_owned()))
                            .or_insert_with(|| {
                                batches.push((
                                    LogTarget::Cid {
                                        cid,
                                        job_if_new: job,
                                        launched_by,
                                    },
                                    Vec::new(),
                                ));
                                batches.len() - 1
                            });
                        batches[slot].1.push(line);
                    }
                    Err(reason) => match rejected.iter_mut().find(|(_, seen)| *seen == reason) {
                        Some((count, _)) => *count += 1,
                        None => rejected.push((1, reason)),
                    },
                }
            }
        }
    }
    (batches, rejected)
}

type Scope = opentelemetry_proto::tonic::common::v1::InstrumentationScope;

/// One record as a line, with the correlation id and job of its execution.
fn place(
    resource: &[KeyValue],
    scope: Option<&Scope>,
    record: &LogRecord,
) -> Result<(Cid, JobKey, LogLine), String> {
    let string_attribute =
        |name: &str| find_string(&record.attributes, name).or_else(|| find_string(resource, name));
    let cid = match string_attribute(CID_ATTRIBUTE) {
        Some(cid) => Cid::parse(cid).map_err(|error| format!("{CID_ATTRIBUTE} {error}"))?,
        None if is_set(&record.trace_id) => {
            Cid::parse(&hex(&record.trace_id)).map_err(|error| format!("trace id {error}"))?
        }
        None => {
            return Err(format!(
                "no {CID_ATTRIBUTE} attribute and no trace id name the record's execution"
            ));
        }
    };
    let service = find_string(resource, "service.name");
    let job = string_attribute(JOB_ATTRIBUTE)
        .or(service)
        .unwrap_or(DEFAULT_JOB);
    let job = JobKey::parse(job).map_err(|error| format!("job {job:?}: {error}"))?;
    let severity = Severity::from_otel_number(record.severity_number)
        .or_else(|| Severity::from_level_name(&record.severity_text))
        .unwrap_or(Severity::Info);
    let message = match record.body.as_ref().and_then(|body| body.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(_) => json_of(record.body.as_ref()).to_string(),
        None => String::new(),
    };
    let message = LogMessage::new(message).map_err(|error| format!("body {error}"))?;
    let scope_name = scope
        .map(|scope| scope.name.as_str())
        .filter(|name| !name.is_empty());
    let emitter_name = scope_name
        .or(service)
        .and_then(|name| EmitterName::parse(name).ok());
    let event_correlation_id = is_set(&record.span_id)
        .then(|| EventCorrelationId::parse(&hex(&record.span_id)).ok())
        .flatten();
    let nanos = if record.time_unix_nano != 0 {
        record.time_unix_nano
    } else {
        record.observed_time_unix_nano
    };
    let timestamp = (nanos != 0)
        .then(|| i64::try_from(nanos / 1_000_000).ok())
        .flatten()
        .and_then(UtcTime::from_unix_millis);
    let attributes = LogAttributes::new(attributes_of(resource, scope, record))
        .map_err(|error| format!("attributes {error}"))?;
    let line = LogLine {
        message,
        severity,
        message_type: MessageType::Default,
        emitter_name,
        event_correlation_id,
        timestamp,
        attributes,
        client_id: find_string(&record.attributes, CLIENT_ID_ATTRIBUTE)
            .map(ClientLineId::parse)
            .transpose()
            .map_err(|error| format!("{CLIENT_ID_ATTRIBUTE} {error}"))?,
    };
    Ok((cid, job, line))
}

/// What a line keeps beside its message: the resource's attributes, then the record's
/// (which win on a clash), trace and span ids, the scope, and the original severity text;
/// the routing attributes are left out.
fn attributes_of(
    resource: &[KeyValue],
    scope: Option<&Scope>,
    record: &LogRecord,
) -> Map<String, Value> {
    let mut attributes = Map::new();
    for pair in resource.iter().chain(&record.attributes) {
        if ![CID_ATTRIBUTE, JOB_ATTRIBUTE, CLIENT_ID_ATTRIBUTE].contains(&pair.key.as_str()) {
            attributes.insert(pair.key.clone(), json_of(pair.value.as_ref()));
        }
    }
    if is_set(&record.trace_id) {
        attributes.insert("trace_id".into(), Value::String(hex(&record.trace_id)));
    }
    if is_set(&record.span_id) {
        attributes.insert("span_id".into(), Value::String(hex(&record.span_id)));
    }
    if let Some(scope) = scope {
        if !scope.name.is_empty() {
            attributes.insert("scope_name".into(), Value::String(scope.name.clone()));
        }
        if !scope.version.is_empty() {
            attributes.insert("scope_version".into(), Value::String(scope.version.clone()));
        }
    }
    if !record.severity_text.is_empty() {
        attributes.insert(
            "severity_text".into(),
            Value::String(record.severity_text.clone()),
        );
    }
    attributes
}

fn find_string<'a>(attributes: &'a [KeyValue], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|pair| pair.key == name)
        .and_then(|pair| match pair.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(text) => Some(text.as_str()),
            _ => None,
        })
}

/// An OTLP value as JSON: bytes as base64, a double that JSON cannot hold as a string.
fn json_of(value: Option<&AnyValue>) -> Value {
    match value.and_then(|value| value.value.as_ref()) {
        None => Value::Null,
        Some(any_value::Value::StringValue(text)) => Value::String(text.clone()),
        Some(any_value::Value::BoolValue(flag)) => Value::Bool(*flag),
        Some(any_value::Value::IntValue(number)) => Value::Number((*number).into()),
        Some(any_value::Value::DoubleValue(number)) => Number::from_f64(*number)
            .map_or_else(|| Value::String(number.to_string()), Value::Number),
        Some(any_value::Value::BytesValue(bytes)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Some(any_value::Value::ArrayValue(array)) => Value::Array(
            array
                .values
                .iter()
                .map(|item| json_of(Some(item)))
                .collect(),
        ),
        // An index into a profile's string table: logs have none to look it up in.
        Some(any_value::Value::StringValueStrindex(_)) => Value::Null,
        Some(any_value::Value::KvlistValue(list)) => Value::Object(
            list.values
                .iter()
                .map(|pair| (pair.key.clone(), json_of(pair.value.as_ref())))
                .collect(),
        ),
    }
}

/// An id is set when it has bytes and they are not all zero.
fn is_set(id: &[u8]) -> bool {
    id.iter().any(|byte| *byte != 0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
