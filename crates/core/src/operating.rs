//! Operating log items (seed 004): one data operation followed from the publisher that sent
//! it, through the platform, to every consumer, one item per thing that happened.
//!
//! The words (`InputData`, `Application|Start`, `Warning`, ...) are the seed's. What the seed
//! leaves open is decided in SPEC.md, "Operating logs", and checked here once, when a
//! [`NewOperatingItem`] is built: an item that exists has an activity that fits its
//! operation type, a scope id when it opens or closes a scope, and a category that says
//! whether it is the platform's (system level) or an application's.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{AgentId, Label, OperatingItemId, OperationId, SourceId};
use crate::text_enum;
use crate::time::UtcTime;

text_enum! {
    /// The phase of data processing an item belongs to.
    pub enum OperationType ("operation type") {
        /// The publisher sends data to the platform.
        InputData = "InputData",
        /// The platform processes it and notifies consumers.
        Transform = "Transform",
        /// A consumer takes it, validates and processes it.
        ConsumeData = "ConsumeData",
        /// An agent's own status, outside any data flow.
        AgentStatus = "AgentStatus",
        /// Cross-service action requests and responses.
        Coordination = "Coordination",
    }
}

text_enum! {
    /// What happened, within an operation type. The `Application|...` activities are the
    /// milestones and scopes statistics are computed from; the constant names of the seed's
    /// client library (`ApplicationStart`) are accepted as input too.
    pub enum ActivityType ("activity type") {
        Start = "Application|Start" | "ApplicationStart",
        Ack = "Application|Ack" | "ApplicationAck",
        Begin = "Application|Begin" | "ApplicationBegin",
        End = "Application|End" | "ApplicationEnd",
        Finish = "Application|Finish" | "ApplicationFinish",
        Validation = "Validation",
        ProcessingResult = "ProcessingResult",
        ActionRequest = "ActionRequest",
        ActionResponse = "ActionResponse",
    }
}

impl ActivityType {
    /// A milestone: a moment, not paired with anything.
    pub fn is_milestone(self) -> bool {
        matches!(
            self,
            ActivityType::Start | ActivityType::Ack | ActivityType::Finish
        )
    }

    /// The operation types this activity may be logged in.
    pub fn allowed_in(self) -> &'static [OperationType] {
        use OperationType::*;
        match self {
            // The seed names InputData and ConsumeData; the platform's own Transform phase is
            // measured the same way (the "platform" component of the statistics).
            ActivityType::Start
            | ActivityType::Begin
            | ActivityType::End
            | ActivityType::Finish => &[InputData, Transform, ConsumeData],
            ActivityType::Ack => &[ConsumeData],
            // The seed documents both in ConsumeData and shows ProcessingResult in Transform.
            ActivityType::Validation | ActivityType::ProcessingResult => &[Transform, ConsumeData],
            ActivityType::ActionRequest | ActivityType::ActionResponse => &[Coordination],
        }
    }
}

text_enum! {
    /// How serious an item is; ordered, so that `severityLevel` is a minimum.
    pub enum StatusSeverity ("severity") {
        Info = "Info",
        Warning = "Warning",
        Error = "Error",
    }
}

impl StatusSeverity {
    /// The number stored for it: ordered like the severities.
    pub fn rank(self) -> i64 {
        match self {
            StatusSeverity::Info => 0,
            StatusSeverity::Warning => 1,
            StatusSeverity::Error => 2,
        }
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        StatusSeverity::ALL
            .iter()
            .copied()
            .find(|severity| severity.rank() == rank)
    }
}

text_enum! {
    /// The built-in categories of system-level items.
    pub enum SystemCategory ("system category") {
        LookupEntityReference = "LookupEntityReference",
        InputDataConversion = "InputDataConversion",
        InputDataLocalization = "InputDataLocalization",
        InputDataProjection = "InputDataProjection",
        MappingTransformation = "MappingTransformation",
    }
}

text_enum! {
    /// A query filter grouping items by their end-to-end context (SPEC.md, "Operating logs").
    pub enum OperationScope ("operation scope") {
        PublishData = "PublishData",
        PublishDataWithConsumerFeedback = "PublishDataWithConsumerFeedback",
        ConsumerFeedbackOnly = "ConsumerFeedbackOnly",
        ConsumeData = "ConsumeData",
        AgentStatus = "AgentStatus",
        Coordination = "Coordination",
    }
}

impl OperationScope {
    /// The operation types the scope takes in.
    pub fn operation_types(self) -> &'static [OperationType] {
        use OperationType::*;
        match self {
            OperationScope::PublishData => &[InputData, Transform],
            OperationScope::PublishDataWithConsumerFeedback => &[InputData, Transform, ConsumeData],
            OperationScope::ConsumerFeedbackOnly | OperationScope::ConsumeData => &[ConsumeData],
            OperationScope::AgentStatus => &[AgentStatus],
            OperationScope::Coordination => &[Coordination],
        }
    }

    /// Whether it looks from the publisher's side: there, `sourceId` also matches consumer
    /// items whose `publisherSourceId` is that source.
    pub fn is_publisher_side(self) -> bool {
        matches!(
            self,
            OperationScope::PublishData
                | OperationScope::PublishDataWithConsumerFeedback
                | OperationScope::ConsumerFeedbackOnly
        )
    }

    /// Whether a query with it must be narrowed to an operation or a start time (the seed's
    /// "required time window" for the consumer side).
    pub fn needs_operation_or_window(self) -> bool {
        self == OperationScope::ConsumeData
    }
}

/// An application's own category name (`customCategory`).
pub type CustomCategoryName = Label<128>;

/// What kind of information an item carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// An application item without a category of its own.
    Custom,
    /// An application item in its own category, shown as `Custom|<name>`.
    CustomNamed(CustomCategoryName),
    /// A system-level item in one of the built-in categories.
    System(SystemCategory),
}

impl Category {
    /// Reads back a category as `Display` writes it (`Custom`, `Custom|<name>` or the
    /// system category).
    pub fn from_stored(text: &str) -> Self {
        if let Some(name) = text.strip_prefix("Custom|") {
            return Label::parse(name)
                .map(Category::CustomNamed)
                .unwrap_or(Category::Custom);
        }
        SystemCategory::parse(text)
            .map(Category::System)
            .unwrap_or(Category::Custom)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Category::Custom => f.write_str("Custom"),
            Category::CustomNamed(name) => write!(f, "Custom|{name}"),
            Category::System(system) => f.write_str(system.as_str()),
        }
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Free text of an item (its message, a line of its details): at most `MAX` bytes; line
/// breaks and tabs allowed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ItemText<const MAX: usize>(String);

impl<const MAX: usize> ItemText<MAX> {
    pub const MAX_LEN: usize = MAX;

    pub fn parse(text: String) -> Result<Self, String> {
        if text.len() > MAX {
            return Err(format!(
                "must be at most {MAX} bytes long, got {}",
                text.len()
            ));
        }
        Ok(ItemText(text))
    }

    /// Text read back from storage, where it was checked when written.
    pub fn from_stored(text: String) -> Self {
        ItemText(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de, const MAX: usize> Deserialize<'de> for ItemText<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ItemText::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// An item's message.
pub type ItemMessage = ItemText<65_536>;
/// One line of an item's technical details.
pub type DetailLine = ItemText<16_384>;
/// The human-readable name of an item's owner (`source`).
pub type SourceName = Label<256>;
/// A data agent's code.
pub type AgentCode = Label<128>;
/// Pairs a Begin with its End.
pub type ScopeId = Label<128>;
/// A writer's own id for an item, unique within its account: an item whose id the account
/// already holds is not recorded again, so a writer may resend items after any failure.
pub type ClientItemId = Label<128>;
/// A custom field's key.
pub type CustomFieldKey = Label<256>;
/// A custom field's value.
pub type CustomFieldValue = ItemText<4_096>;

/// At most this many lines of details per item.
pub const MAX_DETAILS: usize = 100;
/// At most this many custom fields per item.
pub const MAX_CUSTOM_FIELDS: usize = 100;

/// One `{key, value}` of an item's `customFields`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomField {
    pub key: CustomFieldKey,
    pub value: CustomFieldValue,
}

/// The data agent a key stands for: items written with the key carry these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataAgent {
    pub agent_id: AgentId,
    pub agent_code: Option<AgentCode>,
    /// The agent's data source, used when an item names none.
    pub source_id: Option<SourceId>,
}

/// An item as a writer describes it, before the rules are checked: what the server parsed
/// from a request body, field by field.
#[derive(Clone, Debug, Default)]
pub struct OperatingItemDraft {
    pub operation_id: Option<OperationId>,
    pub operation_type: Option<OperationType>,
    pub activity_type: Option<ActivityType>,
    pub severity: Option<StatusSeverity>,
    pub system_level: Option<bool>,
    /// `customCategory`, or (for system-level items) the system category's name.
    pub custom_category: Option<CustomCategoryName>,
    pub message: Option<ItemMessage>,
    pub details: Vec<DetailLine>,
    pub custom_fields: Vec<CustomField>,
    pub source: Option<SourceName>,
    pub agent_id: Option<AgentId>,
    pub source_id: Option<SourceId>,
    pub publisher_source_id: Option<SourceId>,
    pub utc_timestamp: Option<UtcTime>,
    pub scope_id: Option<ScopeId>,
    pub client_id: Option<ClientItemId>,
}

/// A draft that breaks a rule: names the field at fault and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {problem}")]
pub struct InvalidItem {
    pub field: &'static str,
    pub problem: String,
}

impl InvalidItem {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        InvalidItem {
            field,
            problem: problem.into(),
        }
    }
}

/// An item to be stored; every rule holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewOperatingItem {
    pub operation_id: OperationId,
    pub operation_type: OperationType,
    pub activity_type: Option<ActivityType>,
    pub severity: StatusSeverity,
    pub system_level: bool,
    pub category: Category,
    pub message: Option<ItemMessage>,
    pub details: Vec<DetailLine>,
    pub custom_fields: Vec<CustomField>,
    pub source: Option<SourceName>,
    pub agent_id: Option<AgentId>,
    pub agent_code: Option<AgentCode>,
    pub source_id: Option<SourceId>,
    pub publisher_source_id: Option<SourceId>,
    pub utc_timestamp: Option<UtcTime>,
    pub scope_id: Option<ScopeId>,
    /// The writer's id for the item (pipelog's addition to seed 004).
    pub client_id: Option<ClientItemId>,
}

impl NewOperatingItem {
    /// Checks a draft written with a key that may stand for `agent`.
    pub fn new(draft: OperatingItemDraft, agent: Option<&DataAgent>) -> Result<Self, InvalidItem> {
        let operation_type = draft.operation_type.ok_or_else(|| {
            InvalidItem::new(
                "operationType",
                format!("is required, one of {}", OperationType::WORDS.join(", ")),
            )
        })?;
        if let Some(activity) = draft.activity_type
            && !activity.allowed_in().contains(&operation_type)
        {
            let allowed: Vec<&str> = activity
                .allowed_in()
                .iter()
                .map(|kind| kind.as_str())
                .collect();
            return Err(InvalidItem::new(
                "activityType",
                format!(
                    "{activity} is not logged in operation type {operation_type}; it belongs to {}",
                    allowed.join(", ")
                ),
            ));
        }
        let scope_id = draft.scope_id.filter(|scope| !scope.as_str().is_empty());
        if matches!(
            draft.activity_type,
            Some(ActivityType::Begin | ActivityType::End)
        ) && scope_id.is_none()
        {
            return Err(InvalidItem::new(
                "scopeId",
                "is required for Application|Begin and Application|End: the pair shares it",
            ));
        }
        let system_level = draft.system_level.unwrap_or(false);
        let custom_category = draft
            .custom_category
            .filter(|name| !name.as_str().is_empty());
        let category = match (system_level, custom_category) {
            (false, None) => Category::Custom,
            (false, Some(name)) => Category::CustomNamed(name),
            (true, Some(name)) => {
                Category::System(SystemCategory::parse(name.as_str()).map_err(|error| {
                    InvalidItem::new(
                        "customCategory",
                        format!("a system-level item's category: {error}"),
                    )
                })?)
            }
            (true, None) => {
                return Err(InvalidItem::new(
                    "customCategory",
                    format!(
                        "a system-level item names its category, one of {}",
                        SystemCategory::WORDS.join(", ")
                    ),
                ));
            }
        };
        if draft.details.len() > MAX_DETAILS {
            return Err(InvalidItem::new(
                "details",
                format!("at most {MAX_DETAILS} lines, got {}", draft.details.len()),
            ));
        }
        if draft.custom_fields.len() > MAX_CUSTOM_FIELDS {
            return Err(InvalidItem::new(
                "customFields",
                format!(
                    "at most {MAX_CUSTOM_FIELDS} fields, got {}",
                    draft.custom_fields.len()
                ),
            ));
        }
        let (agent_id, agent_code, source_id) = match agent {
            None => (draft.agent_id, None, draft.source_id),
            Some(agent) => {
                if let Some(given) = draft.agent_id
                    && given != agent.agent_id
                {
                    return Err(InvalidItem::new(
                        "agentId",
                        format!(
                            "this key writes for agent {}; leave agentId out or give that one",
                            agent.agent_id
                        ),
                    ));
                }
                (
                    Some(agent.agent_id),
                    agent.agent_code.clone(),
                    draft.source_id.or(agent.source_id),
                )
            }
        };
        Ok(NewOperatingItem {
            operation_id: draft.operation_id.unwrap_or_else(OperationId::generate),
            operation_type,
            activity_type: draft.activity_type,
            severity: draft.severity.unwrap_or(StatusSeverity::Info),
            system_level,
            category,
            message: draft.message,
            details: draft.details,
            custom_fields: draft.custom_fields,
            source: draft.source,
            agent_id,
            agent_code,
            source_id,
            publisher_source_id: draft.publisher_source_id,
            utc_timestamp: draft.utc_timestamp,
            scope_id,
            client_id: draft.client_id,
        })
    }
}

/// A stored item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatingItem {
    pub id: OperatingItemId,
    /// When pipelog recorded it.
    pub created_on: UtcTime,
    pub item: NewOperatingItem,
}

impl OperatingItem {
    /// When it happened: the writer's `utcTimestamp` if given, else `createdOn`.
    pub fn event_time(&self) -> UtcTime {
        self.item.utc_timestamp.unwrap_or(self.created_on)
    }

    /// What statistics and charts need of it.
    pub fn timing(&self) -> ItemTiming {
        ItemTiming {
            id: self.id,
            operation_type: self.item.operation_type,
            activity_type: self.item.activity_type,
            severity: self.item.severity,
            source_id: self.item.source_id,
            scope_id: self.item.scope_id.clone(),
            at: self.event_time(),
        }
    }
}

/// The part of an item that statistics and Gantt charts read: small enough to read a
/// million of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemTiming {
    pub id: OperatingItemId,
    pub operation_type: OperationType,
    pub activity_type: Option<ActivityType>,
    pub severity: StatusSeverity,
    pub source_id: Option<SourceId>,
    pub scope_id: Option<ScopeId>,
    /// The item's event time (`utcTimestamp`, else `createdOn`).
    pub at: UtcTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(kind: OperationType, activity: Option<ActivityType>) -> OperatingItemDraft {
        OperatingItemDraft {
            operation_type: Some(kind),
            activity_type: activity,
            ..OperatingItemDraft::default()
        }
    }

    #[test]
    fn words_are_the_seeds_and_parse_in_any_case() {
        assert_eq!(ActivityType::Start.as_str(), "Application|Start");
        assert_eq!(
            ActivityType::parse("application|finish"),
            Ok(ActivityType::Finish)
        );
        assert_eq!(ActivityType::parse("ApplicationAck"), Ok(ActivityType::Ack));
        assert!(StatusSeverity::Info < StatusSeverity::Warning);
        assert_eq!(
            OperationScope::parse("consumerfeedbackonly"),
            Ok(OperationScope::ConsumerFeedbackOnly)
        );
        let error = OperationType::parse("Load").unwrap_err().to_string();
        assert_eq!(
            error,
            "unknown operation type `Load`, expected one of InputData, Transform, ConsumeData, AgentStatus, Coordination"
        );
    }

    #[test]
    fn activities_must_fit_their_operation_type() {
        use ActivityType::*;
        use OperationType::*;
        let check = |kind, activity| {
            NewOperatingItem::new(draft(kind, Some(activity)), None).map_err(|error| error.field)
        };
        assert!(check(ConsumeData, Ack).is_ok());
        assert_eq!(check(InputData, Ack), Err("activityType"));
        assert_eq!(check(InputData, ActionRequest), Err("activityType"));
        assert!(check(Coordination, ActionResponse).is_ok());
        assert!(check(Transform, ProcessingResult).is_ok());
        assert_eq!(check(AgentStatus, Validation), Err("activityType"));
        // Begin and End need the scope that pairs them.
        assert_eq!(check(InputData, Begin), Err("scopeId"));
        let mut scoped = draft(InputData, Some(End));
        scoped.scope_id = Some(Label::parse("s-1").unwrap());
        assert!(NewOperatingItem::new(scoped, None).is_ok());
    }

    #[test]
    fn categories_and_defaults() {
        let item = NewOperatingItem::new(draft(OperationType::InputData, None), None).unwrap();
        assert_eq!(item.category.to_string(), "Custom");
        assert_eq!(item.severity, StatusSeverity::Info);

        let mut named = draft(OperationType::InputData, None);
        named.custom_category = Some(Label::parse("ABC").unwrap());
        let item = NewOperatingItem::new(named, None).unwrap();
        assert_eq!(item.category.to_string(), "Custom|ABC");
        assert_eq!(Category::from_stored("Custom|ABC"), item.category);

        let mut system = draft(OperationType::Transform, None);
        system.system_level = Some(true);
        assert_eq!(
            NewOperatingItem::new(system.clone(), None)
                .unwrap_err()
                .field,
            "customCategory"
        );
        system.custom_category = Some(Label::parse("mappingtransformation").unwrap());
        let item = NewOperatingItem::new(system, None).unwrap();
        assert_eq!(item.category.to_string(), "MappingTransformation");
        assert_eq!(
            Category::from_stored("MappingTransformation"),
            item.category
        );
    }

    #[test]
    fn a_data_agent_key_fills_the_agent_fields() {
        let agent = DataAgent {
            agent_id: AgentId::generate(),
            agent_code: Some(Label::parse("erp-eu").unwrap()),
            source_id: Some(SourceId::generate()),
        };
        let item =
            NewOperatingItem::new(draft(OperationType::InputData, None), Some(&agent)).unwrap();
        assert_eq!(item.agent_id, Some(agent.agent_id));
        assert_eq!(item.agent_code, agent.agent_code);
        assert_eq!(item.source_id, agent.source_id);

        let mut other = draft(OperationType::InputData, None);
        other.agent_id = Some(AgentId::generate());
        assert_eq!(
            NewOperatingItem::new(other, Some(&agent))
                .unwrap_err()
                .field,
            "agentId"
        );
    }
}
