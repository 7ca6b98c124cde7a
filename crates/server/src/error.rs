//! How errors leave the server: `{"code", "message"}` with the status of the error's kind.

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use berth_api::ErrorBody;
use berth_model::Error;

/// The error type of every handler.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.kind.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            code: self.0.code.to_string(),
            message: self.0.message,
        };
        (status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
