//! Executions: launch, list, read, start, end, and claim (the custom-task polling flow of
//! seed 000: a worker asks for the next queued run of its job and gets its `cid`).

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pipelog_core::execution::{
    ActionOrigin, Execution, ExecutionStatus, FinalStatus, LaunchExecution,
};
use pipelog_core::ids::{ExecutionId, JobKey};
use pipelog_core::job::{JobSpec, JobTitle, JobType, PipelineId, SystemJobType};
use pipelog_core::paging::{PageLimit, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::ExecutionFilter;
use pipelog_store::idempotency::RecordedAnswer;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::time::Instant;
use utoipa::{IntoParams, ToSchema};

use super::cursor::Cursor;
use super::views::{ExecutionView, ListView};
use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, QueryParams, comma_list};
use crate::idempotency::{answering, json_answer};
use crate::openapi::ErrorResponse;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LaunchBody {
    job_key: JobKey,
    job_title: Option<JobTitle>,
    job_type: Option<JobType>,
    system_job_type: Option<SystemJobType>,
    #[schema(value_type = Option<Vec<Value>>)]
    job_periodicity: Option<Vec<Value>>,
    pipeline_id: Option<PipelineId>,
    action_origin: Option<ActionOrigin>,
    #[schema(value_type = Object)]
    input: Option<Map<String, Value>>,
}

#[utoipa::path(post, path = "/v1/executions", tag = "Executions",
    request_body = LaunchBody,
    responses(
        (status = 201, description = "Queued; `Location` names it.", body = ExecutionView,
            headers(("Location" = String, description = "The execution's address."))),
    ))]
pub(crate) async fn launch(
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
    let render = |execution: &Execution| {
        let location = format!("/v1/executions/{}", execution.id);
        let view = ExecutionView::from(execution.clone());
        json_answer(StatusCode::CREATED, &view, Some(location))
    };
    let launched = state.store.launch_execution(principal.account(), launch);
    Ok(answering(render, launched).await?)
}

/// The answer of a transition: the execution as it now is.
fn transitioned(execution: &Execution) -> RecordedAnswer {
    json_answer(
        StatusCode::OK,
        &ExecutionView::from(execution.clone()),
        None,
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Comma-separated statuses.
    status: Option<String>,
    job_key: Option<JobKey>,
    /// Bounds on `queuedAt`: `from` inclusive, `to` exclusive.
    from: Option<UtcTime>,
    to: Option<UtcTime>,
    cursor: Option<String>,
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/v1/executions", tag = "Executions",
    params(ListQuery),
    responses((status = 200, description = "A page, newest first.", body = ListView<ExecutionView>)))]
pub(crate) async fn list(
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

#[utoipa::path(get, path = "/v1/executions/{id}", tag = "Executions",
    params(("id" = ExecutionId, Path, description = "The execution's id.")),
    responses(
        (status = 200, description = "The execution.", body = ExecutionView),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
    ))]
pub(crate) async fn show(
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

#[utoipa::path(post, path = "/v1/executions/{id}/start", tag = "Executions",
    params(("id" = ExecutionId, Path, description = "The execution's id.")),
    responses(
        (status = 200, description = "Started.", body = ExecutionView),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
        (status = 409, description = "It is not QUEUED.", body = ErrorResponse),
    ))]
pub(crate) async fn start(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
) -> Result<Response, ApiError> {
    let started = state
        .store
        .start_execution(principal.account(), execution_id(&id)?);
    Ok(answering(transitioned, started).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EndBody {
    status: FinalStatus,
}

#[utoipa::path(post, path = "/v1/executions/{id}/end", tag = "Executions",
    params(("id" = ExecutionId, Path, description = "The execution's id.")),
    request_body = EndBody,
    responses(
        (status = 200, description = "Ended.", body = ExecutionView),
        (status = 404, description = "No such execution in the key's account.", body = ErrorResponse),
        (status = 409, description = "It has already ended.", body = ErrorResponse),
    ))]
pub(crate) async fn end(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
    JsonBody(body): JsonBody<EndBody>,
) -> Result<Response, ApiError> {
    let ended = state
        .store
        .end_execution(principal.account(), execution_id(&id)?, body.status);
    Ok(answering(transitioned, ended).await?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClaimBody {
    job_key: JobKey,
    /// How long to wait for a queued execution, 0 to 30 seconds; 0 by default.
    wait_seconds: Option<u64>,
}

/// Hands the oldest queued execution of a job to this caller (200), or 204 when none came
/// within `waitSeconds`.
#[utoipa::path(post, path = "/v1/executions/claim", tag = "Executions",
    request_body = ClaimBody,
    responses(
        (status = 200, description = "The claimed execution, now RUNNING.", body = ExecutionView),
        (status = 204, description = "None was queued within `waitSeconds`."),
    ))]
pub(crate) async fn claim(
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
