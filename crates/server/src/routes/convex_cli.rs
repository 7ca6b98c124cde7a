//! The control-plane routes Convex's own CLI calls when `CONVEX_PROVISION_HOST` points at berth
//! (`../shared/CONVEX-CLI.md` §3), in its shapes. Each one resolves through the control plane
//! like berth's own routes, so the CLI reaches exactly what the caller may.

use crate::{
    AppState,
    error::ApiResult,
    extract::{Auth, Body, Credentialed, Path, Query},
};
use axum::{Json, extract::State};
use berth_api::{
    Deployment, ErrorBody, FindDeploymentQuery,
    convex::{
        AuthorizePreview, AuthorizeProd, AuthorizeWithinProject, CliClaimPreview,
        CliClaimPreviewResponse, CliTeam, CreatePersonalAccessToken, DeployKeyBody, DeploymentAuth,
        DeploymentClass, Items, PersonalAccessToken, ProvisionAndAuthorize, Region, TeamAndProject,
    },
};
use serde_json::{Value, json};

/// 200 for a valid credential: the CLI's "am I logged in?".
#[utoipa::path(head, path = "/api/authorize", tag = "convex-cli", security(("bearer" = [])),
    responses((status = 200), (status = 401, body = ErrorBody)))]
pub async fn authorize(_caller: Auth) {}

/// Berth has no opt-ins to accept.
#[utoipa::path(post, path = "/api/check_opt_ins", tag = "convex-cli", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn check_opt_ins(_caller: Auth) -> Json<Value> {
    Json(json!({"optInsToAccept": []}))
}

#[utoipa::path(post, path = "/api/accept_opt_ins", tag = "convex-cli", security(("bearer" = [])),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody)))]
pub async fn accept_opt_ins(_caller: Auth) -> Json<Value> {
    Json(json!({}))
}

/// The caller's teams.
#[utoipa::path(get, path = "/api/teams", tag = "convex-cli", security(("bearer" = [])),
    responses((status = 200, body = Vec<CliTeam>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn teams(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<Vec<CliTeam>>> {
    Ok(Json(s.control.teams_for_cli(&p).await?))
}

/// Whether the caller has any project.
#[utoipa::path(get, path = "/api/has_projects", tag = "convex-cli", security(("bearer" = [])),
    responses((status = 200, body = bool), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn has_projects(State(s): State<AppState>, Auth(p): Auth) -> ApiResult<Json<bool>> {
    for t in s.control.list_teams(&p).await? {
        if !s.control.list_projects(&p, &t.slug).await?.items.is_empty() {
            return Ok(Json(true));
        }
    }
    Ok(Json(false))
}

/// The team and project of a deployment.
#[utoipa::path(get, path = "/api/deployment/{name}/team_and_project", tag = "convex-cli", security(("bearer" = [])),
    params(("name" = String, Path, description = "deployment name")),
    responses((status = 200, body = TeamAndProject), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn team_and_project(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(name): Path<String>,
) -> ApiResult<Json<TeamAndProject>> {
    Ok(Json(s.control.team_and_project(&p, &name).await?))
}

/// A key for a deployment of the selected project.
#[utoipa::path(post, path = "/api/deployment/authorize_within_current_project", tag = "convex-cli", security(("bearer" = [])),
    request_body = AuthorizeWithinProject,
    responses((status = 200, body = DeploymentAuth), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn authorize_within_current_project(
    State(s): State<AppState>,
    Credentialed(p, credential): Credentialed,
    Body(req): Body<AuthorizeWithinProject>,
) -> ApiResult<Json<DeploymentAuth>> {
    Ok(Json(
        s.control
            .authorize_within_project(&p, &credential, req)
            .await?,
    ))
}

/// A key for the production deployment of the given deployment's project (created when missing
/// and the caller may create it).
#[utoipa::path(post, path = "/api/deployment/authorize_prod", tag = "convex-cli", security(("bearer" = [])),
    request_body = AuthorizeProd,
    responses((status = 200, body = DeploymentAuth), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn authorize_prod(
    State(s): State<AppState>,
    Credentialed(p, credential): Credentialed,
    Body(req): Body<AuthorizeProd>,
) -> ApiResult<Json<DeploymentAuth>> {
    Ok(Json(s.control.authorize_prod(&p, &credential, req).await?))
}

/// A key for a preview deployment, by preview (branch) name.
#[utoipa::path(post, path = "/api/deployment/authorize_preview", tag = "convex-cli", security(("bearer" = [])),
    request_body = AuthorizePreview,
    responses((status = 200, body = DeploymentAuth), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn authorize_preview(
    State(s): State<AppState>,
    Credentialed(p, credential): Credentialed,
    Body(req): Body<AuthorizePreview>,
) -> ApiResult<Json<DeploymentAuth>> {
    Ok(Json(
        s.control.authorize_preview(&p, &credential, req).await?,
    ))
}

/// The caller's default dev deployment (or the project's prod), created when missing.
#[utoipa::path(post, path = "/api/deployment/provision_and_authorize", tag = "convex-cli", security(("bearer" = [])),
    request_body = ProvisionAndAuthorize,
    responses((status = 200, body = DeploymentAuth), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn provision_and_authorize(
    State(s): State<AppState>,
    Credentialed(p, credential): Credentialed,
    Body(req): Body<ProvisionAndAuthorize>,
) -> ApiResult<Json<DeploymentAuth>> {
    Ok(Json(
        s.control
            .provision_and_authorize(&p, &credential, req)
            .await?,
    ))
}

/// Whether the caller has a default dev deployment in the project.
#[utoipa::path(post, path = "/api/deployment/existing_dev", tag = "convex-cli", security(("bearer" = [])),
    request_body = Object,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn existing_dev(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(req): Body<Value>,
) -> ApiResult<Json<Value>> {
    let slug = |k: &str| {
        req.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let project = s
        .control
        .get_project(&p, &slug("teamSlug"), &slug("projectSlug"))
        .await?;
    let query = FindDeploymentQuery {
        default_dev: Some(true),
        ..Default::default()
    };
    let kind = match s.control.find_deployment(&p, project.id, query).await {
        Ok(_) => "Exists",
        Err(e) if e.code == "DeploymentNotFound" => "DoesNotExist",
        Err(e) => return Err(e.into()),
    };
    Ok(Json(json!({ "kind": kind })))
}

/// The URL of the deployment a deployment key opens: a bare JSON string.
#[utoipa::path(post, path = "/api/deployment/url_for_key", tag = "convex-cli",
    request_body = DeployKeyBody,
    responses((status = 200, body = String), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn url_for_key(
    State(s): State<AppState>,
    crate::extract::Source(source): crate::extract::Source,
    Body(req): Body<DeployKeyBody>,
) -> ApiResult<Json<String>> {
    Ok(Json(s.control.url_for_key(source, &req.deploy_key).await?))
}

/// The team and project a deploy key belongs to.
#[utoipa::path(post, path = "/api/deployment/team_and_project_for_key", tag = "convex-cli",
    request_body = DeployKeyBody,
    responses((status = 200, body = TeamAndProject), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn team_and_project_for_key(
    State(s): State<AppState>,
    crate::extract::Source(source): crate::extract::Source,
    Body(req): Body<DeployKeyBody>,
) -> ApiResult<Json<TeamAndProject>> {
    Ok(Json(
        s.control
            .team_and_project_for_key(source, &req.deploy_key)
            .await?,
    ))
}

/// A branch's preview deployment, reused or created afresh, with a key for it.
#[utoipa::path(post, path = "/api/claim_preview_deployment", tag = "convex-cli", security(("bearer" = [])),
    request_body = CliClaimPreview,
    responses((status = 200, body = CliClaimPreviewResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn claim_preview_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Body(req): Body<CliClaimPreview>,
) -> ApiResult<Json<CliClaimPreviewResponse>> {
    Ok(Json(s.control.claim_preview_for_cli(&p, req).await?))
}

/// Usage state: a self-hosted server has no usage limits to report.
#[utoipa::path(get, path = "/api/dashboard/teams/{team}/usage/team_usage_state", tag = "convex-cli", security(("bearer" = [])),
    params(("team" = String, Path, description = "team id or slug")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn team_usage_state(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<Value>> {
    s.control.team_access(&p, &team).await?;
    Ok(Json(json!({"usageState": "Default"})))
}

/// Spending limits: none on a self-hosted server.
#[utoipa::path(get, path = "/api/dashboard/teams/{team}/get_spending_limits", tag = "convex-cli", security(("bearer" = [])),
    params(("team" = String, Path, description = "team id or slug")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn spending_limits(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<Value>> {
    s.control.team_access(&p, &team).await?;
    Ok(Json(json!({"state": null})))
}

/// Berth has no identity provider of its own: the token a member logs in with is already a
/// berth access token, and it is what this answers (after checking it).
#[utoipa::path(post, path = "/v1/create_personal_access_token", tag = "convex-cli", security(("bearer" = [])),
    request_body = CreatePersonalAccessToken,
    responses((status = 200, body = PersonalAccessToken), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn create_personal_access_token(
    Credentialed(p, credential): Credentialed,
    _body: Body<CreatePersonalAccessToken>,
) -> ApiResult<Json<PersonalAccessToken>> {
    p.member("create a personal access token")?;
    Ok(Json(PersonalAccessToken {
        access_token: credential,
    }))
}

/// One deployment of a project given by team and slug: by reference, or the caller's default dev.
#[utoipa::path(get, path = "/v1/teams/{team}/projects/{project}/deployment", tag = "convex-cli", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id"), ("project" = String, Path, description = "project slug"), FindDeploymentQuery),
    responses((status = 200, body = Deployment), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn project_deployment(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path((team, project)): Path<(String, String)>,
    Query(q): Query<FindDeploymentQuery>,
) -> ApiResult<Json<Deployment>> {
    let project = s.control.get_project(&p, &team, &project).await?;
    Ok(Json(s.control.find_deployment(&p, project.id, q).await?))
}

/// The server's regions (`--regions`).
#[utoipa::path(get, path = "/v1/teams/{team}/list_deployment_regions", tag = "convex-cli", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    responses((status = 200, body = Items<Region>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deployment_regions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<Items<Region>>> {
    s.control.team_access(&p, &team).await?;
    Ok(Json(Items {
        items: s
            .control
            .config
            .regions
            .iter()
            .map(|r| Region {
                name: r.clone(),
                display_name: r.clone(),
                available: true,
            })
            .collect(),
    }))
}

/// Deployment classes: berth has one.
#[utoipa::path(get, path = "/v1/teams/{team}/list_deployment_classes", tag = "convex-cli", security(("bearer" = [])),
    params(("team" = String, Path, description = "team slug or id")),
    responses((status = 200, body = Items<DeploymentClass>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list_deployment_classes(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(team): Path<String>,
) -> ApiResult<Json<Items<DeploymentClass>>> {
    s.control.team_access(&p, &team).await?;
    Ok(Json(Items {
        items: vec![DeploymentClass {
            class: "s16".into(),
            available: true,
        }],
    }))
}
