//! `berth deploy --preview-create|--preview-name` (PRODUCT §8): claim the branch's preview, push,
//! and seed it when it is new.

use crate::{
    args::{DeployArgs, Global},
    client::Client,
    commands::deploy::{collect_modules, functions_dir, push},
    error::{CliError, CliResult},
    output::Out,
    target::{self, current_project, print_target},
};
use berth_api::{
    ClaimPreviewRequest, ClaimPreviewResponse, Deployment, FunctionCall, FunctionResult,
};
use berth_model::deploy_key::ParsedKey;

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub async fn deploy(
    client: &Client,
    g: &Global,
    args: &DeployArgs,
    key: Option<&ParsedKey>,
    message: Option<String>,
    out: &Out,
) -> CliResult {
    if matches!(key, Some(ParsedKey::Deployment { .. })) {
        return Err(CliError::usage(
            "a deployment key opens one deployment and cannot create previews; use a preview deploy key (`berth deploy-key create <name> --preview`)",
        ));
    }
    let (identifier, reuse) = match (&args.preview_create, &args.preview_name) {
        (Some(n), _) => (n.clone(), false),
        (None, Some(n)) => (n.clone(), true),
        (None, None) => (
            berth_model::ci::branch(&env_var).ok_or_else(|| {
                CliError::usage(
                    "which preview? pass --preview-name <branch> (no branch in the CI environment: VERCEL_GIT_COMMIT_REF, HEAD on Netlify, CF_PAGES_BRANCH, WORKERS_CI_BRANCH, GITHUB_HEAD_REF or CI_COMMIT_REF_NAME with CI set)",
                )
            })?,
            true,
        ),
    };
    let reference = berth_model::reference::preview_reference(&identifier);
    if reference == "preview/" {
        return Err(CliError::usage(format!(
            "the preview name '{identifier}' has no letters or digits to make a reference from; pass another --preview-name"
        )));
    }
    let (team, project) = match key {
        Some(ParsedKey::Preview { team, project, .. })
            if g.team.is_none() && g.project.is_none() =>
        {
            (team.clone(), project.clone())
        }
        _ => current_project(g),
    };
    let p = target::project(client, &team, &project).await?;
    if args.dry_run {
        let existing: Result<Deployment, _> = client
            .get(&format!(
                "/v1/projects/{}/deployment?reference={}&includeExpired=true",
                p.id,
                target::encode(&reference)
            ))
            .await;
        let modules = collect_modules(&functions_dir()?)?;
        let plan = match (&existing, reuse) {
            (Ok(d), true) => format!(
                "reuse the preview {} ({}) with its data",
                d.name, d.reference
            ),
            (Ok(d), false) => format!(
                "delete the preview {} ({}) with its data and create it afresh",
                d.name, d.reference
            ),
            (Err(_), _) => format!("create the preview {team}:{project}:{reference}"),
        };
        let seeds = args.preview_run.as_ref().map(|f| {
            if existing.is_ok() && reuse {
                format!("; not run {f} (the preview is not new)")
            } else {
                format!("; then run {f} with {{}}")
            }
        });
        out.info(format!(
            "Dry run: would {plan}, push {} module(s) from convex/{}. Nothing was changed.",
            modules.len(),
            seeds.unwrap_or_default()
        ));
        out.result(&serde_json::json!({"dryRun": true, "reference": reference, "reuse": reuse, "exists": existing.is_ok(), "modules": modules.len()}), |_| String::new());
        return Ok(());
    }
    let copy_data_from = match &args.copy_data_from {
        Some(sel) => Some(target::resolve(client, g, sel).await?.name),
        None => None,
    };
    let claim: ClaimPreviewResponse = client
        .post(
            &format!("/v1/projects/{}/claim_preview_deployment", p.id),
            &ClaimPreviewRequest {
                identifier: identifier.clone(),
                reuse,
                expiration: args.expiration.clone(),
                expires_at: None,
                copy_data_from,
                copy_env: args.copy_env.then_some(true),
            },
        )
        .await?;
    let d: Deployment = client
        .get(&format!("/v1/deployments/{}", claim.deployment_name))
        .await?;
    print_target(&d, out);
    out.info(if claim.is_new_deployment {
        format!("Created the preview {} for '{identifier}'", d.name)
    } else {
        format!(
            "Reusing the preview {} for '{identifier}' with its data",
            d.name
        )
    });
    push(client, &d, g, false, message, out).await?;
    let mut seeded = false;
    if let Some(f) = &args.preview_run {
        if claim.is_new_deployment {
            out.info(format!("Seeding: running {f} with {{}}…"));
            let call = FunctionCall {
                path: f.clone(),
                args: Some(serde_json::json!({})),
                format: Some("json".into()),
            };
            let r: FunctionResult = client
                .post(&format!("/d/{}/api/function", d.name), &call)
                .await?;
            for line in &r.log_lines {
                out.info(line);
            }
            if r.status != "success" {
                return Err(CliError::failed(format!(
                    "{f} failed on the new preview {}: {}\nThe preview stays; the next `berth deploy --preview-name {identifier}` reuses it without seeding again",
                    d.name,
                    r.error_message.unwrap_or_default()
                )));
            }
            seeded = true;
        } else {
            out.info(format!("Not running {f}: the preview already existed"));
        }
    }
    out.result(
        &serde_json::json!({
            "deploymentName": d.name, "deploymentUrl": d.deployment_url, "reference": d.reference,
            "isNewDeployment": claim.is_new_deployment, "seeded": seeded
        }),
        |_| d.deployment_url.clone(),
    );
    Ok(())
}
