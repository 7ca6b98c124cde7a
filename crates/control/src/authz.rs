//! Authorization: what a principal may do to a team or project. Handlers never compare roles
//! themselves; they ask here, and get either the resource with the caller's standing or an error
//! that names what was refused and why.
//!
//! A team the caller does not belong to answers 404 (`TeamNotFound`), as if it did not exist, so
//! that team slugs do not leak; a team the caller belongs to but may not change answers 403.

use crate::{Control, Principal, internal};
use berth_model::{Error, Role};
use berth_store::{DeploymentRecord, ProjectRecord, TeamRecord};

/// The caller's standing in one team.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    pub team: TeamRecord,
    /// `Admin` for team admins and server admins.
    pub role: Role,
    pub server_admin: bool,
    pub user_id: i64,
}

impl TeamAccess {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Refuses unless the caller administers the team; `action` says what was attempted.
    pub fn require_admin(&self, action: &str) -> Result<(), Error> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "only admins of team '{}' may {action}; ask a team admin",
                self.team.slug
            )))
        }
    }
}

/// The caller's standing in one project.
#[derive(Debug, Clone)]
pub struct ProjectAccess {
    pub team: TeamAccess,
    pub project: ProjectRecord,
    /// Team admin, server admin or admin of this project.
    pub project_admin: bool,
}

impl ProjectAccess {
    pub fn require_admin(&self, action: &str) -> Result<(), Error> {
        if self.project_admin {
            Ok(())
        } else {
            Err(Error::forbidden(format!(
                "only admins of project '{}:{}' may {action}; ask a team or project admin",
                self.team.team.slug, self.project.slug
            )))
        }
    }
}

pub(crate) fn team_not_found(team: &str) -> Error {
    Error::not_found(
        "TeamNotFound",
        format!(
            "team '{team}' does not exist or you are not a member of it; `berth team list` shows yours"
        ),
    )
}

impl Control {
    /// Resolves a team by slug or numeric id, as seen by `p`.
    pub async fn team_access(&self, p: &Principal, team: &str) -> Result<TeamAccess, Error> {
        let Principal::Member(user) = p;
        let record = match team.parse::<i64>() {
            Ok(id) => self.store.team_by_id(id).await,
            Err(_) => self.store.team_by_slug(team).await,
        }
        .map_err(internal("look up team"))?
        .ok_or_else(|| team_not_found(team))?;
        let membership = self
            .store
            .membership(record.id, user.id)
            .await
            .map_err(internal("read membership"))?;
        let role = match (membership, user.server_admin) {
            (_, true) => Role::Admin,
            (Some(r), false) => r,
            (None, false) => return Err(team_not_found(team)),
        };
        Ok(TeamAccess {
            team: record,
            role,
            server_admin: user.server_admin,
            user_id: user.id,
        })
    }

    /// Resolves a project by its team and slug (or numeric id), as seen by `p`.
    pub async fn project_access(
        &self,
        p: &Principal,
        team: &str,
        project: &str,
    ) -> Result<ProjectAccess, Error> {
        let access = self.team_access(p, team).await?;
        let record = self
            .store
            .project_by_slug(access.team.id, project)
            .await
            .map_err(internal("look up project"))?
            .ok_or_else(|| project_not_found(&format!("{}:{project}", access.team.slug)))?;
        self.with_project(access, record).await
    }

    /// Resolves a project by its numeric id, as seen by `p`.
    pub async fn project_access_by_id(
        &self,
        p: &Principal,
        id: i64,
    ) -> Result<ProjectAccess, Error> {
        let record = self
            .store
            .project_by_id(id)
            .await
            .map_err(internal("look up project"))?
            .ok_or_else(|| project_not_found(&id.to_string()))?;
        let access = self
            .team_access(p, &record.team_id.to_string())
            .await
            .map_err(|_| project_not_found(&id.to_string()))?;
        self.with_project(access, record).await
    }

    async fn with_project(
        &self,
        team: TeamAccess,
        project: ProjectRecord,
    ) -> Result<ProjectAccess, Error> {
        let project_admin = team.is_admin()
            || self
                .store
                .is_project_admin(project.id, team.user_id)
                .await
                .map_err(internal("read project admins"))?;
        Ok(ProjectAccess {
            team,
            project,
            project_admin,
        })
    }
}

pub(crate) fn project_not_found(what: &str) -> Error {
    Error::not_found(
        "ProjectNotFound",
        format!(
            "project '{what}' does not exist or you may not see it; `berth project list` shows yours"
        ),
    )
}

/// The caller's standing on one deployment.
#[derive(Debug, Clone)]
pub struct DeploymentAccess {
    pub project: ProjectAccess,
    pub deployment: DeploymentRecord,
}

impl DeploymentAccess {
    /// Refuses unless the caller may edit this deployment (its `editableBy` setting).
    pub fn require_edit(&self, action: &str) -> Result<(), Error> {
        let settings = self
            .deployment
            .overrides
            .resolve(self.deployment.deployment_type);
        if settings.editable_by == berth_model::EditableBy::Members || self.project.project_admin {
            return Ok(());
        }
        Err(Error::forbidden(format!(
            "deployment '{}' ({} {}) may be edited only by admins of project '{}:{}', so you may not {action}; ask a project or team admin",
            self.deployment.name,
            self.deployment.deployment_type,
            self.deployment.reference,
            self.project.team.team.slug,
            self.project.project.slug,
        )))
    }

    /// 410 once the deployment's expiration has passed, whatever the reaper is doing.
    pub fn require_live(&self, now: i64) -> Result<(), Error> {
        if self.deployment.is_expired(now) {
            Err(crate::deployments::expired(&self.deployment))
        } else {
            Ok(())
        }
    }
}

pub(crate) fn deployment_not_found(name: &str) -> Error {
    Error::not_found(
        "DeploymentNotFound",
        format!(
            "no deployment named '{name}' that you can see; `berth deployment list` shows them"
        ),
    )
}

impl Control {
    /// Resolves a deployment by name, as seen by `p`. Expired deployments resolve (so they can
    /// be deleted); callers that serve them check [`DeploymentAccess::require_live`].
    pub async fn deployment_access(
        &self,
        p: &Principal,
        name: &str,
    ) -> Result<DeploymentAccess, Error> {
        let d = self
            .store
            .deployment_by_name(name)
            .await
            .map_err(internal("look up deployment"))?
            .ok_or_else(|| deployment_not_found(name))?;
        let project = self
            .project_access_by_id(p, d.project_id)
            .await
            .map_err(|_| deployment_not_found(name))?;
        Ok(DeploymentAccess {
            project,
            deployment: d,
        })
    }
}
