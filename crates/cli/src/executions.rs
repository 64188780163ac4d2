//! `pipelog executions`: launch, start, end, list and show job executions on a server.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};

use crate::output::{OutputArgs, OutputFormat, Table, field, print_json};
use crate::profiles::ProfileArgs;
use crate::remote::Remote;

#[derive(Debug, Args)]
pub struct ExecutionsArgs {
    #[command(subcommand)]
    command: ExecutionsCommand,
    #[command(flatten)]
    profile: ProfileArgs,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Subcommand)]
enum ExecutionsCommand {
    /// Queues a new execution of a job (created if new).
    ///
    /// Example: `pipelog executions launch --job nightly-import --input '{"day": "2026-11-22"}'`
    Launch {
        /// The job's key.
        #[arg(long, value_name = "KEY")]
        job: String,
        /// The execution's input, a JSON object.
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
    },
    /// Marks a queued execution running.
    ///
    /// Example: `pipelog executions start 0193...`
    Start {
        /// The execution's id.
        id: String,
    },
    /// Ends an execution with a final status.
    ///
    /// Example: `pipelog executions end 0193... --status FAILED`
    End {
        /// The execution's id.
        id: String,
        /// COMPLETED, FAILED, TERMINATED or TIMED_OUT.
        #[arg(long, value_name = "STATUS")]
        status: String,
    },
    /// Lists executions, newest first.
    ///
    /// Example: `pipelog executions list --status RUNNING,QUEUED --job nightly-import`
    List {
        /// Only these statuses, comma-separated.
        #[arg(long, value_name = "STATUSES")]
        status: Option<String>,
        /// Only executions of this job.
        #[arg(long, value_name = "KEY")]
        job: Option<String>,
        /// How many to show at most (the server is asked page by page).
        #[arg(long, default_value_t = 20, value_name = "N")]
        limit: u64,
    },
    /// Shows one execution.
    ///
    /// Example: `pipelog executions show 0193...`
    Show {
        /// The execution's id.
        id: String,
    },
}

/// The most a page asks the server for (its own maximum).
const PAGE: u64 = 1000;

pub fn run(args: ExecutionsArgs) -> anyhow::Result<()> {
    let remote = args.profile.remote()?;
    let format = args.output.output;
    let mut out = std::io::stdout().lock();
    match args.command {
        ExecutionsCommand::Launch { job, input } => {
            let mut body = Map::new();
            body.insert("jobKey".into(), json!(job));
            if let Some(input) = input {
                let input: Value = serde_json::from_str(&input)
                    .context("--input is not JSON (an object, such as '{\"day\": 1}')")?;
                anyhow::ensure!(input.is_object(), "--input must be a JSON object");
                body.insert("input".into(), input);
            }
            let execution = remote.post("/v1/executions", &Value::Object(body))?;
            print_executions(&mut out, format, &[execution])?;
        }
        ExecutionsCommand::Start { id } => {
            let execution = remote.post(
                &format!("/v1/executions/{}/start", segment(&id)?),
                &json!({}),
            )?;
            print_executions(&mut out, format, &[execution])?;
        }
        ExecutionsCommand::End { id, status } => {
            let path = format!("/v1/executions/{}/end", segment(&id)?);
            let execution = remote.post(&path, &json!({"status": status}))?;
            print_executions(&mut out, format, &[execution])?;
        }
        ExecutionsCommand::List { status, job, limit } => {
            let executions = list(&remote, status.as_deref(), job.as_deref(), limit)?;
            print_executions(&mut out, format, &executions)?;
        }
        ExecutionsCommand::Show { id } => {
            let execution = remote.get(&format!("/v1/executions/{}", segment(&id)?))?;
            match format {
                OutputFormat::Json => print_json(&mut out, &execution)?,
                OutputFormat::Table => print_details(&mut out, &execution)?,
            }
        }
    }
    Ok(())
}

/// An id as a path segment: ids are UUIDs, so anything else is refused here rather than
/// sent.
pub(crate) fn segment(id: &str) -> anyhow::Result<&str> {
    let id = id.trim();
    anyhow::ensure!(
        !id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        "`{id}` is not an execution id (a UUID such as 0193a1b2-...)"
    );
    Ok(id)
}

/// Up to `limit` executions, newest first, following the server's cursors.
fn list(
    remote: &Remote,
    status: Option<&str>,
    job: Option<&str>,
    limit: u64,
) -> anyhow::Result<Vec<Value>> {
    let mut filters = String::new();
    if let Some(status) = status {
        filters.push_str(&format!("&status={}", query_value(status)));
    }
    if let Some(job) = job {
        filters.push_str(&format!("&jobKey={}", query_value(job)));
    }
    let mut executions = Vec::new();
    let mut cursor: Option<String> = None;
    while (executions.len() as u64) < limit {
        let page_size = (limit - executions.len() as u64).min(PAGE);
        let mut path = format!("/v1/executions?limit={page_size}{filters}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", query_value(cursor)));
        }
        let page = remote.get(&path)?;
        if let Some(data) = page["data"].as_array() {
            executions.extend(data.iter().cloned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    Ok(executions)
}

/// Percent-encodes what is not unreserved in a URL.
pub(crate) fn query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~,".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn print_executions(
    out: &mut impl Write,
    format: OutputFormat,
    executions: &[Value],
) -> anyhow::Result<()> {
    match format {
        // One execution per line (NDJSON), for `jq` and friends.
        OutputFormat::Json => {
            for execution in executions {
                print_json(out, execution)?;
            }
        }
        OutputFormat::Table => {
            let mut table = Table::new(vec![
                "ID", "STATUS", "JOB", "QUEUED", "STARTED", "ENDED", "LINES",
            ]);
            for execution in executions {
                table.row(vec![
                    field(execution, "id"),
                    field(execution, "status"),
                    field(execution, "jobKey"),
                    field(execution, "queuedAt"),
                    field(execution, "startedAt"),
                    field(execution, "endedAt"),
                    field(execution, "logCount"),
                ]);
            }
            table.print(out)?;
        }
    }
    Ok(())
}

fn print_details(out: &mut impl Write, execution: &Value) -> anyhow::Result<()> {
    let Some(fields) = execution.as_object() else {
        return Ok(print_json(out, execution)?);
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in fields {
        let shown = match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        writeln!(out, "{name:width$}  {shown}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("RUNNING,QUEUED"), "RUNNING,QUEUED");
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn only_ids_become_path_segments() {
        assert!(segment("0193a1b2-0000-7000-8000-000000000000").is_ok());
        assert!(segment("../keys").is_err());
        assert!(segment("").is_err());
    }
}
