//! `berth deployment create|select|list|show|update|delete|reset|seed` and `deployment token`.

use crate::{
    args::{CreateDeploymentArgs, DeploymentCommand, Global, TokenCommand, UpdateDeploymentArgs},
    client::Client,
    commands::{ask, confirm, interactive},
    error::{CliError, CliResult},
    output::{Out, table, time},
    target::{self, current_project, print_target, write_selection},
};
use berth_api::{
    CreateDeployKeyRequest, CreateDeployKeyResponse, CreateDeploymentRequest,
    DeleteDeployKeyRequest, DeployKey, Deployment, Empty, UpdateDeploymentRequest,
};
use std::path::Path;

pub async fn run(g: &Global, cmd: DeploymentCommand, out: &Out) -> CliResult {
    // Seeding is a function call: it works with a deploy key alone, like `berth run`.
    if let DeploymentCommand::Seed {
        selector,
        run,
        args,
    } = cmd
    {
        let g = Global {
            deployment: Some(selector),
            ..g.clone()
        };
        let run = crate::args::RunArgs {
            function: run,
            args,
            push: false,
            watch: false,
        };
        return super::deploy::run_function(&g, run, out).await;
    }
    let client = if matches!(cmd, DeploymentCommand::Token(_)) {
        Client::for_member(g)?
    } else {
        Client::from_login(g)?
    };
    match cmd {
        DeploymentCommand::Create(args) => create(&client, g, args, out).await,
        DeploymentCommand::Select { selector } => {
            let d = target::resolve(&client, g, &selector).await?;
            print_target(&d, out);
            write_selection(Path::new("."), &d, &client.base)?;
            out.info(format!("Selected {} for this folder (.env.local)", d.name));
            out.result(&d, |d| d.name.clone());
            Ok(())
        }
        DeploymentCommand::List {
            deployment_type,
            search,
        } => list(&client, g, deployment_type, search, out).await,
        DeploymentCommand::Show { selector } => {
            let d = target::target(&client, g, selector.as_deref(), out).await?;
            out.result(&d, describe);
            Ok(())
        }
        DeploymentCommand::Update(args) => update(&client, g, args, out).await,
        DeploymentCommand::Reset {
            selector,
            from,
            copy_env,
        } => {
            let d = target::resolve(&client, g, &selector).await?;
            let source = target::resolve(&client, g, &from).await?;
            print_target(&d, out);
            if d.dashboard_edit_confirmation {
                confirm(
                    g,
                    &format!(
                        "Replace every document of {} deployment '{}' ({}) with a copy of {} ({})?",
                        d.deployment_type, d.reference, d.name, source.reference, source.name
                    ),
                )?;
            }
            let reset: Deployment = client
                .post(
                    &format!("/v1/deployments/{}/reset", d.name),
                    &berth_api::ResetDeploymentRequest {
                        from: source.name.clone(),
                        copy_env: copy_env.then_some(true),
                    },
                )
                .await?;
            out.info(format!(
                "Reset {}: its documents are now a copy of {} ({}){}",
                reset.name,
                source.reference,
                source.name,
                if copy_env { ", with its variables" } else { "" }
            ));
            out.result(&reset, |d| d.name.clone());
            Ok(())
        }
        // Handled before a client is made (it may need only a deploy key).
        DeploymentCommand::Seed { .. } => Ok(()),
        DeploymentCommand::Delete {
            selector,
            if_exists,
        } => {
            let d = match target::resolve_with(&client, g, &selector, true).await {
                Ok(d) => {
                    print_target(&d, out);
                    d
                }
                Err(e) if if_exists && e.code() == Some("DeploymentNotFound") => {
                    out.info(format!("No deployment '{selector}'; nothing to delete"));
                    out.result(&serde_json::json!({"deleted": null}), |_| String::new());
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            if d.dashboard_edit_confirmation {
                confirm(
                    g,
                    &format!(
                        "Delete {} deployment '{}' ({}) and all its data?",
                        d.deployment_type, d.reference, d.name
                    ),
                )?;
            }
            let deleted: Deployment = client
                .post(
                    &format!("/v1/deployments/{}/delete", d.name),
                    &serde_json::json!({}),
                )
                .await?;
            out.info(format!(
                "Deleted deployment {} ({})",
                deleted.name, deleted.reference
            ));
            out.result(&deleted, |_| String::new());
            Ok(())
        }
        DeploymentCommand::Token(cmd) => token(&client, g, cmd, out).await,
    }
}

async fn token(client: &Client, g: &Global, cmd: TokenCommand, out: &Out) -> CliResult {
    let d = target::target(client, g, None, out).await?;
    match cmd {
        TokenCommand::Create {
            name,
            expiration,
            save_env,
        } => {
            let req = CreateDeployKeyRequest {
                name: name.clone(),
                expires_at: None,
                expiration,
            };
            let resp: CreateDeployKeyResponse = client
                .post(
                    &format!("/v1/deployments/{}/create_deploy_key", d.name),
                    &req,
                )
                .await?;
            match save_env {
                Some(file) => {
                    save_key(&file, &resp.deploy_key, &client.base)?;
                    out.info(format!(
                        "Saved deploy key '{name}' as CONVEX_DEPLOY_KEY in {}; berth commands in this folder now use it without a login",
                        file.display()
                    ));
                    out.result(&serde_json::json!({"name": name, "savedTo": file}), |_| {
                        String::new()
                    });
                }
                None => {
                    out.info(format!(
                        "Deploy key '{name}' for {} (shown only this once):",
                        d.name
                    ));
                    out.result(&resp, |r| r.deploy_key.clone());
                }
            }
        }
        TokenCommand::List => {
            let keys: Vec<DeployKey> = client
                .get(&format!("/v1/deployments/{}/list_deploy_keys", d.name))
                .await?;
            out.result(&keys, |k| key_table(k));
        }
        TokenCommand::Delete { name } => {
            let _: Empty = client
                .post(
                    &format!("/v1/deployments/{}/delete_deploy_key", d.name),
                    &DeleteDeployKeyRequest {
                        name: Some(name.clone()),
                        id: None,
                    },
                )
                .await?;
            out.info(format!(
                "Deleted deploy key '{name}' of {}; it stops working at once",
                d.name
            ));
            out.result(&serde_json::json!({"deleted": name}), |_| String::new());
        }
    }
    Ok(())
}

/// Writes `CONVEX_DEPLOY_KEY` and `BERTH_URL` into `file`, keeping its other lines.
fn save_key(file: &Path, key: &str, server_url: &str) -> CliResult {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CliError::failed(format!("read {}: {e}", file.display()))),
    };
    let text = berth_model::envfile::set(&text, "CONVEX_DEPLOY_KEY", key, None);
    let text = berth_model::envfile::set(&text, "BERTH_URL", server_url, None);
    berth_control::bootstrap::write_private_file(file, &text)
        .map_err(|e| CliError::failed(format!("write {}: {e}", file.display())))?;
    if file.file_name().is_some_and(|n| n == target::ENV_FILE) {
        target::ensure_gitignored(
            file.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )?;
    }
    Ok(())
}

/// Keys as a table.
pub fn key_table(keys: &[DeployKey]) -> String {
    table(
        &["name", "creator", "created", "last used", "expires"],
        keys.iter()
            .map(|k| {
                vec![
                    k.name.clone(),
                    k.creator.clone(),
                    time(k.create_time),
                    k.last_used_time.map(time).unwrap_or_else(|| "never".into()),
                    k.expires_at.map(time).unwrap_or_else(|| "never".into()),
                ]
            })
            .collect(),
    )
}

fn git_branch() -> Option<String> {
    let o = std::process::Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let b = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !b.is_empty() && b != "HEAD").then_some(b)
}

async fn create(client: &Client, g: &Global, args: CreateDeploymentArgs, out: &Out) -> CliResult {
    let (team, project) = current_project(g);
    let asking = interactive() && args.deployment_type.is_none();
    let ty = match args.deployment_type.clone() {
        Some(t) => t,
        None if asking => ask("Type (dev, preview, prod)", Some("dev"))?,
        None => {
            return Err(CliError::usage(
                "which type of deployment? pass --type dev|preview|prod (not on a terminal, so berth cannot ask)",
            ));
        }
    };
    let parsed_type: berth_model::DeploymentType = ty
        .parse()
        .map_err(|e: berth_model::Error| CliError::usage(e.message))?;
    if args.select && parsed_type == berth_model::DeploymentType::Prod {
        return Err(CliError::usage(
            "Selecting a production deployment is unsupported; leave out --select and pass --deployment to each command.",
        ));
    }
    let branch = git_branch();
    let mut reference = args.reference.clone();
    let mut region = args.region.clone();
    let mut expiration = args.expiration.clone();
    if asking {
        let suggestion = match (parsed_type, &branch) {
            (berth_model::DeploymentType::Prod, _) => Some("production".to_string()),
            (t, Some(b)) => Some(berth_model::reference::sanitize(b, &format!("{t}/"))),
            (_, None) => None,
        };
        if reference.is_none() {
            let r = ask("Reference", suggestion.as_deref())?;
            reference = (!r.is_empty()).then_some(r);
        }
        if region.is_none() {
            let r = ask("Region (empty for the server's default)", None)?;
            region = (!r.is_empty()).then_some(r);
        }
        if expiration.is_none() {
            let e = ask(
                "Expiration (e.g. 'in 7 days', 12h, none; empty for the default)",
                None,
            )?;
            expiration = (!e.is_empty()).then_some(e);
        }
    }
    let p = target::project(client, &team, &project).await?;
    let copy_source = match &args.copy_data_from {
        Some(sel) => Some(target::resolve(client, g, sel).await?),
        None => None,
    };
    let req = CreateDeploymentRequest {
        deployment_type: parsed_type.as_str().into(),
        reference: reference.clone(),
        region,
        is_default: args.default.then_some(true),
        expires_at: None,
        expiration,
        preview_identifier: (parsed_type == berth_model::DeploymentType::Preview
            && reference.is_none())
        .then_some(branch)
        .flatten(),
        copy_data_from: copy_source.as_ref().map(|d| d.name.clone()),
        copy_env: args.copy_env.then_some(true),
    };
    if args.if_not_exists && reference.is_none() {
        return Err(CliError::usage(
            "--if-not-exists needs the reference to look for: berth deployment create <reference> --type T --if-not-exists",
        ));
    }
    let created: Result<Deployment, CliError> = client
        .post(&format!("/v1/projects/{}/create_deployment", p.id), &req)
        .await;
    let d = match (created, &reference) {
        (Err(e), Some(r)) if args.if_not_exists && e.code() == Some("ReferenceTaken") => {
            let d: Deployment = client
                .get(&format!(
                    "/v1/projects/{}/deployment?reference={}",
                    p.id,
                    target::encode(r)
                ))
                .await?;
            if d.deployment_type != parsed_type.as_str() {
                return Err(CliError::failed(format!(
                    "'{r}' already exists as a {} deployment ({}), not a {parsed_type} one; choose another reference",
                    d.deployment_type, d.name
                )));
            }
            print_target(&d, out);
            out.info(format!(
                "{} deployment {} already exists; left as it is",
                d.deployment_type, d.name
            ));
            d
        }
        (created, _) => {
            let d = created?;
            print_target(&d, out);
            out.info(format!(
                "Created {} deployment {}{}{}",
                d.deployment_type,
                d.name,
                d.expires_at
                    .map(|t| format!(", expires {}", time(t)))
                    .unwrap_or_default(),
                copy_source
                    .as_ref()
                    .map(|s| format!(", with a copy of the data of {} ({})", s.reference, s.name))
                    .unwrap_or_default()
            ));
            d
        }
    };
    if args.select {
        write_selection(Path::new("."), &d, &client.base)?;
        out.info("Selected it for this folder (.env.local)");
    }
    out.result(&d, |d| d.name.clone());
    Ok(())
}

async fn list(
    client: &Client,
    g: &Global,
    ty: Option<String>,
    search: Option<String>,
    out: &Out,
) -> CliResult {
    let (team, project) = current_project(g);
    let p = target::project(client, &team, &project).await?;
    let mut all: Vec<Deployment> = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        let mut path = format!("/v1/projects/{}/list_deployments?limit=1000", p.id);
        if let Some(t) = &ty {
            path.push_str(&format!("&deploymentType={}", target::encode(t)));
        }
        if let Some(s) = &search {
            path.push_str(&format!("&search={}", target::encode(s)));
        }
        if let Some(c) = cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Vec<Deployment> = client.get(&path).await?;
        let full = page.len() == 1000;
        cursor = page.last().map(|d| d.id);
        all.extend(page);
        if !full {
            break;
        }
    }
    out.info(format!("Deployments of {team}:{project}"));
    out.result(&all, |all| {
        table(
            &[
                "type",
                "reference",
                "name",
                "creator",
                "region",
                "created",
                "expires",
                "default",
            ],
            all.iter()
                .map(|d| {
                    vec![
                        d.deployment_type.clone(),
                        d.reference.clone(),
                        d.name.clone(),
                        d.creator.clone(),
                        d.region.clone(),
                        time(d.create_time),
                        d.expires_at.map(time).unwrap_or_else(|| "never".into()),
                        if d.is_default {
                            "yes".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect(),
        )
    });
    Ok(())
}

fn describe(d: &Deployment) -> String {
    let rows = [
        ("name", d.name.clone()),
        ("type", d.deployment_type.clone()),
        ("reference", d.reference.clone()),
        ("project", format!("{}:{}", d.team_slug, d.project_slug)),
        ("url", d.deployment_url.clone()),
        ("region", d.region.clone()),
        ("creator", d.creator.clone()),
        ("default", d.is_default.to_string()),
        ("created", time(d.create_time)),
        (
            "expires",
            d.expires_at.map(time).unwrap_or_else(|| "never".into()),
        ),
        (
            "last deploy",
            d.last_deploy_time
                .map(time)
                .unwrap_or_else(|| "never".into()),
        ),
        ("editableBy", d.editable_by.clone()),
        ("sendLogsToClient", d.send_logs_to_client.to_string()),
        (
            "sendErrorDetailsToClient",
            d.send_error_details_to_client.to_string(),
        ),
        (
            "dashboardEditConfirmation",
            d.dashboard_edit_confirmation.to_string(),
        ),
    ];
    rows.iter()
        .map(|(k, v)| format!("{k:<26}{v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_bool_setting(name: &str, v: &str) -> CliResult<Option<Option<bool>>> {
    match v {
        "true" | "on" | "yes" => Ok(Some(Some(true))),
        "false" | "off" | "no" => Ok(Some(Some(false))),
        "default" | "null" => Ok(Some(None)),
        _ => Err(CliError::usage(format!(
            "--setting {name}={v}: the value must be true, false or default"
        ))),
    }
}

async fn update(client: &Client, g: &Global, args: UpdateDeploymentArgs, out: &Out) -> CliResult {
    let mut req = UpdateDeploymentRequest {
        reference: args.reference.clone(),
        expiration: args.expiration.clone(),
        ..Default::default()
    };
    for s in &args.settings {
        let (name, value) = s
            .split_once('=')
            .ok_or_else(|| CliError::usage(format!("--setting '{s}' must be name=value")))?;
        match name {
            "sendLogsToClient" => req.send_logs_to_client = parse_bool_setting(name, value)?,
            "sendErrorDetailsToClient" => {
                req.send_error_details_to_client = parse_bool_setting(name, value)?
            }
            "dashboardEditConfirmation" => {
                req.dashboard_edit_confirmation = parse_bool_setting(name, value)?
            }
            "editableBy" => {
                req.editable_by = Some(match value {
                    "default" | "null" => None,
                    v => Some(v.to_string()),
                })
            }
            _ => {
                return Err(CliError::usage(format!(
                    "unknown setting '{name}'; settings are {}",
                    berth_model::deployment::SETTING_NAMES.join(", ")
                )));
            }
        }
    }
    let d = target::target(client, g, Some(&args.selector), out).await?;
    if d.dashboard_edit_confirmation {
        confirm(
            g,
            &format!(
                "Change {} deployment '{}' ({})?",
                d.deployment_type, d.reference, d.name
            ),
        )?;
    }
    let updated: Deployment = client
        .patch(&format!("/v1/deployments/{}", d.name), &req)
        .await?;
    out.info(format!("Updated deployment {}", updated.name));
    out.result(&updated, describe);
    Ok(())
}
