//! `GET /v1/operations`: the account's recent operations, newest first, each with its
//! end-to-end span and worst severity: what the console's operations page lists, and what
//! a client reads to find an operation it has no id for.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use pipelog_core::ids::OperationId;
use pipelog_core::operating::{OperationType, StatusSeverity};
use pipelog_core::paging::{PageLimit, TimeRange};
use pipelog_core::time::UtcTime;
use pipelog_store::{OperationPosition, RecentOperation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::cursor::Cursor;
use super::views::ListView;
use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::openapi::ErrorResponse;
use crate::response::Json;

/// The largest page: each operation on it reads its timing records.
const MAX_PAGE: u32 = 200;

pub(super) fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/operations",
        get(list).route_layer(requires!(OperatingLogsRead)),
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Operations per page: 1 to 200, 50 by default.
    limit: Option<u64>,
    cursor: Option<String>,
    /// Operations whose first item was recorded at or after this instant.
    from: Option<UtcTime>,
    /// ... and before this one.
    to: Option<UtcTime>,
}

/// One operation in the list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RecentOperationView {
    operation_id: OperationId,
    /// The earliest event time of its items.
    first_at: UtcTime,
    /// The latest event time of its items.
    last_at: UtcTime,
    /// `lastAt - firstAt`: the operation end to end, as far as it got.
    duration_ms: i64,
    /// The most serious severity among its items.
    worst_severity: StatusSeverity,
    /// How many items it has (up to 10,000 are read; see `complete`).
    items: usize,
    /// The operation types it has items of.
    operation_types: Vec<OperationType>,
    /// False when the operation has more items than were read for this list.
    complete: bool,
}

impl From<RecentOperation> for RecentOperationView {
    fn from(operation: RecentOperation) -> Self {
        let times = operation.timings.iter().map(|timing| timing.at);
        let first_at = times.clone().min().unwrap_or(operation.first_at);
        let last_at = times.max().unwrap_or(operation.first_at);
        let worst_severity = operation
            .timings
            .iter()
            .map(|timing| timing.severity)
            .max_by_key(|severity| severity.rank())
            .unwrap_or(StatusSeverity::Info);
        let operation_types = OperationType::ALL
            .iter()
            .copied()
            .filter(|kind| {
                operation
                    .timings
                    .iter()
                    .any(|timing| timing.operation_type == *kind)
            })
            .collect();
        RecentOperationView {
            operation_id: operation.operation,
            first_at,
            last_at,
            duration_ms: last_at.unix_millis() - first_at.unix_millis(),
            worst_severity,
            items: operation.timings.len(),
            operation_types,
            complete: operation.complete,
        }
    }
}

/// `GET /v1/operations`.
#[utoipa::path(get, path = "/v1/operations", tag = "Operating logs",
    params(ListQuery),
    responses(
        (status = 200, description = "The account's operations, newest first by their first item; `nextCursor` continues.", body = ListView<RecentOperationView>),
        (status = 400, description = "A bad limit, cursor or time.", body = ErrorResponse),
    ))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<ListView<RecentOperationView>>, ApiError> {
    let limit = PageLimit::new(query.limit, 50, MAX_PAGE)
        .map_err(|error| ApiError::invalid("query parameter `limit`", error))?;
    let before = query.cursor.as_deref().map(Cursor::operation).transpose()?;
    let window = TimeRange {
        from: query.from,
        to: query.to,
    };
    let page = state
        .store
        .recent_operations(principal.account(), window, before, limit)
        .await?;
    let next_cursor = page
        .has_more
        .then(|| page.items.last())
        .flatten()
        .map(|last| {
            Cursor::Operation(OperationPosition {
                first_at: last.first_at,
                operation: last.operation,
            })
            .encode()
        });
    Ok(Json(ListView {
        data: page
            .items
            .into_iter()
            .map(RecentOperationView::from)
            .collect(),
        next_cursor,
    }))
}
