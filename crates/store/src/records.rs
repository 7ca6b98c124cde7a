//! What the store hands back: plain records, one per table row.

use berth_model::{DeploymentType, Plan, Role, deployment::SettingOverrides};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub server_admin: bool,
    pub create_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    pub deployment_limit_override: Option<i64>,
    pub create_time: i64,
    /// Previews end at most this long after they were created.
    pub max_preview_age_ms: Option<i64>,
    /// At the deployment limit, a new preview evicts the least recently deployed one.
    pub evict_previews: bool,
    /// How many live dev deployments each member may hold.
    pub max_dev_per_member: Option<i64>,
}

impl TeamRecord {
    /// The limit in force: the admin's override, else the plan's.
    pub fn deployment_limit(&self) -> Option<u32> {
        match self.deployment_limit_override {
            Some(n) => u32::try_from(n).ok(),
            None => self.plan.deployment_limit(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRecord {
    pub id: i64,
    pub team_id: i64,
    pub slug: String,
    pub name: String,
    pub create_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub project_admin_of: Vec<String>,
    pub create_time: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub team_id: Option<i64>,
    pub time: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentRecord {
    pub id: i64,
    pub name: String,
    pub project_id: i64,
    pub team_id: i64,
    pub deployment_type: DeploymentType,
    pub reference: String,
    pub region: String,
    /// Username (or key name) of who created it.
    pub creator: String,
    pub creator_user_id: Option<i64>,
    pub is_default: bool,
    pub expires_at: Option<i64>,
    pub create_time: i64,
    pub last_deploy_time: Option<i64>,
    pub preview_identifier: Option<String>,
    pub overrides: SettingOverrides,
    /// Bumped by every push.
    pub code_version: i64,
}

impl DeploymentRecord {
    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Which deployments of a project to list.
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    pub deployment_type: Option<DeploymentType>,
    pub is_default: Option<bool>,
    /// Leave out deployments expired at this instant.
    pub live_at: Option<i64>,
    /// Only ids greater than this (the page cursor).
    pub after_id: Option<i64>,
    pub limit: Option<u32>,
    /// Only references starting with this (case-insensitive).
    pub reference_prefix: Option<String>,
}

/// One log line of a deployment, as a shared store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub seq: u64,
    pub time: i64,
    pub level: String,
    pub function: String,
    pub request_id: String,
    pub text: String,
}

/// Which kind of deploy key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Opens one deployment.
    Deployment,
    /// Opens the preview deployments of one project.
    Preview,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Deployment => "deployment",
            KeyKind::Preview => "preview",
        }
    }
}

/// Whose keys: one deployment's, or one project's preview keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    Deployment(i64),
    PreviewsOf(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployKeyRecord {
    pub id: i64,
    pub kind: KeyKind,
    pub name: String,
    pub deployment_id: Option<i64>,
    pub project_id: i64,
    pub team_id: i64,
    pub secret_hash: String,
    pub creator: String,
    pub create_time: i64,
    pub expires_at: Option<i64>,
    pub last_used: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewDeployKey {
    pub owner: KeyOwner,
    pub name: String,
    pub project_id: i64,
    pub team_id: i64,
    pub secret_hash: String,
    pub creator: String,
    pub now: i64,
    pub expires_at: Option<i64>,
}
