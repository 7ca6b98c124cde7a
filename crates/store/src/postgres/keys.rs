//! Deploy keys on SQLite.

use super::backend;
use crate::{DeployKeyRecord, KeyKind, KeyOwner, NewDeployKey, StoreError, StoreResult};
use sqlx::{PgPool, Row, postgres::PgRow};

const COLS: &str = "id, kind, name, deployment_id, project_id, team_id, secret_hash, creator, create_time, expires_at, last_used";

fn row(r: &PgRow) -> StoreResult<DeployKeyRecord> {
    let kind: String = r.try_get("kind").map_err(backend)?;
    Ok(DeployKeyRecord {
        id: r.try_get("id").map_err(backend)?,
        kind: if kind == "preview" {
            KeyKind::Preview
        } else {
            KeyKind::Deployment
        },
        name: r.try_get("name").map_err(backend)?,
        deployment_id: r.try_get("deployment_id").map_err(backend)?,
        project_id: r.try_get("project_id").map_err(backend)?,
        team_id: r.try_get("team_id").map_err(backend)?,
        secret_hash: r.try_get("secret_hash").map_err(backend)?,
        creator: r.try_get("creator").map_err(backend)?,
        create_time: r.try_get("create_time").map_err(backend)?,
        expires_at: r.try_get("expires_at").map_err(backend)?,
        last_used: r.try_get("last_used").map_err(backend)?,
    })
}

fn owner_parts(owner: KeyOwner) -> (&'static str, Option<i64>, Option<i64>) {
    match owner {
        KeyOwner::Deployment(d) => ("deployment", Some(d), None),
        KeyOwner::PreviewsOf(p) => ("preview", None, Some(p)),
    }
}

pub(super) async fn create(pool: &PgPool, n: &NewDeployKey) -> StoreResult<DeployKeyRecord> {
    let (kind, deployment_id, _) = owner_parts(n.owner);
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO deploy_keys (kind, name, deployment_id, project_id, team_id, secret_hash, creator, create_time, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLS}"
    )))
    .bind(kind)
    .bind(&n.name)
    .bind(deployment_id)
    .bind(n.project_id)
    .bind(n.team_id)
    .bind(&n.secret_hash)
    .bind(&n.creator)
    .bind(n.now)
    .bind(n.expires_at)
    .fetch_one(pool)
    .await
    .map_err(|e| match backend(e) {
        StoreError::Conflict(_) => StoreError::Conflict("name".into()),
        other => other,
    })?;
    row(&r)
}

pub(super) async fn by_hash(pool: &PgPool, hash: &str) -> StoreResult<Option<DeployKeyRecord>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLS} FROM deploy_keys WHERE secret_hash = $1"
    )))
    .bind(hash)
    .fetch_optional(pool)
    .await
    .map_err(backend)?
    .as_ref()
    .map(row)
    .transpose()
}

pub(super) async fn list(pool: &PgPool, owner: KeyOwner) -> StoreResult<Vec<DeployKeyRecord>> {
    let rows = match owner {
        KeyOwner::Deployment(d) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM deploy_keys WHERE kind = 'deployment' AND deployment_id = $1 ORDER BY name"
            )))
            .bind(d)
            .fetch_all(pool)
            .await
        }
        KeyOwner::PreviewsOf(p) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLS} FROM deploy_keys WHERE kind = 'preview' AND project_id = $1 ORDER BY name"
            )))
            .bind(p)
            .fetch_all(pool)
            .await
        }
    }
    .map_err(backend)?;
    rows.iter().map(row).collect()
}

pub(super) async fn delete(pool: &PgPool, owner: KeyOwner, name: &str) -> StoreResult<bool> {
    let n = match owner {
        KeyOwner::Deployment(d) => sqlx::query(
            "DELETE FROM deploy_keys WHERE kind = 'deployment' AND deployment_id = $1 AND name = $2",
        )
        .bind(d)
        .bind(name)
        .execute(pool)
        .await,
        KeyOwner::PreviewsOf(p) => {
            sqlx::query(
                "DELETE FROM deploy_keys WHERE kind = 'preview' AND project_id = $1 AND name = $2",
            )
            .bind(p)
            .bind(name)
            .execute(pool)
            .await
        }
    }
    .map_err(backend)?
    .rows_affected();
    Ok(n > 0)
}

pub(super) async fn touch(pool: &PgPool, id: i64, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE deploy_keys SET last_used = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map_err(backend)?;
    Ok(())
}
