//! Berth's command line. [`run`] parses the arguments ([`args`]), then hands the matching
//! subcommand to its module under [`commands`]. Every command prints through one [`output::Out`]:
//! human text to stderr, results to stdout, JSON with `--json`.

pub mod args;
pub mod client;
pub mod commands;
pub mod config;
pub mod error;
pub mod output;
pub mod target;

use clap::Parser;
use std::process::ExitCode;

/// Runs the command line with the process's arguments; returns the exit code (0 ok, 1 failure,
/// 2 usage).
pub fn run() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let out = output::Out::new(cli.global.json);
    match runtime.block_on(commands::dispatch(cli, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
