//! The `pipelog` command line: `serve` runs the server; `keys` and `audit` work straight on
//! a data dir; `login`, `executions`, `log`, `run` and `logs` are clients of a server.

mod settings;
mod secrets;
mod serve;
mod keys;
mod audit;
mod profiles;
mod remote;
mod output;
mod executions;
mod logs;
mod shipper;
mod write;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use settings::{ServeArgs, StoreArgs};

/// pipelog: execution, audit and operating logs for data pipelines.
#[derive(Debug, Parser)]
#[command(name = "pipelog", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    ///
    /// Example: `pipelog serve --listen 0.0.0.0:8080 --data-dir /var/lib/pipelog`
    Serve(ServeArgs),
    /// Manages API keys directly in a data dir, with the server stopped or running.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Checks audit logs straight in a data dir, with the server stopped or running.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Keeps a server's address and an API key as a profile for the client commands.
    ///
    /// The key is read from stdin, or from a prompt that does not echo it.
    ///
    /// Example: `pipelog login --url https://logs.example.com --profile prod < key.txt`
    Login(profiles::LoginArgs),
    /// Launches, starts, ends, lists and shows executions on a server.
    ///
    /// Example: `pipelog executions list --status RUNNING`
    Executions(executions::ExecutionsArgs),
    /// Writes a line to an execution's log, or each line of stdin as it comes.
    ///
    /// Lines from stdin go in batches at least every 200 ms, retried on 429 and 503
    /// without writing any twice.
    ///
    /// Example: `./import.sh 2>&1 | pipelog log --cid "$CID" --emitter import.sh`
    Log(write::LogArgs),
    /// Runs a command as an execution of a job, its output as the execution's log.
    ///
    /// stdout lines are `info`, stderr lines `error`; the execution ends COMPLETED,
    /// FAILED or TERMINATED as the command does, and pipelog exits with its code.
    ///
    /// Example: `pipelog run --job nightly-backup -- /usr/local/bin/backup.sh --full`
    Run(run::RunArgs),
    /// Prints an execution's log, or follows it live until the execution ends.
    ///
    /// Example: `pipelog logs 0193... --follow --severity warning,error`
    Logs(logs::LogsArgs),
}

/// Runs one command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Keys { command } => keys::run(command),
        Command::Audit { command } => audit::run(command),
        Command::Login(args) => profiles::login(args).map(|()| ExitCode::SUCCESS),
        Command::Executions(args) => executions::run(args).map(|()| ExitCode::SUCCESS),
        Command::Log(args) => write::run(args),
        Command::Run(args) => run::run(args),
        Command::Logs(args) => logs::run(args),
    }
}
