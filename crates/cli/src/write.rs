//! `pipelog log`: writes one line, or every line of stdin as it comes, to an execution's
//! log (see [`crate::shipper`] for batching and retries).

use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Args};

use crate::profiles::ProfileArgs;
use crate::shipper::{Line, QUEUE_LINES, ShipOptions, Shipper, Target, parse_duration, pump};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["cid", "execution"])))]
pub struct LogArgs {
    /// The execution's correlation id (its input's eventCorrelationId). A cid the account
    /// has never seen starts a running execution of the job keyed like --emitter (or
    /// `external`).
    #[arg(long, value_name = "CID")]
    cid: Option<String>,
    /// The execution's id, instead of its correlation id.
    #[arg(long, value_name = "ID")]
    execution: Option<String>,
    /// debug, info, warning or error.
    #[arg(long, short = 's', default_value = "info", value_parser = ["debug", "info", "warning", "error"])]
    severity: String,
    /// The lines are Markdown.
    #[arg(long)]
    markdown: bool,
    /// The lines' emitter (who wrote them), such as the script's name.
    #[arg(long, value_name = "NAME")]
    emitter: Option<String>,
    /// How long to keep retrying a batch the server refuses with 429 or 503 (or cannot be
    /// reached for) before giving up with an error.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    give_up_after: String,
    /// The line to write; without it, each line of stdin is written as it comes.
    message: Option<String>,
    #[command(flatten)]
    profile: ProfileArgs,
}

pub fn run(args: LogArgs) -> anyhow::Result<ExitCode> {
    let remote = args.profile.remote()?;
    let target = match (args.cid, args.execution) {
        (Some(cid), _) => Target::Cid(cid),
        (None, Some(id)) => Target::Execution(id),
        (None, None) => unreachable!("clap requires --cid or --execution"),
    };
    let options = ShipOptions {
        markdown: args.markdown,
        give_up_after: parse_duration("--give-up-after", &args.give_up_after)?,
    };
    let shipper = Shipper::new(remote, target, options)?;
    let severity = severity_name(&args.severity);
    let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE_LINES);
    let reader = match args.message {
        Some(message) => {
            sender
                .send(Line {
                    severity,
                    message,
                    emitter: args.emitter,
                })
                .context("the line could not be queued")?;
            drop(sender);
            None
        }
        // Reading stdin on its own thread lets a batch go out on time while the next line
        // is still awaited. If sending fails, the process ends with the error, and this
        // thread with it.
        None => Some(std::thread::spawn(move || {
            let stdin = std::io::stdin().lock();
            pump(stdin, severity, args.emitter.as_deref(), &sender, None)
        })),
    };
    shipper.run(receiver)?;
    if let Some(reader) = reader {
        // The shipper ends once the reader has let go of its sender, so this does not wait.
        match reader.join() {
            Ok(read) => {
                read.context("cannot read stdin")?;
            }
            Err(_) => anyhow::bail!("the thread reading stdin panicked"),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The static name of a severity clap has checked.
fn severity_name(severity: &str) -> &'static str {
    match severity {
        "debug" => "debug",
        "warning" => "warning",
        "error" => "error",
        _ => "info",
    }
}
