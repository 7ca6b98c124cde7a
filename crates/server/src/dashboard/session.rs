//! The dashboard's session: the member's access token in an HttpOnly, `SameSite=Strict` cookie,
//! and a CSRF token derived from it that the page sends back in a header on every change.
//!
//! A request that carries no `Authorization` header is authenticated by the cookie; when it
//! changes something (any method but GET, HEAD and OPTIONS) it must also carry
//! `X-Berth-CSRF` equal to the session's CSRF token, and an `Origin` (when the browser sends
//! one) equal to the server's own. Another site can neither read the CSRF token nor make the
//! browser send the cookie (`SameSite=Strict`), so it cannot act as the signed-in member.

use axum::http::{HeaderMap, Method, header};
use berth_model::{Error, token};

pub const SESSION_COOKIE: &str = "berth_session";
pub const CSRF_COOKIE: &str = "berth_csrf";
pub const CSRF_HEADER: &str = "x-berth-csrf";
/// How long a dashboard sign-in lasts.
pub const SESSION_MAX_AGE_SECS: u64 = 7 * 24 * 3600;

/// The CSRF token of a session: a hash of its access token, so the server keeps no state and
/// a token cannot be guessed without the access token.
pub fn csrf_token(access_token: &str) -> String {
    token::hash(&format!("berth-dashboard-csrf:{access_token}"))
}

/// The value of cookie `name` in the request, if any.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The credential of the session cookie, checked against CSRF when the request changes
/// something; `None` when there is no session cookie.
pub fn credential<'a>(method: &Method, headers: &'a HeaderMap) -> Result<Option<&'a str>, Error> {
    let Some(access_token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(Some(access_token));
    }
    same_origin(headers)?;
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !token::verify(&format!("berth-dashboard-csrf:{access_token}"), sent) {
        return Err(Error::forbidden(
            "this change carries the dashboard's session cookie but not its CSRF token (header X-Berth-CSRF); reload the dashboard and try again",
        ));
    }
    Ok(Some(access_token))
}

/// Refuses a request a browser sent from another site's page (its `Origin` names another host).
pub fn same_origin(headers: &HeaderMap) -> Result<(), Error> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    if origin_host == host {
        Ok(())
    } else {
        Err(Error::forbidden(format!(
            "this request comes from another site ({origin}); the dashboard's session acts only for pages of this server"
        )))
    }
}

/// `Set-Cookie` values that start a session (`secure` when the server is reached over HTTPS).
pub fn start(access_token: &str, secure: bool) -> [String; 2] {
    let secure = if secure { "; Secure" } else { "" };
    [
        format!(
            "{SESSION_COOKIE}={access_token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_MAX_AGE_SECS}{secure}"
        ),
        format!(
            "{CSRF_COOKIE}={}; Path=/; SameSite=Strict; Max-Age={SESSION_MAX_AGE_SECS}{secure}",
            csrf_token(access_token)
        ),
    ]
}

/// `Set-Cookie` values that end the session.
pub fn end() -> [String; 2] {
    [
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
        format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap_or(header::COOKIE),
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn reads_without_csrf_and_writes_only_with_it() {
        let t = "berth_at_abc";
        let c = format!("a=b; {SESSION_COOKIE}={t}; {CSRF_COOKIE}=x");
        let h = headers(&[("cookie", &c), ("host", "127.0.0.1:3210")]);
        assert_eq!(credential(&Method::GET, &h), Ok(Some(t)));
        assert!(credential(&Method::POST, &h).is_err());
        let csrf = csrf_token(t);
        let h = headers(&[
            ("cookie", &c),
            ("host", "127.0.0.1:3210"),
            (CSRF_HEADER, &csrf),
        ]);
        assert_eq!(credential(&Method::POST, &h), Ok(Some(t)));
        let h = headers(&[
            ("cookie", &c),
            ("host", "127.0.0.1:3210"),
            (CSRF_HEADER, &csrf),
            ("origin", "http://evil.example"),
        ]);
        assert!(credential(&Method::PATCH, &h).is_err());
        let h = headers(&[
            ("cookie", &c),
            ("host", "127.0.0.1:3210"),
            (CSRF_HEADER, &csrf),
            ("origin", "http://127.0.0.1:3210"),
        ]);
        assert_eq!(credential(&Method::PATCH, &h), Ok(Some(t)));
        assert_eq!(credential(&Method::POST, &HeaderMap::new()), Ok(None));
    }
}
