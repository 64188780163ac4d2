//! Signed download links: an HMAC-SHA256 over a path and an expiry, so that a link works
//! without a key, for a while, and for that path only.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The secret links are signed with. `pipelog serve` keeps it in the data dir.
#[derive(Clone)]
pub struct UrlSigningKey([u8; 32]);

impl UrlSigningKey {
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source failed");
        UrlSigningKey(bytes)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        UrlSigningKey(bytes)
    }

    fn mac(&self, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(path.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    /// The signature of `path` until `expires` (seconds since the epoch), in hex.
    pub fn sign(&self, path: &str, expires: i64) -> String {
        self.mac(path, expires)
            .finalize()
            .into_bytes()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }

    /// Whether `signature` (hex) signs `path` until `expires`; compared in constant time.
    pub fn verifies(&self, path: &str, expires: i64, signature: &str) -> bool {
        let Some(bytes) = from_hex(signature) else {
            return false;
        };
        self.mac(path, expires).verify_slice(&bytes).is_ok()
    }
}

impl fmt::Debug for UrlSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlSigningKey(..)")
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_path_and_expiry_only() {
        let key = UrlSigningKey::generate();
        let signature = key.sign("/v1/exports/t/f.log", 1_800_000_000);
        assert_eq!(signature.len(), 64);
        assert!(key.verifies("/v1/exports/t/f.log", 1_800_000_000, &signature));
        assert!(!key.verifies("/v1/exports/t/g.log", 1_800_000_000, &signature));
        assert!(!key.verifies("/v1/exports/t/f.log", 1_800_000_001, &signature));
        assert!(!UrlSigningKey::generate().verifies(
            "/v1/exports/t/f.log",
            1_800_000_000,
            &signature
        ));
        assert!(!key.verifies("/v1/exports/t/f.log", 1_800_000_000, "zz"));
        assert!(!key.verifies("/v1/exports/t/f.log", 1_800_000_000, &signature[..62]));
        assert_eq!(format!("{key:?}"), "UrlSigningKey(..)");
    }
}
