//! How operating log items are stored, whatever the backend: the codes of their
//! enumerations, the JSON of their details and custom fields, and the timing records each
//! operation keeps of its items in one blob.
//!
//! Enumerations are stored as small integers: an operation type or activity is its
//! position in the core enum's `ALL` list, a severity its `rank()` (so `severityLevel` is a
//! plain `>=`). Those lists only ever grow at the end.

use pipelog_core::ids::{Label, OperatingItemId, SourceId};
use pipelog_core::operating::{
    ActivityType, CustomField, DetailLine, ItemText, ItemTiming, OperationScope, OperationType,
    StatusSeverity,
};
use pipelog_core::time::UtcTime;
use serde_json::Value;

pub(crate) fn operation_type_code(kind: OperationType) -> u8 {
    position(OperationType::ALL, kind)
}

/// The codes of the operation types `scope` selects, as the list of an SQL `IN (...)`.
pub(crate) fn operation_type_codes(scope: OperationScope) -> String {
    let codes: Vec<String> = scope
        .operation_types()
        .iter()
        .map(|kind| operation_type_code(*kind).to_string())
        .collect();
    codes.join(", ")
}

pub(crate) fn activity_code(activity: ActivityType) -> u8 {
    position(ActivityType::ALL, activity)
}

/// The severity's `rank()`, which is small.
pub(crate) fn severity_code(severity: StatusSeverity) -> u8 {
    u8::try_from(severity.rank()).unwrap_or(0)
}

fn position<T: PartialEq>(all: &[T], value: T) -> u8 {
    all.iter()
        .position(|candidate| *candidate == value)
        .and_then(|index| u8::try_from(index).ok())
        .unwrap_or(u8::MAX)
}

/// The value of `all` a stored code stands for; `None` for a code pipelog never wrote.
pub(crate) fn from_code<T: Copy>(all: &[T], code: i64) -> Option<T> {
    usize::try_from(code)
        .ok()
        .and_then(|code| all.get(code).copied())
}

/// An item's details as stored: a JSON array of strings, or NULL for none.
pub(crate) fn details_json(details: &[DetailLine]) -> Option<String> {
    (!details.is_empty()).then(|| {
        Value::Array(
            details
                .iter()
                .map(|line| Value::String(line.as_str().to_owned()))
                .collect(),
        )
        .to_string()
    })
}

/// Reads back what [`details_json`] wrote.
pub(crate) fn details_from_json(stored: Option<&str>) -> Result<Vec<DetailLine>, String> {
    let Some(text) = stored else {
        return Ok(Vec::new());
    };
    let lines: Vec<String> = serde_json::from_str(text).map_err(|error| error.to_string())?;
    Ok(lines.into_iter().map(ItemText::from_stored).collect())
}

/// An item's custom fields as stored: a JSON array of `{"key", "value"}` objects, or NULL
/// for none.
pub(crate) fn custom_fields_json(fields: &[CustomField]) -> Option<String> {
    (!fields.is_empty()).then(|| {
        Value::Array(
            fields
                .iter()
                .map(|field| {
                    serde_json::json!({"key": field.key.as_str(), "value": field.value.as_str()})
                })
                .collect(),
        )
        .to_string()
    })
}

/// Reads back what [`custom_fields_json`] wrote.
pub(crate) fn custom_fields_from_json(stored: Option<&str>) -> Result<Vec<CustomField>, String> {
    let Some(text) = stored else {
        return Ok(Vec::new());
    };
    let pairs: Vec<serde_json::Map<String, Value>> =
        serde_json::from_str(text).map_err(|error| error.to_string())?;
    pairs
        .iter()
        .map(|field| {
            let text = |name: &str| field.get(name).and_then(Value::as_str);
            let (Some(key), Some(value)) = (text("key"), text("value")) else {
                return Err("a custom field without key or value".to_owned());
            };
            Ok(CustomField {
                key: Label::parse(key).map_err(|error| error.to_string())?,
                value: ItemText::from_stored(value.to_owned()),
            })
        })
        .collect()
}

/// Past this many bytes of timing records (about 1,300 items), an operation's statistics
/// are read from its items instead: appending to a longer blob would cost more than it
/// saves. The blob is then emptied and the operation's `timings_complete` turns false.
pub(crate) const MAX_TIMINGS_BYTES: usize = 65_536;

/// Appends one timing record to `out`: operation type, activity (255 for none) and severity
/// as one byte each, the event time as 8 bytes (little-endian milliseconds), the item's id
/// (16 bytes), its source id (a byte 0 or 1, then 16 bytes if 1), and its scope id (a
/// length byte, then the bytes; scope ids are at most 128 bytes).
pub(crate) fn encode_timing(timing: &ItemTiming, out: &mut Vec<u8>) {
    out.push(operation_type_code(timing.operation_type));
    out.push(timing.activity_type.map_or(u8::MAX, activity_code));
    out.push(severity_code(timing.severity));
    out.extend_from_slice(&timing.at.unix_millis().to_le_bytes());
    out.extend_from_slice(timing.id.as_bytes());
    match &timing.source_id {
        Some(source) => {
            out.push(1);
            out.extend_from_slice(source.as_bytes());
        }
        None => out.push(0),
    }
    let scope = timing.scope_id.as_ref().map_or("", |scope| scope.as_str());
    let scope = &scope.as_bytes()[..scope.len().min(usize::from(u8::MAX))];
    out.push(u8::try_from(scope.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(scope);
}

/// Reads back what [`encode_timing`] wrote, every record of a blob.
pub(crate) fn decode_timings(mut bytes: &[u8], into: &mut Vec<ItemTiming>) -> Result<(), String> {
    fn take<'a>(bytes: &mut &'a [u8], count: usize) -> Result<&'a [u8], String> {
        if bytes.len() < count {
            return Err("a timing record is cut short".into());
        }
        let (head, tail) = bytes.split_at(count);
        *bytes = tail;
        Ok(head)
    }
    fn id(bytes: &mut &[u8]) -> Result<[u8; 16], String> {
        take(bytes, 16)?
            .try_into()
            .map_err(|_| "a timing record is cut short".to_owned())
    }
    while !bytes.is_empty() {
        let head = take(&mut bytes, 3)?;
        let (kind, activity, rank) = (head[0], head[1], head[2]);
        let operation_type = from_code(OperationType::ALL, i64::from(kind))
            .ok_or_else(|| format!("unknown operation type code {kind}"))?;
        let activity_type = match activity {
            u8::MAX => None,
            code => Some(
                from_code(ActivityType::ALL, i64::from(code))
                    .ok_or_else(|| format!("unknown activity code {code}"))?,
            ),
        };
        let severity = StatusSeverity::from_rank(i64::from(rank))
            .ok_or_else(|| format!("unknown severity {rank}"))?;
        let millis = i64::from_le_bytes(
            take(&mut bytes, 8)?
                .try_into()
                .map_err(|_| "a timing record is cut short".to_owned())?,
        );
        let at = UtcTime::from_unix_millis(millis).ok_or("a time out of range")?;
        let item = OperatingItemId::from_bytes(id(&mut bytes)?);
        let source_id = match take(&mut bytes, 1)?[0] {
            0 => None,
            _ => Some(SourceId::from_bytes(id(&mut bytes)?)),
        };
        let scope_length = usize::from(take(&mut bytes, 1)?[0]);
        let scope = std::str::from_utf8(take(&mut bytes, scope_length)?)
            .map_err(|_| "a scope id is not UTF-8".to_owned())?;
        let scope_id = if scope.is_empty() {
            None
        } else {
            Some(Label::parse(scope).map_err(|error| error.to_string())?)
        };
        into.push(ItemTiming {
            id: item,
            operation_type,
            activity_type,
            severity,
            source_id,
            scope_id,
            at,
        });
    }
    Ok(())
}
