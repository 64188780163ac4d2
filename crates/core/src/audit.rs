//! Audit entries: who did what, append-only, and chained by hash within each account.
//!
//! Every entry of an account has a `seq` (0, 1, 2 ...) and a hash that covers the previous
//! entry's hash and the entry's own content, so that changing, removing or reordering a
//! stored entry breaks the chain from that entry on. The content is hashed as stored:
//! `details` is kept as canonical JSON (keys sorted, no blanks), which this module makes.

use std::fmt;
use std::fmt::Write as _;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, InvalidName, Label};
use crate::time::UtcTime;

/// An audit entry's id: the client's own (1 to 128 visible ASCII characters), so that a
/// retried write is recognised, or a UUID pipelog makes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditId(String);

impl AuditId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        if text.is_empty() {
            return Err(InvalidName::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(InvalidName::TooLong {
                max: Self::MAX_LEN,
                len: text.len(),
            });
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidName::BadCharacter(
                "may hold only visible ASCII characters",
            ));
        }
        Ok(AuditId(text.to_owned()))
    }

    /// A new time-ordered id (UUIDv7): ids made later sort later, so they go in at the end
    /// of the id index instead of anywhere in it.
    pub fn generate() -> Self {
        AuditId(uuid::Uuid::now_v7().hyphenated().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AuditId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AuditId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        AuditId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What kind of thing an entry is about (`item`, `job`, `key`).
pub type EntityType = Label<128>;
/// What happened (`item.update`, `job.queue`).
pub type AuditType = Label<128>;
/// The version of the entry's `details` layout (`"2"`).
pub type AuditVersion = Label<32>;

/// An entry's `details`: a JSON object, bounded in size and depth.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditDetails(Map<String, Value>);

/// Details over the bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDetails {
    #[error("must be at most {max} bytes as JSON, got {len}", max = AuditDetails::MAX_BYTES)]
    TooLarge { len: usize },
    #[error("must nest at most {max} levels deep", max = AuditDetails::MAX_DEPTH)]
    TooDeep,
    #[error("must hold at most {max} values in all", max = AuditDetails::MAX_NODES)]
    TooManyValues,
}

impl AuditDetails {
    pub const MAX_BYTES: usize = 64 * 1024;
    pub const MAX_DEPTH: usize = 16;
    pub const MAX_NODES: usize = 1000;

    pub fn new(details: Map<String, Value>) -> Result<Self, InvalidDetails> {
        let mut nodes = 0;
        for value in details.values() {
            count_nodes(value, 1, &mut nodes)?;
        }
        let len = canonical_json(&Value::Object(details.clone())).len();
        if len > Self::MAX_BYTES {
            return Err(InvalidDetails::TooLarge { len });
        }
        Ok(AuditDetails(details))
    }

    /// Details read back from storage, where they were checked when written.
    pub fn from_stored(details: Map<String, Value>) -> Self {
        AuditDetails(details)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }

    /// The details as stored and hashed: canonical JSON.
    pub fn canonical(&self) -> String {
        canonical_json(&Value::Object(self.0.clone()))
    }
}

fn count_nodes(value: &Value, depth: usize, nodes: &mut usize) -> Result<(), InvalidDetails> {
    *nodes += 1;
    if *nodes > AuditDetails::MAX_NODES {
        return Err(InvalidDetails::TooManyValues);
    }
    if depth > AuditDetails::MAX_DEPTH {
        return Err(InvalidDetails::TooDeep);
    }
    match value {
        Value::Array(items) => items
            .iter()
            .try_for_each(|item| count_nodes(item, depth + 1, nodes)),
        Value::Object(fields) => fields
            .values()
            .try_for_each(|item| count_nodes(item, depth + 1, nodes)),
        _ => Ok(()),
    }
}

/// JSON with object keys sorted (by their UTF-8 bytes) and no blanks, whatever order the
/// map keeps its keys in: the form `details` is stored and hashed in.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&fields[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// An entry to be recorded. The store fills in `seq`, the hash, and what is left out.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    /// The client's id, which makes a retried write harmless; a UUID when absent.
    pub id: Option<AuditId>,
    /// When it happened; the time it is recorded when absent.
    pub time_generated: Option<UtcTime>,
    pub entity_type: EntityType,
    pub event_type: AuditType,
    pub version: AuditVersion,
    pub details: AuditDetails,
}

/// A recorded entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub account_id: AccountId,
    /// Its place in the account's chain: 0, 1, 2 ...
    pub seq: u64,
    pub time_generated: UtcTime,
    /// When pipelog committed it.
    pub recorded_at: UtcTime,
    pub entity_type: EntityType,
    pub event_type: AuditType,
    pub version: AuditVersion,
    pub details: AuditDetails,
    pub hash: ChainHash,
}

impl AuditEntry {
    /// The hash this entry must have, following an entry whose hash is `previous`.
    pub fn expected_hash(&self, previous: &ChainHash) -> ChainHash {
        ChainLink {
            account_id: self.account_id,
            seq: self.seq,
            id: self.id.as_str(),
            time_generated: self.time_generated,
            recorded_at: self.recorded_at,
            entity_type: self.entity_type.as_str(),
            event_type: self.event_type.as_str(),
            version: self.version.as_str(),
            details: &self.details.canonical(),
        }
        .hash(previous)
    }
}

/// A SHA-256 link of an account's audit chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// What the first entry of a chain follows.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ChainHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0_u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(ChainHash(bytes))
    }

    pub fn to_hex(&self) -> String {
        self.0
            .iter()
            .fold(String::with_capacity(64), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

/// An entry's content exactly as stored, which is what its hash covers.
#[derive(Clone, Copy, Debug)]
pub struct ChainLink<'a> {
    pub account_id: AccountId,
    pub seq: u64,
    pub id: &'a str,
    pub time_generated: UtcTime,
    pub recorded_at: UtcTime,
    pub entity_type: &'a str,
    pub event_type: &'a str,
    pub version: &'a str,
    /// Canonical JSON, as stored.
    pub details: &'a str,
}

impl ChainLink<'_> {
    /// `SHA-256("pipelog-audit-v1" ‖ previous ‖ fields)`, each number big-endian and each
    /// text prefixed with its length, so that no two different entries hash alike.
    pub fn hash(&self, previous: &ChainHash) -> ChainHash {
        let mut hasher = Sha256::new();
        hasher.update(b"pipelog-audit-v1");
        hasher.update(previous.0);
        hasher.update(self.account_id.get().to_be_bytes());
        hasher.update(self.seq.to_be_bytes());
        hash_text(&mut hasher, self.id);
        hasher.update(self.time_generated.unix_millis().to_be_bytes());
        hasher.update(self.recorded_at.unix_millis().to_be_bytes());
        for text in [
            self.entity_type,
            self.event_type,
            self.version,
            self.details,
        ] {
            hash_text(&mut hasher, text);
        }
        ChainHash(hasher.finalize().into())
    }
}

fn hash_text(hasher: &mut Sha256, text: &str) {
    hasher.update((text.len() as u64).to_be_bytes());
    hasher.update(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn details(value: Value) -> AuditDetails {
        AuditDetails::new(value.as_object().unwrap().clone()).unwrap()
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": 1, "a": {"z": [3, {"y": true, "x": null}], "c": "é\"q"}, "A": 1.5});
        assert_eq!(
            canonical_json(&value),
            r#"{"A":1.5,"a":{"c":"é\"q","z":[3,{"x":null,"y":true}]},"b":1}"#
        );
    }

    #[test]
    fn details_are_bounded() {
        assert!(AuditDetails::new(Map::new()).is_ok());
        let big = json!({"text": "x".repeat(AuditDetails::MAX_BYTES)});
        assert!(matches!(
            AuditDetails::new(big.as_object().unwrap().clone()),
            Err(InvalidDetails::TooLarge { .. })
        ));
        let nested = |levels: usize| {
            let mut value = json!(1);
            for _ in 0..levels {
                value = json!({"k": value});
            }
            AuditDetails::new(value.as_object().unwrap().clone())
        };
        assert!(nested(AuditDetails::MAX_DEPTH).is_ok());
        assert_eq!(
            nested(AuditDetails::MAX_DEPTH + 1),
            Err(InvalidDetails::TooDeep)
        );
        let wide = json!({"list": vec![0; AuditDetails::MAX_NODES]});
        assert_eq!(
            AuditDetails::new(wide.as_object().unwrap().clone()),
            Err(InvalidDetails::TooManyValues)
        );
    }

    fn entry() -> AuditEntry {
        AuditEntry {
            id: AuditId::parse("3fd28929-228d-11ef-91f5-002248824020").unwrap(),
            account_id: AccountId::new(7),
            seq: 0,
            time_generated: UtcTime::parse("2025-02-21T14:58:15.584Z").unwrap(),
            recorded_at: UtcTime::parse("2025-02-21T14:58:16Z").unwrap(),
            entity_type: Label::parse("item").unwrap(),
            event_type: Label::parse("item.update").unwrap(),
            version: Label::parse("2").unwrap(),
            details: details(json!({"itemId": "6588231", "status": "SUCCESS"})),
            hash: ChainHash::GENESIS,
        }
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let original = entry();
        let base = original.expected_hash(&ChainHash::GENESIS);
        assert_ne!(base, ChainHash::GENESIS);
        type Change = Box<dyn Fn(&mut AuditEntry)>;
        let changes: Vec<Change> = vec![
            Box::new(|e| e.id = AuditId::parse("other").unwrap()),
            Box::new(|e| e.account_id = AccountId::new(8)),
            Box::new(|e| e.seq = 1),
            Box::new(|e| e.time_generated = UtcTime::from_unix_millis(0).unwrap()),
            Box::new(|e| e.recorded_at = UtcTime::from_unix_millis(0).unwrap()),
            Box::new(|e| e.entity_type = Label::parse("items").unwrap()),
            Box::new(|e| e.event_type = Label::parse("item.delete").unwrap()),
            Box::new(|e| e.version = Label::parse("3").unwrap()),
            Box::new(|e| e.details = details(json!({"itemId": "6588232", "status": "SUCCESS"}))),
        ];
        for change in changes {
            let mut changed = original.clone();
            change(&mut changed);
            assert_ne!(
                changed.expected_hash(&ChainHash::GENESIS),
                base,
                "{changed:?}"
            );
        }
        let other_previous = ChainHash::from_bytes([1; 32]);
        assert_ne!(original.expected_hash(&other_previous), base);
    }

    #[test]
    fn texts_are_length_prefixed() {
        // Moving a character from one field to the next must change the hash.
        let mut one = entry();
        one.entity_type = Label::parse("ab").unwrap();
        one.event_type = Label::parse("c").unwrap();
        let mut two = entry();
        two.entity_type = Label::parse("a").unwrap();
        two.event_type = Label::parse("bc").unwrap();
        assert_ne!(
            one.expected_hash(&ChainHash::GENESIS),
            two.expected_hash(&ChainHash::GENESIS)
        );
    }

    #[test]
    fn ids() {
        assert!(AuditId::parse("3fd28929-228d-11ef-91f5-002248824020").is_ok());
        assert!(AuditId::parse("with space").is_err());
        assert!(AuditId::parse("").is_err());
        assert_eq!(AuditId::generate().as_str().len(), 36);
        assert_eq!(ChainHash::from_bytes([0xab; 32]).to_hex(), "ab".repeat(32));
        let hash = ChainHash::from_bytes(std::array::from_fn(|index| index as u8 * 7));
        assert_eq!(ChainHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(
            ChainHash::from_hex(&"AB".repeat(32)),
            Some(ChainHash::from_bytes([0xab; 32]))
        );
        assert_eq!(ChainHash::from_hex("abc"), None);
        assert_eq!(ChainHash::from_hex(&"zz".repeat(32)), None);
        assert_eq!(ChainHash::from_hex(&"é".repeat(32)), None);
    }
}
