//! Deployment rows on SQLite.

use super::backend;
use crate::{DeploymentFilter, DeploymentRecord, NewDeployment, StoreError, StoreResult};
use berth_model::{DeploymentType, deployment::SettingOverrides};
use sqlx::{PgPool, Postgres, QueryBuilder, Row, postgres::PgRow};
use std::str::FromStr;

pub(super) const COLS: &str = "id, name, project_id, team_id, type, reference, region, creator, creator_user_id, \
is_default, expires_at, create_time, last_deploy_time, preview_identifier, editable_by, send_logs_to_client, \
send_error_details_to_client, dashboard_edit_confirmation, code_version";

fn opt_bool(r: &PgRow, col: &str) -> StoreResult<Option<bool>> {
    Ok(r.try_get::<Option<i64>, _>(col)
        .map_err(backend)?
        .map(|v| v != 0))
}

pub(super) fn row(r: &PgRow) -> StoreResult<DeploymentRecord> {
    let ty: String = r.try_get("type").map_err(backend)?;
    let editable_by: Option<String> = r.try_get("editable_by").map_err(backend)?;
    Ok(DeploymentRecord {
        id: r.try_get("id").map_err(backend)?,
        name: r.try_get("name").map_err(backend)?,
        project_id: r.try_get("project_id").map_err(backend)?,
        team_id: r.try_get("team_id").map_err(backend)?,
        deployment_type: DeploymentType::from_str(&ty)
            .map_err(|e| StoreError::Backend(e.message))?,
        reference: r.try_get("reference").map_err(backend)?,
        region: r.try_get("region").map_err(backend)?,
        creator: r.try_get("creator").map_err(backend)?,
        creator_user_id: r.try_get("creator_user_id").map_err(backend)?,
        is_default: r.try_get::<i64, _>("is_default").map_err(backend)? != 0,
        expires_at: r.try_get("expires_at").map_err(backend)?,
        create_time: r.try_get("create_time").map_err(backend)?,
        last_deploy_time: r.try_get("last_deploy_time").map_err(backend)?,
        preview_identifier: r.try_get("preview_identifier").map_err(backend)?,
        overrides: SettingOverrides {
            editable_by: editable_by
                .map(|s| {
                    s.parse()
                        .map_err(|e: berth_model::Error| StoreError::Backend(e.message))
                })
                .transpose()?,
            send_logs_to_client: opt_bool(r, "send_logs_to_client")?,
            send_error_details_to_client: opt_bool(r, "send_error_details_to_client")?,
            dashboard_edit_confirmation: opt_bool(r, "dashboard_edit_confirmation")?,
        },
        code_version: r.try_get("code_version").map_err(backend)?,
    })
}

pub(super) async fn create(pool: &PgPool, n: &NewDeployment) -> StoreResult<DeploymentRecord> {
    let mut tx = pool.begin().await.map_err(backend)?;
    // Creations in one team queue on the team's row, so the limit holds across servers.
    sqlx::query("SELECT id FROM teams WHERE id = $1 FOR UPDATE")
        .bind(n.team_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
    if let Some(limit) = n.limit {
        let used: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM deployments WHERE team_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(n.team_id)
        .bind(n.now)
        .fetch_one(&mut *tx)
        .await
        .map_err(backend)?;
        if used >= i64::from(limit) {
            return Err(StoreError::LimitReached { limit });
        }
    }
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT 1::bigint FROM deployments WHERE project_id = $1 AND reference_lower = $2",
    )
    .bind(n.project_id)
    .bind(n.reference.to_ascii_lowercase())
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    if taken.is_some() {
        return Err(StoreError::Conflict("reference".into()));
    }
    if n.is_default {
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT 1::bigint FROM deployments WHERE project_id = $1 AND is_default = 1 AND type = $2 AND (type = 'prod' OR creator_user_id IS NOT DISTINCT FROM $3)",
        )
        .bind(n.project_id)
        .bind(n.deployment_type.as_str())
        .bind(n.creator_user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        if existing.is_some() {
            return Err(StoreError::Conflict("default".into()));
        }
    }
    let fresh =
        sqlx::query("INSERT INTO deployment_names (name) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(&n.name)
            .execute(&mut *tx)
            .await
            .map_err(backend)?
            .rows_affected();
    if fresh == 0 {
        return Err(StoreError::Conflict("name".into()));
    }
    let o = &n.overrides;
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO deployments (name, project_id, team_id, type, reference, reference_lower, region, creator,
            creator_user_id, is_default, expires_at, create_time, preview_identifier, editable_by,
            send_logs_to_client, send_error_details_to_client, dashboard_edit_confirmation)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING {COLS}"
    )))
    .bind(&n.name)
    .bind(n.project_id)
    .bind(n.team_id)
    .bind(n.deployment_type.as_str())
    .bind(&n.reference)
    .bind(n.reference.to_ascii_lowercase())
    .bind(&n.region)
    .bind(&n.creator)
    .bind(n.creator_user_id)
    .bind(i64::from(n.is_default))
    .bind(n.expires_at)
    .bind(n.now)
    .bind(&n.preview_identifier)
    .bind(o.editable_by.map(|e| e.as_str()))
    .bind(o.send_logs_to_client.map(i64::from))
    .bind(o.send_error_details_to_client.map(i64::from))
    .bind(o.dashboard_edit_confirmation.map(i64::from))
    .fetch_one(&mut *tx)
    .await
    .map_err(backend)?;
    let d = row(&r)?;
    tx.commit().await.map_err(backend)?;
    Ok(d)
}

/// A bind parameter of [`one`].
pub(super) enum Bind {
    Int(i64),
    Text(String),
}

/// The first deployment matching `filter`, whose `?`s take `binds` in order.
pub(super) async fn one(
    pool: &PgPool,
    filter: &str,
    binds: Vec<Bind>,
) -> StoreResult<Option<DeploymentRecord>> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {COLS} FROM deployments WHERE "));
    let mut parts = filter.split('?');
    if let Some(first) = parts.next() {
        q.push(first);
    }
    for (part, b) in parts.zip(binds) {
        match b {
            Bind::Int(i) => q.push_bind(i),
            Bind::Text(t) => q.push_bind(t),
        };
        q.push(part);
    }
    q.push(" LIMIT 1");
    q.build()
        .fetch_optional(pool)
        .await
        .map_err(backend)?
        .as_ref()
        .map(row)
        .transpose()
}

pub(super) async fn list(
    pool: &PgPool,
    project_id: i64,
    f: &DeploymentFilter,
) -> StoreResult<Vec<DeploymentRecord>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {COLS} FROM deployments WHERE project_id = "
    ));
    q.push_bind(project_id);
    if let Some(t) = f.deployment_type {
        q.push(" AND type = ").push_bind(t.as_str());
    }
    if let Some(d) = f.is_default {
        q.push(" AND is_default = ").push_bind(i64::from(d));
    }
    if let Some(now) = f.live_at {
        q.push(" AND (expires_at IS NULL OR expires_at > ")
            .push_bind(now)
            .push(")");
    }
    if let Some(after) = f.after_id {
        q.push(" AND id > ").push_bind(after);
    }
    if let Some(prefix) = &f.reference_prefix {
        let escaped = prefix
            .to_ascii_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        q.push(" AND reference_lower LIKE ")
            .push_bind(format!("{escaped}%"))
            .push(" ESCAPE '\\'");
    }
    q.push(" ORDER BY id");
    if let Some(limit) = f.limit {
        q.push(" LIMIT ").push_bind(i64::from(limit));
    }
    let rows = q.build().fetch_all(pool).await.map_err(backend)?;
    rows.iter().map(row).collect()
}

pub(super) async fn update(pool: &PgPool, d: &DeploymentRecord) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(backend)?;
    let taken: Option<i64> = sqlx::query_scalar(
        "SELECT 1::bigint FROM deployments WHERE project_id = $1 AND reference_lower = $2 AND id != $3",
    )
    .bind(d.project_id)
    .bind(d.reference.to_ascii_lowercase())
    .bind(d.id)
    .fetch_optional(&mut *tx)
    .await
    .map_err(backend)?;
    if taken.is_some() {
        return Err(StoreError::Conflict("reference".into()));
    }
    let o = &d.overrides;
    sqlx::query(
        "UPDATE deployments SET reference = $1, reference_lower = $2, is_default = $3, expires_at = $4, editable_by = $5,
            send_logs_to_client = $6, send_error_details_to_client = $7, dashboard_edit_confirmation = $8
         WHERE id = $9",
    )
    .bind(&d.reference)
    .bind(d.reference.to_ascii_lowercase())
    .bind(i64::from(d.is_default))
    .bind(d.expires_at)
    .bind(o.editable_by.map(|e| e.as_str()))
    .bind(o.send_logs_to_client.map(i64::from))
    .bind(o.send_error_details_to_client.map(i64::from))
    .bind(o.dashboard_edit_confirmation.map(i64::from))
    .bind(d.id)
    .execute(&mut *tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict("default".into()),
        _ => backend(e),
    })?;
    tx.commit().await.map_err(backend)?;
    Ok(())
}
