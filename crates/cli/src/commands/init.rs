//! `berth init [team:project]`: link this folder to a project, create or reuse your default dev
//! deployment, select it, and scaffold `convex/` with an example when there is none.

use crate::{
    args::{Global, InitArgs},
    client::Client,
    error::{CliError, CliResult},
    output::Out,
    target::{self, print_target, write_selection},
};
use berth_api::{CreateDeploymentRequest, CreateProjectRequest, Deployment, Project};
use std::path::Path;

const EXAMPLE: &str = r#"// An example module: `berth deploy` pushes everything in convex/.
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";

export const list = query({
  args: {},
  handler: async (ctx) => {
    return await ctx.db.query("messages").order("desc").take(50);
  },
});

export const send = mutation({
  args: { author: v.string(), body: v.string() },
  handler: async (ctx, { author, body }) => {
    await ctx.db.insert("messages", { author, body });
  },
});
"#;

pub async fn run(g: &Global, args: InitArgs, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let (cur_team, cur_project) = target::current_project(g);
    let (team, project) = match args.project.as_deref() {
        None => (cur_team, cur_project),
        Some(s) => match s.split_once(':') {
            Some((t, p)) if !t.is_empty() && !p.is_empty() && !p.contains(':') => {
                (t.to_string(), p.to_string())
            }
            None if !s.is_empty() => (cur_team, s.to_string()),
            _ => {
                return Err(CliError::usage(format!(
                    "'{s}' is not team:project or project"
                )));
            }
        },
    };
    let p: Project = match target::project(&client, &team, &project).await {
        Ok(p) => p,
        Err(e) if e.code() == Some("ProjectNotFound") => {
            let p: Project = client
                .post(
                    &format!("/v1/teams/{team}/create_project"),
                    &CreateProjectRequest {
                        project_name: project.clone(),
                        slug: Some(project.clone()),
                    },
                )
                .await?;
            out.info(format!("Created project '{team}:{project}'"));
            p
        }
        Err(e) => return Err(e),
    };
    let d: Deployment = match client
        .get(&format!("/v1/projects/{}/deployment?defaultDev=true", p.id))
        .await
    {
        Ok(d) => d,
        Err(e) if e.code() == Some("DeploymentNotFound") => {
            let req = CreateDeploymentRequest {
                deployment_type: "dev".into(),
                is_default: Some(true),
                ..Default::default()
            };
            let d: Deployment = client
                .post(&format!("/v1/projects/{}/create_deployment", p.id), &req)
                .await?;
            out.info(format!(
                "Created your dev deployment {} ({})",
                d.name, d.reference
            ));
            d
        }
        Err(e) => return Err(e),
    };
    print_target(&d, out);
    write_selection(Path::new("."), &d, &client.base)?;
    let convex = Path::new("convex");
    if !convex.exists() {
        std::fs::create_dir_all(convex)
            .map_err(|e| CliError::failed(format!("create convex/: {e}")))?;
        std::fs::write(convex.join("messages.ts"), EXAMPLE)
            .map_err(|e| CliError::failed(format!("write convex/messages.ts: {e}")))?;
        out.info("Wrote an example in convex/messages.ts");
    }
    out.info(format!(
        "This folder now uses {team}:{project}; .env.local selects {}",
        d.name
    ));
    out.result(&d, |d| d.name.clone());
    Ok(())
}
