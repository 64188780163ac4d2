//! Request extractors whose failures are `ApiError`s that name the field at fault:
//! JSON bodies, query strings and path segments.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// How a body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    /// One JSON document (`application/json`, any `+json`, or no content type at all).
    Json,
    /// Newline-delimited JSON (`application/x-ndjson`, `application/jsonl`, ...).
    JsonLines,
}

impl BodyFormat {
    pub(crate) fn of(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Ok(BodyFormat::Json);
        };
        let media_type = value
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media_type.as_str() {
            "application/json" | "" => Ok(BodyFormat::Json),
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/x-jsonlines"
            | "application/jsonlines" => Ok(BodyFormat::JsonLines),
            other if other.ends_with("+json") => Ok(BodyFormat::Json),
            other => Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type `{other}` is not accepted here; send application/json"
            ))),
        }
    }
}

/// Reads the whole body, up to the server's limit.
pub(crate) async fn body_bytes<S: Send + Sync>(
    request: Request,
    state: &S,
) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(
                    "the request body is larger than this server accepts (see --max-body-bytes)"
                        .into(),
                )
            } else {
                ApiError::bad_request(format!(
                    "cannot read the request body: {}",
                    rejection.body_text()
                ))
            }
        })
}

/// Parses one JSON value; errors say where, and what was expected.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        json_error(what, &path, error.into_inner())
    })?;
    deserializer
        .end()
        .map_err(|error| json_error(what, "", error))?;
    Ok(value)
}

/// Converts a JSON value already parsed into `T`; errors say where, and what was expected.
pub(crate) fn from_json_value<T: DeserializeOwned>(
    value: serde_json::Value,
    what: &str,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        json_error(what, &path, error.into_inner())
    })
}

fn json_error(what: &str, path: &str, error: serde_json::Error) -> ApiError {
    let text = error.to_string();
    // serde_json ends its messages with " at line L column C"; that goes to `detail`.
    let (problem, location) = match text.rfind(" at line ") {
        Some(at) => (&text[..at], Some(text[at + " at ".len()..].to_owned())),
        None => (text.as_str(), None),
    };
    let message = if error.is_syntax() || error.is_eof() {
        format!("{what} is not valid JSON: {problem}")
    } else if path.is_empty() || path == "." {
        format!("invalid {what}: {problem}")
    } else {
        format!("invalid {what}: `{path}`: {problem}")
    };
    ApiError::BadRequest {
        message,
        detail: location,
    }
}

/// A JSON request body parsed into `T`.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if BodyFormat::of(request.headers())? != BodyFormat::Json {
            return Err(ApiError::UnsupportedMediaType(
                "this endpoint takes one JSON document; send application/json".into(),
            ));
        }
        let bytes = body_bytes(request, state).await?;
        parse_json(&bytes, "body").map(JsonBody)
    }
}

/// The query string parsed into `T`. Unknown parameters are ignored.
#[derive(Debug)]
pub(crate) struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|error| {
                let path = error.path().to_string();
                let problem = error.into_inner();
                if path.is_empty() || path == "." {
                    ApiError::invalid("query string", problem)
                } else {
                    ApiError::invalid(&format!("query parameter `{path}`"), problem)
                }
            })
    }
}

/// The one path parameter of a route (`{id}`), undecoded into any type yet.
#[derive(Debug)]
pub(crate) struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| PathParam(value))
            .map_err(|rejection| ApiError::invalid("path", rejection.body_text()))
    }
}

/// Parses a comma-separated query value (`severity=warning,error`) item by item.
pub(crate) fn comma_list<T, E: std::fmt::Display>(
    parameter: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, ApiError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            parse(item).map_err(|error| {
                ApiError::invalid(&format!("query parameter `{parameter}`"), error)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Entry {
        message: String,
        severity: Option<pipelog_core::log_entry::Severity>,
    }

    fn message(error: ApiError) -> (String, Option<String>) {
        match error {
            ApiError::BadRequest { message, detail } => (message, detail),
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn json_errors_name_the_field_and_keep_the_position_apart() {
        let (text, detail) =
            message(parse_json::<Entry>(br#"{"severity":"info"}"#, "body").unwrap_err());
        assert_eq!(text, "invalid body: missing field `message`");
        assert_eq!(detail.as_deref(), Some("line 1 column 19"));

        let (text, _) = message(
            parse_json::<Entry>(br#"{"message":"m","severity":"fatal"}"#, "body").unwrap_err(),
        );
        assert_eq!(
            text,
            "invalid body: `severity`: unknown severity `fatal`, expected one of debug, info, warning, error"
        );

        let (text, _) = message(
            parse_json::<Vec<Entry>>(br#"[{"message":"m"},{"message":3}]"#, "body").unwrap_err(),
        );
        assert!(
            text.starts_with("invalid body: `[1].message`: invalid type: integer `3`"),
            "{text}"
        );

        let (text, _) = message(parse_json::<Entry>(b"{\"message\":", "body").unwrap_err());
        assert!(text.starts_with("body is not valid JSON: EOF"), "{text}");

        let (text, _) =
            message(parse_json::<Entry>(br#"{"message":"m"} trailing"#, "body").unwrap_err());
        assert!(
            text.starts_with("body is not valid JSON: trailing characters"),
            "{text}"
        );
    }

    #[test]
    fn content_types() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            BodyFormat::of(&headers)
        };
        assert_eq!(BodyFormat::of(&HeaderMap::new()), Ok(BodyFormat::Json));
        assert_eq!(
            with("application/json; charset=utf-8"),
            Ok(BodyFormat::Json)
        );
        assert_eq!(with("application/vnd.api+json"), Ok(BodyFormat::Json));
        assert_eq!(with("application/x-ndjson"), Ok(BodyFormat::JsonLines));
        assert!(matches!(
            with("text/csv"),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
