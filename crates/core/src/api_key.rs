//! API keys: the secret a client presents, the hash pipelog keeps, and what a key may do.
//!
//! A key is shown once, when it is created. The store keeps only its SHA-256 hash: keys are
//! random and long, so a plain hash is as strong as a slow one here, and it lets every
//! request be checked in microseconds. Lookups go through the first 8 bytes of the hash;
//! the whole hash is then compared in constant time.

use std::fmt;
use std::num::NonZeroU32;

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ids::{AccountId, AccountName, KeyId, Label};
use crate::operating::DataAgent;
use crate::permission::PermissionSet;
use crate::time::UtcTime;

/// The secret string of a key, as generated or as presented by a client.
/// Its `Debug` output never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

/// Why a presented or chosen key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidKey {
    #[error("the API key is empty")]
    Empty,
    #[error("the API key is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("the API key may hold only visible ASCII characters")]
    BadCharacter,
    #[error("a chosen API key must be at least {min} characters long")]
    TooShort { min: usize },
}

impl ApiKeySecret {
    /// The longest key string pipelog accepts.
    pub const MAX_LEN: usize = 512;
    /// The shortest key an operator may choose (`PIPELOG_BOOTSTRAP_KEY`).
    pub const MIN_CHOSEN_LEN: usize = 16;

    /// A new key: `pl_` followed by 48 hex digits (192 random bits from the OS).
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 24];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        let mut text = String::with_capacity(3 + 48);
        text.push_str("pl_");
        for byte in bytes {
            text.push_str(&format!("{byte:02x}"));
        }
        ApiKeySecret(text)
    }

    /// A key as a client presented it in `X-Api-Key` or `Authorization: Bearer`.
    pub fn presented(text: &str) -> Result<Self, InvalidKey> {
        if text.is_empty() {
            return Err(InvalidKey::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(InvalidKey::TooLong { max: Self::MAX_LEN });
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidKey::BadCharacter);
        }
        Ok(ApiKeySecret(text.to_owned()))
    }

    /// A key an operator chose (the bootstrap key): as presented, and long enough.
    pub fn chosen(text: &str) -> Result<Self, InvalidKey> {
        let secret = Self::presented(text)?;
        if text.len() < Self::MIN_CHOSEN_LEN {
            return Err(InvalidKey::TooShort {
                min: Self::MIN_CHOSEN_LEN,
            });
        }
        Ok(secret)
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The secret itself, for the one time it is shown.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(..)")
    }
}

/// The SHA-256 hash of a key: what the store keeps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 8 bytes as a number: the indexed part used to find candidate keys.
    pub fn lookup_prefix(&self) -> i64 {
        let mut prefix = [0_u8; 8];
        prefix.copy_from_slice(&self.0[..8]);
        i64::from_be_bytes(prefix)
    }

    /// Compares with a stored hash in constant time.
    pub fn matches(&self, stored: &[u8]) -> bool {
        self.0.as_slice().ct_eq(stored).into()
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyHash(..)")
    }
}

/// How many requests a key may make per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// The server's default (`--default-rate-limit`, 50 per minute unless configured).
    ServerDefault,
    /// No limit.
    Unlimited,
    PerMinute(NonZeroU32),
}

impl RateLimit {
    /// From the form clients and the store use: absent for the default, 0 for none.
    pub fn from_option(requests_per_minute: Option<u32>) -> Self {
        match requests_per_minute {
            None => RateLimit::ServerDefault,
            Some(n) => NonZeroU32::new(n).map_or(RateLimit::Unlimited, RateLimit::PerMinute),
        }
    }

    pub fn to_option(self) -> Option<u32> {
        match self {
            RateLimit::ServerDefault => None,
            RateLimit::Unlimited => Some(0),
            RateLimit::PerMinute(n) => Some(n.get()),
        }
    }

    /// The limit that applies once the server's default is known.
    pub fn resolve(self, server_default: RateLimit) -> RateLimit {
        match self {
            RateLimit::ServerDefault => server_default,
            other => other,
        }
    }
}

impl Serialize for RateLimit {
    /// Shown as requests per minute, 0 for none, null for the server's default.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_option().serialize(serializer)
    }
}

/// Whose keys a key may manage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRole {
    /// The bootstrap key: manages accounts and keys of every account, never rate limited.
    Operator,
    /// Any other key: acts within its own account only.
    Account,
}

/// A key's optional label.
pub type KeyName = Label<128>;

/// A key to be created. The secret stays with the caller; only its hash goes to the store.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub account: AccountName,
    pub name: Option<KeyName>,
    pub hash: KeyHash,
    pub permissions: PermissionSet,
    pub rate_limit: RateLimit,
    pub role: KeyRole,
    /// The data agent the key stands for, if any: operating log items written with it
    /// carry the agent's fields.
    pub agent: Option<DataAgent>,
}

/// A stored key, as the store returns it. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: KeyId,
    pub account_id: AccountId,
    pub account: AccountName,
    pub name: Option<KeyName>,
    pub permissions: PermissionSet,
    pub rate_limit: RateLimit,
    pub role: KeyRole,
    pub agent: Option<DataAgent>,
    pub created_at: UtcTime,
    pub revoked_at: Option<UtcTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_long_random_and_valid() {
        let one = ApiKeySecret::generate();
        let two = ApiKeySecret::generate();
        assert_ne!(one, two);
        assert_eq!(one.reveal().len(), 51);
        assert!(ApiKeySecret::presented(one.reveal()).is_ok());
        assert_eq!(format!("{one:?}"), "ApiKeySecret(..)");
    }

    #[test]
    fn hashes_match_in_constant_time_only_when_equal() {
        let secret = ApiKeySecret::presented("a-key-long-enough-to-use").unwrap();
        let hash = secret.hash();
        assert!(hash.matches(hash.as_bytes()));
        let other = ApiKeySecret::presented("another-key-long-enough")
            .unwrap()
            .hash();
        assert!(!hash.matches(other.as_bytes()));
        assert!(!hash.matches(&hash.as_bytes()[..31]));
    }

    #[test]
    fn presented_and_chosen_keys() {
        assert_eq!(ApiKeySecret::presented(""), Err(InvalidKey::Empty));
        assert_eq!(
            ApiKeySecret::presented("key with space"),
            Err(InvalidKey::BadCharacter)
        );
        assert_eq!(
            ApiKeySecret::chosen("short"),
            Err(InvalidKey::TooShort { min: 16 })
        );
        assert!(ApiKeySecret::chosen("sixteen-chars-ok").is_ok());
    }

    #[test]
    fn rate_limits() {
        assert_eq!(RateLimit::from_option(None), RateLimit::ServerDefault);
        assert_eq!(RateLimit::from_option(Some(0)), RateLimit::Unlimited);
        assert_eq!(RateLimit::from_option(Some(7)).to_option(), Some(7));
        assert_eq!(
            RateLimit::ServerDefault.resolve(RateLimit::Unlimited),
            RateLimit::Unlimited
        );
    }
}
