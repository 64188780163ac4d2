//! Authentication and permissions: the key a request presents is looked up (through a short
//! cache), rate limited, and put in the request's extensions as its [`Principal`]; each
//! route then names the permission it needs with [`requires!`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pipelog_core::api_key::{ApiKey, ApiKeySecret, KeyHash, KeyRole, RateLimit};
use pipelog_core::ids::{AccountId, AccountName, KeyId};
use pipelog_core::permission::Permission;
use pipelog_store::{Store, StoreError};

use crate::error::ApiError;
use crate::rate_limit::{Decision, RateLimits};
use crate::{AppState, ServerConfig};

/// Past this many cached keys the cache starts over (a bound, not a tuning knob).
const MAX_CACHED_KEYS: usize = 10_000;

/// Finds the key behind a request and applies its rate limit.
#[derive(Debug)]
pub(crate) struct Authenticator {
    store: Arc<dyn Store>,
    ttl: Duration,
    cache: Mutex<HashMap<KeyHash, CachedKey>>,
    limits: RateLimits,
    default_rate_limit: RateLimit,
}

#[derive(Debug)]
struct CachedKey {
    key: Arc<ApiKey>,
    looked_up: Instant,
}

impl Authenticator {
    pub(crate) fn new(store: Arc<dyn Store>, config: &ServerConfig) -> Self {
        Authenticator {
            store,
            ttl: config.key_cache_ttl,
            cache: Mutex::new(HashMap::new()),
            limits: RateLimits::new(config.default_rate_limit),
            default_rate_limit: config.default_rate_limit,
        }
    }

    pub(crate) async fn key_for(
        &self,
        secret: &ApiKeySecret,
    ) -> Result<Option<Arc<ApiKey>>, StoreError> {
        let hash = secret.hash();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(cached) = cache.get(&hash)
                && cached.looked_up.elapsed() < self.ttl
            {
                return Ok(Some(Arc::clone(&cached.key)));
            }
        }
        let Some(key) = self.store.find_key(hash).await? else {
            return Ok(None);
        };
        let key = Arc::new(key);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_KEYS {
            cache.clear();
        }
        cache.insert(
            hash,
            CachedKey {
                key: Arc::clone(&key),
                looked_up: Instant::now(),
            },
        );
        Ok(Some(key))
    }

    /// Drops a key from the cache, so its revocation takes effect at once.
    pub(crate) fn forget(&self, id: KeyId) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, cached| cached.key.id != id);
    }

    /// The rate limit `key` works under, the server's default filled in.
    pub(crate) fn effective_rate_limit(&self, key: &ApiKey) -> RateLimit {
        crate::rate_limit::effective_limit(key, self.default_rate_limit)
    }
}

/// The key a request was made with: who is asking, and what they may do.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    key: Arc<ApiKey>,
}

impl Principal {
    pub(crate) fn key(&self) -> &ApiKey {
        &self.key
    }

    pub(crate) fn account(&self) -> AccountId {
        self.key.account_id
    }

    pub(crate) fn account_name(&self) -> &AccountName {
        &self.key.account
    }

    pub(crate) fn is_operator(&self) -> bool {
        self.key.role == KeyRole::Operator
    }

    pub(crate) fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.key.permissions.contains(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this key lacks the permission {permission}"
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::Internal("a route was served without authentication".into()))
    }
}

/// The key in `X-Api-Key`, or else in `Authorization: Bearer`.
fn presented_key(headers: &HeaderMap) -> Result<ApiKeySecret, ApiError> {
    let invalid = || ApiError::Unauthorized("the API key is not valid".into());
    if let Some(value) = headers.get("x-api-key") {
        let text = value.to_str().map_err(|_| invalid())?;
        return ApiKeySecret::presented(text.trim()).map_err(|_| invalid());
    }
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| invalid())?;
        let token = match text.trim().split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::Unauthorized(
                    "the Authorization header must read `Bearer <key>`".into(),
                ));
            }
        };
        return ApiKeySecret::presented(token).map_err(|_| invalid());
    }
    Err(ApiError::Unauthorized("missing API key".into()))
}

/// The key a request is made with: the one it presents, or else its console session's.
async fn admitted(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Arc<ApiKey>, ApiError> {
    let presents_a_key =
        headers.contains_key("x-api-key") || headers.contains_key(header::AUTHORIZATION);
    #[cfg(feature = "console")]
    if !presents_a_key
        && let Some(key) = crate::console::session::api_key(state, headers, method).await?
    {
        return Ok(Arc::new(key));
    }
    #[cfg(not(feature = "console"))]
    let _ = (presents_a_key, method);
    state
        .auth
        .key_for(&presented_key(headers)?)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("the API key is not valid (unknown or revoked)".into())
        })
}

/// Middleware: authenticates (a key, or a console session) and rate limits, then runs the
/// route with its `Principal`.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let key = match admitted(&state, request.headers(), request.method()).await {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let decision = match state.auth.limits.decide(state.store.as_ref(), &key).await {
        Ok(decision) => decision,
        Err(error) => return ApiError::from(error).into_response(),
    };
    if let Decision::Refused {
        retry_after_secs, ..
    } = decision
    {
        let mut response = ApiError::RateLimited { retry_after_secs }.into_response();
        decision.write_headers(response.headers_mut());
        return response;
    }
    request.extensions_mut().insert(Principal { key });
    let mut response = next.run(request).await;
    decision.write_headers(response.headers_mut());
    response
}

/// Middleware body of [`requires!`]: 403 unless the request's key holds `permission`.
pub(crate) async fn require(permission: Permission, request: Request, next: Next) -> Response {
    let allowed = match request.extensions().get::<Principal>() {
        Some(principal) => principal.require(permission),
        None => Err(ApiError::Internal(
            "a route was served without authentication".into(),
        )),
    };
    match allowed {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// A route layer answering 403 unless the key holds the named permission:
/// `get(list).route_layer(requires!(JobsRead))`.
macro_rules! requires {
    ($permission:ident) => {
        axum::middleware::from_fn(
            |request: axum::extract::Request, next: axum::middleware::Next| {
                $crate::auth::require(
                    pipelog_core::permission::Permission::$permission,
                    request,
                    next,
                )
            },
        )
    };
}
pub(crate) use requires;
