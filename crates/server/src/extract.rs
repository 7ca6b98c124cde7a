//! Request extractors whose failures speak the error model: [`Auth`] resolves the caller through
//! the control plane (from the `Authorization` header, or the dashboard's session cookie);
//! [`Body`] is `Json` with a 400 that says what is wrong with the body.

use crate::{AppState, dashboard::session, error::ApiError};
use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::{header, request::Parts},
};
use berth_control::Principal;
use berth_model::Error;
use serde::de::DeserializeOwned;

/// The address the request came from (when the server was started with connection info).
pub fn source(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The request's source address, for handlers that authenticate a credential from the body.
pub struct Source(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(source(parts)))
    }
}

/// The authenticated caller. Every route that needs one takes this; a missing or bad credential
/// is answered 401 before the handler runs.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Credentialed(p, _) = Credentialed::from_request_parts(parts, state).await?;
        Ok(Auth(p))
    }
}

/// The authenticated caller with the credential it came with (the routes for Convex's CLI hand
/// out keys derived from it).
pub struct Credentialed(pub Principal, pub String);

impl FromRequestParts<AppState> for Credentialed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credential = match parts.headers.get(header::AUTHORIZATION) {
            Some(h) => {
                let h = h.to_str().map_err(|_| {
                    Error::unauthenticated("the Authorization header is not valid text")
                })?;
                berth_control::auth::credential_from_header(h)?
            }
            None => session::credential(&parts.method, &parts.headers)?.ok_or_else(|| {
                Error::unauthenticated(
                    "this route needs an access token in 'Authorization: Bearer <token>'; log in with `berth login`",
                )
            })?,
        };
        let p = state
            .control
            .authenticate_from(source(parts), credential)
            .await?;
        Ok(Credentialed(p, credential.to_string()))
    }
}

/// A JSON request body.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(ApiError(json_rejection(rejection))),
        }
    }
}

fn json_rejection(r: JsonRejection) -> Error {
    match r {
        JsonRejection::MissingJsonContentType(_) => Error::bad_request(
            "BadContentType",
            "the request body must be JSON with 'Content-Type: application/json'",
        ),
        JsonRejection::JsonSyntaxError(e) => Error::bad_request(
            "BadJson",
            format!("the request body is not valid JSON: {}", e.body_text()),
        ),
        JsonRejection::JsonDataError(e) => Error::bad_request(
            "BadRequestBody",
            format!(
                "the request body does not have the expected fields: {}",
                e.body_text()
            ),
        ),
        JsonRejection::BytesRejection(e) => {
            let status = e.status().as_u16();
            if status == 413 {
                Error::new(
                    berth_model::ErrorKind::TooLarge,
                    "TooLarge",
                    "the request body is too large",
                )
            } else {
                Error::bad_request(
                    "BadRequestBody",
                    format!("could not read the request body: {}", e.body_text()),
                )
            }
        }
        other => Error::bad_request("BadRequestBody", other.body_text()),
    }
}

/// A raw request body (for routes that decode it themselves), with a 413 in the error model when
/// it is over the limit.
pub struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(e) if e.status().as_u16() == 413 => Err(ApiError(Error::new(
                berth_model::ErrorKind::TooLarge,
                "TooLarge",
                "the request body is too large (at most 32 MiB)",
            ))),
            Err(e) => Err(ApiError(Error::bad_request(
                "BadRequestBody",
                format!("could not read the request body: {}", e.body_text()),
            ))),
        }
    }
}

/// Path parameters, with a 400 in the error model when one does not parse.
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => Err(ApiError(Error::bad_request(
                "BadPath",
                format!("a part of the URL path is not valid: {}", e.body_text()),
            ))),
        }
    }
}

/// Query parameters, with a 400 in the error model when they do not parse.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError(Error::bad_request(
                "BadQuery",
                format!("the query string is not valid: {}", e.body_text()),
            ))),
        }
    }
}

/// The caller of a deployment route: `Authorization: Convex <credential>` (an access token or
/// deploy key, which must be valid), or `Bearer <credential>` when it has the shape of one.
/// Anything else (an end user's identity token) leaves the caller anonymous.
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            // The dashboard's session, when there is one; else an anonymous caller.
            return match session::credential(&parts.method, &parts.headers)? {
                Some(credential) => Ok(Caller(Some(
                    state
                        .control
                        .authenticate_from(source(parts), credential)
                        .await?,
                ))),
                None => Ok(Caller(None)),
            };
        };
        let value = value
            .to_str()
            .map_err(|_| Error::unauthenticated("the Authorization header is not valid text"))?
            .trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        let credential = if scheme.eq_ignore_ascii_case("convex") {
            // Convex's clients may append `:<base64 identity>` ("acting as") after the key's
            // secret; the key itself has `:`s before its `|`, never after.
            match rest.split_once('|') {
                Some((_, secret)) if secret.contains(':') => {
                    rest.rsplit_once(':').map_or(rest, |(key, _)| key)
                }
                _ => rest,
            }
        } else if scheme.eq_ignore_ascii_case("bearer")
            && (rest.starts_with(berth_model::token::ACCESS_TOKEN_PREFIX)
                || !matches!(
                    berth_model::deploy_key::parse(rest),
                    berth_model::deploy_key::KeyShape::NotAKey
                ))
        {
            rest
        } else {
            return Ok(Caller(None));
        };
        if credential.is_empty() {
            return Err(ApiError(Error::unauthenticated(
                "'Authorization: Convex' needs a deploy key or access token after it",
            )));
        }
        Ok(Caller(Some(
            state
                .control
                .authenticate_from(source(parts), credential)
                .await?,
        )))
    }
}

/// The request id: `Convex-Request-Id` when the client sent one, else 16 new hex digits.
pub struct RequestId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        if let Some(v) = parts
            .headers
            .get("convex-request-id")
            .and_then(|v| v.to_str().ok())
        {
            let v = v.trim();
            if !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Ok(RequestId(v.to_string()));
            }
        }
        let mut bytes = [0u8; 8];
        let _ = getrandom::fill(&mut bytes);
        Ok(RequestId(
            bytes.iter().map(|b| format!("{b:02x}")).collect(),
        ))
    }
}
