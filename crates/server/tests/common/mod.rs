//! An in-process server for the HTTP tests: a bootstrapped control plane on a temporary data
//! directory with a virtual clock, one dev deployment and a deploy key for it, and the router.

#![allow(dead_code, clippy::unwrap_used)]

use axum::Router;
use berth_control::{Control, ControlConfig};
use berth_model::{Plan, time::ManualClock};
use berth_server::{AppState, metrics::Metrics, routes};
use std::sync::Arc;

pub struct World {
    pub app: Router,
    pub control: Arc<Control>,
    /// The first admin's access token.
    pub token: String,
    /// A dev deployment of project 1.
    pub deployment: String,
    /// A deployment key for it.
    pub deploy_key: String,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
}

pub async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = berth_store::open(dir.path(), None).await.unwrap();
    let clock = ManualClock::new(1_800_000_000_000);
    let control = Arc::new(Control::new(
        store,
        Arc::new(clock.clone()),
        ControlConfig {
            default_plan: Plan::Business,
            regions: vec!["us".into()],
            public_url: "http://berth.test".into(),
            min_expiration_ms: 60_000,
            max_expiration_ms: 365 * 24 * 3_600_000,
            log_retention: 100,
        },
    ));
    let boot = control.bootstrap(dir.path()).await.unwrap();
    let token = boot.admin_token.expose().to_string();
    let admin = control.authenticate(&token).await.unwrap();
    let deployment = control
        .create_deployment(
            &admin,
            1,
            berth_api::CreateDeploymentRequest {
                deployment_type: "dev".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .name;
    let deploy_key = control
        .create_deploy_key(
            &admin,
            &deployment,
            berth_api::CreateDeployKeyRequest {
                name: "k".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .deploy_key;
    let runtime = berth_runtime::Pool::new(
        1,
        berth_runtime::Limits::default(),
        tokio::runtime::Handle::current(),
    )
    .unwrap();
    let (app, _) = routes::router(AppState {
        control: control.clone(),
        metrics: Arc::new(Metrics::default()),
        runtime: Arc::new(runtime),
        live: Default::default(),
        fanouts: Default::default(),
    });
    World {
        app,
        control,
        token,
        deployment,
        deploy_key,
        clock,
        dir,
    }
}

/// POSTs `body` as JSON to `uri` with the world's deploy key; the status and the body's text.
pub async fn post(
    w: &World,
    uri: &str,
    body: serde_json::Value,
) -> (axum::http::StatusCode, String) {
    request(w, "POST", uri, Some(body)).await
}

/// Sends `body` (if any) as JSON to `uri` with the world's deploy key; the status and the
/// body's text.
pub async fn request(
    w: &World,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
) -> (axum::http::StatusCode, String) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("authorization", format!("Convex {}", w.deploy_key))
        .body(body.map_or_else(axum::body::Body::empty, |b| {
            axum::body::Body::from(b.to_string())
        }))
        .unwrap();
    let resp = w.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}
