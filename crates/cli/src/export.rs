//! `pipelog export EXECUTION -o FILE`: an execution's whole log to a file, through the
//! export API (`POST /monitoring/executions/{id}/logs`, its status, its download link),
//! with a progress bar, resuming where an interrupted download stopped.
//!
//! The download goes to `FILE.pipelog-part`, beside a small `FILE.pipelog-part.json` that
//! names the export (execution, format, token). Run again after an interruption (a broken
//! connection, Ctrl-C, a reboot), the command finds them, asks the same export for a fresh
//! link, and asks for the rest with `Range`; within one run, a broken connection is
//! resumed the same way. Once complete, the part becomes `FILE`. An export whose token has
//! expired (an hour) is started again from nothing.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::profiles::ProfileArgs;
use crate::remote::Remote;

/// How many times one run asks again after a download broke.
const DOWNLOAD_ATTEMPTS: u32 = 5;
/// The longest wait between two status calls while the file is built.
const MAX_POLL: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One line per log line: `<createdAt> <SEVERITY> [<emitter>] <message>`.
    Text,
    /// A JSON array of the lines as the API shows them, one per line.
    Json,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            ExportFormat::Text => "text",
            ExportFormat::Json => "json",
        }
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The execution's id.
    execution: String,
    /// `text` or `json`.
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    format: ExportFormat,
    /// The file to write (`-` for stdout, which cannot resume).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: PathBuf,
    /// Download at most this many bytes a second (`500K`, `2M`), to spare a link.
    #[arg(long, value_name = "RATE")]
    limit_rate: Option<String>,
    #[command(flatten)]
    profile: ProfileArgs,
}

/// What names an export being downloaded, kept beside its part.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct PartState {
    execution: String,
    format: ExportFormat,
    token: String,
    /// Lines the file holds.
    lines: u64,
}

pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let remote = args.profile.remote()?;
    let id = crate::executions::segment(&args.execution)?.to_owned();
    let limit = args.limit_rate.as_deref().map(parse_rate).transpose()?;
    let export = Export {
        remote,
        id,
        format: args.format,
        limit,
    };
    if args.output.as_os_str() == "-" {
        let state = export.start()?;
        let url = export.link(&state.token)?;
        let mut out = std::io::stdout().lock();
        let mut response = export.remote.download(&url, 0)?;
        check_download(&mut response, 0)?;
        export.copy(response.body_mut().as_reader(), &mut out, &hidden_bar())?;
        return Ok(out.flush()?);
    }
    export.to_file(&args.output)
}

struct Export {
    remote: Remote,
    id: String,
    format: ExportFormat,
    limit: Option<u64>,
}

impl Export {
    fn logs_path(&self) -> String {
        format!("/monitoring/executions/{}/logs", self.id)
    }

    /// Asks for a new export of the whole log.
    fn start(&self) -> anyhow::Result<PartState> {
        let started = self.remote.post(
            &format!("{}?fileFormat={}", self.logs_path(), self.format.name()),
            &Value::Null,
        )?;
        Ok(PartState {
            execution: self.id.clone(),
            format: self.format,
            token: started["token"]
                .as_str()
                .context("the export's answer has no token")?
                .to_owned(),
            lines: started["size"].as_u64().unwrap_or(0),
        })
    }

    /// The export's download link, once the file is built.
    fn link(&self, token: &str) -> anyhow::Result<String> {
        match self.link_if_known(token)? {
            Some(url) => Ok(url),
            None => bail!("the export's token has expired; run the command again"),
        }
    }

    /// The link, or `None` when the server no longer knows the token.
    fn link_if_known(&self, token: &str) -> anyhow::Result<Option<String>> {
        let path = format!("{}/status", self.logs_path());
        let building = spinner("building the export");
        let mut wait = Duration::from_millis(100);
        let body = json!(token).to_string();
        loop {
            let answer = self
                .remote
                .post_raw(&path, &[], "application/json", body.as_bytes())
                .with_context(|| format!("cannot reach {}", self.remote.base()))?;
            let status: Value = match answer.status {
                200 => serde_json::from_str(&answer.text)
                    .with_context(|| format!("POST {path}: the answer is not JSON"))?,
                404 => return Ok(None),
                429 | 503 => {
                    std::thread::sleep(answer.retry_after.unwrap_or(MAX_POLL));
                    continue;
                }
                status => bail!("POST {path}: {status}: {}", answer.message()),
            };
            match status["status"].as_str() {
                Some("READY") => {
                    building.finish_and_clear();
                    let url = status["presignedURL"]
                        .as_str()
                        .context("a READY export's answer has no link")?;
                    return Ok(Some(url.to_owned()));
                }
                Some("IN_PROGRESS") => {
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(MAX_POLL);
                }
                other => bail!(
                    "the server could not build the export (status {}); its log says why",
                    other.unwrap_or("?")
                ),
            }
        }
    }

    /// Downloads the export into `output`, resuming a part left by an earlier run.
    fn to_file(&self, output: &Path) -> anyhow::Result<()> {
        let part = sibling(output, ".pipelog-part");
        let state_path = sibling(output, ".pipelog-part.json");
        let kept = read_state(&state_path)
            .filter(|state| state.execution == self.id && state.format == self.format);
        let (mut state, mut url) = match kept {
            Some(state) => match self.link_if_known(&state.token)? {
                Some(url) => (state, url),
                None => {
                    eprintln!("pipelog: the interrupted export has expired; starting again");
                    self.fresh(&part, &state_path)?
                }
            },
            None => self.fresh(&part, &state_path)?,
        };
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        let mut offset = file.metadata()?.len();
        if offset > 0 {
            eprintln!("pipelog: resuming the download at byte {offset}");
        }
        let bar = progress_bar(state.lines);
        bar.set_position(offset);
        let mut seen = count_lines(&part)?;
        bar.set_message(lines_message(seen, state.lines));
        let mut attempts = 0;
        loop {
            attempts += 1;
            if attempts > 2 * DOWNLOAD_ATTEMPTS {
                bail!(
                    "the download did not complete after {} attempts; run the command again to resume it from {}",
                    attempts - 1,
                    part.display()
                );
            }
            let outcome =
                self.download_into(&url, &mut file, offset, &bar, (&mut seen, state.lines));
            match outcome {
                Ok(Downloaded::Complete) => break,
                Ok(Downloaded::StartOver) => {
                    file.set_len(0)?;
                    seen = 0;
                    bar.set_position(0);
                }
                Ok(Downloaded::LinkGone) => match self.link_if_known(&state.token)? {
                    Some(fresh) => url = fresh,
                    None => {
                        (state, url) = self.fresh(&part, &state_path)?;
                        seen = 0;
                        bar.set_position(0);
                    }
                },
                Err(error) if attempts < DOWNLOAD_ATTEMPTS => {
                    bar.suspend(|| {
                        eprintln!("pipelog: the download broke ({error:#}); resuming");
                    });
                    std::thread::sleep(Duration::from_secs(1));
                    url = self.link(&state.token)?;
                }
                Err(error) => {
                    return Err(error.context(format!(
                        "the download stopped; run the command again to resume it from {}",
                        part.display()
                    )));
                }
            }
            offset = file.metadata()?.len();
        }
        bar.finish_and_clear();
        file.sync_all()?;
        drop(file);
        std::fs::rename(&part, output)
            .with_context(|| format!("cannot move {} to {}", part.display(), output.display()))?;
        let _ = std::fs::remove_file(&state_path);
        if std::io::stderr().is_terminal() {
            eprintln!(
                "pipelog: {} lines, {} bytes in {}",
                state.lines,
                std::fs::metadata(output)?.len(),
                output.display()
            );
        }
        Ok(())
    }

    /// A new export, its part emptied and its state kept; and its link once built.
    fn fresh(&self, part: &Path, state_path: &Path) -> anyhow::Result<(PartState, String)> {
        let state = self.start()?;
        File::create(part).with_context(|| format!("cannot write {}", part.display()))?;
        std::fs::write(state_path, serde_json::to_vec(&state)?)
            .with_context(|| format!("cannot write {}", state_path.display()))?;
        let url = self.link(&state.token)?;
        Ok((state, url))
    }

    fn download_into(
        &self,
        url: &str,
        file: &mut File,
        offset: u64,
        bar: &ProgressBar,
        (seen, lines): (&mut u64, u64),
    ) -> anyhow::Result<Downloaded> {
        let mut response = self.remote.download(url, offset)?;
        match response.status().as_u16() {
            // 403: the link expired; 404: the file is gone (its export may still be known).
            403 | 404 => return Ok(Downloaded::LinkGone),
            // Nothing past `offset`: the part is whole if the file is that long.
            416 if range_total(&response) == Some(offset) => {
                return Ok(Downloaded::Complete);
            }
            416 => return Ok(Downloaded::StartOver),
            200 if offset > 0 => return Ok(Downloaded::StartOver),
            _ => {}
        }
        check_download(&mut response, offset)?;
        let total = total_length(&response, offset);
        if let Some(total) = total {
            bar.set_length(total);
        }
        let mut counting = LineCounter {
            inner: file,
            seen,
            bar,
            lines,
        };
        self.copy(response.body_mut().as_reader(), &mut counting, bar)?;
        let written = file.metadata()?.len();
        if let Some(total) = total {
            anyhow::ensure!(
                written == total,
                "the download ended at byte {written} of {total}"
            );
        }
        Ok(Downloaded::Complete)
    }

    /// Copies `from` to `to`, moving the bar, at most `self.limit` bytes a second.
    fn copy(
        &self,
        mut from: impl Read,
        to: &mut impl Write,
        bar: &ProgressBar,
    ) -> anyhow::Result<()> {
        let mut buffer = vec![0u8; 64 * 1024];
        let started = Instant::now();
        let mut copied: u64 = 0;
        loop {
            let read = from.read(&mut buffer).context("the download broke")?;
            if read == 0 {
                to.flush()?;
                return Ok(());
            }
            to.write_all(&buffer[..read])?;
            bar.inc(read as u64);
            copied += read as u64;
            if let Some(limit) = self.limit {
                let due = Duration::from_secs_f64(copied as f64 / limit as f64);
                if let Some(ahead) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(ahead);
                }
            }
        }
    }
}

enum Downloaded {
    Complete,
    /// The server sent the whole file, or cannot serve the range: write it from byte 0.
    StartOver,
    /// The link no longer works: ask for a fresh one.
    LinkGone,
}

/// A 200 for a download from byte 0, or a 206 from byte `offset`; else the server's
/// message as an error.
fn check_download(
    response: &mut ureq::http::Response<ureq::Body>,
    offset: u64,
) -> anyhow::Result<()> {
    let status = response.status().as_u16();
    if status == 206 {
        let start = response
            .headers()
            .get("content-range")
            .and_then(|value| value.to_str().ok())
            .and_then(|range| {
                range
                    .strip_prefix("bytes ")?
                    .split('-')
                    .next()?
                    .parse::<u64>()
                    .ok()
            });
        anyhow::ensure!(
            start == Some(offset),
            "the server answered another range than asked (from {offset})"
        );
        return Ok(());
    }
    if status == 200 && offset == 0 {
        return Ok(());
    }
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|body| body["message"].as_str().map(str::to_owned))
        .unwrap_or(text);
    bail!("GET the download link: {status}: {}", message.trim())
}

/// The file's whole length, from `Content-Range` or `Content-Length`.
fn total_length(response: &ureq::http::Response<ureq::Body>, offset: u64) -> Option<u64> {
    if let Some(total) = range_total(response) {
        return Some(total);
    }
    let length = response.headers().get("content-length")?.to_str().ok()?;
    Some(offset + length.parse::<u64>().ok()?)
}

/// The whole length `Content-Range` gives (`bytes 0-99/1000`, or `bytes */1000` on a 416).
fn range_total(response: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    let range = response.headers().get("content-range")?.to_str().ok()?;
    range.rsplit('/').next()?.parse().ok()
}

/// Counts the newlines written, to show lines beside bytes.
struct LineCounter<'a, W> {
    inner: &'a mut W,
    seen: &'a mut u64,
    bar: &'a ProgressBar,
    lines: u64,
}

impl<W: Write> Write for LineCounter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        *self.seen += buf[..written].iter().filter(|byte| **byte == b'\n').count() as u64;
        self.bar.set_message(lines_message(*self.seen, self.lines));
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn lines_message(seen: u64, lines: u64) -> String {
    format!("{}/{lines} lines", seen.min(lines))
}

/// Newlines in a file already downloaded in part.
fn count_lines(path: &Path) -> anyhow::Result<u64> {
    let mut file = File::open(path)?;
    let mut buffer = vec![0u8; 256 * 1024];
    let mut count = 0;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(count);
        }
        count += buffer[..read].iter().filter(|byte| **byte == b'\n').count() as u64;
    }
}

fn read_state(path: &Path) -> Option<PartState> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// `FILE` with `suffix` added to its name.
fn sibling(output: &Path, suffix: &str) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Bytes, lines, rate and time left, on stderr when it is a terminal.
fn progress_bar(lines: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} {msg} {bytes_per_sec} ETA {eta}",
        )
        .expect("the template is valid"),
    );
    bar.set_message(lines_message(0, lines));
    bar
}

fn spinner(message: &'static str) -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, draw_target());
    spinner.set_message(message);
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

fn hidden_bar() -> ProgressBar {
    ProgressBar::hidden()
}

fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A rate such as `500K`, `2M` or `100000` bytes a second.
fn parse_rate(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let (number, factor) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1024),
        Some((at, 'm' | 'M')) => (&text[..at], 1024 * 1024),
        Some((at, 'g' | 'G')) => (&text[..at], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    let rate: u64 = number
        .parse()
        .ok()
        .filter(|rate| *rate > 0)
        .with_context(|| {
            format!("--limit-rate `{text}`: expected bytes a second, such as 500K or 2M")
        })?;
    Ok(rate * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_a_unit() {
        assert_eq!(parse_rate("100").unwrap(), 100);
        assert_eq!(parse_rate("500K").unwrap(), 512_000);
        assert_eq!(parse_rate("2m").unwrap(), 2 * 1024 * 1024);
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("0").is_err());
    }

    #[test]
    fn parts_sit_beside_the_file() {
        assert_eq!(
            sibling(Path::new("/tmp/run.log"), ".pipelog-part"),
            PathBuf::from("/tmp/run.log.pipelog-part")
        );
    }
}
