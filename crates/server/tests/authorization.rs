//! The authorization matrix: every credential kind against every route in the OpenAPI document
//! (which is generated from the same list as the router, so a new route cannot be forgotten: it
//! fails here until its row is written). Each cell's expected status is in the table below;
//! a cell that answers anything else fails, and an unexpected allow fails loudest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use berth_api::{CreateDeployKeyRequest, CreateDeploymentRequest, DeleteDeployKeyRequest};
use berth_control::{Control, ControlConfig, Principal};
use berth_model::{Plan, Role, time::ManualClock};
use berth_server::{AppState, metrics::Metrics, routes};
use std::{collections::BTreeMap, sync::Arc};
use tower::ServiceExt;

/// The credentials, in the order of the table's columns.
const CREDS: [&str; 12] = [
    "admin",
    "member",
    "stranger",
    "key",
    "key-other",
    "key-prod",
    "preview",
    "preview-other",
    "expired",
    "revoked",
    "garbage",
    "none",
];

/// O = 2xx, B = 400, U = 401, F = 403, N = 404. One row per route; columns follow `CREDS`.
const MATRIX: &[(&str, &str)] = &[
    ("GET /healthz", "O O O O O O O O O O O O"),
    ("GET /version", "O O O O O O O O O O O O"),
    ("GET /v1/me", "O O O O O O O O U U U U"),
    ("GET /v1/teams", "O O O F F F F F U U U U"),
    ("POST /v1/teams", "O O O F F F F F U U U U"),
    ("PATCH /v1/teams/{team}", "O F N F F F F F U U U U"),
    ("GET /v1/teams/{team}/members", "O O N F F F F F U U U U"),
    (
        "POST /v1/teams/{team}/add_member",
        "O F N F F F F F U U U U",
    ),
    (
        "POST /v1/teams/{team}/remove_member",
        "O F N F F F F F U U U U",
    ),
    ("GET /v1/teams/{team}/audit_log", "O F N F F F F F U U U U"),
    (
        "POST /v1/teams/{team}/create_project",
        "O O N F F F F F U U U U",
    ),
    ("GET /v1/teams/{team}/projects", "O O N F F F F F U U U U"),
    (
        "GET /v1/teams/{team}/projects/{project}",
        "O O N F F F O F U U U U",
    ),
    ("GET /v1/projects/{id}", "O O N F F F O F U U U U"),
    ("POST /v1/projects/{id}/delete", "O F N F F F F F U U U U"),
    (
        "GET /v1/projects/{id}/list_deployments",
        "O O N F F F O F U U U U",
    ),
    (
        "GET /v1/projects/{id}/deployment",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/projects/{id}/create_deployment",
        "O O N F F F F F U U U U",
    ),
    ("GET /v1/deployments/{name}", "O O N O F F F F U U U U"),
    ("PATCH /v1/deployments/{name}", "O O N O F F F F U U U U"),
    (
        "POST /v1/deployments/{name}/delete",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/deployments/{name}/reset",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/deployments/{name}/create_deploy_key",
        "O O N F F F F F U U U U",
    ),
    (
        "GET /v1/deployments/{name}/list_deploy_keys",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/deployments/{name}/delete_deploy_key",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/projects/{id}/create_preview_deploy_key",
        "O F N F F F F F U U U U",
    ),
    (
        "GET /v1/projects/{id}/list_preview_deploy_keys",
        "O F N F F F F F U U U U",
    ),
    (
        "POST /v1/projects/{id}/delete_preview_deploy_key",
        "O F N F F F F F U U U U",
    ),
    (
        "POST /v1/projects/{id}/claim_preview_deployment",
        "O O N F F F O F U U U U",
    ),
    (
        "GET /v1/projects/{id}/list_default_environment_variables",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/projects/{id}/update_default_environment_variables",
        "O F N F F F F F U U U U",
    ),
    (
        "GET /d/{name}/api/v1/list_environment_variables",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/v1/update_environment_variables",
        "O O N O F F F F U U U U",
    ),
    ("GET /d/{name}/api/logs", "O O N O F F F F U U U U"),
    ("GET /d/{name}/api/index_build", "O O N O F F F F U U U U"),
    // The deployment API: public calls need no credential, but one that is sent must be valid
    // and able to see the deployment; the rest needs a credential that may edit it.
    ("POST /d/{name}/api/query", "O O N O F F F F U U O O"),
    ("POST /d/{name}/api/watch", "O O N O F F F F U U O O"),
    ("POST /d/{name}/api/mutation", "O O N O F F F F U U O O"),
    ("POST /d/{name}/api/action", "O O N O F F F F U U O O"),
    ("POST /d/{name}/api/run/{*path}", "O O N O F F F F U U O O"),
    ("POST /d/{name}/api/function", "O O N O F F F F U U U U"),
    ("POST /d/{name}/api/push", "O O N O F F F F U U U U"),
    ("GET /d/{name}/api/functions", "O O N O F F F F U U U U"),
    ("GET /d/{name}/api/data", "O O N O F F F F U U U U"),
    ("GET /d/{name}/api/data_changes", "O O N O F F F F U U U U"),
    ("GET /d/{name}/api/data/{table}", "O O N O F F F F U U U U"),
    ("POST /d/{name}/api/data/{table}", "O O N O F F F F U U U U"),
    (
        "PATCH /d/{name}/api/data/{table}/{document}",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/data/{table}/{document}/delete",
        "O O N O F F F F U U U U",
    ),
    // What the caller may do: answered to whoever can see the deployment or project.
    (
        "GET /v1/deployments/{name}/permissions",
        "O O N O F F F F U U U U",
    ),
    (
        "GET /v1/projects/{id}/permissions",
        "O O N F F F O F U U U U",
    ),
    // The routes of Convex's own CLI: the same reach as berth's own routes. B = 400.
    ("HEAD /api/authorize", "O O O O O O O O U U U U"),
    ("POST /api/check_opt_ins", "O O O O O O O O U U U U"),
    ("POST /api/accept_opt_ins", "O O O O O O O O U U U U"),
    ("GET /api/teams", "O O O F F F F F U U U U"),
    ("GET /api/has_projects", "O O O F F F F F U U U U"),
    (
        "GET /api/deployment/{name}/team_and_project",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /api/deployment/authorize_within_current_project",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /api/deployment/authorize_prod",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /api/deployment/authorize_preview",
        "O O N F F F O F U U U U",
    ),
    (
        "POST /api/deployment/provision_and_authorize",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /api/deployment/existing_dev",
        "O O N F F F F F U U U U",
    ),
    // These two authenticate the key in the body (the caller's own credential here).
    (
        "POST /api/deployment/url_for_key",
        "B B B O O O B B U U U U",
    ),
    (
        "POST /api/deployment/team_and_project_for_key",
        "B B B O O O O O U U U U",
    ),
    (
        "POST /api/claim_preview_deployment",
        "O O N F F F O F U U U U",
    ),
    (
        "GET /api/dashboard/teams/{team}/usage/team_usage_state",
        "O O N F F F F F U U U U",
    ),
    (
        "GET /api/dashboard/teams/{team}/get_spending_limits",
        "O O N F F F F F U U U U",
    ),
    (
        "POST /v1/create_personal_access_token",
        "O O O F F F F F U U U U",
    ),
    (
        "GET /v1/teams/{team}/projects/{project}/deployment",
        "O O N F F F F F U U U U",
    ),
    (
        "GET /v1/teams/{team}/list_deployment_regions",
        "O O N F F F F F U U U U",
    ),
    (
        "GET /v1/teams/{team}/list_deployment_classes",
        "O O N F F F F F U U U U",
    ),
    (
        "GET /d/{name}/api/v1/get_canonical_urls",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/get_config_hashes",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/deploy2/evaluate_schema",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/deploy2/evaluate_push",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/deploy2/start_push",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/deploy2/wait_for_schema",
        "O O N O F F F F U U U U",
    ),
    (
        "POST /d/{name}/api/deploy2/finish_push",
        "O O N O F F F F U U U U",
    ),
    // Telemetry the CLI fires and forgets: accepted from anyone, does nothing.
    (
        "POST /d/{name}/api/deploy2/report_push_completed",
        "O O O O O O O O O O O O",
    ),
    (
        "POST /d/{name}/api/update_environment_variables",
        "O O N O F F F F U U U U",
    ),
    (
        "GET /d/{name}/api/stream_function_logs",
        "O O N O F F F F U U U U",
    ),
];

/// The request body each route is called with (a valid one, so that only authorization decides).
fn body_for(route: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match route {
        "POST /v1/teams" => json!({"slug": "newteam"}),
        "POST /v1/teams/{team}/add_member" => json!({"username": "dave", "role": "member"}),
        "POST /v1/teams/{team}/remove_member" => json!({"username": "bob"}),
        "POST /v1/teams/{team}/create_project" => json!({"projectName": "newproj"}),
        "POST /v1/projects/{id}/create_deployment" => {
            json!({"type": "dev", "reference": "dev/new"})
        }
        "PATCH /v1/deployments/{name}" => json!({"sendLogsToClient": false}),
        "PATCH /v1/teams/{team}" => json!({"plan": "free"}),
        "POST /d/{name}/api/push" => json!({"modules": []}),
        "POST /v1/projects/{id}/claim_preview_deployment" => {
            json!({"identifier": "feature/x", "reuse": true})
        }
        "POST /d/{name}/api/v1/update_environment_variables" => {
            json!({"changes": [{"name": "A", "value": "1"}]})
        }
        "POST /v1/projects/{id}/update_default_environment_variables" => {
            json!({"changes": [{"name": "A", "deploymentType": "dev", "value": "1"}]})
        }
        "POST /d/{name}/api/run/{*path}" => json!({"args": {}}),
        "POST /d/{name}/api/deploy2/start_push" => json!({"appDefinition": {"changedModules": []}}),
        "POST /d/{name}/api/deploy2/finish_push" => {
            json!({"startPush": {"berthPush": {"modules": []}}, "dryRun": false})
        }
        "POST /d/{name}/api/update_environment_variables" => {
            json!({"changes": [{"name": "A", "value": "1"}]})
        }
        "POST /api/deployment/authorize_within_current_project" => json!({
            "selectedDeploymentName": "{name}",
            "projectSelection": {"kind": "deploymentName", "deploymentName": "{name}"},
        }),
        "POST /api/deployment/authorize_prod" => json!({"deploymentName": "{name}"}),
        "POST /api/deployment/authorize_preview" => json!({
            "previewName": "branch",
            "projectSelection": {"kind": "teamAndProjectSlugs", "teamSlug": "default", "projectSlug": "default"},
        }),
        "POST /api/deployment/provision_and_authorize" => {
            json!({"teamSlug": "default", "projectSlug": "default", "deploymentType": "dev"})
        }
        "POST /api/deployment/existing_dev" => {
            json!({"teamSlug": "default", "projectSlug": "default"})
        }
        "POST /api/deployment/url_for_key" | "POST /api/deployment/team_and_project_for_key" => {
            json!({"deployKey": "{credential}"})
        }
        "POST /api/claim_preview_deployment" => json!({
            "projectSelection": {"kind": "teamAndProjectSlugs", "teamSlug": "default", "projectSlug": "default"},
            "identifier": "new-branch",
        }),
        "POST /v1/create_personal_access_token" => json!({"name": "laptop"}),
        "POST /d/{name}/api/data/{table}" => json!({"value": {"n": 1}}),
        "PATCH /d/{name}/api/data/{table}/{document}" => json!({"value": {"n": 2}}),
        "POST /d/{name}/api/data/{table}/{document}/delete" => return None,
        r if r.starts_with("POST /d/") => json!({"path": "nothing:here", "args": {}}),
        "POST /v1/deployments/{name}/create_deploy_key" => json!({"name": "newkey"}),
        "POST /v1/deployments/{name}/reset" => json!({"from": "{other}"}),
        "POST /v1/deployments/{name}/delete_deploy_key" => json!({"name": "k-this"}),
        "POST /v1/projects/{id}/create_preview_deploy_key" => json!({"name": "pk-new"}),
        "POST /v1/projects/{id}/delete_preview_deploy_key" => json!({"name": "pk"}),
        r if r.starts_with("POST ") => json!({}),
        _ => return None,
    })
}

struct World {
    app: Router,
    control: Arc<Control>,
    creds: BTreeMap<&'static str, Option<String>>,
    project_id: i64,
    target: String,
    preview: String,
    /// A document of table `things` in the target deployment.
    document: String,
    /// Another dev deployment of the project.
    other: String,
    _dir: tempfile::TempDir,
}

const HOUR: i64 = 3_600_000;

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = berth_store::open(dir.path(), None).await.unwrap();
    let clock = ManualClock::new(1_800_000_000_000);
    let control = Arc::new(Control::new(
        store.clone(),
        Arc::new(clock.clone()),
        ControlConfig {
            default_plan: Plan::Business,
            regions: vec!["us".into()],
            public_url: "http://berth.test".into(),
            min_expiration_ms: 60_000,
            max_expiration_ms: 365 * 24 * HOUR,
            log_retention: 1000,
        },
    ));
    let boot = control.bootstrap(dir.path()).await.unwrap();
    let admin_token = boot.admin_token.expose().to_string();
    let admin = control.authenticate(&admin_token).await.unwrap();
    let c = &control;
    let add = |name: &str, team: &str| {
        let req = berth_api::AddMemberRequest {
            username: name.into(),
            role: Some(Role::Member),
            project_admin_of: vec![],
        };
        let (admin, team) = (admin.clone(), team.to_string());
        async move {
            c.add_member(&admin, &team, req)
                .await
                .unwrap()
                .access_token
                .unwrap()
        }
    };
    let bob = add("bob", "default").await;
    c.create_team(
        &admin,
        berth_api::CreateTeamRequest {
            slug: "other".into(),
            name: None,
            plan: None,
        },
    )
    .await
    .unwrap();
    let carol = add("carol", "other").await;
    c.create_project(
        &admin,
        "default",
        berth_api::CreateProjectRequest {
            project_name: "web".into(),
            slug: None,
        },
    )
    .await
    .unwrap();
    let dep = |ty: &str, reference: &str| CreateDeploymentRequest {
        deployment_type: ty.into(),
        reference: Some(reference.into()),
        ..Default::default()
    };
    let target = c
        .create_deployment(&admin, 1, dep("dev", "dev/target"))
        .await
        .unwrap()
        .name;
    let other = c
        .create_deployment(&admin, 1, dep("dev", "dev/other"))
        .await
        .unwrap()
        .name;
    let prod = c
        .create_deployment(&admin, 1, dep("prod", "production"))
        .await
        .unwrap()
        .name;
    let preview = c
        .create_deployment(&admin, 1, dep("preview", "preview/branch"))
        .await
        .unwrap()
        .name;
    let key = |d: &str, name: &str, expiration: Option<&str>| {
        let req = CreateDeployKeyRequest {
            name: name.into(),
            expires_at: None,
            expiration: expiration.map(str::to_string),
        };
        let (admin, d) = (admin.clone(), d.to_string());
        async move {
            c.create_deploy_key(&admin, &d, req)
                .await
                .unwrap()
                .deploy_key
        }
    };
    let k_this = key(&target, "k-this", None).await;
    let k_other = key(&other, "k-other", None).await;
    let k_prod = key(&prod, "k-prod", None).await;
    let k_expired = key(&target, "k-expired", Some("in 1 hour")).await;
    let k_revoked = key(&target, "k-revoked", None).await;
    c.delete_deploy_key(
        &admin,
        &target,
        DeleteDeployKeyRequest {
            name: Some("k-revoked".into()),
            id: None,
        },
    )
    .await
    .unwrap();
    let preview_req = |name: &str| CreateDeployKeyRequest {
        name: name.into(),
        ..Default::default()
    };
    let pk = c
        .create_preview_deploy_key(&admin, 1, preview_req("pk"))
        .await
        .unwrap()
        .preview_deploy_key;
    let web_id = c.get_project(&admin, "default", "web").await.unwrap().id;
    let pk_other = c
        .create_preview_deploy_key(&admin, web_id, preview_req("pk-web"))
        .await
        .unwrap()
        .preview_deploy_key;
    clock.advance(2 * HOUR);
    let target_id = store.deployment_by_name(&target).await.unwrap().unwrap().id;
    let docs = store.deployment_docs(target_id).await.unwrap();
    let document =
        berth_runtime::edit::insert(docs.as_ref(), "things", &serde_json::json!({"n": 0}), 1.0)
            .unwrap();

    let creds = BTreeMap::from([
        ("admin", Some(admin_token)),
        ("member", Some(bob)),
        ("stranger", Some(carol)),
        ("key", Some(k_this)),
        ("key-other", Some(k_other)),
        ("key-prod", Some(k_prod)),
        ("preview", Some(pk)),
        ("preview-other", Some(pk_other)),
        ("expired", Some(k_expired)),
        ("revoked", Some(k_revoked)),
        ("garbage", Some("garbage".into())),
        ("none", None),
    ]);
    let runtime = berth_runtime::Pool::new(
        1,
        berth_runtime::Limits::default(),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let state = AppState {
        control: control.clone(),
        metrics: Arc::new(Metrics::default()),
        runtime: Arc::new(runtime),
        live: Default::default(),
        fanouts: Default::default(),
    };
    let (app, _) = routes::router(state);
    World {
        app,
        control,
        creds,
        project_id: 1,
        target,
        preview,
        document,
        other,
        _dir: dir,
    }
}

async fn call(
    w: &World,
    method: &str,
    path: &str,
    cred: &str,
    body: Option<serde_json::Value>,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(Some(t)) = w.creds.get(cred) {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => {
            let credential = w.creds.get(cred).cloned().flatten().unwrap_or_default();
            let text = b
                .to_string()
                .replace("{name}", &w.target)
                .replace("{other}", &w.other)
                .replace("{credential}", &credential);
            req.header("content-type", "application/json")
                .body(Body::from(text))
                .unwrap()
        }
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = w.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn concrete(w: &World, route_path: &str) -> String {
    let path = route_path
        .replace("{team}", "default")
        .replace("{project}", "default")
        .replace("{id}", &w.project_id.to_string())
        .replace("{name}", &w.target)
        .replace("{*path}", "nothing/here")
        .replace("{table}", "things")
        .replace("{document}", &w.document);
    if path.ends_with("/deployment") {
        format!("{path}?reference=dev/target")
    } else {
        path
    }
}

fn class(status: StatusCode) -> char {
    match status.as_u16() {
        200..=299 => 'O',
        400 => 'B',
        401 => 'U',
        403 => 'F',
        404 => 'N',
        _ => '?',
    }
}

#[tokio::test]
async fn every_credential_against_every_route() {
    let doc = routes::openapi();
    let mut routes_in_doc = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("HEAD", &item.head),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
            ("PUT", &item.put),
        ] {
            if op.is_some() {
                routes_in_doc.push(format!("{method} {path}"));
            }
        }
    }
    let table: BTreeMap<&str, &str> = MATRIX.iter().copied().collect();
    for r in &routes_in_doc {
        assert!(
            table.contains_key(r.as_str()),
            "route {r} has no row in the authorization matrix: add one"
        );
    }
    for r in table.keys() {
        assert!(
            routes_in_doc.iter().any(|d| d == r),
            "matrix row {r} names no route"
        );
    }

    let mut failures = Vec::new();
    let mut cells = 0;
    for route in &routes_in_doc {
        let (method, path) = route.split_once(' ').unwrap();
        let expected: Vec<char> = table[route.as_str()]
            .split(' ')
            .map(|c| c.chars().next().unwrap())
            .collect();
        let mutating = method != "GET" && method != "HEAD";
        let mut shared = if mutating { None } else { Some(world().await) };
        for (i, cred) in CREDS.iter().enumerate() {
            let fresh;
            let w = match &shared {
                Some(w) => w,
                None => {
                    fresh = world().await;
                    &fresh
                }
            };
            let (status, body) = call(w, method, &concrete(w, path), cred, body_for(route)).await;
            cells += 1;
            let got = class(status);
            if got != expected[i] {
                let kind = if got == 'O' {
                    "UNEXPECTED ALLOW"
                } else {
                    "unexpected answer"
                };
                failures.push(format!(
                    "{kind}: {route} as {cred}: expected {}, got {status} {body}",
                    expected[i]
                ));
            }
            if matches!(got, 'B' | 'U' | 'F' | 'N') && method != "HEAD" {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                assert!(
                    v["code"].is_string() && v["message"].is_string(),
                    "{route} as {cred}: error body {body}"
                );
            }
        }
        shared.take();
    }
    assert!(
        failures.is_empty(),
        "{} of {cells} cells wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn keys_reach_what_they_open_and_say_why_not_elsewhere() {
    let w = world().await;
    // A preview key works on the project's previews: read, list (previews only), create, delete.
    let (s, _) = call(
        &w,
        "GET",
        &format!("/v1/deployments/{}", w.preview),
        "preview",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = call(
        &w,
        "GET",
        "/v1/projects/1/list_deployments",
        "preview",
        None,
    )
    .await;
    assert_eq!(s, 200);
    let listed: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert!(
        !listed.is_empty() && listed.iter().all(|d| d["deploymentType"] == "preview"),
        "{body}"
    );
    let (s, body) = call(
        &w,
        "POST",
        "/v1/projects/1/create_deployment",
        "preview",
        Some(serde_json::json!({"type": "preview", "reference": "preview/ci"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(created["creator"], "deploy key 'pk'");
    let (s, _) = call(
        &w,
        "POST",
        &format!("/v1/deployments/{}/delete", w.preview),
        "preview",
        Some(serde_json::json!({})),
    )
    .await;
    assert_eq!(s, 200);
    // A deployment key aimed elsewhere: 403 naming the key's deployment and the target.
    let (s, body) = call(&w, "GET", "/v1/deployments/some-other-1", "key", None).await;
    assert_eq!(s, 403);
    assert!(
        body.contains(&format!("dev:{}|…", w.target)) && body.contains("'some-other-1'"),
        "{body}"
    );
    // A key with its secret eaten by the shell.
    let mut creds = w.creds.clone();
    creds.insert("key", Some(format!("dev:{}", w.target)));
    let w2 = World { creds, ..w };
    let (s, body) = call(
        &w2,
        "GET",
        &format!("/v1/deployments/{}", w2.target),
        "key",
        None,
    )
    .await;
    assert_eq!(s, 401);
    assert!(
        body.contains("without its secret") && body.contains("quote the whole key"),
        "{body}"
    );
    // Expired and revoked say so.
    let (_, body) = call(&w2, "GET", "/v1/me", "expired", None).await;
    assert!(body.contains("has expired"), "{body}");
    let (_, body) = call(&w2, "GET", "/v1/me", "revoked", None).await;
    assert!(body.contains("revoked"), "{body}");
    // Last use is recorded.
    let admin = w2
        .control
        .authenticate(w2.creds["admin"].as_deref().unwrap())
        .await
        .unwrap();
    let keys = w2
        .control
        .list_deploy_keys(&admin, &w2.target)
        .await
        .unwrap();
    assert!(keys.iter().any(|k| k.name == "k-this"));
    let _: Principal = admin;
}
