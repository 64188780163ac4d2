//! The operating log (seed 004): `GET|POST /api/v1/OperatingLogs` as the seed defines them,
//! plus what pipelog adds: `POST /api/v1/OperatingLogs/batch` (all or nothing),
//! `GET /api/v1/OperatingLogs/{id}` (where `Location` points), statistics of one operation
//! and of a period (`/v1/operations/.../statistics`), and an operation's Gantt chart
//! (`/v1/operations/{operationId}/gantt`, Mermaid text or SVG).
//!
//! Query parameter names are matched ignoring case (the seed writes both `operationId` and
//! `OperationId`), and so are the field names of a body, as the seed's .NET clients send
//! them either way.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pipelog_core::gantt::GanttChart;
use pipelog_core::ids::{AgentId, OperatingItemId, OperationId, SourceId};
use pipelog_core::operating::{
    ActivityType, AgentCode, Category, ClientItemId, CustomCategoryName, CustomField,
    CustomFieldKey, CustomFieldValue, DetailLine, ItemMessage, NewOperatingItem, OperatingItem,
    OperatingItemDraft, OperationScope, OperationType, ScopeId, SourceName, StatusSeverity,
};
use pipelog_core::operating_stats::{
    AggregateStatistics, ComponentFilter, OperationAnalysis, analyze_operation,
};
use pipelog_core::time::UtcTime;
use pipelog_store::{OperatingQuery, OperationWindow};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, check_query_is_utf8, from_json_value};
use crate::idempotency::{answering, internal_answer, json_answer};
use crate::openapi::ErrorResponse;
use crate::response::Json;

/// Items per page when `limit` is not given, and the most a page may hold.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
pub(crate) const MAX_LIMIT: u32 = 1000;
/// The deepest `offset` a list accepts: offset paging reads past what it skips.
pub(crate) const MAX_OFFSET: u64 = 1_000_000;
/// Items one batch may hold.
pub(crate) const MAX_BATCH: usize = 1000;
/// Items of one operation that its statistics read, and that its chart draws.
pub(crate) const MAX_STATISTICS_ITEMS: usize = 200_000;
pub(crate) const MAX_GANTT_ITEMS: usize = 5_000;
/// Operations one period's statistics may cover.
pub(crate) const MAX_STATISTICS_OPERATIONS: u64 = 1_000_000;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/OperatingLogs",
            get(list)
                .route_layer(requires!(OperatingLogsRead))
                .merge(post(create).route_layer(requires!(OperatingLogsWrite))),
        )
        .route(
            "/api/v1/OperatingLogs/batch",
            post(create_batch).route_layer(requires!(OperatingLogsWrite)),
        )
        .route(
            "/api/v1/OperatingLogs/{id}",
            get(show).route_layer(requires!(OperatingLogsRead)),
        )
        .route(
            "/v1/operations/statistics",
            get(period_statistics).route_layer(requires!(OperatingLogsRead)),
        )
        .route(
            "/v1/operations/{operation_id}/statistics",
            get(operation_statistics).route_layer(requires!(OperatingLogsRead)),
        )
        .route(
            "/v1/operations/{operation_id}/gantt",
            get(gantt).route_layer(requires!(OperatingLogsRead)),
        )
}

/// An item as the seed shows it; fields without a value are left out, as in the seed's
/// sample responses. `agentCode` is pipelog's addition, present when a data agent's key
/// wrote the item.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperatingItemView {
    id: OperatingItemId,
    operation_id: OperationId,
    operation_type: OperationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    activity_type: Option<ActivityType>,
    created_on: UtcTime,
    severity: StatusSeverity,
    system_level: bool,
    category: Category,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<ItemMessage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<DetailLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    custom_fields: Vec<CustomField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<SourceName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<AgentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_code: Option<AgentCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_id: Option<SourceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    publisher_source_id: Option<SourceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    utc_timestamp: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope_id: Option<ScopeId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<ClientItemId>,
}

impl From<OperatingItem> for OperatingItemView {
    fn from(stored: OperatingItem) -> Self {
        let item = stored.item;
        OperatingItemView {
            id: stored.id,
            operation_id: item.operation_id,
            operation_type: item.operation_type,
            activity_type: item.activity_type,
            created_on: stored.created_on,
            severity: item.severity,
            system_level: item.system_level,
            category: item.category,
            message: item.message,
            details: item.details,
            custom_fields: item.custom_fields,
            source: item.source,
            agent_id: item.agent_id,
            agent_code: item.agent_code,
            source_id: item.source_id,
            publisher_source_id: item.publisher_source_id,
            utc_timestamp: item.utc_timestamp,
            scope_id: item.scope_id,
            client_id: item.client_id,
        }
    }
}

/// The seed's list: `{totalCount, items}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperatingListView {
    total_count: u64,
    items: Vec<OperatingItemView>,
}

/// The seed's `OperatingLogModelCreate`. `category` is accepted for `customCategory` (the
/// natural name for a system-level item's category).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateItemBody {
    operation_id: Option<OperationId>,
    operation_type: Option<OperationType>,
    activity_type: Option<ActivityType>,
    severity: Option<StatusSeverity>,
    system_level: Option<bool>,
    #[serde(alias = "category")]
    custom_category: Option<CustomCategoryName>,
    message: Option<ItemMessage>,
    details: Option<Vec<DetailLine>>,
    custom_fields: Option<Vec<CustomFieldBody>>,
    source: Option<SourceName>,
    agent_id: Option<AgentId>,
    source_id: Option<SourceId>,
    publisher_source_id: Option<SourceId>,
    #[serde(default, deserialize_with = "utc_time_assuming_utc")]
    utc_timestamp: Option<UtcTime>,
    scope_id: Option<ScopeId>,
    /// The writer's id for the item, unique in the account: an item whose id was recorded
    /// already is answered as recorded then, and not recorded again.
    client_id: Option<ClientItemId>,
}

/// The body's field names, as the seed spells them: a field sent in another case is
/// renamed to these before parsing.
const BODY_FIELDS: &[&str] = &[
    "operationId",
    "operationType",
    "activityType",
    "severity",
    "systemLevel",
    "customCategory",
    "category",
    "message",
    "details",
    "customFields",
    "source",
    "agentId",
    "sourceId",
    "publisherSourceId",
    "utcTimestamp",
    "scopeId",
    "clientId",
];

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CustomFieldBody {
    key: CustomFieldKey,
    value: CustomFieldValue,
}

fn utc_time_assuming_utc<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<UtcTime>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => UtcTime::parse_assuming_utc(&text)
            .map(Some)
            .map_err(D::Error::custom),
    }
}

impl CreateItemBody {
    fn into_draft(self) -> OperatingItemDraft {
        OperatingItemDraft {
            operation_id: self.operation_id,
            operation_type: self.operation_type,
            activity_type: self.activity_type,
            severity: self.severity,
            system_level: self.system_level,
            custom_category: self.custom_category,
            message: self.message,
            details: self.details.unwrap_or_default(),
            custom_fields: self
                .custom_fields
                .unwrap_or_default()
                .into_iter()
                .map(|field| CustomField {
                    key: field.key,
                    value: field.value,
                })
                .collect(),
            source: self.source,
            agent_id: self.agent_id,
            source_id: self.source_id,
            publisher_source_id: self.publisher_source_id,
            utc_timestamp: self.utc_timestamp,
            scope_id: self.scope_id,
            client_id: self.client_id,
        }
    }
}

/// An item's object with its keys renamed to [`BODY_FIELDS`]' spelling when they match
/// ignoring case; anything but an object is refused here, as serde would read a struct from
/// an array too. `at` is the item's place in a batch (`[3]`) for errors. A key sent twice
/// keeps its last value, as .NET's serializers do (the seed's own sample of a Begin item
/// names `scopeId` twice).
fn item_fields(value: Value, at: &str) -> Result<Value, ApiError> {
    let Value::Object(fields) = value else {
        let place = if at.is_empty() {
            String::new()
        } else {
            format!("`{at}`: ")
        };
        return Err(ApiError::bad_request(format!(
            "invalid body: {place}expected an operating log item (a JSON object)"
        )));
    };
    let renamed = fields
        .into_iter()
        .map(|(name, value)| {
            let canonical = BODY_FIELDS
                .iter()
                .find(|known| known.eq_ignore_ascii_case(&name))
                .map_or(name, |known| (*known).to_owned());
            (canonical, value)
        })
        .collect();
    Ok(Value::Object(renamed))
}

/// Checks one parsed item; `at` is its place in a batch (`[3].`) for errors.
fn checked_item(
    body: CreateItemBody,
    at: &str,
    principal: &Principal,
) -> Result<NewOperatingItem, ApiError> {
    NewOperatingItem::new(body.into_draft(), principal.key().agent.as_ref()).map_err(|error| {
        ApiError::bad_request(format!(
            "invalid body: `{at}{}`: {}",
            error.field, error.problem
        ))
    })
}

/// `POST /api/v1/OperatingLogs`: records one item, answers 201 with it and its `Location`.
#[utoipa::path(post, path = "/api/v1/OperatingLogs", tag = "Operating logs",
    request_body = CreateItemBody,
    responses(
        (status = 201, description = "Recorded; `Location` names it.", body = OperatingItemView,
            headers(("Location" = String, description = "The item's address."))),
    ))]
pub(crate) async fn create(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let body: CreateItemBody = from_json_value(item_fields(value, "")?, "body")?;
    let item = checked_item(body, "", &principal)?;
    let recorded = state
        .store
        .record_operating_items(principal.account(), vec![item]);
    // One item in, one out.
    let render = |recorded: &Vec<OperatingItem>| match recorded.first() {
        Some(item) => json_answer(
            StatusCode::CREATED,
            &OperatingItemView::from(item.clone()),
            Some(format!("/api/v1/OperatingLogs/{}", item.id)),
        ),
        None => internal_answer("recording an item returned nothing"),
    };
    Ok(answering(render, recorded).await?)
}

/// `POST /api/v1/OperatingLogs/batch`: a JSON array of items, recorded all or none, in
/// order; answers 201 with `{items}`.
#[utoipa::path(post, path = "/api/v1/OperatingLogs/batch", tag = "Operating logs",
    request_body(content = Vec<CreateItemBody>, description = "1 to 1,000 items, recorded all or none, in order."),
    responses((status = 201, description = "Recorded.", body = BatchView)))]
pub(crate) async fn create_batch(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Array(values) = value else {
        return Err(ApiError::bad_request(
            "invalid body: expected a JSON array of operating log items",
        ));
    };
    if values.is_empty() || values.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "invalid body: a batch holds 1 to {MAX_BATCH} items, got {}",
            values.len()
        )));
    }
    // Parsed as one array, so that errors name the item's place (`[3].severity`).
    let values = values
        .into_iter()
        .enumerate()
        .map(|(index, value)| item_fields(value, &format!("[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let bodies: Vec<CreateItemBody> = from_json_value(Value::Array(values), "body")?;
    let items = bodies
        .into_iter()
        .enumerate()
        .map(|(index, body)| checked_item(body, &format!("[{index}]."), &principal))
        .collect::<Result<Vec<_>, _>>()?;
    let recorded = state
        .store
        .record_operating_items(principal.account(), items);
    let render = |recorded: &Vec<OperatingItem>| {
        let items = recorded
            .iter()
            .cloned()
            .map(OperatingItemView::from)
            .collect();
        json_answer(StatusCode::CREATED, &BatchView { items }, None)
    };
    Ok(answering(render, recorded).await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchView {
    items: Vec<OperatingItemView>,
}

#[utoipa::path(get, path = "/api/v1/OperatingLogs/{id}", tag = "Operating logs",
    params(("id" = OperatingItemId, Path, description = "The item's id.")),
    responses(
        (status = 200, description = "The item.", body = OperatingItemView),
        (status = 404, description = "No such item in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn show(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
) -> Result<Json<OperatingItemView>, ApiError> {
    let id = OperatingItemId::parse(&id)
        .map_err(|_| ApiError::NotFound("operating log item not found".into()))?;
    let item = state.store.operating_item(principal.account(), id).await?;
    Ok(Json(OperatingItemView::from(item)))
}

/// A query string whose parameter names are matched ignoring case. A parameter given
/// twice is an error; an empty value counts as not given (what .NET binds to null).
struct CaseInsensitiveQuery {
    values: HashMap<String, String>,
}

impl CaseInsensitiveQuery {
    fn of(request_query: Option<&str>) -> Result<Self, ApiError> {
        let query = request_query.unwrap_or("");
        check_query_is_utf8(query)?;
        let mut values = HashMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let key = name.to_ascii_lowercase();
            if values.contains_key(&key) {
                return Err(ApiError::bad_request(format!(
                    "invalid query parameter `{name}`: given more than once"
                )));
            }
            values.insert(key, value.into_owned());
        }
        Ok(CaseInsensitiveQuery { values })
    }

    /// The value of `name` (spelled as the seed spells it), parsed.
    fn get<T, E: std::fmt::Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ApiError> {
        match self.values.get(&name.to_ascii_lowercase()) {
            None => Ok(None),
            Some(value) if value.trim().is_empty() => Ok(None),
            Some(value) => parse(value.trim())
                .map(Some)
                .map_err(|error| ApiError::invalid(&format!("query parameter `{name}`"), error)),
        }
    }

    fn guid<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, pipelog_core::ids::NotAUuid>,
    ) -> Result<Option<T>, ApiError> {
        self.get(name, |text| {
            parse(text).map_err(|_| {
                format!(
                    "expected a GUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6, got `{text}`"
                )
            })
        })
    }

    fn time(&self, name: &str) -> Result<Option<UtcTime>, ApiError> {
        self.get(name, UtcTime::parse_assuming_utc)
    }

    fn number(&self, name: &str, max: u64) -> Result<Option<u64>, ApiError> {
        self.get(name, |text| {
            text.parse::<u64>()
                .ok()
                .filter(|number| *number <= max)
                .ok_or_else(|| format!("expected a whole number from 0 to {max}, got `{text}`"))
        })
    }
}

fn boolean(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("expected true or false, got `{text}`")),
    }
}

/// `GET /api/v1/OperatingLogs`.
#[utoipa::path(get, path = "/api/v1/OperatingLogs", tag = "Operating logs",
    description = "Items in creation order. Parameter names are matched ignoring case; an empty value counts as not given.",
    params(
        ("operationId" = Option<OperationId>, Query, description = "One operation's items."),
        ("operationScope" = Option<OperationScope>, Query, description = "Which side of the operation, and its consumers' feedback."),
        ("includeSystemLevel" = Option<bool>, Query, description = "Include system-level items (false by default)."),
        ("severityLevel" = Option<StatusSeverity>, Query, description = "Items at least this severe."),
        ("agentCode" = Option<AgentCode>, Query),
        ("agentId" = Option<AgentId>, Query),
        ("sourceId" = Option<SourceId>, Query),
        ("createdFrom" = Option<UtcTime>, Query, description = "Inclusive."),
        ("createdTo" = Option<UtcTime>, Query, description = "Inclusive."),
        ("offset" = Option<u64>, Query, description = "Items to skip, at most 1,000,000."),
        ("limit" = Option<u32>, Query, description = "Items to answer, 1 to 1,000; 100 by default."),
    ),
    responses((status = 200, description = "A page, and how many items the query selects.", body = OperatingListView)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    request: Request,
) -> Result<Json<OperatingListView>, ApiError> {
    let query = CaseInsensitiveQuery::of(request.uri().query())?;
    let operation = query.guid("operationId", OperationId::parse)?;
    let scope = query.get("operationScope", OperationScope::parse)?;
    let created_from = query.time("createdFrom")?;
    let created_to = query.time("createdTo")?;
    if let (Some(from), Some(to)) = (created_from, created_to)
        && from > to
    {
        return Err(ApiError::bad_request(format!(
            "invalid query parameter `createdTo`: {to} is before createdFrom {from}"
        )));
    }
    if scope.is_some_and(OperationScope::needs_operation_or_window)
        && operation.is_none()
        && created_from.is_none()
    {
        return Err(ApiError::bad_request(
            "operationScope=ConsumeData needs a time window: give createdFrom (or an operationId)",
        ));
    }
    let limit = query.number("limit", u64::from(MAX_LIMIT))?;
    let selection = OperatingQuery {
        operation,
        scope,
        include_system_level: query.get("includeSystemLevel", boolean)?.unwrap_or(false),
        min_severity: query.get("severityLevel", StatusSeverity::parse)?,
        agent_code: query.get("agentCode", AgentCode::parse)?,
        agent_id: query.guid("agentId", AgentId::parse)?,
        source_id: query.guid("sourceId", SourceId::parse)?,
        created_from,
        created_to,
        offset: query.number("offset", MAX_OFFSET)?.unwrap_or(0),
        limit: limit.map_or(DEFAULT_LIMIT, |limit| {
            u32::try_from(limit).unwrap_or(MAX_LIMIT)
        }),
    };
    let page = state
        .store
        .list_operating_items(principal.account(), selection)
        .await?;
    Ok(Json(OperatingListView {
        total_count: page.total,
        items: page
            .items
            .into_iter()
            .map(OperatingItemView::from)
            .collect(),
    }))
}

fn operation_in_path(text: &str) -> Result<OperationId, ApiError> {
    // Not a UUID: no operation of this caller's has that id.
    OperationId::parse(text).map_err(|_| ApiError::NotFound("operation not found".into()))
}

/// `GET /v1/operations/{operationId}/statistics`.
#[utoipa::path(get, path = "/v1/operations/{operation_id}/statistics", tag = "Operating logs",
    params(("operation_id" = OperationId, Path, description = "The operation's id.")),
    responses(
        (status = 200, description = "The operation's durations and statistics, as docs/operating-logs.md defines them.", body = OperationStatisticsView),
        (status = 404, description = "No such operation in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn operation_statistics(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(operation): PathParam,
) -> Result<Json<OperationStatisticsView>, ApiError> {
    let operation = operation_in_path(&operation)?;
    let timings = state
        .store
        .operation_timings(principal.account(), operation, MAX_STATISTICS_ITEMS + 1)
        .await?;
    if timings.len() > MAX_STATISTICS_ITEMS {
        return Err(ApiError::bad_request(format!(
            "operation {operation} has more than {MAX_STATISTICS_ITEMS} items, more than statistics read"
        )));
    }
    Ok(Json(OperationStatisticsView {
        operation_id: operation,
        analysis: analyze_operation(&timings),
    }))
}

/// One operation's statistics, as docs/operating-logs.md defines them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationStatisticsView {
    operation_id: OperationId,
    #[serde(flatten)]
    analysis: OperationAnalysis,
}

/// A period's statistics, as docs/operating-logs.md defines them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PeriodStatisticsView {
    from: UtcTime,
    to: UtcTime,
    #[serde(flatten)]
    statistics: AggregateStatistics,
}

/// `GET /v1/operations/statistics?from&to[&sourceId][&operationType]`.
#[utoipa::path(get, path = "/v1/operations/statistics", tag = "Operating logs",
    params(
        ("from" = UtcTime, Query, description = "The period's start (inclusive)."),
        ("to" = UtcTime, Query, description = "The period's end (inclusive)."),
        ("sourceId" = Option<SourceId>, Query),
        ("operationType" = Option<OperationType>, Query),
    ),
    responses((status = 200, description = "Aggregates per component over the operations of the period, as docs/operating-logs.md defines them.", body = PeriodStatisticsView)))]
pub(crate) async fn period_statistics(
    State(state): State<AppState>,
    principal: Principal,
    request: Request,
) -> Result<Json<PeriodStatisticsView>, ApiError> {
    let query = CaseInsensitiveQuery::of(request.uri().query())?;
    let required = |name: &str, time: Option<UtcTime>| {
        time.ok_or_else(|| {
            ApiError::bad_request(format!(
                "query parameter `{name}` is required: the period's bounds, as ISO 8601 date-times"
            ))
        })
    };
    let from = required("from", query.time("from")?)?;
    let to = required("to", query.time("to")?)?;
    if from > to {
        return Err(ApiError::bad_request(format!(
            "invalid query parameter `to`: {to} is before from {from}"
        )));
    }
    let filter = ComponentFilter {
        source_id: query.guid("sourceId", SourceId::parse)?,
        operation_type: query.get("operationType", OperationType::parse)?,
    };
    let window = OperationWindow { from, to };
    let operations = state
        .store
        .count_operations(principal.account(), window)
        .await?;
    if operations > MAX_STATISTICS_OPERATIONS {
        return Err(ApiError::bad_request(format!(
            "the period holds {operations} operations, more than the {MAX_STATISTICS_OPERATIONS} statistics cover at once; narrow from and to"
        )));
    }
    let statistics = state
        .store
        .operation_statistics(principal.account(), window, filter)
        .await?;
    Ok(Json(PeriodStatisticsView {
        from,
        to,
        statistics,
    }))
}

/// `GET /v1/operations/{operationId}/gantt[?format=mermaid|svg]`.
#[utoipa::path(get, path = "/v1/operations/{operation_id}/gantt", tag = "Operating logs",
    params(("operation_id" = OperationId, Path, description = "The operation's id."),
        ("format" = Option<String>, Query, description = "`mermaid` (the default) or `svg`.")),
    responses(
        (status = 200, description = "The operation as a Gantt chart.", content(
            (String = "text/vnd.mermaid; charset=utf-8"),
            (String = "image/svg+xml"),
        )),
        (status = 404, description = "No such operation in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn gantt(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(operation): PathParam,
    request: Request,
) -> Result<Response, ApiError> {
    let query = CaseInsensitiveQuery::of(request.uri().query())?;
    let svg = query
        .get("format", |format| {
            match format.to_ascii_lowercase().as_str() {
                "mermaid" => Ok(false),
                "svg" => Ok(true),
                _ => Err(format!("expected mermaid or svg, got `{format}`")),
            }
        })?
        .unwrap_or(false);
    let operation = operation_in_path(&operation)?;
    let items = state
        .store
        .operation_items(principal.account(), operation, MAX_GANTT_ITEMS + 1)
        .await?;
    if items.len() > MAX_GANTT_ITEMS {
        return Err(ApiError::bad_request(format!(
            "operation {operation} has more than {MAX_GANTT_ITEMS} items, more than a chart draws"
        )));
    }
    let chart = GanttChart::build(operation, &items);
    let (content_type, body) = if svg {
        ("image/svg+xml", chart.to_svg())
    } else {
        ("text/vnd.mermaid; charset=utf-8", chart.to_mermaid())
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            // The chart is data, not a page: nothing in it may run or load anything.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        body,
    )
        .into_response())
}
