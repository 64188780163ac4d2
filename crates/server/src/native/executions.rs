//! Executions: launch, list, read, start, end, and claim (the custom-task polling flow of
//! seed 000: a worker asks for the next queued run of its job and gets its `cid`).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pipelog_core::execution::{ActionOrigin, ExecutionStatus, FinalStatus, LaunchExecution};
use pipelog_core::ids::{ExecutionId, JobKey};
use pipelog_core::job::{JobSpec, JobTitle, JobType, PipelineId, SystemJobType};
use pipelog_core::paging::{PageLimit, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::ExecutionFilter;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::cursor::Cursor;
use super::views::{ExecutionView, ListView};
use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, QueryParams, comma_list};
use crate::response::Json;

/// The longest a claim may wait for a queued execution.
pub(crate) const MAX_CLAIM_WAIT_SECONDS: u64 = 30;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/executions",
            get(list)
                .route_layer(requires!(JobsRead))
                .merge(post(launch).route_layer(requires!(JobsExecute))),
        )
        .route(
            "/v1/executions/claim",
            post(claim).route_layer(requires!(JobsExecute)),
        )
        .route(
            "/v1/executions/{id}",
            get(show).route_layer(requires!(JobsRead)),
        )
        .route(
            "/v1/executions/{id}/start",
            post(start).route_layer(requires!(JobsExecute)),
        )
        .route(
            "/v1/executions/{id}/end",
            post(end).route_layer(requires!(JobsExecute)),
        )
}

/// An execution id from a path: a UUID, or 400 with Talend's wording.
pub(super) fn execution_id(text: &str) -> Result<ExecutionId, ApiError> {
    ExecutionId::parse(text).map_err(|error| ApiError::bad_request(error.to_string()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LaunchBody {
    job_key: JobKey,
    job_title: Option<JobTitle>,
    job_type: Option<JobType>,
    system_job_type: Option<SystemJobType>,
    job_periodicity: Option<Vec<Value>>,
    pipeline_id: Option<PipelineId>,
    action_origin: Option<ActionOrigin>,
    input: Option<Map<String, Value>>,
}

async fn launch(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<LaunchBody>,
) -> Result<Response, ApiError> {
    let launch = LaunchExecution {
        job: JobSpec {
            key: body.job_key,
            title: body.job_title,
            job_type: body.job_type,
            system_job_type: body.system_job_type,
            periodicity: body.job_periodicity,
            pipeline_id: body.pipeline_id,
        },
        action_origin: body.action_origin.unwrap_or(ActionOrigin::Api),
        input: body.input.unwrap_or_default(),
        launched_by: Some(principal.key().id),
    };
    let execution = state
        .store
        .launch_execution(principal.account(), launch)
        .await?;
    let location = HeaderValue::from_str(&format!("/v1/executions/{}", execution.id))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let mut response = (StatusCode::CREATED, Json(ExecutionView::from(execution))).into_response();
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    /// Comma-separated statuses.
    status: Option<String>,
    job_key: Option<JobKey>,
    /// Bounds on `queuedAt`: `from` inclusive, `to` exclusive.
    from: Option<UtcTime>,
    to: Option<UtcTime>,
    cursor: Option<String>,
    limit: Option<u64>,
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ListView<ExecutionView>>, ApiError> {
    let limit = PageLimit::new(query.limit, 50, 1000)
        .map_err(|error| ApiError::invalid("query parameter `limit`", error))?;
    let statuses = match &query.status {
        Some(text) => comma_list("status", text, ExecutionStatus::parse)?,
        None => Vec::new(),
    };
    let after = query.cursor.as_deref().map(Cursor::execution).transpose()?;
    let filter = ExecutionFilter {
        statuses,
        job_key: query.job_key,
        queued: TimeRange {
            from: query.from,
            to: query.to,
        },
    };
    let page = state
        .store
        .list_executions(principal.account(), filter, after, limit)
        .await?;
    let next_cursor = page
        .has_more
        .then(|| {
            page.items
                .last()
                .map(|execution| Cursor::Execution(execution.id).encode())
        })
        .flatten();
    Ok(Json(ListView {
        data: page.items.into_iter().map(ExecutionView::from).collect(),
        next_cursor,
    }))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
) -> Result<Json<ExecutionView>, ApiError> {
    let execution = state
        .store
        .execution(principal.account(), execution_id(&id)?)
        .await?;
    Ok(Json(execution.into()))
}

async fn start(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
) -> Result<Json<ExecutionView>, ApiError> {
    let execution = state
        .store
        .start_execution(principal.account(), execution_id(&id)?)
        .await?;
    Ok(Json(execution.into()))
}

#[derive(Debug, Deserialize)]
struct EndBody {
    status: FinalStatus,
}

async fn end(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<EndBody>,
) -> Result<Json<ExecutionView>, ApiError> {
    let execution = state
        .store
        .end_execution(principal.account(), execution_id(&id)?, body.status)
        .await?;
    Ok(Json(execution.into()))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClaimBody {
    job_key: JobKey,
    /// How long to wait for a queued execution, 0 to 30 seconds; 0 by default.
    wait_seconds: Option<u64>,
}

/// Hands the oldest queued execution of a job to this caller (200), or 204 when none came
/// within `waitSeconds`.
async fn claim(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<ClaimBody>,
) -> Result<Response, ApiError> {
    let wait = body.wait_seconds.unwrap_or(0);
    if wait > MAX_CLAIM_WAIT_SECONDS {
        return Err(ApiError::invalid(
            "field `waitSeconds`",
            format!("must be between 0 and {MAX_CLAIM_WAIT_SECONDS}, got {wait}"),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(wait);
    let mut queued = state.store.queued_executions();
    let mut stopping = state.stopping.clone();
    loop {
        // Mark every launch so far as seen *before* trying, so one that lands between the
        // attempt and the wait still wakes us.
        queued.borrow_and_update();
        if let Some(execution) = state
            .store
            .claim_execution(principal.account(), body.job_key.clone())
            .await?
        {
            return Ok(Json(ExecutionView::from(execution)).into_response());
        }
        tokio::select! {
            changed = queued.changed() => if changed.is_err() { break },
            () = tokio::time::sleep_until(deadline) => break,
            _ = stopping.wait_for(|stopping| *stopping) => break,
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
