//! The control plane as Convex's own CLI asks for it (`../shared/CONVEX-CLI.md` §3): which
//! deployment a command means and a key to act on it with. Every answer goes through the same
//! resolution as berth's own routes (`authz.rs`), so the CLI reaches exactly what the caller may.
//!
//! The key handed out for a member is `<type>:<name>|<their access token>`: the shape Convex's
//! CLI expects, opening only what the member may open, and dead as soon as the token is revoked.
//! Nothing is minted, so running `npx convex dev` a thousand times leaves no keys behind. A
//! caller that came with a deploy key gets that key back.

use crate::{Control, Principal, authz::DeploymentAccess};
use berth_api::{
    ClaimPreviewRequest, CreateDeploymentRequest, FindDeploymentQuery,
    convex::{
        AuthorizePreview, AuthorizeProd, AuthorizeWithinProject, CliClaimPreview,
        CliClaimPreviewResponse, CliTeam, DeploymentAuth, ProjectSelection, ProvisionAndAuthorize,
        TeamAndProject,
    },
};
use berth_model::{
    DeploymentType, Error,
    deploy_key::{self, KeyShape, ParsedKey},
    reference,
};

impl Control {
    /// `GET /api/deployment/{name}/team_and_project`.
    pub async fn team_and_project(
        &self,
        p: &Principal,
        name: &str,
    ) -> Result<TeamAndProject, Error> {
        let a = self.deployment_access(p, name).await?;
        Ok(team_and_project(&a))
    }

    /// The key and URL for a deployment the caller reached with `credential`.
    fn authorized(&self, p: &Principal, credential: &str, a: &DeploymentAccess) -> DeploymentAuth {
        let d = &a.deployment;
        let admin_key = match p {
            Principal::Member(_) => format!("{}:{}|{credential}", d.deployment_type, d.name),
            Principal::DeploymentKey(_) | Principal::PreviewKey(_) => credential.to_string(),
        };
        DeploymentAuth {
            deployment_name: d.name.clone(),
            admin_key,
            url: self.deployment_url(&d.name),
            deployment_type: d.deployment_type.as_str().into(),
            reference: Some(d.reference.clone()),
            is_default: d.is_default,
        }
    }

    async fn live_access(&self, p: &Principal, name: &str) -> Result<DeploymentAccess, Error> {
        let a = self.deployment_access(p, name).await?;
        a.require_live(self.now())?;
        Ok(a)
    }

    /// The project a selection names, as its id.
    async fn selected_project(&self, p: &Principal, s: &ProjectSelection) -> Result<i64, Error> {
        Ok(match s {
            ProjectSelection::DeploymentName {
                deployment_name, ..
            } => {
                self.deployment_access(p, deployment_name)
                    .await?
                    .project
                    .project
                    .id
            }
            ProjectSelection::TeamAndProjectSlugs {
                team_slug,
                project_slug,
            } => {
                self.project_access(p, team_slug, project_slug)
                    .await?
                    .project
                    .id
            }
        })
    }

    /// `POST /api/deployment/authorize_within_current_project`.
    pub async fn authorize_within_project(
        &self,
        p: &Principal,
        credential: &str,
        req: AuthorizeWithinProject,
    ) -> Result<DeploymentAuth, Error> {
        let a = self.live_access(p, &req.selected_deployment_name).await?;
        let project = self.selected_project(p, &req.project_selection).await?;
        if a.project.project.id != project {
            return Err(Error::bad_request(
                "DeploymentNotInProject",
                format!(
                    "deployment '{}' belongs to project '{}', not to the selected one; select a deployment of that project",
                    a.deployment.name,
                    a.project.name()
                ),
            ));
        }
        Ok(self.authorized(p, credential, &a))
    }

    /// `POST /api/deployment/authorize_prod`: the production deployment of the project of the
    /// given (dev) deployment, created when the project has none and the caller may create it.
    pub async fn authorize_prod(
        &self,
        p: &Principal,
        credential: &str,
        req: AuthorizeProd,
    ) -> Result<DeploymentAuth, Error> {
        let project = self
            .deployment_access(p, &req.deployment_name)
            .await?
            .project
            .project
            .id;
        self.provision(p, credential, project, DeploymentType::Prod)
            .await
    }

    /// `POST /api/deployment/authorize_preview`.
    pub async fn authorize_preview(
        &self,
        p: &Principal,
        credential: &str,
        req: AuthorizePreview,
    ) -> Result<DeploymentAuth, Error> {
        let project = self.selected_project(p, &req.project_selection).await?;
        let reference = reference::preview_reference(&req.preview_name);
        let d = self
            .find_deployment(
                p,
                project,
                FindDeploymentQuery {
                    reference: Some(reference),
                    ..Default::default()
                },
            )
            .await?;
        let a = self.live_access(p, &d.name).await?;
        Ok(self.authorized(p, credential, &a))
    }

    /// `POST /api/deployment/provision_and_authorize`: the caller's default dev deployment, or
    /// the project's default prod, created when missing.
    pub async fn provision_and_authorize(
        &self,
        p: &Principal,
        credential: &str,
        req: ProvisionAndAuthorize,
    ) -> Result<DeploymentAuth, Error> {
        let ty: DeploymentType = req.deployment_type.parse()?;
        let project = match (&req.team_slug, &req.project_slug, p) {
            (Some(t), Some(pr), _) => self.project_access(p, t, pr).await?.project.id,
            (_, _, Principal::DeploymentKey(k) | Principal::PreviewKey(k)) => k.key.project_id,
            _ => {
                return Err(Error::bad_request(
                    "MissingProject",
                    "name the team and project (`--team T --project P`)",
                ));
            }
        };
        self.provision(p, credential, project, ty).await
    }

    async fn provision(
        &self,
        p: &Principal,
        credential: &str,
        project: i64,
        ty: DeploymentType,
    ) -> Result<DeploymentAuth, Error> {
        let query = FindDeploymentQuery {
            default_dev: (ty == DeploymentType::Dev).then_some(true),
            default_prod: (ty == DeploymentType::Prod).then_some(true),
            ..Default::default()
        };
        let name = match self.find_deployment(p, project, query).await {
            Ok(d) => d.name,
            Err(e) if e.code == "DeploymentNotFound" => {
                self.create_deployment(
                    p,
                    project,
                    CreateDeploymentRequest {
                        deployment_type: ty.as_str().into(),
                        is_default: Some(true),
                        ..Default::default()
                    },
                )
                .await?
                .name
            }
            Err(e) => return Err(e),
        };
        let a = self.live_access(p, &name).await?;
        Ok(self.authorized(p, credential, &a))
    }

    /// `POST /api/deployment/url_for_key`: the URL of the deployment a deploy key opens.
    /// Failed attempts count against `source` like every other authentication.
    pub async fn url_for_key(
        &self,
        source: Option<std::net::IpAddr>,
        deploy_key: &str,
    ) -> Result<String, Error> {
        let p = self.authenticate_from(source, deploy_key).await?;
        let a = self.key_deployment(&p, deploy_key).await?;
        Ok(self.deployment_url(&a.deployment.name))
    }

    /// `POST /api/deployment/team_and_project_for_key`.
    pub async fn team_and_project_for_key(
        &self,
        source: Option<std::net::IpAddr>,
        deploy_key: &str,
    ) -> Result<TeamAndProject, Error> {
        let p = self.authenticate_from(source, deploy_key).await?;
        match &p {
            Principal::DeploymentKey(_) => Ok(team_and_project(
                &self.key_deployment(&p, deploy_key).await?,
            )),
            Principal::PreviewKey(k) => {
                let a = self.project_access_by_id(&p, k.key.project_id).await?;
                Ok(TeamAndProject {
                    team: a.team.team.slug.clone(),
                    project: a.project.slug.clone(),
                    team_id: a.team.team.id,
                    project_id: a.project.id,
                    deployment_id: None,
                    reference: None,
                    is_default: false,
                })
            }
            Principal::Member(_) => Err(not_a_key()),
        }
    }

    /// The deployment a deployment key opens (its prefix names it; authentication checked that
    /// the prefix is true).
    async fn key_deployment(&self, p: &Principal, key: &str) -> Result<DeploymentAccess, Error> {
        let (Principal::DeploymentKey(_), KeyShape::Key(ParsedKey::Deployment { name, .. })) =
            (p, deploy_key::parse(key))
        else {
            return Err(not_a_key());
        };
        self.live_access(p, &name).await
    }

    /// `POST /api/claim_preview_deployment`, in the CLI's shapes.
    pub async fn claim_preview_for_cli(
        &self,
        p: &Principal,
        req: CliClaimPreview,
    ) -> Result<CliClaimPreviewResponse, Error> {
        let project = self.selected_project(p, &req.project_selection).await?;
        let claimed = self
            .claim_preview(
                p,
                project,
                ClaimPreviewRequest {
                    identifier: req.identifier,
                    reuse: req.reuse,
                    ..Default::default()
                },
            )
            .await?;
        Ok(CliClaimPreviewResponse {
            admin_key: claimed.admin_key,
            instance_url: claimed.deployment_url,
            deployment_name: claimed.deployment_name,
            reference: claimed.reference,
            is_new_deployment: claimed.is_new_deployment,
        })
    }

    /// `GET /api/teams`.
    pub async fn teams_for_cli(&self, p: &Principal) -> Result<Vec<CliTeam>, Error> {
        let region = self.config.regions.first().cloned();
        Ok(self
            .list_teams(p)
            .await?
            .into_iter()
            .map(|t| CliTeam {
                id: t.id,
                name: t.name,
                slug: t.slug,
                default_region: region.clone(),
                suspended: false,
                referral_code: String::new(),
            })
            .collect())
    }
}

fn team_and_project(a: &DeploymentAccess) -> TeamAndProject {
    TeamAndProject {
        team: a.project.team.team.slug.clone(),
        project: a.project.project.slug.clone(),
        team_id: a.project.team.team.id,
        project_id: a.project.project.id,
        deployment_id: Some(a.deployment.id),
        reference: Some(a.deployment.reference.clone()),
        is_default: a.deployment.is_default,
    }
}

fn not_a_key() -> Error {
    Error::bad_request(
        "NotADeploymentKey",
        "this route takes a deployment key (`<type>:<name>|<secret>`, from `berth deployment token create`)",
    )
}
