//! What the benchmark stores: its sizes (full, `--quick` and `--smoke`), and realistic data made from a
//! seeded generator, so that pipelog and the raw-SQLite ceiling store the very same rows.
//!
//! Messages run from 20 to 2,000 bytes with a long tail (median near 70, mean near 190),
//! severities are mostly `info`, one message in fifty is Markdown. Audit entries are shaped
//! like seeds 001 and 002's examples, operations like seed 004's.

use std::fmt::Write as _;
use std::time::Duration;

use pipelog_core::log_entry::{MessageType, Severity};
use pipelog_core::time::UtcTime;
use serde::Serialize;
use serde_json::{Value, json};

/// How much of everything one run stores and measures.
#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    pub name: &'static str,
    /// Accounts the executions are spread over (the first is the operator key's).
    pub accounts: usize,
    /// How long each single-entry ingest run lasts.
    pub ingest_seconds: u64,
    /// Lines of the one large execution read, paged and exported.
    pub large_execution_lines: u64,
    /// Lines spread over the other executions.
    pub spread_lines: u64,
    pub spread_executions: u64,
    /// Requests per read figure (p50 and p99 are taken from them).
    pub read_rounds: u64,
    pub audit_entries: u64,
    pub operations: u64,
    pub statistics_rounds: u64,
}

/// Lines per bulk request.
pub const BULK_BATCH: u64 = 1000;

impl Scale {
    /// What the issue asks for: 10,000,000 lines stored, a 1,000,000-line execution,
    /// 1,000,000 audit entries, 100,000 operations.
    pub fn full() -> Scale {
        Scale {
            name: "full",
            accounts: 4,
            ingest_seconds: 10,
            large_execution_lines: 1_000_000,
            spread_lines: 8_800_000,
            spread_executions: 2_000,
            read_rounds: 2_000,
            audit_entries: 1_000_000,
            operations: 100_000,
            statistics_rounds: 10,
        }
    }

    /// About a minute; every ratio is still taken against its ceiling in the same run.
    pub fn quick() -> Scale {
        Scale {
            name: "quick",
            accounts: 4,
            ingest_seconds: 5,
            large_execution_lines: 200_000,
            spread_lines: 800_000,
            spread_executions: 500,
            read_rounds: 500,
            audit_entries: 20_000,
            operations: 10_000,
            statistics_rounds: 5,
        }
    }

    /// Every phase at a tenth of `quick`, for `cargo xtask test`'s smoke run on debug
    /// builds, which checks that the harness completes; its figures mean nothing.
    pub fn smoke() -> Scale {
        Scale {
            name: "smoke",
            accounts: 4,
            ingest_seconds: 1,
            large_execution_lines: 20_000,
            spread_lines: 80_000,
            spread_executions: 50,
            read_rounds: 50,
            audit_entries: 2_000,
            operations: 1_000,
            statistics_rounds: 2,
        }
    }

    pub fn ingest_duration(&self) -> Duration {
        Duration::from_secs(self.ingest_seconds)
    }

    /// Bulk requests in all: the large execution's batches interleaved with the others'.
    pub fn bulk_batches(&self) -> u64 {
        (self.large_execution_lines + self.spread_lines) / BULK_BATCH
    }

    /// The executions the bulk load writes to; execution 0 is the large one.
    pub fn executions(&self) -> u64 {
        1 + self.spread_executions
    }

    /// The account (index) an execution belongs to.
    pub fn account_of(&self, execution: u64) -> usize {
        (execution % self.accounts as u64) as usize
    }

    /// The execution bulk request `number` writes to. Every `stride`-th request goes to
    /// the large execution, the rest go round the others.
    pub fn execution_of_batch(&self, number: u64) -> u64 {
        let large = self.large_execution_lines / BULK_BATCH;
        let stride = (self.bulk_batches() / large.max(1)).max(1);
        if number.is_multiple_of(stride) && number / stride < large {
            0
        } else {
            let large_before = (number / stride + 1).min(large);
            1 + (number - large_before) % self.spread_executions
        }
    }

    /// How deep the deep page starts: 90% into the large execution.
    pub fn deep_seq(&self) -> u64 {
        self.large_execution_lines / 10 * 9
    }
}

/// SplitMix64: small, fast, and the same sequence everywhere for the same seed.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One generated log line, as the bulk endpoint receives it and a row stores it.
#[derive(Debug)]
pub struct Line {
    pub message: String,
    pub severity: Severity,
    pub message_type: MessageType,
    pub emitter_name: &'static str,
    pub event_correlation_id: String,
}

const STAGES: &[&str] = &[
    "extract",
    "load",
    "transform",
    "validate",
    "publish",
    "merge",
    "dedupe",
    "snapshot",
];
const EMITTERS: &[&str] = &[
    "orders-import",
    "catalog-sync",
    "sftp-drop",
    "warehouse-load",
    "crm-export",
    "price-feed",
];
const WORDS: &[&str] = &[
    "rows",
    "records",
    "table",
    "partition",
    "offset",
    "checkpoint",
    "committed",
    "skipped",
    "retrying",
    "connection",
    "upstream",
    "schema",
    "column",
    "mapping",
    "batch",
    "worker",
    "bucket",
    "s3://lake/raw/orders",
    "sftp://partner/drop",
    "customer",
    "supplier",
    "sku",
    "null",
    "duplicate",
    "rejected",
    "accepted",
    "latency",
    "heartbeat",
    "timeout",
    "snapshot",
    "Processed",
    "Reading",
    "Writing",
    "Validated",
    "Merged",
    "Skipping",
    "Opened",
    "Closed",
];
const KEYS: &[&str] = &[
    "rows",
    "bytes",
    "ms",
    "attempt",
    "partition",
    "offset",
    "table",
    "file",
    "status",
    "code",
];

/// A message length: 20 to 2,000 bytes, most short, a long tail of long ones.
fn message_length(rng: &mut Rng) -> usize {
    let band = rng.below(100);
    let (low, high) = match band {
        0..70 => (20, 120),
        70..90 => (120, 400),
        90..98 => (400, 1000),
        _ => (1000, 2000),
    };
    (low + rng.below(high - low + 1)) as usize
}

fn plain_message(rng: &mut Rng, length: usize) -> String {
    let mut message = String::with_capacity(length + 32);
    let _ = write!(
        message,
        "[{}] {} {}",
        rng.pick(STAGES),
        rng.pick(WORDS),
        rng.pick(WORDS)
    );
    while message.len() < length {
        if rng.below(3) == 0 {
            let _ = write!(message, " {}={}", rng.pick(KEYS), rng.below(100_000));
        } else {
            message.push(' ');
            message.push_str(rng.pick(WORDS));
        }
    }
    message.truncate(length);
    message
}

fn markdown_message(rng: &mut Rng, length: usize) -> String {
    let mut message = format!(
        "**{} finished**\n\n- rows: {}\n- rejected: {}\n\n`{}` took {} ms",
        rng.pick(STAGES),
        rng.below(1_000_000),
        rng.below(100),
        rng.pick(WORDS),
        rng.below(60_000)
    );
    while message.len() < length {
        let _ = write!(message, "\n- {} `{}`", rng.pick(WORDS), rng.below(10_000));
    }
    message.truncate(length.max(20));
    message
}

/// One realistic line.
pub fn line(rng: &mut Rng) -> Line {
    let length = message_length(rng);
    let (message, message_type) = if rng.below(50) == 0 {
        (markdown_message(rng, length), MessageType::Markdown)
    } else {
        (plain_message(rng, length), MessageType::Default)
    };
    let severity = match rng.below(100) {
        0..85 => Severity::Info,
        85..92 => Severity::Debug,
        92..98 => Severity::Warning,
        _ => Severity::Error,
    };
    Line {
        message,
        severity,
        message_type,
        emitter_name: rng.pick(EMITTERS),
        event_correlation_id: format!("evt-{}", rng.below(1_000_000)),
    }
}

/// Bulk request `number`'s lines: the same for pipelog and for the raw-SQLite ceiling.
pub fn bulk_batch(number: u64) -> Vec<Line> {
    let mut rng = Rng::new(number.wrapping_add(1 << 40));
    (0..BULK_BATCH).map(|_| line(&mut rng)).collect()
}

/// `count` batches of the bulk load from batch `first` on, as one list.
pub fn bulk_lines(first: u64, count: u64) -> Vec<Line> {
    (first..first + count).flat_map(bulk_batch).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineBody<'a> {
    message: &'a str,
    severity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_type: Option<&'a str>,
    emitter_name: &'a str,
    event_correlation_id: &'a str,
}

impl<'a> From<&'a Line> for LineBody<'a> {
    fn from(line: &'a Line) -> Self {
        LineBody {
            message: &line.message,
            severity: line.severity.as_str(),
            message_type: (line.message_type == MessageType::Markdown)
                .then_some(line.message_type.as_str()),
            emitter_name: line.emitter_name,
            event_correlation_id: &line.event_correlation_id,
        }
    }
}

/// Lines as NDJSON, the bulk endpoint's body.
pub fn ndjson(lines: &[Line]) -> Vec<u8> {
    let mut body = Vec::with_capacity(lines.len() * 256);
    for line in lines {
        serde_json::to_writer(&mut body, &LineBody::from(line)).expect("a line serialises");
        body.push(b'\n');
    }
    body
}

/// A Data Factory request body (seed 000) carrying one generated line.
pub fn data_factory_body(seed: u64) -> Vec<u8> {
    let line = line(&mut Rng::new(seed));
    serde_json::to_vec(&LineBody::from(&line)).expect("a line serialises")
}

/// An instant as pipelog shows one: `2026-04-07T10:30:00.000Z`.
pub fn timestamp(unix_millis: i64) -> String {
    UtcTime::from_unix_millis(unix_millis)
        .expect("the benchmark's instants are in range")
        .to_string()
}

/// Seconds since the epoch of the first audit entry: 2024-01-01T00:00:00Z.
const AUDIT_START: i64 = 1_704_067_200;

/// Seconds the audit entries span, however many there are: 900 days.
const AUDIT_SPAN: i64 = 900 * 86_400;

/// Audit entry `number` of `total`: 60% item updates like seed 001's, 30% jobs queued or
/// ended like seed 002's, 10% other; `timeGenerated` rises evenly from 2024-01-01 over 900
/// days, as audit events arrive.
pub fn audit_entry(number: u64, total: u64) -> Value {
    let mut rng = Rng::new(number.wrapping_add(2 << 40));
    let when =
        timestamp((AUDIT_START * 1000) + (number as i64 * AUDIT_SPAN * 1000) / total.max(1) as i64);
    match rng.below(10) {
        0..6 => json!({
            "entityType": "item", "type": "item.update", "version": "2", "timeGenerated": when,
            "details": {
                "accountId": "4201", "userId": (1 + rng.below(50)).to_string(),
                "itemId": (1 + rng.below(2_000_000)).to_string(),
                "status": if rng.below(4) == 0 { "FAILED" } else { "SUCCESS" },
                "actionOrigin": "DF_TABLE_IMPORT_ITEMS",
                "updatedFieldList": {
                    "LIBCOLMODFR": "ROSE VIF",
                    "COLLECTION_THEME": rng.pick(&["RETAIL", "WHOLESALE", "ONLINE", "OUTLET"]),
                    "COLOR_CODE": (1000 + rng.below(1000)).to_string(),
                },
                "triggeredBy": "USER", "tableId": "1467", "contextId": "4201",
                "jobId": format!("674f4c6b796b6a7e699ad{:03}", rng.below(1000)),
            }
        }),
        6..9 => json!({
            "entityType": "job",
            "type": if rng.below(2) == 0 { "job.queue" } else { "job.end" },
            "version": 2, "timeGenerated": when,
            "details": {
                "accountId": "4201", "userId": "5", "jobOwnerAccountId": "4201",
                "jobId": format!("67a0bdc2d57ed1d3c254{:04}", rng.below(10_000)),
                "jobKey": format!("export-items_api_{}", 1 + rng.below(100)),
                "jobTitle": "export-items_api", "jobType": "USER",
                "jobInstanceId": format!("67a0bf50d57ed1d3c25{:05}", rng.below(100_000)),
                "pipelineId": "674f4b87761a6b19c9f0ee74",
                "jobInstanceStatus": if rng.below(10) == 0 { "FAILED" } else { "COMPLETED" },
            }
        }),
        _ => json!({
            "entityType": "key", "type": "key.rotate", "version": "1", "timeGenerated": when,
            "details": { "accountId": "4201", "keyId": format!("k-{}", rng.below(100_000)) }
        }),
    }
}

/// Seed 001's two find examples, then a search inside details and a failed-jobs query,
/// as a user of an audit log would ask.
pub fn audit_finds() -> [(&'static str, Value); 4] {
    [
        (
            "eq entityType item (seed 001)",
            json!({"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"}),
        ),
        (
            "eq entityType item and timeGenerated >= 2025-02-21 (seed 001)",
            json!({"type": "and", "queries": [
                {"type": "eq", "caseSensitive": true, "field": "entityType", "value": "item"},
                {"type": "greaterOrEqual", "caseSensitive": true, "field": "timeGenerated",
                 "value": "2025-02-21T14:58:15.584Z"}
            ]}),
        ),
        (
            "search COLLECTION_THEME RETAIL and timeGenerated >= 2025-06-01",
            json!({"type": "and", "queries": [
                {"type": "search", "caseSensitive": false,
                 "field": "details.updatedFieldList.COLLECTION_THEME", "value": "retail"},
                {"type": "greaterOrEqual", "caseSensitive": true, "field": "timeGenerated",
                 "value": "2025-06-01T00:00:00.000Z"}
            ]}),
        ),
        (
            "type job.end and jobInstanceStatus FAILED",
            json!({"type": "and", "queries": [
                {"type": "eq", "caseSensitive": true, "field": "type", "value": "job.end"},
                {"type": "eq", "caseSensitive": true, "field": "details.jobInstanceStatus",
                 "value": "FAILED"}
            ]}),
        ),
    ]
}

/// The operation id of operation `number`.
pub fn operation_id(number: u64) -> String {
    format!("00000000-0000-4000-8000-{:012x}", number + 1)
}

fn source_id(kind: u64, number: u64) -> String {
    format!("{kind:08x}-0000-4000-8000-{number:012x}")
}

/// The ten items of operation `number` (seed 004): a publisher with a Begin/End scope,
/// the platform's processing result, two consumers, one of which reports a validation
/// warning. Five publishers and twenty consumers in all; operations start ten seconds
/// apart from `start_millis`.
pub fn operation_items(number: u64, start_millis: i64) -> Vec<Value> {
    let operation = operation_id(number);
    let publisher = source_id(1, number % 5);
    let first = source_id(2, number % 20);
    let second = source_id(2, (number * 7 + 3) % 20);
    let t = start_millis + number as i64 * 10_000;
    let span = 200 + (number % 800) as i64;
    let item = |kind: &str, activity: &str, source: &str, at: i64| {
        let mut item = json!({
            "operationId": operation, "operationType": kind, "activityType": activity,
            "sourceId": source, "source": format!("svc-{}", &source[..8]),
            "utcTimestamp": timestamp(at),
        });
        if kind == "ConsumeData" {
            item["publisherSourceId"] = json!(publisher);
        }
        item
    };
    let with = |mut item: Value, field: &str, value: &str| {
        item[field] = json!(value);
        item
    };
    vec![
        item("InputData", "Application|Start", &publisher, t),
        with(
            item("InputData", "Application|Begin", &publisher, t + 10),
            "scopeId",
            "upload",
        ),
        with(
            item(
                "InputData",
                "Application|End",
                &publisher,
                t + 10 + span / 2,
            ),
            "scopeId",
            "upload",
        ),
        item("InputData", "Application|Finish", &publisher, t + span),
        with(
            item("Transform", "ProcessingResult", &publisher, t + span + 50),
            "message",
            "Processed.",
        ),
        item("ConsumeData", "Application|Ack", &first, t + span + 120),
        item("ConsumeData", "Application|Finish", &first, t + span + 400),
        item("ConsumeData", "Application|Start", &second, t + span + 150),
        with(
            with(
                item("ConsumeData", "Validation", &second, t + span + 200),
                "severity",
                "Warning",
            ),
            "message",
            "Record rejected: field 'Email' is invalid.",
        ),
        item("ConsumeData", "Application|Finish", &second, t + span + 900),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bulk_batch_has_an_execution_and_the_large_one_gets_its_share() {
        for scale in [Scale::smoke(), Scale::quick(), Scale::full()] {
            let mut large = 0;
            let mut highest = 0;
            for number in 0..scale.bulk_batches() {
                let execution = scale.execution_of_batch(number);
                highest = highest.max(execution);
                if execution == 0 {
                    large += 1;
                }
            }
            assert_eq!(
                large * BULK_BATCH,
                scale.large_execution_lines,
                "{}",
                scale.name
            );
            assert_eq!(highest, scale.spread_executions, "{}", scale.name);
        }
    }

    #[test]
    fn lines_are_realistic_and_the_same_for_the_same_batch() {
        let batch = bulk_batch(7);
        assert_eq!(batch.len() as u64, BULK_BATCH);
        assert!(
            batch
                .iter()
                .all(|line| (20..=2000).contains(&line.message.len()))
        );
        let again = bulk_batch(7);
        assert!(
            batch
                .iter()
                .zip(&again)
                .all(|(a, b)| a.message == b.message)
        );
        let info = batch
            .iter()
            .filter(|line| line.severity == Severity::Info)
            .count();
        assert!(info > 700 && info < 950, "{info} info lines in 1000");
        let long = batch
            .iter()
            .filter(|line| line.message.len() > 1000)
            .count();
        assert!(long > 0 && long < 100, "{long} lines over 1,000 bytes");
    }
}
