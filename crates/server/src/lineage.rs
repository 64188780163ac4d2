//! OpenLineage run events at `POST /api/v1/lineage`, the path Marquez serves, so that the
//! OpenLineage integrations of Airflow, Spark, dbt and others can point at pipelog.
//!
//! A run is the execution whose correlation id is the run's `runId`; its job is the
//! event's `namespace/name`. `START` and `RUNNING` launch and start it (once), `COMPLETE`,
//! `FAIL` and `ABORT` end it `COMPLETED`, `FAILED` and `TERMINATED`, each step recording
//! its audit entry. Events may come late or twice, as the spec allows: one that would take
//! an ended run back changes nothing. `OTHER` events, and the spec's dataset and job
//! events (which carry no run), are accepted and change nothing.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use pipelog_core::execution::{ActionOrigin, FinalStatus, LaunchExecution};
use pipelog_core::ids::{Cid, JobKey};
use pipelog_core::job::{JobSpec, JobTitle};
use pipelog_store::ReportedRun;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::native::ExecutionView;
use crate::openapi::ErrorResponse;
use crate::response::Json;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/lineage",
        post(receive).route_layer(requires!(JobsExecute)),
    )
}

/// The parts of an OpenLineage event pipelog reads; facets and anything else are ignored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LineageEvent {
    /// START, RUNNING, COMPLETE, FAIL, ABORT or OTHER.
    event_type: Option<String>,
    run: Option<RunRef>,
    job: Option<DatasetRef>,
    #[serde(default)]
    inputs: Vec<DatasetRef>,
    #[serde(default)]
    outputs: Vec<DatasetRef>,
    producer: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RunRef {
    run_id: String,
}

/// A job or a dataset: named by a namespace and a name.
#[derive(Debug, Deserialize, ToSchema)]
struct DatasetRef {
    namespace: String,
    name: String,
}

impl DatasetRef {
    fn to_json(&self) -> Value {
        json!({ "namespace": self.namespace, "name": self.name })
    }
}

/// What an event type says of its run; `None`: nothing (`OTHER`, or no type at all).
fn reported_state(event_type: Option<&str>) -> Result<Option<ReportedRun>, ApiError> {
    Ok(match event_type {
        Some("START" | "RUNNING") => Some(ReportedRun::Running),
        Some("COMPLETE") => Some(ReportedRun::Ended(FinalStatus::Completed)),
        Some("FAIL") => Some(ReportedRun::Ended(FinalStatus::Failed)),
        Some("ABORT") => Some(ReportedRun::Ended(FinalStatus::Terminated)),
        Some("OTHER") | None => None,
        Some(other) => {
            return Err(ApiError::invalid(
                "eventType",
                format!("{other:?} is not one of START, RUNNING, COMPLETE, ABORT, FAIL, OTHER"),
            ));
        }
    })
}

/// 202 and why, for an event that changes no execution.
fn accepted_unchanged(reason: &str) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "recorded": false, "reason": reason })),
    )
        .into_response()
}

/// Takes an OpenLineage event: a run event moves the execution whose cid is its run id.
#[utoipa::path(
    post,
    path = "/api/v1/lineage",
    tag = "OpenLineage",
    request_body(content = LineageEvent, description = "An OpenLineage RunEvent (or a DatasetEvent or JobEvent, accepted and ignored)."),
    responses(
        (status = 201, description = "The event created the run's execution.", body = ExecutionView),
        (status = 200, description = "The run's execution, as the event left it.", body = ExecutionView),
        (status = 202, description = "Accepted; the event changes no run (OTHER, or no run at all).", body = Object),
        (status = 409, description = "The run ended otherwise than the event says.", body = ErrorResponse),
    )
)]
pub(crate) async fn receive(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(event): JsonBody<LineageEvent>,
) -> Result<Response, ApiError> {
    let Some(run) = event.run else {
        return Ok(accepted_unchanged(
            "a dataset or job event: pipelog records run events only",
        ));
    };
    let Some(reported) = reported_state(event.event_type.as_deref())? else {
        return Ok(accepted_unchanged("an OTHER event changes no run"));
    };
    let job = event
        .job
        .ok_or_else(|| ApiError::bad_request("a run event needs its job: {namespace, name}"))?;
    let cid = Cid::parse(&run.run_id).map_err(|error| ApiError::invalid("run.runId", error))?;
    let key = JobKey::parse(&format!("{}/{}", job.namespace, job.name))
        .map_err(|error| ApiError::invalid("job (namespace/name as a job key)", error))?;
    let mut lineage = Map::new();
    lineage.insert("job".into(), job.to_json());
    if let Some(producer) = event.producer {
        lineage.insert("producer".into(), Value::String(producer));
    }
    let datasets =
        |refs: &[DatasetRef]| Value::Array(refs.iter().map(DatasetRef::to_json).collect());
    lineage.insert("inputs".into(), datasets(&event.inputs));
    lineage.insert("outputs".into(), datasets(&event.outputs));
    let mut input = Map::new();
    input.insert("openLineage".into(), Value::Object(lineage));
    let launch = LaunchExecution {
        job: JobSpec {
            // A name too long for a title leaves the job untitled; the key holds it whole.
            title: JobTitle::parse(&job.name).ok(),
            ..JobSpec::with_key(key)
        },
        action_origin: ActionOrigin::Api,
        input,
        launched_by: Some(principal.key().id),
    };
    let tracked = state
        .store
        .report_run(principal.account(), cid, launch, reported)
        .await?;
    let status = if tracked.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(ExecutionView::from(tracked.execution))).into_response())
}
