//! `berth member add|list|remove`.

use crate::{
    args::{Global, MemberCommand},
    client::Client,
    commands::team_slug,
    error::{CliError, CliResult},
    output::{Out, table, time},
};
use berth_api::{AddMemberRequest, AddMemberResponse, Empty, Member, RemoveMemberRequest};

pub async fn run(g: &Global, cmd: MemberCommand, out: &Out) -> CliResult {
    let client = Client::for_member(g)?;
    let team = team_slug(g);
    match cmd {
        MemberCommand::Add {
            username,
            role,
            project_admin,
        } => {
            let role = role
                .map(|r| {
                    r.parse()
                        .map_err(|e: berth_model::Error| CliError::usage(e.message))
                })
                .transpose()?;
            let resp: AddMemberResponse = client
                .post(
                    &format!("/v1/teams/{team}/add_member"),
                    &AddMemberRequest {
                        username,
                        role,
                        project_admin_of: project_admin,
                    },
                )
                .await?;
            let m = &resp.member;
            out.info(format!(
                "'{}' is now {} of team '{team}'",
                m.username, m.role
            ));
            match &resp.access_token {
                Some(_) => out.info(
                    "Their access token is below. It is shown only this once: hand it to them (`berth login --token <token>`).",
                ),
                None => out.info("They already had an account, so no new token was made."),
            }
            out.result(&resp, |r| r.access_token.clone().unwrap_or_default());
        }
        MemberCommand::List => {
            let members: Vec<Member> = client.get(&format!("/v1/teams/{team}/members")).await?;
            out.result(&members, |ms| {
                table(
                    &["username", "role", "project admin of", "added"],
                    ms.iter()
                        .map(|m| {
                            vec![
                                m.username.clone(),
                                m.role.to_string(),
                                m.project_admin_of.join(","),
                                time(m.create_time),
                            ]
                        })
                        .collect(),
                )
            });
        }
        MemberCommand::Remove { username } => {
            let _: Empty = client
                .post(
                    &format!("/v1/teams/{team}/remove_member"),
                    &RemoveMemberRequest {
                        username: username.clone(),
                    },
                )
                .await?;
            out.info(format!("Removed '{username}' from team '{team}'"));
            out.result(&serde_json::json!({"removed": username}), |_| String::new());
        }
    }
    Ok(())
}
