//! Deployments of a project, and one deployment by name.

use crate::{
    AppState,
    error::ApiResult,
    extract::{Auth, Body, Path, Query},
};
use axum::{Json, extract::State};
use berth_api::{
    CreateDeploymentRequest, Deployment, ErrorBody, FindDeploymentQuery, GetDeploymentQuery,
    ListDeploymentsQuery, UpdateDeploymentRequest,
};

/// The project's live deployments, in creation order; page with `cursor` and `limit`.
#[utoipa::path(get, path = "/v1/projects/{id}/list_deployments", tag = "deployments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id"), ListDeploymentsQuery),
    responses((status = 200, body = Vec<Deployment>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deployments(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<ListDeploymentsQuery>,
) -> ApiResult<Json<Vec<Deployment>>> {
    Ok(Json(s.control.list_deployments(&p, id, q).await?))
}

/// One deployment of the project: by reference, your default dev, or the default prod.
#[utoipa::path(get, path = "/v1/projects/{id}/deployment", tag = "deployments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id"), FindDeploymentQuery),
    responses((status = 200, body = Deployment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn find_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<FindDeploymentQuery>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(s.control.find_deployment(&p, id, q).await?))
}

/// Creates a deployment in the project.
#[utoipa::path(post, path = "/v1/projects/{id}/create_deployment", tag = "deployments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    request_body = CreateDeploymentRequest,
    responses((status = 200, body = Deployment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Body(req): Body<CreateDeploymentRequest>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(s.control.create_deployment(&p, id, req).await?))
}

/// One deployment by name.
#[utoipa::path(get, path = "/v1/deployments/{name}", tag = "deployments", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name"), GetDeploymentQuery),
    responses((status = 200, body = Deployment), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn get_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    Query(q): Query<GetDeploymentQuery>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(
        s.control
            .get_deployment(&p, &name, q.include_expired == Some(true))
            .await?,
    ))
}

/// Changes a deployment's reference, expiration or settings.
#[utoipa::path(patch, path = "/v1/deployments/{name}", tag = "deployments", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    request_body = UpdateDeploymentRequest,
    responses((status = 200, body = Deployment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn update_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    Body(req): Body<UpdateDeploymentRequest>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(s.control.update_deployment(&p, &name, req).await?))
}

/// Deletes a deployment and everything it owns.
#[utoipa::path(post, path = "/v1/deployments/{name}/delete", tag = "deployments", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = Deployment), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(s.control.delete_deployment(&p, &name).await?))
}

/// The preview deployment for a branch: reused with its data (`reuse: true`) or deleted and
/// created afresh (`reuse: false`). Answers a deployment key for it, valid for a day.
#[utoipa::path(post, path = "/v1/projects/{id}/claim_preview_deployment", tag = "deployments", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    request_body = berth_api::ClaimPreviewRequest,
    responses((status = 200, body = berth_api::ClaimPreviewResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn claim_preview(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Body(req): Body<berth_api::ClaimPreviewRequest>,
) -> ApiResult<Json<berth_api::ClaimPreviewResponse>> {
    Ok(Json(s.control.claim_preview(&p, id, req).await?))
}

/// What the caller may do to the deployment (the dashboard disables the rest and says why).
#[utoipa::path(get, path = "/v1/deployments/{name}/permissions", tag = "deployments", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = berth_api::DeploymentPermissions), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn deployment_permissions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<berth_api::DeploymentPermissions>> {
    Ok(Json(s.control.deployment_permissions(&p, &name).await?))
}

/// Replaces the deployment's documents with a copy of another deployment's; its code stays.
#[utoipa::path(post, path = "/v1/deployments/{name}/reset", tag = "deployments", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    request_body = berth_api::ResetDeploymentRequest,
    responses((status = 200, body = Deployment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn reset_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
    Body(req): Body<berth_api::ResetDeploymentRequest>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(s.control.reset_deployment(&p, &name, req).await?))
}
