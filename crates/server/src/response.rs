//! `Json`, the JSON answer handlers give: serialised into one `Vec` that grows by doubling,
//! rather than axum's `Json`, which writes into a small `BytesMut` a token at a time. A
//! 200-line page is about 100 KB of JSON; axum's way spent a fifth of the page's time in
//! `BytesMut::put_slice` and the copies of its regrowth.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// A JSON answer with status 200 (wrap it in a tuple for another status).
#[derive(Debug)]
pub(crate) struct Json<T>(pub T);

/// Enough for a small answer in one allocation; larger ones grow from it.
const INITIAL_CAPACITY: usize = 1024;

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(INITIAL_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(mime::APPLICATION_JSON.as_ref()),
                )],
                body,
            )
                .into_response(),
            Err(error) => {
                ApiError::Internal(format!("cannot serialise an answer: {error}")).into_response()
            }
        }
    }
}
