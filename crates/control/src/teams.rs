//! Teams: create and list.

use crate::{Control, Principal, internal};
use berth_api::{CreateTeamRequest, Team, UpdateTeamRequest};
use berth_model::{Error, slug};
use berth_store::{NewTeam, StoreError, TeamRecord};

pub(crate) fn team_view(t: &TeamRecord) -> Team {
    Team {
        id: t.id,
        name: t.name.clone(),
        slug: t.slug.clone(),
        plan: t.plan,
        deployment_limit: t.deployment_limit(),
        create_time: t.create_time,
        max_preview_age_ms: t.max_preview_age_ms,
        evict_previews: t.evict_previews,
        max_dev_per_member: t.max_dev_per_member.and_then(|n| u32::try_from(n).ok()),
    }
}

impl Control {
    /// Teams the caller belongs to; a server admin sees every team.
    pub async fn list_teams(&self, p: &Principal) -> Result<Vec<Team>, Error> {
        let user = p.member("list teams")?;
        let filter = if user.server_admin {
            None
        } else {
            Some(user.id)
        };
        let teams = self
            .store
            .list_teams(filter)
            .await
            .map_err(internal("list teams"))?;
        Ok(teams.iter().map(team_view).collect())
    }

    /// Changes a team's plan or deployment limit; server admins only.
    pub async fn update_team(
        &self,
        p: &Principal,
        team: &str,
        req: UpdateTeamRequest,
    ) -> Result<Team, Error> {
        let mut access = self.team_access(p, team).await?;
        let plan_or_limit = req.plan.is_some() || req.deployment_limit.is_some();
        let lifecycle = req.max_preview_age.is_some()
            || req.evict_previews.is_some()
            || req.max_dev_per_member.is_some();
        if plan_or_limit && !access.server_admin {
            return Err(Error::forbidden(format!(
                "only a server admin may change the plan or deployment limit of team '{}'",
                access.team.slug
            )));
        }
        if lifecycle {
            access.require_admin("change the team's lifecycle rules")?;
        }
        if !plan_or_limit && !lifecycle {
            return Err(Error::bad_request(
                "NothingToUpdate",
                "nothing to change: give a plan, a deployment limit, --max-preview-age, --evict-previews or --max-dev-per-member",
            ));
        }
        if let Some(plan) = req.plan {
            access.team.plan = plan;
        }
        if let Some(limit) = req.deployment_limit {
            access.team.deployment_limit_override = limit.map(i64::from);
        }
        if let Some(age) = &req.max_preview_age {
            access.team.max_preview_age_ms = match age.as_deref() {
                None | Some("none") => None,
                Some(text) => Some(berth_model::duration::parse_flag("max preview age", text)?),
            };
        }
        if let Some(evict) = req.evict_previews {
            access.team.evict_previews = evict;
        }
        if let Some(cap) = req.max_dev_per_member {
            access.team.max_dev_per_member = cap.map(i64::from);
        }
        self.store
            .update_team(&access.team)
            .await
            .map_err(internal("update team"))?;
        self.audit(
            Some(access.team.id),
            p,
            "update_team",
            &access.team.slug,
            serde_json::json!({"plan": access.team.plan, "deploymentLimit": access.team.deployment_limit(),
                "maxPreviewAgeMs": access.team.max_preview_age_ms, "evictPreviews": access.team.evict_previews,
                "maxDevPerMember": access.team.max_dev_per_member}),
        )
        .await?;
        if let Some(max) = access.team.max_preview_age_ms
            && req.max_preview_age.is_some()
        {
            self.cap_preview_ages(p, &access.team, max).await?;
        }
        Ok(team_view(&access.team))
    }

    /// Any signed-in person may create a team and becomes its admin. Only server admins may
    /// choose its plan; everyone else gets the server's default plan.
    pub async fn create_team(&self, p: &Principal, req: CreateTeamRequest) -> Result<Team, Error> {
        let user = p.member("create teams")?;
        slug::validate("team", &req.slug)?;
        if req
            .plan
            .is_some_and(|plan| plan != self.config.default_plan)
            && !user.server_admin
        {
            return Err(Error::forbidden(
                "only a server admin may choose a team's plan; leave --plan out to get the server's default",
            ));
        }
        let new = NewTeam {
            name: req
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| req.slug.clone()),
            slug: req.slug.clone(),
            plan: req.plan.unwrap_or(self.config.default_plan),
            now: self.now(),
        };
        let team = self
            .store
            .create_team(&new, user.id)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict(
                    "TeamTaken",
                    format!(
                        "a team named '{}' already exists; choose another slug",
                        req.slug
                    ),
                ),
                e => internal("create team")(e),
            })?;
        self.audit(
            Some(team.id),
            p,
            "create_team",
            &team.slug,
            serde_json::json!({"plan": team.plan}),
        )
        .await?;
        Ok(team_view(&team))
    }
}
