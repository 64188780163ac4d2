//! What the native API answers: JSON shapes built explicitly from core types.

use pipelog_core::api_key::{ApiKey, KeyName, KeyRole, RateLimit};
use pipelog_core::execution::{ActionOrigin, Execution, ExecutionStatus};
use pipelog_core::ids::{
    AccountId, AccountName, AgentId, Cid, ExecutionId, JobId, JobKey, KeyId, SourceId,
};
use pipelog_core::job::{JobTitle, JobType, PipelineId, SystemJobType};
use pipelog_core::log_entry::{
    ClientLineId, EmitterName, EventCorrelationId, LogAttributes, LogEntry, LogEntryId, LogMessage,
    MessageType, Severity,
};
use pipelog_core::operating::AgentCode;
use pipelog_core::permission::PermissionSet;
use pipelog_core::time::UtcTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A page of a list: `{data, nextCursor}`, `nextCursor` null on the last page.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListView<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExecutionView {
    id: ExecutionId,
    account_id: AccountId,
    cid: Cid,
    status: ExecutionStatus,
    action_origin: ActionOrigin,
    job_id: JobId,
    job_key: JobKey,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_title: Option<JobTitle>,
    job_type: JobType,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_job_type: Option<SystemJobType>,
    #[schema(value_type = Vec<Value>)]
    job_periodicity: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pipeline_id: Option<PipelineId>,
    #[schema(value_type = Object)]
    input: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    launched_by: Option<KeyId>,
    queued_at: UtcTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<UtcTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ended_at: Option<UtcTime>,
    updated_at: UtcTime,
    /// Lines written so far.
    log_count: u64,
}

impl From<Execution> for ExecutionView {
    fn from(execution: Execution) -> Self {
        ExecutionView {
            id: execution.id,
            account_id: execution.account_id,
            cid: execution.cid,
            status: execution.status,
            action_origin: execution.action_origin,
            job_id: execution.job.id,
            job_key: execution.job.key,
            job_title: execution.job.title,
            job_type: execution.job.job_type,
            system_job_type: execution.job.system_job_type,
            job_periodicity: execution.job.periodicity,
            pipeline_id: execution.job.pipeline_id,
            input: execution.input,
            launched_by: execution.launched_by,
            queued_at: execution.queued_at,
            started_at: execution.started_at,
            ended_at: execution.ended_at,
            updated_at: execution.updated_at,
            log_count: execution.next_seq,
        }
    }
}

/// A stored log line. Carries the Data Factory fields (`code`, `jobInstanceId`, `cid`,
/// `accountId`) as well as pipelog's (`seq`, `executionId`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEntryView {
    id: LogEntryId,
    execution_id: ExecutionId,
    job_instance_id: ExecutionId,
    account_id: AccountId,
    cid: Cid,
    seq: u64,
    created_at: UtcTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<UtcTime>,
    code: &'static str,
    severity: Severity,
    message: LogMessage,
    message_type: MessageType,
    #[serde(skip_serializing_if = "Option::is_none")]
    emitter_name: Option<EmitterName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_correlation_id: Option<EventCorrelationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attributes: Option<LogAttributes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<ClientLineId>,
    /// With `render=html`: the message as safe HTML (markdown rendered and sanitised, or
    /// text escaped with its ANSI colours as `ansi-*` classed spans).
    #[serde(skip_serializing_if = "Option::is_none")]
    message_html: Option<String>,
}

impl LogEntryView {
    pub(crate) fn new(entry: LogEntry, execution: &Execution) -> Self {
        LogEntryView {
            id: entry.id(),
            execution_id: entry.execution_id,
            job_instance_id: entry.execution_id,
            account_id: execution.account_id,
            cid: execution.cid.clone(),
            seq: entry.seq,
            created_at: entry.created_at,
            timestamp: entry.line.timestamp,
            code: "LOG",
            severity: entry.line.severity,
            message: entry.line.message,
            message_type: entry.line.message_type,
            emitter_name: entry.line.emitter_name,
            event_correlation_id: entry.line.event_correlation_id,
            attributes: entry.line.attributes,
            client_id: entry.line.client_id,
            message_html: None,
        }
    }

    /// The same line with `messageHtml` filled in when `render` says so (never in a build
    /// without the console, which only the fuzz targets make).
    pub(crate) fn rendered(self, render: Render) -> Self {
        match render {
            #[cfg(feature = "console")]
            Render::Html => {
                let html = crate::render::message_html(self.message.as_str(), self.message_type);
                LogEntryView {
                    message_html: Some(html),
                    ..self
                }
            }
            _ => self,
        }
    }
}

/// What `render=` asks of the lines a read answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Render {
    /// The message alone (the default).
    #[default]
    None,
    /// `messageHtml` too.
    Html,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyView {
    id: KeyId,
    account: AccountName,
    account_id: AccountId,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<KeyName>,
    permissions: PermissionSet,
    /// Requests per minute; 0 for none; null for the server's default.
    rate_limit: RateLimit,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent: Option<AgentView>,
    created_at: UtcTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<UtcTime>,
}

/// The data agent a key stands for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct AgentView {
    agent_id: AgentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_code: Option<AgentCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_id: Option<SourceId>,
}

impl From<ApiKey> for KeyView {
    fn from(key: ApiKey) -> Self {
        KeyView {
            id: key.id,
            account: key.account,
            account_id: key.account_id,
            name: key.name,
            permissions: key.permissions,
            rate_limit: key.rate_limit,
            role: match key.role {
                KeyRole::Operator => "OPERATOR",
                KeyRole::Account => "ACCOUNT",
            },
            agent: key.agent.map(|agent| AgentView {
                agent_id: agent.agent_id,
                agent_code: agent.agent_code,
                source_id: agent.source_id,
            }),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
        }
    }
}

/// A key just created: the only answer that ever holds the key itself, in `key`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKeyView {
    #[serde(flatten)]
    pub view: KeyView,
    pub key: String,
}
