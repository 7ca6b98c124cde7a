//! The management API's wire types (PROTOCOL §4), in one place so that the server, the CLI and
//! the tests can never disagree about a field. Field names are camelCase on the wire, as
//! Convex's are. Every type here appears in `/v1/openapi.json`.

pub mod convex;

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
    /// Previews end at most this long (ms) after they were created; absent when no maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_preview_age_ms: Option<i64>,
    /// At the deployment limit, a new preview evicts the least recently deployed preview.
    #[serde(default)]
    pub evict_previews: bool,
    /// How many live dev deployments each member may hold; absent when no cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_dev_per_member: Option<u32>,
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
    /// The role in the team; a new member defaults to `member`, an existing one keeps theirs.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "member")]
    pub role: Option<Role>,
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
    /// For a deploy key: what it opens, without its secret (`dev:happy-otter-123|…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_key: Option<String>,
}

/// An empty success answer (`{}`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

/// Deserializes a field that distinguishes "absent" (`None`) from "null" (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A deployment, as PROTOCOL §4 shapes it. Settings are the effective values.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Always `cloud` (what Convex's CLI expects).
    pub kind: String,
    pub id: i64,
    /// Generated, globally unique, never reused: `happy-otter-123`.
    pub name: String,
    /// `dev`, `preview` or `prod`.
    pub deployment_type: String,
    pub deployment_url: String,
    pub reference: String,
    pub is_default: bool,
    pub project_id: i64,
    pub team_slug: String,
    pub project_slug: String,
    pub region: String,
    pub create_time: i64,
    pub creator: String,
    pub expires_at: Option<i64>,
    pub last_deploy_time: Option<i64>,
    pub preview_identifier: Option<String>,
    pub send_logs_to_client: bool,
    pub send_error_details_to_client: bool,
    pub dashboard_edit_confirmation: bool,
    /// `members` or `admins`.
    pub editable_by: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateDeploymentRequest {
    /// `dev`, `preview` or `prod`.
    #[serde(rename = "type")]
    pub deployment_type: String,
    /// Defaults to `dev/<you>`, `preview/<branch>` or `production`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Unix milliseconds; `null` for none. Or give `expiration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Expiration as text (`in 7 days`, `12h`, RFC 3339, `none`), read by the server's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// For previews: the raw branch name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_identifier: Option<String>,
    /// Start with a copy of this deployment's documents (a deployment name in the same project,
    /// which the caller may edit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_data_from: Option<String>,
    /// With `copyDataFrom`: copy its environment variables too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_env: Option<bool>,
}

/// `PATCH /v1/deployments/{name}`: absent fields are unchanged; `null` means the default (or no
/// expiration).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDeploymentRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<i64>, nullable)]
    pub expires_at: Option<Option<i64>>,
    /// Expiration as text, as on create; `none` clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<bool>, nullable)]
    pub send_logs_to_client: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<bool>, nullable)]
    pub send_error_details_to_client: Option<Option<bool>>,
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<bool>, nullable)]
    pub dashboard_edit_confirmation: Option<Option<bool>>,
    /// `members` or `admins`; only project and team admins may change it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub editable_by: Option<Option<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListDeploymentsQuery {
    /// Only this type (`dev`, `preview`, `prod`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Page after this deployment id (the last `id` of the previous page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<i64>,
    /// Page size (at most 1000; all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Only references starting with this, case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct FindDeploymentQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The caller's default dev deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_dev: Option<bool>,
    /// The project's default production deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_prod: Option<bool>,
    /// Also answer for an expired deployment the reaper has not deleted yet (instead of 410).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_expired: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct GetDeploymentQuery {
    /// Also answer for an expired deployment the reaper has not deleted yet (instead of 410).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_expired: Option<bool>,
}

/// `PATCH /v1/teams/{team}`: plan and limit (server admins), lifecycle rules (team admins).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTeamRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub plan: Option<Plan>,
    /// A limit that overrides the plan's; `null` returns to the plan's limit.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>, nullable)]
    pub deployment_limit: Option<Option<u32>>,
    /// Team admins: the longest a preview may live (`7d`, `36h`); `null` removes the maximum.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub max_preview_age: Option<Option<String>>,
    /// Team admins: at the limit, evict the least recently deployed preview instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evict_previews: Option<bool>,
    /// Team admins: live dev deployments per member; `null` removes the cap.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>, nullable)]
    pub max_dev_per_member: Option<Option<u32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: i64,
    pub time: i64,
    /// Username, key name, or `reaper`.
    pub actor: String,
    /// e.g. `create_deployment`, `update_deployment`, `delete_deployment`, `reap_deployment`.
    pub action: String,
    pub target: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor` for the next (older) page; absent at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<i64>,
    /// At most 1000; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// A deploy key as listed: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployKey {
    pub name: String,
    /// `deployment` or `preview`.
    pub kind: String,
    /// For a deployment key, its deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_name: Option<String>,
    pub creator: String,
    pub create_time: i64,
    pub last_used_time: Option<i64>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateDeployKeyRequest {
    pub name: String,
    /// Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Expiration as text (`in 7 days`, `12h`, RFC 3339), read by the server's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// The new key, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateDeployKeyResponse {
    pub deploy_key: String,
}

/// The new preview deploy key, shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePreviewDeployKeyResponse {
    pub preview_deploy_key: String,
}

/// Which key to delete: by `name`, or `id` (the name, or the key itself as Convex's CLI sends).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDeployKeyRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// A project default variable for one deployment type.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DefaultEnvVar {
    pub name: String,
    /// `dev`, `preview` or `prod`.
    pub deployment_type: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultEnvVars {
    pub environment_variables: Vec<DefaultEnvVar>,
}

/// One change to a project default: without `value` (or `null`) it is removed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultEnvChange {
    pub name: String,
    pub deployment_type: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DefaultEnvChanges {
    pub changes: Vec<DefaultEnvChange>,
}

/// `POST /d/{name}/api/query|mutation|action|function`: a function call (PROTOCOL §2).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCall {
    /// `dir/file:export`; without `:` the default export.
    pub path: String,
    /// The arguments object, or a one-element array holding it; missing means `{}`.
    #[serde(default)]
    pub args: Option<serde_json::Value>,
    /// `convex_encoded_json` (default) or `json`.
    #[serde(default)]
    pub format: Option<String>,
}

/// `POST /d/{name}/api/watch`: a query to watch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchRequest {
    /// The query: `dir/file:export`.
    pub path: String,
    #[serde(default)]
    pub args: Option<serde_json::Value>,
    /// `convex_encoded_json` (default) or `json`.
    #[serde(default)]
    pub format: Option<String>,
    /// The `token` of the result the caller already has: the answer waits until it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Seconds to wait for a change (default 25, at most 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

/// What a watch saw: the query's result when it differs from `after`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchResult {
    pub changed: bool,
    /// Names this result: pass it as `after` to wait for the next change.
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<FunctionResult>,
}

/// `POST /d/{name}/api/run/{path}`: a call for curl users.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RunCall {
    #[serde(default)]
    pub args: Option<serde_json::Value>,
    #[serde(default)]
    pub format: Option<String>,
}

/// The answer to a function call that ran (HTTP 200), successful or not.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionResult {
    /// `success` or `error`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_lines: Vec<String>,
}

/// One module of a push.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModuleSource {
    /// Path inside `convex/` (`messages.ts`, `lib/util.ts`).
    pub path: String,
    pub source: String,
}

/// `POST /d/{name}/api/push`: the whole of `convex/`, replacing the running code at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushRequest {
    pub modules: Vec<ModuleSource>,
    /// Check everything, change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Why this push happened (`Deployed from GitHub Actions • 1a2b3c4`), kept in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A function a deployment exports.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FunctionSpec {
    /// `messages.js:list`.
    pub path: String,
    /// `query`, `mutation` or `action`.
    pub kind: String,
    /// `public` or `internal`.
    pub visibility: String,
    /// The arguments validator, as JSON.
    pub args: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    pub functions: Vec<FunctionSpec>,
    pub module_count: usize,
    pub dry_run: bool,
    /// The deployment's code version after the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_version: Option<i64>,
    /// Indexes the push built (`table.index`), or would build with `dryRun`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes_added: Vec<String>,
    /// Indexes the push dropped, or would drop with `dryRun`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes_removed: Vec<String>,
}

/// A deployment's latest index build on the server asked: a push that adds indexes builds them
/// first, in batches, while the running code serves.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IndexBuildStatus {
    /// `none` (no build since this server started), `running`, `done` or `failed`.
    pub state: String,
    pub indexes_total: u32,
    pub indexes_done: u32,
    /// Documents whose entries are written, over every index being built.
    pub documents_done: u64,
    /// The documents of their tables when the build began.
    pub documents_total: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TableSummary {
    pub name: String,
    pub documents: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DataQuery {
    /// At most 1000; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// From a previous page's `continueCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// `GET /d/{name}/api/data_changes`: waits for the deployment's data to change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DataChangesQuery {
    /// The `ts` of the last answer: this one waits for a commit after it. Without it, the
    /// answer comes at once with the latest commit's `ts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Seconds to wait (default 25, at most 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

/// Whether the deployment's data changed after `after`, and its latest commit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataChanges {
    pub changed: bool,
    /// The latest commit's timestamp (a decimal string: it may pass 2^53); pass it as `after`.
    pub ts: String,
}

/// A page of a table's documents, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataPage {
    /// Documents, `convex_encoded_json`.
    pub page: Vec<serde_json::Value>,
    pub is_done: bool,
    pub continue_cursor: String,
}

/// `POST /v1/projects/{id}/claim_preview_deployment`: get the preview deployment for a branch,
/// reusing it or creating it afresh.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimPreviewRequest {
    /// The raw branch (or preview) name; the reference is `preview/<it made reference-safe>`.
    pub identifier: String,
    /// `true`: reuse the preview with its data when it exists. `false`: delete it and start over.
    #[serde(default = "yes")]
    pub reuse: bool,
    /// Expiration as text for a new preview (default: the plan's preview lifetime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// Or in Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// A new preview starts with a copy of this deployment's documents (a name in the project
    /// that the caller may edit). A reused preview keeps its data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_data_from: Option<String>,
    /// With `copyDataFrom`: copy its environment variables too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_env: Option<bool>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClaimPreviewResponse {
    pub deployment_name: String,
    pub deployment_url: String,
    pub reference: String,
    /// Whether this claim created the deployment (seed it then).
    pub is_new_deployment: bool,
    /// A deployment key for this preview, valid for a day (or until the preview expires).
    pub admin_key: String,
}

/// `POST /v1/deployments/{name}/reset`: replace the deployment's documents with a copy of
/// another deployment's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResetDeploymentRequest {
    /// The deployment to copy from (a name in the same project, which the caller may edit).
    pub from: String,
    /// Copy its environment variables too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_env: Option<bool>,
}

/// Whether the caller may do one thing, and why not when they may not: the same words the
/// server answers with when it refuses.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    pub allowed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/deployments/{name}/permissions`: what the caller may do to one deployment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentPermissions {
    /// Data, environment variables, settings, code, keys and deletion.
    pub edit: Permission,
    /// The `editableBy` setting (project and team admins only).
    pub change_editable_by: Permission,
    /// Whether edits should be confirmed first (the deployment's `dashboardEditConfirmation`).
    pub confirm_edits: bool,
}

/// `GET /v1/projects/{id}/permissions`: what the caller may do in one project.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPermissions {
    /// Project admin (or team or server admin): may edit deployments whose `editableBy` is
    /// `admins`, change `editableBy`, and manage preview deploy keys and default variables.
    pub admin: Permission,
    pub create_prod: Permission,
    /// Preview deploy keys: list, create and revoke.
    pub manage_preview_keys: Permission,
    pub change_default_env: Permission,
}

/// `POST /d/{name}/api/data/{table}` and `PATCH /d/{name}/api/data/{table}/{id}`: a document's
/// fields (`convex_encoded_json`, no system fields; on replace `_id` and `_creationTime` may be
/// present unchanged).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DocumentBody {
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InsertedDocument {
    #[serde(rename = "_id")]
    pub id: String,
}
