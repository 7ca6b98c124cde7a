//! `berth project create|list|delete`.

use crate::{
    args::{Global, ProjectCommand},
    client::Client,
    commands::{confirm, team_slug},
    error::CliResult,
    output::{Out, table, time},
};
use berth_api::{CreateProjectRequest, Project, ProjectList};

pub async fn run(g: &Global, cmd: ProjectCommand, out: &Out) -> CliResult {
    let client = Client::for_member(g)?;
    let team = team_slug(g);
    match cmd {
        ProjectCommand::Create { slug, name } => {
            let req = CreateProjectRequest {
                project_name: name.unwrap_or_else(|| slug.clone()),
                slug: Some(slug),
            };
            let p: Project = client
                .post(&format!("/v1/teams/{team}/create_project"), &req)
                .await?;
            out.info(format!("Created project '{}:{}'", p.team_slug, p.slug));
            out.result(&p, |p| p.slug.clone());
        }
        ProjectCommand::List => {
            let list: ProjectList = client.get(&format!("/v1/teams/{team}/projects")).await?;
            out.result(&list.items, |items| {
                table(
                    &["slug", "name", "id", "created"],
                    items
                        .iter()
                        .map(|p| {
                            vec![
                                p.slug.clone(),
                                p.name.clone(),
                                p.id.to_string(),
                                time(p.create_time),
                            ]
                        })
                        .collect(),
                )
            });
        }
        ProjectCommand::Delete { slug } => {
            let p: Project = client
                .get(&format!("/v1/teams/{team}/projects/{slug}"))
                .await?;
            confirm(
                g,
                &format!("Delete project '{team}:{slug}' and every deployment in it?"),
            )?;
            let deleted: Project = client
                .post(
                    &format!("/v1/projects/{}/delete", p.id),
                    &serde_json::json!({}),
                )
                .await?;
            out.info(format!("Deleted project '{team}:{slug}'"));
            out.result(&deleted, |_| String::new());
        }
    }
    Ok(())
}
