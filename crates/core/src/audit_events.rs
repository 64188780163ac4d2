//! The audit entries pipelog writes about itself: job lifecycle events (seed 002's
//! `job.queue` and `job.end`, plus `job.start`) and key management.
//!
//! Field names and shapes follow seed 002: ids and account ids are strings, times are ISO
//! 8601 strings, and a field the seed says is "not always available" is left out when
//! pipelog does not know it. `userId` is the key that launched the job, for every job
//! event, as the seed defines it; for key events it is the key that acted.

use serde_json::{Map, Value, json};

use crate::api_key::{ApiKey, KeyRole, RateLimit};
use crate::audit::{AuditDetails, NewAuditEntry};
use crate::execution::{Execution, ExecutionStatus};
use crate::ids::{AccountId, KeyId, Label};
use crate::job::JobType;
use crate::time::UtcTime;

/// The `details` version of pipelog's job events, as in seed 002.
const JOB_EVENTS_VERSION: &str = "2";
/// The `details` version of pipelog's own (non-seed) events.
const OWN_EVENTS_VERSION: &str = "1";

fn entry(
    entity_type: &str,
    event_type: &str,
    version: &str,
    at: UtcTime,
    details: Map<String, Value>,
) -> NewAuditEntry {
    NewAuditEntry {
        id: None,
        time_generated: Some(at),
        entity_type: Label::parse(entity_type).expect("a fixed entity type"),
        event_type: Label::parse(event_type).expect("a fixed event type"),
        version: Label::parse(version).expect("a fixed version"),
        // pipelog's own details are small and flat: far within the bounds.
        details: AuditDetails::from_stored(details),
    }
}

fn insert(details: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        details.insert(key.to_owned(), Value::String(value));
    }
}

/// What every job event says about the execution and its job.
fn job_details(execution: &Execution) -> Map<String, Value> {
    let account = execution.account_id.to_string();
    let mut details = Map::new();
    details.insert("accountId".into(), json!(account));
    insert(
        &mut details,
        "userId",
        execution.launched_by.map(|key| key.to_string()),
    );
    details.insert("jobOwnerAccountId".into(), json!(account));
    details.insert("jobId".into(), json!(execution.job.id.to_string()));
    details.insert("jobInstanceId".into(), json!(execution.id.to_string()));
    insert(
        &mut details,
        "pipelineId",
        execution.job.pipeline_id.as_ref().map(|id| id.to_string()),
    );
    details
}

/// `job.queue`: an execution was created and queued.
pub fn job_queue(execution: &Execution) -> NewAuditEntry {
    let mut details = job_details(execution);
    details.insert(
        "actionOrigin".into(),
        json!(execution.action_origin.as_str()),
    );
    details.insert("jobType".into(), json!(execution.job.job_type.as_str()));
    match execution.job.job_type {
        JobType::User => {
            details.insert("jobKey".into(), json!(execution.job.key.as_str()));
            insert(
                &mut details,
                "jobTitle",
                execution.job.title.as_ref().map(|title| title.to_string()),
            );
            details.insert(
                "jobPeriodicity".into(),
                Value::Array(execution.job.periodicity.clone()),
            );
        }
        JobType::System => insert(
            &mut details,
            "systemJobType",
            execution
                .job
                .system_job_type
                .as_ref()
                .map(|kind| kind.to_string()),
        ),
    }
    entry(
        "job",
        "job.queue",
        JOB_EVENTS_VERSION,
        execution.queued_at,
        details,
    )
}

/// `job.start`: a queued execution began to run (started, claimed by a worker, or created
/// running by its first log line).
pub fn job_start(execution: &Execution) -> NewAuditEntry {
    let mut details = job_details(execution);
    details.insert("jobKey".into(), json!(execution.job.key.as_str()));
    insert(
        &mut details,
        "jobTitle",
        execution.job.title.as_ref().map(|title| title.to_string()),
    );
    let started_at = execution.started_at.unwrap_or(execution.updated_at);
    details.insert("jobInstanceStartAt".into(), json!(started_at.to_string()));
    entry("job", "job.start", JOB_EVENTS_VERSION, started_at, details)
}

/// `job.end`: an execution ended, with its final status and times.
pub fn job_end(execution: &Execution) -> NewAuditEntry {
    let mut details = job_details(execution);
    insert(
        &mut details,
        "jobTitle",
        execution.job.title.as_ref().map(|title| title.to_string()),
    );
    let status = match execution.status {
        ExecutionStatus::Ended(status) => status.as_str(),
        other => other.as_str(),
    };
    details.insert("jobInstanceStatus".into(), json!(status));
    details.insert(
        "jobInstanceUpdatedAt".into(),
        json!(execution.updated_at.to_string()),
    );
    insert(
        &mut details,
        "jobInstanceStartAt",
        execution.started_at.map(|at| at.to_string()),
    );
    let ended_at = execution.ended_at.unwrap_or(execution.updated_at);
    details.insert("jobInstanceEndAt".into(), json!(ended_at.to_string()));
    entry("job", "job.end", JOB_EVENTS_VERSION, ended_at, details)
}

fn key_details(key: &ApiKey, actor: Option<KeyId>) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("accountId".into(), json!(key.account_id.to_string()));
    insert(&mut details, "userId", actor.map(|actor| actor.to_string()));
    details.insert("keyId".into(), json!(key.id.to_string()));
    insert(
        &mut details,
        "keyName",
        key.name.as_ref().map(|name| name.to_string()),
    );
    details
}

/// `key.create`: a key was made, by `actor` (`None`: the operator's command line, or
/// pipelog's first start).
pub fn key_create(key: &ApiKey, actor: Option<KeyId>) -> NewAuditEntry {
    let mut details = key_details(key, actor);
    details.insert(
        "permissions".into(),
        Value::Array(key.permissions.iter().map(|p| json!(p.name())).collect()),
    );
    details.insert(
        "rateLimit".into(),
        match key.rate_limit {
            RateLimit::ServerDefault => Value::Null,
            other => json!(other.to_option()),
        },
    );
    details.insert(
        "role".into(),
        json!(match key.role {
            KeyRole::Operator => "OPERATOR",
            KeyRole::Account => "ACCOUNT",
        }),
    );
    entry(
        "key",
        "key.create",
        OWN_EVENTS_VERSION,
        key.created_at,
        details,
    )
}

/// `execution_logs.delete`: `actor` deleted the `deleted` stored lines of an execution.
pub fn execution_logs_delete(
    execution: &Execution,
    deleted: u64,
    actor: Option<KeyId>,
    at: UtcTime,
) -> NewAuditEntry {
    let mut details = Map::new();
    details.insert("accountId".into(), json!(execution.account_id.to_string()));
    insert(&mut details, "userId", actor.map(|actor| actor.to_string()));
    details.insert("jobId".into(), json!(execution.job.id.to_string()));
    details.insert("jobInstanceId".into(), json!(execution.id.to_string()));
    details.insert("deletedLines".into(), json!(deleted));
    entry(
        "execution_logs",
        "execution_logs.delete",
        OWN_EVENTS_VERSION,
        at,
        details,
    )
}

/// `retention.update`: `actor` changed how many days of `stream` the account keeps
/// (`None`: the server's default).
pub fn retention_update(
    account: AccountId,
    stream: &str,
    days: Option<u32>,
    previous: Option<u32>,
    actor: Option<KeyId>,
    at: UtcTime,
) -> NewAuditEntry {
    let mut details = Map::new();
    details.insert("accountId".into(), json!(account.to_string()));
    insert(&mut details, "userId", actor.map(|actor| actor.to_string()));
    details.insert("stream".into(), json!(stream));
    details.insert("days".into(), json!(days));
    details.insert("previousDays".into(), json!(previous));
    entry(
        "account",
        "retention.update",
        OWN_EVENTS_VERSION,
        at,
        details,
    )
}

/// `key.revoke`: a key was revoked by `actor`.
pub fn key_revoke(key: &ApiKey, actor: Option<KeyId>) -> NewAuditEntry {
    let at = key.revoked_at.unwrap_or(key.created_at);
    entry(
        "key",
        "key.revoke",
        OWN_EVENTS_VERSION,
        at,
        key_details(key, actor),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::{ActionOrigin, FinalStatus};
    use crate::ids::{Cid, ExecutionId, JobId, JobKey};
    use crate::job::Job;

    fn execution() -> Execution {
        let at = |text| UtcTime::parse(text).unwrap();
        Execution {
            id: ExecutionId::parse("67a0bf50-d57e-4d1d-bc25-4713c0000000").unwrap(),
            account_id: AccountId::new(4201),
            cid: Cid::parse("c1").unwrap(),
            job: Job {
                id: JobId::parse("67a0bdc2-d57e-4d1d-bc25-4713b0000000").unwrap(),
                key: JobKey::parse("export-items_api_1").unwrap(),
                title: Some(Label::parse("export-items_api").unwrap()),
                job_type: JobType::User,
                system_job_type: None,
                periodicity: vec![],
                pipeline_id: Some(Label::parse("674f4b87761a6b19c9f0ee74").unwrap()),
            },
            status: ExecutionStatus::Queued,
            action_origin: ActionOrigin::Api,
            input: Map::new(),
            launched_by: Some(KeyId::parse("00000000-0000-4000-8000-000000000005").unwrap()),
            queued_at: at("2025-02-03T09:55:20Z"),
            started_at: None,
            ended_at: None,
            updated_at: at("2025-02-03T09:55:20Z"),
            next_seq: 0,
            first_seq: 0,
        }
    }

    fn keys(entry: &NewAuditEntry) -> Vec<&str> {
        let mut keys: Vec<&str> = entry.details.as_map().keys().map(String::as_str).collect();
        keys.sort();
        keys
    }

    #[test]
    fn job_queue_carries_the_seeds_fields() {
        let queued = job_queue(&execution());
        assert_eq!(queued.event_type.as_str(), "job.queue");
        assert_eq!(queued.entity_type.as_str(), "job");
        assert_eq!(queued.version.as_str(), "2");
        assert_eq!(
            keys(&queued),
            [
                "accountId",
                "actionOrigin",
                "jobId",
                "jobInstanceId",
                "jobKey",
                "jobOwnerAccountId",
                "jobPeriodicity",
                "jobTitle",
                "jobType",
                "pipelineId",
                "userId"
            ]
        );
        let details = queued.details.as_map();
        assert_eq!(details["accountId"], "4201");
        assert_eq!(details["jobPeriodicity"], json!([]));
        assert_eq!(details["actionOrigin"], "API");
    }

    #[test]
    fn a_system_job_names_its_kind_instead() {
        let mut system = execution();
        system.job.job_type = JobType::System;
        system.job.system_job_type = Some(Label::parse("refresh-items-system").unwrap());
        system.launched_by = None;
        let queued = job_queue(&system);
        let keys = keys(&queued);
        assert!(keys.contains(&"systemJobType"));
        assert!(
            !keys.contains(&"jobKey") && !keys.contains(&"jobTitle") && !keys.contains(&"userId")
        );
    }

    #[test]
    fn job_end_carries_the_seeds_fields_and_times() {
        let mut ended = execution();
        ended.status = ExecutionStatus::Ended(FinalStatus::Completed);
        ended.started_at = Some(UtcTime::parse("2025-02-03T09:55:26.058Z").unwrap());
        ended.ended_at = Some(UtcTime::parse("2025-02-03T09:55:29.301Z").unwrap());
        ended.updated_at = ended.ended_at.unwrap();
        let entry = job_end(&ended);
        assert_eq!(
            keys(&entry),
            [
                "accountId",
                "jobId",
                "jobInstanceEndAt",
                "jobInstanceId",
                "jobInstanceStartAt",
                "jobInstanceStatus",
                "jobInstanceUpdatedAt",
                "jobOwnerAccountId",
                "jobTitle",
                "pipelineId",
                "userId"
            ]
        );
        let details = entry.details.as_map();
        assert_eq!(details["jobInstanceStatus"], "COMPLETED");
        assert_eq!(details["jobInstanceStartAt"], "2025-02-03T09:55:26.058Z");
        assert_eq!(details["jobInstanceEndAt"], "2025-02-03T09:55:29.301Z");
        assert_eq!(entry.time_generated, ended.ended_at);
    }
}
