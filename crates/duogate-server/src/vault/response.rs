//! Vault's envelopes and the dialect's one error mapping.
//!
//! Every response under `/v1/` that this dialect answers carries `Content-Type:
//! application/json` exactly (hvac drops `errors` when a charset follows) and `Cache-Control:
//! no-store`, and echoes `X-Vault-Namespace` when the request sent one. Successes are either
//! the envelope (`request_id, lease_id, renewable, lease_duration, data, wrap_info, warnings,
//! auth`, in that order, absent parts `null`; no `mount_type`, as OpenBao), a bare JSON object
//! (`sys/health`, `sys/seal-status`, `sys/leader`), or 204 with an empty body. Errors are `{"errors": [...]}`: handler
//! validation errors verbatim, internal errors in go-multierror text
//! (`"1 error occurred:\n\t* …\n\n"`), and `[]` where Vault sends an empty list.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;

use duogate_store::StoreError;

use crate::access::Denied;

/// Wraps `message` as Go's multierror prints one error.
pub(crate) fn multierror(message: &str) -> String {
    format!("1 error occurred:\n\t* {message}\n\n")
}

/// A Vault error: status and the `errors` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VaultError {
    pub(crate) status: StatusCode,
    pub(crate) errors: Vec<String>,
}

impl VaultError {
    /// 400 with a handler's validation message, verbatim.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: vec![message.into()],
        }
    }

    /// 400 with no message (e.g. a `list` flag that is not a boolean).
    pub(crate) fn bad_request_empty() -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            errors: Vec::new(),
        }
    }

    /// 403 `permission denied`: no token, a bad token, or one whose role or namespace does not
    /// allow the request.
    pub(crate) fn permission_denied() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            errors: vec!["permission denied".into()],
        }
    }

    /// 404 `{"errors":[]}`: a read or list that found nothing.
    pub(crate) fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            errors: Vec::new(),
        }
    }

    /// 404 for a route that does not exist under a known mount.
    pub(crate) fn unsupported_path() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            errors: vec![multierror("unsupported path")],
        }
    }

    /// 404 for a path under no mount at all.
    pub(crate) fn no_handler(path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            errors: vec![format!(
                "no handler for route {path:?}. route entry not found."
            )],
        }
    }

    /// 405 for a verb a known route does not support.
    pub(crate) fn unsupported_operation() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            errors: vec![multierror("unsupported operation")],
        }
    }

    /// 405 `{"errors":[]}` for an HTTP verb Vault does not know.
    pub(crate) fn unknown_verb() -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            errors: Vec::new(),
        }
    }

    /// 500 with a plain error in multierror text.
    pub(crate) fn internal(message: &str) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            errors: vec![multierror(message)],
        }
    }
}

impl From<Denied> for VaultError {
    fn from(_: Denied) -> Self {
        Self::permission_denied()
    }
}

impl From<StoreError> for VaultError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::not_found(),
            StoreError::Invalid(message) => Self::invalid(message),
            StoreError::Conflict(what) => Self::invalid(format!("{what} already exists")),
            StoreError::Referenced(by) => Self::internal(&format!("still in use by {by}")),
            other => {
                tracing::error!(error = %other, "store error");
                Self::internal("internal error")
            }
        }
    }
}

/// What a handler answers on success.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// 200 with the envelope around `data`, and warnings when there are any.
    Data { data: Value, warnings: Vec<String> },
    /// 200 with the envelope, whose `data` entries are also repeated at the top level before
    /// it (what `GET sys/auth` does for old clients).
    DataAlsoAtTop(serde_json::Map<String, Value>),
    /// 200 with a bare JSON object (no envelope).
    Bare(Value),
    /// A bare JSON object with another status (`sys/health` of an instance that cannot open
    /// every sealed row: 503, as Vault answers when sealed).
    BareWithStatus(StatusCode, Value),
    /// 204, empty body.
    NoContent,
    /// 200 with the envelope's `auth` block (logins), `data` null.
    Auth { auth: Value, warnings: Vec<String> },
}

impl Reply {
    /// 200 with `data` and no warnings.
    pub(crate) fn data(data: Value) -> Self {
        Self::Data {
            data,
            warnings: Vec::new(),
        }
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    request_id: String,
    lease_id: &'static str,
    renewable: bool,
    lease_duration: u64,
    data: &'a Value,
    wrap_info: Option<()>,
    warnings: Option<&'a [String]>,
    auth: Option<&'a Value>,
}

fn envelope(data: &Value, warnings: &[String]) -> String {
    envelope_with_auth(data, warnings, None)
}

fn envelope_with_auth(data: &Value, warnings: &[String], auth: Option<&Value>) -> String {
    let envelope = Envelope {
        request_id: uuid::Uuid::new_v4().to_string(),
        lease_id: "",
        renewable: false,
        lease_duration: 0,
        data,
        wrap_info: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
        auth,
    };
    serde_json::to_string(&envelope).expect("the envelope serialises")
}

fn json_response(status: StatusCode, body: String, namespace: Option<&HeaderValue>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(namespace) = namespace {
        headers.insert("x-vault-namespace", namespace.clone());
    }
    response
}

/// The HTTP response for a handler's result.
pub(crate) fn respond(
    result: Result<Reply, VaultError>,
    namespace: Option<&HeaderValue>,
) -> Response {
    match result {
        Ok(Reply::Data { data, warnings }) => {
            json_response(StatusCode::OK, envelope(&data, &warnings), namespace)
        }
        Ok(Reply::DataAlsoAtTop(entries)) => {
            let data = Value::Object(entries.clone());
            let inner = envelope(&data, &[]);
            let top = serde_json::to_string(&Value::Object(entries)).expect("serialises");
            let body = if top == "{}" {
                inner
            } else {
                // `{a…}` + `{request_id…}` → `{a…,request_id…}`
                format!("{},{}", &top[..top.len() - 1], &inner[1..])
            };
            json_response(StatusCode::OK, body, namespace)
        }
        Ok(Reply::Auth { auth, warnings }) => json_response(
            StatusCode::OK,
            envelope_with_auth(&Value::Null, &warnings, Some(&auth)),
            namespace,
        ),
        Ok(Reply::Bare(value)) => json_response(StatusCode::OK, value.to_string(), namespace),
        Ok(Reply::BareWithStatus(status, value)) => {
            json_response(status, value.to_string(), namespace)
        }
        Ok(Reply::NoContent) => json_response(StatusCode::NO_CONTENT, String::new(), namespace),
        Err(error) => json_response(
            error.status,
            serde_json::json!({"errors": error.errors}).to_string(),
            namespace,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_envelope_keeps_vaults_key_order_and_nulls() {
        let body = envelope(&json!({"b": 1, "a": 2}), &[]);
        let keys: Vec<&str> = [
            "request_id",
            "lease_id",
            "renewable",
            "lease_duration",
            "data",
            "wrap_info",
            "warnings",
            "auth",
        ]
        .into_iter()
        .collect();
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| body.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
        assert!(body.contains(r#""data":{"a":2,"b":1}"#), "{body}");
        assert!(
            body.ends_with(r#""wrap_info":null,"warnings":null,"auth":null}"#),
            "{body}"
        );
    }

    #[test]
    fn entries_repeated_at_the_top_come_before_the_envelope() {
        let mut entries = serde_json::Map::new();
        entries.insert("token/".into(), json!({"type": "token"}));
        let response = respond(Ok(Reply::DataAlsoAtTop(entries)), None);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }

    #[test]
    fn multierror_text_matches_go() {
        assert_eq!(multierror("x"), "1 error occurred:\n\t* x\n\n");
    }
}
