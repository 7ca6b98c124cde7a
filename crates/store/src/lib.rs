//! Berth's storage. Callers see only the [`Store`] trait and the records it returns; each
//! backend (the embedded SQLite default now, PostgreSQL behind the same trait) brings its own
//! migrations. Every operation that must be all-or-nothing is one trait method, so that no caller
//! ever holds a half-written state.

pub mod docs;
mod migrate;
pub mod postgres;
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
    /// The team already holds as many live deployments as its limit allows.
    #[error("deployment limit {limit} reached")]
    LimitReached { limit: u32 },
    /// A document does not match its table's type in the deployment's schema; the text is
    /// Convex's (which table, which field, what was expected).
    #[error("{0}")]
    SchemaMismatch(String),
    /// A function's transaction read or wrote more than its limits allow; the text names the
    /// limit and what to do.
    #[error("{0}")]
    LimitExceeded(String),
    /// The change would leave a team without an admin; nothing was changed.
    #[error("the team would have no admin left")]
    LastAdmin,
    /// Briefly unavailable (a deployment's data is being replaced); the text says what to do.
    #[error("{0}")]
    Busy(String),
    /// The deployment has no row (never existed, or deleted): its data cannot be opened.
    #[error("deployment {0} does not exist")]
    NoDeployment(i64),
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

    /// Where each deployment's commits are announced on this server (with, on PostgreSQL, the
    /// commits other servers announce): live queries subscribe here.
    fn commits(&self) -> std::sync::Arc<docs::commits::CommitHub>;

    /// Tells the deployment's live queries that anything may have changed (new code, new data):
    /// they all run again, on this server and (PostgreSQL) on every other.
    async fn announce_everything(&self, deployment: i64) -> StoreResult<()> {
        let hub = self.commits();
        hub.publish(
            deployment,
            docs::commits::Commit {
                ts: hub.next_ts(deployment),
                writes: std::sync::Arc::new(docs::commits::WriteSet::everything()),
            },
        );
        Ok(())
    }

    /// True when this process is the only writer of the store (the embedded SQLite default), so
    /// that the control plane may cache what it reads and invalidate the cache on its own writes.
    fn single_writer(&self) -> bool {
        false
    }

    /// Whether logs are kept here (a store shared by several servers) rather than in each
    /// server's memory.
    fn keeps_logs(&self) -> bool {
        false
    }

    /// Appends a deployment's log lines, keeping its newest `retention` lines.
    async fn append_logs(
        &self,
        _deployment: &str,
        _lines: &[LogRecord],
        _retention: usize,
    ) -> StoreResult<()> {
        Ok(())
    }

    /// Lines after `cursor` (at most `limit`), or the newest `limit` lines without one.
    async fn read_logs(
        &self,
        _deployment: &str,
        _cursor: Option<u64>,
        _limit: usize,
    ) -> StoreResult<Vec<LogRecord>> {
        Ok(Vec::new())
    }

    /// Takes the reaper's lock, when no other server holds it: exactly one server reaps at a
    /// time. The lock is held until the returned guard is dropped.
    async fn try_reaper_lock(&self) -> StoreResult<Option<Box<dyn std::any::Any + Send>>> {
        Ok(Some(Box::new(())))
    }

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
    /// Writes the team's plan and limit override.
    async fn update_team(&self, t: &TeamRecord) -> StoreResult<()>;
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

    /// Creates a deployment, checking in the same transaction that its name was never used, that
    /// its reference and default status are free, and that the team is under `limit` live
    /// deployments at `now`. Conflicts are `Conflict("name" | "reference" | "default")`.
    async fn create_deployment(&self, new: &NewDeployment) -> StoreResult<DeploymentRecord>;
    async fn deployment_by_name(&self, name: &str) -> StoreResult<Option<DeploymentRecord>>;
    /// By reference, case-insensitively.
    async fn deployment_by_reference(
        &self,
        project_id: i64,
        reference: &str,
    ) -> StoreResult<Option<DeploymentRecord>>;
    /// The project's default prod (`user: None`) or a member's default dev deployment.
    async fn default_deployment(
        &self,
        project_id: i64,
        user: Option<i64>,
    ) -> StoreResult<Option<DeploymentRecord>>;
    /// In id (creation) order.
    async fn list_deployments(
        &self,
        project_id: i64,
        filter: &DeploymentFilter,
    ) -> StoreResult<Vec<DeploymentRecord>>;
    /// Writes reference, default status, expiration and setting overrides of `d` (by id).
    /// A taken reference is `Conflict("reference")`.
    async fn update_deployment(&self, d: &DeploymentRecord) -> StoreResult<()>;
    /// Records a push: sets the last deploy time and bumps the code version.
    async fn record_push(&self, id: i64, time: i64) -> StoreResult<i64>;
    /// A push, as one operation: the deployment's code replaced (data checked against the
    /// schema, indexes built and dropped; see [`docs::DocStore::replace_code`]) and the push
    /// recorded (last deploy time, next code version, returned with the index changes).
    ///
    /// This default writes the code, then the version. A crash between the two leaves the new
    /// code at the old version; since isolates are cached only in memory, every call after the
    /// restart loads the new code. A store whose data and rows share a database does both in one
    /// transaction.
    async fn push_code(
        &self,
        deployment_id: i64,
        code: docs::Code,
        time: i64,
    ) -> StoreResult<(i64, docs::IndexChanges)> {
        let docs = self.deployment_docs(deployment_id).await?;
        let changes = tokio::task::spawn_blocking(move || {
            docs.replace_code(&code.modules, &code.meta, &code.schema)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("store the code: {e}")))??;
        let version = self.record_push(deployment_id, time).await?;
        Ok((version, changes))
    }
    /// The own data (documents, code) of the deployment with this id, opened on first use. It
    /// is reached through the deployment's row only: without a row it is `NoDeployment`, and
    /// nothing is created.
    async fn deployment_docs(
        &self,
        deployment_id: i64,
    ) -> StoreResult<std::sync::Arc<dyn docs::DocStore>>;
    /// Deletes the own data of `d`, whose row is already deleted. Calls still running on it
    /// finish; new ones are refused. Idempotent.
    async fn drop_deployment_data(&self, d: &DeploymentRecord) -> StoreResult<()>;
    /// Replaces the documents of deployment `to` with a consistent snapshot of `from`'s (and,
    /// with `with_env`, its environment variables too), at once: calls on `to` see the old data
    /// or the new, never a mix. `to` keeps its code, and its own variables unless `with_env`.
    async fn copy_deployment_data(&self, from: i64, to: i64, with_env: bool) -> StoreResult<()>;
    /// Deletes the deployment and everything it owns; false when it did not exist.
    async fn delete_deployment(&self, id: i64) -> StoreResult<bool>;
    /// Deployments expired at `now`, oldest expiry first.
    async fn expired_deployments(&self, now: i64, limit: u32)
    -> StoreResult<Vec<DeploymentRecord>>;
    /// Live (unexpired at `now`) deployments of the team.
    async fn count_live_deployments(&self, team_id: i64, now: i64) -> StoreResult<u64>;

    /// A name already used in the same scope is `Conflict("name")`.
    async fn create_deploy_key(&self, new: &NewDeployKey) -> StoreResult<DeployKeyRecord>;
    async fn deploy_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<DeployKeyRecord>>;
    async fn list_deploy_keys(&self, owner: KeyOwner) -> StoreResult<Vec<DeployKeyRecord>>;
    /// False when there was no key of that name.
    async fn delete_deploy_key(&self, owner: KeyOwner, name: &str) -> StoreResult<bool>;
    async fn touch_deploy_key(&self, id: i64, now: i64) -> StoreResult<()>;

    /// The project's default variables: (type, name, value), sorted.
    async fn list_default_env(
        &self,
        project_id: i64,
    ) -> StoreResult<Vec<(berth_model::DeploymentType, String, String)>>;
    /// Sets (`Some`) or removes (`None`) default variables, all at once.
    async fn update_default_env(
        &self,
        project_id: i64,
        changes: &[(berth_model::DeploymentType, String, Option<String>)],
    ) -> StoreResult<()>;

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
    /// `None` keeps an existing member's role (and makes a new one a member).
    pub role: Option<Role>,
    /// Hash of the token to give the user if it has to be created.
    pub new_token_hash: String,
    pub project_admin_of: Vec<i64>,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct NewDeployment {
    pub name: String,
    pub project_id: i64,
    pub team_id: i64,
    pub deployment_type: berth_model::DeploymentType,
    pub reference: String,
    pub region: String,
    pub creator: String,
    pub creator_user_id: Option<i64>,
    pub is_default: bool,
    pub expires_at: Option<i64>,
    pub preview_identifier: Option<String>,
    pub overrides: berth_model::deployment::SettingOverrides,
    pub now: i64,
    /// The team's limit of live deployments; `None` is unlimited.
    pub limit: Option<u32>,
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

/// Opens the store a server is configured with: PostgreSQL when `database_url` is given, else
/// the embedded SQLite under `data_dir`.
pub async fn open(
    data_dir: &std::path::Path,
    database_url: Option<&str>,
) -> StoreResult<std::sync::Arc<dyn Store>> {
    match database_url {
        Some(url) => Ok(std::sync::Arc::new(postgres::PgStore::open(url).await?)),
        None => Ok(std::sync::Arc::new(
            sqlite::SqliteStore::open(data_dir).await?,
        )),
    }
}
