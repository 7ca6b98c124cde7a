//! Team-wide lifecycle rules (`berth team update`): previews never older than a maximum age,
//! a new preview at the deployment limit evicting the least recently deployed one, and a cap
//! on each member's dev deployments.

use crate::{Control, Principal, internal};
use berth_model::{DeploymentType, Error};
use berth_store::{DeploymentFilter, DeploymentRecord, TeamRecord};

impl Control {
    /// The team's live deployments of one type, across its projects.
    async fn team_deployments(
        &self,
        team: &TeamRecord,
        ty: DeploymentType,
    ) -> Result<Vec<DeploymentRecord>, Error> {
        let mut out = Vec::new();
        for project in self
            .store
            .list_projects(team.id)
            .await
            .map_err(internal("list projects"))?
        {
            let filter = DeploymentFilter {
                deployment_type: Some(ty),
                live_at: Some(self.now()),
                ..Default::default()
            };
            out.extend(
                self.store
                    .list_deployments(project.id, &filter)
                    .await
                    .map_err(internal("list deployments"))?,
            );
        }
        Ok(out)
    }

    /// Refuses a member's new dev deployment when they already hold `cap` live ones.
    pub(crate) async fn check_dev_cap(
        &self,
        team: &TeamRecord,
        user: i64,
        cap: i64,
    ) -> Result<(), Error> {
        let held = self
            .team_deployments(team, DeploymentType::Dev)
            .await?
            .iter()
            .filter(|d| d.creator_user_id == Some(user))
            .count() as i64;
        if held >= cap {
            return Err(Error::conflict(
                "DevDeploymentCapReached",
                format!(
                    "team '{}' allows {cap} dev deployments per member and you hold {held}; delete one (`berth deployment list --type dev`, `berth deployment delete <selector>`) or ask a team admin to raise --max-dev-per-member",
                    team.slug
                ),
            ));
        }
        Ok(())
    }

    /// Deletes the team's least recently deployed live preview to make room; false when there
    /// is none.
    pub(crate) async fn evict_preview(
        &self,
        p: &Principal,
        team: &TeamRecord,
    ) -> Result<bool, Error> {
        let previews = self.team_deployments(team, DeploymentType::Preview).await?;
        let Some(victim) = previews
            .into_iter()
            .min_by_key(|d| (d.last_deploy_time.unwrap_or(d.create_time), d.id))
        else {
            return Ok(false);
        };
        let deleted = self
            .store
            .delete_deployment(victim.id)
            .await
            .map_err(internal("evict preview"))?;
        if deleted {
            self.forget(&victim.name);
            self.drop_data(&victim).await;
            self.audit(
                Some(team.id),
                p,
                "evict_preview",
                &victim.name,
                serde_json::json!({"reference": victim.reference, "lastDeployTime": victim.last_deploy_time,
                    "createTime": victim.create_time, "reason": "the team's deployment limit was reached and evictPreviews is on"}),
            )
            .await?;
        }
        Ok(true)
    }

    /// Brings live previews that would outlive a new maximum age down to it.
    pub(crate) async fn cap_preview_ages(
        &self,
        p: &Principal,
        team: &TeamRecord,
        max: i64,
    ) -> Result<(), Error> {
        for mut d in self.team_deployments(team, DeploymentType::Preview).await? {
            let cap = d.create_time + max;
            if d.expires_at.is_some_and(|at| at <= cap) {
                continue;
            }
            d.expires_at = Some(cap);
            self.store
                .update_deployment(&d)
                .await
                .map_err(internal("cap preview age"))?;
            self.forget(&d.name);
            self.audit(
                Some(team.id),
                p,
                "cap_preview_age",
                &d.name,
                serde_json::json!({"expiresAt": cap, "maxPreviewAgeMs": max}),
            )
            .await?;
        }
        Ok(())
    }
}
