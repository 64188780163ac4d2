//! Statistics of operations (seed 004's "performance statistics"): how long each publisher,
//! the platform and each consumer took in one operation, and the same aggregated over many.
//!
//! Pure computation over [`ItemTiming`]s; the store reads the items, the server answers the
//! results as JSON (every output type serializes in camelCase). Durations are milliseconds.
//!
//! # Definitions
//!
//! - **Component** of an item: `InputData` → the publisher of its `sourceId`; `Transform` →
//!   the platform (one per operation, the item's source ignored); `ConsumeData` → the
//!   consumer of its `sourceId`. `AgentStatus` and `Coordination` items belong to no
//!   component and are ignored. A missing `sourceId` is a component of its own (keyed by
//!   none). Components are ordered publishers, platform, consumers, then by source id.
//! - **Milestones** of a component: *start* is the earliest event time of its
//!   `Application|Start` and `Application|Ack` items, *finish* the latest of its
//!   `Application|Finish` items. The **span** is finish − start when both exist and
//!   finish ≥ start. Otherwise it is absent and reported: `finishBeforeStart`,
//!   `startWithoutFinish`, `finishWithoutStart`.
//! - **Handover**: when the platform has no span of its own (no `Transform` Start and Finish)
//!   but the operation has a publisher Finish and a consumer Start or Ack, the platform's
//!   span is the earliest consumer start − the latest publisher finish (basis `handover`,
//!   else `milestones`). A negative difference gives no span and
//!   `consumerStartedBeforePublisherFinished`.
//! - **Scopes**: `Application|Begin` and `Application|End` items of a component are grouped
//!   by `scopeId`; within a scope, begins sorted by time and ends sorted by time are paired
//!   by position. A pair whose end is before its begin is `endBeforeBegin` and not counted;
//!   begins left over are `unpairedBegin`, ends left over `endWithoutBegin`; a Begin or End
//!   without a scope id pairs with nothing (`unpairedBegin`/`endWithoutBegin`), since
//!   records are reported, not guessed. The component's **scoped** time is the sum of the
//!   durations of its valid pairs (overlapping pairs are summed, not merged), present when
//!   there is at least one.
//! - **End to end**: the earliest Start/Ack of any component to the latest Finish of any
//!   component, when both exist and finish ≥ start (else absent; finish < start is
//!   `finishBeforeStart` with no component).
//! - **Validation**: per component, how many `Validation` items have severity Warning and
//!   how many Error.
//! - **Summary** of measurements: count, mean, median (the middle value, or the mean of the
//!   two middle values for an even count), min, max and p95 (nearest rank: the
//!   ⌈0.95·n⌉-th smallest value, counting from 1). For one operation each summary holds at
//!   most one value: that operation's measurement.
//!
//! Aggregating many operations ([`StatisticsAccumulator`]) keeps one `i64` per operation per
//! component and measurement (the median and p95 need them all) and nothing that grows with
//! the number of items.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::{OperatingItemId, OperationId, SourceId};
use crate::operating::{ActivityType, ItemTiming, OperationType, ScopeId, StatusSeverity};
use crate::time::UtcTime;

/// At most this many anomalies are kept as examples in [`AggregateStatistics`].
pub const MAX_ANOMALY_EXAMPLES: usize = 100;

/// Who a component is: the statistics' three roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ComponentKind {
    Publisher,
    Platform,
    Consumer,
}

impl ComponentKind {
    /// The operation type (phase) whose items make up components of this kind.
    pub fn operation_type(self) -> OperationType {
        match self {
            ComponentKind::Publisher => OperationType::InputData,
            ComponentKind::Platform => OperationType::Transform,
            ComponentKind::Consumer => OperationType::ConsumeData,
        }
    }
}

/// One component of an operation: a publisher or consumer per source id, or the platform
/// (whose source id is always `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComponentKey {
    // Field order is the sort order: kind first, then source id (none first).
    pub kind: ComponentKind,
    pub source_id: Option<SourceId>,
}

impl ComponentKey {
    pub fn publisher(source_id: Option<SourceId>) -> Self {
        ComponentKey {
            kind: ComponentKind::Publisher,
            source_id,
        }
    }

    pub fn platform() -> Self {
        ComponentKey {
            kind: ComponentKind::Platform,
            source_id: None,
        }
    }

    pub fn consumer(source_id: Option<SourceId>) -> Self {
        ComponentKey {
            kind: ComponentKind::Consumer,
            source_id,
        }
    }

    /// The component an item belongs to; `None` for `AgentStatus` and `Coordination` items.
    pub fn of(item: &ItemTiming) -> Option<Self> {
        match item.operation_type {
            OperationType::InputData => Some(ComponentKey::publisher(item.source_id)),
            OperationType::Transform => Some(ComponentKey::platform()),
            OperationType::ConsumeData => Some(ComponentKey::consumer(item.source_id)),
            OperationType::AgentStatus | OperationType::Coordination => None,
        }
    }
}

/// What a component's span was measured from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum SpanBasis {
    /// The component's own Start/Ack and Finish.
    Milestones,
    /// The platform without milestones of its own: latest publisher Finish to earliest
    /// consumer Start/Ack.
    Handover,
}

/// A record that could not be measured, reported instead of guessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum AnomalyKind {
    /// The latest Finish is before the earliest Start/Ack (of a component, or end to end).
    FinishBeforeStart,
    /// A Start or Ack but no Finish.
    StartWithoutFinish,
    /// A Finish but no Start or Ack.
    FinishWithoutStart,
    /// The platform has no span of its own and a consumer started before the last
    /// publisher finished, so the handover is negative.
    ConsumerStartedBeforePublisherFinished,
    /// A Begin/End pair whose End is before its Begin.
    EndBeforeBegin,
    /// A Begin with no End left to pair with.
    UnpairedBegin,
    /// An End with no Begin left to pair with.
    EndWithoutBegin,
}

/// One anomaly: what, where, and the item that shows it (when one does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// `None` for end-to-end anomalies.
    pub component: Option<ComponentKey>,
    pub scope_id: Option<ScopeId>,
    pub item_id: Option<OperatingItemId>,
    pub at: Option<UtcTime>,
}

/// A component's milestones and the span measured from them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Milestones {
    /// The earliest `Application|Start` or `Application|Ack`.
    pub start: Option<UtcTime>,
    /// Which of the two `start` is (`Application|Start` wins a tie).
    pub started_with: Option<ActivityType>,
    /// The latest `Application|Finish`.
    pub finish: Option<UtcTime>,
    /// Where the span begins: `start` for the milestones basis, the latest publisher Finish
    /// for a handover.
    pub span_from: Option<UtcTime>,
    /// Where the span ends: `finish`, or the earliest consumer Start/Ack for a handover.
    pub span_to: Option<UtcTime>,
    pub span_ms: Option<i64>,
    pub basis: Option<SpanBasis>,
}

/// A valid Begin/End pair of one scope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ScopePair {
    pub scope_id: ScopeId,
    pub begin: UtcTime,
    pub end: UtcTime,
    pub duration_ms: i64,
    pub begin_item_id: OperatingItemId,
    pub end_item_id: OperatingItemId,
}

/// How many `Validation` items of a component had each problem severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ValidationCounts {
    pub warnings: u64,
    pub errors: u64,
}

impl ValidationCounts {
    fn add(&mut self, other: ValidationCounts) {
        self.warnings = self.warnings.saturating_add(other.warnings);
        self.errors = self.errors.saturating_add(other.errors);
    }
}

/// Count, mean, median, min, max and p95 of some durations, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub count: u64,
    pub mean_ms: f64,
    /// The middle value, or the mean of the two middle values for an even count.
    pub median_ms: f64,
    pub min_ms: i64,
    pub max_ms: i64,
    /// Nearest rank: the ⌈0.95·count⌉-th smallest value (1-based).
    pub p95_ms: i64,
}

impl Summary {
    /// Summarizes `values` (sorting them in place); `None` when there are none.
    pub fn of(values: &mut [i64]) -> Option<Summary> {
        let (&min_ms, &max_ms) = {
            values.sort_unstable();
            (values.first()?, values.last()?)
        };
        let count = values.len();
        // i128 so that a sum of a million large durations cannot overflow.
        let sum: i128 = values.iter().map(|&value| i128::from(value)).sum();
        let middle = count / 2;
        let median_ms = if count % 2 == 1 {
            values[middle] as f64
        } else {
            (values[middle - 1] as f64 + values[middle] as f64) / 2.0
        };
        // ⌈0.95·n⌉ in integers: 0.95 * 20.0 is 19.000000000000004 in floating point, whose
        // ceiling would pick the 20th value instead of the 19th.
        let rank = (count as u128 * 95).div_ceil(100) as usize;
        Some(Summary {
            count: count as u64,
            mean_ms: sum as f64 / count as f64,
            median_ms,
            min_ms,
            max_ms,
            p95_ms: values[rank.clamp(1, count) - 1],
        })
    }
}

/// One component in one operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComponentAnalysis {
    pub key: ComponentKey,
    pub milestones: Milestones,
    /// Its valid Begin/End pairs, ordered by begin.
    pub pairs: Vec<ScopePair>,
    /// The sum of the pairs' durations; `None` without a valid pair.
    pub scoped_ms: Option<i64>,
    pub validation: ValidationCounts,
    /// `milestones.span_ms` as a summary (count 0 or 1), shaped like the aggregate's.
    pub span: Option<Summary>,
    /// `scoped_ms` as a summary (count 0 or 1), shaped like the aggregate's.
    pub scoped: Option<Summary>,
}

/// Everything measured in one operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OperationAnalysis {
    /// In [`ComponentKey`] order.
    pub components: Vec<ComponentAnalysis>,
    pub end_to_end_ms: Option<i64>,
    /// Per component in component order (milestones, handover, then scopes by scope id),
    /// then the end-to-end anomaly.
    pub anomalies: Vec<Anomaly>,
    /// The earliest and latest event time of all the items given, whatever their type.
    pub first_event_at: Option<UtcTime>,
    pub last_event_at: Option<UtcTime>,
}

impl OperationAnalysis {
    pub fn component(&self, key: &ComponentKey) -> Option<&ComponentAnalysis> {
        self.components
            .iter()
            .find(|component| component.key == *key)
    }
}

/// An instant with the item that logged it; ordered by time, then item id so that ties
/// are broken the same way whatever order the items came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Moment {
    at: UtcTime,
    item_id: OperatingItemId,
}

/// A Start or Ack; at the same instant, `Application|Start` sorts first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct StartMoment {
    at: UtcTime,
    activity: ActivityType,
    item_id: OperatingItemId,
}

#[derive(Debug)]
struct ScopeItems {
    scope_id: ScopeId,
    begins: Vec<Moment>,
    ends: Vec<Moment>,
}

/// What one component logged, gathered before it is measured.
#[derive(Debug, Default)]
struct ComponentItems {
    earliest_start: Option<StartMoment>,
    latest_finish: Option<Moment>,
    /// Keyed by the scope id's text: `ScopeId` has no order of its own.
    scopes: BTreeMap<String, ScopeItems>,
    unscoped_begins: Vec<Moment>,
    unscoped_ends: Vec<Moment>,
    validation: ValidationCounts,
}

impl ComponentItems {
    fn add(&mut self, item: &ItemTiming) {
        let moment = Moment {
            at: item.at,
            item_id: item.id,
        };
        let Some(activity) = item.activity_type else {
            return;
        };
        match activity {
            ActivityType::Start | ActivityType::Ack => {
                let start = StartMoment {
                    at: item.at,
                    activity,
                    item_id: item.id,
                };
                self.earliest_start = Some(self.earliest_start.map_or(start, |s| s.min(start)));
            }
            ActivityType::Finish => {
                self.latest_finish = Some(self.latest_finish.map_or(moment, |f| f.max(moment)));
            }
            ActivityType::Begin | ActivityType::End => {
                let Some(scope_id) = &item.scope_id else {
                    if activity == ActivityType::Begin {
                        self.unscoped_begins.push(moment);
                    } else {
                        self.unscoped_ends.push(moment);
                    }
                    return;
                };
                let scope = self
                    .scopes
                    .entry(scope_id.as_str().to_owned())
                    .or_insert_with(|| ScopeItems {
                        scope_id: scope_id.clone(),
                        begins: Vec::new(),
                        ends: Vec::new(),
                    });
                if activity == ActivityType::Begin {
                    scope.begins.push(moment);
                } else {
                    scope.ends.push(moment);
                }
            }
            ActivityType::Validation => match item.severity {
                StatusSeverity::Warning => self.validation.warnings += 1,
                StatusSeverity::Error => self.validation.errors += 1,
                StatusSeverity::Info => {}
            },
            ActivityType::ProcessingResult
            | ActivityType::ActionRequest
            | ActivityType::ActionResponse => {}
        }
    }
}

/// Milliseconds from `from` to `to`. Saturating: `UtcTime`s are within years ±9999, so this
/// never saturates in practice, but a wrong duration beats a panic.
fn millis_between(from: UtcTime, to: UtcTime) -> i64 {
    to.unix_millis().saturating_sub(from.unix_millis())
}

fn anomaly(
    kind: AnomalyKind,
    component: Option<ComponentKey>,
    scope_id: Option<&ScopeId>,
    moment: Option<Moment>,
) -> Anomaly {
    Anomaly {
        kind,
        component,
        scope_id: scope_id.cloned(),
        item_id: moment.map(|moment| moment.item_id),
        at: moment.map(|moment| moment.at),
    }
}

/// The publisher Finish and consumer start a platform without milestones is measured
/// between.
#[derive(Clone, Copy, Debug)]
struct Handover {
    latest_publisher_finish: Moment,
    earliest_consumer_start: StartMoment,
}

/// The span of a component's own milestones, reporting why there is none.
fn measure_milestones(
    key: ComponentKey,
    items: &ComponentItems,
    anomalies: &mut Vec<Anomaly>,
) -> Milestones {
    let start = items.earliest_start;
    let finish = items.latest_finish;
    let mut milestones = Milestones {
        start: start.map(|start| start.at),
        started_with: start.map(|start| start.activity),
        finish: finish.map(|finish| finish.at),
        ..Milestones::default()
    };
    match (start, finish) {
        (Some(start), Some(finish)) if finish.at >= start.at => {
            milestones.span_from = Some(start.at);
            milestones.span_to = Some(finish.at);
            milestones.span_ms = Some(millis_between(start.at, finish.at));
            milestones.basis = Some(SpanBasis::Milestones);
        }
        (Some(_), Some(finish)) => anomalies.push(anomaly(
            AnomalyKind::FinishBeforeStart,
            Some(key),
            None,
            Some(finish),
        )),
        (Some(start), None) => anomalies.push(anomaly(
            AnomalyKind::StartWithoutFinish,
            Some(key),
            None,
            Some(Moment {
                at: start.at,
                item_id: start.item_id,
            }),
        )),
        (None, Some(finish)) => anomalies.push(anomaly(
            AnomalyKind::FinishWithoutStart,
            Some(key),
            None,
            Some(finish),
        )),
        (None, None) => {}
    }
    milestones
}

/// Pairs the Begin/End items of a component, reporting what cannot be paired.
fn pair_scopes(
    key: ComponentKey,
    items: &mut ComponentItems,
    anomalies: &mut Vec<Anomaly>,
) -> Vec<ScopePair> {
    let mut pairs = Vec::new();
    for scope in items.scopes.values_mut() {
        scope.begins.sort_unstable();
        scope.ends.sort_unstable();
        for (begin, end) in scope.begins.iter().zip(&scope.ends) {
            if end.at < begin.at {
                anomalies.push(anomaly(
                    AnomalyKind::EndBeforeBegin,
                    Some(key),
                    Some(&scope.scope_id),
                    Some(*end),
                ));
                continue;
            }
            pairs.push(ScopePair {
                scope_id: scope.scope_id.clone(),
                begin: begin.at,
                end: end.at,
                duration_ms: millis_between(begin.at, end.at),
                begin_item_id: begin.item_id,
                end_item_id: end.item_id,
            });
        }
        let paired = scope.begins.len().min(scope.ends.len());
        for begin in &scope.begins[paired..] {
            anomalies.push(anomaly(
                AnomalyKind::UnpairedBegin,
                Some(key),
                Some(&scope.scope_id),
                Some(*begin),
            ));
        }
        for end in &scope.ends[paired..] {
            anomalies.push(anomaly(
                AnomalyKind::EndWithoutBegin,
                Some(key),
                Some(&scope.scope_id),
                Some(*end),
            ));
        }
    }
    items.unscoped_begins.sort_unstable();
    items.unscoped_ends.sort_unstable();
    for begin in &items.unscoped_begins {
        anomalies.push(anomaly(
            AnomalyKind::UnpairedBegin,
            Some(key),
            None,
            Some(*begin),
        ));
    }
    for end in &items.unscoped_ends {
        anomalies.push(anomaly(
            AnomalyKind::EndWithoutBegin,
            Some(key),
            None,
            Some(*end),
        ));
    }
    pairs.sort_by(|a, b| {
        (a.begin, a.end)
            .cmp(&(b.begin, b.end))
            .then_with(|| a.scope_id.as_str().cmp(b.scope_id.as_str()))
            .then_with(|| a.begin_item_id.cmp(&b.begin_item_id))
    });
    pairs
}

/// Measures one operation from its items (any order; items of other operations must not be
/// mixed in). See the module documentation for the definitions.
pub fn analyze_operation(items: &[ItemTiming]) -> OperationAnalysis {
    let mut gathered: BTreeMap<ComponentKey, ComponentItems> = BTreeMap::new();
    let mut first_event_at: Option<UtcTime> = None;
    let mut last_event_at: Option<UtcTime> = None;
    for item in items {
        first_event_at = Some(first_event_at.map_or(item.at, |first| first.min(item.at)));
        last_event_at = Some(last_event_at.map_or(item.at, |last| last.max(item.at)));
        if let Some(key) = ComponentKey::of(item) {
            gathered.entry(key).or_default().add(item);
        }
    }

    let latest_publisher_finish = gathered
        .iter()
        .filter(|(key, _)| key.kind == ComponentKind::Publisher)
        .filter_map(|(_, items)| items.latest_finish)
        .max();
    let earliest_consumer_start = gathered
        .iter()
        .filter(|(key, _)| key.kind == ComponentKind::Consumer)
        .filter_map(|(_, items)| items.earliest_start)
        .min();
    let handover = match (latest_publisher_finish, earliest_consumer_start) {
        (Some(latest_publisher_finish), Some(earliest_consumer_start)) => {
            // The platform takes part even when it logged nothing: its time is the gap.
            gathered.entry(ComponentKey::platform()).or_default();
            Some(Handover {
                latest_publisher_finish,
                earliest_consumer_start,
            })
        }
        _ => None,
    };
    let earliest_start = gathered
        .values()
        .filter_map(|items| items.earliest_start)
        .min();
    let latest_finish = gathered
        .values()
        .filter_map(|items| items.latest_finish)
        .max();

    let mut anomalies = Vec::new();
    let mut components = Vec::with_capacity(gathered.len());
    for (key, mut items) in gathered {
        let mut milestones = measure_milestones(key, &items, &mut anomalies);
        if key.kind == ComponentKind::Platform
            && milestones.span_ms.is_none()
            && let Some(handover) = handover
        {
            let from = handover.latest_publisher_finish.at;
            let to = handover.earliest_consumer_start.at;
            if to >= from {
                milestones.span_from = Some(from);
                milestones.span_to = Some(to);
                milestones.span_ms = Some(millis_between(from, to));
                milestones.basis = Some(SpanBasis::Handover);
            } else {
                anomalies.push(anomaly(
                    AnomalyKind::ConsumerStartedBeforePublisherFinished,
                    Some(key),
                    None,
                    Some(Moment {
                        at: to,
                        item_id: handover.earliest_consumer_start.item_id,
                    }),
                ));
            }
        }
        let pairs = pair_scopes(key, &mut items, &mut anomalies);
        let scoped_ms = if pairs.is_empty() {
            None
        } else {
            Some(
                pairs
                    .iter()
                    .fold(0_i64, |sum, pair| sum.saturating_add(pair.duration_ms)),
            )
        };
        components.push(ComponentAnalysis {
            key,
            span: milestones.span_ms.and_then(|span| Summary::of(&mut [span])),
            scoped: scoped_ms.and_then(|scoped| Summary::of(&mut [scoped])),
            milestones,
            pairs,
            scoped_ms,
            validation: items.validation,
        });
    }

    let end_to_end_ms = match (earliest_start, latest_finish) {
        (Some(start), Some(finish)) if finish.at >= start.at => {
            Some(millis_between(start.at, finish.at))
        }
        (Some(_), Some(finish)) => {
            anomalies.push(anomaly(
                AnomalyKind::FinishBeforeStart,
                None,
                None,
                Some(finish),
            ));
            None
        }
        _ => None,
    };

    OperationAnalysis {
        components,
        end_to_end_ms,
        anomalies,
        first_event_at,
        last_event_at,
    }
}

/// Which components aggregated statistics report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComponentFilter {
    /// Only operations in which this source logged an item of some component, and only the
    /// components of this source (so never the platform, which has no source).
    pub source_id: Option<SourceId>,
    /// Only the components of this phase: InputData → publishers, Transform → the platform,
    /// ConsumeData → consumers (AgentStatus and Coordination → none).
    pub operation_type: Option<OperationType>,
}

impl ComponentFilter {
    fn reports(&self, key: &ComponentKey) -> bool {
        let source_matches = self
            .source_id
            .is_none_or(|source| key.source_id == Some(source));
        let type_matches = self
            .operation_type
            .is_none_or(|operation_type| key.kind.operation_type() == operation_type);
        source_matches && type_matches
    }

    /// Whether an operation is counted at all: with a source filter, only if that source
    /// logged an item that belongs to a component.
    fn takes_operation(&self, items: &[ItemTiming]) -> bool {
        let Some(source) = self.source_id else {
            return true;
        };
        items
            .iter()
            .any(|item| item.source_id == Some(source) && ComponentKey::of(item).is_some())
    }
}

/// One component over many operations.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ComponentStatistics {
    pub key: ComponentKey,
    /// How many operations it appeared in.
    pub operations: u64,
    pub span: Option<Summary>,
    /// How many of the span values are platform handovers rather than milestones.
    pub handover_spans: u64,
    pub scoped: Option<Summary>,
    pub validation: ValidationCounts,
    pub anomaly_counts: BTreeMap<AnomalyKind, u64>,
}

/// An anomaly and the operation it was found in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AnomalyExample {
    pub operation_id: OperationId,
    #[serde(flatten)]
    pub anomaly: Anomaly,
}

/// Statistics over many operations.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AggregateStatistics {
    /// Operations counted (those a source filter did not skip).
    pub operations: u64,
    /// In [`ComponentKey`] order.
    pub components: Vec<ComponentStatistics>,
    pub end_to_end: Option<Summary>,
    /// Anomalies of the reported components and end-to-end anomalies, by kind.
    pub anomaly_counts: BTreeMap<AnomalyKind, u64>,
    /// The first [`MAX_ANOMALY_EXAMPLES`] of those anomalies, in the order operations were
    /// added.
    pub anomaly_examples: Vec<AnomalyExample>,
}

#[derive(Debug, Default)]
struct ComponentTotals {
    operations: u64,
    span_values: Vec<i64>,
    handover_spans: u64,
    scoped_values: Vec<i64>,
    validation: ValidationCounts,
    anomaly_counts: BTreeMap<AnomalyKind, u64>,
}

/// Aggregates operations one at a time: `add` each operation's items, then `finish`.
#[derive(Debug)]
pub struct StatisticsAccumulator {
    filter: ComponentFilter,
    operations: u64,
    components: BTreeMap<ComponentKey, ComponentTotals>,
    end_to_end_values: Vec<i64>,
    anomaly_counts: BTreeMap<AnomalyKind, u64>,
    anomaly_examples: Vec<AnomalyExample>,
}

impl StatisticsAccumulator {
    pub fn new(filter: ComponentFilter) -> Self {
        StatisticsAccumulator {
            filter,
            operations: 0,
            components: BTreeMap::new(),
            end_to_end_values: Vec::new(),
            anomaly_counts: BTreeMap::new(),
            anomaly_examples: Vec::new(),
        }
    }

    /// Adds one operation: all of its items, once.
    pub fn add(&mut self, operation: OperationId, items: &[ItemTiming]) {
        if !self.filter.takes_operation(items) {
            return;
        }
        let analysis = analyze_operation(items);
        self.operations += 1;
        if let Some(end_to_end) = analysis.end_to_end_ms {
            self.end_to_end_values.push(end_to_end);
        }
        for component in analysis.components {
            if !self.filter.reports(&component.key) {
                continue;
            }
            let totals = self.components.entry(component.key).or_default();
            totals.operations += 1;
            if let Some(span) = component.milestones.span_ms {
                totals.span_values.push(span);
                if component.milestones.basis == Some(SpanBasis::Handover) {
                    totals.handover_spans += 1;
                }
            }
            if let Some(scoped) = component.scoped_ms {
                totals.scoped_values.push(scoped);
            }
            totals.validation.add(component.validation);
        }
        for anomaly in analysis.anomalies {
            match anomaly.component {
                Some(key) if self.filter.reports(&key) => {
                    if let Some(totals) = self.components.get_mut(&key) {
                        *totals.anomaly_counts.entry(anomaly.kind).or_default() += 1;
                    }
                }
                Some(_) => continue,
                None => {}
            }
            *self.anomaly_counts.entry(anomaly.kind).or_default() += 1;
            if self.anomaly_examples.len() < MAX_ANOMALY_EXAMPLES {
                self.anomaly_examples.push(AnomalyExample {
                    operation_id: operation,
                    anomaly,
                });
            }
        }
    }

    pub fn finish(self) -> AggregateStatistics {
        let mut end_to_end_values = self.end_to_end_values;
        AggregateStatistics {
            operations: self.operations,
            components: self
                .components
                .into_iter()
                .map(|(key, mut totals)| ComponentStatistics {
                    key,
                    operations: totals.operations,
                    span: Summary::of(&mut totals.span_values),
                    handover_spans: totals.handover_spans,
                    scoped: Summary::of(&mut totals.scoped_values),
                    validation: totals.validation,
                    anomaly_counts: totals.anomaly_counts,
                })
                .collect(),
            end_to_end: Summary::of(&mut end_to_end_values),
            anomaly_counts: self.anomaly_counts,
            anomaly_examples: self.anomaly_examples,
        }
    }
}

/// The worked example of docs/operating-logs.md, as data the tests here and in `gantt` use.
///
/// One operation, times in milliseconds after 2026-04-07T10:00:00.000Z:
///
/// | at   | operationType | activityType        | source | scopeId | severity | message                                        |
/// |------|---------------|---------------------|--------|---------|----------|------------------------------------------------|
/// | 0    | InputData     | Application\|Start  | Erp    |         | Info     |                                                |
/// | 100  | InputData     | Application\|Begin  | Erp    | read    | Info     |                                                |
/// | 400  | InputData     | Application\|End    | Erp    | read    | Info     |                                                |
/// | 450  | InputData     | Application\|Begin  | Erp    | send    | Info     |                                                |
/// | 700  | InputData     | Application\|End    | Erp    | send    | Info     |                                                |
/// | 800  | InputData     | Application\|Finish | Erp    |         | Info     |                                                |
/// | 1000 | ConsumeData   | Application\|Ack    | Shop   |         | Info     |                                                |
/// | 1100 | ConsumeData   | Application\|Begin  | Shop   | import  | Info     |                                                |
/// | 1600 | ConsumeData   | Application\|End    | Shop   | import  | Info     |                                                |
/// | 1700 | ConsumeData   | Application\|Finish | Shop   |         | Info     |                                                |
/// | 1200 | ConsumeData   | Application\|Start  | Crm    |         | Info     |                                                |
/// | 1300 | ConsumeData   | Validation          | Crm    |         | Error    | Record 456 rejected: field 'Email' is invalid. |
/// | 1500 | ConsumeData   | Application\|Finish | Crm    |         | Info     |                                                |
///
/// Sources: Erp `00000000-0000-0000-0000-00000000000a`, Shop `…0b`, Crm `…0c` (so the
/// consumers sort Shop, Crm); every item carries its time as `utcTimestamp`.
///
/// Expected:
///
/// | component     | start (by)   | finish | span (basis)              | pairs              | scoped | validation |
/// |---------------|--------------|--------|---------------------------|--------------------|--------|------------|
/// | Publisher Erp | 0 (Start)    | 800    | 800 (milestones)          | read 300, send 250 | 550    |            |
/// | Platform      |              |        | 200 (handover 800 → 1000) |                    |        |            |
/// | Consumer Shop | 1000 (Ack)   | 1700   | 700 (milestones)          | import 500         | 500    |            |
/// | Consumer Crm  | 1200 (Start) | 1500   | 300 (milestones)          |                    |        | 1 error    |
///
/// End to end 1700 (0 → 1700); first event 0, last 1700; no anomalies.
#[cfg(test)]
pub(crate) mod worked_example {
    use super::*;
    use crate::ids::Label;
    use crate::operating::{Category, NewOperatingItem, OperatingItem};

    /// The parties of the example.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum Party {
        Erp,
        Shop,
        Crm,
    }

    impl Party {
        pub(crate) fn source_id(self) -> SourceId {
            let last = match self {
                Party::Erp => 0x0a,
                Party::Shop => 0x0b,
                Party::Crm => 0x0c,
            };
            let mut bytes = [0; 16];
            bytes[15] = last;
            SourceId::from_bytes(bytes)
        }

        pub(crate) fn name(self) -> &'static str {
            match self {
                Party::Erp => "Erp",
                Party::Shop => "Shop",
                Party::Crm => "Crm",
            }
        }
    }

    /// Milliseconds after [`START`], type, activity, severity, party, scope id, message.
    pub(crate) type Row = (
        i64,
        OperationType,
        Option<ActivityType>,
        StatusSeverity,
        Party,
        Option<&'static str>,
        Option<&'static str>,
    );

    pub(crate) const START: &str = "2026-04-07T10:00:00Z";
    pub(crate) const OPERATION: &str = "f670127a-ef1b-4926-ab64-387fba251523";

    use ActivityType::{Ack, Begin, End, Finish, Start, Validation};
    use OperationType::{ConsumeData, InputData};
    use Party::{Crm, Erp, Shop};
    use StatusSeverity::{Error, Info};

    #[rustfmt::skip]
    pub(crate) const ROWS: &[Row] = &[
        (   0, InputData,   Some(Start),      Info,  Erp,  None,           None),
        ( 100, InputData,   Some(Begin),      Info,  Erp,  Some("read"),   None),
        ( 400, InputData,   Some(End),        Info,  Erp,  Some("read"),   None),
        ( 450, InputData,   Some(Begin),      Info,  Erp,  Some("send"),   None),
        ( 700, InputData,   Some(End),        Info,  Erp,  Some("send"),   None),
        ( 800, InputData,   Some(Finish),     Info,  Erp,  None,           None),
        (1000, ConsumeData, Some(Ack),        Info,  Shop, None,           None),
        (1100, ConsumeData, Some(Begin),      Info,  Shop, Some("import"), None),
        (1600, ConsumeData, Some(End),        Info,  Shop, Some("import"), None),
        (1700, ConsumeData, Some(Finish),     Info,  Shop, None,           None),
        (1200, ConsumeData, Some(Start),      Info,  Crm,  None,           None),
        (1300, ConsumeData, Some(Validation), Error, Crm,  None,
            Some("Record 456 rejected: field 'Email' is invalid.")),
        (1500, ConsumeData, Some(Finish),     Info,  Crm,  None,           None),
    ];

    pub(crate) fn operation_id() -> OperationId {
        OperationId::parse(OPERATION).unwrap()
    }

    pub(crate) fn at(millis_after_start: i64) -> UtcTime {
        let start = UtcTime::parse(START).unwrap().unix_millis();
        UtcTime::from_unix_millis(start + millis_after_start).unwrap()
    }

    pub(crate) fn item_id(index: usize) -> OperatingItemId {
        let mut bytes = [0xee; 16];
        bytes[8..].copy_from_slice(&(index as u64 + 1).to_be_bytes());
        OperatingItemId::from_bytes(bytes)
    }

    /// Stored items made of `rows`, the n-th with item id [`item_id`]`(n)`.
    pub(crate) fn items_of(rows: &[Row]) -> Vec<OperatingItem> {
        rows.iter()
            .enumerate()
            .map(
                |(index, &(millis, operation_type, activity, severity, party, scope, message))| {
                    OperatingItem {
                        id: item_id(index),
                        created_on: at(millis),
                        item: NewOperatingItem {
                            operation_id: operation_id(),
                            operation_type,
                            activity_type: activity,
                            severity,
                            system_level: false,
                            category: Category::Custom,
                            message: message.map(|text| {
                                crate::operating::ItemMessage::parse(text.to_owned()).unwrap()
                            }),
                            details: Vec::new(),
                            custom_fields: Vec::new(),
                            source: Some(Label::parse(party.name()).unwrap()),
                            agent_id: None,
                            agent_code: None,
                            source_id: Some(party.source_id()),
                            publisher_source_id: None,
                            utc_timestamp: Some(at(millis)),
                            scope_id: scope.map(|scope| Label::parse(scope).unwrap()),
                            client_id: None,
                        },
                    }
                },
            )
            .collect()
    }

    pub(crate) fn items() -> Vec<OperatingItem> {
        items_of(ROWS)
    }

    pub(crate) fn timings_of(rows: &[Row]) -> Vec<ItemTiming> {
        items_of(rows).iter().map(OperatingItem::timing).collect()
    }

    pub(crate) fn timings() -> Vec<ItemTiming> {
        timings_of(ROWS)
    }
}

#[cfg(test)]
mod tests {
    use super::worked_example::{Party, at, item_id, operation_id, timings, timings_of};
    use super::*;
    use crate::ids::Label;

    use ActivityType::{Ack, Begin, End, Finish, Start, Validation};
    use OperationType::{AgentStatus, ConsumeData, InputData, Transform};
    use StatusSeverity::{Error, Info, Warning};

    fn scope(text: &str) -> ScopeId {
        Label::parse(text).unwrap()
    }

    fn summary_of_one(value: i64) -> Option<Summary> {
        Some(Summary {
            count: 1,
            mean_ms: value as f64,
            median_ms: value as f64,
            min_ms: value,
            max_ms: value,
            p95_ms: value,
        })
    }

    #[test]
    fn the_worked_example() {
        let analysis = analyze_operation(&timings());
        let erp = ComponentKey::publisher(Some(Party::Erp.source_id()));
        let shop = ComponentKey::consumer(Some(Party::Shop.source_id()));
        let crm = ComponentKey::consumer(Some(Party::Crm.source_id()));
        let keys: Vec<ComponentKey> = analysis.components.iter().map(|c| c.key).collect();
        assert_eq!(keys, [erp, ComponentKey::platform(), shop, crm]);

        let publisher = analysis.component(&erp).unwrap();
        assert_eq!(
            publisher.milestones,
            Milestones {
                start: Some(at(0)),
                started_with: Some(Start),
                finish: Some(at(800)),
                span_from: Some(at(0)),
                span_to: Some(at(800)),
                span_ms: Some(800),
                basis: Some(SpanBasis::Milestones),
            }
        );
        assert_eq!(
            publisher.pairs,
            [
                ScopePair {
                    scope_id: scope("read"),
                    begin: at(100),
                    end: at(400),
                    duration_ms: 300,
                    begin_item_id: item_id(1),
                    end_item_id: item_id(2),
                },
                ScopePair {
                    scope_id: scope("send"),
                    begin: at(450),
                    end: at(700),
                    duration_ms: 250,
                    begin_item_id: item_id(3),
                    end_item_id: item_id(4),
                },
            ]
        );
        assert_eq!(publisher.scoped_ms, Some(550));
        assert_eq!(publisher.span, summary_of_one(800));
        assert_eq!(publisher.scoped, summary_of_one(550));

        let platform = analysis.component(&ComponentKey::platform()).unwrap();
        assert_eq!(
            platform.milestones,
            Milestones {
                span_from: Some(at(800)),
                span_to: Some(at(1000)),
                span_ms: Some(200),
                basis: Some(SpanBasis::Handover),
                ..Milestones::default()
            }
        );
        assert_eq!((platform.scoped_ms, platform.scoped), (None, None));

        let shop = analysis.component(&shop).unwrap();
        assert_eq!(shop.milestones.start, Some(at(1000)));
        assert_eq!(shop.milestones.started_with, Some(Ack));
        assert_eq!(shop.milestones.span_ms, Some(700));
        assert_eq!(shop.scoped_ms, Some(500));
        assert_eq!(shop.validation, ValidationCounts::default());

        let crm = analysis.component(&crm).unwrap();
        assert_eq!(crm.milestones.span_ms, Some(300));
        assert_eq!(crm.milestones.started_with, Some(Start));
        assert_eq!((crm.scoped_ms, crm.pairs.len()), (None, 0));
        assert_eq!(
            crm.validation,
            ValidationCounts {
                warnings: 0,
                errors: 1
            }
        );

        assert_eq!(analysis.end_to_end_ms, Some(1700));
        assert_eq!(analysis.anomalies, []);
        assert_eq!(analysis.first_event_at, Some(at(0)));
        assert_eq!(analysis.last_event_at, Some(at(1700)));
    }

    #[test]
    fn the_order_of_the_items_does_not_matter() {
        let mut reversed = timings();
        reversed.reverse();
        assert_eq!(analyze_operation(&reversed), analyze_operation(&timings()));
    }

    #[test]
    fn serializes_in_camel_case() {
        let json = serde_json::to_value(analyze_operation(&timings())).unwrap();
        let platform = &json["components"][1];
        assert_eq!(platform["key"]["kind"], "platform");
        assert_eq!(platform["key"]["sourceId"], serde_json::Value::Null);
        assert_eq!(platform["milestones"]["basis"], "handover");
        assert_eq!(platform["span"]["p95Ms"], 200);
        assert_eq!(json["components"][0]["pairs"][0]["durationMs"], 300);
        assert_eq!(
            json["components"][2]["milestones"]["startedWith"],
            "Application|Ack"
        );
        assert_eq!(json["endToEndMs"], 1700);
        assert_eq!(json["firstEventAt"], "2026-04-07T10:00:00.000Z");
    }

    /// A table row of a made-up operation: ms, type, activity, severity, party, scope.
    type Line = (
        i64,
        OperationType,
        Option<ActivityType>,
        StatusSeverity,
        Party,
        Option<&'static str>,
    );

    fn rows(lines: &[Line]) -> Vec<worked_example::Row> {
        lines
            .iter()
            .map(|&(ms, kind, activity, severity, party, scope)| {
                (ms, kind, activity, severity, party, scope, None)
            })
            .collect()
    }

    fn analyze(lines: &[Line]) -> OperationAnalysis {
        analyze_operation(&timings_of(&rows(lines)))
    }

    /// An anomaly as (kind, component kind, scope id, ms after the start).
    type AnomalyRow = (
        AnomalyKind,
        Option<ComponentKind>,
        Option<String>,
        Option<i64>,
    );

    fn anomalies(lines: &[Line]) -> Vec<AnomalyRow> {
        analyze(lines)
            .anomalies
            .into_iter()
            .map(|anomaly| {
                (
                    anomaly.kind,
                    anomaly.component.map(|key| key.kind),
                    anomaly.scope_id.map(|scope| scope.as_str().to_owned()),
                    anomaly
                        .at
                        .map(|at| at.unix_millis() - worked_example::at(0).unix_millis()),
                )
            })
            .collect()
    }

    use AnomalyKind::*;
    use ComponentKind::{Consumer, Platform, Publisher};
    use Party::{Crm, Erp, Shop};

    #[test]
    fn milestone_anomalies() {
        #[rustfmt::skip]
        let lines = [
            (500, InputData,   Some(Start),  Info, Erp,  None),
            (100, InputData,   Some(Finish), Info, Erp,  None),
            (600, ConsumeData, Some(Start),  Info, Shop, None),
            (700, ConsumeData, Some(Finish), Info, Crm,  None),
        ];
        assert_eq!(
            anomalies(&lines),
            [
                (FinishBeforeStart, Some(Publisher), None, Some(100)),
                (StartWithoutFinish, Some(Consumer), None, Some(600)),
                (FinishWithoutStart, Some(Consumer), None, Some(700)),
            ]
        );
        let analysis = analyze(&lines);
        assert!(
            analysis
                .components
                .iter()
                .all(|c| c.span.is_none() || c.key.kind == Platform)
        );
        // The platform still gets the handover: publisher Finish 100, consumer start 600.
        let platform = analysis.component(&ComponentKey::platform()).unwrap();
        assert_eq!(platform.milestones.span_ms, Some(500));
        // End to end: earliest start 500 to latest finish 700.
        assert_eq!(analysis.end_to_end_ms, Some(200));
    }

    #[test]
    fn a_negative_handover_is_reported_not_measured() {
        #[rustfmt::skip]
        let lines = [
            (  0, InputData,   Some(Start),  Info, Erp,  None),
            (900, InputData,   Some(Finish), Info, Erp,  None),
            (500, ConsumeData, Some(Ack),    Info, Shop, None),
            (950, ConsumeData, Some(Finish), Info, Shop, None),
        ];
        assert_eq!(
            anomalies(&lines),
            [(
                ConsumerStartedBeforePublisherFinished,
                Some(Platform),
                None,
                Some(500)
            )]
        );
        let analysis = analyze(&lines);
        let platform = analysis.component(&ComponentKey::platform()).unwrap();
        assert_eq!(platform.milestones.span_ms, None);
        assert_eq!(analysis.end_to_end_ms, Some(950));
    }

    #[test]
    fn the_platforms_own_milestones_win_over_the_handover() {
        #[rustfmt::skip]
        let lines = [
            (  0, InputData,   Some(Finish), Info, Erp,  None),
            ( 10, Transform,   Some(Start),  Info, Erp,  None),
            ( 40, Transform,   Some(Finish), Info, Crm,  None),
            (100, ConsumeData, Some(Start),  Info, Shop, None),
        ];
        let analysis = analyze(&lines);
        let platform = analysis.component(&ComponentKey::platform()).unwrap();
        assert_eq!(platform.milestones.span_ms, Some(30));
        assert_eq!(platform.milestones.basis, Some(SpanBasis::Milestones));
        // One platform, whatever sources its items carry.
        assert_eq!(analysis.components.len(), 3);
    }

    #[test]
    fn scope_anomalies() {
        #[rustfmt::skip]
        let lines = [
            (300, InputData, Some(Begin), Info, Erp, Some("x")),
            (200, InputData, Some(End),   Info, Erp, Some("x")),
            (100, InputData, Some(Begin), Info, Erp, Some("y")),
            (200, InputData, Some(Begin), Info, Erp, Some("y")),
            (250, InputData, Some(End),   Info, Erp, Some("y")),
            (400, InputData, Some(End),   Info, Erp, Some("z")),
        ];
        assert_eq!(
            anomalies(&lines),
            [
                (
                    EndBeforeBegin,
                    Some(Publisher),
                    Some("x".to_owned()),
                    Some(200)
                ),
                (
                    UnpairedBegin,
                    Some(Publisher),
                    Some("y".to_owned()),
                    Some(200)
                ),
                (
                    EndWithoutBegin,
                    Some(Publisher),
                    Some("z".to_owned()),
                    Some(400)
                ),
            ]
        );
        let analysis = analyze(&lines);
        let publisher = &analysis.components[0];
        // Only y's first pair (100 → 250) is valid.
        assert_eq!(publisher.pairs.len(), 1);
        assert_eq!(publisher.scoped_ms, Some(150));
    }

    #[test]
    fn begins_and_ends_without_a_scope_pair_with_nothing() {
        let mut timings = timings_of(&rows(&[
            (100, ConsumeData, Some(Begin), Info, Shop, Some("s")),
            (200, ConsumeData, Some(End), Info, Shop, Some("s")),
        ]));
        for timing in &mut timings {
            timing.scope_id = None;
        }
        let analysis = analyze_operation(&timings);
        let kinds: Vec<AnomalyKind> = analysis.anomalies.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [UnpairedBegin, EndWithoutBegin]);
        assert_eq!(analysis.components[0].scoped_ms, None);
    }

    #[test]
    fn end_to_end_finish_before_start() {
        #[rustfmt::skip]
        let lines = [
            (100,  InputData,   Some(Finish), Info, Erp,  None),
            (1000, ConsumeData, Some(Start),  Info, Shop, None),
        ];
        assert_eq!(
            anomalies(&lines),
            [
                (FinishWithoutStart, Some(Publisher), None, Some(100)),
                (StartWithoutFinish, Some(Consumer), None, Some(1000)),
                (FinishBeforeStart, None, None, Some(100)),
            ]
        );
        assert_eq!(analyze(&lines).end_to_end_ms, None);
    }

    #[test]
    fn items_outside_components_are_ignored_but_timed() {
        let mut timings = timings_of(&rows(&[
            (0, InputData, Some(Start), Info, Erp, None),
            (50, InputData, Some(Finish), Info, Erp, None),
            (70, ConsumeData, Some(Validation), Warning, Crm, None),
            (80, ConsumeData, Some(Validation), Info, Crm, None),
        ]));
        let mut status = timings[0].clone();
        status.operation_type = AgentStatus;
        status.activity_type = None;
        status.at = at(5000);
        timings.push(status);
        let analysis = analyze_operation(&timings);
        assert_eq!(analysis.components.len(), 2);
        assert_eq!(analysis.end_to_end_ms, Some(50));
        assert_eq!(analysis.last_event_at, Some(at(5000)));
        assert_eq!(
            analysis.components[1].validation,
            ValidationCounts {
                warnings: 1,
                errors: 0
            }
        );
        assert!(analyze_operation(&[]).components.is_empty());
    }

    #[test]
    fn summaries() {
        fn check(mut values: Vec<i64>, expected: Option<(u64, f64, f64, i64, i64, i64)>) {
            let summary = Summary::of(&mut values).map(|s| {
                (
                    s.count,
                    s.mean_ms,
                    s.median_ms,
                    s.min_ms,
                    s.max_ms,
                    s.p95_ms,
                )
            });
            assert_eq!(summary, expected);
        }
        check(vec![], None);
        check(vec![7], Some((1, 7.0, 7.0, 7, 7, 7)));
        // Odd count: the middle value; p95 is the ⌈2.85⌉ = 3rd.
        check(vec![5, 1, 3], Some((3, 3.0, 3.0, 1, 5, 5)));
        // Even count: the mean of the two middle values.
        check(vec![4, 1, 3, 2], Some((4, 2.5, 2.5, 1, 4, 4)));
        check(vec![10, 1, 2, 100], Some((4, 28.25, 6.0, 1, 100, 100)));
        // p95 by nearest rank: ⌈0.95·20⌉ = 19th, ⌈0.95·21⌉ = 20th, ⌈0.95·100⌉ = 95th.
        check((1..=20).rev().collect(), Some((20, 10.5, 10.5, 1, 20, 19)));
        check((1..=21).collect(), Some((21, 11.0, 11.0, 1, 21, 20)));
        check((1..=100).collect(), Some((100, 50.5, 50.5, 1, 100, 95)));
        check(vec![-3, 3], Some((2, 0.0, 0.0, -3, 3, 3)));
    }

    /// Three operations: the worked example; a second with Erp 400, handover 200, Shop 400;
    /// a third with only Crm (span 100) and an End without a Begin.
    fn three_operations() -> Vec<(OperationId, Vec<ItemTiming>)> {
        #[rustfmt::skip]
        let second = rows(&[
            (   0, InputData,   Some(Start),  Info, Erp,  None),
            ( 400, InputData,   Some(Finish), Info, Erp,  None),
            ( 600, ConsumeData, Some(Ack),    Info, Shop, None),
            (1000, ConsumeData, Some(Finish), Info, Shop, None),
        ]);
        #[rustfmt::skip]
        let third = rows(&[
            (  0, ConsumeData, Some(Start),  Info, Crm, None),
            ( 50, ConsumeData, Some(End),    Info, Crm, Some("late")),
            (100, ConsumeData, Some(Finish), Info, Crm, None),
        ]);
        vec![
            (operation_id(), timings()),
            (OperationId::generate(), timings_of(&second)),
            (OperationId::generate(), timings_of(&third)),
        ]
    }

    fn aggregate(filter: ComponentFilter) -> AggregateStatistics {
        let mut accumulator = StatisticsAccumulator::new(filter);
        for (operation, items) in three_operations() {
            accumulator.add(operation, &items);
        }
        accumulator.finish()
    }

    /// A component as (key, operations, (median, max) of its spans).
    type SpanRow = (ComponentKey, u64, Option<(f64, i64)>);

    fn spans(statistics: &AggregateStatistics) -> Vec<SpanRow> {
        statistics
            .components
            .iter()
            .map(|c| {
                (
                    c.key,
                    c.operations,
                    c.span.map(|span| (span.median_ms, span.max_ms)),
                )
            })
            .collect()
    }

    #[test]
    fn aggregates_without_a_filter() {
        let statistics = aggregate(ComponentFilter::default());
        assert_eq!(statistics.operations, 3);
        let erp = ComponentKey::publisher(Some(Erp.source_id()));
        let shop = ComponentKey::consumer(Some(Shop.source_id()));
        let crm = ComponentKey::consumer(Some(Crm.source_id()));
        assert_eq!(
            spans(&statistics),
            [
                (erp, 2, Some((600.0, 800))),
                (ComponentKey::platform(), 2, Some((200.0, 200))),
                (shop, 2, Some((550.0, 700))),
                (crm, 2, Some((200.0, 300))),
            ]
        );
        assert_eq!(statistics.components[1].handover_spans, 2);
        assert_eq!(statistics.components[0].scoped.map(|s| s.count), Some(1));
        assert_eq!(statistics.components[3].validation.errors, 1);
        assert_eq!(
            statistics.components[3].anomaly_counts,
            BTreeMap::from([(EndWithoutBegin, 1)])
        );
        let end_to_end = statistics.end_to_end.unwrap();
        assert_eq!((end_to_end.count, end_to_end.median_ms), (3, 1000.0));
        assert_eq!(
            statistics.anomaly_counts,
            BTreeMap::from([(EndWithoutBegin, 1)])
        );
        assert_eq!(statistics.anomaly_examples.len(), 1);
        assert_eq!(
            statistics.anomaly_examples[0].anomaly.scope_id,
            Some(scope("late"))
        );
        let json = serde_json::to_value(&statistics).unwrap();
        assert_eq!(json["anomalyCounts"]["endWithoutBegin"], 1);
        assert_eq!(json["anomalyExamples"][0]["kind"], "endWithoutBegin");
        assert!(json["anomalyExamples"][0]["operationId"].is_string());
    }

    #[test]
    fn a_source_filter_skips_operations_and_other_components() {
        let statistics = aggregate(ComponentFilter {
            source_id: Some(Erp.source_id()),
            operation_type: None,
        });
        // The third operation has no Erp item: skipped, also for end to end.
        assert_eq!(statistics.operations, 2);
        assert_eq!(
            spans(&statistics),
            [(
                ComponentKey::publisher(Some(Erp.source_id())),
                2,
                Some((600.0, 800))
            )]
        );
        let end_to_end = statistics.end_to_end.unwrap();
        assert_eq!((end_to_end.count, end_to_end.min_ms), (2, 1000));
        assert!(statistics.anomaly_counts.is_empty());
        assert!(statistics.anomaly_examples.is_empty());
    }

    #[test]
    fn an_operation_type_filter_keeps_that_phase() {
        let statistics = aggregate(ComponentFilter {
            source_id: None,
            operation_type: Some(ConsumeData),
        });
        assert_eq!(statistics.operations, 3);
        let kinds: Vec<ComponentKind> = statistics.components.iter().map(|c| c.key.kind).collect();
        assert_eq!(kinds, [Consumer, Consumer]);
        assert_eq!(statistics.end_to_end.map(|s| s.count), Some(3));
        assert_eq!(statistics.anomaly_counts.get(&EndWithoutBegin), Some(&1));

        let platform_only = aggregate(ComponentFilter {
            source_id: None,
            operation_type: Some(Transform),
        });
        assert_eq!(spans(&platform_only).len(), 1);
        assert!(platform_only.anomaly_counts.is_empty());

        // Crm is a consumer: as a publisher it reports nothing, but its two operations count.
        let both = aggregate(ComponentFilter {
            source_id: Some(Crm.source_id()),
            operation_type: Some(InputData),
        });
        assert_eq!(both.operations, 2);
        assert!(both.components.is_empty());
        assert_eq!(
            both.end_to_end.map(|s| (s.min_ms, s.max_ms)),
            Some((100, 1700))
        );
    }

    #[test]
    fn anomaly_examples_are_bounded() {
        let lines = rows(&[(0, InputData, Some(Start), Info, Erp, None)]);
        let items = timings_of(&lines);
        let mut accumulator = StatisticsAccumulator::new(ComponentFilter::default());
        for _ in 0..150 {
            accumulator.add(OperationId::generate(), &items);
        }
        let statistics = accumulator.finish();
        assert_eq!(
            statistics.anomaly_counts.get(&StartWithoutFinish),
            Some(&150)
        );
        assert_eq!(statistics.anomaly_examples.len(), MAX_ANOMALY_EXAMPLES);
        assert_eq!(statistics.components[0].operations, 150);
        assert_eq!(statistics.components[0].span, None);
        assert_eq!(statistics.end_to_end, None);
    }

    #[test]
    fn warnings_and_errors_are_counted_per_component() {
        let statistics = {
            let mut accumulator = StatisticsAccumulator::new(ComponentFilter::default());
            for _ in 0..2 {
                let items = timings_of(&rows(&[
                    (0, Transform, Some(Validation), Error, Erp, None),
                    (1, Transform, Some(Validation), Warning, Erp, None),
                    (2, Transform, Some(Validation), Warning, Erp, None),
                ]));
                accumulator.add(OperationId::generate(), &items);
            }
            accumulator.finish()
        };
        assert_eq!(
            statistics.components[0].validation,
            ValidationCounts {
                warnings: 4,
                errors: 2
            }
        );
    }
}
