//! Authorization: the one place that decides what a principal may reach. Every operation
//! resolves its team, project or deployment here, *as seen by the caller*, before it touches
//! anything; handlers never compare roles or keys themselves.
//!
//! - Members: a team they do not belong to answers 404 (`TeamNotFound`), as if it did not exist,
//!   so slugs do not leak; a team they belong to but may not change answers 403.
//! - A deployment key reaches its one deployment and nothing else: every team, project and other
//!   deployment answers 403 naming the key's deployment and the target.
//! - A preview deploy key reaches its project (read) and that project's preview deployments.

use crate::{Control, Principal, auth::KeyPrincipal, internal};
use berth_model::{DeploymentType, Error, Role};
use berth_store::{DeploymentRecord, ProjectRecord, TeamRecord};

/// The caller's standing in one team.
#[derive(Debug, Clone)]
pub struct TeamAccess {
    pub team: TeamRecord,
    /// `Admin` for team admins and server admins.
    pub role: Role,
    pub server_admin: bool,
    /// The member, when the caller is one.
    pub user_id: Option<i64>,
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
    /// Reached through a preview deploy key: only the project's previews are in reach.
    pub previews_only: bool,
}

impl ProjectAccess {
    pub fn require_admin(&self, action: &str) -> Result<(), Error> {
        if self.project_admin {
            return Ok(());
        }
        if self.previews_only {
            return Err(Error::forbidden(format!(
                "a preview deploy key reaches only the preview deployments of '{}:{}' and cannot {action}",
                self.team.team.slug, self.project.slug
            )));
        }
        Err(Error::forbidden(format!(
            "only admins of project '{}:{}' may {action}; ask a team or project admin",
            self.team.team.slug, self.project.slug
        )))
    }

    pub fn name(&self) -> String {
        format!("{}:{}", self.team.team.slug, self.project.slug)
    }
}

/// The caller's standing on one deployment.
#[derive(Debug, Clone)]
pub struct DeploymentAccess {
    pub project: ProjectAccess,
    pub deployment: DeploymentRecord,
    /// Reached through a deploy key that opens this deployment: it may edit it whatever its
    /// `editableBy` says.
    pub by_key: bool,
}

impl DeploymentAccess {
    /// Refuses unless the caller may edit this deployment (its `editableBy` setting).
    pub fn require_edit(&self, action: &str) -> Result<(), Error> {
        let settings = self
            .deployment
            .overrides
            .resolve(self.deployment.deployment_type);
        if self.by_key
            || settings.editable_by == berth_model::EditableBy::Members
            || self.project.project_admin
        {
            return Ok(());
        }
        Err(Error::forbidden(format!(
            "deployment '{}' ({} {}) may be edited only by admins of project '{}', so you may not {action}; ask a project or team admin",
            self.deployment.name,
            self.deployment.deployment_type,
            self.deployment.reference,
            self.project.name(),
        )))
    }

    /// Refuses unless the caller may change who can edit this deployment (project admins).
    pub fn require_change_editable_by(&self) -> Result<(), Error> {
        if self.project.project_admin {
            return Ok(());
        }
        Err(Error::forbidden(format!(
            "only admins of project '{}' may change who can edit deployment '{}'; ask a project or team admin",
            self.project.name(),
            self.deployment.name
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

pub(crate) fn team_not_found(team: &str) -> Error {
    Error::not_found(
        "TeamNotFound",
        format!(
            "team '{team}' does not exist or you are not a member of it; `berth team list` shows yours"
        ),
    )
}

pub(crate) fn project_not_found(what: &str) -> Error {
    Error::not_found(
        "ProjectNotFound",
        format!(
            "project '{what}' does not exist or you may not see it; `berth project list` shows yours"
        ),
    )
}

pub(crate) fn deployment_not_found(name: &str) -> Error {
    Error::not_found(
        "DeploymentNotFound",
        format!(
            "no deployment named '{name}' that you can see; `berth deployment list` shows them"
        ),
    )
}

/// The 403 for a deploy key aimed outside its reach.
fn out_of_reach(k: &KeyPrincipal, target: &str) -> Error {
    let reach = match k.key.kind {
        berth_store::KeyKind::Deployment => "opens only its own deployment",
        berth_store::KeyKind::Preview => "opens only the preview deployments of its project",
    };
    Error::forbidden(format!(
        "the deploy key {} {reach}; it cannot act on {target}",
        k.shown
    ))
}

impl Control {
    async fn team_record(&self, team: &str) -> Result<Option<TeamRecord>, Error> {
        match team.parse::<i64>() {
            Ok(id) => self.store.team_by_id(id).await,
            Err(_) => self.store.team_by_slug(team).await,
        }
        .map_err(internal("look up team"))
    }

    /// Resolves a team by slug or numeric id, as seen by `p`. Deploy keys never reach a team.
    pub async fn team_access(&self, p: &Principal, team: &str) -> Result<TeamAccess, Error> {
        let user = match p {
            Principal::Member(u) => u,
            Principal::DeploymentKey(k) | Principal::PreviewKey(k) => {
                return Err(out_of_reach(k, &format!("team '{team}'")));
            }
        };
        let record = self
            .team_record(team)
            .await?
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
            user_id: Some(user.id),
        })
    }

    /// Resolves a project by its team and slug, as seen by `p`.
    pub async fn project_access(
        &self,
        p: &Principal,
        team: &str,
        project: &str,
    ) -> Result<ProjectAccess, Error> {
        if let Principal::PreviewKey(k) = p {
            let found = match self.team_record(team).await? {
                Some(t) => self
                    .store
                    .project_by_slug(t.id, project)
                    .await
                    .map_err(internal("look up project"))?,
                None => None,
            };
            return match found {
                Some(pr) if pr.id == k.key.project_id => self.key_project_access(pr).await,
                _ => Err(out_of_reach(k, &format!("project '{team}:{project}'"))),
            };
        }
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
        match p {
            Principal::PreviewKey(k) if k.key.project_id == id => {
                let record = self
                    .store
                    .project_by_id(id)
                    .await
                    .map_err(internal("look up project"))?
                    .ok_or_else(|| project_not_found(&id.to_string()))?;
                self.key_project_access(record).await
            }
            Principal::PreviewKey(k) | Principal::DeploymentKey(k) => {
                Err(out_of_reach(k, &format!("project {id}")))
            }
            Principal::Member(_) => {
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
        }
    }

    /// A project reached through a deploy key: no membership, no admin rights.
    async fn key_project_access(&self, project: ProjectRecord) -> Result<ProjectAccess, Error> {
        let team = self
            .store
            .team_by_id(project.team_id)
            .await
            .map_err(internal("look up team"))?
            .ok_or_else(|| project_not_found(&project.slug))?;
        Ok(ProjectAccess {
            team: TeamAccess {
                team,
                role: Role::Member,
                server_admin: false,
                user_id: None,
            },
            project,
            project_admin: false,
            previews_only: true,
        })
    }

    async fn with_project(
        &self,
        team: TeamAccess,
        project: ProjectRecord,
    ) -> Result<ProjectAccess, Error> {
        let project_admin = team.is_admin()
            || match team.user_id {
                Some(u) => self
                    .store
                    .is_project_admin(project.id, u)
                    .await
                    .map_err(internal("read project admins"))?,
                None => false,
            };
        Ok(ProjectAccess {
            team,
            project,
            project_admin,
            previews_only: false,
        })
    }

    /// Resolves a deployment by name, as seen by `p`. Expired deployments resolve (so they can
    /// be deleted); callers that serve them check [`DeploymentAccess::require_live`].
    pub async fn deployment_access(
        &self,
        p: &Principal,
        name: &str,
    ) -> Result<DeploymentAccess, Error> {
        let found = self.deployment_record(name).await?;
        match p {
            Principal::Member(_) => {
                let d = found.ok_or_else(|| deployment_not_found(name))?;
                let project = self
                    .project_access_by_id(p, d.project_id)
                    .await
                    .map_err(|_| deployment_not_found(name))?;
                Ok(DeploymentAccess {
                    project,
                    deployment: d,
                    by_key: false,
                })
            }
            Principal::DeploymentKey(k) => match found {
                Some(d) if k.key.deployment_id == Some(d.id) => self.key_deployment_access(d).await,
                _ => Err(out_of_reach(k, &format!("deployment '{name}'"))),
            },
            Principal::PreviewKey(k) => match found {
                Some(d)
                    if d.project_id == k.key.project_id
                        && d.deployment_type == DeploymentType::Preview =>
                {
                    self.key_deployment_access(d).await
                }
                _ => Err(out_of_reach(k, &format!("deployment '{name}'"))),
            },
        }
    }

    async fn key_deployment_access(&self, d: DeploymentRecord) -> Result<DeploymentAccess, Error> {
        let project = self
            .store
            .project_by_id(d.project_id)
            .await
            .map_err(internal("look up project"))?
            .ok_or_else(|| deployment_not_found(&d.name))?;
        let mut project = self.key_project_access(project).await?;
        project.previews_only = d.deployment_type == DeploymentType::Preview;
        Ok(DeploymentAccess {
            project,
            deployment: d,
            by_key: true,
        })
    }
}
