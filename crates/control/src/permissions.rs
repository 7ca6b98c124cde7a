//! What a caller may do, asked before they try: the dashboard disables what would be refused and
//! shows why. Each answer comes from the same check the operation itself runs (`authz.rs`), so the
//! two cannot disagree.

use crate::{Control, Principal};
use berth_api::{DeploymentPermissions, Permission, ProjectPermissions};
use berth_model::Error;

fn permission(check: Result<(), Error>) -> Permission {
    match check {
        Ok(()) => Permission {
            allowed: true,
            reason: None,
        },
        Err(e) => Permission {
            allowed: false,
            reason: Some(e.message),
        },
    }
}

impl Control {
    pub async fn deployment_permissions(
        &self,
        p: &Principal,
        name: &str,
    ) -> Result<DeploymentPermissions, Error> {
        let a = self.deployment_access(p, name).await?;
        let settings = a.deployment.overrides.resolve(a.deployment.deployment_type);
        let live = a.require_live(self.now());
        let edit = live.clone().and_then(|()| a.require_edit("edit it"));
        let change_editable_by = live.and_then(|()| a.require_change_editable_by());
        Ok(DeploymentPermissions {
            edit: permission(edit),
            change_editable_by: permission(change_editable_by),
            confirm_edits: settings.dashboard_edit_confirmation,
        })
    }

    pub async fn project_permissions(
        &self,
        p: &Principal,
        project_id: i64,
    ) -> Result<ProjectPermissions, Error> {
        let a = self.project_access_by_id(p, project_id).await?;
        Ok(ProjectPermissions {
            admin: permission(a.require_admin("administer it")),
            create_prod: permission(a.require_admin("create production deployments")),
            manage_preview_keys: permission(a.require_admin("manage preview deploy keys")),
            change_default_env: permission(
                a.require_admin("change the project's default environment variables"),
            ),
        })
    }
}
