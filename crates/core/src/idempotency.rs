//! Idempotency keys: what makes a retried write safe. A client names a write with an
//! `Idempotency-Key`; pipelog applies it once and answers every retry with the first
//! answer, for [`IDEMPOTENCY_WINDOW_MS`] after it.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::ids::{InvalidName, check_length};

/// How long a key and its answer are kept: a retry later than this is a new request.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// A client's name for one write: 1 to 255 printable ASCII characters. The header's
/// value may be a quoted string, as the IETF draft spells it, or bare, as Stripe's clients
/// send it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        let text = text.trim();
        let text = text
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or(text);
        check_length(text, Self::MAX_LEN)?;
        if !text
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"')
        {
            return Err(InvalidName::BadCharacter(
                "must be printable ASCII characters, without `\"` inside",
            ));
        }
        Ok(IdempotencyKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a request asked for: SHA-256 over its method, path and query, and body. A key
/// reused for another request is refused rather than answered with the first one's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestFingerprint(pub [u8; 32]);

impl RequestFingerprint {
    pub fn of(method: &str, path_and_query: &str, body: &[u8]) -> Self {
        let mut hasher = Sha256::new();
        for part in [method.as_bytes(), path_and_query.as_bytes()] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        hasher.update(body);
        RequestFingerprint(hasher.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_bare_or_quoted_printable_ascii() {
        assert_eq!(
            IdempotencyKey::parse("abc-123").unwrap().as_str(),
            "abc-123"
        );
        assert_eq!(
            IdempotencyKey::parse("\"8e03978e-40d5-43e8-bc93-6894a57f9324\"")
                .unwrap()
                .as_str(),
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        );
        assert_eq!(IdempotencyKey::parse(""), Err(InvalidName::Empty));
        assert_eq!(IdempotencyKey::parse("\"\""), Err(InvalidName::Empty));
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256)),
            Err(InvalidName::TooLong { max: 255, len: 256 })
        );
        assert!(IdempotencyKey::parse("caf\u{e9}").is_err());
        assert!(IdempotencyKey::parse("a\"b").is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
    }

    #[test]
    fn fingerprints_tell_requests_apart() {
        let one = RequestFingerprint::of("POST", "/v1/executions", b"{}");
        assert_eq!(one, RequestFingerprint::of("POST", "/v1/executions", b"{}"));
        assert_ne!(one, RequestFingerprint::of("PUT", "/v1/executions", b"{}"));
        assert_ne!(
            one,
            RequestFingerprint::of("POST", "/v1/executions?x", b"{}")
        );
        assert_ne!(
            one,
            RequestFingerprint::of("POST", "/v1/executions", b"{ }")
        );
        // The parts are length-prefixed: moving a byte from one to the next changes it.
        assert_ne!(
            RequestFingerprint::of("POST", "/a", b"b"),
            RequestFingerprint::of("POST", "/ab", b"")
        );
    }
}
