//! The router. Each resource has its module; every handler carries its `#[utoipa::path]` so that
//! the OpenAPI document is generated from the same code that serves the routes and cannot drift.

mod convex_cli;
mod convex_push;
mod data;
mod deployment_api;
mod deployments;
mod keys;
mod meta;
mod projects;
pub(crate) mod sync;
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
        (name = "convex-cli", description = "The control-plane routes Convex's own CLI (npm `convex`) calls, in its shapes"),
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
        .routes(routes!(deployments::reset_deployment))
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
        .routes(routes!(data::data_changes))
        .routes(routes!(data::table_data, data::insert_document))
        .routes(routes!(data::replace_document))
        .routes(routes!(data::delete_document))
        .routes(routes!(deployments::deployment_permissions))
        .routes(routes!(convex_cli::authorize))
        .routes(routes!(convex_cli::check_opt_ins))
        .routes(routes!(convex_cli::accept_opt_ins))
        .routes(routes!(convex_cli::teams))
        .routes(routes!(convex_cli::has_projects))
        .routes(routes!(convex_cli::team_and_project))
        .routes(routes!(convex_cli::authorize_within_current_project))
        .routes(routes!(convex_cli::authorize_prod))
        .routes(routes!(convex_cli::authorize_preview))
        .routes(routes!(convex_cli::provision_and_authorize))
        .routes(routes!(convex_cli::existing_dev))
        .routes(routes!(convex_cli::url_for_key))
        .routes(routes!(convex_cli::team_and_project_for_key))
        .routes(routes!(convex_cli::claim_preview_deployment))
        .routes(routes!(convex_cli::team_usage_state))
        .routes(routes!(convex_cli::spending_limits))
        .routes(routes!(convex_cli::create_personal_access_token))
        .routes(routes!(convex_cli::project_deployment))
        .routes(routes!(convex_cli::list_deployment_regions))
        .routes(routes!(convex_cli::list_deployment_classes))
        .routes(routes!(convex_push::get_canonical_urls))
        .routes(routes!(convex_push::get_config_hashes))
        .routes(routes!(convex_push::evaluate_schema))
        .routes(routes!(convex_push::evaluate_push))
        .routes(routes!(convex_push::start_push))
        .routes(routes!(convex_push::wait_for_schema))
        .routes(routes!(convex_push::finish_push))
        .routes(routes!(convex_push::report_push_completed))
        .routes(routes!(convex_push::update_environment_variables))
        .routes(routes!(convex_push::stream_function_logs))
        .routes(routes!(projects::project_permissions))
        .routes(routes!(deployment_api::list_env))
        .routes(routes!(deployment_api::update_env))
        .routes(routes!(deployment_api::logs))
        .routes(routes!(deployment_api::index_build))
        .routes(routes!(deployment_api::watch))
}

/// All routes with their OpenAPI document. `/v1/openapi.json` serves that document.
pub fn router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, doc) = api_routes().split_for_parts();
    let served = doc.clone();
    let router = router
        .route("/metrics", get(meta::metrics))
        .route("/v1/openapi.json", get(move || async move { Json(served) }))
        .route("/d/{name}/api/{version}/sync", get(sync::sync))
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
    let router = Router::new().fallback_service(tower::ServiceExt::map_request(
        router,
        deployment_route_by_key,
    ));
    (router, doc)
}

/// The deployment routes a client may also call at the server's root, naming the deployment by
/// its key instead of its URL: Convex's CLI builds some deployment URLs with `new URL("/api/…",
/// url)`, which drops the `/d/<name>` path of berth's deployment URLs.
const ROOT_DEPLOYMENT_ROUTES: [&str; 15] = [
    "get_config_hashes",
    "deploy2",
    "update_environment_variables",
    "stream_function_logs",
    "function",
    "query",
    "mutation",
    "action",
    "run",
    "v1",
    "push",
    "data",
    "functions",
    "logs",
    "run_test_function",
];

/// Rewrites `/api/<deployment route>` to `/d/<name>/api/<deployment route>` when the request
/// carries `Authorization: Convex <type>:<name>|<secret>`.
fn deployment_route_by_key(mut req: axum::extract::Request) -> axum::extract::Request {
    let Some(rest) = req.uri().path().strip_prefix("/api/") else {
        return req;
    };
    let first = rest.split('/').next().unwrap_or_default();
    if !ROOT_DEPLOYMENT_ROUTES.contains(&first) {
        return req;
    }
    let name = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("convex"))
        .and_then(
            |(_, key)| match berth_model::deploy_key::parse(key.trim()) {
                berth_model::deploy_key::KeyShape::Key(
                    berth_model::deploy_key::ParsedKey::Deployment { name, .. },
                ) => Some(name),
                _ => None,
            },
        );
    let Some(name) = name else {
        return req;
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("/d/{name}/api/{rest}?{q}"),
        None => format!("/d/{name}/api/{rest}"),
    };
    if let Ok(uri) = path_and_query.parse() {
        *req.uri_mut() = uri;
    }
    req
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
