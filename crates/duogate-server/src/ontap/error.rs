//! The ONTAP dialect's one error mapping: every failure becomes ONTAP's envelope
//! `{"error": {"message": "…", "code": "<string>", "target": "<field>"?}}` with
//! `Content-Type: application/hal+json`.
//!
//! | HTTP | `code` | when |
//! |---|---|---|
//! | 400 | `262179` | an unknown body field or query parameter: `Unexpected argument "<name>".`, target the name |
//! | 400 | `2` | any other bad input (type, enum, range, missing field, malformed JSON or query); target the field |
//! | 401 | `6` | missing or invalid credentials (token or Basic); also sends `WWW-Authenticate: Basic` |
//! | 403 | `6` | the caller's role does not allow the operation (`not authorized for that command`) |
//! | 404 | `4` | `entry doesn't exist`, target `uuid`: the same answer for an object that does not exist and one in a tenant the caller may not see |
//! | 404 | `3` | `API not found`: no such route under `/api` |
//! | 405 | `3` | a method the route does not serve (e.g. PATCH or DELETE on a collection) |
//! | 409 | `1` | duplicate entry (a second profile for an owner, a second group with the same name) |
//! | 500 | `5` | the store failed; the detail goes to the log only |
//!
//! ONTAP publishes codes `2`, `262179`, `4`, `6` and `1` (`docs/ontap-dialect.md` §1.8); codes
//! `3` and `5`, and the use of `6` for 401, are our choices. Messages never carry a secret: bad
//! `secret_key` values are described, never echoed.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use duogate_store::StoreError;

use crate::access::Denied;

/// An ONTAP dialect error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OntapError {
    /// HTTP status (4xx or 5xx).
    pub status: StatusCode,
    /// ONTAP's error code (a string on the wire).
    pub code: &'static str,
    /// Message for the client.
    pub message: String,
    /// The field the error is about, when there is one.
    pub target: Option<String>,
}

impl OntapError {
    /// 400 code `2`: a bad value for `target`.
    pub fn invalid(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "2",
            message: message.into(),
            target: Some(target.into()),
        }
    }

    /// 400 code `2` about the request as a whole (e.g. a body that is not JSON).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "2",
            message: message.into(),
            target: None,
        }
    }

    /// 400 code `262179`: `Unexpected argument "<name>".`
    pub fn unexpected_argument(name: &str) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "262179",
            message: format!("Unexpected argument \"{name}\"."),
            target: Some(name.to_string()),
        }
    }

    /// 404 code `4`: `entry doesn't exist`, target `uuid`.
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "4",
            message: "entry doesn't exist".into(),
            target: Some("uuid".into()),
        }
    }

    /// 404 code `3`: no such API.
    pub fn api_not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "3",
            message: "API not found".into(),
            target: None,
        }
    }

    /// 405 code `3`.
    pub fn method_not_allowed() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "3",
            message: "The requested method is not allowed on this API.".into(),
            target: None,
        }
    }

    /// 409 code `1`: duplicate entry.
    pub fn duplicate(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code: "1",
            message: message.into(),
            target: Some(target.into()),
        }
    }

    fn internal() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "5",
            message: "internal error".into(),
            target: None,
        }
    }

    /// The envelope.
    pub fn body(&self) -> Value {
        let mut error = json!({"message": self.message, "code": self.code});
        if let Some(target) = &self.target {
            error["target"] = json!(target);
        }
        json!({ "error": error })
    }
}

impl From<Denied> for OntapError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::Unauthenticated => Self {
                status: StatusCode::UNAUTHORIZED,
                code: "6",
                message: "authentication failed: missing or invalid credentials".into(),
                target: None,
            },
            Denied::Forbidden => Self {
                status: StatusCode::FORBIDDEN,
                code: "6",
                message: "not authorized for that command".into(),
                target: None,
            },
        }
    }
}

impl From<StoreError> for OntapError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found(),
            StoreError::Conflict(_) => Self::duplicate("uuid", "duplicate entry"),
            StoreError::Invalid(message) => Self::bad_request(message),
            other => {
                tracing::error!(error = %other, "store error in the ONTAP dialect");
                Self::internal()
            }
        }
    }
}

impl IntoResponse for OntapError {
    fn into_response(self) -> Response {
        let mut response = super::reply::hal(self.status, &self.body(), super::reply::Links::Hal);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"duogate\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_carry_string_codes_and_targets_only_when_known() {
        assert_eq!(
            OntapError::not_found().body(),
            json!({"error": {"message": "entry doesn't exist", "code": "4", "target": "uuid"}})
        );
        assert_eq!(
            OntapError::bad_request("x").body(),
            json!({"error": {"message": "x", "code": "2"}})
        );
        assert_eq!(
            OntapError::unexpected_argument("colour").body()["error"]["message"],
            "Unexpected argument \"colour\"."
        );
    }

    #[test]
    fn store_failures_hide_their_detail() {
        let error = OntapError::from(StoreError::UnsupportedUrl("ftp:".into()));
        assert_eq!(error.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.message, "internal error");
    }
}
