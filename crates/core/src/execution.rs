//! Executions: one run of a job, from `QUEUED` through `RUNNING` to a final status.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::ids::{AccountId, Cid, ExecutionId, KeyId};
use crate::job::{Job, JobSpec};
use crate::text_enum;
use crate::time::UtcTime;

text_enum! {
    /// How an execution ended (seed 002's `jobInstanceStatus`).
    pub enum FinalStatus ("final status") {
        Completed = "COMPLETED",
        CompletedWithErrors = "COMPLETED_WITH_ERRORS",
        TimedOut = "TIMED_OUT",
        Failed = "FAILED",
        Terminated = "TERMINATED",
        Unknown = "UNKNOWN",
        Removed = "REMOVED",
        UserError = "USER_ERROR",
    }
}

text_enum! {
    /// Where a launch came from (seed 002's `actionOrigin`). The seed spells the last one
    /// `UNKOWN`; pipelog writes it that way for compatibility and also reads `UNKNOWN`.
    pub enum ActionOrigin ("actionOrigin") {
        App = "APP",
        Settings = "SETTINGS",
        Periodic = "PERIODIC",
        Api = "API",
        Publication = "PUBLICATION",
        Unknown = "UNKOWN" | "UNKNOWN",
    }
}

/// Where an execution is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Queued,
    Running,
    Ended(FinalStatus),
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Queued => "QUEUED",
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Ended(status) => status.as_str(),
        }
    }

    /// Parses any status word, ignoring case.
    pub fn parse(text: &str) -> Result<Self, crate::text_enum::UnknownValue> {
        let word = text.trim();
        if word.eq_ignore_ascii_case("QUEUED") {
            return Ok(ExecutionStatus::Queued);
        }
        if word.eq_ignore_ascii_case("RUNNING") {
            return Ok(ExecutionStatus::Running);
        }
        FinalStatus::parse(text)
            .map(ExecutionStatus::Ended)
            .map_err(|_| crate::text_enum::UnknownValue {
                what: "status",
                given: text.to_owned(),
                expected: Self::words().collect(),
            })
    }

    /// Every status word: `QUEUED`, `RUNNING`, then the final statuses.
    pub fn words() -> impl Iterator<Item = &'static str> {
        ["QUEUED", "RUNNING"]
            .into_iter()
            .chain(FinalStatus::WORDS.iter().copied())
    }

    pub fn has_ended(self) -> bool {
        matches!(self, ExecutionStatus::Ended(_))
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ExecutionStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A request to queue a new execution of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchExecution {
    pub job: JobSpec,
    pub action_origin: ActionOrigin,
    /// The execution's input; pipelog adds `eventCorrelationId` (= the cid) to it.
    pub input: Map<String, Value>,
    pub launched_by: Option<KeyId>,
}

/// A stored execution and the job it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: ExecutionId,
    pub account_id: AccountId,
    pub cid: Cid,
    pub job: Job,
    pub status: ExecutionStatus,
    pub action_origin: ActionOrigin,
    pub input: Map<String, Value>,
    pub launched_by: Option<KeyId>,
    pub queued_at: UtcTime,
    pub started_at: Option<UtcTime>,
    pub ended_at: Option<UtcTime>,
    pub updated_at: UtcTime,
    /// Lines written so far: the `seq` the next line will get.
    pub next_seq: u64,
    /// The `seq` of the first line still stored: lines before it were deleted or expired.
    /// The stored lines are exactly `first_seq..next_seq`.
    pub first_seq: u64,
}

impl Execution {
    /// How many lines are stored.
    pub fn stored_lines(&self) -> u64 {
        self.next_seq - self.first_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_into_their_phase() {
        assert_eq!(
            ExecutionStatus::parse("queued"),
            Ok(ExecutionStatus::Queued)
        );
        assert_eq!(
            ExecutionStatus::parse("RUNNING"),
            Ok(ExecutionStatus::Running)
        );
        assert_eq!(
            ExecutionStatus::parse("timed_out"),
            Ok(ExecutionStatus::Ended(FinalStatus::TimedOut))
        );
        let error = ExecutionStatus::parse("DONE").unwrap_err().to_string();
        assert!(error.contains("QUEUED, RUNNING, COMPLETED"), "{error}");
    }

    #[test]
    fn every_status_word_round_trips() {
        assert_eq!(ExecutionStatus::words().count(), 10);
        for word in ExecutionStatus::words() {
            assert_eq!(ExecutionStatus::parse(word).unwrap().as_str(), word);
        }
    }

    #[test]
    fn the_seeds_misspelling_is_kept_and_the_right_spelling_read() {
        assert_eq!(ActionOrigin::Unknown.as_str(), "UNKOWN");
        assert_eq!(ActionOrigin::parse("UNKNOWN"), Ok(ActionOrigin::Unknown));
        assert_eq!(ActionOrigin::parse("UNKOWN"), Ok(ActionOrigin::Unknown));
    }
}
