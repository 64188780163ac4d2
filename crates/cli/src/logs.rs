//! `pipelog logs`: an execution's lines, read page by page, or followed live until the
//! execution ends (`--follow`, through the server's Server-Sent Events stream).

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use pipelog_core::time::UtcTime;
use serde_json::Value;

use crate::output::{OutputArgs, OutputFormat, print_json};
use crate::profiles::ProfileArgs;
use crate::remote::Remote;

/// Exit codes of `--follow` for an execution that did not complete (1 is an error of the
/// command itself, 2 a command line it could not parse).
pub const EXIT_FAILED: u8 = 11;
pub const EXIT_TERMINATED: u8 = 12;
pub const EXIT_TIMED_OUT: u8 = 13;

/// How long `--follow` waits before connecting again after the stream broke.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The execution's id.
    execution: String,
    /// Follow the log live until the execution ends; exit 0 if it completed, 11 failed,
    /// 12 terminated, 13 timed out.
    #[arg(long, short = 'f')]
    follow: bool,
    /// Only these severities, comma-separated (debug, info, warning, error).
    #[arg(long, value_name = "SEVERITIES")]
    severity: Option<String>,
    /// Only lines written since then: a time (2026-11-22T10:00:00Z) or an age (90s, 10m,
    /// 2h, 7d).
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only lines whose message holds this text (ignoring case).
    #[arg(long, value_name = "TEXT")]
    grep: Option<String>,
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Which lines are shown, and how.
struct Printer {
    format: OutputFormat,
    color: bool,
    severities: Option<Vec<String>>,
    since: Option<UtcTime>,
    grep: Option<String>,
}

impl Printer {
    fn wanted(&self, line: &Value) -> bool {
        let severity = line["severity"].as_str().unwrap_or("");
        let created = line["createdAt"]
            .as_str()
            .and_then(|text| UtcTime::parse(text).ok());
        let message = line["message"].as_str().unwrap_or("");
        self.severities
            .as_ref()
            .is_none_or(|wanted| wanted.iter().any(|s| s.eq_ignore_ascii_case(severity)))
            && self
                .since
                .is_none_or(|since| created.is_some_and(|created| created >= since))
            && self
                .grep
                .as_ref()
                .is_none_or(|text| message.to_lowercase().contains(text))
    }

    fn print(&self, out: &mut impl Write, line: &Value) -> std::io::Result<()> {
        if !self.wanted(line) {
            return Ok(());
        }
        if self.format == OutputFormat::Json {
            return print_json(out, line);
        }
        let severity = line["severity"].as_str().unwrap_or("?");
        let (start, end) = match (self.color, severity) {
            (true, "error") => ("\x1b[31m", "\x1b[0m"),
            (true, "warning") => ("\x1b[33m", "\x1b[0m"),
            (true, "debug") => ("\x1b[2m", "\x1b[0m"),
            _ => ("", ""),
        };
        let emitter = line["emitterName"]
            .as_str()
            .map(|name| format!(" [{name}]"))
            .unwrap_or_default();
        writeln!(
            out,
            "{} {start}{:<7}{end}{emitter} {}",
            line["createdAt"].as_str().unwrap_or("?"),
            severity.to_uppercase(),
            line["message"].as_str().unwrap_or("")
        )
    }
}

pub fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let remote = args.profile.remote()?;
    let id = crate::executions::segment(&args.execution)?.to_owned();
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let printer = Printer {
        format: args.output.output,
        color: crate::output::colour(std::io::stdout().is_terminal()),
        severities: args.severity.as_deref().map(|list| {
            list.split(',')
                .map(|severity| severity.trim().to_owned())
                .filter(|severity| !severity.is_empty())
                .collect()
        }),
        since,
        grep: args.grep.map(|text| text.to_lowercase()),
    };
    let mut out = std::io::stdout().lock();
    if args.follow {
        return follow(&remote, &id, &printer, &mut out);
    }
    let mut filters = String::new();
    if let Some(severities) = &printer.severities {
        filters.push_str(&format!("&severity={}", severities.join(",")));
    }
    if let Some(since) = since {
        filters.push_str(&format!("&from={since}"));
    }
    let mut path = format!("/v1/executions/{id}/logs?limit=1000{filters}");
    loop {
        let page = remote.get(&path)?;
        for line in page["data"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            printer.print(&mut out, line)?;
        }
        match page["nextCursor"].as_str() {
            Some(cursor) => {
                path = format!("/v1/executions/{id}/logs?limit=1000&cursor={cursor}{filters}")
            }
            None => return Ok(ExitCode::SUCCESS),
        }
    }
}

/// Prints the stream's lines until its `end` event; connects again (resuming after the
/// last line received) if the stream breaks first.
fn follow(
    remote: &Remote,
    id: &str,
    printer: &Printer,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let path = format!("/v1/executions/{id}/logs/stream");
    let mut last_seq: Option<u64> = None;
    loop {
        let stream = remote.get_stream(&path, last_seq)?;
        let mut event = SseEvent::default();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if !line.is_empty() {
                event.add(&line);
                continue;
            }
            let done = std::mem::take(&mut event);
            match done.name.as_str() {
                "log" => {
                    let value: Value = serde_json::from_str(&done.data)
                        .context("the stream sent a line that is not JSON")?;
                    printer.print(out, &value)?;
                    out.flush()?;
                    last_seq = done
                        .id
                        .as_deref()
                        .and_then(|id| id.parse().ok())
                        .or(last_seq);
                }
                "end" => {
                    let end: Value =
                        serde_json::from_str(&done.data).context("the stream's end is not JSON")?;
                    return Ok(exit_code(end["status"].as_str().unwrap_or("")));
                }
                _ => {}
            }
        }
        eprintln!("pipelog: the stream broke; connecting again");
        std::thread::sleep(RECONNECT_AFTER);
    }
}

/// `0` for a completed execution, else the documented code of its final status.
fn exit_code(status: &str) -> ExitCode {
    match status {
        "COMPLETED" => ExitCode::SUCCESS,
        "FAILED" => ExitCode::from(EXIT_FAILED),
        "TERMINATED" => ExitCode::from(EXIT_TERMINATED),
        "TIMED_OUT" => ExitCode::from(EXIT_TIMED_OUT),
        _ => ExitCode::FAILURE,
    }
}

/// One event of a Server-Sent Events stream, its fields gathered line by line.
#[derive(Debug, Default)]
struct SseEvent {
    name: String,
    id: Option<String>,
    data: String,
}

impl SseEvent {
    fn add(&mut self, line: &str) {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.name = value.to_owned(),
            "id" => self.id = Some(value.to_owned()),
            "data" => {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value);
            }
            _ => {}
        }
    }
}

/// A time, or an age back from now (`90s`, `10m`, `2h`, `7d`).
fn parse_since(text: &str) -> anyhow::Result<UtcTime> {
    if let Ok(time) = UtcTime::parse(text) {
        return Ok(time);
    }
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!(
            "--since `{text}`: expected a time (2026-11-22T10:00:00Z) or an age (90s, 10m, 2h, 7d)"
        ),
    };
    let age: i64 = number
        .parse()
        .with_context(|| format!("--since `{text}`: expected a number before `{unit}`"))?;
    UtcTime::from_unix_millis(UtcTime::now().unix_millis() - age.saturating_mul(seconds_per * 1000))
        .with_context(|| format!("--since `{text}` is too far back"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_gather_their_fields_until_a_blank_line() {
        let mut event = SseEvent::default();
        for line in ["event: log", "id: 7", "data: {\"a\":", "data: 1}"] {
            event.add(line);
        }
        assert_eq!(event.name, "log");
        assert_eq!(event.id.as_deref(), Some("7"));
        assert_eq!(event.data, "{\"a\":\n1}");
    }

    #[test]
    fn since_takes_a_time_or_an_age() {
        assert_eq!(
            parse_since("2026-11-22T10:00:00Z").unwrap().to_string(),
            "2026-11-22T10:00:00.000Z"
        );
        let ten_minutes_ago = parse_since("10m").unwrap().unix_millis();
        let expected = UtcTime::now().unix_millis() - 600_000;
        assert!((ten_minutes_ago - expected).abs() < 5_000);
        let error = parse_since("10 minutes").unwrap_err().to_string();
        assert!(error.contains("--since"), "{error}");
    }

    #[test]
    fn final_statuses_have_their_own_exit_codes() {
        assert_eq!(exit_code("COMPLETED"), ExitCode::SUCCESS);
        assert_eq!(exit_code("FAILED"), ExitCode::from(EXIT_FAILED));
        assert_eq!(exit_code("TIMED_OUT"), ExitCode::from(EXIT_TIMED_OUT));
    }
}
