//! The dashboard at `/dashboard`: one page of plain HTML, CSS and JavaScript compiled into the
//! binary (no build step), which talks to the same `/v1` and `/d/{name}` routes as the CLI.
//! Signing in trades an access token for a session cookie ([`session`]); every answer under
//! `/dashboard` carries security headers that keep it from being framed or injected into.

pub mod session;

use crate::{
    AppState,
    error::ApiResult,
    extract::{Body, Source},
};
use axum::{
    Json, Router,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use berth_control::Principal;
use berth_model::Error;

const INDEX_HTML: &str = include_str!("../../dashboard/index.html");
const APP_JS: &str = include_str!("../../dashboard/app.js");
const APP_CSS: &str = include_str!("../../dashboard/app.css");

/// `POST /dashboard/session`.
#[derive(Debug, serde::Deserialize)]
pub struct SignIn {
    pub token: String,
}

#[derive(Debug, serde::Serialize)]
pub struct SignedIn {
    pub username: String,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(index))
        .route("/dashboard/", get(index))
        .route("/dashboard/assets/app.js", get(app_js))
        .route("/dashboard/assets/app.css", get(app_css))
        .route("/dashboard/session", post(sign_in))
        .route("/dashboard/logout", post(sign_out))
        .route("/dashboard/{*page}", get(index))
        .layer(middleware::from_fn(security_headers))
}

async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> Response {
    page("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    page("text/css; charset=utf-8", APP_CSS)
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Signs in with a member's access token: answers the member and sets the session cookies.
async fn sign_in(
    State(s): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    Body(req): Body<SignIn>,
) -> ApiResult<Response> {
    session::same_origin(&headers)?;
    let token = req.token.trim();
    if token.is_empty() {
        return Err(Error::bad_request("MissingToken", "paste an access token to sign in").into());
    }
    let Principal::Member(user) = s.control.authenticate_from(source, token).await? else {
        return Err(Error::bad_request(
            "NotAnAccessToken",
            "a deploy key cannot sign in to the dashboard; use a member's access token (`berth member add` prints one, and the first admin's is in the data directory's admin-token file)",
        )
        .into());
    };
    let secure = s.control.config.public_url.starts_with("https://");
    let mut resp = Json(SignedIn {
        username: user.username,
    })
    .into_response();
    for c in session::start(token, secure) {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// Ends the session (the cookies are cleared; the access token itself stays valid).
async fn sign_out(headers: HeaderMap) -> ApiResult<Response> {
    session::same_origin(&headers)?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    for c in session::end() {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// The dashboard runs only its own scripts and styles, is never framed, and is never cached.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
