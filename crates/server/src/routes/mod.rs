//! The router. Each resource has its module; every handler carries its `#[utoipa::path]` so that
//! the OpenAPI document is generated from the same code that serves the routes and cannot drift.

mod data;
mod deployment_api;
mod deployments;
mod keys;
mod meta;
mod projects;
mod teams;

use crate::{AppState, error::ApiError, metrics};
use axum::{Json, Router, http::Method, middleware, routing::get};
use berth_model::Error;
use utoipa::{
    Modify, OpenApi,
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "Berth management API", description = "Teams, projects, members and deployments of a berth server. Authenticate with `Authorization: Bearer <access token>`."),
    modifiers(&BearerAuth),
    tags(
        (name = "meta", description = "Health, version and metrics"),
        (name = "teams", description = "Teams and their members"),
        (name = "projects", description = "Projects of a team"),
        (name = "deployments", description = "Deployments of a project"),
        (name = "keys", description = "Deploy keys and preview deploy keys"),
        (name = "deployment", description = "A deployment's own API, under its URL: calling functions, pushing code, reading data"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The largest request body: function arguments may be 16 MiB (PROTOCOL §3); a push of a whole
/// `convex/` folder gets the same room twice over.
const MAX_BODY: usize = 32 << 20;

/// Every documented route, in one list: the server and the OpenAPI document both come from it.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::version))
        .routes(routes!(teams::me))
        .routes(routes!(teams::list_teams, teams::create_team))
        .routes(routes!(teams::update_team))
        .routes(routes!(teams::list_members))
        .routes(routes!(teams::add_member))
        .routes(routes!(teams::remove_member))
        .routes(routes!(projects::create_project))
        .routes(routes!(projects::list_projects))
        .routes(routes!(projects::get_project))
        .routes(routes!(projects::get_project_by_id))
        .routes(routes!(projects::delete_project))
        .routes(routes!(projects::list_default_env))
        .routes(routes!(projects::update_default_env))
        .routes(routes!(teams::audit_log))
        .routes(routes!(deployments::list_deployments))
        .routes(routes!(deployments::find_deployment))
        .routes(routes!(deployments::create_deployment))
        .routes(routes!(
            deployments::get_deployment,
            deployments::update_deployment
        ))
        .routes(routes!(deployments::delete_deployment))
        .routes(routes!(deployments::claim_preview))
        .routes(routes!(keys::create_deploy_key))
        .routes(routes!(keys::list_deploy_keys))
        .routes(routes!(keys::delete_deploy_key))
        .routes(routes!(keys::create_preview_deploy_key))
        .routes(routes!(keys::list_preview_deploy_keys))
        .routes(routes!(keys::delete_preview_deploy_key))
        .routes(routes!(deployment_api::query))
        .routes(routes!(deployment_api::mutation))
        .routes(routes!(deployment_api::action))
        .routes(routes!(deployment_api::function))
        .routes(routes!(deployment_api::run))
        .routes(routes!(deployment_api::push))
        .routes(routes!(deployment_api::functions))
        .routes(routes!(data::tables))
        .routes(routes!(data::table_data, data::insert_document))
        .routes(routes!(data::replace_document))
        .routes(routes!(data::delete_document))
        .routes(routes!(deployments::deployment_permissions))
        .routes(routes!(projects::project_permissions))
        .routes(routes!(deployment_api::list_env))
        .routes(routes!(deployment_api::update_env))
        .routes(routes!(deployment_api::logs))
}

/// All routes with their OpenAPI document. `/v1/openapi.json` serves that document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, doc) = api_routes().split_for_parts();
    let served = doc.clone();
    let router = router
        .route("/metrics", get(meta::metrics))
        .route("/v1/openapi.json", get(move || async move { Json(served) }))
        .merge(crate::dashboard::routes())
        .route_layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(cors))
        .with_state(state);
    (router, doc)
}

/// The OpenAPI document alone (for the test that keeps `docs/openapi.json` in step).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError(Error::not_found(
        "NotFound",
        format!(
            "no route for {method} {}; the API is described at /v1/openapi.json",
            uri.path()
        ),
    ))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError(Error::new(
        berth_model::ErrorKind::MethodNotAllowed,
        "MethodNotAllowed",
        format!(
            "{method} is not allowed on {}; the API is described at /v1/openapi.json",
            uri.path()
        ),
    ))
}

/// Browsers may call a deployment's API from any origin (as Convex's clients do): preflights
/// are answered here, and every `/d/...` answer carries `Access-Control-Allow-Origin: *`.
async fn cors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{HeaderValue, StatusCode, header};
    let deployment_route = req.uri().path().starts_with("/d/");
    if deployment_route && req.method() == Method::OPTIONS {
        let mut resp = axum::response::Response::new(axum::body::Body::empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(
                "Content-Type, Authorization, Convex-Client, Convex-Request-Id",
            ),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        return resp;
    }
    let mut resp = next.run(req).await;
    if deployment_route {
        resp.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    resp
}
