//! Opaque paging cursors: what a page hands out as `nextCursor` and takes back as `cursor`.
//!
//! A cursor names the last item of the page it came from, by public id or `seq` only, so it
//! says nothing a client could not already see. Clients must treat it as opaque.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pipelog_core::ids::{ExecutionId, KeyId, OperationId};
use pipelog_core::paging::SortOrder;
use pipelog_core::time::UtcTime;
use pipelog_store::OperationPosition;

use crate::error::ApiError;

/// Where the next page of a list starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cursor {
    /// After `seq`, reading in `order`.
    Log {
        order: SortOrder,
        after_seq: u64,
    },
    Execution(ExecutionId),
    Key(KeyId),
    /// Before this operation, newest first.
    Operation(OperationPosition),
}

impl Cursor {
    pub(crate) fn encode(self) -> String {
        let plain = match self {
            Cursor::Log { order, after_seq } => format!("log:{order}:{after_seq}"),
            Cursor::Execution(id) => format!("execution:{id}"),
            Cursor::Key(id) => format!("key:{id}"),
            Cursor::Operation(position) => format!(
                "operation:{}:{}",
                position.first_at.unix_millis(),
                position.operation
            ),
        };
        URL_SAFE_NO_PAD.encode(plain)
    }

    pub(crate) fn decode(text: &str) -> Result<Cursor, ApiError> {
        let invalid = || {
            ApiError::invalid(
                "query parameter `cursor`",
                "not a cursor this server handed out; pass `nextCursor` from the previous page unchanged",
            )
        };
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).map_err(|_| invalid())?;
        let plain = String::from_utf8(bytes).map_err(|_| invalid())?;
        let mut parts = plain.split(':');
        let cursor = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("log"), Some(order), Some(seq), None) => Cursor::Log {
                order: SortOrder::parse(order).map_err(|_| invalid())?,
                after_seq: seq.parse().map_err(|_| invalid())?,
            },
            (Some("execution"), Some(id), None, None) => {
                Cursor::Execution(ExecutionId::parse(id).map_err(|_| invalid())?)
            }
            (Some("key"), Some(id), None, None) => {
                Cursor::Key(KeyId::parse(id).map_err(|_| invalid())?)
            }
            (Some("operation"), Some(millis), Some(id), None) => {
                Cursor::Operation(OperationPosition {
                    first_at: millis
                        .parse()
                        .ok()
                        .and_then(UtcTime::from_unix_millis)
                        .ok_or_else(invalid)?,
                    operation: OperationId::parse(id).map_err(|_| invalid())?,
                })
            }
            _ => return Err(invalid()),
        };
        Ok(cursor)
    }

    /// The cursor of a list of executions, or 400.
    pub(crate) fn execution(text: &str) -> Result<ExecutionId, ApiError> {
        match Cursor::decode(text)? {
            Cursor::Execution(id) => Ok(id),
            _ => Err(Self::wrong_list()),
        }
    }

    pub(crate) fn key(text: &str) -> Result<KeyId, ApiError> {
        match Cursor::decode(text)? {
            Cursor::Key(id) => Ok(id),
            _ => Err(Self::wrong_list()),
        }
    }

    pub(crate) fn operation(text: &str) -> Result<OperationPosition, ApiError> {
        match Cursor::decode(text)? {
            Cursor::Operation(position) => Ok(position),
            _ => Err(Self::wrong_list()),
        }
    }

    fn wrong_list() -> ApiError {
        ApiError::invalid("query parameter `cursor`", "it belongs to another list")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for cursor in [
            Cursor::Log {
                order: SortOrder::Desc,
                after_seq: 900_000,
            },
            Cursor::Execution(ExecutionId::generate()),
            Cursor::Key(KeyId::generate()),
            Cursor::Operation(OperationPosition {
                first_at: UtcTime::from_unix_millis(1_700_000_000_123).unwrap(),
                operation: OperationId::parse("5a5a5a5a-0000-4000-8000-00000000000a").unwrap(),
            }),
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        }
    }

    #[test]
    fn refuses_what_it_did_not_make() {
        for text in [
            "",
            "!!",
            "bG9nOmFzYzo",
            &URL_SAFE_NO_PAD.encode("log:up:1"),
            &URL_SAFE_NO_PAD.encode("key:1:2"),
        ] {
            assert!(Cursor::decode(text).is_err(), "{text}");
        }
        let execution = Cursor::Execution(ExecutionId::generate()).encode();
        assert!(Cursor::key(&execution).is_err());
    }
}
