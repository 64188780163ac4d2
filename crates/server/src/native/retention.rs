//! How long an account keeps its execution logs: `GET` and `PUT /v1/retention`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pipelog_core::ids::AccountName;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::openapi::ErrorResponse;

use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::response::Json;

/// The longest retention that can be set: a hundred years.
const MAX_DAYS: u32 = 36_500;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/retention",
        get(show)
            .route_layer(requires!(ExecutionLogsRead))
            .merge(axum::routing::put(update).route_layer(requires!(ExecutionLogsDelete))),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AccountQuery {
    /// Another account than the key's own (the operator only).
    account: Option<AccountName>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetentionView {
    /// Days the account keeps; null for the server's default.
    execution_logs_days: Option<u32>,
    /// The server's default; null for forever.
    server_default_days: Option<u32>,
    /// What applies: the account's days, else the server's; null for forever.
    effective_days: Option<u32>,
}

fn view(state: &AppState, days: Option<u32>) -> RetentionView {
    let default = state.config.default_log_retention_days;
    RetentionView {
        execution_logs_days: days,
        server_default_days: default,
        effective_days: days.or(default),
    }
}

#[utoipa::path(get, path = "/v1/retention", tag = "Execution logs",
    params(AccountQuery),
    responses(
        (status = 200, description = "The account's retention.", body = RetentionView),
        (status = 404, description = "No account of that name (the operator only may name another).", body = ErrorResponse),
    ))]
pub(crate) async fn show(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<AccountQuery>,
) -> Result<Json<RetentionView>, ApiError> {
    let account = super::named_account(&state, &principal, query.account.as_ref()).await?;
    let days = state.store.log_retention(account).await?;
    Ok(Json(view(&state, days)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RetentionBody {
    /// Days to keep, 1 to 36,500; null for the server's default.
    execution_logs_days: Option<u32>,
}

#[utoipa::path(put, path = "/v1/retention", tag = "Execution logs",
    params(AccountQuery),
    request_body = RetentionBody,
    responses(
        (status = 200, description = "The account's retention, changed.", body = RetentionView),
        (status = 404, description = "No account of that name (the operator only may name another).", body = ErrorResponse),
    ))]
pub(crate) async fn update(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<AccountQuery>,
    JsonBody(body): JsonBody<RetentionBody>,
) -> Result<Json<RetentionView>, ApiError> {
    if let Some(days) = body.execution_logs_days
        && !(1..=MAX_DAYS).contains(&days)
    {
        return Err(ApiError::invalid(
            "field `executionLogsDays`",
            format!(
                "must be between 1 and {MAX_DAYS}, or null for the server's default; got {days}"
            ),
        ));
    }
    let account = super::named_account(&state, &principal, query.account.as_ref()).await?;
    let days = state
        .store
        .set_log_retention(account, body.execution_logs_days, Some(principal.key().id))
        .await?;
    Ok(Json(view(&state, days)))
}
