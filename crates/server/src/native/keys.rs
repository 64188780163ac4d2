//! Key management: `POST /v1/keys`, `GET /v1/keys`, `DELETE /v1/keys/{id}`.
//!
//! The operator key manages every account (and creates accounts by naming them). Any other
//! `KEYS_ADMIN` key manages its own account only, and cannot hand out more than it holds:
//! no permission it lacks, no looser rate limit than its own.

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post};
use pipelog_core::api_key::{ApiKeySecret, KeyName, KeyRole, NewApiKey, RateLimit};
use pipelog_core::ids::{AccountName, AgentId, KeyId, SourceId};
use pipelog_core::operating::{AgentCode, DataAgent};
use pipelog_core::paging::PageLimit;
use pipelog_core::permission::{Permission, PermissionSet};
use pipelog_store::KeyScope;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::cursor::Cursor;
use super::views::{CreatedKeyView, KeyView, ListView};
use crate::AppState;
use crate::auth::{Principal, requires};
use crate::error::ApiError;
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::idempotency::NotReplayable;
use crate::openapi::ErrorResponse;
use crate::response::Json;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/keys", post(create_key).get(list_keys))
        .route("/v1/keys/{id}", delete(revoke_key))
        .route_layer(requires!(KeysAdmin))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateKeyBody {
    /// Defaults to the caller's account.
    account: Option<AccountName>,
    permissions: PermissionSet,
    /// Requests per minute; 0 for none; absent for the server's default.
    rate_limit: Option<u32>,
    name: Option<KeyName>,
    /// The data agent the key stands for, if any.
    agent: Option<AgentBody>,
}

/// `{agentId, agentCode?, sourceId?}`: operating log items written with the key carry these.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct AgentBody {
    agent_id: AgentId,
    agent_code: Option<AgentCode>,
    source_id: Option<SourceId>,
}

/// How many requests per minute a limit allows; `None` for no limit.
fn allowance(limit: RateLimit) -> Option<u32> {
    match limit {
        RateLimit::PerMinute(n) => Some(n.get()),
        RateLimit::Unlimited | RateLimit::ServerDefault => None,
    }
}

#[utoipa::path(post, path = "/v1/keys", tag = "Keys",
    request_body = CreateKeyBody,
    responses(
        (status = 201, description = "The key; `key` is shown this once.", body = CreatedKeyView),
        (status = 409, description = "An equal key exists.", body = ErrorResponse),
    ))]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<CreateKeyBody>,
) -> Result<(StatusCode, Extension<NotReplayable>, Json<CreatedKeyView>), ApiError> {
    let account = body
        .account
        .unwrap_or_else(|| principal.account_name().clone());
    if !principal.is_operator() && &account != principal.account_name() {
        return Err(ApiError::NotFound(format!("account {account} not found")));
    }
    if body.permissions.is_empty() {
        return Err(ApiError::invalid(
            "field `permissions`",
            format!(
                "name at least one of {}",
                Permission::ALL.map(Permission::name).join(", ")
            ),
        ));
    }
    let rate_limit = RateLimit::from_option(body.rate_limit);
    if !principal.is_operator() {
        let missing = body.permissions.minus(principal.key().permissions);
        if !missing.is_empty() {
            return Err(ApiError::Forbidden(format!(
                "a key cannot grant permissions it does not hold: {missing}"
            )));
        }
        let own = state.auth.effective_rate_limit(principal.key());
        let asked = rate_limit.resolve(state.config.default_rate_limit);
        let looser = match (allowance(asked), allowance(own)) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(asked), Some(own)) => asked > own,
        };
        if looser {
            return Err(ApiError::Forbidden(format!(
                "a key cannot grant a looser rate limit than its own ({} per minute)",
                allowance(own).unwrap_or_default()
            )));
        }
    }
    let secret = ApiKeySecret::generate();
    let key = state
        .store
        .create_key(
            NewApiKey {
                account,
                name: body.name,
                hash: secret.hash(),
                permissions: body.permissions,
                rate_limit,
                role: KeyRole::Account,
                agent: body.agent.map(|agent| DataAgent {
                    agent_id: agent.agent_id,
                    agent_code: agent.agent_code,
                    source_id: agent.source_id,
                }),
            },
            Some(principal.key().id),
        )
        .await?;
    tracing::info!(key_id = %key.id, account = %key.account, by = %principal.key().id, "key created");
    // A retry with the same Idempotency-Key must not see the secret: it is kept nowhere.
    let refusal = NotReplayable(format!(
        "the key {} was created by the first request with this Idempotency-Key, and its secret shown only then; if it was lost, revoke that key and create another",
        key.id
    ));
    let created = Json(CreatedKeyView {
        view: KeyView::from(key),
        key: secret.reveal().to_owned(),
    });
    Ok((StatusCode::CREATED, Extension(refusal), created))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListKeysQuery {
    account: Option<AccountName>,
    cursor: Option<String>,
    limit: Option<u64>,
}

/// Whose keys the caller asks for, as a store scope; another account's name is unknown to
/// anyone but the operator.
async fn scope_for(
    state: &AppState,
    principal: &Principal,
    account: Option<&AccountName>,
) -> Result<KeyScope, ApiError> {
    if principal.is_operator() && account.is_none() {
        return Ok(KeyScope::AllAccounts);
    }
    super::named_account(state, principal, account)
        .await
        .map(KeyScope::Account)
}

#[utoipa::path(get, path = "/v1/keys", tag = "Keys",
    params(ListKeysQuery),
    responses(
        (status = 200, description = "A page of keys (never their secrets).", body = ListView<KeyView>),
        (status = 404, description = "No account of that name (the operator only may name another).", body = ErrorResponse),
    ))]
pub(crate) async fn list_keys(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListKeysQuery>,
) -> Result<Json<ListView<KeyView>>, ApiError> {
    let limit = PageLimit::new(query.limit, 100, 1000)
        .map_err(|error| ApiError::invalid("query parameter `limit`", error))?;
    let after = query.cursor.as_deref().map(Cursor::key).transpose()?;
    let scope = scope_for(&state, &principal, query.account.as_ref()).await?;
    let page = state.store.list_keys(scope, after, limit).await?;
    let next_cursor = page
        .has_more
        .then(|| page.items.last().map(|key| Cursor::Key(key.id).encode()))
        .flatten();
    Ok(Json(ListView {
        data: page.items.into_iter().map(KeyView::from).collect(),
        next_cursor,
    }))
}

#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "Keys",
    params(("id" = KeyId, Path, description = "The key's id.")),
    responses(
        (status = 200, description = "Revoked (again, if it was).", body = KeyView),
        (status = 404, description = "No such key in the caller's scope.", body = ErrorResponse),
    ))]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    PathParam(id): PathParam,
) -> Result<Json<KeyView>, ApiError> {
    let id = KeyId::parse(&id).map_err(|error| ApiError::bad_request(error.to_string()))?;
    let scope = scope_for(&state, &principal, None).await?;
    let key = state
        .store
        .revoke_key(scope, id, Some(principal.key().id))
        .await?;
    state.auth.forget(id);
    tracing::info!(key_id = %id, by = %principal.key().id, "key revoked");
    Ok(Json(KeyView::from(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowances_order_limits() {
        assert_eq!(allowance(RateLimit::Unlimited), None);
        assert_eq!(allowance(RateLimit::from_option(Some(10))), Some(10));
    }
}
