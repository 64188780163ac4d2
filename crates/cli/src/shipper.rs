//! Sending log lines to a server as they come, for `pipelog log` and `pipelog run`.
//!
//! Lines are gathered into batches: a batch goes out [`FLUSH_EVERY`] after its first line
//! came, or at once when it holds [`MAX_BATCH_LINES`] lines or [`MAX_BATCH_BYTES`] of
//! messages. One batch is in flight at a time, so lines keep their order; while it is,
//! the next one fills, and when the server is slow the bounded queue fills and the writer
//! of the lines waits (back-pressure, not memory).
//!
//! A batch refused with 429 or 503 (or 502, 504, or lost on the way) is sent again after
//! the server's `Retry-After`, else after a delay doubling from 250 ms to 30 s, until
//! `give_up_after` has passed. Every line carries a `clientId` made of this run's random
//! id and the line's number, and the server writes a line whose `clientId` the execution
//! holds only once: a batch resent after an answer was lost writes nothing twice. A batch
//! over the server's body limit (413) is split in two.

use std::io::{BufRead, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::remote::Remote;

/// The longest a line waits before its batch is sent (unless one is being retried).
pub const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// The most lines in one request.
pub const MAX_BATCH_LINES: usize = 1000;
/// The most bytes of messages in one request.
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;
/// Lines waiting to be batched before their writer is made to wait.
pub const QUEUE_LINES: usize = 10_000;
/// The longest line the server takes; longer ones are cut into several lines.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(250);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Where the lines go.
#[derive(Debug, Clone)]
pub enum Target {
    /// The execution with this correlation id, made on first use (`POST /v1/data-factory/logs`).
    Cid(String),
    /// An execution by id (`POST /v1/executions/{id}/logs`).
    Execution(String),
}

/// One line to send.
#[derive(Debug)]
pub struct Line {
    pub severity: &'static str,
    pub message: String,
    /// The line's `emitterName`, if any.
    pub emitter: Option<String>,
}

/// How lines are written.
#[derive(Debug, Clone)]
pub struct ShipOptions {
    /// Every line is `MARKDOWN`.
    pub markdown: bool,
    /// How long a batch is retried before the command gives up.
    pub give_up_after: Duration,
}

/// What was sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Shipped {
    /// Lines written.
    pub lines: u64,
    /// Lines the server already held (from a resent batch whose answer was lost).
    pub duplicates: u64,
    /// Requests sent again after a refusal or a lost answer.
    pub retries: u64,
}

/// Sends lines to one target; see the module's documentation.
pub struct Shipper {
    remote: Remote,
    path: String,
    cid: Option<String>,
    options: ShipOptions,
    run_id: String,
    next_number: u64,
    shipped: Shipped,
}

impl Shipper {
    pub fn new(remote: Remote, target: Target, options: ShipOptions) -> anyhow::Result<Shipper> {
        let (path, cid) = match target {
            Target::Cid(cid) => {
                let cid = cid.trim().to_owned();
                anyhow::ensure!(
                    !cid.is_empty()
                        && cid.len() <= 256
                        && cid.bytes().all(|b| b.is_ascii_graphic()),
                    "--cid must be 1 to 256 visible ASCII characters"
                );
                ("/v1/data-factory/logs".to_owned(), Some(cid))
            }
            Target::Execution(id) => (
                format!("/v1/executions/{}/logs", crate::executions::segment(&id)?),
                None,
            ),
        };
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).context("no randomness for the lines' client ids")?;
        Ok(Shipper {
            remote,
            path,
            cid,
            options,
            run_id: random.iter().map(|byte| format!("{byte:02x}")).collect(),
            next_number: 0,
            shipped: Shipped::default(),
        })
    }

    /// Sends every line `lines` yields, until all its senders are gone, then what is left.
    pub fn run(mut self, lines: Receiver<Line>) -> anyhow::Result<Shipped> {
        let mut batch: Vec<Value> = Vec::new();
        let mut batch_bytes = 0;
        let mut due = Instant::now();
        loop {
            let next = if batch.is_empty() {
                lines.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else {
                lines.recv_timeout(due.saturating_duration_since(Instant::now()))
            };
            match next {
                Ok(line) => {
                    if batch.is_empty() {
                        due = Instant::now() + FLUSH_EVERY;
                    }
                    batch_bytes += line.message.len();
                    batch.push(self.entry(line));
                    if batch.len() >= MAX_BATCH_LINES || batch_bytes >= MAX_BATCH_BYTES {
                        self.send(&batch)?;
                        batch.clear();
                        batch_bytes = 0;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.send(&batch)?;
                    batch.clear();
                    batch_bytes = 0;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if !batch.is_empty() {
                        self.send(&batch)?;
                    }
                    return Ok(self.shipped);
                }
            }
        }
    }

    fn entry(&mut self, line: Line) -> Value {
        let mut entry = Map::new();
        entry.insert("message".into(), json!(line.message));
        entry.insert("severity".into(), json!(line.severity));
        if self.options.markdown {
            entry.insert("messageType".into(), json!("MARKDOWN"));
        }
        if let Some(emitter) = line.emitter {
            entry.insert("emitterName".into(), json!(emitter));
        }
        entry.insert(
            "clientId".into(),
            json!(format!("{}:{}", self.run_id, self.next_number)),
        );
        self.next_number += 1;
        Value::Object(entry)
    }

    /// Sends one batch, again and again while the server asks for patience.
    fn send(&mut self, batch: &[Value]) -> anyhow::Result<()> {
        let body = serde_json::to_vec(batch)?;
        let headers: Vec<(&str, &str)> = self
            .cid
            .as_deref()
            .map(|cid| ("cid", cid))
            .into_iter()
            .collect();
        let started = Instant::now();
        let mut delay = FIRST_RETRY_DELAY;
        loop {
            let (wait, reason) =
                match self
                    .remote
                    .post_raw(&self.path, &headers, "application/json", &body)
                {
                    Ok(answer) if (200..300).contains(&answer.status) => {
                        let view: Value = serde_json::from_str(&answer.text).unwrap_or_default();
                        self.shipped.lines += view["count"].as_u64().unwrap_or(0);
                        self.shipped.duplicates += view["duplicates"].as_u64().unwrap_or(0);
                        return Ok(());
                    }
                    Ok(answer) if answer.status == 413 && batch.len() > 1 => {
                        let (first, second) = batch.split_at(batch.len() / 2);
                        self.send(first)?;
                        return self.send(second);
                    }
                    Ok(answer) if matches!(answer.status, 429 | 502 | 503 | 504) => (
                        answer.retry_after.unwrap_or(delay),
                        format!("{}: {}", answer.status, answer.message()),
                    ),
                    Ok(answer) => bail!(
                        "POST {}: {}: {}",
                        self.path,
                        answer.status,
                        answer.message()
                    ),
                    Err(error) => (delay, format!("no answer: {error}")),
                };
            if started.elapsed() + wait > self.options.give_up_after {
                bail!(
                    "POST {}: gave up after {}s of retries ({reason}); {} lines were not sent",
                    self.path,
                    started.elapsed().as_secs(),
                    batch.len()
                );
            }
            self.shipped.retries += 1;
            eprintln!(
                "pipelog: {} lines not taken yet ({reason}); sending them again in {:.1}s",
                batch.len(),
                wait.as_secs_f64()
            );
            std::thread::sleep(wait);
            delay = (delay * 2).min(MAX_RETRY_DELAY);
        }
    }
}

/// Reads `reader` line by line until its end, hands each line to `lines` (cut into pieces
/// the server takes), and copies it to `tee` if given. If the shipper has stopped, lines
/// are still read and copied, so the writer never blocks on a full pipe; whether every
/// line was handed over comes back.
pub fn pump(
    reader: impl std::io::Read,
    severity: &'static str,
    emitter: Option<&str>,
    lines: &SyncSender<Line>,
    mut tee: Option<&mut dyn Write>,
) -> std::io::Result<bool> {
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, reader);
    let mut raw = Vec::new();
    let mut delivered = true;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            return Ok(delivered);
        }
        if let Some(tee) = tee.as_mut() {
            // The copy is a courtesy: a closed terminal does not stop the logging.
            let _ = tee.write_all(&raw).and_then(|()| tee.flush());
        }
        let text = String::from_utf8_lossy(&raw);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        for piece in pieces(text) {
            let line = Line {
                severity,
                message: piece.to_owned(),
                emitter: emitter.map(str::to_owned),
            };
            if delivered && lines.send(line).is_err() {
                delivered = false;
            }
        }
    }
}

/// A message cut at character boundaries into pieces of at most [`MAX_MESSAGE_BYTES`].
fn pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_MESSAGE_BYTES {
        let mut cut = MAX_MESSAGE_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// A duration such as `90s`, `10m` or `2h`.
pub fn parse_duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => bail!("{flag} `{text}`: expected a duration such as 90s, 10m or 2h"),
    };
    let number: u64 = number
        .parse()
        .with_context(|| format!("{flag} `{text}`: expected a number before `{unit}`"))?;
    Ok(Duration::from_secs(number.saturating_mul(seconds_per)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_at_character_boundaries() {
        assert_eq!(pieces(""), [""]);
        assert_eq!(pieces("short"), ["short"]);
        let long = "é".repeat(MAX_MESSAGE_BYTES / 2 + 1);
        let cut = pieces(&long);
        assert_eq!(cut.len(), 2);
        assert!(cut.iter().all(|piece| piece.len() <= MAX_MESSAGE_BYTES));
        assert_eq!(cut.concat(), long);
    }

    #[test]
    fn pumped_lines_lose_their_line_ends_and_are_copied() {
        let (sender, receiver) = std::sync::mpsc::sync_channel(10);
        let mut copy = Vec::new();
        let input = b"one\r\ntwo\n\nthree \xff".as_slice();
        assert!(pump(input, "info", Some("job"), &sender, Some(&mut copy)).unwrap());
        drop(sender);
        let messages: Vec<String> = receiver.iter().map(|line| line.message).collect();
        assert_eq!(messages, ["one", "two", "", "three \u{fffd}"]);
        assert_eq!(copy, input);
    }

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(
            parse_duration("--x", "90s").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_duration("--x", "5m").unwrap(),
            Duration::from_secs(300)
        );
        let error = parse_duration("--give-up-after", "5")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("--give-up-after `5`"), "{error}");
    }
}
