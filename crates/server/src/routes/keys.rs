//! Deploy keys of a deployment, and preview deploy keys of a project.

use crate::{
    AppState,
    error::ApiResult,
    extract::{Auth, Body, Path},
};
use axum::{Json, extract::State};
use berth_api::{
    CreateDeployKeyRequest, CreateDeployKeyResponse, CreatePreviewDeployKeyResponse,
    DeleteDeployKeyRequest, DeployKey, Empty, ErrorBody,
};

/// Creates a key that opens this deployment alone; the key is in the answer, once.
#[utoipa::path(post, path = "/v1/deployments/{name}/create_deploy_key", tag = "keys", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    request_body = CreateDeployKeyRequest,
    responses((status = 200, body = CreateDeployKeyResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_deploy_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    Body(req): Body<CreateDeployKeyRequest>,
) -> ApiResult<Json<CreateDeployKeyResponse>> {
    Ok(Json(s.control.create_deploy_key(&p, &name, req).await?))
}

/// The deployment's keys (never their secrets).
#[utoipa::path(get, path = "/v1/deployments/{name}/list_deploy_keys", tag = "keys", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Vec<DeployKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deploy_keys(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<DeployKey>>> {
    Ok(Json(s.control.list_deploy_keys(&p, &name).await?))
}

/// Revokes a key of the deployment; it stops working on the next request.
#[utoipa::path(post, path = "/v1/deployments/{name}/delete_deploy_key", tag = "keys", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    request_body = DeleteDeployKeyRequest,
    responses((status = 200, body = Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_deploy_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    Body(req): Body<DeleteDeployKeyRequest>,
) -> ApiResult<Json<Empty>> {
    s.control.delete_deploy_key(&p, &name, req).await?;
    Ok(Json(Empty {}))
}

/// Creates a preview deploy key for the project (project or team admins); shown once.
#[utoipa::path(post, path = "/v1/projects/{id}/create_preview_deploy_key", tag = "keys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    request_body = CreateDeployKeyRequest,
    responses((status = 200, body = CreatePreviewDeployKeyResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_preview_deploy_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Body(req): Body<CreateDeployKeyRequest>,
) -> ApiResult<Json<CreatePreviewDeployKeyResponse>> {
    Ok(Json(
        s.control.create_preview_deploy_key(&p, id, req).await?,
    ))
}

/// The project's preview deploy keys (never their secrets).
#[utoipa::path(get, path = "/v1/projects/{id}/list_preview_deploy_keys", tag = "keys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    responses((status = 200, body = Vec<DeployKey>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_preview_deploy_keys(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<DeployKey>>> {
    Ok(Json(s.control.list_preview_deploy_keys(&p, id).await?))
}

/// Revokes a preview deploy key of the project.
#[utoipa::path(post, path = "/v1/projects/{id}/delete_preview_deploy_key", tag = "keys", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    request_body = DeleteDeployKeyRequest,
    responses((status = 200, body = Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_preview_deploy_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Body(req): Body<DeleteDeployKeyRequest>,
) -> ApiResult<Json<Empty>> {
    s.control.delete_preview_deploy_key(&p, id, req).await?;
    Ok(Json(Empty {}))
}
