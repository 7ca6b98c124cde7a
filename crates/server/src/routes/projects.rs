//! Projects of a team.

use crate::{
    AppState,
    error::ApiResult,
    extract::{Auth, Body, Path},
};
use axum::{Json, extract::State};
use berth_api::{CreateProjectRequest, ErrorBody, Project, ProjectList};

/// Creates a project in the team.
#[utoipa::path(post, path = "/v1/teams/{team}/create_project", tag = "projects", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    request_body = CreateProjectRequest,
    responses((status = 200, body = Project), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
    Body(req): Body<CreateProjectRequest>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.control.create_project(&p, &team, req).await?))
}

/// The team's projects.
#[utoipa::path(get, path = "/v1/teams/{team}/projects", tag = "projects", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    responses((status = 200, body = ProjectList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_projects(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<ProjectList>> {
    Ok(Json(s.control.list_projects(&p, &team).await?))
}

/// One project, by team and slug.
#[utoipa::path(get, path = "/v1/teams/{team}/projects/{project}", tag = "projects", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id"), ("project" = String, Path, description = "project slug")),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((team, project)): Path<(String, String)>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.control.get_project(&p, &team, &project).await?))
}

/// One project, by id.
#[utoipa::path(get, path = "/v1/projects/{id}", tag = "projects", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_project_by_id(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.control.get_project_by_id(&p, id).await?))
}

/// Deletes a project and everything in it (team or project admins).
#[utoipa::path(post, path = "/v1/projects/{id}/delete", tag = "projects", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    responses((status = 200, body = Project), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn delete_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Project>> {
    Ok(Json(s.control.delete_project(&p, id).await?))
}

/// The project's default environment variables per deployment type (prod ones for project
/// admins only).
#[utoipa::path(get, path = "/v1/projects/{id}/list_default_environment_variables", tag = "projects", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    responses((status = 200, body = berth_api::DefaultEnvVars), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn list_default_env(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<berth_api::DefaultEnvVars>> {
    Ok(Json(s.control.list_default_env(&p, id).await?))
}

/// Sets or removes project default variables; copied into each new deployment of that type.
#[utoipa::path(post, path = "/v1/projects/{id}/update_default_environment_variables", tag = "projects", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    request_body = berth_api::DefaultEnvChanges,
    responses((status = 200, body = berth_api::Empty), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_default_env(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Body(req): Body<berth_api::DefaultEnvChanges>,
) -> ApiResult<Json<berth_api::Empty>> {
    s.control.update_default_env(&p, id, req).await?;
    Ok(Json(berth_api::Empty {}))
}

/// What the caller may do in the project (the dashboard disables the rest and says why).
#[utoipa::path(get, path = "/v1/projects/{id}/permissions", tag = "projects", security(("bearer" = [])),
    params(("id" = i64, Path, description = "project id")),
    responses((status = 200, body = berth_api::ProjectPermissions), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn project_permissions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<berth_api::ProjectPermissions>> {
    Ok(Json(s.control.project_permissions(&p, id).await?))
}
