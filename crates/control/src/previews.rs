//! Preview deployments claimed by CI (PRODUCT §8): one per branch, reused with its data or
//! created afresh, each claim answered with a short-lived deployment key for it.

use crate::{Control, Principal, internal};
use berth_api::{ClaimPreviewRequest, ClaimPreviewResponse, CreateDeploymentRequest};
use berth_model::{DeploymentType, Error, deploy_key, reference, token};
use berth_store::{KeyOwner, NewDeployKey};
use std::sync::Arc;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Control {
    /// One lock per (project, reference): two claims of the same preview on this server run one
    /// after the other, so they end with one deployment.
    fn claim_lock(&self, project_id: i64, reference: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = match self.claims.lock() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        if locks.len() > 10_000 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks
            .entry((project_id, reference.to_ascii_lowercase()))
            .or_default()
            .clone()
    }

    pub async fn claim_preview(
        &self,
        p: &Principal,
        project_id: i64,
        req: ClaimPreviewRequest,
    ) -> Result<ClaimPreviewResponse, Error> {
        let access = self.project_access_by_id(p, project_id).await?;
        let identifier = req.identifier.trim();
        if identifier.is_empty() {
            return Err(Error::bad_request(
                "InvalidPreviewName",
                "the preview needs a name (the branch): pass --preview-name <branch>",
            ));
        }
        let wanted = reference::preview_reference(identifier);
        let lock = self.claim_lock(project_id, &wanted);
        let _held = lock.lock().await;
        let now = self.now();
        let mut existing = self
            .store
            .deployment_by_reference(project_id, &wanted)
            .await
            .map_err(internal("look up preview"))?;
        if let Some(d) = existing.take() {
            if d.deployment_type != DeploymentType::Preview {
                return Err(Error::conflict(
                    "ReferenceTaken",
                    format!(
                        "'{wanted}' in '{}' is a {} deployment, not a preview; choose another preview name",
                        access.name(),
                        d.deployment_type
                    ),
                ));
            }
            if !d.is_expired(now) {
                // Reusing mints a key for it; recreating deletes it: both are edits, and an
                // `editableBy=admins` preview is the admins' alone.
                self.deployment_access(p, &d.name)
                    .await?
                    .require_edit(if req.reuse {
                        "claiming this preview"
                    } else {
                        "recreating this preview"
                    })?;
            }
            if d.is_expired(now) {
                self.reap_expired_preview(&d).await?;
            } else if req.reuse {
                existing = Some(d);
            } else {
                self.store
                    .delete_deployment(d.id)
                    .await
                    .map_err(internal("delete preview"))?;
                self.forget(&d.name);
                self.drop_data(&d).await;
                self.audit(Some(d.team_id), p, "delete_deployment", &d.name, serde_json::json!({"reference": d.reference, "reason": "recreated by a preview claim"}))
                    .await?;
            }
        }
        let (name, url, reference, is_new, expires_at) = match existing {
            Some(d) => (
                d.name.clone(),
                self.deployment_url(&d.name),
                d.reference.clone(),
                false,
                d.expires_at,
            ),
            None => {
                let created = self
                    .create_deployment(
                        p,
                        project_id,
                        CreateDeploymentRequest {
                            deployment_type: "preview".into(),
                            reference: Some(wanted.clone()),
                            preview_identifier: Some(identifier.to_string()),
                            expiration: req.expiration.clone(),
                            expires_at: req.expires_at,
                            copy_data_from: req.copy_data_from.clone(),
                            copy_env: req.copy_env,
                            ..Default::default()
                        },
                    )
                    .await?;
                (
                    created.name,
                    created.deployment_url,
                    created.reference,
                    true,
                    created.expires_at,
                )
            }
        };
        let record = self
            .deployment_record(&name)
            .await?
            .ok_or_else(Error::internal)?;
        let key = deploy_key::new_deployment_key(DeploymentType::Preview, &name);
        let secret = key
            .expose()
            .split_once('|')
            .map(|(_, s)| s)
            .unwrap_or_default();
        let key_expiry = Some(expires_at.map_or(now + DAY_MS, |e| e.min(now + DAY_MS)));
        self.store
            .create_deploy_key(&NewDeployKey {
                owner: KeyOwner::Deployment(record.id),
                name: format!("claim-{now}-{}", &token::random_secret()[..6]),
                project_id,
                team_id: record.team_id,
                secret_hash: token::hash(secret),
                creator: p.actor(),
                now,
                expires_at: key_expiry,
            })
            .await
            .map_err(internal("mint the preview's key"))?;
        Ok(ClaimPreviewResponse {
            deployment_name: name,
            deployment_url: url,
            reference,
            is_new_deployment: is_new,
            admin_key: key.expose().to_string(),
        })
    }

    async fn reap_expired_preview(&self, d: &berth_store::DeploymentRecord) -> Result<(), Error> {
        self.reap_expired_deployment(d).await.map(|_| ())
    }
}
