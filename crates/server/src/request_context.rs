//! The outermost middleware: gives each request an id, renders errors as JSON with that id,
//! and logs each failure once with the request's span.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use tracing::Instrument;

use crate::error::ErrorReport;

pub(crate) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The body of every error response: the seeds' `ErrorResponse`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    status: u16,
    message: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
}

/// Marks an error answer whose body a protocol prescribes (OTLP's `Status`): it is logged
/// like any failure, and its body is kept.
#[derive(Clone, Debug)]
pub(crate) struct ProtocolError {
    pub(crate) message: String,
}

/// Keeps a caller's (or proxy's) request id when it is short and plain; otherwise makes one.
fn request_id_for(request: &Request) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map_or_else(new_request_id, str::to_owned)
}

/// A request id: this process's random prefix and a counter passed through a keyed hash
/// (so that ids do not tell a client how many requests others made), 32 hex digits like a
/// UUID's. It costs no system call, where a random UUID per request asked the kernel for
/// 16 bytes every time.
fn new_request_id() -> String {
    static KEYS: OnceLock<(u64, RandomState)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (prefix, hasher) = KEYS.get_or_init(|| {
        let hasher = RandomState::new();
        (hasher.hash_one(std::process::id()), hasher)
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:016x}{:016x}", hasher.hash_one(count))
}

pub(crate) async fn track(request: Request, next: Next) -> Response {
    let request_id = request_id_for(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status();

    // A protocol's own error body is kept; any other error gets ours.
    let (report, keep_body) = match response.extensions_mut().remove::<ProtocolError>() {
        Some(error) => {
            let report = ErrorReport {
                message: error.message,
                detail: None,
                internal: None,
            };
            (Some(report), true)
        }
        None => (response.extensions_mut().remove::<ErrorReport>(), false),
    };
    let report = match report {
        Some(report) => Some(report),
        // An error answered by a layer below us (axum's own), without our body: give it one.
        None if status.is_client_error() || status.is_server_error() => Some(ErrorReport {
            message: status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_owned(),
            detail: None,
            internal: None,
        }),
        None => None,
    };
    if let Some(report) = report {
        span.in_scope(|| log_failure(status, &report));
        if !keep_body {
            let body = ErrorBody {
                status: status.as_u16(),
                message: &report.message,
                request_id: &request_id,
                detail: report.detail.as_deref(),
            };
            let json = serde_json::to_vec(&body).unwrap_or_default();
            *response.body_mut() = json.into();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response.headers_mut().remove(header::CONTENT_LENGTH);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "answered"
        );
    });
    response
}

fn log_failure(status: StatusCode, report: &ErrorReport) {
    if status.is_server_error() {
        tracing::error!(
            status = status.as_u16(),
            reason = %report.message,
            internal = report.internal.as_deref().unwrap_or(""),
            "request failed"
        );
    } else {
        tracing::debug!(status = status.as_u16(), reason = %report.message, "request refused");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_request_ids_are_32_hex_digits_and_never_repeat() {
        let ids: Vec<String> = (0..1000).map(|_| new_request_id()).collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
        );
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
