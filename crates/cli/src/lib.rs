//! The `pipelog` command line: `serve` runs the server; `keys` and `audit` work straight on
//! a data dir; `login`, `executions`, `log`, `run`, `logs`, `export`, `ops` and `audit
//! find` are clients of a server.

mod settings;
mod secrets;
mod serve;
mod keys;
mod audit;
mod audit_remote;
mod profiles;
mod remote;
mod output;
mod executions;
mod logs;
mod shipper;
mod write;
mod run;
mod export;
mod ops;

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
    ///
    /// Example: `pipelog keys create --data-dir /var/lib/pipelog --account acme --permissions JOBS_READ,EXECUTION_LOGS_READ`
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
    /// Searches a server's audit log, and checks audit hash chains (through a server, or
    /// straight in a data dir or database).
    ///
    /// Example: `pipelog audit find 'type = key.create and timeGenerated >= 2026-11-01'`
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
    /// Downloads an execution's whole log to a file, with a progress bar; run again
    /// after an interruption, it resumes where the download stopped.
    ///
    /// Example: `pipelog export 0193... --format text -o run.log`
    Export(export::ExportArgs),
    /// Shows a data operation's operating log, its statistics and its Gantt chart.
    ///
    /// Example: `pipelog ops stats f670127a-ef1b-4926-ab64-387fba251523`
    Ops(ops::OpsArgs),
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
        Command::Export(args) => export::run(args).map(|()| ExitCode::SUCCESS),
        Command::Ops(args) => ops::run(args).map(|()| ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// `--help` shows an example for every command and group of commands.
    #[test]
    fn every_command_has_an_example() {
        fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                let path = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_long_about()
                    .or(sub.get_about())
                    .map(ToString::to_string)
                    .unwrap_or_default();
                if !help.contains("Example: `") {
                    missing.push(path.clone());
                }
                check(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        check(&Cli::command(), "pipelog", &mut missing);
        assert!(missing.is_empty(), "without an example: {missing:?}");
    }
}
