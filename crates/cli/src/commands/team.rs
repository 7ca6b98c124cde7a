//! `berth team create|list`.

use crate::{
    args::{Global, TeamCommand},
    client::Client,
    error::{CliError, CliResult},
    output::{Out, table, time},
};
use berth_api::{CreateTeamRequest, Team, UpdateTeamRequest};

pub async fn run(g: &Global, cmd: TeamCommand, out: &Out) -> CliResult {
    let client = Client::for_member(g)?;
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
        TeamCommand::Update {
            slug,
            plan,
            deployment_limit,
            max_preview_age,
            evict_previews,
            max_dev_per_member,
        } => {
            let slug = slug.unwrap_or_else(|| crate::target::current_project(g).0);
            let plan = plan
                .map(|p| {
                    p.parse().map_err(|e: berth_model::Error| {
                        CliError::usage(format!("--plan: {}", e.message))
                    })
                })
                .transpose()?;
            let deployment_limit = match deployment_limit.as_deref() {
                None => None,
                Some("default") => Some(None),
                Some(n) => Some(Some(n.parse::<u32>().map_err(|_| {
                    CliError::usage(format!(
                        "--deployment-limit '{n}' must be a whole number or 'default'"
                    ))
                })?)),
            };
            let team: Team = client
                .patch(
                    &format!("/v1/teams/{slug}"),
                    &UpdateTeamRequest {
                        plan,
                        deployment_limit,
                        max_preview_age: max_preview_age.map(|a| (a != "none").then_some(a)),
                        evict_previews,
                        max_dev_per_member: match max_dev_per_member.as_deref() {
                            None => None,
                            Some("none") => Some(None),
                            Some(n) => Some(Some(n.parse::<u32>().map_err(|_| {
                                CliError::usage(format!(
                                    "--max-dev-per-member '{n}' must be a whole number or 'none'"
                                ))
                            })?)),
                        },
                    },
                )
                .await?;
            out.info(format!(
                "Team '{}' is on plan {} with {}; previews live at most {}; at the limit a new preview {}; dev deployments per member: {}",
                team.slug,
                team.plan,
                team.deployment_limit
                    .map_or("no deployment limit".into(), |l| format!(
                        "a limit of {l} deployments"
                    )),
                team.max_preview_age_ms
                    .map_or("as long as their expiration says".into(), berth_model::duration::format_ms),
                if team.evict_previews {
                    "evicts the least recently deployed preview"
                } else {
                    "is refused"
                },
                team.max_dev_per_member
                    .map_or("no cap".into(), |n| n.to_string())
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
