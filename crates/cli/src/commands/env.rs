//! `berth env list|get|set|remove` and `berth env default list|set|remove --type T`.

use crate::{
    args::{DefaultEnvCommand, EnvCommand, Global},
    client::Client,
    commands::confirm,
    error::{CliError, CliResult},
    output::{Out, table},
    target::{self, current_project},
};
use berth_api::{DefaultEnvChange, DefaultEnvChanges, DefaultEnvVars, Empty};
use std::{
    collections::BTreeMap,
    io::{IsTerminal, Read},
};

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Vars {
    environment_variables: BTreeMap<String, String>,
}

/// `NAME value`, `NAME=value`, `--from-file`, or stdin.
fn name_and_value(
    name: String,
    value: Option<String>,
    from_file: Option<&std::path::Path>,
) -> CliResult<(String, String)> {
    let (name, inline) = match name.split_once('=') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (name, None),
    };
    let value = match (inline, value, from_file) {
        (Some(v), None, None) | (None, Some(v), None) => v,
        (None, None, Some(f)) => std::fs::read_to_string(f)
            .map_err(|e| CliError::failed(format!("read {}: {e}", f.display())))?,
        (None, None, None) if !std::io::stdin().is_terminal() => {
            let mut v = String::new();
            std::io::stdin()
                .read_to_string(&mut v)
                .map_err(|e| CliError::failed(format!("read the value from stdin: {e}")))?;
            v.strip_suffix('\n').map(str::to_string).unwrap_or(v)
        }
        (None, None, None) => {
            return Err(CliError::usage(format!(
                "no value for {name}: pass it (`berth env set {name} value` or `{name}=value`), --from-file, or on stdin"
            )));
        }
        _ => {
            return Err(CliError::usage(
                "give the value one way: inline, as an argument, or with --from-file",
            ));
        }
    };
    berth_model::env::validate_name(&name).map_err(|e| CliError::usage(e.message))?;
    berth_model::env::validate_value(&name, &value).map_err(|e| CliError::usage(e.message))?;
    Ok((name, value))
}

pub async fn run(g: &Global, cmd: EnvCommand, out: &Out) -> CliResult {
    if let EnvCommand::Default(d) = cmd {
        return defaults(&Client::for_member(g)?, g, d, out).await;
    }
    let client = Client::from_login(g)?;
    let d = target::target(&client, g, None, out).await?;
    let list = format!("/d/{}/api/v1/list_environment_variables", d.name);
    let update = format!("/d/{}/api/v1/update_environment_variables", d.name);
    match cmd {
        EnvCommand::List => {
            let vars: Vars = client.get(&list).await?;
            // One line per variable: newlines and backslashes in values are escaped.
            out.result(&vars.environment_variables, |v| {
                v.iter()
                    .map(|(k, v)| format!("{k}={}", v.replace('\\', "\\\\").replace('\n', "\\n")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        EnvCommand::Get { name } => {
            let vars: Vars = client.get(&list).await?;
            let value = vars.environment_variables.get(&name).ok_or_else(|| {
                CliError::failed(format!(
                    "{name} is not set on {}; `berth env list` shows what is",
                    d.name
                ))
            })?;
            out.result(value, |v| v.clone());
        }
        EnvCommand::Set {
            name,
            value,
            from_file,
        } => {
            let (name, value) = name_and_value(name, value, from_file.as_deref())?;
            if d.dashboard_edit_confirmation {
                confirm(
                    g,
                    &format!(
                        "Set {name} on {} deployment {} ({})?",
                        d.deployment_type, d.name, d.reference
                    ),
                )?;
            }
            let _: Empty = client
                .post(
                    &update,
                    &serde_json::json!({"changes": [{"name": name, "value": value}]}),
                )
                .await?;
            out.info(format!("Set {name} on {}", d.name));
            out.result(&serde_json::json!({"set": name}), |_| String::new());
        }
        EnvCommand::Remove { name } => {
            let vars: Vars = client.get(&list).await?;
            if !vars.environment_variables.contains_key(&name) {
                out.info(format!(
                    "{name} is not set on {}; nothing to remove",
                    d.name
                ));
                out.result(&serde_json::json!({"removed": null}), |_| String::new());
                return Ok(());
            }
            if d.dashboard_edit_confirmation {
                confirm(
                    g,
                    &format!(
                        "Remove {name} from {} deployment {} ({})?",
                        d.deployment_type, d.name, d.reference
                    ),
                )?;
            }
            let _: Empty = client
                .post(
                    &update,
                    &serde_json::json!({"changes": [{"name": name, "value": null}]}),
                )
                .await?;
            out.info(format!("Removed {name} from {}", d.name));
            out.result(&serde_json::json!({"removed": name}), |_| String::new());
        }
        EnvCommand::Default(_) => {}
    }
    Ok(())
}

async fn defaults(client: &Client, g: &Global, cmd: DefaultEnvCommand, out: &Out) -> CliResult {
    let (team, project) = current_project(g);
    let p = target::project(client, &team, &project).await?;
    let update = format!("/v1/projects/{}/update_default_environment_variables", p.id);
    let check_type = |t: &str| -> CliResult<String> {
        t.parse::<berth_model::DeploymentType>()
            .map(|t| t.as_str().to_string())
            .map_err(|e| CliError::usage(e.message))
    };
    match cmd {
        DefaultEnvCommand::List { deployment_type } => {
            let ty = deployment_type.as_deref().map(check_type).transpose()?;
            let vars: DefaultEnvVars = client
                .get(&format!(
                    "/v1/projects/{}/list_default_environment_variables",
                    p.id
                ))
                .await?;
            let items: Vec<_> = vars
                .environment_variables
                .into_iter()
                .filter(|v| ty.as_ref().is_none_or(|t| &v.deployment_type == t))
                .collect();
            out.result(&items, |items| {
                table(
                    &["type", "name", "value"],
                    items
                        .iter()
                        .map(|v| vec![v.deployment_type.clone(), v.name.clone(), v.value.clone()])
                        .collect(),
                )
            });
        }
        DefaultEnvCommand::Set {
            name,
            value,
            deployment_type,
        } => {
            let ty = check_type(&deployment_type)?;
            let (name, value) = name_and_value(name, value, None)?;
            let _: Empty = client
                .post(
                    &update,
                    &DefaultEnvChanges {
                        changes: vec![DefaultEnvChange {
                            name: name.clone(),
                            deployment_type: ty.clone(),
                            value: Some(value),
                        }],
                    },
                )
                .await?;
            out.info(format!("New {ty} deployments of {team}:{project} will start with {name} set (existing ones are unchanged)"));
            out.result(
                &serde_json::json!({"set": name, "deploymentType": ty}),
                |_| String::new(),
            );
        }
        DefaultEnvCommand::Remove {
            name,
            deployment_type,
        } => {
            let ty = check_type(&deployment_type)?;
            let _: Empty = client
                .post(
                    &update,
                    &DefaultEnvChanges {
                        changes: vec![DefaultEnvChange {
                            name: name.clone(),
                            deployment_type: ty.clone(),
                            value: None,
                        }],
                    },
                )
                .await?;
            out.info(format!(
                "Removed the {ty} default {name} of {team}:{project}"
            ));
            out.result(
                &serde_json::json!({"removed": name, "deploymentType": ty}),
                |_| String::new(),
            );
        }
    }
    Ok(())
}
