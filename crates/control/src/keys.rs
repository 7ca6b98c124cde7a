//! Deploy keys: deployment keys (one deployment) and preview deploy keys (one project's
//! previews). Made by members who may edit the deployment (admins for prod) and by project or
//! team admins for preview keys; only members manage keys, never a key itself.

use crate::{Control, Principal, internal};
use berth_api::{
    CreateDeployKeyRequest, CreateDeployKeyResponse, CreatePreviewDeployKeyResponse,
    DeleteDeployKeyRequest, DeployKey,
};
use berth_model::{Error, deploy_key, token};
use berth_store::{DeployKeyRecord, KeyOwner, NewDeployKey, StoreError};

fn view(k: &DeployKeyRecord, deployment_name: Option<&str>) -> DeployKey {
    DeployKey {
        name: k.name.clone(),
        kind: k.kind.as_str().into(),
        deployment_name: deployment_name.map(str::to_string),
        creator: k.creator.clone(),
        create_time: k.create_time,
        last_used_time: k.last_used,
        expires_at: k.expires_at,
    }
}

fn name_taken(name: &str, scope: &str) -> Error {
    Error::conflict(
        "KeyNameTaken",
        format!(
            "{scope} already has a key named '{name}'; choose another name or delete that key first"
        ),
    )
}

impl Control {
    /// An expiration for a key: any time in the future up to the server's maximum.
    fn key_expiration(&self, req: &CreateDeployKeyRequest) -> Result<Option<i64>, Error> {
        let now = self.now();
        let (at, shown) = match (&req.expiration, req.expires_at) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_request(
                    "InvalidExpiration",
                    "give either 'expiration' (text) or 'expiresAt' (milliseconds), not both",
                ));
            }
            (Some(t), None) => match berth_model::expiration::parse(t, now)? {
                berth_model::expiration::Expiration::Never => return Ok(None),
                berth_model::expiration::Expiration::At(at) => (at, t.clone()),
            },
            (None, Some(ms)) => (ms, ms.to_string()),
            (None, None) => return Ok(None),
        };
        berth_model::expiration::check_range(&shown, at, now, 1, self.config.max_expiration_ms)?;
        Ok(Some(at))
    }

    pub async fn create_deploy_key(
        &self,
        p: &Principal,
        deployment: &str,
        req: CreateDeployKeyRequest,
    ) -> Result<CreateDeployKeyResponse, Error> {
        let user = p.member("create deploy keys")?.clone();
        let a = self.deployment_access(p, deployment).await?;
        a.require_live(self.now())?;
        a.require_edit("create keys for it")?;
        deploy_key::validate_name(&req.name)?;
        let expires_at = self.key_expiration(&req)?;
        let key = deploy_key::new_deployment_key(a.deployment.deployment_type, &a.deployment.name);
        let secret = key
            .expose()
            .split_once('|')
            .map(|(_, s)| s)
            .unwrap_or_default();
        self.store
            .create_deploy_key(&NewDeployKey {
                owner: KeyOwner::Deployment(a.deployment.id),
                name: req.name.clone(),
                project_id: a.deployment.project_id,
                team_id: a.deployment.team_id,
                secret_hash: token::hash(secret),
                creator: user.username.clone(),
                now: self.now(),
                expires_at,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    name_taken(&req.name, &format!("deployment '{deployment}'"))
                }
                e => internal("create deploy key")(e),
            })?;
        self.audit(
            Some(a.deployment.team_id),
            p,
            "create_deploy_key",
            deployment,
            serde_json::json!({"name": req.name, "expiresAt": expires_at}),
        )
        .await?;
        Ok(CreateDeployKeyResponse {
            deploy_key: key.expose().to_string(),
        })
    }

    pub async fn list_deploy_keys(
        &self,
        p: &Principal,
        deployment: &str,
    ) -> Result<Vec<DeployKey>, Error> {
        p.member("list deploy keys")?;
        let a = self.deployment_access(p, deployment).await?;
        // A key's name, creator and expiry are the deployment's business: seen by who may edit it.
        a.require_edit("listing its deploy keys")?;
        let keys = self
            .store
            .list_deploy_keys(KeyOwner::Deployment(a.deployment.id))
            .await
            .map_err(internal("list deploy keys"))?;
        Ok(keys.iter().map(|k| view(k, Some(deployment))).collect())
    }

    /// Finds the key a delete request means: by name, or by the key itself (what Convex's CLI
    /// sends as `id`).
    async fn key_to_delete(
        &self,
        owner: KeyOwner,
        req: &DeleteDeployKeyRequest,
    ) -> Result<String, Error> {
        let given = req
            .name
            .as_deref()
            .or(req.id.as_deref())
            .map(str::trim)
            .unwrap_or_default();
        if given.is_empty() {
            return Err(Error::bad_request(
                "BadRequestBody",
                "say which key to delete: {\"name\": \"<key name>\"}",
            ));
        }
        let secret = given.rsplit_once('|').map(|(_, s)| s).unwrap_or(given);
        if let Some(k) = self
            .store
            .deploy_key_by_hash(&token::hash(secret))
            .await
            .map_err(internal("look up key"))?
        {
            let same_owner = match owner {
                KeyOwner::Deployment(d) => k.deployment_id == Some(d),
                KeyOwner::PreviewsOf(p) => k.deployment_id.is_none() && k.project_id == p,
            };
            if same_owner {
                return Ok(k.name);
            }
        }
        Ok(given.to_string())
    }

    pub async fn delete_deploy_key(
        &self,
        p: &Principal,
        deployment: &str,
        req: DeleteDeployKeyRequest,
    ) -> Result<(), Error> {
        p.member("delete deploy keys")?;
        let a = self.deployment_access(p, deployment).await?;
        a.require_edit("delete its keys")?;
        let owner = KeyOwner::Deployment(a.deployment.id);
        let name = self.key_to_delete(owner, &req).await?;
        if !self
            .store
            .delete_deploy_key(owner, &name)
            .await
            .map_err(internal("delete deploy key"))?
        {
            return Err(Error::not_found(
                "DeployKeyNotFound",
                format!(
                    "deployment '{deployment}' has no key named '{name}'; `berth deployment token list` shows them"
                ),
            ));
        }
        self.audit(
            Some(a.deployment.team_id),
            p,
            "delete_deploy_key",
            deployment,
            serde_json::json!({"name": name}),
        )
        .await
    }

    pub async fn create_preview_deploy_key(
        &self,
        p: &Principal,
        project_id: i64,
        req: CreateDeployKeyRequest,
    ) -> Result<CreatePreviewDeployKeyResponse, Error> {
        let user = p.member("create preview deploy keys")?.clone();
        let access = self.project_access_by_id(p, project_id).await?;
        access.require_admin("create preview deploy keys")?;
        deploy_key::validate_name(&req.name)?;
        let expires_at = self.key_expiration(&req)?;
        let key = deploy_key::new_preview_key(&access.team.team.slug, &access.project.slug);
        let secret = key
            .expose()
            .split_once('|')
            .map(|(_, s)| s)
            .unwrap_or_default();
        self.store
            .create_deploy_key(&NewDeployKey {
                owner: KeyOwner::PreviewsOf(project_id),
                name: req.name.clone(),
                project_id,
                team_id: access.team.team.id,
                secret_hash: token::hash(secret),
                creator: user.username.clone(),
                now: self.now(),
                expires_at,
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    name_taken(&req.name, &format!("project '{}'", access.name()))
                }
                e => internal("create preview deploy key")(e),
            })?;
        self.audit(
            Some(access.team.team.id),
            p,
            "create_preview_deploy_key",
            &access.name(),
            serde_json::json!({"name": req.name, "expiresAt": expires_at}),
        )
        .await?;
        Ok(CreatePreviewDeployKeyResponse {
            preview_deploy_key: key.expose().to_string(),
        })
    }

    pub async fn list_preview_deploy_keys(
        &self,
        p: &Principal,
        project_id: i64,
    ) -> Result<Vec<DeployKey>, Error> {
        p.member("list preview deploy keys")?;
        let access = self.project_access_by_id(p, project_id).await?;
        access.require_admin("list preview deploy keys")?;
        let keys = self
            .store
            .list_deploy_keys(KeyOwner::PreviewsOf(project_id))
            .await
            .map_err(internal("list preview deploy keys"))?;
        Ok(keys.iter().map(|k| view(k, None)).collect())
    }

    pub async fn delete_preview_deploy_key(
        &self,
        p: &Principal,
        project_id: i64,
        req: DeleteDeployKeyRequest,
    ) -> Result<(), Error> {
        p.member("delete preview deploy keys")?;
        let access = self.project_access_by_id(p, project_id).await?;
        access.require_admin("delete preview deploy keys")?;
        let owner = KeyOwner::PreviewsOf(project_id);
        let name = self.key_to_delete(owner, &req).await?;
        if !self
            .store
            .delete_deploy_key(owner, &name)
            .await
            .map_err(internal("delete preview deploy key"))?
        {
            return Err(Error::not_found(
                "DeployKeyNotFound",
                format!(
                    "project '{}' has no preview deploy key named '{name}'; `berth deploy-key list` shows them",
                    access.name()
                ),
            ));
        }
        self.audit(
            Some(access.team.team.id),
            p,
            "delete_preview_deploy_key",
            &access.name(),
            serde_json::json!({"name": name}),
        )
        .await
    }
}
