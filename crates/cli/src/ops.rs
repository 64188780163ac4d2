//! `pipelog ops get|stats|gantt OPERATION_ID`: one data operation's operating log, its
//! statistics per component, and its Gantt chart.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use crate::output::{OutputArgs, OutputFormat, Table, field, print_json};
use crate::profiles::ProfileArgs;
use crate::remote::Remote;

/// The largest page the server gives.
const PAGE: u64 = 1000;

#[derive(Debug, Args)]
pub struct OpsArgs {
    #[command(subcommand)]
    command: OpsCommand,
    #[command(flatten)]
    profile: ProfileArgs,
}

#[derive(Debug, Subcommand)]
enum OpsCommand {
    /// Lists an operation's items, oldest first.
    ///
    /// Example: `pipelog ops get f670127a-ef1b-4926-ab64-387fba251523 --severity Warning`
    Get {
        /// The operation's id (a GUID).
        operation: String,
        /// The least severity: Info, Warning or Error.
        #[arg(long, value_name = "LEVEL")]
        severity: Option<String>,
        /// PublishData, PublishDataWithConsumerFeedback (the default here),
        /// ConsumerFeedbackOnly, ConsumeData, AgentStatus or Coordination.
        #[arg(
            long,
            value_name = "SCOPE",
            default_value = "PublishDataWithConsumerFeedback"
        )]
        scope: String,
        /// Include system-level items.
        #[arg(long)]
        system: bool,
        /// How many items to show at most.
        #[arg(long, default_value_t = 1000, value_name = "N")]
        limit: u64,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Shows an operation's timings per component and end to end, and its anomalies.
    ///
    /// Example: `pipelog ops stats f670127a-ef1b-4926-ab64-387fba251523`
    Stats {
        /// The operation's id (a GUID).
        operation: String,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Prints an operation's Gantt chart: Mermaid text, or SVG.
    ///
    /// Example: `pipelog ops gantt f670127a-ef1b-4926-ab64-387fba251523 --format svg -o op.svg`
    Gantt {
        /// The operation's id (a GUID).
        operation: String,
        /// `mermaid` or `svg`.
        #[arg(long, value_enum, default_value_t = ChartFormat::Mermaid)]
        format: ChartFormat,
        /// The file to write instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ChartFormat {
    Mermaid,
    Svg,
}

pub fn run(args: OpsArgs) -> anyhow::Result<()> {
    let remote = args.profile.remote()?;
    let mut out = std::io::stdout().lock();
    match args.command {
        OpsCommand::Get {
            operation,
            severity,
            scope,
            system,
            limit,
            output,
        } => {
            let mut filters = format!(
                "operationId={}&operationScope={}",
                guid(&operation)?,
                crate::executions::query_value(&scope)
            );
            if let Some(severity) = severity {
                filters.push_str(&format!(
                    "&severityLevel={}",
                    crate::executions::query_value(&severity)
                ));
            }
            if system {
                filters.push_str("&includeSystemLevel=true");
            }
            let items = items(&remote, &filters, limit)?;
            print_items(&mut out, output.output, &items)?;
        }
        OpsCommand::Stats { operation, output } => {
            let statistics =
                remote.get(&format!("/v1/operations/{}/statistics", guid(&operation)?))?;
            match output.output {
                OutputFormat::Json => print_json(&mut out, &statistics)?,
                OutputFormat::Table => print_statistics(&mut out, &statistics)?,
            }
        }
        OpsCommand::Gantt {
            operation,
            format,
            output,
        } => {
            let format = match format {
                ChartFormat::Mermaid => "mermaid",
                ChartFormat::Svg => "svg",
            };
            let chart = remote.get_text(&format!(
                "/v1/operations/{}/gantt?format={format}",
                guid(&operation)?
            ))?;
            match output {
                Some(path) => std::fs::write(&path, chart)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => out.write_all(chart.as_bytes())?,
            }
        }
    }
    Ok(())
}

/// An operation id as a path segment or query value: GUIDs only.
fn guid(id: &str) -> anyhow::Result<&str> {
    let id = id.trim();
    anyhow::ensure!(
        id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        "`{id}` is not an operation id (a GUID such as f670127a-ef1b-4926-ab64-387fba251523)"
    );
    Ok(id)
}

/// Up to `limit` items, following the offset pages.
fn items(remote: &Remote, filters: &str, limit: u64) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    while (items.len() as u64) < limit {
        let size = (limit - items.len() as u64).min(PAGE);
        let page = remote.get(&format!(
            "/api/v1/OperatingLogs?{filters}&offset={}&limit={size}",
            items.len()
        ))?;
        let got = page["items"].as_array().cloned().unwrap_or_default();
        let done = (got.len() as u64) < size;
        items.extend(got);
        if done {
            break;
        }
    }
    Ok(items)
}

fn print_items(out: &mut impl Write, format: OutputFormat, items: &[Value]) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        for item in items {
            print_json(out, item)?;
        }
        return Ok(());
    }
    let mut table = Table::new(vec![
        "CREATED", "TYPE", "ACTIVITY", "SEVERITY", "SOURCE", "SCOPE", "MESSAGE",
    ]);
    for item in items {
        table.row(vec![
            field(item, "createdOn"),
            field(item, "operationType"),
            field(item, "activityType"),
            field(item, "severity"),
            field(item, "source"),
            field(item, "scopeId"),
            field(item, "message").replace('\n', " "),
        ]);
    }
    Ok(table.print(out)?)
}

fn print_statistics(out: &mut impl Write, statistics: &Value) -> anyhow::Result<()> {
    let mut table = Table::new(vec![
        "COMPONENT",
        "SOURCE",
        "FROM",
        "TO",
        "SPAN MS",
        "BASIS",
        "PAIRS",
        "WARNINGS",
        "ERRORS",
    ]);
    let empty = Vec::new();
    for component in statistics["components"].as_array().unwrap_or(&empty) {
        let milestones = &component["milestones"];
        table.row(vec![
            field(&component["key"], "kind"),
            field(&component["key"], "sourceId"),
            field(milestones, "spanFrom"),
            field(milestones, "spanTo"),
            field(milestones, "spanMs"),
            field(milestones, "basis"),
            component["pairs"]
                .as_array()
                .map_or(0, Vec::len)
                .to_string(),
            field(&component["validation"], "warnings"),
            field(&component["validation"], "errors"),
        ]);
    }
    table.print(out)?;
    writeln!(out)?;
    writeln!(
        out,
        "end to end: {} ms, from {} to {}",
        field(statistics, "endToEndMs"),
        field(statistics, "firstEventAt"),
        field(statistics, "lastEventAt")
    )?;
    let anomalies = statistics["anomalies"].as_array().unwrap_or(&empty);
    if anomalies.is_empty() {
        writeln!(out, "no anomalies")?;
    }
    for anomaly in anomalies {
        writeln!(out, "anomaly: {anomaly}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_guids_are_operation_ids() {
        assert!(guid("f670127a-ef1b-4926-ab64-387fba251523").is_ok());
        assert!(guid("../keys").is_err());
        assert!(guid("f670127a").is_err());
    }
}
