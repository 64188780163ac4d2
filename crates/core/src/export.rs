//! Exports of an execution's log to a file: the formats, the states of the job that builds
//! one, and how a line reads in the text format.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::ids::{AccountId, ExecutionId, JobId};
use crate::log_entry::LogEntry;
use crate::text_enum;
use crate::time::UtcTime;

text_enum! {
    /// What the file holds: one line per entry, or a JSON array of entries.
    pub enum ExportFormat ("fileFormat") {
        Json = "json",
        Text = "text",
    }
}

text_enum! {
    /// Where an export stands (Talend's status words).
    pub enum ExportStatus ("status") {
        InProgress = "IN_PROGRESS",
        Ready = "READY",
        Failed = "FAILED",
    }
}

/// The token that names an export: a random UUID, like Talend's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExportToken(uuid::Uuid);

impl ExportToken {
    pub fn generate() -> Self {
        ExportToken(uuid::Uuid::new_v4())
    }

    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::try_parse(text.trim()).ok().map(ExportToken)
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        ExportToken(uuid::Uuid::from_bytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl fmt::Display for ExportToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for ExportToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The name a download is offered under: Talend's `<jobId>_<executionId>.log` when asked
/// for (`newFileName=true`), else `<executionId>.log`.
pub fn export_file_name(job: JobId, execution: ExecutionId, with_job: bool) -> String {
    if with_job {
        format!("{job}_{execution}.log")
    } else {
        format!("{execution}.log")
    }
}

/// A line of the text format: `<ISO time> <SEVERITY> [<emitter>] <message>`, the time
/// being the line's `createdAt`. A message keeps its own line breaks.
pub fn text_line(entry: &LogEntry) -> String {
    let emitter = entry
        .line
        .emitter_name
        .as_ref()
        .map_or("", |name| name.as_str());
    format!(
        "{} {} [{}] {}",
        entry.created_at,
        entry.line.severity.as_str().to_ascii_uppercase(),
        emitter,
        entry.line.message.as_str()
    )
}

/// An export, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportJob {
    pub token: ExportToken,
    pub account_id: AccountId,
    pub execution_id: ExecutionId,
    pub format: ExportFormat,
    /// The lines to export: `first_seq..end_seq`.
    pub first_seq: u64,
    pub end_seq: u64,
    pub file_name: String,
    pub status: ExportStatus,
    /// The file's size once built.
    pub bytes: Option<u64>,
    pub created_at: UtcTime,
    pub expires_at: UtcTime,
}

impl ExportJob {
    pub fn lines(&self) -> u64 {
        self.end_seq.saturating_sub(self.first_seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Label;
    use crate::log_entry::{LogLine, LogMessage, Severity};

    #[test]
    fn text_lines_read_time_severity_emitter_message() {
        let entry = LogEntry {
            execution_id: ExecutionId::generate(),
            seq: 3,
            created_at: UtcTime::parse("2026-11-22T08:00:00.5Z").unwrap(),
            line: LogLine {
                severity: Severity::Warning,
                emitter_name: Some(Label::parse("loader").unwrap()),
                ..LogLine::info(LogMessage::new("2 rows\nrejected".into()).unwrap())
            },
        };
        assert_eq!(
            text_line(&entry),
            "2026-11-22T08:00:00.500Z WARNING [loader] 2 rows\nrejected"
        );
        let mut plain = entry.clone();
        plain.line.emitter_name = None;
        assert!(text_line(&plain).contains(" WARNING [] 2 rows"));
    }

    #[test]
    fn file_names_and_tokens() {
        let job = JobId::parse("674f4c6b-796b-4a7e-899a-d91600000000").unwrap();
        let execution = ExecutionId::parse("67a0bf50-d57e-4d1d-bc25-4713c0000000").unwrap();
        assert_eq!(
            export_file_name(job, execution, true),
            "674f4c6b-796b-4a7e-899a-d91600000000_67a0bf50-d57e-4d1d-bc25-4713c0000000.log"
        );
        assert_eq!(
            export_file_name(job, execution, false),
            "67a0bf50-d57e-4d1d-bc25-4713c0000000.log"
        );
        let token = ExportToken::generate();
        assert_eq!(ExportToken::parse(&format!(" {token}\n")), Some(token));
        assert_eq!(ExportToken::parse("not-a-token"), None);
        assert_eq!(ExportFormat::parse("JSON"), Ok(ExportFormat::Json));
    }
}
