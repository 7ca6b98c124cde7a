//! `berth deploy` and `berth run`: push `convex/` to a deployment; call a function on one.

use crate::{
    args::{DeployArgs, Global, RunArgs},
    client::{self, Client},
    commands::confirm,
    error::{CliError, CliResult},
    output::{Out, Progress, count},
    target::{self, current_project, print_target},
};
use berth_api::{
    Deployment, FunctionCall, FunctionResult, IndexBuildStatus, ModuleSource, PushRequest,
    PushResponse, WatchRequest, WatchResult,
};
use berth_model::deploy_key::ParsedKey;
use std::{
    path::{Path, PathBuf},
    time::Instant,
};

/// The functions folder: `functions` in `convex.json`, else `convex/`.
pub fn functions_dir() -> CliResult<PathBuf> {
    let dir = match std::fs::read_to_string("convex.json") {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                CliError::failed(format!("convex.json is not valid JSON ({e}); fix it"))
            })?;
            v.get("functions")
                .and_then(|f| f.as_str())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("convex"))
        }
        Err(_) => PathBuf::from("convex"),
    };
    if !dir.is_dir() {
        return Err(CliError::usage(format!(
            "there is no {} folder here to push; run berth from your project's root (or `berth init` to start one)",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Every module in the functions folder: `.ts`, `.js`, `.mjs`, `.mts`, without `_generated/`,
/// `node_modules/`, hidden files, `.d.ts`, and `*.test.*` / `*.spec.*`.
pub fn collect_modules(root: &Path) -> CliResult<Vec<ModuleSource>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<ModuleSource>) -> CliResult {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::failed(format!("read {}: {e}", dir.display())))?;
    for entry in entries {
        let path = entry
            .map_err(|e| CliError::failed(format!("read {}: {e}", dir.display())))?
            .path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with('.') || name == "node_modules" || name == "_generated" {
            continue;
        }
        if path.is_dir() {
            walk(root, &path, out)?;
            continue;
        }
        let module = [".ts", ".js", ".mjs", ".mts"]
            .iter()
            .any(|e| name.ends_with(e))
            && !name.ends_with(".d.ts")
            && !name.contains(".test.")
            && !name.contains(".spec.");
        if !module {
            continue;
        }
        let source = std::fs::read_to_string(&path)
            .map_err(|e| CliError::failed(format!("read {}: {e}", path.display())))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        out.push(ModuleSource { path: rel, source });
    }
    Ok(())
}

/// Where `berth deploy` goes (PRODUCT §7).
async fn deploy_target(client: &Client, g: &Global, out: &Out) -> CliResult<Deployment> {
    if g.deployment.is_some() {
        return target::target(client, g, None, out).await;
    }
    match client::deploy_key()? {
        Some(ParsedKey::Deployment { name, .. }) => {
            let d: Deployment = client.get(&format!("/v1/deployments/{name}")).await?;
            print_target(&d, out);
            Ok(d)
        }
        Some(ParsedKey::Preview { .. }) => Err(CliError::usage(
            "with a preview deploy key, berth deploy needs a preview name: --preview-name <branch> (or run it in CI, where the branch is read from the environment)",
        )),
        None => {
            let (team, project) = current_project(g);
            let p = target::project(client, &team, &project).await?;
            let d: Deployment = client
                .get(&format!("/v1/projects/{}/deployment?defaultProd=true", p.id))
                .await
                .map_err(|e| match e.code() {
                    Some("DeploymentNotFound") => CliError::failed(format!(
                        "{team}:{project} has no production deployment to deploy to; pass --deployment <selector> (e.g. dev), or create one with `berth deployment create --type prod`"
                    )),
                    _ => e,
                })?;
            print_target(&d, out);
            confirm(
                g,
                &format!(
                    "Push convex/ to the production deployment {} of {team}:{project}?",
                    d.name
                ),
            )?;
            Ok(d)
        }
    }
}

/// Pushes the functions folder to `d`; prints what it did.
pub async fn push(
    client: &Client,
    d: &Deployment,
    g: &Global,
    dry_run: bool,
    message: Option<String>,
    out: &Out,
) -> CliResult<PushResponse> {
    let dir = functions_dir()?;
    let modules = collect_modules(&dir)?;
    if d.dashboard_edit_confirmation && g.deployment.is_some() {
        confirm(
            g,
            &format!(
                "Push {} to {} deployment {} ({})?",
                dir.display(),
                d.deployment_type,
                d.name,
                d.reference
            ),
        )?;
    }
    out.info(format!(
        "{} {} module(s) from {} to {}…",
        if dry_run { "Checking" } else { "Pushing" },
        modules.len(),
        dir.display(),
        d.name
    ));
    let started = Instant::now();
    let (path, body) = (
        format!("/d/{}/api/push", d.name),
        PushRequest {
            modules,
            dry_run,
            message,
        },
    );
    let request = client.post::<_, PushResponse>(&path, &body);
    // While the push builds new indexes (before the code goes live), show how far it is.
    tokio::pin!(request);
    let (mut tick, mut shown) = (
        tokio::time::interval(std::time::Duration::from_millis(500)),
        Progress::default(),
    );
    let answer = loop {
        tokio::select! {
            answer = &mut request => break answer,
            _ = tick.tick(), if !dry_run => {
                let status = client
                    .get::<IndexBuildStatus>(&format!("/d/{}/api/index_build", d.name))
                    .await;
                if let Ok(b) = status
                    && b.state == "running"
                    && b.indexes_total > 0
                {
                    out.progress(&mut shown, format!(
                        "Backfilling indexes ({}/{} ready): {} of {} documents",
                        b.indexes_done,
                        b.indexes_total,
                        count(b.documents_done),
                        count(b.documents_total)
                    ));
                }
            }
        }
    };
    out.progress_done(&shown);
    let resp = answer.map_err(|e| match e.code() {
        Some("PushFailed") => CliError::failed(e.to_string()),
        _ => e,
    })?;
    out.info(format!(
        "{} in {} ms: {} function(s) in {} module(s){}",
        if dry_run {
            "Checked (nothing changed)"
        } else {
            "Deployed"
        },
        started.elapsed().as_millis(),
        resp.functions.len(),
        resp.module_count,
        resp.code_version
            .map(|v| format!(", code version {v}"))
            .unwrap_or_default()
    ));
    let verb = |done: &str, would: &str| if dry_run { would } else { done }.to_string();
    for (label, names) in [
        (verb("Added", "Would add"), &resp.indexes_added),
        (verb("Removed", "Would remove"), &resp.indexes_removed),
    ] {
        if !names.is_empty() {
            out.info(format!("{label} indexes: {}", names.join(", ")));
        }
    }
    Ok(resp)
}

fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub async fn run(g: &Global, args: DeployArgs, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let message = args
        .message
        .clone()
        .or_else(|| berth_model::ci::default_message(&env_var));
    let key = client::deploy_key()?;
    let preview = args.preview_create.is_some()
        || args.preview_name.is_some()
        || (matches!(key, Some(ParsedKey::Preview { .. })) && g.deployment.is_none());
    if preview {
        return crate::commands::preview::deploy(&client, g, &args, key.as_ref(), message, out)
            .await;
    }
    if let Some(ParsedKey::Deployment {
        deployment_type: berth_model::DeploymentType::Prod,
        ..
    }) = &key
        && let Some(why) = berth_model::ci::non_production_build(&env_var)
    {
        return Err(CliError::failed(format!(
            "refusing to deploy to production from a non-production build ({why}); use a preview deploy key for previews"
        )));
    }
    let d = deploy_target(&client, g, out).await?;
    let resp = push(&client, &d, g, args.dry_run, message, out).await?;
    out.result(&resp, |r| {
        r.functions
            .iter()
            .map(|f| format!("{:<9}{:<9}{}", f.kind, f.visibility, f.path))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

pub async fn run_function(g: &Global, args: RunArgs, out: &Out) -> CliResult {
    let client = Client::from_login(g)?;
    let d = target::target(&client, g, None, out).await?;
    if args.push {
        push(&client, &d, g, false, None, out).await?;
    }
    let fn_args: serde_json::Value = match &args.args {
        Some(text) => serde_json::from_str(text).map_err(|e| {
            CliError::usage(format!(
                "the arguments must be a JSON object, e.g. '{{\"author\": \"ada\"}}' ({e})"
            ))
        })?,
        None => serde_json::json!({}),
    };
    if !fn_args.is_object() {
        return Err(CliError::usage(
            "the arguments must be a JSON object, e.g. '{\"author\": \"ada\"}'",
        ));
    }
    if args.watch {
        return watch(&client, &d, &args.function, fn_args, out).await;
    }
    let call = FunctionCall {
        path: args.function.clone(),
        args: Some(fn_args),
        format: Some("json".into()),
    };
    let r: FunctionResult = client
        .post(&format!("/d/{}/api/function", d.name), &call)
        .await?;
    for line in &r.log_lines {
        out.info(line);
    }
    shown(r, out)
}

/// Prints a function's result: its value, or its error as the command's failure.
fn shown(r: FunctionResult, out: &Out) -> CliResult {
    if r.status == "success" {
        let value = r.value.clone().unwrap_or(serde_json::Value::Null);
        out.result(&value, |v| {
            serde_json::to_string_pretty(v).unwrap_or_default()
        });
        Ok(())
    } else {
        let mut message = r
            .error_message
            .unwrap_or_else(|| "the function failed".into());
        if let Some(data) = r.error_data {
            message.push_str(&format!("\nerror data: {data}"));
        }
        Err(CliError::failed(message))
    }
}

/// `berth run --watch`: prints the query's result, then again whenever it changes.
async fn watch(
    client: &Client,
    d: &Deployment,
    function: &str,
    args: serde_json::Value,
    out: &Out,
) -> CliResult {
    out.info(format!(
        "Watching {function} on {} (Ctrl-C to stop)…",
        d.name
    ));
    let mut after: Option<String> = None;
    loop {
        let w: WatchResult = client
            .post(
                &format!("/d/{}/api/watch", d.name),
                &WatchRequest {
                    path: function.to_string(),
                    args: Some(args.clone()),
                    format: Some("json".into()),
                    after: after.clone(),
                    wait: None,
                },
            )
            .await?;
        if let Some(r) = w.result.filter(|_| w.changed) {
            for line in &r.log_lines {
                out.info(line);
            }
            match shown(r, out) {
                // The first answer failing (no such query, wrong arguments) ends the command.
                Err(e) if after.is_none() => return Err(e),
                // A query that fails later is watched on: the next write may mend it.
                Err(e) => out.error(&e),
                Ok(()) => {}
            }
        }
        after = Some(w.token);
    }
}
