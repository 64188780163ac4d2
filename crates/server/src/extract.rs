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
        let Ok(value) = value.to_str() else {
            return Err(ApiError::UnsupportedMediaType(
                "Content-Type holds characters that are not visible ASCII; send application/json"
                    .into(),
            ));
        };
        let media_type = value
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
    // JSON is UTF-8 (RFC 8259). serde_json checks the strings it reads, not those it skips
    // (an unknown field's value), so the whole text is checked first.
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let (valid, _) = bytes.split_at(error.valid_up_to());
        let line_start = valid
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |at| at + 1);
        ApiError::BadRequest {
            message: format!("{what} is not valid JSON: invalid UTF-8"),
            detail: Some(format!(
                "line {} column {}",
                valid.iter().filter(|byte| **byte == b'\n').count() + 1,
                valid.len() - line_start + 1
            )),
        }
    })?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
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
        check_query_is_utf8(query)?;
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

/// Refuses a query string whose names or values are not UTF-8 once percent-decoded
/// (`%FF`), naming the parameter: `form_urlencoded` would quietly make them U+FFFD.
pub(crate) fn check_query_is_utf8(query: &str) -> Result<(), ApiError> {
    let problem = "not valid UTF-8 once percent-decoded";
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = String::from_utf8(percent_decoded(name))
            .map_err(|_| ApiError::invalid("query string", format!("{problem} (a name)")))?;
        if std::str::from_utf8(&percent_decoded(value)).is_err() {
            return Err(ApiError::invalid(
                &format!("query parameter `{name}`"),
                problem,
            ));
        }
    }
    Ok(())
}

/// A query string's name or value as bytes, as `application/x-www-form-urlencoded` reads
/// it: `+` is a space, `%XX` a byte, any other `%` itself.
fn percent_decoded(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .filter(|digits| bytes[at] == b'%' && digits.iter().all(u8::is_ascii_hexdigit))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 16).ok());
        match (bytes[at], hex) {
            (_, Some(byte)) => {
                decoded.push(byte);
                at += 3;
                continue;
            }
            (b'+', None) => decoded.push(b' '),
            (byte, None) => decoded.push(byte),
        }
        at += 1;
    }
    decoded
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
    fn json_must_be_utf8_even_where_it_is_skipped() {
        let (text, detail) = message(
            parse_json::<Entry>(b"{\"message\":\"m\",\n \"other\":\"\xff\"}", "body").unwrap_err(),
        );
        assert_eq!(text, "body is not valid JSON: invalid UTF-8");
        assert_eq!(detail.as_deref(), Some("line 2 column 11"));
    }

    #[test]
    fn query_strings_must_be_utf8_once_decoded() {
        assert_eq!(check_query_is_utf8("a=caf%C3%A9&b=%2B+x&c=100%&d"), Ok(()));
        let (text, _) = message(check_query_is_utf8("a=1&jobKey=caf%E9").unwrap_err());
        assert_eq!(
            text,
            "invalid query parameter `jobKey`: not valid UTF-8 once percent-decoded"
        );
        let (text, _) = message(check_query_is_utf8("%FF=1").unwrap_err());
        assert!(
            text.starts_with("invalid query string: not valid UTF-8"),
            "{text}"
        );
        assert_eq!(percent_decoded("a+b%20c%zz%+1%4"), b"a b c%zz% 1%4");
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
        let mut headers = HeaderMap::new();
        let latin1 = axum::http::HeaderValue::from_bytes(b"application/json\xff").unwrap();
        headers.insert(header::CONTENT_TYPE, latin1);
        assert!(matches!(
            BodyFormat::of(&headers),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }
}
