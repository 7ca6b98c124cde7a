//! One module per subcommand; [`dispatch`] routes to them.

mod login;
mod member;
mod project;
mod serve;
mod team;

use crate::{
    args::{Cli, Command, Global},
    error::{CliError, CliResult},
    output::Out,
};
use std::io::{BufRead, IsTerminal, Write};

pub async fn dispatch(cli: Cli, out: &Out) -> CliResult {
    let g = &cli.global;
    match cli.command {
        Command::Serve(args) => serve::run(args, out).await,
        Command::Login(args) => login::login(g, args, out).await,
        Command::Logout => login::logout(out),
        Command::Whoami => login::whoami(g, out).await,
        Command::Team(c) => team::run(g, c, out).await,
        Command::Member(c) => member::run(g, c, out).await,
        Command::Project(c) => project::run(g, c, out).await,
    }
}

/// The team a command works on: `--team`, else `default`.
pub fn team_slug(g: &Global) -> String {
    g.team
        .clone()
        .unwrap_or_else(|| berth_control::bootstrap::DEFAULT_TEAM.to_string())
}

/// The project a command works on: `--project`, else `default`.
pub fn project_slug(g: &Global) -> String {
    g.project
        .clone()
        .unwrap_or_else(|| berth_control::bootstrap::DEFAULT_PROJECT.to_string())
}

/// Asks `question` on a terminal; elsewhere requires `--yes`.
pub fn confirm(g: &Global, question: &str) -> CliResult {
    if g.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::usage(format!(
            "{question} Not on a terminal: pass --yes to confirm"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failed(format!("read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::failed("cancelled; nothing was changed"))
    }
}
