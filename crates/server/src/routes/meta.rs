//! Health, version and metrics.

use crate::AppState;
use axum::{Json, extract::State, http::header, response::IntoResponse};
use berth_api::VersionInfo;

/// 200 while the server is serving.
#[utoipa::path(get, path = "/healthz", tag = "meta", responses((status = 200, description = "serving", body = String)))]
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// The server's version and storage backend.
#[utoipa::path(get, path = "/version", tag = "meta", responses((status = 200, body = VersionInfo)))]
pub async fn version(State(s): State<AppState>) -> Json<VersionInfo> {
    Json(VersionInfo {
        name: "berth".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        storage: s.control.backend().into(),
    })
}

/// Prometheus text.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}
