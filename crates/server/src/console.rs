//! The web console at `/console`: server-rendered pages (askama templates, escaped by
//! default) that load the console's own JavaScript and CSS, compiled into the binary.
//! The pages call the same API as every client, with the session's cookie instead of a
//! key (see [`session`]); what a key may not read, the API refuses and the console does
//! not show. Every console response carries a strict Content-Security-Policy: scripts
//! and styles only from pipelog itself, no inline script, no framing.

mod assets;
mod pages;
pub(crate) mod session;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::request_context::ProtocolError;

/// What a console page may load and do. `style-src 'self'` still lets scripts set
/// element styles through the DOM (the log viewer's sizes), but no inline `style` markup.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(home))
        .route("/console/", get(home))
        .route(
            "/console/login",
            get(session::login_form).post(session::sign_in),
        )
        .route("/console/logout", post(session::sign_out))
        .route("/console/executions", get(pages::section::<0>))
        .route("/console/executions/{id}", get(pages::execution))
        .route("/console/audit", get(pages::section::<1>))
        .route("/console/operations", get(pages::section::<2>))
        .route("/console/operations/{operation_id}", get(pages::operation))
        .route("/console/statistics", get(pages::section::<3>))
        .route("/console/keys", get(pages::section::<4>))
        .route("/console/assets/{file}", get(assets::serve))
        .layer(axum::middleware::map_response(protect))
}

async fn home() -> Redirect {
    Redirect::to("/console/executions")
}

/// The headers every console response carries.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A page as an HTML response, or a 500 when the template cannot render.
fn html(status: axum::http::StatusCode, page: &impl askama::Template) -> Response {
    match page.render() {
        Ok(body) => {
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body,
            )
                .into_response();
            if status.is_client_error() {
                // The page says what went wrong; keep it rather than the API's JSON body.
                response.extensions_mut().insert(ProtocolError {
                    message: format!("console page answered {status}"),
                });
            }
            response
        }
        Err(error) => {
            crate::error::ApiError::Internal(format!("a console page failed to render: {error}"))
                .into_response()
        }
    }
}
