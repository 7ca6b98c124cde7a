//! The dashboard's edge, in process: the page and its security headers, signing in for a session
//! cookie, and the CSRF rule for every change made with that cookie. The pages themselves are
//! tested in a real browser by `crates/berth/tests/dashboard.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{
    body::Body,
    http::{Request, Response, header},
};
use berth_server::dashboard::session;
use tower::ServiceExt;

async fn send(
    w: &common::World,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (Response<Body>, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "berth.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => req.body(Body::empty()).unwrap(),
    };
    let resp = w.app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 4 << 20).await.unwrap();
    (
        Response::from_parts(parts, Body::empty()),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn header<'a>(r: &'a Response<Body>, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn every_page_is_the_app_with_security_headers() {
    let w = common::world().await;
    for path in [
        "/dashboard",
        "/dashboard/",
        "/dashboard/login",
        "/dashboard/projects/1",
        "/dashboard/deployments/happy-otter-123/data",
    ] {
        let (r, body) = send(&w, "GET", path, &[], None).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(body.contains("/dashboard/assets/app.js"), "{path}");
        assert!(header(&r, "content-type").starts_with("text/html"));
        let csp = header(&r, "content-security-policy");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(header(&r, "x-frame-options"), "DENY");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer");
        assert_eq!(header(&r, "cache-control"), "no-store");
    }
    let (r, js) = send(&w, "GET", "/dashboard/assets/app.js", &[], None).await;
    assert!(header(&r, "content-type").starts_with("text/javascript"));
    assert!(js.contains("X-Berth-CSRF"));
    let (r, _) = send(&w, "GET", "/dashboard/assets/app.css", &[], None).await;
    assert!(header(&r, "content-type").starts_with("text/css"));
}

#[tokio::test]
async fn signing_in_sets_an_httponly_cookie_and_a_csrf_token() {
    let w = common::world().await;
    let body = serde_json::json!({"token": w.token});
    let (r, text) = send(&w, "POST", "/dashboard/session", &[], Some(body)).await;
    assert_eq!(r.status(), 200, "{text}");
    assert!(text.contains("\"username\":\"admin\""));
    let cookies: Vec<&str> = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session_cookie = cookies
        .iter()
        .find(|c| c.starts_with("berth_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"));
    let csrf_cookie = cookies
        .iter()
        .find(|c| c.starts_with("berth_csrf="))
        .unwrap();
    assert!(!csrf_cookie.contains("HttpOnly"), "the page must read it");
    assert!(csrf_cookie.contains(&session::csrf_token(&w.token)));
    assert!(
        !csrf_cookie.contains(&w.token),
        "the readable cookie must not hold the token"
    );

    // Refusals: a bad token, a deploy key, another site's page. None echoes the credential.
    for (token, origin, status, code) in [
        ("berth_at_nope", None, 401, "Unauthenticated"),
        (w.deploy_key.as_str(), None, 400, "NotAnAccessToken"),
        ("", None, 400, "MissingToken"),
        (
            w.token.as_str(),
            Some("http://evil.example"),
            403,
            "Forbidden",
        ),
    ] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        let (r, text) = send(
            &w,
            "POST",
            "/dashboard/session",
            &headers,
            Some(serde_json::json!({ "token": token })),
        )
        .await;
        assert_eq!(r.status(), status, "{text}");
        assert!(text.contains(code), "{text}");
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        if !token.is_empty() {
            let secret = token.rsplit('|').next().unwrap();
            assert!(!text.contains(secret), "{text}");
        }
    }

    let (r, _) = send(&w, "POST", "/dashboard/logout", &[], None).await;
    assert_eq!(r.status(), 204);
    let cleared: Vec<&str> = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(cleared.iter().all(|c| c.contains("Max-Age=0")) && cleared.len() == 2);
}

#[tokio::test]
async fn a_session_reads_freely_but_changes_only_with_its_csrf_token() {
    let w = common::world().await;
    let cookie = format!("berth_session={}", w.token);
    let csrf = session::csrf_token(&w.token);
    let (r, text) = send(&w, "GET", "/v1/me", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status(), 200, "{text}");
    let (r, _) = send(
        &w,
        "GET",
        "/v1/projects/1/permissions",
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(r.status(), 200);

    let create = || Some(serde_json::json!({"type": "dev", "reference": "dev/admin/x"}));
    let path = "/v1/projects/1/create_deployment";
    let (r, text) = send(&w, "POST", path, &[("cookie", &cookie)], create()).await;
    assert_eq!(r.status(), 403, "{text}");
    assert!(text.contains("CSRF"), "{text}");
    let (r, _) = send(
        &w,
        "POST",
        path,
        &[("cookie", &cookie), ("x-berth-csrf", "0000")],
        create(),
    )
    .await;
    assert_eq!(r.status(), 403);
    let (r, text) = send(
        &w,
        "POST",
        path,
        &[
            ("cookie", &cookie),
            ("x-berth-csrf", &csrf),
            ("origin", "http://evil.example"),
        ],
        create(),
    )
    .await;
    assert_eq!(r.status(), 403, "{text}");
    assert!(text.contains("another site"), "{text}");
    let (r, text) = send(
        &w,
        "POST",
        path,
        &[
            ("cookie", &cookie),
            ("x-berth-csrf", &csrf),
            ("origin", "http://berth.test"),
        ],
        create(),
    )
    .await;
    assert_eq!(r.status(), 200, "{text}");

    // The deployment API takes the session too (the dashboard runs functions and edits data).
    let name = serde_json::from_str::<serde_json::Value>(&text).unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string();
    let insert = format!("/d/{name}/api/data/notes");
    let doc = || Some(serde_json::json!({"value": {"text": "hi"}}));
    let (r, _) = send(&w, "POST", &insert, &[("cookie", &cookie)], doc()).await;
    assert_eq!(r.status(), 403);
    let (r, text) = send(
        &w,
        "POST",
        &insert,
        &[("cookie", &cookie), ("x-berth-csrf", &csrf)],
        doc(),
    )
    .await;
    assert_eq!(r.status(), 200, "{text}");
    // A revoked or foreign session cookie is a 401, not an anonymous caller.
    let (r, _) = send(
        &w,
        "GET",
        &format!("/d/{name}/api/data"),
        &[("cookie", "berth_session=berth_at_stale")],
        None,
    )
    .await;
    assert_eq!(r.status(), 401);
}
