//! `pipelog audit find` and `pipelog audit verify` against a server: searching the key's
//! account's audit log with the find language (JSON, or a compact expression compiled to
//! it), and checking its hash chain, optionally against a digest kept since.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use pipelog_core::find_query::compact;
use serde_json::Value;

use crate::output::{OutputArgs, OutputFormat, Table, field, print_json};
use crate::profiles::ProfileArgs;

/// The largest page the server gives.
const PAGE: u64 = 1000;

#[derive(Debug, Args)]
pub struct FindArgs {
    /// The query: the find language's JSON (when it starts with `{`), or a compact
    /// expression such as `type = job.end and details.jobInstanceStatus in (FAILED,
    /// TIMED_OUT) and timeGenerated >= 2026-11-01`. Without one, every entry.
    query: Option<String>,
    /// How many entries to show at most, newest first.
    #[arg(long, default_value_t = 50, value_name = "N")]
    limit: u64,
    /// Print the query's JSON instead of running it.
    #[arg(long)]
    explain: bool,
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// The query's JSON: as given, or compiled from a compact expression. Its errors name their
/// column; with `mark_column` (for a terminal), the expression follows, the column marked.
fn query_json(text: &str, mark_column: bool) -> anyhow::Result<Value> {
    let text = text.trim();
    if text.starts_with('{') {
        return serde_json::from_str(text).context("the query starts with `{` but is not JSON");
    }
    compact::parse(text).map_err(|error| {
        if mark_column {
            let pointer = format!("{}^", " ".repeat(error.column.saturating_sub(1)));
            anyhow::anyhow!("the query {error}\n  {text}\n  {pointer}")
        } else {
            anyhow::anyhow!("the query {error}")
        }
    })?;
    Ok(compact::compile(text)?)
}

pub fn find(args: FindArgs) -> anyhow::Result<ExitCode> {
    let query = args
        .query
        .as_deref()
        .filter(|text| !text.trim().is_empty())
        .map(|text| query_json(text, std::io::stderr().is_terminal()))
        .transpose()?;
    let mut out = std::io::stdout().lock();
    if args.explain {
        let shown = query.as_ref().map_or_else(
            || Ok("(no query: every entry)".to_owned()),
            serde_json::to_string_pretty,
        )?;
        writeln!(out, "{shown}")?;
        return Ok(ExitCode::SUCCESS);
    }
    let remote = args.profile.remote()?;
    let mut entries = Vec::new();
    // Pages are counted in pages of one size, so every request asks the same size.
    let size = args.limit.clamp(1, PAGE);
    let mut page = 0;
    while (entries.len() as u64) < args.limit {
        let answer = match &query {
            Some(query) => remote.post(
                &format!("/v1/audit_logs/find?page={page}&size={size}"),
                query,
            )?,
            None => remote.get(&format!("/v1/audit_logs?page={page}&size={size}"))?,
        };
        let data = answer["data"].as_array().cloned().unwrap_or_default();
        let room = (args.limit - entries.len() as u64) as usize;
        entries.extend(data.into_iter().take(room));
        if answer["hasMore"] != Value::Bool(true) {
            break;
        }
        page += 1;
    }
    match args.output.output {
        OutputFormat::Json => {
            for entry in &entries {
                print_json(&mut out, entry)?;
            }
        }
        OutputFormat::Table => {
            let mut table = Table::new(vec!["TIME", "TYPE", "ENTITY", "ID", "DETAILS"]);
            for entry in &entries {
                table.row(vec![
                    field(entry, "timeGenerated"),
                    field(entry, "type"),
                    field(entry, "entityType"),
                    field(entry, "id"),
                    summary(&entry["details"]),
                ]);
            }
            table.print(&mut out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A one-line glimpse of an entry's details: its JSON, cut to a width a table can hold.
fn summary(details: &Value) -> String {
    const WIDTH: usize = 80;
    let text = details.to_string();
    if text.chars().count() <= WIDTH {
        return text;
    }
    let cut: String = text.chars().take(WIDTH - 1).collect();
    format!("{cut}…")
}

#[derive(Debug, Args)]
pub struct RemoteVerifyArgs {
    /// A digest from `GET /v1/audit_logs/digest`, kept since: the server checks that it
    /// signed it and that the chain still passes through it.
    #[arg(long, value_name = "FILE")]
    pub digest: Option<PathBuf>,
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Asks the server to recompute the key's account's chain; exits 1 if it is broken.
pub fn verify(args: RemoteVerifyArgs) -> anyhow::Result<ExitCode> {
    let remote = args.profile.remote()?;
    let result = match &args.digest {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the digest {}", path.display()))?;
            let digest: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a digest (JSON)", path.display()))?;
            remote.post("/v1/audit_logs/verify", &digest)?
        }
        None => remote.get("/v1/audit_logs/verify")?,
    };
    let mut out = std::io::stdout().lock();
    let valid = result["valid"] == Value::Bool(true);
    match args.output.output {
        OutputFormat::Json => print_json(&mut out, &result)?,
        OutputFormat::Table if valid => {
            writeln!(out, "{} entries checked, chain intact", result["checked"])?
        }
        OutputFormat::Table => {
            let entry = result["firstBrokenId"]
                .as_str()
                .map_or_else(|| "its end".to_owned(), |id| format!("entry {id}"));
            writeln!(
                out,
                "BROKEN at {entry} (seq {}): {}; the {} entries before it are intact",
                result["firstBrokenSeq"],
                result["reason"].as_str().unwrap_or("?"),
                result["checked"]
            )?;
        }
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_passes_and_expressions_compile() {
        let json = query_json(
            r#"{"type": "eq", "field": "type", "value": "job.end"}"#,
            false,
        )
        .unwrap();
        assert_eq!(json["field"], "type");
        let compiled = query_json("type = job.end", false).unwrap();
        assert_eq!(compiled["type"], "eq");
        assert_eq!(compiled["value"], "job.end");
        let error = query_json("type = ", false).unwrap_err().to_string();
        assert!(error.contains("column 7"), "{error}");
        assert!(!error.contains('\n'), "one line: {error:?}");
        let marked = query_json("type = ", true).unwrap_err().to_string();
        assert!(marked.ends_with("\n  type =\n        ^"), "{marked:?}");
    }
}
