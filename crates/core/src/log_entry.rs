//! Execution log lines: what a job run writes, in arrival order, numbered by `seq`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::ids::{ExecutionId, Label};
use crate::text_enum;
use crate::time::UtcTime;

text_enum! {
    /// How serious a line is, lowest first. The seeds know `info`, `warning` and `error`;
    /// pipelog also takes `debug`, and `warn` for `warning`.
    pub enum Severity ("severity") {
        Debug = "debug",
        Info = "info",
        Warning = "warning" | "warn",
        Error = "error",
    }
}

impl Severity {
    /// The rank stored for the severity, 0 (debug) to 3 (error).
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn from_rank(rank: u8) -> Option<Self> {
        Severity::ALL.get(usize::from(rank)).copied()
    }

    /// OpenTelemetry's `SeverityNumber`: 1 to 24, four each of TRACE, DEBUG, INFO, WARN,
    /// ERROR and FATAL. Traces are `debug` here, fatal errors `error`; 0 (unspecified) and
    /// numbers out of range are `None`.
    pub fn from_otel_number(number: i32) -> Option<Self> {
        match number {
            1..=8 => Some(Severity::Debug),
            9..=12 => Some(Severity::Info),
            13..=16 => Some(Severity::Warning),
            17..=24 => Some(Severity::Error),
            _ => None,
        }
    }

    /// A severity's name as loggers write it (OpenTelemetry's `SeverityText`, syslog's
    /// levels), ignoring case: pipelog's own words, and `trace`, `notice`, `err`, `fatal`,
    /// `critical`, `alert`, `emergency` and their short forms.
    pub fn from_level_name(name: &str) -> Option<Self> {
        if let Ok(severity) = Severity::parse(name) {
            return Some(severity);
        }
        match name.to_ascii_lowercase().as_str() {
            "trace" | "trc" | "dbg" => Some(Severity::Debug),
            "notice" | "information" | "informational" | "inf" => Some(Severity::Info),
            "wrn" => Some(Severity::Warning),
            "err" | "fatal" | "critical" | "crit" | "alert" | "emergency" | "emerg" | "panic" => {
                Some(Severity::Error)
            }
            _ => None,
        }
    }
}

text_enum! {
    /// How a message is written: plain text, or Markdown to be rendered (after sanitising).
    pub enum MessageType ("messageType") {
        Default = "DEFAULT",
        Markdown = "MARKDOWN",
    }
}

impl MessageType {
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn from_rank(rank: u8) -> Option<Self> {
        MessageType::ALL.get(usize::from(rank)).copied()
    }
}

/// Who wrote a line (`emitterName`).
pub type EmitterName = Label<256>;
/// The writer's own correlation id (`eventCorrelationId`).
pub type EventCorrelationId = Label<256>;
/// A writer's own id for one line: a line whose id its execution already holds is not
/// written again, so a writer may resend lines after any failure without doubling them.
pub type ClientLineId = Label<128>;

/// A line's text: any UTF-8 up to 1 MiB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogMessage(String);

/// A message over the size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {max} bytes long, got {len}", max = LogMessage::MAX_LEN)]
pub struct MessageTooLong {
    pub len: usize,
}

impl LogMessage {
    pub const MAX_LEN: usize = 1024 * 1024;

    pub fn new(text: String) -> Result<Self, MessageTooLong> {
        if text.len() > Self::MAX_LEN {
            return Err(MessageTooLong { len: text.len() });
        }
        Ok(LogMessage(text))
    }

    /// A message read back from storage, where it was checked when written.
    pub fn from_stored(text: String) -> Self {
        LogMessage(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl Serialize for LogMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for LogMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        LogMessage::new(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Structured fields a line carries beside its message (an OpenTelemetry record's
/// attributes, say): a JSON object of at most 16 KiB written as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogAttributes(Map<String, Value>);

/// Attributes over the size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {max} bytes as JSON, got {len}", max = LogAttributes::MAX_LEN)]
pub struct AttributesTooLong {
    pub len: usize,
}

impl LogAttributes {
    pub const MAX_LEN: usize = 16 * 1024;

    /// The attributes, if they fit; `Ok(None)` for none at all.
    pub fn new(attributes: Map<String, Value>) -> Result<Option<Self>, AttributesTooLong> {
        if attributes.is_empty() {
            return Ok(None);
        }
        let len = serde_json::to_string(&attributes).map_or(usize::MAX, |json| json.len());
        if len > Self::MAX_LEN {
            return Err(AttributesTooLong { len });
        }
        Ok(Some(LogAttributes(attributes)))
    }

    /// Attributes read back from storage, as `to_json` wrote them.
    pub fn from_stored(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json).map(LogAttributes)
    }

    /// The JSON text stored.
    pub fn to_json(&self) -> String {
        // A map of JSON values always serialises.
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

impl LogAttributes {
    /// For `#[serde(deserialize_with)]` on an optional field: an object within the limit,
    /// `None` when absent, null or empty.
    pub fn deserialize_optional<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Self>, D::Error> {
        match Option::<Map<String, Value>>::deserialize(deserializer)? {
            Some(attributes) => LogAttributes::new(attributes).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

impl Serialize for LogAttributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// What a writer says in one line. The server adds where and when it landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    pub message: LogMessage,
    pub severity: Severity,
    pub message_type: MessageType,
    pub emitter_name: Option<EmitterName>,
    pub event_correlation_id: Option<EventCorrelationId>,
    /// When the event happened by the writer's clock, if it said.
    pub timestamp: Option<UtcTime>,
    pub attributes: Option<LogAttributes>,
    /// The writer's id for the line, unique within its execution.
    pub client_id: Option<ClientLineId>,
}

impl LogLine {
    /// A plain `info` line with nothing else said.
    pub fn info(message: LogMessage) -> Self {
        LogLine {
            message,
            severity: Severity::Info,
            message_type: MessageType::Default,
            emitter_name: None,
            event_correlation_id: None,
            timestamp: None,
            attributes: None,
            client_id: None,
        }
    }
}

/// A stored line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub execution_id: ExecutionId,
    /// 0, 1, 2 ... within the execution, in arrival order.
    pub seq: u64,
    /// When the line was committed, by the server's clock; never decreases along `seq`.
    pub created_at: UtcTime,
    pub line: LogLine,
}

impl LogEntry {
    pub fn id(&self) -> LogEntryId {
        LogEntryId {
            execution_id: self.execution_id,
            seq: self.seq,
        }
    }
}

/// A line's public id, `<executionId>:<seq>`. Derived from where the line sits, so it says
/// nothing about other executions or other tenants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LogEntryId {
    pub execution_id: ExecutionId,
    pub seq: u64,
}

impl fmt::Display for LogEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.execution_id, self.seq)
    }
}

impl Serialize for LogEntryId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_are_ordered_and_ranked() {
        assert!(Severity::Debug < Severity::Info);
        assert!(Severity::Warning < Severity::Error);
        for severity in Severity::ALL {
            assert_eq!(Severity::from_rank(severity.rank()), Some(*severity));
        }
        assert_eq!(Severity::from_rank(4), None);
        assert_eq!(Severity::parse("WARN"), Ok(Severity::Warning));
        assert_eq!(Severity::Warning.as_str(), "warning");
    }

    #[test]
    fn opentelemetry_severities_map_onto_four() {
        let mapped: Vec<Option<Severity>> = [0, 1, 8, 9, 12, 13, 16, 17, 24, 25]
            .into_iter()
            .map(Severity::from_otel_number)
            .collect();
        use Severity::{Debug, Error, Info, Warning};
        assert_eq!(
            mapped,
            [
                None,
                Some(Debug),
                Some(Debug),
                Some(Info),
                Some(Info),
                Some(Warning),
                Some(Warning),
                Some(Error),
                Some(Error),
                None
            ]
        );
        for (name, severity) in [
            ("TRACE", Debug),
            ("Information", Info),
            ("WARN", Warning),
            ("Fatal", Error),
            ("critical", Error),
        ] {
            assert_eq!(Severity::from_level_name(name), Some(severity), "{name}");
        }
        assert_eq!(Severity::from_level_name("loud"), None);
    }

    #[test]
    fn attributes_are_bounded_and_none_when_empty() {
        let object = |json: Value| json.as_object().unwrap().clone();
        assert_eq!(LogAttributes::new(Map::new()), Ok(None));
        let kept = LogAttributes::new(object(serde_json::json!({"rows": 42})))
            .unwrap()
            .unwrap();
        assert_eq!(kept.to_json(), r#"{"rows":42}"#);
        assert_eq!(LogAttributes::from_stored(&kept.to_json()).unwrap(), kept);
        let big = object(serde_json::json!({"blob": "x".repeat(LogAttributes::MAX_LEN)}));
        let error = LogAttributes::new(big).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("must be at most 16384 bytes as JSON"),
            "{error}"
        );
    }

    #[test]
    fn message_types_and_limits() {
        assert_eq!(MessageType::parse("markdown"), Ok(MessageType::Markdown));
        assert!(LogMessage::new("x".repeat(LogMessage::MAX_LEN)).is_ok());
        let error = LogMessage::new("x".repeat(LogMessage::MAX_LEN + 1)).unwrap_err();
        assert_eq!(
            error.to_string(),
            "must be at most 1048576 bytes long, got 1048577"
        );
    }

    #[test]
    fn ids_name_execution_and_seq() {
        let execution_id = ExecutionId::parse("0c9f3c1e-5b0a-4e49-9a4b-7d0c2f6b1a2e").unwrap();
        let id = LogEntryId {
            execution_id,
            seq: 42,
        };
        assert_eq!(id.to_string(), "0c9f3c1e-5b0a-4e49-9a4b-7d0c2f6b1a2e:42");
    }
}
