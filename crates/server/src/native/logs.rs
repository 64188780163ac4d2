//! An execution's log: `GET /v1/executions/{id}/logs` pages it by cursor, `POST` appends a
//! batch (a JSON array, or NDJSON) all or nothing. `POST /v1/data-factory/logs` appends a
//! batch to the execution a `cid` header names, as the seed's one-line route does.

use std::fmt;
use std::marker::PhantomData;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use pipelog_core::execution::Execution;
use pipelog_core::ids::{Cid, ExecutionId};
use pipelog_core::log_entry::{
    ClientLineId, EmitterName, EventCorrelationId, LogAttributes, LogEntry, LogLine, LogMessage,
    MessageType, Severity,
};
use pipelog_core::paging::{LogQuery, PageLimit, SeveritySet, SortOrder, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::idempotency::RecordedAnswer;
use pipelog_store::{Appended, LogTarget};
use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::cursor::Cursor;
use super::executions::execution_id;
use super::views::{ListView, LogEntryView, Render};
use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{BodyFormat, PathParam, QueryParams, body_bytes, comma_list, parse_json};
use crate::idempotency::{answering, json_answer};
use crate::openapi::ErrorResponse;
use crate::response::Json;

/// The most lines one request may append.
pub(crate) const MAX_BATCH_ENTRIES: usize = 10_000;
/// The largest page a read may ask for.
pub(crate) const MAX_PAGE: u32 = 1000;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/executions/{id}/logs",
            get(read)
                .route_layer(requires!(ExecutionLogsRead))
                .merge(axum::routing::post(append).route_layer(requires!(ExecutionLogsWrite))),
        )
        .route(
            "/v1/data-factory/logs",
            axum::routing::post(append_by_cid).route_layer(requires!(ExecutionLogsWrite)),
        )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReadQuery {
    cursor: Option<String>,
    limit: Option<u64>,
    /// `asc` (oldest first, the default) or `desc`.
    order: Option<SortOrder>,
    /// Comma-separated severities to keep.
    severity: Option<String>,
    /// Bounds on `createdAt`: `from` inclusive, `to` exclusive.
    from: Option<UtcTime>,
    to: Option<UtcTime>,
    /// Start after the line with this seq, in the reading order (`desc`: before it).
    /// Not with `cursor`.
    #[serde(rename = "afterSeq")]
    #[param(rename = "afterSeq")]
    after_seq: Option<u64>,
    /// Keep the lines whose message contains this text, ignoring case (1 to 1,024 bytes).
    /// Looks through at most 20,000 lines per request: a page may come back short with a
    /// `nextCursor` that goes on looking.
    contains: Option<String>,
    /// `html`: every line also carries `messageHtml`, its message as safe HTML.
    render: Option<Render>,
}

/// The longest text `contains` may look for.
const MAX_CONTAINS: usize = 1024;
/// The lines a read with `contains` looks through, at most, per request.
const CONTAINS_SCAN: usize = 20_000;

impl ReadQuery {
    fn into_log_query(self) -> Result<LogQuery, ApiError> {
        let limit = PageLimit::new(self.limit, 100, MAX_PAGE)
            .map_err(|error| ApiError::invalid("query parameter `limit`", error))?;
        let (order, resume_after) = match self.cursor.as_deref().map(Cursor::decode).transpose()? {
            None => (self.order.unwrap_or(SortOrder::Asc), self.after_seq),
            Some(_) if self.after_seq.is_some() => {
                return Err(ApiError::invalid(
                    "query parameter `afterSeq`",
                    "give either `afterSeq` or `cursor`, not both",
                ));
            }
            Some(Cursor::Log { order, after_seq }) => {
                if self.order.is_some_and(|asked| asked != order) {
                    return Err(ApiError::invalid(
                        "query parameter `order`",
                        format!("the cursor continues a page read in `{order}` order"),
                    ));
                }
                (order, Some(after_seq))
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    "query parameter `cursor`",
                    "it belongs to another list",
                ));
            }
        };
        let severities = match &self.severity {
            Some(text) => comma_list("severity", text, Severity::parse)?
                .into_iter()
                .collect(),
            None => SeveritySet::all(),
        };
        Ok(LogQuery {
            order,
            limit,
            resume_after,
            skip: 0,
            severities,
            created: TimeRange {
                from: self.from,
                to: self.to,
            },
        })
    }
}

/// What `contains` looks for, folded to lower case; refused when empty or too long.
fn contains_needle(contains: Option<String>) -> Result<Option<String>, ApiError> {
    match contains {
        None => Ok(None),
        Some(text) if text.is_empty() || text.len() > MAX_CONTAINS => Err(ApiError::invalid(
            "query parameter `contains`",
            format!(
                "expected 1 to {MAX_CONTAINS} bytes of text, got {}",
                text.len()
            ),
        )),
        Some(text) => Ok(Some(text.to_lowercase())),
    }
}

#[utoipa::path(get, path = "/v1/executions/{id}/logs", tag = "Execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id."), ReadQuery),
    responses(
        (status = 200, description = "A page of lines; `nextCursor` continues it.", body = ListView<LogEntryView>),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn read(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    QueryParams(mut query): QueryParams<ReadQuery>,
) -> Result<Json<ListView<LogEntryView>>, ApiError> {
    let id = execution_id(&id)?;
    let render = query.render.unwrap_or_default();
    let needle = contains_needle(query.contains.take())?;
    let query = query.into_log_query()?;
    let order = query.order;
    let (execution, entries, resume_after) = match needle {
        None => {
            let page = state
                .store
                .read_logs(principal.account(), id, query)
                .await?;
            let resume = page
                .entries
                .has_more
                .then(|| page.entries.items.last().map(|entry| entry.seq))
                .flatten();
            (page.execution, page.entries.items, resume)
        }
        Some(needle) => read_containing(&state, &principal, id, query, &needle).await?,
    };
    let next_cursor = resume_after.map(|after_seq| Cursor::Log { order, after_seq }.encode());
    Ok(Json(ListView {
        data: entries
            .into_iter()
            .map(|entry| LogEntryView::new(entry, &execution).rendered(render))
            .collect(),
        next_cursor,
    }))
}

/// A page of the lines whose message contains `needle` (lower case): reads the log a chunk
/// at a time until the page is full, the log ends, or [`CONTAINS_SCAN`] lines were looked
/// through. Answers the lines and where to resume (after the last line looked at), if
/// anything is left to look through.
async fn read_containing(
    state: &AppState,
    principal: &Principal,
    id: ExecutionId,
    query: LogQuery,
    needle: &str,
) -> Result<(Execution, Vec<LogEntry>, Option<u64>), ApiError> {
    let wanted = query.limit.get() as usize;
    let mut found = Vec::new();
    let mut scanned = 0;
    let mut position = query.resume_after;
    let chunk = LogQuery {
        limit: PageLimit::new(None, MAX_PAGE, MAX_PAGE).expect("the default fits"),
        ..query
    };
    loop {
        let page = state
            .store
            .read_logs(
                principal.account(),
                id,
                LogQuery {
                    resume_after: position,
                    ..chunk.clone()
                },
            )
            .await?;
        let count = page.entries.items.len();
        for (index, entry) in page.entries.items.into_iter().enumerate() {
            scanned += 1;
            position = Some(entry.seq);
            let matches = entry.line.message.as_str().to_lowercase().contains(needle);
            if matches {
                found.push(entry);
            }
            let more_here = index + 1 < count || page.entries.has_more;
            if found.len() == wanted || scanned >= CONTAINS_SCAN {
                return Ok((
                    page.execution,
                    found,
                    if more_here { position } else { None },
                ));
            }
        }
        if !page.entries.has_more {
            return Ok((page.execution, found, None));
        }
    }
}

/// One line of a batch. Only `message` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogLineBody {
    message: LogMessage,
    severity: Option<Severity>,
    message_type: Option<MessageType>,
    emitter_name: Option<EmitterName>,
    event_correlation_id: Option<EventCorrelationId>,
    timestamp: Option<UtcTime>,
    #[serde(default, deserialize_with = "LogAttributes::deserialize_optional")]
    attributes: Option<LogAttributes>,
    /// The writer's id for the line: a line whose id the execution already holds is not
    /// written again (a resent line after a failure).
    client_id: Option<ClientLineId>,
}

impl From<LogLineBody> for LogLine {
    fn from(body: LogLineBody) -> Self {
        LogLine {
            message: body.message,
            severity: body.severity.unwrap_or(Severity::Info),
            message_type: body.message_type.unwrap_or(MessageType::Default),
            emitter_name: body.emitter_name,
            event_correlation_id: body.event_correlation_id,
            timestamp: body.timestamp,
            attributes: body.attributes,
            client_id: body.client_id,
        }
    }
}

/// A JSON array of at most `MAX_BATCH_ENTRIES` items, refused as soon as it holds more.
#[derive(Debug)]
struct Batch<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BatchVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for BatchVisitor<T> {
            type Value = Batch<T>;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    formatter,
                    "an array of at most {MAX_BATCH_ENTRIES} log entries"
                )
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    if items.len() == MAX_BATCH_ENTRIES {
                        return Err(serde::de::Error::custom(too_many()));
                    }
                    items.push(item);
                }
                Ok(Batch(items))
            }
        }

        deserializer.deserialize_seq(BatchVisitor(PhantomData))
    }
}

fn too_many() -> String {
    format!("a request appends at most {MAX_BATCH_ENTRIES} entries; split the batch")
}

/// Parses NDJSON, one entry per non-blank line, naming the line of any error.
fn parse_json_lines<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, ApiError> {
    let mut items = Vec::new();
    for (index, line) in bytes.split(|byte| *byte == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if items.len() == MAX_BATCH_ENTRIES {
            return Err(ApiError::invalid("body", too_many()));
        }
        items.push(parse_json(line, &format!("body line {}", index + 1))?);
    }
    Ok(items)
}

/// The lines of an append body: a JSON array, or NDJSON.
fn decode_lines(format: BodyFormat, bytes: &[u8]) -> Result<Vec<LogLine>, ApiError> {
    let entries: Vec<LogLineBody> = match format {
        BodyFormat::Json => parse_json::<Batch<LogLineBody>>(bytes, "body")?.0,
        BodyFormat::JsonLines => parse_json_lines(bytes)?,
    };
    Ok(entries.into_iter().map(LogLine::from).collect())
}

/// What `POST /v1/executions/{id}/logs` makes of a body sent as `content_type`, before
/// the store: its lines, or the message of the refusal. Public for the fuzz targets
/// (`fuzz/`), not an API.
#[doc(hidden)]
pub fn decode_append_body(content_type: &str, body: &[u8]) -> Result<Vec<LogLine>, String> {
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(content_type).map_err(|error| error.to_string())?;
    headers.insert(header::CONTENT_TYPE, value);
    let format = BodyFormat::of(&headers).map_err(|error| error.to_string())?;
    decode_lines(format, body).map_err(|error| error.to_string())
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppendedView {
    execution_id: ExecutionId,
    /// The execution's correlation id.
    cid: Cid,
    /// Lines written.
    count: u64,
    /// Lines not written because the execution already held their `clientId`.
    duplicates: u64,
    /// The seqs given to the lines written, first to last; null when none was.
    first_seq: Option<u64>,
    last_seq: Option<u64>,
    created_at: UtcTime,
}

#[utoipa::path(post, path = "/v1/executions/{id}/logs", tag = "Execution logs",
    params(("id" = ExecutionId, Path, description = "The execution's id.")),
    request_body(description = "At most 10,000 lines: a JSON array, or NDJSON (one object per line).", content(
        (Vec<LogLineBody> = "application/json"),
        (String = "application/x-ndjson"),
    )),
    responses(
        (status = 201, description = "Appended, all of them.", body = AppendedView),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
        (status = 409, description = "The execution has ended.", body = ErrorResponse),
        (status = 415, description = "Neither JSON nor NDJSON.", body = ErrorResponse),
    ))]
pub(crate) async fn append(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let id = execution_id(&id)?;
    let format = BodyFormat::of(request.headers())?;
    let bytes = body_bytes(request, &state).await?;
    let lines = decode_lines(format, &bytes)?;
    let appended = state
        .store
        .append_logs(principal.account(), LogTarget::Execution(id), lines);
    Ok(answering(render_appended, appended).await?)
}

/// The batch form of `POST /v1/data-factory/log`: the lines go to the execution the `cid`
/// header names; a cid the account has never seen creates a running execution of the job
/// named like the first line's emitter (`external` without one).
#[utoipa::path(post, path = "/v1/data-factory/logs", tag = "Data Factory",
    params(("cid" = Cid, Header, description = "The execution's correlation id (its input's `eventCorrelationId`).")),
    request_body(description = "At most 10,000 lines: a JSON array, or NDJSON (one object per line).", content(
        (Vec<LogLineBody> = "application/json"),
        (String = "application/x-ndjson"),
    )),
    responses(
        (status = 201, description = "Appended, all of them.", body = AppendedView),
        (status = 409, description = "The execution has ended.", body = ErrorResponse),
        (status = 415, description = "Neither JSON nor NDJSON.", body = ErrorResponse),
    ))]
pub(crate) async fn append_by_cid(
    State(state): State<AppState>,
    principal: Principal,
    request: Request,
) -> Result<Response, ApiError> {
    let cid = crate::data_factory::cid_header(request.headers())?;
    let format = BodyFormat::of(request.headers())?;
    let bytes = body_bytes(request, &state).await?;
    let lines = decode_lines(format, &bytes)?;
    let job_if_new = crate::data_factory::job_if_new(
        lines
            .first()
            .and_then(|line| line.emitter_name.as_ref())
            .map(EmitterName::as_str),
    );
    let target = LogTarget::Cid {
        cid,
        job_if_new,
        launched_by: Some(principal.key().id),
    };
    let appended = state.store.append_logs(principal.account(), target, lines);
    Ok(answering(render_appended, appended).await?)
}

fn render_appended(appended: &Appended) -> RecordedAnswer {
    let last_seq = (appended.count > 0).then(|| appended.first_seq + appended.count - 1);
    let view = AppendedView {
        execution_id: appended.execution_id,
        cid: appended.cid.clone(),
        count: appended.count,
        duplicates: appended.duplicates,
        first_seq: last_seq.map(|_| appended.first_seq),
        last_seq,
        created_at: appended.created_at,
    };
    json_answer(StatusCode::CREATED, &view, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stop_at_the_limit() {
        let ok = format!(
            "[{}]",
            vec![r#"{"message":"m"}"#; MAX_BATCH_ENTRIES].join(",")
        );
        let batch: Batch<LogLineBody> = parse_json(ok.as_bytes(), "body").unwrap();
        assert_eq!(batch.0.len(), MAX_BATCH_ENTRIES);
        let over = format!(
            "[{}]",
            vec![r#"{"message":"m"}"#; MAX_BATCH_ENTRIES + 1].join(",")
        );
        let error = parse_json::<Batch<LogLineBody>>(over.as_bytes(), "body").unwrap_err();
        assert!(
            error.to_string().contains("at most 10000 entries"),
            "{error}"
        );
    }

    #[test]
    fn json_lines_name_the_bad_line() {
        let body = b"{\"message\":\"a\"}\n\n{\"message\":\"b\",\"severity\":\"loud\"}\n";
        let error = parse_json_lines::<LogLineBody>(body).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid body line 3: `severity`: unknown severity `loud`"),
            "{error}"
        );
        let fine =
            parse_json_lines::<LogLineBody>(b"{\"message\":\"a\"}\r\n{\"message\":\"b\"}").unwrap();
        assert_eq!(fine.len(), 2);
    }
}
