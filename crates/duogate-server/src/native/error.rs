//! The native API's one error mapping: `{"error": {"code": "...", "message": "..."}}` with a
//! stable machine-readable code. Internal detail goes to the log, never to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use duo_client::actions::ActionInputError;
use duogate_store::StoreError;

use crate::access::Denied;

/// A native API error.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status (4xx or 5xx).
    pub status: StatusCode,
    /// Stable code: `unauthenticated`, `forbidden`, `not_found`, `conflict`, `invalid`,
    /// `internal`.
    pub code: &'static str,
    /// Message for the client.
    pub message: String,
}

impl ApiError {
    /// 400 `invalid` with a message naming the field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid",
            message: message.into(),
        }
    }

    /// 404 `not_found`.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: what.into(),
        }
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthenticated => Self {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthenticated",
                message: "missing or invalid token".into(),
            },
            Denied::Forbidden => Self {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: "this token may not do that".into(),
            },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found("not found"),
            StoreError::Conflict(what) => Self {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: format!("already exists: {what}"),
            },
            StoreError::Referenced(by) => Self {
                status: StatusCode::CONFLICT,
                code: "conflict",
                message: format!("still in use by {by}"),
            },
            StoreError::Invalid(message) => Self::invalid(message),
            other => {
                tracing::error!(error = %other, "store error");
                Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: "internal error".into(),
                }
            }
        }
    }
}

impl From<ActionInputError> for ApiError {
    fn from(error: ActionInputError) -> Self {
        Self::invalid(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
