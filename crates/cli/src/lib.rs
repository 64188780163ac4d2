//! The `pipelog` command line: `serve` runs the server; `keys` and `audit` work straight on
//! a data dir.

mod settings;
mod secrets;
mod serve;
mod keys;
mod audit;

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
}

/// Runs one command line to completion.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::serve(args),
        Command::Keys { command } => keys::run(command),
        Command::Audit { command } => audit::run(command),
    }
}
