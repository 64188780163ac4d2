//! Identifiers: the public ids clients see (UUIDs and strings), each checked once when parsed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// A string that is not a UUID where one was expected; carries what it was meant to name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} ID is not a UUID")]
pub struct NotAUuid {
    pub what: &'static str,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random (version 4) id.
            pub fn generate() -> Self {
                $name(Uuid::new_v4())
            }

            /// Parses the hyphenated, simple or braced UUID forms.
            pub fn parse(text: &str) -> Result<Self, NotAUuid> {
                Uuid::try_parse(text).map($name).map_err(|_| NotAUuid { what: $what })
            }

            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(Uuid::from_bytes(bytes))
            }

            pub fn as_bytes(&self) -> &[u8; 16] {
                self.0.as_bytes()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// An execution (the seeds' `jobInstanceId`, Talend's execution id).
    ExecutionId,
    "execution"
);
uuid_id!(
    /// A job: what an execution is a run of.
    JobId,
    "job"
);
uuid_id!(
    /// An API key's public id (never the key itself).
    KeyId,
    "key"
);
uuid_id!(
    /// A data operation followed end to end by the operating log (seed 004's `operationId`).
    OperationId,
    "operation"
);
uuid_id!(
    /// One operating log item.
    OperatingItemId,
    "operating log item"
);
uuid_id!(
    /// A data agent (seed 004's `agentId`).
    AgentId,
    "agent"
);
uuid_id!(
    /// A data source of a data agent (seed 004's `sourceId`, `publisherSourceId`).
    SourceId,
    "source"
);

/// An account (tenant). Shown to clients as a decimal string, like the seeds' `accountId`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(i64);

impl AccountId {
    pub fn new(id: i64) -> Self {
        AccountId(id)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for AccountId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Why a name-like string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} bytes long, got {len}")]
    TooLong { max: usize, len: usize },
    #[error("{0}")]
    BadCharacter(&'static str),
}

pub(crate) fn check_length(text: &str, max: usize) -> Result<(), InvalidName> {
    if text.is_empty() {
        return Err(InvalidName::Empty);
    }
    if text.len() > max {
        return Err(InvalidName::TooLong {
            max,
            len: text.len(),
        });
    }
    Ok(())
}

/// An account's name: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, starting with a letter
/// or digit. `default` is created at first start.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccountName(String);

impl AccountName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        check_length(text, Self::MAX_LEN)?;
        let mut chars = text.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !(first_ok && rest_ok) {
            return Err(InvalidName::BadCharacter(
                "may hold only ASCII letters, digits, '.', '_' and '-', and must start with a letter or digit",
            ));
        }
        Ok(AccountName(text.to_owned()))
    }

    /// The account every fresh store starts with.
    pub fn default_account() -> Self {
        AccountName("default".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for AccountName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AccountName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AccountName::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The correlation id that links log lines to an execution (the seed's `cid` header).
///
/// pipelog generates one at launch; a client may also bring its own (an external
/// orchestrator's run id): 1 to 256 visible ASCII characters, since it travels in a header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cid(String);

impl Cid {
    pub const MAX_LEN: usize = 256;

    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        check_length(text, Self::MAX_LEN)?;
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidName::BadCharacter(
                "may hold only visible ASCII characters (no spaces)",
            ));
        }
        Ok(Cid(text.to_owned()))
    }

    /// A fresh random correlation id (122 random bits, 32 hex digits).
    pub fn generate() -> Self {
        Cid(Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Cid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A job's key, unique within its account (`export-items_api_1` in the seeds):
/// 1 to 256 bytes, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobKey(String);

impl JobKey {
    pub const MAX_LEN: usize = 256;

    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        check_length(text, Self::MAX_LEN)?;
        if text.chars().any(char::is_control) {
            return Err(InvalidName::BadCharacter(
                "must not hold control characters",
            ));
        }
        Ok(JobKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for JobKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JobKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        JobKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A short free text that names or describes something (a key's label, a job's title, an
/// emitter's name): at most `MAX` bytes, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Label<const MAX: usize>(String);

impl<const MAX: usize> Label<MAX> {
    pub const MAX_LEN: usize = MAX;

    pub fn parse(text: &str) -> Result<Self, InvalidName> {
        if text.len() > MAX {
            return Err(InvalidName::TooLong {
                max: MAX,
                len: text.len(),
            });
        }
        if text.chars().any(char::is_control) {
            return Err(InvalidName::BadCharacter(
                "must not hold control characters",
            ));
        }
        Ok(Label(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Display for Label<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> Serialize for Label<MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for Label<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Label::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_round_trip_and_name_what_they_are() {
        let id = ExecutionId::generate();
        assert_eq!(ExecutionId::parse(&id.to_string()), Ok(id));
        assert_eq!(
            ExecutionId::parse("658445e23ad5b929948ab731")
                .unwrap_err()
                .to_string(),
            "execution ID is not a UUID"
        );
    }

    #[test]
    fn account_names() {
        assert!(AccountName::parse("acme-prod.eu_1").is_ok());
        assert_eq!(AccountName::parse(""), Err(InvalidName::Empty));
        assert!(AccountName::parse("-acme").is_err());
        assert!(AccountName::parse("ac me").is_err());
        assert!(AccountName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn cids_are_header_safe() {
        assert!(
            Cid::parse("FSVVJs7sxm6zHif1RbDRKuxJhWzaPaL8TM4EwfcFJkU2tDwiiylYuLMiB8kQMTqx:4201:1")
                .is_ok()
        );
        assert!(Cid::parse("has space").is_err());
        assert!(Cid::parse("é").is_err());
        assert_eq!(Cid::generate().as_str().len(), 32);
    }

    #[test]
    fn labels_are_bounded_and_printable() {
        assert!(Label::<8>::parse("My job").is_ok());
        assert!(Label::<8>::parse("").is_ok());
        assert!(Label::<8>::parse("nine char").is_err());
        assert!(Label::<8>::parse("tab\there").is_err());
    }

    #[test]
    fn job_keys_refuse_control_characters() {
        assert!(JobKey::parse("export-items_api_1").is_ok());
        assert!(JobKey::parse("a\nb").is_err());
    }
}
