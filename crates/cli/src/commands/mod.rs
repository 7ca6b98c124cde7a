//! One module per subcommand; [`dispatch`] routes to them.

mod data;
pub(crate) mod deploy;
mod deploy_key;
pub(crate) mod deployment;
mod dev;
mod env;
mod init;
mod login;
mod logs;
mod member;
pub(crate) mod preview;
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
        Command::Deployment(c) => deployment::run(g, c, out).await,
        Command::Init(a) => init::run(g, a, out).await,
        Command::DeployKey(c) => deploy_key::run(g, c, out).await,
        Command::Deploy(a) => deploy::run(g, a, out).await,
        Command::Run(a) => deploy::run_function(g, a, out).await,
        Command::Data(a) => data::run(g, a, out).await,
        Command::Env(c) => env::run(g, c, out).await,
        Command::Logs(a) => logs::run(g, a, out).await,
        Command::Dev(a) => dev::run(g, a, out).await,
    }
}

/// The team a command works on: `--team`, else the linked project's, else `default`.
pub fn team_slug(g: &Global) -> String {
    crate::target::current_project(g).0
}

/// Whether prompts may be shown (stdin and stderr are terminals).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks for a line on the terminal, with a default shown in brackets.
pub fn ask(question: &str, default: Option<&str>) -> CliResult<String> {
    match default {
        Some(d) => eprint!("{question} [{d}]: "),
        None => eprint!("{question}: "),
    }
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::failed(format!("read the answer: {e}")))?;
    let answer = answer.trim();
    Ok(if answer.is_empty() {
        default.unwrap_or("").to_string()
    } else {
        answer.to_string()
    })
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
