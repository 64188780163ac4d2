//! Console sessions: signing in with a key turns it into a server-side session, and the
//! browser holds only the session's random token, in an HttpOnly, SameSite=Strict cookie
//! (Secure when pipelog serves HTTPS). The key never reaches the cookie, the page or the
//! browser's storage.
//!
//! A request that carries the cookie and no key is served as the session's key (the
//! authentication middleware asks [`api_key`]). A request that changes something must
//! also carry the session's CSRF token in `X-CSRF-Token` (the console's forms: in the
//! `csrf` field); SameSite=Strict already keeps the cookie off other sites' requests, and
//! the token is the second lock. The sign-in form has its own token, in a short-lived
//! cookie of its own (double submit), so no other site can sign a browser in.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pipelog_core::api_key::{ApiKey, ApiKeySecret};
use pipelog_core::console_session::{SESSION_LIFETIME_MS, SessionToken};
use pipelog_core::time::UtcTime;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::html;
use crate::AppState;
use crate::error::ApiError;

/// The cookie holding the session token.
pub(crate) const SESSION_COOKIE: &str = "pipelog_session";
/// The cookie holding the sign-in form's token.
const LOGIN_COOKIE: &str = "pipelog_login";
/// How long a sign-in form stays usable, in seconds.
const LOGIN_FORM_SECS: u32 = 60 * 60;
/// Where a signed-in browser lands by default.
const LANDING: &str = "/console/executions";

/// A signed-in browser: its token and the key it stands for.
#[derive(Debug)]
pub(crate) struct Session {
    pub token: SessionToken,
    pub key: ApiKey,
}

/// The value of the cookie `name`, if the request has one.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(cookie, value)| (cookie == name).then_some(value.trim()))
}

/// The live session the request's cookie names, if any.
pub(crate) async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Session>, ApiError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(value) => live_session(state, value).await,
        None => Ok(None),
    }
}

/// The live session a cookie's value names, if any.
async fn live_session(state: &AppState, value: &str) -> Result<Option<Session>, ApiError> {
    let Ok(token) = SessionToken::presented(value) else {
        return Ok(None);
    };
    let key = state
        .store
        .find_session(token.hash(), UtcTime::now())
        .await?;
    Ok(key.map(|key| Session { token, key }))
}

/// For the API: the key of the session a request without a key header is made in; `None`
/// when it carries no session cookie. A cookie of an ended session is a 401, and a change
/// without the session's CSRF token a 403.
pub(crate) async fn api_key(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<Option<ApiKey>, ApiError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let session = live_session(state, value).await?.ok_or_else(|| {
        ApiError::Unauthorized("the console session has ended: sign in again".into())
    })?;
    if !method.is_safe() {
        let presented = headers
            .get("x-csrf-token")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        if !session.token.csrf_matches(presented) {
            return Err(ApiError::Forbidden(
                "a change made in a console session must carry the session's token in the \
                 `X-CSRF-Token` header"
                    .into(),
            ));
        }
    }
    Ok(Some(session.key))
}

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, Secure over HTTPS.
fn set_cookie(state: &AppState, name: &str, value: &str, path: &str, max_age: u64) -> HeaderValue {
    let secure = if state.config.tls.is_some() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("cookie names and values are ASCII tokens")
}

/// A 303 to `location`, with the given cookies.
fn see_other(location: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, location.to_owned())],
    )
        .into_response();
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// Where to go after signing in: a console page, never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(next)
            if next.starts_with("/console/")
                && !next.contains("//")
                && !next.contains('\\')
                && !next.chars().any(char::is_control) =>
        {
            next
        }
        _ => LANDING,
    }
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    csrf: &'a str,
    next: &'a str,
}

/// The sign-in form, with a fresh form token in its cookie.
fn login_page(
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
    next: Option<&str>,
) -> Response {
    let token = SessionToken::generate();
    let page = LoginPage {
        error,
        csrf: token.expose(),
        next: safe_next(next),
    };
    let mut response = html(status, &page);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            state,
            LOGIN_COOKIE,
            token.expose(),
            "/console/login",
            LOGIN_FORM_SECS.into(),
        ),
    );
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginQuery {
    next: Option<String>,
}

/// `GET /console/login`: the form, or straight on for a browser already signed in.
pub(super) async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    if let Ok(Some(_)) = current(&state, &headers).await {
        return see_other(safe_next(query.next.as_deref()), Vec::new());
    }
    login_page(&state, StatusCode::OK, None, query.next.as_deref())
}

#[derive(Debug, Deserialize)]
struct SignInForm {
    key: String,
    csrf: String,
    next: Option<String>,
}

/// `POST /console/login`: checks the form's token and the key, opens a session.
pub(super) async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<SignInForm>(&body) else {
        return login_page(
            &state,
            StatusCode::BAD_REQUEST,
            Some("The form needs the fields key and csrf."),
            None,
        );
    };
    let next = form.next.as_deref();
    let form_token = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if form_token.is_empty() || !bool::from(form_token.as_bytes().ct_eq(form.csrf.as_bytes())) {
        let error = "This sign-in form has expired or was not sent from pipelog: try again.";
        return login_page(&state, StatusCode::FORBIDDEN, Some(error), next);
    }
    let key = match ApiKeySecret::presented(form.key.trim()) {
        Ok(secret) => state.auth.key_for(&secret).await,
        Err(_) => Ok(None),
    };
    let key = match key {
        Ok(Some(key)) => key,
        Ok(None) => {
            let error = "That key is not valid (unknown or revoked).";
            return login_page(&state, StatusCode::UNAUTHORIZED, Some(error), next);
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let token = SessionToken::generate();
    let expires = UtcTime::from_unix_millis(UtcTime::now().unix_millis() + SESSION_LIFETIME_MS)
        .expect("twelve hours from now is a valid time");
    if let Err(error) = state
        .store
        .create_session(token.hash(), key.id, expires)
        .await
    {
        return ApiError::from(error).into_response();
    }
    let lifetime = u64::try_from(SESSION_LIFETIME_MS / 1000).unwrap_or(0);
    see_other(
        safe_next(next),
        vec![
            set_cookie(&state, SESSION_COOKIE, token.expose(), "/", lifetime),
            set_cookie(&state, LOGIN_COOKIE, "", "/console/login", 0),
        ],
    )
}

#[derive(Debug, Deserialize)]
struct SignOutForm {
    csrf: String,
}

/// `POST /console/logout`: ends the session (with its CSRF token) and clears the cookie.
pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = match current(&state, &headers).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    if let Some(session) = session {
        let csrf = serde_urlencoded::from_bytes::<SignOutForm>(&body)
            .map(|form| form.csrf)
            .unwrap_or_default();
        if !session.token.csrf_matches(&csrf) {
            return ApiError::Forbidden(
                "signing out needs the session's token in the `csrf` field".into(),
            )
            .into_response();
        }
        if let Err(error) = state.store.delete_session(session.token.hash()).await {
            return ApiError::from(error).into_response();
        }
    }
    see_other(
        "/console/login",
        vec![set_cookie(&state, SESSION_COOKIE, "", "/", 0)],
    )
}
