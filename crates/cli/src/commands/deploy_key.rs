//! `berth deploy-key create|list|delete`: preview deploy keys of the current project.

use crate::{
    args::{DeployKeyCommand, Global},
    client::Client,
    commands::deployment::key_table,
    error::{CliError, CliResult},
    output::Out,
    target::{self, current_project},
};
use berth_api::{
    CreateDeployKeyRequest, CreatePreviewDeployKeyResponse, DeleteDeployKeyRequest, DeployKey,
    Empty,
};

pub async fn run(g: &Global, cmd: DeployKeyCommand, out: &Out) -> CliResult {
    let client = Client::for_member(g)?;
    let (team, project) = current_project(g);
    let p = target::project(&client, &team, &project).await?;
    match cmd {
        DeployKeyCommand::Create {
            name,
            preview,
            expiration,
        } => {
            if !preview {
                return Err(CliError::usage(
                    "berth's project keys are preview deploy keys: pass --preview (for one deployment, use `berth deployment token create`)",
                ));
            }
            let req = CreateDeployKeyRequest {
                name: name.clone(),
                expires_at: None,
                expiration,
            };
            let resp: CreatePreviewDeployKeyResponse = client
                .post(
                    &format!("/v1/projects/{}/create_preview_deploy_key", p.id),
                    &req,
                )
                .await?;
            out.info(format!(
                "Preview deploy key '{name}' for {team}:{project} (shown only this once; store it as CONVEX_DEPLOY_KEY in your CI):"
            ));
            out.result(&resp, |r| r.preview_deploy_key.clone());
        }
        DeployKeyCommand::List => {
            let keys: Vec<DeployKey> = client
                .get(&format!("/v1/projects/{}/list_preview_deploy_keys", p.id))
                .await?;
            out.result(&keys, |k| key_table(k));
        }
        DeployKeyCommand::Delete { name } => {
            let _: Empty = client
                .post(
                    &format!("/v1/projects/{}/delete_preview_deploy_key", p.id),
                    &DeleteDeployKeyRequest {
                        name: Some(name.clone()),
                        id: None,
                    },
                )
                .await?;
            out.info(format!(
                "Deleted preview deploy key '{name}' of {team}:{project}; it stops working at once"
            ));
            out.result(&serde_json::json!({"deleted": name}), |_| String::new());
        }
    }
    Ok(())
}
