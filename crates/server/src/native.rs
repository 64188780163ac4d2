//! The native API under `/v1`: what the seeds lack. Launching and ending executions,
//! claiming queued ones, bulk ingestion, cursor paging, and key management.

mod cursor;
mod views;
mod keys;
mod executions;
mod logs;

use axum::Router;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(keys::router())
        .merge(executions::router())
        .merge(logs::router())
}
