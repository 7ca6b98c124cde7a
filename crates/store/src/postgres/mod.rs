//! PostgreSQL (`--database-url postgres://…`): the same metadata as the embedded store, for many
//! berth servers on one database. Writes that must not interleave lock what they depend on
//! (the team row when creating a deployment), and migrations run under an advisory lock so two
//! servers starting together apply each migration once.

use crate::{
    AccessToken, AddMember, AuditEvent, Bootstrap, DeployKeyRecord, DeploymentFilter,
    DeploymentRecord, KeyOwner, MemberRecord, NewAuditEvent, NewDeployKey, NewDeployment, NewTeam,
    ProjectRecord, Store, StoreError, StoreResult, TeamRecord, User, migrate,
};
mod deployments;
mod keys;

use async_trait::async_trait;
use berth_model::{Plan, Role};
use deployments::Bind;
use sqlx::{
    PgPool, Row,
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
};
use std::{str::FromStr, time::Duration};

/// The advisory lock key held while migrating.
const MIGRATION_LOCK: i64 = 0x6265_7274_6800_0001;
/// The first key of the two-key advisory locks that order each deployment's log appends (the
/// two-key space does not overlap the one-key locks on deployment ids that writes take).
const LOG_LOCK_CLASS: i32 = 0x6c6f_6773;

pub struct PgStore {
    /// Deployment ids seen with a row (ids are never reused), so opening data costs no query.
    known_ids: std::sync::Mutex<std::collections::HashSet<i64>>,
    pool: PgPool,
    announce: crate::docs::postgres::Announce,
    /// Hears the other servers' commits while the store lives.
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// Passes the commits other servers announce (`NOTIFY berth_commits`) to this server's hub, as
/// the tables they wrote. `sqlx`'s listener reconnects by itself when its connection drops.
async fn listen_for_commits(pool: PgPool, announce: crate::docs::postgres::Announce) {
    use crate::docs::commits::{Commit, WriteSet};
    let mut listener = loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(crate::docs::postgres::COMMITS_CHANNEL).await {
                Ok(()) => break l,
                Err(e) => tracing::warn!(error = %e, "listen for commits"),
            },
            Err(e) => tracing::warn!(error = %e, "listen for commits"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    loop {
        match listener.try_recv().await {
            // The connection dropped (and is being made again): notices sent meanwhile are
            // lost, so every live query on this server runs again.
            Ok(None) => announce.hub.publish_everywhere(),
            Ok(Some(n)) => {
                let Some((deployment, ts, tables)) =
                    crate::docs::postgres::parse_notice(n.payload(), announce.server)
                else {
                    continue;
                };
                let writes = match tables {
                    Some(tables) => WriteSet {
                        tables: tables.into_iter().collect(),
                        tables_only: true,
                        ..Default::default()
                    },
                    None => WriteSet::everything(),
                };
                announce.hub.publish(
                    deployment,
                    Commit {
                        ts,
                        writes: std::sync::Arc::new(writes),
                    },
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "commit notices");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

/// An id for this server's announcements, so it can tell its own commit notices from others'.
fn rand_server_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.finish()
}

pub(crate) fn backend(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_string())
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

impl PgStore {
    /// Connects to `url` and brings the schema up to date.
    pub async fn open(url: &str) -> StoreResult<Self> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(StoreError::Backend(
                "the database URL must start with postgres:// or postgresql:// \
                 (e.g. postgres://user@host:5432/db); leave it out to use the embedded SQLite store"
                    .into(),
            ));
        }
        let options: PgConnectOptions = url
            .parse()
            .map_err(|e| StoreError::Backend(format!("invalid database URL: {e}")))?;
        let (host, port) = (options.get_host().to_string(), options.get_port());
        Self::open_with(options).await.map_err(|e| match e {
            StoreError::Backend(m) if m.contains("pool timed out") => StoreError::Backend(format!(
                "no PostgreSQL answered at {host}:{port} within 10 s; check the URL's host and \
                 port and that the server is running"
            )),
            e => e,
        })
    }

    /// Connects with explicit options (tests use a schema of their own).
    pub async fn open_with(options: PgConnectOptions) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(backend)?;
        let announce = crate::docs::postgres::Announce {
            hub: Default::default(),
            server: rand_server_id(),
        };
        let listener = tokio::spawn(listen_for_commits(pool.clone(), announce.clone()));
        let store = Self {
            known_ids: Default::default(),
            pool,
            announce,
            listener,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::raw_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        for m in migrate::POSTGRES {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
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
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, (extract(epoch from now()))::bigint)",
            )
            .bind(m.version)
            .bind(m.name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}

fn user(r: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: r.try_get("id").map_err(backend)?,
        username: r.try_get("username").map_err(backend)?,
        server_admin: r.try_get::<i64, _>("server_admin").map_err(backend)? != 0,
        create_time: r.try_get("create_time").map_err(backend)?,
    })
}

fn team(r: &PgRow) -> StoreResult<TeamRecord> {
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

fn project(r: &PgRow) -> StoreResult<ProjectRecord> {
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
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn commits(&self) -> std::sync::Arc<crate::docs::commits::CommitHub> {
        self.announce.hub.clone()
    }

    async fn announce_everything(&self, deployment: i64) -> StoreResult<()> {
        let mut c = self.pool.acquire().await.map_err(backend)?;
        let ts =
            crate::docs::postgres::next_commit(&mut c, deployment, &self.announce, "*").await?;
        self.announce.hub.publish(
            deployment,
            crate::docs::commits::Commit {
                ts,
                writes: std::sync::Arc::new(crate::docs::commits::WriteSet::everything()),
            },
        );
        Ok(())
    }

    fn keeps_logs(&self) -> bool {
        true
    }

    async fn append_logs(
        &self,
        deployment: &str,
        lines: &[crate::LogRecord],
        retention: usize,
    ) -> StoreResult<()> {
        if lines.is_empty() {
            return Ok(());
        }
        // Lines get their `seq` and commit under the deployment's log lock, so for each
        // deployment commits happen in `seq` order: a follower that has read up to `seq` N never
        // later finds a line below N committed behind its back.
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM deployments WHERE name = $1")
            .bind(deployment)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(id) = id else {
            return Ok(());
        };
        sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind(LOG_LOCK_CLASS)
            .bind(id as i32)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let mut q: sqlx::QueryBuilder<sqlx::Postgres> = sqlx::QueryBuilder::new(
            "INSERT INTO logs (deployment_id, time, level, function, request_id, text) SELECT ",
        );
        q.push_bind(id)
            .push(", l.time, l.level, l.function, l.request_id, l.text FROM (");
        q.push_values(lines, |mut b, l| {
            b.push_bind(l.time)
                .push_bind(&l.level)
                .push_bind(&l.function)
                .push_bind(&l.request_id)
                .push_bind(&l.text);
        });
        q.push(") AS l (time, level, function, request_id, text)");
        q.build().execute(&mut *tx).await.map_err(backend)?;
        sqlx::query(
            "DELETE FROM logs WHERE deployment_id = $1 AND seq <
               (SELECT seq FROM logs WHERE deployment_id = $1 ORDER BY seq DESC OFFSET $2 LIMIT 1)",
        )
        .bind(id)
        .bind(retention as i64)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn read_logs(
        &self,
        deployment: &str,
        cursor: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<crate::LogRecord>> {
        let rows = match cursor {
            Some(c) => sqlx::query(
                "SELECT seq, time, level, function, request_id, text FROM logs
                 WHERE deployment_id = (SELECT id FROM deployments WHERE name = $1) AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(deployment)
            .bind(c as i64)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await,
            None => sqlx::query(
                "SELECT * FROM (SELECT seq, time, level, function, request_id, text FROM logs
                 WHERE deployment_id = (SELECT id FROM deployments WHERE name = $1) ORDER BY seq DESC LIMIT $2) x ORDER BY seq",
            )
            .bind(deployment)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(crate::LogRecord {
                    seq: r.try_get::<i64, _>("seq").map_err(backend)? as u64,
                    time: r.try_get("time").map_err(backend)?,
                    level: r.try_get("level").map_err(backend)?,
                    function: r.try_get("function").map_err(backend)?,
                    request_id: r.try_get("request_id").map_err(backend)?,
                    text: r.try_get("text").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn try_reaper_lock(&self) -> StoreResult<Option<Box<dyn std::any::Any + Send>>> {
        // A session lock on a connection taken out of the pool: closing the connection (when
        // the guard drops, or when this server dies) releases it.
        let mut conn = self.pool.acquire().await.map_err(backend)?.detach();
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(MIGRATION_LOCK + 2)
            .fetch_one(&mut conn)
            .await
            .map_err(backend)?;
        Ok(got.then(|| Box::new(conn) as Box<dyn std::any::Any + Send>))
    }

    async fn bootstrap(&self, b: &Bootstrap) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK + 1)
            .execute(&mut *tx)
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
            "INSERT INTO teams (slug, name, plan, create_time) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(&b.team_slug)
        .bind(&b.team_slug)
        .bind(b.plan.as_str())
        .bind(b.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("INSERT INTO team_members (team_id, user_id, role, create_time) VALUES ($1, $2, 'admin', $3)")
            .bind(team_id)
            .bind(user_id)
            .bind(b.now)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "INSERT INTO projects (team_id, slug, name, create_time) VALUES ($1, $2, $3, $4)",
        )
        .bind(team_id)
        .bind(&b.project_slug)
        .bind(&b.project_slug)
        .bind(b.now)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("INSERT INTO server_meta (key, value) VALUES ('bootstrapped', $1)")
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(id) = id else { return Ok(false) };
        sqlx::query("DELETE FROM access_tokens WHERE user_id = $1 AND name = $2")
            .bind(id)
            .bind(token_name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO access_tokens (user_id, name, token_hash, create_time) VALUES ($1, $2, $3, $4)")
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
        sqlx::query("SELECT id, username, server_admin, create_time FROM users WHERE username = $1")
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
             FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
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
        sqlx::query("UPDATE access_tokens SET last_used = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn create_team(&self, new: &NewTeam, admin_user: i64) -> StoreResult<TeamRecord> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let row = sqlx::query(
            "INSERT INTO teams (slug, name, plan, create_time) VALUES ($1, $2, $3, $4)
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
        sqlx::query("INSERT INTO team_members (team_id, user_id, role, create_time) VALUES ($1, $2, 'admin', $3)")
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
            "SELECT {TEAM_COLS} FROM teams WHERE slug = $1"
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
        sqlx::query("UPDATE teams SET plan = $1, deployment_limit_override = $2, max_preview_age_ms = $3, evict_previews = $4, max_dev_per_member = $5 WHERE id = $6")
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
            "SELECT {TEAM_COLS} FROM teams WHERE id = $1"
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
                "SELECT {TEAM_COLS} FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = $1) ORDER BY id"
            )))
            .bind(u)
            .fetch_all(&self.pool)
            .await,
        }
        .map_err(backend)?;
        rows.iter().map(team).collect()
    }

    async fn add_member(&self, add: &AddMember) -> StoreResult<(MemberRecord, bool)> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Membership changes of one team take turns (the last-admin rule below).
        sqlx::query("SELECT id FROM teams WHERE id = $1 FOR UPDATE")
            .bind(add.team_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
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
            "INSERT INTO team_members (team_id, user_id, role, create_time) VALUES ($1, $2, COALESCE($3, 'member'), $4)
             ON CONFLICT (team_id, user_id) DO UPDATE SET role = COALESCE($5, team_members.role)",
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
            sqlx::query("INSERT INTO project_admins (project_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(p)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        // The team keeps an admin: checked in the same transaction as the change, so two
        // admins demoting or removing each other at once cannot both succeed.
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM team_members WHERE team_id = $1 AND role = 'admin'",
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
            sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
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
                    (SELECT string_agg(p.slug, ',') FROM project_admins pa JOIN projects p ON p.id = pa.project_id
                     WHERE pa.user_id = u.id AND p.team_id = m.team_id) AS admin_of
             FROM team_members m JOIN users u ON u.id = m.user_id
             WHERE m.team_id = $1 ORDER BY u.username",
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Membership changes of one team take turns (the last-admin rule below).
        sqlx::query("SELECT id FROM teams WHERE id = $1 FOR UPDATE")
            .bind(team_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query(
            "DELETE FROM project_admins WHERE user_id = $1 AND project_id IN (SELECT id FROM projects WHERE team_id = $2)",
        )
        .bind(user_id)
        .bind(team_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let n = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
        // The team keeps an admin: checked in the same transaction as the change, so two
        // admins demoting or removing each other at once cannot both succeed.
        let admins: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM team_members WHERE team_id = $1 AND role = 'admin'",
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
        let r: Option<i64> = sqlx::query_scalar(
            "SELECT 1::bigint FROM project_admins WHERE project_id = $1 AND user_id = $2",
        )
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
            "INSERT INTO projects (team_id, slug, name, create_time) VALUES ($1, $2, $3, $4)
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
        sqlx::query("SELECT id, team_id, slug, name, create_time FROM projects WHERE team_id = $1 AND slug = $2")
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
        sqlx::query("SELECT id, team_id, slug, name, create_time FROM projects WHERE id = $1")
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
            "SELECT id, team_id, slug, name, create_time FROM projects WHERE team_id = $1 ORDER BY slug",
        )
        .bind(team_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(project).collect()
    }

    async fn delete_project(&self, id: i64) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM projects WHERE id = $1")
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
            "UPDATE deployments SET last_deploy_time = $1, code_version = code_version + 1 WHERE id = $2 RETURNING code_version",
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
        // Every row of a deployment's data references its row (writes for a deployment that
        // does not exist fail on the foreign key); an id without a row is refused here too.
        let known = self
            .known_ids
            .lock()
            .is_ok_and(|ids| ids.contains(&deployment_id));
        if !known {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM deployments WHERE id = $1")
                .bind(deployment_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend)?;
            if found.is_none() {
                return Err(StoreError::NoDeployment(deployment_id));
            }
            if let Ok(mut ids) = self.known_ids.lock() {
                if ids.len() > 100_000 {
                    ids.clear();
                }
                ids.insert(deployment_id);
            }
        }
        Ok(std::sync::Arc::new(crate::docs::postgres::PgDocStore::new(
            self.pool.clone(),
            deployment_id,
            tokio::runtime::Handle::current(),
            self.announce.clone(),
        )))
    }

    async fn push_code(
        &self,
        deployment_id: i64,
        code: crate::docs::Code,
        time: i64,
    ) -> StoreResult<(i64, crate::docs::IndexChanges)> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let changes = crate::docs::postgres::replace_code_in(
            &mut tx,
            deployment_id,
            &code.modules,
            &code.meta,
            &code.schema,
        )
        .await?;
        let version: i64 = sqlx::query_scalar(
            "UPDATE deployments SET last_deploy_time = $1, code_version = code_version + 1 WHERE id = $2 RETURNING code_version",
        )
        .bind(time)
        .bind(deployment_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok((version, changes))
    }

    async fn copy_deployment_data(&self, from: i64, to: i64, with_env: bool) -> StoreResult<()> {
        // The target's write lock is taken before the copy's snapshot: writes that held it
        // first are in the snapshot, later ones wait for the copy (a snapshot taken before the
        // lock would fail on rows those writes changed).
        let mut conn = self.pool.acquire().await.map_err(backend)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(to)
            .execute(&mut *conn)
            .await
            .map_err(backend)?;
        let copied = copy_locked(&mut conn, from, to, with_env).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(to)
            .execute(&mut *conn)
            .await;
        if unlocked.is_err() {
            // Closing the connection releases its session lock.
            drop(conn.detach());
        }
        copied
    }

    async fn drop_deployment_data(&self, _d: &DeploymentRecord) -> StoreResult<()> {
        // The deployment's rows went with it: every table of its data cascades from `deployments`.
        Ok(())
    }

    async fn delete_deployment(&self, id: i64) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM deployments WHERE id = $1")
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
            "SELECT {} FROM deployments WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2",
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
            "SELECT count(*) FROM deployments WHERE team_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
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
            "SELECT deployment_type, name, value FROM default_env WHERE project_id = $1 ORDER BY deployment_type, name",
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for (ty, name, value) in changes {
            match value {
                Some(v) => sqlx::query(
                    "INSERT INTO default_env (project_id, deployment_type, name, value) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (project_id, deployment_type, name) DO UPDATE SET value = excluded.value",
                )
                .bind(project_id)
                .bind(ty.as_str())
                .bind(name)
                .bind(v)
                .execute(&mut *tx)
                .await
                .map_err(backend)?,
                None => sqlx::query("DELETE FROM default_env WHERE project_id = $1 AND deployment_type = $2 AND name = $3")
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
        sqlx::query("INSERT INTO audit_log (team_id, time, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6)")
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
             WHERE team_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
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
    c: &mut sqlx::PgConnection,
    username: &str,
    server_admin: bool,
    token_name: &str,
    token_hash: &str,
    now: i64,
) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, server_admin, create_time) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(username)
    .bind(i64::from(server_admin))
    .bind(now)
    .fetch_one(&mut *c)
    .await
    .map_err(backend)?;
    sqlx::query("INSERT INTO access_tokens (user_id, name, token_hash, create_time) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(token_name)
        .bind(token_hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map_err(backend)?;
    Ok(id)
}

/// The copy of `copy_deployment_data`, on a connection that holds the target's lock: one
/// repeatable-read transaction, so the source is read as one snapshot.
async fn copy_locked(
    conn: &mut sqlx::PgConnection,
    src: i64,
    dst: i64,
    with_env: bool,
) -> StoreResult<()> {
    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .map_err(backend)?;
    let mut statements = vec![
        "DELETE FROM index_entries WHERE deployment_id = $2",
        "DELETE FROM ahead_dirty WHERE deployment_id = $2",
        "DELETE FROM documents WHERE deployment_id = $2",
        "DELETE FROM deployment_tables WHERE deployment_id = $2",
        "INSERT INTO deployment_tables (deployment_id, number, name) SELECT $2, number, name FROM deployment_tables WHERE deployment_id = $1",
        "INSERT INTO documents (deployment_id, id, table_name, creation_time, value) SELECT $2, id, table_name, creation_time, value FROM documents WHERE deployment_id = $1",
    ];
    if with_env {
        statements.push("DELETE FROM env WHERE deployment_id = $2");
        statements.push(
                "INSERT INTO env (deployment_id, name, value) SELECT $2, name, value FROM env WHERE deployment_id = $1",
            );
    }
    for sql in statements {
        sqlx::query(sql)
            .bind(src)
            .bind(dst)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
    }
    // The target keeps its own indexes: entries copied where the source has the same index,
    // built from the copied documents where not.
    // (An index the source is still building ahead of a push has entries for only part of it.)
    let building = crate::docs::postgres::read_ahead(&mut tx, src).await?;
    let theirs = crate::docs::postgres::read_index_defs(&mut tx, src).await?;
    for def in crate::docs::postgres::read_index_defs(&mut tx, dst).await? {
        if theirs.contains(&def) && !building.incomplete(&def.name) {
            sqlx::query(
                    "INSERT INTO index_entries (deployment_id, index_name, key, doc_id)
                     SELECT $2, index_name, key, doc_id FROM index_entries WHERE deployment_id = $1 AND index_name = $3",
                )
                .bind(src)
                .bind(dst)
                .bind(&def.name)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        } else {
            crate::docs::postgres::build_index(&mut tx, dst, &def).await?;
        }
    }
    // Every index of the target is whole now, those it was building ahead of a push included.
    crate::docs::postgres::complete_ahead(&mut tx, dst).await?;
    tx.commit().await.map_err(backend)
}
