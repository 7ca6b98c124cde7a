//! Bad input at the HTTP edge, in process, against every route of the OpenAPI document: wrong
//! content types, bodies that are not UTF-8, truncated or deeply nested JSON, oversized bodies,
//! hostile path and query parameters. Every answer must be a 4xx in the error model (or a 2xx
//! for a route that reads no body), never a 500, never a hang. And authentication failures are
//! rate-limited per source address.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::{
    body::Body,
    extract::ConnectInfo,
    http::{Request, StatusCode},
};
use berth_server::routes;
use std::{net::SocketAddr, time::Duration};
use tower::ServiceExt;

async fn send(w: &common::World, req: Request<Body>) -> (StatusCode, String) {
    let resp = tokio::time::timeout(Duration::from_secs(20), w.app.clone().oneshot(req))
        .await
        .expect("the server answered within 20 s")
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn concrete(w: &common::World, path: &str) -> String {
    path.replace("{team}", "default")
        .replace("{project}", "default")
        .replace("{id}", "1")
        .replace("{name}", &w.deployment)
        .replace("{table}", "things")
        .replace("{document}", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        .replace("{*path}", "x/y")
}

/// Every documented route: (method, path, whether it reads a body).
fn documented() -> Vec<(String, String, bool)> {
    let doc = routes::openapi();
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            ("GET", &item.get),
            ("HEAD", &item.head),
            ("POST", &item.post),
            ("PATCH", &item.patch),
        ] {
            if let Some(op) = op {
                out.push((method.to_string(), path.clone(), op.request_body.is_some()));
            }
        }
    }
    out
}

fn check(route: &str, what: &str, status: StatusCode, body: &str, reads_body: bool) {
    assert!(
        !status.is_server_error(),
        "{route} with {what}: {status} {body}"
    );
    if status.is_client_error() {
        if !body.is_empty() {
            let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            assert!(
                v["code"].is_string() && v["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{route} with {what}: not the error model: {body}"
            );
        }
    } else {
        assert!(
            !reads_body,
            "{route} with {what} was accepted ({status}): a route that reads a body must refuse it"
        );
    }
}

#[tokio::test]
async fn malformed_requests_to_every_route_get_a_clean_4xx() {
    let w = common::world().await;
    let mut deep = String::new();
    for _ in 0..100_000 {
        deep.push('[');
    }
    let bodies: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a truncated JSON body",
            b"{\"name\": \"x".to_vec(),
            "application/json",
        ),
        (
            "a body that is not UTF-8",
            vec![0xff, 0xfe, b'{', 0xc3, 0x28, b'}'],
            "application/json",
        ),
        (
            "JSON nested 100,000 deep",
            deep.into_bytes(),
            "application/json",
        ),
        (
            "a JSON array instead of an object",
            b"[1, 2, 3]".to_vec(),
            "application/json",
        ),
        (
            "the wrong content type",
            b"name=x&value=y".to_vec(),
            "application/x-www-form-urlencoded",
        ),
        ("a 40 MiB body", vec![b' '; 40 << 20], "application/json"),
    ];
    let mut cells = 0;
    for (method, path, reads_body) in documented() {
        let route = format!("{method} {path}");
        let uri = concrete(&w, &path);
        if method == "POST" || method == "PATCH" {
            for (what, body, content_type) in &bodies {
                let req = Request::builder()
                    .method(method.as_str())
                    .uri(&uri)
                    .header("authorization", format!("Bearer {}", w.token))
                    .header("content-type", *content_type)
                    .body(Body::from(body.clone()))
                    .unwrap();
                let (status, text) = send(&w, req).await;
                check(&route, what, status, &text, reads_body);
                cells += 1;
            }
        }
        // Hostile path and query parameters, on every route.
        for (what, uri) in [
            (
                "a 10,000-character path segment",
                uri.replace(&w.deployment, &"x".repeat(10_000)),
            ),
            (
                "an encoded NUL in the path",
                uri.replace(&w.deployment, "a%00b"),
            ),
            (
                "invalid percent-encoding",
                uri.replace(&w.deployment, "%ff%fe"),
            ),
            (
                "a garbage query string",
                format!(
                    "{uri}?limit=-1&cursor=%ff&wait=99999999999999999999&reference=&search=%00"
                ),
            ),
        ] {
            let mut req = Request::builder()
                .method(method.as_str())
                .uri(&uri)
                .header("authorization", format!("Bearer {}", w.token));
            if reads_body {
                req = req.header("content-type", "application/json");
            }
            let body = if reads_body {
                Body::from("{}")
            } else {
                Body::empty()
            };
            let (status, text) = send(&w, req.body(body).unwrap()).await;
            // These may be answered 2xx (a query parameter the route ignores) but never 5xx.
            check(&route, what, status, &text, false);
            cells += 1;
        }
    }
    assert!(cells > 400, "only {cells} requests were tried");
}

fn from(ip: [u8; 4], req: Request<Body>) -> Request<Body> {
    let mut req = req;
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40_000))));
    req
}

fn me(token: &str) -> Request<Body> {
    Request::builder()
        .uri("/v1/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn authentication_failures_are_rate_limited_per_source() {
    let w = common::world().await;
    let attacker = [10, 0, 0, 66];
    for i in 0..berth_control::auth::MAX_AUTH_FAILURES {
        let (status, _) = send(&w, from(attacker, me(&format!("berth_at_guess{i}")))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Refused before any lookup, even with the right token, and the reason says how long.
    let (status, body) = send(&w, from(attacker, me(&w.token))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body.contains("TooManyAuthFailures") && body.contains("wait"),
        "{body}"
    );
    assert!(!body.contains(&w.token));
    // Deploy keys in the deployment API and the dashboard's sign-in count the same way.
    let sign_in = Request::builder()
        .method("POST")
        .uri("/dashboard/session")
        .header("content-type", "application/json")
        .body(Body::from(format!("{{\"token\": \"{}\"}}", w.token)))
        .unwrap();
    assert_eq!(
        send(&w, from(attacker, sign_in)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another source is not affected.
    assert_eq!(
        send(&w, from([10, 0, 0, 7], me(&w.token))).await.0,
        StatusCode::OK
    );
    // The window passes.
    w.clock.advance(61_000);
    assert_eq!(
        send(&w, from(attacker, me(&w.token))).await.0,
        StatusCode::OK
    );
    // Successes do not count, and a deploy key guessed wrong does.
    for _ in 0..50 {
        assert_eq!(
            send(&w, from(attacker, me(&w.token))).await.0,
            StatusCode::OK
        );
    }
    let key_guess = |i: u32| {
        Request::builder()
            .method("POST")
            .uri(format!("/d/{}/api/query", w.deployment))
            .header(
                "authorization",
                format!("Convex dev:{}|guess{i}", w.deployment),
            )
            .header("content-type", "application/json")
            .body(Body::from(r#"{"path": "a:b", "args": {}}"#))
            .unwrap()
    };
    for i in 0..berth_control::auth::MAX_AUTH_FAILURES {
        assert_eq!(
            send(&w, from(attacker, key_guess(i))).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        send(&w, from(attacker, key_guess(99))).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}
