//! `pipelog run --job KEY -- COMMAND ARGS...`: a command run as an execution of a job.
//!
//! The execution is launched (its input holds the command line) and started; the
//! command's stdout is written to its log as `info` lines and its stderr as `error` lines
//! while it runs (and copied to pipelog's own, unless `--quiet`); then the execution ends
//! `COMPLETED` if the command exited 0, `FAILED` if it exited otherwise or could not be
//! started, `TERMINATED` if a signal killed it. pipelog exits as the command did: its exit
//! code, or 128 + the signal's number. SIGTERM and SIGHUP sent to pipelog are passed on to
//! the command (Ctrl-C reaches it from the terminal by itself), so pipelog outlives it and
//! records how it ended.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, ExitStatus, Stdio};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use crate::profiles::ProfileArgs;
use crate::shipper::{Line, QUEUE_LINES, ShipOptions, Shipper, Target, parse_duration, pump};

/// The emitter of the lines pipelog itself writes about the command.
const OWN_EMITTER: &str = "pipelog run";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job's key (the job is created on first use).
    #[arg(long, value_name = "KEY")]
    job: String,
    /// Do not copy the command's output to pipelog's stdout and stderr.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// How long to keep retrying a batch of lines the server refuses with 429 or 503 (or
    /// cannot be reached for) before giving up on the log; the command runs on regardless.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    give_up_after: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
    #[command(flatten)]
    profile: ProfileArgs,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let remote = args.profile.remote()?;
    let give_up_after = parse_duration("--give-up-after", &args.give_up_after)?;
    let shown: Vec<String> = args
        .command
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let launched = remote.post(
        "/v1/executions",
        &json!({"jobKey": args.job, "input": {"command": shown}}),
    )?;
    let id = launched["id"]
        .as_str()
        .context("the server's answer to the launch has no execution id")?
        .to_owned();
    let path = format!("/v1/executions/{}", crate::executions::segment(&id)?);
    remote.post(&format!("{path}/start"), &json!({}))?;
    if !args.quiet {
        eprintln!("pipelog: running job {} as execution {id}", args.job);
    }

    let shipper = Shipper::new(
        remote.clone(),
        Target::Execution(id.clone()),
        ShipOptions {
            markdown: false,
            give_up_after,
        },
    )?;
    let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE_LINES);
    let shipping = std::thread::spawn(move || shipper.run(receiver));

    let outcome = run_command(&args.command, args.quiet, &sender);
    let own_line = |severity, message: String| {
        // If the shipper has stopped, its error is what the user gets told.
        let _ = sender.send(Line {
            severity,
            message,
            emitter: Some(OWN_EMITTER.to_owned()),
        });
    };
    let (status, exit) = match &outcome {
        Ok((status, _)) => {
            let (final_status, exit) = ending(*status);
            let severity = if final_status == "COMPLETED" {
                "info"
            } else {
                "error"
            };
            own_line(severity, describe(*status));
            (final_status, exit)
        }
        Err(error) => {
            own_line(
                "error",
                format!("cannot run `{}`: {error:#}", shown.join(" ")),
            );
            ("FAILED", ExitCode::from(not_started_code(error)))
        }
    };
    drop(sender);
    let shipped = shipping
        .join()
        .map_err(|_| anyhow::anyhow!("the thread sending the log panicked"))?;
    let ended = remote.post(&format!("{path}/end"), &json!({"status": status}));
    let every_line_delivered = outcome.as_ref().map_or(true, |(_, delivered)| *delivered);
    match (shipped, ended) {
        (Ok(_), Ok(_)) if every_line_delivered => Ok(exit),
        (Ok(_), Ok(_)) => anyhow::bail!("some of the command's output was not logged"),
        (Err(error), _) => Err(error.context(format!(
            "the command's log is incomplete (execution {id} ended {status})"
        ))),
        (Ok(_), Err(error)) => Err(error.context(format!("execution {id} was not ended"))),
    }
    .or_else(|error| {
        eprintln!("pipelog: error: {error:#}");
        // The command's own failure says more than pipelog's; a success is not one.
        Ok(if status == "COMPLETED" {
            ExitCode::FAILURE
        } else {
            exit
        })
    })
}

/// Runs the command to its end, its output going to `lines` (and copied, unless `quiet`);
/// how it exited, and whether every line of its output was handed over. An error means
/// the command could not be started (or waited for).
fn run_command(
    command: &[OsString],
    quiet: bool,
    lines: &std::sync::mpsc::SyncSender<Line>,
) -> std::io::Result<(ExitStatus, bool)> {
    let (program, arguments) = command.split_first().expect("clap requires a command");
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    forward_signals(child.id());
    let emitter = std::path::Path::new(program)
        .file_name()
        .map(|name| name.to_string_lossy().into_owned());
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (out_delivered, err_delivered) = std::thread::scope(|scope| {
        let out = scope.spawn(|| {
            let mut copy = std::io::stdout();
            let tee = (!quiet).then_some(&mut copy as &mut dyn Write);
            pump(stdout, "info", emitter.as_deref(), lines, tee)
        });
        let err = scope.spawn(|| {
            let mut copy = std::io::stderr();
            let tee = (!quiet).then_some(&mut copy as &mut dyn Write);
            pump(stderr, "error", emitter.as_deref(), lines, tee)
        });
        // A pipe that could not be read (or a reader that panicked) lost lines too.
        let delivered = |handle: std::thread::ScopedJoinHandle<'_, std::io::Result<bool>>| {
            match handle.join() {
                Ok(Ok(delivered)) => delivered,
                Ok(Err(error)) => {
                    eprintln!("pipelog: error: cannot read the command's output: {error}");
                    false
                }
                Err(_) => false,
            }
        };
        (delivered(out), delivered(err))
    });
    let status = child.wait()?;
    Ok((status, out_delivered && err_delivered))
}

/// The final status an exit makes, and the code pipelog exits with.
fn ending(status: ExitStatus) -> (&'static str, ExitCode) {
    match (status.code(), status.signal()) {
        (Some(0), _) => ("COMPLETED", ExitCode::SUCCESS),
        (Some(code), _) => ("FAILED", ExitCode::from(u8::try_from(code).unwrap_or(1))),
        (None, Some(signal)) => (
            "TERMINATED",
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(255)),
        ),
        (None, None) => ("FAILED", ExitCode::FAILURE),
    }
}

/// The line that says how the command ended.
fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("the command exited with code {code}"),
        (None, Some(signal)) => format!("the command was killed by signal {signal}"),
        (None, None) => format!("the command ended: {status}"),
    }
}

/// A shell's codes for a command that could not be run: 127 not found, 126 not runnable.
fn not_started_code(error: &std::io::Error) -> u8 {
    match error.kind() {
        std::io::ErrorKind::NotFound => 127,
        _ => 126,
    }
}

/// Passes SIGTERM and SIGHUP sent to pipelog on to the command, and keeps SIGINT from
/// ending pipelog before it (the terminal sends Ctrl-C to both).
fn forward_signals(child: u32) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use tokio::signal::unix::{SignalKind, signal};

    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
    else {
        return;
    };
    let Ok(pid) = i32::try_from(child) else {
        return;
    };
    // Listeners are in place before this returns, so no signal slips by unhandled.
    let listeners = runtime.block_on(async {
        Some((
            signal(SignalKind::terminate()).ok()?,
            signal(SignalKind::hangup()).ok()?,
            signal(SignalKind::interrupt()).ok()?,
        ))
    });
    let Some((mut terminate, mut hangup, mut interrupt)) = listeners else {
        return;
    };
    std::thread::spawn(move || {
        runtime.block_on(async move {
            loop {
                let forwarded = tokio::select! {
                    _ = terminate.recv() => Signal::SIGTERM,
                    _ = hangup.recv() => Signal::SIGHUP,
                    _ = interrupt.recv() => continue,
                };
                let _ = kill(Pid::from_raw(pid), forwarded);
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_become_final_statuses_and_codes() {
        let exited = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(ending(exited(0)), ("COMPLETED", ExitCode::SUCCESS));
        assert_eq!(ending(exited(3)), ("FAILED", ExitCode::from(3)));
        let killed = ExitStatus::from_raw(15);
        assert_eq!(ending(killed), ("TERMINATED", ExitCode::from(143)));
        assert_eq!(describe(killed), "the command was killed by signal 15");
        assert_eq!(describe(exited(3)), "the command exited with code 3");
    }
}
