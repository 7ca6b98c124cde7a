//! The management API's wire types (PROTOCOL §4), in one place so that the server, the CLI and
//! the tests can never disagree about a field. Field names are camelCase on the wire, as
//! Convex's are. Every type here appears in `/v1/openapi.json`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use berth_model::{Plan, Role};

/// The body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `Forbidden`, `ProjectNotFound`.
    pub code: String,
    /// What went wrong and what to do, for people.
    pub message: String,
}

/// `GET /version`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub name: String,
    pub version: String,
    /// `sqlite` or `postgres`.
    pub storage: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Team {
    pub id: i64,
    pub name: String,
    pub slug: String,
    #[schema(value_type = String, example = "business")]
    pub plan: Plan,
    /// How many deployments the team may hold; absent when unlimited.
    pub deployment_limit: Option<u32>,
    pub create_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTeamRequest {
    pub slug: String,
    /// Display name; defaults to the slug.
    #[serde(default)]
    pub name: Option<String>,
    /// Only server admins may choose a plan; others get the server's default plan.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub plan: Option<Plan>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub slug: String,
    pub team_id: i64,
    pub team_slug: String,
    pub create_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateProjectRequest {
    pub project_name: String,
    /// Defaults to the name made slug-safe.
    #[serde(default)]
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub has_more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/teams/{team}/projects`, in the shape Convex's CLI reads.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProjectList {
    pub items: Vec<Project>,
    pub pagination: Pagination,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub username: String,
    #[schema(value_type = String, example = "member")]
    pub role: Role,
    /// Slugs of the projects this member administers in addition to their team role.
    pub project_admin_of: Vec<String>,
    pub create_time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberRequest {
    pub username: String,
    #[schema(value_type = String, example = "member")]
    pub role: Role,
    /// Make the member admin of these projects (slugs in the team).
    #[serde(default)]
    pub project_admin_of: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddMemberResponse {
    pub member: Member,
    /// The new user's access token, present only when the user was created by this call. It is
    /// shown once and never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveMemberRequest {
    pub username: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TeamRole {
    pub team: String,
    #[schema(value_type = String, example = "admin")]
    pub role: Role,
}

/// `GET /v1/me`: who the credential belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub username: String,
    pub server_admin: bool,
    pub teams: Vec<TeamRole>,
}

/// An empty success answer (`{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Empty {}
