//! `/v1/me`, `/v1/teams` and team members.

use crate::{
    AppState,
    error::ApiResult,
    extract::{Auth, Body, Path, Query},
};
use axum::{Json, extract::State};
use berth_api::{
    AddMemberRequest, AddMemberResponse, AuditLog, AuditLogQuery, CreateTeamRequest, Empty,
    ErrorBody, Me, Member, RemoveMemberRequest, Team, UpdateTeamRequest,
};

/// Who the credential belongs to, and their teams.
#[utoipa::path(get, path = "/v1/me", tag = "teams", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Me>> {
    Ok(Json(s.control.me(&p).await?))
}

/// The caller's teams (every team, for a server admin).
#[utoipa::path(get, path = "/v1/teams", tag = "teams", security(("bearer" = [])),
    responses((status = 200, body = Vec<Team>), (status = 401, body = ErrorBody)))]
pub async fn list_teams(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<Team>>> {
    Ok(Json(s.control.list_teams(&p).await?))
}

/// Creates a team; the caller becomes its admin.
#[utoipa::path(post, path = "/v1/teams", tag = "teams", security(("bearer" = [])),
    request_body = CreateTeamRequest,
    responses((status = 200, body = Team), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_team(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(req): Body<CreateTeamRequest>,
) -> ApiResult<Json<Team>> {
    Ok(Json(s.control.create_team(&p, req).await?))
}

/// Changes a team's plan or deployment limit (server admins).
#[utoipa::path(patch, path = "/v1/teams/{team}", tag = "teams", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    request_body = UpdateTeamRequest,
    responses((status = 200, body = Team), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_team(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
    Body(req): Body<UpdateTeamRequest>,
) -> ApiResult<Json<Team>> {
    Ok(Json(s.control.update_team(&p, &team, req).await?))
}

/// The team's members.
#[utoipa::path(get, path = "/v1/teams/{team}/members", tag = "teams", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    responses((status = 200, body = Vec<Member>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_members(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(s.control.list_members(&p, &team).await?))
}

/// Adds a member or changes their role; a new person's access token is returned once.
#[utoipa::path(post, path = "/v1/teams/{team}/add_member", tag = "teams", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    request_body = AddMemberRequest,
    responses((status = 200, body = AddMemberResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
    Body(req): Body<AddMemberRequest>,
) -> ApiResult<Json<AddMemberResponse>> {
    Ok(Json(s.control.add_member(&p, &team, req).await?))
}

/// Removes a member from the team.
#[utoipa::path(post, path = "/v1/teams/{team}/remove_member", tag = "teams", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    request_body = RemoveMemberRequest,
    responses((status = 200, body = Empty), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
    Body(req): Body<RemoveMemberRequest>,
) -> ApiResult<Json<Empty>> {
    s.control.remove_member(&p, &team, &req.username).await?;
    Ok(Json(Empty {}))
}

/// The team's audit log, newest first (team admins).
#[utoipa::path(get, path = "/v1/teams/{team}/audit_log", tag = "teams", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id"), AuditLogQuery),
    responses((status = 200, body = AuditLog), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn audit_log(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
    Query(q): Query<AuditLogQuery>,
) -> ApiResult<Json<AuditLog>> {
    Ok(Json(s.control.audit_log(&p, &team, q).await?))
}
