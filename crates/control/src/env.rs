//! Project default environment variables per deployment type, and copying them into each new
//! deployment of that type.

use crate::{Control, Principal, internal};
use berth_api::{DefaultEnvChanges, DefaultEnvVar, DefaultEnvVars};
use berth_model::{DeploymentType, Error, env};

impl Control {
    /// Defaults visible to the caller: dev and preview for members, prod for project admins.
    pub async fn list_default_env(
        &self,
        p: &Principal,
        project_id: i64,
    ) -> Result<DefaultEnvVars, Error> {
        p.member("read project default variables")?;
        let access = self.project_access_by_id(p, project_id).await?;
        let all = self
            .store
            .list_default_env(project_id)
            .await
            .map_err(internal("list default variables"))?;
        Ok(DefaultEnvVars {
            environment_variables: all
                .into_iter()
                .filter(|(ty, _, _)| *ty != DeploymentType::Prod || access.project_admin)
                .map(|(ty, name, value)| DefaultEnvVar {
                    name,
                    deployment_type: ty.as_str().into(),
                    value,
                })
                .collect(),
        })
    }

    /// Changes defaults; project or team admins only, since they reach every new deployment.
    pub async fn update_default_env(
        &self,
        p: &Principal,
        project_id: i64,
        req: DefaultEnvChanges,
    ) -> Result<(), Error> {
        p.member("change project default variables")?;
        let access = self.project_access_by_id(p, project_id).await?;
        access.require_admin("change the project's default environment variables")?;
        let mut changes = Vec::new();
        for c in req.changes {
            let ty: DeploymentType = c.deployment_type.parse()?;
            env::validate_name(&c.name)?;
            if let Some(v) = &c.value {
                env::validate_value(&c.name, v)?;
            }
            changes.push((ty, c.name, c.value));
        }
        let summary: Vec<String> = changes
            .iter()
            .map(|(t, n, v)| format!("{t}:{n}{}", if v.is_some() { "" } else { " (removed)" }))
            .collect();
        self.store
            .update_default_env(project_id, &changes)
            .await
            .map_err(internal("update default variables"))?;
        self.audit(
            Some(access.team.team.id),
            p,
            "update_default_environment_variables",
            &access.name(),
            serde_json::json!({"changes": summary}),
        )
        .await
    }

    /// Copies the project's defaults for `ty` into a new deployment.
    pub(crate) async fn seed_env(
        &self,
        project_id: i64,
        ty: DeploymentType,
        deployment: i64,
    ) -> Result<(), Error> {
        let defaults: Vec<(String, Option<String>)> = self
            .store
            .list_default_env(project_id)
            .await
            .map_err(internal("list default variables"))?
            .into_iter()
            .filter(|(t, _, _)| *t == ty)
            .map(|(_, n, v)| (n, Some(v)))
            .collect();
        if defaults.is_empty() {
            return Ok(());
        }
        let docs = self
            .store
            .deployment_docs(deployment)
            .await
            .map_err(internal("open deployment data"))?;
        tokio::task::spawn_blocking(move || docs.update_env(&defaults))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "seed variables");
                Error::internal()
            })?
            .map_err(internal("seed variables"))
    }
}
