//! The native API under `/v1`: what the seeds lack. Launching and ending executions,
//! claiming queued ones, bulk ingestion, cursor paging, and key management.

mod cursor;
pub(crate) mod views;
pub(crate) mod keys;
pub(crate) mod executions;
pub(crate) mod logs;
pub(crate) mod tail;
pub(crate) mod retention;
pub(crate) mod operations;

use axum::Router;
use pipelog_core::ids::{AccountId, AccountName};

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;

pub(crate) use logs::MAX_BATCH_ENTRIES;
pub(crate) use tail::Feeds;
pub(crate) use views::ExecutionView;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(keys::router())
        .merge(executions::router())
        .merge(logs::router())
        .merge(tail::router())
        .merge(retention::router())
        .merge(operations::router())
}

/// The account a request names with `?account=`: any, for the operator; the key's own
/// otherwise, any other being "not found". Without a name, the key's own.
async fn named_account(
    state: &AppState,
    principal: &Principal,
    name: Option<&AccountName>,
) -> Result<AccountId, ApiError> {
    let not_found = |name: &AccountName| ApiError::NotFound(format!("account {name} not found"));
    match name {
        None => Ok(principal.account()),
        Some(name) if name == principal.account_name() => Ok(principal.account()),
        Some(name) if principal.is_operator() => state
            .store
            .find_account(name)
            .await?
            .ok_or_else(|| not_found(name)),
        Some(name) => Err(not_found(name)),
    }
}
