//! `berth login`, `logout`, `whoami`.

use crate::{
    args::{Global, LoginArgs},
    client::{self, Client},
    config,
    error::{CliError, CliResult},
    output::Out,
};
use berth_api::Me;
use std::io::{BufRead, IsTerminal};

pub async fn login(g: &Global, args: LoginArgs, out: &Out) -> CliResult {
    let existing = config::load()?;
    let url = client::server_url(g, existing.as_ref())?;
    let token = match args.token {
        Some(t) => t,
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Access token for {url}: "))
                .map_err(|e| CliError::failed(format!("read the token: {e}")))?
        }
        None => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| CliError::failed(format!("read the token from stdin: {e}")))?;
            line
        }
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(CliError::usage(
            "no access token given: pass --token <token> or pipe it on stdin",
        ));
    }
    let me: Me = Client::new(url.clone(), Some(token.clone()))?
        .get("/v1/me")
        .await?;
    let path = config::save(&config::Config {
        url: Some(url.clone()),
        access_token: Some(token),
        username: Some(me.username.clone()),
    })?;
    out.info(format!(
        "Logged in to {url} as '{}' (saved in {})",
        me.username,
        path.display()
    ));
    out.result(&me, |_| String::new());
    Ok(())
}

pub fn logout(out: &Out) -> CliResult {
    if config::remove()? {
        out.info(format!(
            "Logged out ({} removed)",
            config::config_path().display()
        ));
    } else {
        out.info("You were not logged in; nothing to do");
    }
    Ok(())
}

pub async fn whoami(g: &Global, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let me: Me = client.get("/v1/me").await?;
    let base = client.base.clone();
    out.result(&me, |me| {
        let teams: Vec<String> = me
            .teams
            .iter()
            .map(|t| format!("{} ({})", t.team, t.role))
            .collect();
        format!(
            "{}{} on {base}\nteams: {}",
            me.username,
            if me.server_admin {
                " (server admin)"
            } else {
                ""
            },
            if teams.is_empty() {
                "none".into()
            } else {
                teams.join(", ")
            }
        )
    });
    Ok(())
}
