//! `berth team create|list`.

use crate::{
    args::{Global, TeamCommand},
    client::Client,
    error::{CliError, CliResult},
    output::{Out, table, time},
};
use berth_api::{CreateTeamRequest, Team};

pub async fn run(g: &Global, cmd: TeamCommand, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    match cmd {
        TeamCommand::Create { slug, name, plan } => {
            let plan = plan
                .map(|p| {
                    p.parse().map_err(|e: berth_model::Error| {
                        CliError::usage(format!("--plan: {}", e.message))
                    })
                })
                .transpose()?;
            let team: Team = client
                .post("/v1/teams", &CreateTeamRequest { slug, name, plan })
                .await?;
            out.info(format!(
                "Created team '{}' on plan {}; you are its admin",
                team.slug, team.plan
            ));
            out.result(&team, |t| t.slug.clone());
        }
        TeamCommand::List => {
            let teams: Vec<Team> = client.get("/v1/teams").await?;
            out.result(&teams, |teams| {
                table(
                    &["slug", "name", "plan", "limit", "created"],
                    teams
                        .iter()
                        .map(|t| {
                            vec![
                                t.slug.clone(),
                                t.name.clone(),
                                t.plan.to_string(),
                                t.deployment_limit
                                    .map_or("unlimited".into(), |l| l.to_string()),
                                time(t.create_time),
                            ]
                        })
                        .collect(),
                )
            });
        }
    }
    Ok(())
}
