//! The embedded default: one SQLite database (`<data-dir>/berth.db`, WAL) for the control plane.
//! Writes run in `BEGIN IMMEDIATE` transactions so that concurrent writers queue instead of
//! failing on lock upgrades.

use crate::{
    AccessToken, AddMember, AuditEvent, Bootstrap, DeployKeyRecord, DeploymentFilter,
    DeploymentRecord, KeyOwner, MemberRecord, NewAuditEvent, NewDeployKey, NewDeployment, NewTeam,
    ProjectRecord, Store, StoreError, StoreResult, TeamRecord, User, migrate,
};
mod deployments;
mod keys;

use crate::docs::sqlite::SqliteDocStore;
use async_trait::async_trait;
use berth_model::{Plan, Role};
use deployments::Bind;
use sqlx::{
    Row, SqlitePool,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    },
};
use std::{path::Path, str::FromStr, time::Duration};

pub struct SqliteStore {
    pool: SqlitePool,
    data_dir: std::path::PathBuf,
    docs: std::sync::Mutex<OpenData>,
    /// Opening a deployment's data (row read, then file opened) and dropping it take turns, so a
    /// file is never opened for a deployment whose deletion is under way.
    opening: tokio::sync::Mutex<()>,
    /// Copies (resets, branches) run one at a time: each writes its target's next generation.
    copying: tokio::sync::Mutex<()>,
    commits: std::sync::Arc<crate::docs::commits::CommitHub>,
}

/// How many deployments' data stay open when idle; each holds a few file descriptors.
pub const OPEN_DATA: usize = 256;

/// The deployments whose data is open, by id, least recently used first.
#[derive(Default)]
struct OpenData {
    by_id: std::collections::HashMap<i64, std::sync::Arc<SqliteDocStore>>,
    order: std::collections::VecDeque<i64>,
}

impl OpenData {
    fn get(&mut self, id: i64) -> Option<std::sync::Arc<SqliteDocStore>> {
        let found = self.by_id.get(&id).cloned()?;
        if self.order.back() != Some(&id) {
            self.order.retain(|i| *i != id);
            self.order.push_back(id);
        }
        Some(found)
    }

    /// Adds a deployment's data, closing the least recently used idle ones (held by nobody
    /// else) beyond [`OPEN_DATA`]. Data in use stays open until its calls finish.
    fn insert(&mut self, id: i64, d: std::sync::Arc<SqliteDocStore>) {
        self.by_id.insert(id, d);
        self.order.retain(|i| *i != id);
        self.order.push_back(id);
        let mut idx = 0;
        while self.by_id.len() > OPEN_DATA && idx < self.order.len() {
            let old = self.order[idx];
            let idle = old != id
                && self
                    .by_id
                    .get(&old)
                    .is_some_and(|d| std::sync::Arc::strong_count(d) == 1 && d.retire_if_idle());
            if idle {
                self.order.remove(idx);
                self.by_id.remove(&old);
            } else {
                idx += 1;
            }
        }
    }

    fn remove(&mut self, id: i64) -> Option<std::sync::Arc<SqliteDocStore>> {
        self.order.retain(|i| *i != id);
        self.by_id.remove(&id)
    }
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/berth.db` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> StoreResult<Self> {
        private_dir(data_dir)?;
        private_dir(&data_dir.join("deployments"))?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("berth.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(backend)?;
        let store = Self {
            pool,
            data_dir: data_dir.to_path_buf(),
            docs: Default::default(),
            opening: Default::default(),
            copying: Default::default(),
            commits: Default::default(),
        };
        store.migrate().await?;
        crate::docs::sqlite::private_file(&data_dir.join("berth.db"))?;
        store.sweep_data_files().await?;
        Ok(store)
    }

    /// Where generation `generation` of a deployment's data lives: `<name>.sqlite3` for the
    /// first, `<name>.<generation>.sqlite3` after resets. The name comes from the deployment's
    /// row (never from a request) and is checked again here, so no path leaves `deployments/`.
    fn deployment_file(&self, name: &str, generation: i64) -> StoreResult<std::path::PathBuf> {
        let safe = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !safe {
            return Err(StoreError::Backend(format!(
                "deployment name {name:?} cannot name a file"
            )));
        }
        let file = if generation == 0 {
            format!("{name}.sqlite3")
        } else {
            format!("{name}.{generation}.sqlite3")
        };
        Ok(self.data_dir.join("deployments").join(file))
    }

    fn docs_cache(&self) -> StoreResult<std::sync::MutexGuard<'_, OpenData>> {
        self.docs
            .lock()
            .map_err(|_| StoreError::Backend("docs cache poisoned".into()))
    }

    /// The open data of deployment `id`, opening it from its row when needed.
    async fn open_data(&self, id: i64) -> StoreResult<std::sync::Arc<SqliteDocStore>> {
        if let Some(d) = self.docs_cache()?.get(id) {
            return Ok(d);
        }
        let _turn = self.opening.lock().await;
        if let Some(d) = self.docs_cache()?.get(id) {
            return Ok(d);
        }
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT name, data_generation FROM deployments WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        let (name, generation) = row.ok_or(StoreError::NoDeployment(id))?;
        let file = self.deployment_file(&name, generation)?;
        let commits = self.commits.clone();
        let opened = tokio::task::spawn_blocking(move || {
            SqliteDocStore::open_announcing(&file, id, commits)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("open deployment data: {e}")))??;
        let opened = std::sync::Arc::new(opened);
        self.docs_cache()?.insert(id, opened.clone());
        Ok(opened)
    }

    /// Removes files under `deployments/` that no deployment's row points at: what a crash
    /// left between writing a reset's new file and deleting the old one, copies cut short, and
    /// files of deployments deleted while their files could not be removed.
    async fn sweep_data_files(&self) -> StoreResult<()> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, data_generation FROM deployments")
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        let mut wanted = std::collections::HashSet::new();
        for (name, generation) in &rows {
            if let Ok(f) = self.deployment_file(name, *generation)
                && let Some(n) = f.file_name().and_then(|n| n.to_str())
            {
                wanted.insert(n.to_string());
            }
        }
        let dir = self.data_dir.join("deployments");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let Some(file) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let base = ["-wal", "-shm", ".copy"]
                .iter()
                .find_map(|s| file.strip_suffix(s))
                .unwrap_or(&file);
            if !base.ends_with(".sqlite3") || wanted.contains(base) {
                continue;
            }
            tracing::info!(file = %file, "removing a data file no deployment uses");
            if let Err(e) = std::fs::remove_file(entry.path()) {
                tracing::warn!(file = %file, error = %e, "could not remove an unused data file");
            }
        }
        Ok(())
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        for m in migrate::SQLITE {
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(backend)?;
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?")
                    .bind(m.version)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            if done.is_some() {
                continue;
            }
            tracing::info!(version = m.version, name = m.name, "applying migration");
            sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql))
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%s','now'))")
                .bind(m.version)
                .bind(m.name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
        }
        Ok(())
    }
}

fn user(r: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: r.try_get("id").map_err(backend)?,
        username: r.try_get("username").map_err(backend)?,
        server_admin: r.try_get::<i64, _>("server_admin").map_err(backend)? != 0,
        create_time: r.try_get("create_time").map_err(backend)?,
    })
}

fn team(r: &SqliteRow) -> StoreResult<TeamRecord> {
    let plan: String = r.try_get("plan").map_err(backend)?;
    Ok(TeamRecord {
        id: r.try_get("id").map_err(backend)?,
        slug: r.try_get("slug").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        plan: Plan::from_str(&plan).map_err(|e| StoreError::Backend(e.message))?,
        deployment_limit_override: r.try_get("deployment_limit_override").map_err(backend)?,
        create_time: r.try_get("create_time").map_err(backend)?,
        max_preview_age_ms: r.try_get("max_preview_age_ms").map_err(backend)?,
        evict_previews: r.try_get::<i64, _>("evict_previews").map_err(backend)? != 0,
        max_dev_per_member: r.try_get("max_dev_per_member").map_err(backend)?,
    })
}

fn project(r: &SqliteRow) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        id: r.try_get("id").map_err(backend)?,
        team_id: r.try_get("team_id").map_err(backend)?,
        slug: r.try_get("slug").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        create_time: r.try_get("create_time").map_err(backend)?,
    })
}

fn role(s: &str) -> StoreResult<Role> {
    Role::from_str(s).map_err(|e| StoreError::Backend(e.message))
}

const TEAM_COLS: &str = "id, slug, name, plan, deployment_limit_override, create_time, max_preview_age_ms, evict_previews, max_dev_per_member";

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn commits(&self) -> std::sync::Arc<crate::docs::commits::CommitHub> {
        self.commits.clone()
    }

    fn single_writer(&self) -> bool {
        true
    }

    async fn bootstrap(&self, b: &Bootstrap) -> StoreResult<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let done: Option<String> =
            sqlx::query_scalar("SELECT value FROM server_meta WHERE key = 'bootstrapped'")
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if done.is_some() {
            return Ok(false);
        }
        let user_id = new_user(
            &mut tx,
            &b.admin_username,
            true,
            "admin-token",
            &b.admin_token_hash,
            b.now,
        )
        .await?;
        let team_id: i64 = sqlx::query_scalar(
            "INSERT INTO teams (slug, name, plan, create_time) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(&b.team_slug)
        .bind(&b.team_slug)
        .bind(b.plan.as_str())
        .bind(b.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("INSERT INTO team_members (team_id, user_id, role, create_time) VALUES (?, ?, 'admin', ?)")
            .bind(team_id)
            .bind(user_id)
            .bind(b.now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO projects (team_id, slug, name, create_time) VALUES (?, ?, ?, ?)")
            .bind(team_id)
            .bind(&b.project_slug)
            .bind(&b.project_slug)
            .bind(b.now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO server_meta (key, value) VALUES ('bootstrapped', ?)")
            .bind(b.now.to_string())
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn reset_tokens(
        &self,
        username: &str,
        token_name: &str,
        token_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(id) = id else { return Ok(false) };
        sqlx::query("DELETE FROM access_tokens WHERE user_id = ? AND name = ?")
            .bind(id)
            .bind(token_name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO access_tokens (user_id, name, token_hash, create_time) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(token_name)
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(true)
    }

    async fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query("SELECT id, username, server_admin, create_time FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(user)
            .transpose()
    }

    async fn access_token_by_hash(&self, hash: &str) -> StoreResult<Option<(AccessToken, User)>> {
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.name, t.token_hash, t.expires_at, u.id, u.username, u.server_admin, u.create_time
             FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        let Some(r) = row else { return Ok(None) };
        let u = user(&r)?;
        let t = AccessToken {
            id: r.try_get("token_id").map_err(backend)?,
            user_id: u.id,
            name: r.try_get("name").map_err(backend)?,
            token_hash: r.try_get("token_hash").map_err(backend)?,
            expires_at: r.try_get("expires_at").map_err(backend)?,
        };
        Ok(Some((t, u)))
    }

    async fn touch_access_token(&self, id: i64, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE access_tokens SET last_used = ? WHERE id = ?")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_team(&self, new: &NewTeam, admin_user: i64) -> StoreResult<TeamRecord> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let row = sqlx::query(
            "INSERT INTO teams (slug, name, plan, create_time) VALUES (?, ?, ?, ?)
             RETURNING id, slug, name, plan, deployment_limit_override, create_time, max_preview_age_ms, evict_previews, max_dev_per_member",
        )
        .bind(&new.slug)
        .bind(&new.name)
        .bind(new.plan.as_str())
        .bind(new.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        let t = team(&row)?;
        sqlx::query("INSERT INTO team_members (team_id, user_id, role, create_time) VALUES (?, ?, 'admin', ?)")
            .bind(t.id)
            .bind(admin_user)
            .bind(new.now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(t)
    }

    async fn team_by_slug(&self, slug: &str) -> StoreResult<Option<TeamRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TEAM_COLS} FROM teams WHERE slug = ?"
        )))
        .bind(slug)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(team)
        .transpose()
    }

    async fn update_team(&self, t: &TeamRecord) -> StoreResult<()> {
        sqlx::query("UPDATE teams SET plan = ?, deployment_limit_override = ?, max_preview_age_ms = ?, evict_previews = ?, max_dev_per_member = ? WHERE id = ?")
            .bind(t.plan.as_str())
            .bind(t.deployment_limit_override)
            .bind(t.max_preview_age_ms)
            .bind(i64::from(t.evict_previews))
            .bind(t.max_dev_per_member)
            .bind(t.id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn team_by_id(&self, id: i64) -> StoreResult<Option<TeamRecord>> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TEAM_COLS} FROM teams WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(team)
        .transpose()
    }

    async fn list_teams(&self, user: Option<i64>) -> StoreResult<Vec<TeamRecord>> {
        let rows = match user {
            None => sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TEAM_COLS} FROM teams ORDER BY id")))
                .fetch_all(&self.pool)
                .await,
            Some(u) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {TEAM_COLS} FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ?) ORDER BY id"
            )))
            .bind(u)
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(backend)?;
        rows.iter().map(team).collect()
    }

    async fn add_member(&self, add: &AddMember) -> StoreResult<(MemberRecord, bool)> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
            .bind(&add.username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let (user_id, created) = match existing {
            Some(id) => (id, false),
            None => {
                let id = new_user(
                    &mut tx,
                    &add.username,
                    false,
                    "member-token",
                    &add.new_token_hash,
                    add.now,
                )
                .await?;
                (id, true)
            }
        };
        sqlx::query(
            "INSERT INTO team_members (team_id, user_id, role, create_time) VALUES (?, ?, COALESCE(?, 'member'), ?)
             ON CONFLICT (team_id, user_id) DO UPDATE SET role = COALESCE(?, role)",
        )
        .bind(add.team_id)
        .bind(user_id)
        .bind(add.role.map(|r| r.as_str()))
        .bind(add.now)
        .bind(add.role.map(|r| r.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for p in &add.project_admin_of {
            sqlx::query("INSERT OR IGNORE INTO project_admins (project_id, user_id) VALUES (?, ?)")
                .bind(p)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        // The team keeps an admin: checked in the same transaction as the change, so two
        // admins demoting or removing each other at once cannot both succeed.
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM team_members WHERE team_id = ? AND role = 'admin'",
        )
        .bind(add.team_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if admins == 0 {
            return Err(StoreError::LastAdmin);
        }
        tx.commit().await.map_err(backend)?;
        let member = self
            .list_members(add.team_id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or_else(|| StoreError::Backend("member vanished after insert".into()))?;
        Ok((member, created))
    }

    async fn membership(&self, team_id: i64, user_id: i64) -> StoreResult<Option<Role>> {
        let r: Option<String> =
            sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = ? AND user_id = ?")
                .bind(team_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        r.as_deref().map(role).transpose()
    }

    async fn list_members(&self, team_id: i64) -> StoreResult<Vec<MemberRecord>> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, m.role, m.create_time,
                    (SELECT group_concat(p.slug, ',') FROM project_admins pa JOIN projects p ON p.id = pa.project_id
                     WHERE pa.user_id = u.id AND p.team_id = m.team_id) AS admin_of
             FROM team_members m JOIN users u ON u.id = m.user_id
             WHERE m.team_id = ? ORDER BY u.username",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let admin_of: Option<String> = r.try_get("admin_of").map_err(backend)?;
                let mut project_admin_of: Vec<String> = admin_of
                    .map(|s| s.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                project_admin_of.sort();
                Ok(MemberRecord {
                    user_id: r.try_get("id").map_err(backend)?,
                    username: r.try_get("username").map_err(backend)?,
                    role: role(&r.try_get::<String, _>("role").map_err(backend)?)?,
                    project_admin_of,
                    create_time: r.try_get("create_time").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn remove_member(&self, team_id: i64, user_id: i64) -> StoreResult<bool> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        sqlx::query(
            "DELETE FROM project_admins WHERE user_id = ? AND project_id IN (SELECT id FROM projects WHERE team_id = ?)",
        )
        .bind(user_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let n = sqlx::query("DELETE FROM team_members WHERE team_id = ? AND user_id = ?")
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        // The team keeps an admin: checked in the same transaction as the change, so two
        // admins demoting or removing each other at once cannot both succeed.
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM team_members WHERE team_id = ? AND role = 'admin'",
        )
        .bind(team_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if admins == 0 {
            return Err(StoreError::LastAdmin);
        }
        tx.commit().await.map_err(backend)?;
        Ok(n > 0)
    }

    async fn is_project_admin(&self, project_id: i64, user_id: i64) -> StoreResult<bool> {
        let r: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM project_admins WHERE project_id = ? AND user_id = ?")
                .bind(project_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        Ok(r.is_some())
    }

    async fn create_project(
        &self,
        team_id: i64,
        slug: &str,
        name: &str,
        now: i64,
    ) -> StoreResult<ProjectRecord> {
        let row = sqlx::query(
            "INSERT INTO projects (team_id, slug, name, create_time) VALUES (?, ?, ?, ?)
             RETURNING id, team_id, slug, name, create_time",
        )
        .bind(team_id)
        .bind(slug)
        .bind(name)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        project(&row)
    }

    async fn project_by_slug(
        &self,
        team_id: i64,
        slug: &str,
    ) -> StoreResult<Option<ProjectRecord>> {
        sqlx::query("SELECT id, team_id, slug, name, create_time FROM projects WHERE team_id = ? AND slug = ?")
            .bind(team_id)
            .bind(slug)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(project)
            .transpose()
    }

    async fn project_by_id(&self, id: i64) -> StoreResult<Option<ProjectRecord>> {
        sqlx::query("SELECT id, team_id, slug, name, create_time FROM projects WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .as_ref()
            .map(project)
            .transpose()
    }

    async fn list_projects(&self, team_id: i64) -> StoreResult<Vec<ProjectRecord>> {
        let rows = sqlx::query(
            "SELECT id, team_id, slug, name, create_time FROM projects WHERE team_id = ? ORDER BY slug",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(project).collect()
    }

    async fn delete_project(&self, id: i64) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM projects WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn create_deployment(&self, new: &NewDeployment) -> StoreResult<DeploymentRecord> {
        deployments::create(&self.pool, new).await
    }

    async fn deployment_by_name(&self, name: &str) -> StoreResult<Option<DeploymentRecord>> {
        deployments::one(&self.pool, "name = ?", vec![Bind::Text(name.to_string())]).await
    }

    async fn deployment_by_reference(
        &self,
        project_id: i64,
        reference: &str,
    ) -> StoreResult<Option<DeploymentRecord>> {
        deployments::one(
            &self.pool,
            "project_id = ? AND reference_lower = ?",
            vec![
                Bind::Int(project_id),
                Bind::Text(reference.to_ascii_lowercase()),
            ],
        )
        .await
    }

    async fn default_deployment(
        &self,
        project_id: i64,
        user: Option<i64>,
    ) -> StoreResult<Option<DeploymentRecord>> {
        match user {
            Some(u) => {
                deployments::one(
                    &self.pool,
                    "project_id = ? AND is_default = 1 AND type = 'dev' AND creator_user_id = ?",
                    vec![Bind::Int(project_id), Bind::Int(u)],
                )
                .await
            }
            None => {
                deployments::one(
                    &self.pool,
                    "project_id = ? AND is_default = 1 AND type = 'prod'",
                    vec![Bind::Int(project_id)],
                )
                .await
            }
        }
    }

    async fn list_deployments(
        &self,
        project_id: i64,
        filter: &DeploymentFilter,
    ) -> StoreResult<Vec<DeploymentRecord>> {
        deployments::list(&self.pool, project_id, filter).await
    }

    async fn update_deployment(&self, d: &DeploymentRecord) -> StoreResult<()> {
        deployments::update(&self.pool, d).await
    }

    async fn record_push(&self, id: i64, time: i64) -> StoreResult<i64> {
        sqlx::query_scalar(
            "UPDATE deployments SET last_deploy_time = ?, code_version = code_version + 1 WHERE id = ? RETURNING code_version",
        )
        .bind(time)
        .bind(id)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)
    }

    async fn deployment_docs(
        &self,
        deployment_id: i64,
    ) -> StoreResult<std::sync::Arc<dyn crate::docs::DocStore>> {
        Ok(self.open_data(deployment_id).await?)
    }

    async fn copy_deployment_data(&self, from: i64, to: i64, with_env: bool) -> StoreResult<()> {
        let _one_at_a_time = self.copying.lock().await;
        let source = self.open_data(from).await?;
        let target = self.open_data(to).await?;
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT name, data_generation FROM deployments WHERE id = ?")
                .bind(to)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
        let (name, generation) = row.ok_or(StoreError::NoDeployment(to))?;
        let next = self.deployment_file(&name, generation + 1)?;
        let mut staging = next.clone().into_os_string();
        staging.push(".copy");
        let staging = std::path::PathBuf::from(staging);
        let (copy, done) = (staging.clone(), next.clone());
        // 1. A consistent copy of the source, while both deployments go on serving calls.
        tokio::task::spawn_blocking(move || {
            for p in [&copy, &done] {
                let _ = std::fs::remove_file(p);
            }
            source.snapshot_into(&copy)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("copy deployment data: {e}")))??;
        // 2. The target's code (and variables) move into the copy, with its indexes built there,
        //    while the target goes on serving calls.
        // 3. Then the target alone: if its code changed meanwhile, the copy takes it again; the
        //    copy is opened as the next generation, the row switched in one statement, and calls
        //    resume on the new file.
        let prepared = {
            let target = target.clone();
            let (copy, done) = (staging.clone(), next.clone());
            tokio::task::spawn_blocking(move || {
                let code = target.code_and_env()?;
                crate::docs::sqlite::adopt_copy(&copy, &code, with_env)?;
                let held = target.exclusive()?;
                let now = held.code_and_env()?;
                if now != code {
                    crate::docs::sqlite::adopt_copy(&copy, &now, with_env)?;
                }
                std::fs::rename(&copy, &done)
                    .map_err(|e| StoreError::Backend(format!("move the copy into place: {e}")))?;
                let fresh = held.open_next(&done)?;
                Ok::<_, StoreError>((held, fresh))
            })
            .await
            .map_err(|e| StoreError::Backend(format!("copy deployment data: {e}")))?
        };
        let (held, fresh) = match prepared {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_file(&staging);
                let _ = std::fs::remove_file(&next);
                return Err(e);
            }
        };
        let switched = sqlx::query(
            "UPDATE deployments SET data_generation = ? WHERE id = ? AND data_generation = ?",
        )
        .bind(generation + 1)
        .bind(to)
        .bind(generation)
        .execute(&self.pool)
        .await
        .map_err(backend)
        .and_then(|r| {
            if r.rows_affected() == 1 {
                Ok(())
            } else {
                Err(StoreError::Busy(
                    "the deployment was reset or deleted during this reset; try again".into(),
                ))
            }
        });
        if let Err(e) = switched {
            drop((fresh, held));
            let _ = std::fs::remove_file(&next);
            return Err(e);
        }
        let old = held.install(fresh);
        drop(held);
        remove_data_files(&old);
        Ok(())
    }

    async fn drop_deployment_data(&self, d: &DeploymentRecord) -> StoreResult<()> {
        // The row is gone, so no open can start again after this one; opens under way finish
        // first. Closing (which waits for the calls inside) happens without holding others up.
        let open = {
            let _turn = self.opening.lock().await;
            self.docs_cache()?.remove(d.id)
        };
        if let Some(open) = open {
            tokio::task::spawn_blocking(move || open.close_for_good())
                .await
                .map_err(|e| StoreError::Backend(format!("close deployment data: {e}")))?;
        }
        // Every generation: the row that said which one is current is gone.
        let dir = self.data_dir.join("deployments");
        let first = self.deployment_file(&d.name, 0)?;
        let prefix = format!("{}.", d.name);
        let mut failed = None;
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for entry in entries.flatten() {
                let file = entry.file_name();
                let Some(file) = file.to_str() else { continue };
                let Some(rest) = file.strip_prefix(&prefix) else {
                    continue;
                };
                // `<name>.sqlite3…` or `<name>.<digits>.sqlite3…`, not another name's files.
                let ours = rest.starts_with("sqlite3")
                    || rest.split_once('.').is_some_and(|(g, tail)| {
                        !g.is_empty()
                            && g.bytes().all(|b| b.is_ascii_digit())
                            && tail.starts_with("sqlite3")
                    });
                if !ours {
                    continue;
                }
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => failed = Some(format!("remove {}: {e}", first.display())),
                }
            }
        }
        match failed {
            Some(e) => Err(StoreError::Backend(e)),
            None => Ok(()),
        }
    }

    async fn delete_deployment(&self, id: i64) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM deployments WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?
            .rows_affected();
        Ok(n > 0)
    }

    async fn expired_deployments(
        &self,
        now: i64,
        limit: u32,
    ) -> StoreResult<Vec<DeploymentRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM deployments WHERE expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at LIMIT ?",
            deployments::COLS
        )))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(deployments::row).collect()
    }

    async fn count_live_deployments(&self, team_id: i64, now: i64) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM deployments WHERE team_id = ? AND (expires_at IS NULL OR expires_at > ?)",
        )
        .bind(team_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(n as u64)
    }

    async fn create_deploy_key(&self, new: &NewDeployKey) -> StoreResult<DeployKeyRecord> {
        keys::create(&self.pool, new).await
    }

    async fn deploy_key_by_hash(&self, secret_hash: &str) -> StoreResult<Option<DeployKeyRecord>> {
        keys::by_hash(&self.pool, secret_hash).await
    }

    async fn list_deploy_keys(&self, owner: KeyOwner) -> StoreResult<Vec<DeployKeyRecord>> {
        keys::list(&self.pool, owner).await
    }

    async fn delete_deploy_key(&self, owner: KeyOwner, name: &str) -> StoreResult<bool> {
        keys::delete(&self.pool, owner, name).await
    }

    async fn touch_deploy_key(&self, id: i64, now: i64) -> StoreResult<()> {
        keys::touch(&self.pool, id, now).await
    }

    async fn list_default_env(
        &self,
        project_id: i64,
    ) -> StoreResult<Vec<(berth_model::DeploymentType, String, String)>> {
        let rows = sqlx::query(
            "SELECT deployment_type, name, value FROM default_env WHERE project_id = ? ORDER BY deployment_type, name",
        )
        .bind(project_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let ty: String = r.try_get("deployment_type").map_err(backend)?;
                Ok((
                    ty.parse()
                        .map_err(|e: berth_model::Error| StoreError::Backend(e.message))?,
                    r.try_get("name").map_err(backend)?,
                    r.try_get("value").map_err(backend)?,
                ))
            })
            .collect()
    }

    async fn update_default_env(
        &self,
        project_id: i64,
        changes: &[(berth_model::DeploymentType, String, Option<String>)],
    ) -> StoreResult<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend)?;
        for (ty, name, value) in changes {
            match value {
                Some(v) => sqlx::query(
                    "INSERT INTO default_env (project_id, deployment_type, name, value) VALUES (?, ?, ?, ?)
                     ON CONFLICT (project_id, deployment_type, name) DO UPDATE SET value = excluded.value",
                )
                .bind(project_id)
                .bind(ty.as_str())
                .bind(name)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(backend)?,
                None => sqlx::query("DELETE FROM default_env WHERE project_id = ? AND deployment_type = ? AND name = ?")
                    .bind(project_id)
                    .bind(ty.as_str())
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?,
            };
        }
        tx.commit().await.map_err(backend)
    }

    async fn append_audit(&self, e: &NewAuditEvent) -> StoreResult<()> {
        sqlx::query("INSERT INTO audit_log (team_id, time, actor, action, target, details) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(e.team_id)
            .bind(e.time)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.target)
            .bind(&e.details)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn list_audit(
        &self,
        team_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT id, team_id, time, actor, action, target, details FROM audit_log
             WHERE team_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(team_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id").map_err(backend)?,
                    team_id: r.try_get("team_id").map_err(backend)?,
                    time: r.try_get("time").map_err(backend)?,
                    actor: r.try_get("actor").map_err(backend)?,
                    action: r.try_get("action").map_err(backend)?,
                    target: r.try_get("target").map_err(backend)?,
                    details: r.try_get("details").map_err(backend)?,
                })
            })
            .collect()
    }
}

/// Inserts a user and their first access token; returns the user's id.
async fn new_user(
    c: &mut sqlx::SqliteConnection,
    username: &str,
    server_admin: bool,
    token_name: &str,
    token_hash: &str,
    now: i64,
) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, server_admin, create_time) VALUES (?, ?, ?) RETURNING id",
    )
    .bind(username)
    .bind(i64::from(server_admin))
    .bind(now)
    .fetch_one(&mut *c)
    .await
    .map_err(backend)?;
    sqlx::query(
        "INSERT INTO access_tokens (user_id, name, token_hash, create_time) VALUES (?, ?, ?, ?)",
    )
    .bind(id)
    .bind(token_name)
    .bind(token_hash)
    .bind(now)
    .execute(&mut *c)
    .await
    .map_err(backend)?;
    Ok(id)
}

/// Creates `dir` when missing and makes it this user's alone (deployment files hold secrets).
fn private_dir(dir: &Path) -> StoreResult<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StoreError::Backend(format!("create directory {}: {e}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StoreError::Backend(format!("restrict {}: {e}", dir.display())))?;
    }
    Ok(())
}

/// Deletes a deployment's data file and its WAL and shared-memory files; what cannot be
/// deleted now is swept at the next start.
fn remove_data_files(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = file.as_os_str().to_os_string();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "could not remove an old data file")
            }
        }
    }
}
