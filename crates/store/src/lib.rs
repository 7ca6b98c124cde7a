//! Berth's storage. Callers see only the [`Store`] trait and the records it returns; each
//! backend (the embedded SQLite default now, PostgreSQL behind the same trait) brings its own
//! migrations. Every operation that must be all-or-nothing is one trait method, so that no caller
//! ever holds a half-written state.

mod migrate;
pub mod records;
pub mod sqlite;

use async_trait::async_trait;
use berth_model::{Plan, Role};
pub use records::*;

/// What went wrong in storage, in the terms callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the text names the constraint.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed (I/O, corruption, lost connection). Details are for the server log.
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Everything berth keeps about teams, members, projects and credentials.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Creates the first team, project and admin with their token, once. Returns whether it ran;
    /// a second call changes nothing.
    async fn bootstrap(&self, b: &Bootstrap) -> StoreResult<bool>;
    /// Replaces every access token of `username` by one with `token_hash` (used when the admin
    /// token file was lost).
    async fn reset_tokens(
        &self,
        username: &str,
        token_name: &str,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<bool>;

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    /// Finds a live access token by hash and its user.
    async fn access_token_by_hash(&self, hash: &str) -> StoreResult<Option<(AccessToken, User)>>;
    async fn touch_access_token(&self, id: i64, now: i64) -> StoreResult<()>;

    /// Creates a team and makes `admin_user` its admin, atomically.
    async fn create_team(&self, new: &NewTeam, admin_user: i64) -> StoreResult<TeamRecord>;
    async fn team_by_slug(&self, slug: &str) -> StoreResult<Option<TeamRecord>>;
    async fn team_by_id(&self, id: i64) -> StoreResult<Option<TeamRecord>>;
    /// All teams, or those `user` belongs to.
    async fn list_teams(&self, user: Option<i64>) -> StoreResult<Vec<TeamRecord>>;

    /// Adds a member, creating the user with `token` when no user of that name exists, and makes
    /// them admin of `project_admin_of`; all or nothing. Returns the member and whether the user
    /// was created.
    async fn add_member(&self, add: &AddMember) -> StoreResult<(MemberRecord, bool)>;
    async fn membership(&self, team_id: i64, user_id: i64) -> StoreResult<Option<Role>>;
    async fn list_members(&self, team_id: i64) -> StoreResult<Vec<MemberRecord>>;
    /// Removes the membership and the member's project-admin grants in the team.
    async fn remove_member(&self, team_id: i64, user_id: i64) -> StoreResult<bool>;
    async fn is_project_admin(&self, project_id: i64, user_id: i64) -> StoreResult<bool>;

    async fn create_project(
        &self,
        team_id: i64,
        slug: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<ProjectRecord>;
    async fn project_by_slug(&self, team_id: i64, slug: &str)
    -> StoreResult<Option<ProjectRecord>>;
    async fn project_by_id(&self, id: i64) -> StoreResult<Option<ProjectRecord>>;
    async fn list_projects(&self, team_id: i64) -> StoreResult<Vec<ProjectRecord>>;
    /// Deletes the project and everything it owns.
    async fn delete_project(&self, id: i64) -> StoreResult<bool>;

    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<()>;
    /// Newest first; `before` is an event id to page from.
    async fn list_audit(
        &self,
        team_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// The first start's content.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub admin_username: String,
    pub admin_token_hash: String,
    pub team_slug: String,
    pub project_slug: String,
    pub plan: Plan,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub slug: String,
    pub name: String,
    pub plan: Plan,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct AddMember {
    pub team_id: i64,
    pub username: String,
    pub role: Role,
    /// Hash of the token to give the user if it has to be created.
    pub new_token_hash: String,
    pub project_admin_of: Vec<i64>,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub team_id: Option<i64>,
    pub time: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub details: String,
}

/// Opens the store a server is configured with.
pub async fn open(data_dir: &std::path::Path) -> StoreResult<std::sync::Arc<dyn Store>> {
    Ok(std::sync::Arc::new(
        sqlite::SqliteStore::open(data_dir).await?,
    ))
}
