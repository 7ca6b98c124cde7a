//! Wire types of the control-plane routes Convex's own CLI (the `convex` npm package) calls,
//! in the shapes it sends and reads (`../shared/CONVEX-CLI.md` §3). Berth's own routes keep their
//! own shapes; these sit beside them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which project a CLI command means.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind")]
pub enum ProjectSelection {
    /// The project of this deployment.
    #[serde(rename = "deploymentName", rename_all = "camelCase")]
    DeploymentName {
        deployment_name: String,
        #[serde(default)]
        deployment_type: Option<String>,
    },
    #[serde(rename = "teamAndProjectSlugs", rename_all = "camelCase")]
    TeamAndProjectSlugs {
        team_slug: String,
        project_slug: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeWithinProject {
    pub selected_deployment_name: String,
    pub project_selection: ProjectSelection,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeProd {
    /// The current (dev) deployment: its project's production deployment is meant.
    pub deployment_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizePreview {
    pub preview_name: String,
    pub project_selection: ProjectSelection,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionAndAuthorize {
    #[serde(default)]
    pub team_slug: Option<String>,
    #[serde(default)]
    pub project_slug: Option<String>,
    /// `dev` or `prod`.
    pub deployment_type: String,
}

/// What the CLI needs to act on a deployment: its URL and a key for it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentAuth {
    pub deployment_name: String,
    /// `<type>:<name>|<secret>`, sent back as `Authorization: Convex <adminKey>`.
    pub admin_key: String,
    pub url: String,
    pub deployment_type: String,
    pub reference: Option<String>,
    pub is_default: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployKeyBody {
    pub deploy_key: String,
}

/// `GET /api/deployment/{name}/team_and_project` and `POST .../team_and_project_for_key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TeamAndProject {
    /// Team slug.
    pub team: String,
    /// Project slug.
    pub project: String,
    pub team_id: i64,
    pub project_id: i64,
    pub deployment_id: Option<i64>,
    pub reference: Option<String>,
    pub is_default: bool,
}

/// A team as `GET /api/teams` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliTeam {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub default_region: Option<String>,
    pub suspended: bool,
    pub referral_code: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliClaimPreview {
    pub project_selection: ProjectSelection,
    pub identifier: String,
    #[serde(default = "yes")]
    pub reuse: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CliClaimPreviewResponse {
    pub admin_key: String,
    pub instance_url: String,
    pub deployment_name: String,
    pub reference: String,
    pub is_new_deployment: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePersonalAccessToken {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonalAccessToken {
    pub access_token: String,
}

/// `{items: [...]}`, the shape of the CLI's list routes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Region {
    pub name: String,
    pub display_name: String,
    pub available: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentClass {
    #[serde(rename = "type")]
    pub class: String,
    pub available: bool,
}
