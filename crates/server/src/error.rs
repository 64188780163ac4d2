//! `ApiError`: everything a request can fail with, and the only place status codes are
//! chosen. The response carries the error as an extension; `request_context` renders it
//! as `{status, message, requestId, detail?}` and logs it, once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pipelog_store::StoreError;

/// A failed request, as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{message}")]
    BadRequest {
        message: String,
        detail: Option<String>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    /// Well-formed, but cannot be done as asked (an idempotency key reused for another
    /// request).
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("rate limit exceeded: retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// A failure of pipelog itself. The text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            detail: None,
        }
    }

    /// A query parameter, header or field that is present but wrong.
    pub(crate) fn invalid(what: &str, problem: impl std::fmt::Display) -> Self {
        ApiError::bad_request(format!("invalid {what}: {problem}"))
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The error a response carries to `request_context`, which renders and logs it.
#[derive(Debug, Clone)]
pub(crate) struct ErrorReport {
    pub message: String,
    pub detail: Option<String>,
    /// What went wrong inside, for the log only.
    pub internal: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = status.into_response();
        let retry_after = match &self {
            ApiError::RateLimited { retry_after_secs }
            | ApiError::Unavailable {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        let report = match self {
            ApiError::Internal(internal) => ErrorReport {
                message: "internal error; the server log has the details under this requestId"
                    .into(),
                detail: None,
                internal: Some(internal),
            },
            ApiError::Unauthorized(message) => {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                ErrorReport {
                    message,
                    detail: Some(
                        "send an API key as `X-Api-Key: <key>` or `Authorization: Bearer <key>`"
                            .into(),
                    ),
                    internal: None,
                }
            }
            ApiError::BadRequest { message, detail } => ErrorReport {
                message,
                detail,
                internal: None,
            },
            other => ErrorReport {
                message: other.to_string(),
                detail: None,
                internal: None,
            },
        };
        response.extensions_mut().insert(report);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what } => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::InvalidCursor => ApiError::invalid(
                "query parameter `cursor`",
                "it does not point into this list; pass `nextCursor` from the previous page unchanged",
            ),
            StoreError::Overloaded => ApiError::Unavailable {
                message: "the server is taking more writes than it can commit; retry shortly"
                    .into(),
                retry_after_secs: 1,
            },
            StoreError::Closed => ApiError::Unavailable {
                message: "the server is shutting down; retry shortly".into(),
                retry_after_secs: 1,
            },
            StoreError::Backend(internal) => ApiError::Internal(internal),
        }
    }
}
