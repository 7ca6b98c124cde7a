//! Findings of the outside security review that live in the control plane and the routes, in
//! process: who may claim a preview, who may list a deployment's keys, the failed-authentication
//! limit on the CLI's key lookups, and function metadata that is read, not recomputed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use berth_api::{
    AddMemberRequest, ClaimPreviewRequest, CreateDeploymentRequest, UpdateDeploymentRequest,
};
use berth_model::{ErrorKind, Role};
use std::net::SocketAddr;
use tower::ServiceExt;

async fn send(w: &common::World, req: Request<Body>) -> (StatusCode, String) {
    let resp = w.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn post(uri: &str, auth: Option<&str>, body: &str) -> Request<Body> {
    let mut r = Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let mut req = r.body(Body::from(body.to_string())).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 9], 40_000))));
    req
}

/// Adds `username` as a plain member; returns their principal.
async fn member(w: &common::World, username: &str) -> berth_control::Principal {
    let admin = w.control.authenticate(&w.token).await.unwrap();
    let token = w
        .control
        .add_member(
            &admin,
            "default",
            AddMemberRequest {
                username: username.into(),
                role: Some(Role::Member),
                project_admin_of: vec![],
            },
        )
        .await
        .unwrap()
        .access_token
        .unwrap();
    w.control.authenticate(&token).await.unwrap()
}

#[tokio::test]
async fn a_member_cannot_claim_or_recreate_a_preview_only_admins_may_edit() {
    let w = common::world().await;
    let admin = w.control.authenticate(&w.token).await.unwrap();
    let claim = |reuse| ClaimPreviewRequest {
        identifier: "feature/secret".into(),
        reuse,
        expiration: None,
        expires_at: None,
        copy_data_from: None,
        copy_env: None,
    };
    let preview = w
        .control
        .claim_preview(&admin, 1, claim(true))
        .await
        .unwrap()
        .deployment_name;
    w.control
        .update_deployment(
            &admin,
            &preview,
            UpdateDeploymentRequest {
                editable_by: Some(Some("admins".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bob = member(&w, "bob").await;
    for reuse in [true, false] {
        let e = w
            .control
            .claim_preview(&bob, 1, claim(reuse))
            .await
            .expect_err("a member claimed an admins-only preview");
        assert_eq!(e.kind, ErrorKind::Forbidden, "{}", e.message);
        assert!(e.message.contains("preview"), "{}", e.message);
    }
    // The preview is still there, with no key minted for bob.
    let d = w
        .control
        .call_target(Some(&admin), &preview)
        .await
        .expect("the preview survives")
        .deployment;
    let keys = w.control.list_deploy_keys(&admin, &preview).await.unwrap();
    assert_eq!(
        keys.len(),
        1,
        "only the admin's claim minted a key: {keys:?}"
    );
    assert_eq!(d.name, preview);
    // The admin still may.
    w.control
        .claim_preview(&admin, 1, claim(true))
        .await
        .unwrap();
}

#[tokio::test]
async fn only_who_may_edit_a_deployment_lists_its_deploy_keys() {
    let w = common::world().await;
    let admin = w.control.authenticate(&w.token).await.unwrap();
    let prod = w
        .control
        .create_deployment(
            &admin,
            1,
            CreateDeploymentRequest {
                deployment_type: "prod".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .name;
    w.control
        .create_deploy_key(
            &admin,
            &prod,
            berth_api::CreateDeployKeyRequest {
                name: "ci".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let bob = member(&w, "bob").await;
    let e = w
        .control
        .list_deploy_keys(&bob, &prod)
        .await
        .expect_err("a member who may not edit prod listed its keys");
    assert_eq!(e.kind, ErrorKind::Forbidden, "{}", e.message);
    assert_eq!(
        w.control
            .list_deploy_keys(&admin, &prod)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_clis_key_lookups_count_failed_authentications() {
    let w = common::world().await;
    for route in [
        "/api/deployment/url_for_key",
        "/api/deployment/team_and_project_for_key",
    ] {
        let w = common::world().await;
        for i in 0..berth_control::auth::MAX_AUTH_FAILURES {
            let body = format!(r#"{{"deployKey": "dev:{}|guess{i}"}}"#, w.deployment);
            let (status, text) = send(&w, post(route, None, &body)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}: {text}");
        }
        // Then refused before any lookup, even with the right key.
        let body = format!(r#"{{"deployKey": "{}"}}"#, w.deploy_key);
        let (status, text) = send(&w, post(route, None, &body)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{route}: {text}");
        assert!(!text.contains(&w.deploy_key));
    }
    let _ = w;
}

/// Listing functions (`/api/functions`, the CLI's `modules:apiSpec`) and resolving `/api/run`
/// read what the push stored: they work without loading the modules again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_metadata_is_stored_at_push_not_recomputed() {
    let w = common::world().await;
    let key = format!("Convex {}", w.deploy_key);
    let push = serde_json::json!({"modules": [{"path": "slow.ts", "source":
        "import { query } from \"./_generated/server\";\nexport const answer = query({ args: {}, handler: async () => 42 });\n"}]});
    let (status, text) = send(
        &w,
        post(
            &format!("/d/{}/api/push", w.deployment),
            Some(&key),
            &push.to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    // The stored code breaks behind the push's back: only a reload would notice.
    let target = w.control.call_target(None, &w.deployment).await.unwrap();
    let docs = w.control.deployment_docs(&target).await.unwrap();
    tokio::task::spawn_blocking(move || {
        let mut modules = docs.modules().unwrap();
        modules[0].js = "throw new Error('loaded again');".into();
        let meta = docs.code_meta().unwrap().unwrap();
        docs.replace_code(&modules, &meta, &Default::default())
            .unwrap();
    })
    .await
    .unwrap();
    let list = Request::builder()
        .uri(format!("/d/{}/api/functions", w.deployment))
        .header("authorization", &key)
        .body(Body::empty())
        .unwrap();
    let (status, text) = send(&w, list).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("slow.js:answer"), "{text}");
}
