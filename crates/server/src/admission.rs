//! Admission: bounds on what requests hold in memory: their headers, and the bodies held
//! at once.
//!
//! Headers past [`MAX_HEADER_BYTES`] in all are refused with 431. (The HTTP layer refuses
//! more than 100 headers, or about 400 KiB of them, by itself; but how much it has read
//! when it checks depends on how the bytes arrived, so pipelog sets its own, smaller
//! bound, the same for every request.)
//!
//! The writer's queue bounds the writes waiting to commit, but not the bodies being read
//! and decoded before them: under enough load, many connections each holding a large body
//! would take memory without bound. Every request with a body takes its `Content-Length`
//! (or, without one, `--max-body-bytes`) from a budget of `--max-inflight-bytes` before
//! its body is read, and gives it back when answered. A body that does not fit is not
//! read: 503 with `Retry-After`, at once, rather than a wait that holds the connection.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::AppState;
use crate::error::ApiError;

/// The most bytes of header names and values a request may carry.
pub(crate) const MAX_HEADER_BYTES: usize = 128 * 1024;

/// The budget counts whole KiB: permits are `u32`, and no body is that precise.
const UNIT: usize = 1024;

/// The budget of body bytes in flight.
#[derive(Debug)]
pub(crate) struct Admission {
    budget: Semaphore,
    max_body_bytes: usize,
}

impl Admission {
    pub(crate) fn new(max_inflight_bytes: usize, max_body_bytes: usize) -> Self {
        Admission {
            budget: Semaphore::new(max_inflight_bytes.div_ceil(UNIT)),
            max_body_bytes,
        }
    }

    /// What a request's body will take, in units; `None` when it has no body.
    fn units(&self, request: &Request) -> Option<u32> {
        let headers = request.headers();
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
        let bytes = match declared {
            Some(0) => return None,
            // A larger body is refused with 413 by the body limit; it never holds more.
            Some(bytes) => bytes.min(self.max_body_bytes),
            None if headers.contains_key(header::TRANSFER_ENCODING) => self.max_body_bytes,
            None => return None,
        };
        Some(u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX))
    }
}

/// Middleware: see the module's documentation.
pub(crate) async fn admit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::HeadersTooLarge(format!(
            "the request's headers hold {header_bytes} bytes, more than {MAX_HEADER_BYTES}"
        ))
        .into_response();
    }
    let Some(units) = state.admission.units(&request) else {
        return next.run(request).await;
    };
    match state.admission.budget.try_acquire_many(units) {
        Ok(_held) => next.run(request).await,
        Err(_) => ApiError::Unavailable {
            message: "the server holds as many request bodies as it may (--max-inflight-bytes); retry shortly"
                .into(),
            retry_after_secs: 1,
        }
        .into_response(),
    }
}
