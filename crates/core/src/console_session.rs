//! Console sessions: what the web console's cookie holds instead of the key.
//!
//! Signing in with a key gives a [`SessionToken`]: 256 random bits, sent to the browser
//! once in an HttpOnly cookie. The store keeps only its SHA-256 ([`SessionHash`]) beside
//! the key it stands for, so a copy of the database opens no session. The CSRF token the
//! pages carry is derived from the session token ([`SessionToken::csrf_token`]): it needs
//! no storage, and nobody without the cookie can compute it.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a session lasts from sign-in: a working day, after which the console asks
/// for the key again.
pub const SESSION_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// The secret a session cookie holds: 64 hex digits. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

/// Why a cookie's value is not a session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a session token is 64 lower-case hex digits")]
pub struct InvalidSessionToken;

impl SessionToken {
    const LEN: usize = 64;

    /// A new token from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        SessionToken(hex(&bytes))
    }

    /// A token as a browser sent it back.
    pub fn presented(text: &str) -> Result<Self, InvalidSessionToken> {
        if text.len() == Self::LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(SessionToken(text.to_owned()))
        } else {
            Err(InvalidSessionToken)
        }
    }

    /// The cookie's value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps.
    pub fn hash(&self) -> SessionHash {
        SessionHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The CSRF token of this session: what a page sends back with every change.
    pub fn csrf_token(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"pipelog console csrf\0");
        hasher.update(self.0.as_bytes());
        hex(&hasher.finalize())
    }

    /// Whether `presented` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        bool::from(self.csrf_token().as_bytes().ct_eq(presented.as_bytes()))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// The SHA-256 of a session token: the session's key in the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionHash([u8; 32]);

impl SessionHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SessionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionHash({}..)", &hex(&self.0[..4]))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_anything_else() {
        let token = SessionToken::generate();
        assert_eq!(SessionToken::presented(token.expose()), Ok(token.clone()));
        assert_ne!(SessionToken::generate(), token);
        for bad in [
            "",
            "abc",
            &token.expose().to_uppercase(),
            &format!("{}0", token.expose()),
        ] {
            assert_eq!(
                SessionToken::presented(bad),
                Err(InvalidSessionToken),
                "{bad}"
            );
        }
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn the_csrf_token_belongs_to_its_session() {
        let token = SessionToken::generate();
        let other = SessionToken::generate();
        assert!(token.csrf_matches(&token.csrf_token()));
        assert!(!token.csrf_matches(&other.csrf_token()));
        assert!(!token.csrf_matches(""));
        assert_ne!(token.csrf_token(), token.expose());
        assert_ne!(token.hash(), other.hash());
    }
}
