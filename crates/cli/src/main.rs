//! The `pipelog` binary: parses the command line and hands it to [`pipelog::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = pipelog::Cli::parse();
    match pipelog::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pipelog: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
