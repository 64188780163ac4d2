//! `Idempotency-Key` on every write: a retried request gets the first attempt's answer and
//! writes nothing twice (after Stripe's keys and the IETF draft
//! `draft-ietf-httpapi-idempotency-key-header`).
//!
//! The middleware runs inside authentication, around the route. A first attempt runs its
//! handler in an [`IdempotencyScope`]: the store claims the key in the savepoint of the
//! attempt's first write, and the answer is kept once the handler answered. A retry finds:
//! - the kept answer: answered again, with `Idempotent-Replayed: true`;
//! - a claim with another fingerprint: the key was used for another request, 422;
//! - a claim without an answer: the first attempt is still running, or the server stopped
//!   between committing its writes and keeping its answer; 409, its writes stand;
//! - nothing: no write of an earlier attempt committed; the request runs.
//!
//! A request that wrote nothing (refused, or a failed write) keeps no answer: its retry
//! runs again. Keys belong to the API key that sent them and last 24 hours.
//!
//! Handlers whose answer follows from one write's value answer through [`answering`]:
//! the store then keeps the answer in the write's own savepoint, and no kill can part the
//! two. Other answers are kept here, in a second commit, before they are sent.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pipelog_core::idempotency::{IdempotencyKey, RequestFingerprint};
use pipelog_store::idempotency::{IdempotencyRecord, IdempotencyScope, RecordedAnswer};

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorReport};

pub(crate) static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub(crate) static REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The most of an answer that is kept; writes answer far less.
const MAX_KEPT_ANSWER: usize = 4 * 1024 * 1024;

/// Set by a handler on an answer that must not be answered again (a new key's secret,
/// which is shown once and kept nowhere): a retry gets 409 with this message instead.
#[derive(Clone, Debug)]
pub(crate) struct NotReplayable(pub(crate) String);

/// Middleware: see the module's documentation.
pub(crate) async fn replay_or_run(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let is_write = matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(value) = request.headers().get(&IDEMPOTENCY_KEY).filter(|_| is_write) else {
        return next.run(request).await;
    };
    let key = match value
        .to_str()
        .map_err(|_| "must be printable ASCII".to_owned())
    {
        Ok(text) => IdempotencyKey::parse(text).map_err(|error| error.to_string()),
        Err(problem) => Err(problem),
    };
    let key = match key {
        Ok(key) => key,
        Err(problem) => {
            return ApiError::invalid("header `Idempotency-Key`", problem).into_response();
        }
    };
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, state.config.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => {
            return ApiError::PayloadTooLarge(format!(
                "the request body is larger than {} bytes",
                state.config.max_body_bytes
            ))
            .into_response();
        }
    };
    let path = parts.uri.path_and_query().map_or("", |p| p.as_str());
    let fingerprint = RequestFingerprint::of(parts.method.as_str(), path, &body);
    let account = principal.account();
    let api_key = principal.key().id;
    let found = state
        .store
        .idempotency_record(account, api_key, key.clone())
        .await;
    match found {
        Err(error) => return ApiError::from(error).into_response(),
        Ok(Some(record)) => return answer_again(&key, fingerprint, record),
        Ok(None) => {}
    }
    let scope = IdempotencyScope::new(account, api_key, key, fingerprint);
    let request = Request::from_parts(parts, Body::from(body));
    let response = scope.run(next.run(request)).await;
    if !scope.wrote() || scope.answered() {
        return response;
    }
    keep_answer(&state, &scope, response).await
}

/// A JSON answer as it is kept and sent: `status`, `view` as the body, and a `Location`.
pub(crate) fn json_answer(
    status: StatusCode,
    view: &impl serde::Serialize,
    location: Option<String>,
) -> RecordedAnswer {
    match serde_json::to_vec(view) {
        Ok(body) => RecordedAnswer {
            status: status.as_u16(),
            content_type: Some(mime::APPLICATION_JSON.as_ref().to_owned()),
            location,
            error: None,
            body,
        },
        Err(error) => internal_answer(&format!("cannot serialise an answer: {error}")),
    }
}

/// The answer to a fault of pipelog's: logged here, 500 without details to the client.
pub(crate) fn internal_answer(problem: &str) -> RecordedAnswer {
    tracing::error!(problem, "an answer could not be made");
    RecordedAnswer {
        status: StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
        content_type: None,
        location: None,
        error: Some("internal error; the server log has the details under this requestId".into()),
        body: Vec::new(),
    }
}

/// Answers with `render` of the value of the handler's write (`write`), and has the store
/// keep that answer in the write's savepoint when the request has an `Idempotency-Key`.
pub(crate) async fn answering<T: 'static, E>(
    render: impl Fn(&T) -> RecordedAnswer + Clone + Send + Sync + 'static,
    write: impl Future<Output = Result<T, E>>,
) -> Result<Response, E> {
    pipelog_store::idempotency::answer_with(render.clone());
    let value = write.await?;
    Ok(respond(render(&value)))
}

/// The response a kept answer makes.
fn respond(answer: RecordedAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = match answer.error {
        Some(message) => {
            let mut response = status.into_response();
            response.extensions_mut().insert(ErrorReport {
                message,
                detail: None,
                internal: None,
            });
            response
        }
        None => (status, answer.body).into_response(),
    };
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    for (name, value) in [
        (header::CONTENT_TYPE, answer.content_type),
        (header::LOCATION, answer.location),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    response
}

/// A retry's answer, from what the first attempt left.
fn answer_again(
    key: &IdempotencyKey,
    fingerprint: RequestFingerprint,
    record: IdempotencyRecord,
) -> Response {
    if record.fingerprint != fingerprint {
        return ApiError::Unprocessable(format!(
            "header `Idempotency-Key`: `{key}` was used for another request (method, path, query or body) in the last 24 hours; use a new key for a new request"
        ))
        .into_response();
    }
    let Some(answer) = record.answer else {
        return ApiError::Conflict(format!(
            "the request with Idempotency-Key `{key}` (first seen {}) is still being answered, or the server stopped before keeping its answer; its writes stand and will not be applied again",
            record.claimed_at
        ))
        .into_response();
    };
    let mut response = respond(answer);
    let headers = response.headers_mut();
    headers.insert(REPLAYED.clone(), HeaderValue::from_static("true"));
    response
}

/// Keeps `response` as the key's answer, then answers it. If it cannot be kept, it is
/// still answered: a retry then gets 409, and the write is never applied twice.
async fn keep_answer(
    state: &AppState,
    scope: &Arc<IdempotencyScope>,
    response: Response,
) -> Response {
    let (mut parts, body) = response.into_parts();
    let text = |headers: &HeaderMap, name| {
        headers
            .get(name)
            .and_then(|value: &HeaderValue| value.to_str().ok())
            .map(str::to_owned)
    };
    let body = match axum::body::to_bytes(body, MAX_KEPT_ANSWER).await {
        Ok(body) => body,
        Err(error) => {
            return ApiError::Internal(format!("reading an answer to keep: {error}"))
                .into_response();
        }
    };
    let refusal = parts.extensions.remove::<NotReplayable>();
    let (status, error, kept) = match (refusal, parts.extensions.get::<ErrorReport>()) {
        (Some(refusal), _) => (StatusCode::CONFLICT, Some(refusal.0), Vec::new()),
        (None, Some(report)) => (parts.status, Some(report.message.clone()), Vec::new()),
        (None, None) => (parts.status, None, body.to_vec()),
    };
    let answer = RecordedAnswer {
        status: status.as_u16(),
        content_type: text(&parts.headers, header::CONTENT_TYPE),
        location: text(&parts.headers, header::LOCATION),
        error,
        body: kept,
    };
    if let Err(error) = state.store.record_idempotent_answer(scope, answer).await {
        tracing::warn!(%error, key = %scope.key, "the answer of an idempotent request was not kept; a retry will get 409");
    }
    Response::from_parts(parts, Body::from(body))
}
