//! Projects: create, list, show, delete.

use crate::{Control, Principal, internal};
use berth_api::{CreateProjectRequest, Pagination, Project, ProjectList};
use berth_model::{Error, slug};
use berth_store::{ProjectRecord, StoreError};

pub(crate) fn project_view(p: &ProjectRecord, team_slug: &str) -> Project {
    Project {
        id: p.id,
        name: p.name.clone(),
        slug: p.slug.clone(),
        team_id: p.team_id,
        team_slug: team_slug.to_string(),
        create_time: p.create_time,
    }
}

impl Control {
    /// Any member of the team may create a project.
    pub async fn create_project(
        &self,
        p: &Principal,
        team: &str,
        req: CreateProjectRequest,
    ) -> Result<Project, Error> {
        let access = self.team_access(p, team).await?;
        let name = req.project_name.trim().to_string();
        let slug = req.slug.clone().unwrap_or_else(|| slug::slugify(&name));
        slug::validate("project", &slug)?;
        let name = if name.is_empty() { slug.clone() } else { name };
        let project = self
            .store
            .create_project(access.team.id, &slug, &name, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => Error::conflict(
                    "ProjectTaken",
                    format!(
                        "team '{}' already has a project '{slug}'; choose another slug",
                        access.team.slug
                    ),
                ),
                e => internal("create project")(e),
            })?;
        self.audit(
            Some(access.team.id),
            p,
            "create_project",
            &slug,
            serde_json::json!({"name": name}),
        )
        .await?;
        Ok(project_view(&project, &access.team.slug))
    }

    pub async fn list_projects(&self, p: &Principal, team: &str) -> Result<ProjectList, Error> {
        let access = self.team_access(p, team).await?;
        let projects = self
            .store
            .list_projects(access.team.id)
            .await
            .map_err(internal("list projects"))?;
        Ok(ProjectList {
            items: projects
                .iter()
                .map(|pr| project_view(pr, &access.team.slug))
                .collect(),
            pagination: Pagination {
                has_more: false,
                next_cursor: None,
            },
        })
    }

    pub async fn get_project(
        &self,
        p: &Principal,
        team: &str,
        project: &str,
    ) -> Result<Project, Error> {
        let access = self.project_access(p, team, project).await?;
        Ok(project_view(&access.project, &access.team.team.slug))
    }

    pub async fn get_project_by_id(&self, p: &Principal, id: i64) -> Result<Project, Error> {
        let access = self.project_access_by_id(p, id).await?;
        Ok(project_view(&access.project, &access.team.team.slug))
    }

    /// Deletes a project and everything in it; team or project admins only.
    pub async fn delete_project(&self, p: &Principal, id: i64) -> Result<Project, Error> {
        let access = self.project_access_by_id(p, id).await?;
        access.require_admin("delete it")?;
        let doomed = self
            .store
            .list_deployments(id, &berth_store::DeploymentFilter::default())
            .await
            .map_err(internal("list deployments"))?;
        self.store
            .delete_project(id)
            .await
            .map_err(internal("delete project"))?;
        self.forget_all();
        for d in doomed {
            self.drop_data(&d).await;
        }
        self.audit(
            Some(access.team.team.id),
            p,
            "delete_project",
            &access.project.slug,
            serde_json::json!({}),
        )
        .await?;
        Ok(project_view(&access.project, &access.team.team.slug))
    }
}
