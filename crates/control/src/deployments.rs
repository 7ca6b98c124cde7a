//! Deployments (PRODUCT §2–§4): create, find, list, update, delete, and the views the API
//! returns. Every operation resolves the deployment as seen by the caller through
//! [`crate::authz`] first.

use crate::{Control, Principal, authz::DeploymentAccess, internal};
use berth_api::{
    CreateDeploymentRequest, Deployment, FindDeploymentQuery, ListDeploymentsQuery,
    UpdateDeploymentRequest,
};
use berth_model::{
    DeploymentType, EditableBy, Error, ErrorKind,
    deployment::SettingOverrides,
    expiration::{self, Expiration},
    names, reference,
};
use berth_store::{DeploymentFilter, DeploymentRecord, NewDeployment, StoreError};

const MAX_PAGE: u32 = 1000;

impl Control {
    /// The URL clients call a deployment at.
    pub fn deployment_url(&self, name: &str) -> String {
        format!("{}/d/{name}", self.config.public_url)
    }

    pub(crate) fn deployment_view(
        &self,
        d: &DeploymentRecord,
        team_slug: &str,
        project_slug: &str,
    ) -> Deployment {
        let s = d.overrides.resolve(d.deployment_type);
        Deployment {
            kind: "cloud".into(),
            id: d.id,
            name: d.name.clone(),
            deployment_type: d.deployment_type.as_str().into(),
            deployment_url: self.deployment_url(&d.name),
            reference: d.reference.clone(),
            is_default: d.is_default,
            project_id: d.project_id,
            team_slug: team_slug.into(),
            project_slug: project_slug.into(),
            region: d.region.clone(),
            create_time: d.create_time,
            creator: d.creator.clone(),
            expires_at: d.expires_at,
            last_deploy_time: d.last_deploy_time,
            preview_identifier: d.preview_identifier.clone(),
            send_logs_to_client: s.send_logs_to_client,
            send_error_details_to_client: s.send_error_details_to_client,
            dashboard_edit_confirmation: s.dashboard_edit_confirmation,
            editable_by: s.editable_by.as_str().into(),
        }
    }

    fn view(&self, a: &DeploymentAccess) -> Deployment {
        self.deployment_view(
            &a.deployment,
            &a.project.team.team.slug,
            &a.project.project.slug,
        )
    }

    /// `dev/<name>` and `dev/<name>/...` belong to the member called `<name>`: nobody else may
    /// take them, so that everyone's default dev reference stays free.
    async fn check_dev_namespace(&self, p: &Principal, reference: &str) -> Result<(), Error> {
        let lower = reference.to_ascii_lowercase();
        let Some(owner) = lower
            .strip_prefix("dev/")
            .map(|r| r.split('/').next().unwrap_or(r))
        else {
            return Ok(());
        };
        if let Principal::Member(u) = p
            && reference::dev_reference(&u.username).eq_ignore_ascii_case(&format!("dev/{owner}"))
        {
            return Ok(());
        }
        let taken = self
            .store
            .user_by_name(owner)
            .await
            .map_err(internal("look up user"))?
            .is_some();
        if taken {
            return Err(Error::forbidden(format!(
                "references under 'dev/{owner}' belong to the member '{owner}'; use dev/<your username>/... or another reference"
            )));
        }
        Ok(())
    }

    /// Turns `expiration` text or `expiresAt` milliseconds into an instant (or none), checked
    /// against the server's minimum and maximum.
    fn expiration_from(
        &self,
        text: Option<&str>,
        ms: Option<Option<i64>>,
    ) -> Result<Option<Option<i64>>, Error> {
        let now = self.now();
        let (at, shown) = match (text, ms) {
            (Some(_), Some(_)) => {
                return Err(Error::bad_request(
                    "InvalidExpiration",
                    "give either 'expiration' (text) or 'expiresAt' (milliseconds), not both",
                ));
            }
            (Some(t), None) => match expiration::parse(t, now)? {
                Expiration::Never => (None, t.to_string()),
                Expiration::At(at) => (Some(at), t.to_string()),
            },
            (None, Some(Some(ms))) if (0..100_000_000_000).contains(&ms) => {
                return Err(Error::bad_request(
                    "InvalidExpiration",
                    format!(
                        "expiresAt is in Unix milliseconds, and {ms} looks like seconds; send {ms}000, or use 'expiration' with text such as \"in 7 days\""
                    ),
                ));
            }
            (None, Some(ms)) => (ms, ms.map(|m| m.to_string()).unwrap_or_default()),
            (None, None) => return Ok(None),
        };
        if let Some(at) = at {
            expiration::check_range(
                &shown,
                at,
                now,
                self.config.min_expiration_ms,
                self.config.max_expiration_ms,
            )?;
        }
        Ok(Some(at))
    }

    pub async fn create_deployment(
        &self,
        p: &Principal,
        project_id: i64,
        req: CreateDeploymentRequest,
    ) -> Result<Deployment, Error> {
        let access = self.project_access_by_id(p, project_id).await?;
        let ty: DeploymentType = req.deployment_type.parse()?;
        if ty == DeploymentType::Prod {
            access.require_admin("create production deployments")?;
        }
        if access.previews_only && ty != DeploymentType::Preview {
            return Err(Error::forbidden(format!(
                "a preview deploy key can create only preview deployments in '{}', not a {ty} deployment",
                access.name()
            )));
        }
        let copy_from = match req.copy_data_from.as_deref().filter(|s| !s.is_empty()) {
            Some(source) => {
                let a = self.deployment_access(p, source).await?;
                a.require_live(self.now())?;
                a.require_edit("copy its data")?;
                if a.project.project.id != access.project.id {
                    return Err(Error::bad_request(
                        "CopyAcrossProjects",
                        format!(
                            "deployment '{source}' belongs to project '{}'; data can be copied only between deployments of one project",
                            a.project.name()
                        ),
                    ));
                }
                Some((a.deployment.id, a.deployment.name))
            }
            None if req.copy_env == Some(true) => {
                return Err(Error::bad_request(
                    "CopyEnvWithoutSource",
                    "--copy-env copies the variables of the deployment given by --copy-data-from; give that too",
                ));
            }
            None => None,
        };
        let (creator, creator_user_id) = match p {
            Principal::Member(u) => (u.username.clone(), Some(u.id)),
            other => (other.actor(), None),
        };
        let reference = match (&req.reference, ty, &req.preview_identifier) {
            (Some(r), _, _) => r.trim().to_string(),
            (None, DeploymentType::Dev, _) => reference::dev_reference(&creator),
            (None, DeploymentType::Prod, _) => reference::PROD_REFERENCE.to_string(),
            (None, DeploymentType::Preview, Some(branch)) => reference::preview_reference(branch),
            (None, DeploymentType::Preview, None) => {
                return Err(Error::bad_request(
                    "InvalidReference",
                    "a preview deployment needs a reference (e.g. preview/my-branch) or the branch it is for",
                ));
            }
        };
        if reference.ends_with('/') && req.reference.is_none() {
            return Err(Error::bad_request(
                "InvalidReference",
                "the branch name leaves nothing for the preview's reference (preview/<branch>); give a reference or a branch with letters or digits",
            ));
        }
        reference::validate(&reference)?;
        self.check_dev_namespace(p, &reference).await?;
        let region = match &req.region {
            Some(r) if self.config.regions.iter().any(|x| x == r) => r.clone(),
            Some(r) => {
                return Err(Error::bad_request(
                    "InvalidRegion",
                    format!(
                        "unknown region '{r}'; this server offers: {}",
                        self.config.regions.join(", ")
                    ),
                ));
            }
            None => self
                .config
                .regions
                .first()
                .cloned()
                .unwrap_or_else(|| "us".into()),
        };
        let team = &access.team.team;
        let expires_at =
            match self.expiration_from(req.expiration.as_deref(), req.expires_at.map(Some))? {
                Some(at) => at,
                None if ty == DeploymentType::Preview => {
                    Some(self.now() + team.plan.default_preview_lifetime_ms())
                }
                None => None,
            };
        // The team's maximum preview age caps whatever was asked for, from the creation time.
        let created = self.now();
        let expires_at = match (ty, team.max_preview_age_ms) {
            (DeploymentType::Preview, Some(max)) => {
                let cap = created + max;
                Some(expires_at.map_or(cap, |at| at.min(cap)))
            }
            _ => expires_at,
        };
        if ty == DeploymentType::Dev
            && let (Some(cap), Some(user)) = (team.max_dev_per_member, creator_user_id)
        {
            self.check_dev_cap(team, user, cap).await?;
        }
        let is_default = match req.is_default {
            Some(d) => d,
            None => {
                let default_ref = match ty {
                    DeploymentType::Dev => Some(reference::dev_reference(&creator)),
                    DeploymentType::Prod => Some(reference::PROD_REFERENCE.to_string()),
                    DeploymentType::Preview => None,
                };
                let owner = if ty == DeploymentType::Dev {
                    creator_user_id
                } else {
                    None
                };
                default_ref.is_some_and(|r| r.eq_ignore_ascii_case(&reference))
                    && self
                        .store
                        .default_deployment(access.project.id, owner)
                        .await
                        .map_err(internal("look up default deployment"))?
                        .is_none()
            }
        };
        if is_default && ty == DeploymentType::Preview {
            return Err(Error::bad_request(
                "InvalidDefault",
                "preview deployments cannot be a default",
            ));
        }
        let mut new = NewDeployment {
            name: String::new(),
            project_id: access.project.id,
            team_id: team.id,
            deployment_type: ty,
            reference: reference.clone(),
            region,
            creator,
            creator_user_id,
            is_default,
            expires_at,
            preview_identifier: req
                .preview_identifier
                .clone()
                .filter(|_| ty == DeploymentType::Preview),
            overrides: SettingOverrides::default(),
            now: created,
            limit: team.deployment_limit(),
        };
        let record = loop {
            new.name = names::generate(names::random_u64());
            match self.store.create_deployment(&new).await {
                Ok(d) => break d,
                Err(StoreError::Conflict(what)) if what == "name" => continue,
                Err(StoreError::Conflict(what))
                    if what == "reference" && self.reap_expired_holder(&new).await? =>
                {
                    continue;
                }
                Err(StoreError::Conflict(what)) if what == "reference" => {
                    return Err(Error::conflict(
                        "ReferenceTaken",
                        format!(
                            "project '{}:{}' already has a deployment with reference '{reference}'; choose another reference, or select it with `berth deployment select {reference}`",
                            team.slug, access.project.slug
                        ),
                    ));
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::conflict(
                        "DefaultTaken",
                        format!(
                            "project '{}:{}' already has a default {ty} deployment{}; create this one without --default",
                            team.slug,
                            access.project.slug,
                            if ty == DeploymentType::Dev {
                                " for you"
                            } else {
                                ""
                            }
                        ),
                    ));
                }
                Err(StoreError::LimitReached { .. })
                    if ty == DeploymentType::Preview
                        && team.evict_previews
                        && self.evict_preview(p, team).await? =>
                {
                    continue;
                }
                Err(StoreError::LimitReached { limit }) => {
                    return Err(Error::conflict(
                        "DeploymentLimitReached",
                        format!(
                            "team '{}' has reached its limit of {limit} deployments (plan {}); delete deployments you no longer need (`berth deployment list`, `berth deployment delete <selector>`) or ask a server admin to raise the limit",
                            team.slug, team.plan
                        ),
                    ));
                }
                Err(e) => return Err(internal("create deployment")(e)),
            }
        };
        self.seed_env(access.project.id, ty, record.id).await?;
        let mut copied_ms = None;
        if let Some((source, _)) = &copy_from {
            let started = std::time::Instant::now();
            let copy_env = req.copy_env == Some(true);
            let (from, to) = (*source, record.id);
            let copied = self
                .detached(move |store| {
                    Box::pin(async move { store.copy_deployment_data(from, to, copy_env).await })
                })
                .await
                .and_then(|r| r);
            if let Err(e) = copied {
                // All or nothing: the deployment does not stay behind without its data.
                let _ = self.store.delete_deployment(record.id).await;
                self.drop_data(&record).await;
                return Err(internal("copy deployment data")(e));
            }
            copied_ms = Some(started.elapsed().as_millis() as u64);
        }
        self.audit(
            Some(team.id),
            p,
            "create_deployment",
            &record.name,
            serde_json::json!({"project": access.project.slug, "reference": record.reference, "type": ty,
                "expiresAt": record.expires_at, "copiedDataFrom": copy_from.as_ref().map(|(_, n)| n), "copyMs": copied_ms}),
        )
        .await?;
        Ok(self.deployment_view(&record, &team.slug, &access.project.slug))
    }

    pub async fn get_deployment(
        &self,
        p: &Principal,
        name: &str,
        include_expired: bool,
    ) -> Result<Deployment, Error> {
        let a = self.deployment_access(p, name).await?;
        if !include_expired {
            a.require_live(self.now())?;
        }
        Ok(self.view(&a))
    }

    /// `GET /v1/projects/{id}/deployment`: by reference, or the caller's default dev, or the
    /// project's default prod.
    pub async fn find_deployment(
        &self,
        p: &Principal,
        project_id: i64,
        q: FindDeploymentQuery,
    ) -> Result<Deployment, Error> {
        let access = self.project_access_by_id(p, project_id).await?;
        if q.default_dev == Some(true) && access.team.user_id.is_none() {
            return Err(Error::forbidden(
                "a deploy key has no default dev deployment; select the deployment by reference or name",
            ));
        }
        let what = (
            q.reference.as_deref(),
            q.default_dev == Some(true),
            q.default_prod == Some(true),
        );
        let project_name = format!("{}:{}", access.team.team.slug, access.project.slug);
        let (found, described) = match what {
            (Some(r), false, false) => (
                self.store.deployment_by_reference(project_id, r).await,
                format!(
                    "no deployment with reference '{r}' in project '{project_name}'; `berth deployment list` shows them"
                ),
            ),
            (None, true, false) => (
                self.store
                    .default_deployment(project_id, access.team.user_id)
                    .await,
                format!(
                    "you have no default dev deployment in project '{project_name}'; create one with `berth deployment create --type dev --default` or `berth init`"
                ),
            ),
            (None, false, true) => (
                self.store.default_deployment(project_id, None).await,
                format!(
                    "project '{project_name}' has no default production deployment; an admin can create one with `berth deployment create --type prod`"
                ),
            ),
            _ => {
                return Err(Error::bad_request(
                    "BadQuery",
                    "give exactly one of ?reference=<ref>, ?defaultDev=true or ?defaultProd=true",
                ));
            }
        };
        let d = found
            .map_err(internal("find deployment"))?
            .ok_or_else(|| Error::not_found("DeploymentNotFound", described))?;
        if access.previews_only && d.deployment_type != DeploymentType::Preview {
            return Err(Error::forbidden(format!(
                "a preview deploy key reaches only the preview deployments of '{project_name}'; '{}' is a {} deployment",
                d.reference, d.deployment_type
            )));
        }
        let a = DeploymentAccess {
            project: access,
            deployment: d,
            by_key: false,
        };
        if q.include_expired != Some(true) {
            a.require_live(self.now())?;
        }
        Ok(self.view(&a))
    }

    pub async fn list_deployments(
        &self,
        p: &Principal,
        project_id: i64,
        q: ListDeploymentsQuery,
    ) -> Result<Vec<Deployment>, Error> {
        let access = self.project_access_by_id(p, project_id).await?;
        let filter = DeploymentFilter {
            deployment_type: if access.previews_only {
                Some(DeploymentType::Preview)
            } else {
                q.deployment_type.as_deref().map(str::parse).transpose()?
            },
            is_default: q.is_default,
            live_at: Some(self.now()),
            after_id: q.cursor,
            limit: Some(q.limit.unwrap_or(u32::MAX).min(MAX_PAGE * 100)),
            reference_prefix: q.search.filter(|s| !s.is_empty()),
        };
        if q.limit.is_some_and(|l| l == 0 || l > MAX_PAGE) {
            return Err(Error::bad_request(
                "BadQuery",
                format!("limit must be between 1 and {MAX_PAGE}"),
            ));
        }
        let list = self
            .store
            .list_deployments(project_id, &filter)
            .await
            .map_err(internal("list deployments"))?;
        Ok(list
            .iter()
            .map(|d| self.deployment_view(d, &access.team.team.slug, &access.project.slug))
            .collect())
    }

    pub async fn update_deployment(
        &self,
        p: &Principal,
        name: &str,
        req: UpdateDeploymentRequest,
    ) -> Result<Deployment, Error> {
        let mut a = self.deployment_access(p, name).await?;
        a.require_live(self.now())?;
        a.require_edit("change it")?;
        let d = &mut a.deployment;
        let mut changes = serde_json::Map::new();
        if let Some(r) = &req.reference {
            let r = r.trim();
            reference::validate(r)?;
            self.check_dev_namespace(p, r).await?;
            changes.insert("reference".into(), r.into());
            d.reference = r.to_string();
        }
        if let Some(mut at) = self.expiration_from(req.expiration.as_deref(), req.expires_at)? {
            if d.deployment_type == DeploymentType::Preview
                && let Some(max) = a.project.team.team.max_preview_age_ms
            {
                let cap = d.create_time + max;
                at = Some(at.map_or(cap, |t| t.min(cap)));
            }
            changes.insert("expiresAt".into(), at.into());
            d.expires_at = at;
        }
        let o = &mut d.overrides;
        if let Some(v) = req.send_logs_to_client {
            changes.insert("sendLogsToClient".into(), v.into());
            o.send_logs_to_client = v;
        }
        if let Some(v) = req.send_error_details_to_client {
            changes.insert("sendErrorDetailsToClient".into(), v.into());
            o.send_error_details_to_client = v;
        }
        if let Some(v) = req.dashboard_edit_confirmation {
            changes.insert("dashboardEditConfirmation".into(), v.into());
            o.dashboard_edit_confirmation = v;
        }
        if let Some(v) = &req.editable_by {
            a.require_change_editable_by()?;
            let parsed: Option<EditableBy> = v.as_deref().map(str::parse).transpose()?;
            changes.insert("editableBy".into(), parsed.map(|e| e.as_str()).into());
            a.deployment.overrides.editable_by = parsed;
        }
        if changes.is_empty() {
            return Err(Error::bad_request(
                "NothingToUpdate",
                "nothing to change: give a reference, an expiration or a setting",
            ));
        }
        self.store
            .update_deployment(&a.deployment)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict(
                    "ReferenceTaken",
                    format!(
                        "project '{}:{}' already has a deployment with reference '{}'",
                        a.project.team.team.slug, a.project.project.slug, a.deployment.reference
                    ),
                ),
                e => internal("update deployment")(e),
            })?;
        self.forget(&a.deployment.name);
        self.audit(
            Some(a.project.team.team.id),
            p,
            "update_deployment",
            name,
            changes.into(),
        )
        .await?;
        Ok(self.view(&a))
    }

    /// Deletes a deployment and everything it owns; its place in the team's limit is free at once.
    pub async fn delete_deployment(&self, p: &Principal, name: &str) -> Result<Deployment, Error> {
        let a = self.deployment_access(p, name).await?;
        if let Principal::DeploymentKey(k) = p {
            return Err(Error::forbidden(format!(
                "the deploy key {} cannot delete its own deployment; a member who may edit it can (`berth deployment delete`)",
                k.shown
            )));
        }
        a.require_edit("delete it")?;
        self.store
            .delete_deployment(a.deployment.id)
            .await
            .map_err(internal("delete deployment"))?;
        self.forget(&a.deployment.name);
        self.drop_data(&a.deployment).await;
        self.audit(
            Some(a.project.team.team.id),
            p,
            "delete_deployment",
            name,
            serde_json::json!({"reference": a.deployment.reference, "project": a.project.project.slug}),
        )
        .await?;
        Ok(self.view(&a))
    }

    /// Replaces a deployment's documents with a snapshot of another's (and its variables with
    /// `copy_env`); its code stays. Both need the caller's edit rights, in one project.
    pub async fn reset_deployment(
        &self,
        p: &Principal,
        name: &str,
        req: berth_api::ResetDeploymentRequest,
    ) -> Result<Deployment, Error> {
        let a = self.deployment_access(p, name).await?;
        a.require_live(self.now())?;
        a.require_edit("reset its data")?;
        let source = self.deployment_access(p, &req.from).await?;
        source.require_live(self.now())?;
        source.require_edit("copy its data")?;
        if source.project.project.id != a.project.project.id {
            return Err(Error::bad_request(
                "CopyAcrossProjects",
                format!(
                    "deployment '{}' belongs to project '{}'; data can be copied only between deployments of one project",
                    req.from,
                    source.project.name()
                ),
            ));
        }
        if source.deployment.id == a.deployment.id {
            return Err(Error::bad_request(
                "ResetFromItself",
                format!("deployment '{name}' cannot be reset from itself; name another deployment"),
            ));
        }
        let started = std::time::Instant::now();
        let copy_env = req.copy_env == Some(true);
        let (from, to) = (source.deployment.id, a.deployment.id);
        self.detached(move |store| {
            Box::pin(async move { store.copy_deployment_data(from, to, copy_env).await })
        })
        .await
        .and_then(|r| r)
        .map_err(internal("copy deployment data"))?;
        // Every live query of the target runs again on its new data.
        self.announce_everything(to).await;
        self.audit(
            Some(a.project.team.team.id),
            p,
            "reset_deployment",
            name,
            serde_json::json!({"from": source.deployment.name, "copyEnv": copy_env,
                "copyMs": started.elapsed().as_millis() as u64}),
        )
        .await?;
        Ok(self.view(&a))
    }

    /// Deletes a deployment's own data once its row is gone. A failure leaves an orphan file that
    /// no deployment refers to; it is logged, not returned, since the deletion itself happened.
    pub(crate) async fn drop_data(&self, d: &DeploymentRecord) {
        self.forget_deployment(&d.name);
        // Its live queries' sessions hear the channel close and end.
        self.store.commits().forget(d.id);
        if let Err(e) = self.store.drop_deployment_data(d).await {
            tracing::warn!(deployment = %d.name, error = %e, "could not delete the deployment's data files");
        }
    }

    /// When an expired deployment the reaper has not reached yet holds the reference a new one
    /// wants, reaps it now. Returns whether it did.
    async fn reap_expired_holder(&self, new: &NewDeployment) -> Result<bool, Error> {
        let holder = self
            .store
            .deployment_by_reference(new.project_id, &new.reference)
            .await
            .map_err(internal("look up reference"))?;
        match holder {
            Some(d) if d.is_expired(self.now()) => self.reap_one(&d, self.now()).await,
            _ => Ok(false),
        }
    }

    /// Reaps one expired deployment now (rather than on the reaper's next round).
    pub(crate) async fn reap_expired_deployment(
        &self,
        d: &DeploymentRecord,
    ) -> Result<bool, Error> {
        self.reap_one(d, self.now()).await
    }

    async fn reap_one(&self, d: &DeploymentRecord, now: i64) -> Result<bool, Error> {
        let deleted = self
            .store
            .delete_deployment(d.id)
            .await
            .map_err(internal("reap deployment"))?;
        self.forget(&d.name);
        if deleted {
            self.drop_data(d).await;
            tracing::info!(deployment = %d.name, reference = %d.reference, "reaped expired deployment");
            self.store
                .append_audit(&berth_store::NewAuditEvent {
                    team_id: Some(d.team_id),
                    time: now,
                    actor: "reaper".into(),
                    action: "reap_deployment".into(),
                    target: d.name.clone(),
                    details:
                        serde_json::json!({"reference": d.reference, "expiresAt": d.expires_at})
                            .to_string(),
                })
                .await
                .map_err(internal("audit reap"))?;
        }
        Ok(deleted)
    }

    /// Deletes every deployment expired by now, recording each in the audit log. Returns how
    /// many were deleted.
    pub async fn reap_expired(&self) -> Result<usize, Error> {
        let Some(_lock) = self
            .store
            .try_reaper_lock()
            .await
            .map_err(internal("take the reaper lock"))?
        else {
            return Ok(0); // another server is reaping
        };
        let mut total = 0;
        loop {
            let now = self.now();
            let batch = self
                .store
                .expired_deployments(now, 100)
                .await
                .map_err(internal("list expired deployments"))?;
            if batch.is_empty() {
                return Ok(total);
            }
            for d in batch {
                if self.reap_one(&d, now).await? {
                    total += 1;
                }
            }
        }
    }
}

/// 410 for a deployment whose expiration has passed.
pub(crate) fn expired(d: &DeploymentRecord) -> Error {
    Error::new(
        ErrorKind::Gone,
        "DeploymentExpired",
        format!(
            "deployment '{}' ({}) has expired and is being deleted; create a new one with `berth deployment create`",
            d.name, d.reference
        ),
    )
}
