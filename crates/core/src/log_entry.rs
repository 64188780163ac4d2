//! Execution log lines: what a job run writes, in arrival order, numbered by `seq`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
