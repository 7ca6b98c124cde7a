//! Which project and deployment a command works on (PRODUCT §6), and `.env.local`.
//!
//! The current project is `--team`/`--project`, else the one named in `.env.local`'s
//! `CONVEX_DEPLOYMENT` comment (written by `berth init` and `deployment select`), else
//! `default:default`. The target deployment is `--deployment <selector>`, else the deployment in
//! `CONVEX_DEPLOYMENT` (environment, then `.env.local`).

use crate::{
    args::Global,
    client::Client,
    error::{CliError, CliResult},
    output::Out,
};
use berth_api::{Deployment, Project};
use berth_model::{
    envfile,
    selector::{self, Inner, Selector},
};
use std::path::Path;

pub const ENV_FILE: &str = ".env.local";

/// `(team, project)` named by `.env.local`'s `CONVEX_DEPLOYMENT=... # team: t, project: p`.
pub fn linked_project(dir: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(dir.join(ENV_FILE)).ok()?;
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("CONVEX_DEPLOYMENT="))?;
    let comment = line.split_once(" # ")?.1;
    let mut team = None;
    let mut project = None;
    for part in comment.split(',') {
        match part.trim().split_once(':') {
            Some(("team", v)) => team = Some(v.trim().to_string()),
            Some(("project", v)) => project = Some(v.trim().to_string()),
            _ => {}
        }
    }
    Some((team?, project?))
}

/// The team and project a command works on: `--team`/`--project`, else the linked project, else
/// the project of a preview deploy key in `CONVEX_DEPLOY_KEY`, else `default:default`.
pub fn current_project(g: &Global) -> (String, String) {
    let linked = linked_project(Path::new(".")).or_else(|| match crate::client::deploy_key() {
        Ok(Some(berth_model::deploy_key::ParsedKey::Preview { team, project, .. })) => {
            Some((team, project))
        }
        _ => None,
    });
    let team = g
        .team
        .clone()
        .or_else(|| linked.as_ref().map(|l| l.0.clone()))
        .unwrap_or_else(|| berth_control::bootstrap::DEFAULT_TEAM.into());
    let project = g
        .project
        .clone()
        .or_else(|| linked.map(|l| l.1))
        .unwrap_or_else(|| berth_control::bootstrap::DEFAULT_PROJECT.into());
    (team, project)
}

pub async fn project(client: &Client, team: &str, project: &str) -> CliResult<Project> {
    client
        .get(&format!("/v1/teams/{team}/projects/{project}"))
        .await
}

/// Resolves a selector to a deployment.
pub async fn resolve(client: &Client, g: &Global, text: &str) -> CliResult<Deployment> {
    resolve_with(client, g, text, false).await
}

/// Resolves a selector, also to an expired deployment the reaper has not deleted yet when
/// `include_expired` (for deleting it).
pub async fn resolve_with(
    client: &Client,
    g: &Global,
    text: &str,
    include_expired: bool,
) -> CliResult<Deployment> {
    let expired = if include_expired {
        "includeExpired=true"
    } else {
        ""
    };
    let sel = selector::parse(text).map_err(|e| CliError::usage(e.message))?;
    match sel {
        Selector::Name(name) => {
            client
                .get(&format!("/v1/deployments/{name}?{expired}"))
                .await
        }
        Selector::InProject {
            team,
            project: proj,
            inner,
        } => {
            let (cur_team, cur_project) = current_project(g);
            let team = team.unwrap_or(cur_team);
            let proj = proj.unwrap_or(cur_project);
            let p = project(client, &team, &proj).await?;
            let query = match &inner {
                Inner::Dev => "defaultDev=true".to_string(),
                Inner::Prod => "defaultProd=true".to_string(),
                // A preview named by its raw branch finds the reference made from it.
                Inner::Reference(r) => match r.strip_prefix("preview/") {
                    Some(branch) if berth_model::reference::validate(r).is_err() => {
                        format!(
                            "reference={}",
                            encode(&berth_model::reference::preview_reference(branch))
                        )
                    }
                    _ => format!("reference={}", encode(r)),
                },
            };
            client
                .get(&format!(
                    "/v1/projects/{}/deployment?{query}&{expired}",
                    p.id
                ))
                .await
        }
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The deployment in `CONVEX_DEPLOYMENT` (`<type>:<name>`), from the environment or `.env.local`.
pub fn configured_deployment() -> Option<String> {
    let value = std::env::var("CONVEX_DEPLOYMENT")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| crate::client::dotenv_value(ENV_FILE, "CONVEX_DEPLOYMENT"))?;
    let name = value
        .rsplit(':')
        .next()
        .unwrap_or(&value)
        .trim()
        .to_string();
    (!name.is_empty()).then_some(name)
}

/// The deployment a command targets: `explicit` (a positional selector), else `--deployment`,
/// else the deployment of the key in `CONVEX_DEPLOY_KEY`, else `CONVEX_DEPLOYMENT`. Prints the
/// target block to stderr.
pub async fn target(
    client: &Client,
    g: &Global,
    explicit: Option<&str>,
    out: &Out,
) -> CliResult<Deployment> {
    let key_deployment = match crate::client::deploy_key()? {
        Some(berth_model::deploy_key::ParsedKey::Deployment { name, .. }) => Some(name),
        _ => None,
    };
    let d = if let Some(sel) = explicit.or(g.deployment.as_deref()) {
        resolve(client, g, sel).await?
    } else if let Some(name) = key_deployment {
        client.get(&format!("/v1/deployments/{name}")).await?
    } else if let Some(name) = configured_deployment() {
        client.get(&format!("/v1/deployments/{name}")).await.map_err(|e| match e.code() {
            Some("DeploymentNotFound") => CliError::failed(format!(
                "the deployment '{name}' selected by CONVEX_DEPLOYMENT (environment or .env.local) no longer exists or you cannot see it; select another with `berth deployment select <selector>`"
            )),
            _ => e,
        })?
    } else {
        return Err(CliError::usage(
            "no deployment selected: pass --deployment <selector>, run `berth deployment select <selector>` (or `berth init`), or set CONVEX_DEPLOYMENT",
        ));
    };
    print_target(&d, out);
    Ok(d)
}

/// `[Development] default:default:dev/james/feature-x (happy-otter-123)` and its URL, to stderr.
pub fn print_target(d: &Deployment, out: &Out) {
    let label = d
        .deployment_type
        .parse::<berth_model::DeploymentType>()
        .map(|t| t.label())
        .unwrap_or("Deployment");
    out.info(format!(
        "[{label}] {}:{}:{} ({})",
        d.team_slug, d.project_slug, d.reference, d.name
    ));
    out.info(format!("  {}", d.deployment_url));
}

/// Writes the selected deployment into `.env.local` in `dir` and makes sure `.gitignore` covers
/// it. Production is never written there.
pub fn write_selection(dir: &Path, d: &Deployment, server_url: &str) -> CliResult {
    if d.deployment_type == "prod" {
        return Err(CliError::usage(
            "Selecting a production deployment is unsupported; pass --deployment to each command.",
        ));
    }
    let path = dir.join(ENV_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(CliError::failed(format!("read {}: {e}", path.display()))),
    };
    let comment = format!("team: {}, project: {}", d.team_slug, d.project_slug);
    let text = envfile::set(
        &text,
        "CONVEX_DEPLOYMENT",
        &format!("{}:{}", d.deployment_type, d.name),
        Some(&comment),
    );
    let text = envfile::set(&text, "CONVEX_URL", &d.deployment_url, None);
    let text = envfile::set(&text, "BERTH_URL", server_url, None);
    std::fs::write(&path, text)
        .map_err(|e| CliError::failed(format!("write {}: {e}", path.display())))?;
    ensure_gitignored(dir)
}

/// Appends `.env.local` to `.gitignore` unless a line already covers it.
pub fn ensure_gitignored(dir: &Path) -> CliResult {
    let path = dir.join(".gitignore");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let covered = text.lines().map(str::trim).any(|l| {
        matches!(
            l,
            ".env.local"
                | "/.env.local"
                | ".env*"
                | "/.env*"
                | ".env.*"
                | "*.local"
                | ".env*.local"
                | "*.env.local"
        )
    });
    if covered {
        return Ok(());
    }
    let mut new = text;
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    new.push_str(".env.local\n");
    std::fs::write(&path, new)
        .map_err(|e| CliError::failed(format!("write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_linked_project() {
        let dir = std::env::temp_dir().join(format!("berth-linked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(ENV_FILE),
            "X=1\nCONVEX_DEPLOYMENT=dev:happy-otter-1 # team: acme, project: web\n",
        )
        .unwrap();
        assert_eq!(linked_project(&dir), Some(("acme".into(), "web".into())));
        ensure_gitignored(&dir).unwrap();
        ensure_gitignored(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
            ".env.local\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("dev/james/x y&z"), "dev/james/x%20y%26z");
    }
}
