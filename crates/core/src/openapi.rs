//! OpenAPI schemas of core's single values (with the `openapi` feature): what each looks
//! like on the wire, as its serde impl writes and reads it, and the bounds its parser
//! enforces. The API documents built from them live in the server.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::api_key::RateLimit;
use crate::audit::{AuditDetails, AuditId, ChainHash};
use crate::execution::{ExecutionStatus, FinalStatus};
use crate::export::ExportToken;
use crate::ids::{
    AccountId, AccountName, AgentId, Cid, ExecutionId, JobId, JobKey, KeyId, Label,
    OperatingItemId, OperationId, SourceId,
};
use crate::log_entry::{LogAttributes, LogEntryId, LogMessage};
use crate::operating::{Category, ItemText};
use crate::permission::{Permission, PermissionSet};
use crate::time::UtcTime;

/// A string schema.
pub fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// A string of one of `words`.
pub fn words(description: &str, words: &[&str]) -> RefOr<Schema> {
    string(description)
        .enum_values(Some(words.iter().copied()))
        .into()
}

/// A JSON object of any fields.
fn any_object(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .into()
}

/// Implements the schema traits for a type with a fixed schema.
macro_rules! schema {
    ($type:ty, $schema:expr) => {
        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }
        impl ToSchema for $type {}
    };
}

fn uuid(description: &str) -> RefOr<Schema> {
    string(description)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}

schema!(
    ExecutionId,
    uuid("An execution's id (the seeds' jobInstanceId).")
);
schema!(JobId, uuid("A job's id."));
schema!(
    KeyId,
    uuid("An API key's public id (never the key itself).")
);
schema!(
    OperationId,
    uuid("A data operation's id (seed 004's operationId).")
);
schema!(OperatingItemId, uuid("An operating log item's id."));
schema!(AgentId, uuid("A data agent's id."));
schema!(SourceId, uuid("A data source's id."));
schema!(ExportToken, uuid("An export's token."));

schema!(
    UtcTime,
    string(
        "An instant, ISO 8601 in UTC with milliseconds (2026-04-07T10:30:00.000Z). Any offset \
         and any number of fraction digits are accepted on input."
    )
    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
    .into()
);
schema!(
    AccountId,
    string("An account's id, as a decimal string.")
        .pattern(Some("^[0-9]+$"))
        .into()
);
schema!(
    AccountName,
    string("An account's name.")
        .min_length(Some(1))
        .max_length(Some(AccountName::MAX_LEN))
        .pattern(Some("^[A-Za-z0-9][A-Za-z0-9._-]*$"))
        .into()
);
schema!(
    Cid,
    string("A correlation id naming an execution: visible ASCII, no spaces.")
        .min_length(Some(1))
        .max_length(Some(Cid::MAX_LEN))
        .pattern(Some("^[!-~]+$"))
        .into()
);
schema!(
    JobKey,
    string("A job's key, unique within its account; no control characters.")
        .min_length(Some(1))
        .max_length(Some(JobKey::MAX_LEN))
        .into()
);
schema!(
    LogMessage,
    string("A log line's text: any UTF-8.")
        .max_length(Some(LogMessage::MAX_LEN))
        .into()
);
schema!(
    LogAttributes,
    any_object("Structured fields of a log line, at most 16 KiB as JSON.")
);
schema!(
    LogEntryId,
    string("A log line's id: its execution's id and its seq, `<executionId>:<seq>`.").into()
);
schema!(
    AuditId,
    string("An audit entry's id: the client's, or one pipelog made.").into()
);
schema!(
    AuditDetails,
    any_object("An audit entry's details: a JSON object, bounded in size and depth.")
);
schema!(
    ChainHash,
    string("A SHA-256 hash in hex.")
        .pattern(Some("^[0-9a-f]{64}$"))
        .into()
);
schema!(ExecutionStatus, {
    let mut all = vec!["QUEUED", "RUNNING"];
    all.extend_from_slice(FinalStatus::WORDS);
    words("Where an execution is in its life.", &all)
});
schema!(
    Category,
    string("An operating log item's category: a standard one, or a custom name.").into()
);
schema!(
    Permission,
    words("A permission.", &Permission::ALL.map(Permission::name))
);
schema!(
    PermissionSet,
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(Permission::schema())
        .description(Some("Permissions."))
        .into()
);

schema!(
    RateLimit,
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(0))
        .description(Some(
            "Requests per minute; 0 for no limit; null for the server's default."
        ))
        .into()
);

impl<const MAX: usize> PartialSchema for Label<MAX> {
    fn schema() -> RefOr<Schema> {
        string("Text without control characters.")
            .max_length(Some(MAX))
            .into()
    }
}

impl<const MAX: usize> ToSchema for Label<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Text{MAX}"))
    }
}

impl<const MAX: usize> PartialSchema for ItemText<MAX> {
    fn schema() -> RefOr<Schema> {
        string("Free text; line breaks and tabs allowed.")
            .max_length(Some(MAX))
            .into()
    }
}

impl<const MAX: usize> ToSchema for ItemText<MAX> {
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("ItemText{MAX}"))
    }
}
