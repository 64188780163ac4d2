//! Signed digests of audit chains, after CloudTrail's digest files: a statement of where an
//! account's chain stood at a moment, signed by pipelog with Ed25519.
//!
//! A digest commits to the whole chain up to its head. Whoever keeps digests outside
//! pipelog can later prove that the chain was not rewritten since: the chain, recomputed,
//! must still reach the digest's head hash at the digest's position. The signature proves
//! the digest came from this pipelog, to anyone holding its public key.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use crate::audit::{AuditId, ChainHash};
use crate::ids::AccountId;
use crate::time::UtcTime;

/// Where an account's chain stood at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainDigest {
    pub account_id: AccountId,
    /// How many entries the chain held.
    pub entries: u64,
    /// The hash of its last entry (all zeros for an empty chain).
    pub head: ChainHash,
    /// The id of its last entry.
    pub last_id: Option<AuditId>,
    pub issued_at: UtcTime,
}

impl ChainDigest {
    /// The bytes the signature covers: a fixed label, then the fields, numbers big-endian,
    /// the id prefixed with its length.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(b"pipelog-audit-digest-v1");
        bytes.extend_from_slice(&self.account_id.get().to_be_bytes());
        bytes.extend_from_slice(&self.entries.to_be_bytes());
        bytes.extend_from_slice(self.head.as_bytes());
        let id = self.last_id.as_ref().map_or("", AuditId::as_str);
        bytes.extend_from_slice(&(id.len() as u64).to_be_bytes());
        bytes.extend_from_slice(id.as_bytes());
        bytes.extend_from_slice(&self.issued_at.unix_millis().to_be_bytes());
        bytes
    }
}

/// The key pipelog signs digests with. Its `Debug` output never shows it.
#[derive(Clone)]
pub struct DigestKey(SigningKey);

/// A digest's signature, or a public key, that is not the right length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} bytes, got {got}")]
pub struct WrongLength {
    pub expected: usize,
    pub got: usize,
}

impl DigestKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut seed = [0_u8; 32];
        getrandom::fill(&mut seed).expect("the operating system's random source failed");
        DigestKey(SigningKey::from_bytes(&seed))
    }

    /// The key whose 32-byte secret is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        DigestKey(SigningKey::from_bytes(&seed))
    }

    /// The 32-byte secret, to be kept in a file only pipelog can read.
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    pub fn public_key(&self) -> DigestPublicKey {
        DigestPublicKey(self.0.verifying_key())
    }

    /// The 64-byte Ed25519 signature of the digest.
    pub fn sign(&self, digest: &ChainDigest) -> [u8; 64] {
        self.0.sign(&digest.signed_bytes()).to_bytes()
    }
}

impl fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DigestKey(..)")
    }
}

/// The public half of a `DigestKey`: enough to check digests, never to make them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DigestPublicKey(VerifyingKey);

impl DigestPublicKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, WrongLength> {
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| WrongLength {
            expected: 32,
            got: bytes.len(),
        })?;
        VerifyingKey::from_bytes(&bytes)
            .map(DigestPublicKey)
            .map_err(|_| WrongLength {
                expected: 32,
                got: bytes.len(),
            })
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Whether `signature` is this key's signature of `digest`.
    pub fn verifies(&self, digest: &ChainDigest, signature: &[u8]) -> bool {
        let Ok(signature) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.0
            .verify(&digest.signed_bytes(), &Signature::from_bytes(&signature))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest() -> ChainDigest {
        ChainDigest {
            account_id: AccountId::new(4201),
            entries: 1204,
            head: ChainHash::from_bytes([7; 32]),
            last_id: Some(AuditId::parse("3fd28929-228d-11ef-91f5-002248824020").unwrap()),
            issued_at: UtcTime::parse("2026-11-22T06:00:00Z").unwrap(),
        }
    }

    #[test]
    fn a_signature_holds_for_its_digest_only() {
        let key = DigestKey::generate();
        let public = key.public_key();
        let signature = key.sign(&digest());
        assert!(public.verifies(&digest(), &signature));

        let mut later = digest();
        later.entries += 1;
        assert!(!public.verifies(&later, &signature));
        let mut rewritten = digest();
        rewritten.head = ChainHash::from_bytes([8; 32]);
        assert!(!public.verifies(&rewritten, &signature));
        assert!(
            !DigestKey::generate()
                .public_key()
                .verifies(&digest(), &signature)
        );
        assert!(!public.verifies(&digest(), &signature[..63]));
    }

    #[test]
    fn keys_round_trip_through_their_seed_and_never_print() {
        let key = DigestKey::generate();
        let again = DigestKey::from_seed(key.seed());
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(
            DigestPublicKey::from_bytes(&key.public_key().to_bytes()),
            Ok(key.public_key())
        );
        assert_eq!(format!("{key:?}"), "DigestKey(..)");
        assert!(DigestPublicKey::from_bytes(&[1, 2, 3]).is_err());
    }
}
