//! The console's JavaScript and CSS, compiled into the binary and served at
//! `/console/assets/{file}`, revalidated by ETag on every load (`no-cache`), so a new
//! pipelog never runs with an old script.
//!
//! For work on the console itself, `PIPELOG_CONSOLE_ASSETS_DIR` names a directory to read
//! the same files from at every request instead (`crates/server/console/assets`), so an
//! edit shows on reload without a rebuild.

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/console/assets/",
                $name
            )),
        }
    };
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

const ASSETS: &[Asset] = &[
    asset!("common.js", JAVASCRIPT),
    asset!("viewer.js", JAVASCRIPT),
    asset!("executions.js", JAVASCRIPT),
    asset!("audit.js", JAVASCRIPT),
    asset!("operations.js", JAVASCRIPT),
    asset!("statistics.js", JAVASCRIPT),
    asset!("keys.js", JAVASCRIPT),
    asset!("console.css", CSS),
    asset!("viewer.css", CSS),
];

/// Each asset's ETag, in the order of [`ASSETS`]: a hash of its bytes.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|asset| {
                let digest = Sha256::digest(asset.body);
                let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// The directory `PIPELOG_CONSOLE_ASSETS_DIR` names, read once.
fn development_dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("PIPELOG_CONSOLE_ASSETS_DIR").map(PathBuf::from))
        .as_ref()
}

pub(super) async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.name == file) else {
        return ApiError::NotFound(format!("no console asset {file}")).into_response();
    };
    let asset = &ASSETS[index];
    if let Some(dir) = development_dir() {
        return match tokio::fs::read(dir.join(asset.name)).await {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response(),
            Err(error) => {
                ApiError::Internal(format!("reading {}: {error}", asset.name)).into_response()
            }
        };
    }
    let etag = &etags()[index];
    let cache = [
        (
            header::ETAG,
            HeaderValue::from_str(etag).expect("a hex ETag is a header value"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (
        cache,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}
