//! The Vault dialect under `/v1/`: Vault/OpenBao login MFA for Duo, Vault Enterprise step-up
//! methods, namespaces and auth mounts, wire-compatible with hvac, the Go `api` package and
//! terraform-provider-vault (`docs/vault-dialect.md`).
//!
//! | route | verbs | what |
//! |---|---|---|
//! | `sys/health` | GET, HEAD | bare status object; no token needed; 503 `sealed` when rows are sealed under a key this instance lacks |
//! | `sys/seal-status` | GET | Vault's seal status (`bao status`, hvac `read_seal_status`); no token needed |
//! | `sys/leader` | GET | `{"ha_enabled": false}` (every instance is active); no token needed |
//! | `sys/init` | GET | `{"initialized": true}` (hvac's `is_initialized`); no token needed |
//! | `sys/namespaces` | LIST | child namespaces of the request namespace |
//! | `sys/namespaces/{name}` | POST, GET, DELETE | a child namespace (a tenant) |
//! | `sys/auth` | GET | auth mounts of the namespace (`token/` always) |
//! | `sys/auth/{path}` | POST, DELETE | mount or unmount an auth method of type `trusted` |
//! | `identity/mfa/method/duo` | POST, LIST | create (upsert by `method_name`), list |
//! | `identity/mfa/method/duo/{id}` | GET, POST, DELETE | read, full-replace update, delete |
//! | `identity/mfa/method` | LIST | every method (only Duo exists here) |
//! | `identity/mfa/method/{id}` | GET | read any type |
//! | `identity/mfa/login-enforcement` | LIST | enforcements of the request namespace |
//! | `identity/mfa/login-enforcement/{name}` | GET, POST, DELETE | one enforcement |
//! | `sys/mfa/method/duo/{name}` | GET, POST, DELETE | step-up method (root namespace) |
//! | `auth/{mount}/login` | POST | a `trusted` mount's login (mfa token): auth block or `mfa_requirement` |
//! | `sys/mfa/validate` | POST | second phase of a login (no token) |
//! | `auth/token/lookup-self` | GET, POST | the calling token (any valid token) |
//!
//! Every response carries the logical route it was dispatched to (the table's first column,
//! e.g. `identity/mfa/method/duo/{id}`; [`logical_route`]) as a
//! [`crate::access_log::RouteLabel`] extension: the access log and the metrics name that
//! route, not the catch-all `/v1/{*path}` nor the raw path.
//!
//! Modules: `request` (verbs, namespaces, bodies, weak typing), `response` (envelopes and
//! the one error mapping), `methods`, `enforcements`, `stepup`, `sys`, `login` (two-phase
//! login MFA).
//!
//! Access: a token (`X-Vault-Token`, else `Authorization: Bearer`) is needed everywhere but
//! `sys/health`, `sys/seal-status`, `sys/leader`, `sys/init` and `sys/mfa/validate`. Reads and lists need the reader role, writes the admin
//! role; `auth/{mount}/login` needs the mfa role; `auth/token/lookup-self` any valid token. A missing, bad or insufficient token is 403 `permission denied`, checked
//! before the namespace is looked up, so nothing is revealed about what exists. A token bound
//! to a tenant acts only in that namespace.
//!
//! Namespaces are tenants: `X-Vault-Namespace` joined with a path prefix
//! (`/v1/ns1/identity/…`). An unknown namespace is 404 `namespace not found` (as OpenBao).
//! `namespace_id` is `root` for the root and the tenant's UUID otherwise (Vault prints a short
//! id; clients treat it as opaque).
//!
//! Choices where this dialect deliberately differs from Vault/OpenBao (their bugs from
//! `docs/vault-dialect.md` §10.15 are not copied):
//! - `api_hostname` is validated at write time (a hostname, or a loopback `http://` URL when
//!   the server allows plain-http Duo); Vault accepts any string and fails at login.
//! - `push_info` must be URL-encoded `key=value` pairs, checked at write time (vault#17583).
//! - A `method_name` never converts a method of another type (only Duo exists here).
//! - Checks run before anything is deleted, so a refused delete changes nothing.
//! - Deleting a namespace is synchronous: the answer's `status` is `deleted` (OpenBao answers
//!   `in-progress` and deletes in the background); a namespace with children is refused.
//! - Sealing: there is no unseal step (the seal keys are given at start, and a keyring that
//!   does not open the database is refused then). `sealed` in `sys/health` and
//!   `sys/seal-status` means that the database holds rows sealed under a key this instance was
//!   not given (another instance seals with a newer key; see `duogate_store::seal`): `sys/health`
//!   answers 503 then, so a load balancer takes the instance out until it is restarted with
//!   that key. `type` is `shamir` with `t = n = 1` and `progress` 0; `storage_type` is `sqlite`
//!   or `postgresql`; `sys/leader` says `ha_enabled: false` because every instance is active.
//! - Auth mounts: only type `trusted` exists (other types: `plugin not found in the catalog`).
//! - Login enforcements accept any (non-empty) `identity_entity_ids` and `identity_group_ids`:
//!   entities and groups are named by each login on a `trusted` mount, not kept in an identity
//!   store (Vault answers `one of the provided entity ids doesn't exist`).
//! - Step-up `sys/mfa/method/duo/{name}`: the read shows `api_hostname, id, mount_accessor,
//!   name, pushinfo, type, username_format` and never the keys; `mount_accessor` must name an
//!   auth mount of the root namespace.

mod enforcements;
mod login;
mod methods;
pub(crate) mod request;
pub(crate) mod response;
mod stepup;
mod sys;

use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};

use duogate_store::StoreError;
use duogate_store::tenants::{Tenant, TenantPath};
use duogate_store::tokens::Role;

use crate::access::{Caller, authenticate_token};
use crate::state::AppState;
use request::Operation;
use response::{Reply, VaultError, respond};

/// The Vault routes: every `/v1/…` path the native API does not own.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/v1", axum::routing::any(handle))
        .route("/v1/", axum::routing::any(handle))
        .route("/v1/{*path}", axum::routing::any(handle))
}

/// One parsed, authenticated request, as handlers see it.
pub(crate) struct VaultCall<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) caller: Caller,
    pub(crate) tenant: Tenant,
    pub(crate) op: Operation,
    pub(crate) data: Map<String, Value>,
    /// The client's address (the TCP peer).
    pub(crate) peer: Option<std::net::IpAddr>,
}

impl VaultCall<'_> {
    /// Appends an audit entry for a write.
    pub(crate) async fn audit(&self, action: &str, target: &str) -> Result<(), VaultError> {
        self.caller
            .audit(
                &self.state.store,
                action,
                target,
                json!({"namespace": self.tenant.path.as_str()}),
            )
            .await
            .map_err(VaultError::from)
    }
}

/// `namespace_id` and `namespace_path` of a tenant.
pub(crate) fn namespace_fields(tenant: &Tenant) -> (String, String) {
    if tenant.path == TenantPath::root() {
        ("root".into(), String::new())
    } else {
        (tenant.id.clone(), tenant.path.as_str().to_string())
    }
}

/// Request bodies above this are refused (Vault's default maximum).
const MAX_BODY: usize = 32 * 1024 * 1024;

async fn handle(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    // The peer, or the client a trusted proxy forwarded for.
    let peer = crate::client_address::current();
    let (parts, body) = request.into_parts();
    let namespace_header = parts.headers.get("x-vault-namespace").cloned();
    let mut logical = UNROUTED;
    let result = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => {
            dispatch(
                &state,
                &parts.method,
                &parts.uri,
                &parts.headers,
                &body,
                peer,
                &mut logical,
            )
            .await
        }
        Err(_) => Err(VaultError::invalid("the request body is too large")),
    };
    let mut response = respond(result, namespace_header.as_ref());
    response
        .extensions_mut()
        .insert(crate::access_log::RouteLabel::vault(logical));
    response
}

/// Every row of the dialect's table: [`logical_route`]'s templates (relative to `/v1/`) with
/// each verb they serve. Reads (`GET`, `LIST`) need a reader, writes an admin, logins an `mfa`
/// token, `lookup-self` any token; the `sys/health` family is open.
pub const ROUTES: &[crate::routes::RouteSpec] = {
    use crate::routes::{Access::*, row};
    &[
        row("GET", "sys/health", Open),
        row("GET", "sys/seal-status", Open),
        row("GET", "sys/leader", Open),
        row("GET", "sys/init", Open),
        row("POST", "sys/mfa/validate", Open),
        row("GET", "auth/token/lookup-self", AnyToken),
        row("POST", "auth/{mount}/login", Needs(Role::Mfa)),
        row("LIST", "sys/namespaces", Needs(Role::Reader)),
        row("GET", "sys/namespaces/{name}", Needs(Role::Reader)),
        row("POST", "sys/namespaces/{name}", Needs(Role::Admin)),
        row("DELETE", "sys/namespaces/{name}", Needs(Role::Admin)),
        row("GET", "sys/auth", Needs(Role::Reader)),
        row("GET", "sys/auth/{path}", Needs(Role::Reader)),
        row("POST", "sys/auth/{path}", Needs(Role::Admin)),
        row("DELETE", "sys/auth/{path}", Needs(Role::Admin)),
        row("GET", "sys/mfa/method/duo/{name}", Needs(Role::Reader)),
        row("POST", "sys/mfa/method/duo/{name}", Needs(Role::Admin)),
        row("DELETE", "sys/mfa/method/duo/{name}", Needs(Role::Admin)),
        row("LIST", "identity/mfa/method/duo", Needs(Role::Reader)),
        row("POST", "identity/mfa/method/duo", Needs(Role::Admin)),
        row("GET", "identity/mfa/method/duo/{id}", Needs(Role::Reader)),
        row("POST", "identity/mfa/method/duo/{id}", Needs(Role::Admin)),
        row("DELETE", "identity/mfa/method/duo/{id}", Needs(Role::Admin)),
        row("LIST", "identity/mfa/method", Needs(Role::Reader)),
        row("GET", "identity/mfa/method/{id}", Needs(Role::Reader)),
        row(
            "LIST",
            "identity/mfa/login-enforcement",
            Needs(Role::Reader),
        ),
        row(
            "GET",
            "identity/mfa/login-enforcement/{name}",
            Needs(Role::Reader),
        ),
        row(
            "POST",
            "identity/mfa/login-enforcement/{name}",
            Needs(Role::Admin),
        ),
        row(
            "DELETE",
            "identity/mfa/login-enforcement/{name}",
            Needs(Role::Admin),
        ),
    ]
};

/// The logical route of a request that never got as far as its path.
const UNROUTED: &str = "unrouted";

/// The logical route (a row of the module's table) that `segments` dispatch to, for the
/// access log and the metrics: a template, never the names or ids in the path. Paths no handler
/// serves are `unsupported`.
pub fn logical_route(segments: &[&str]) -> &'static str {
    match segments {
        ["sys", "health"] => "sys/health",
        ["sys", "seal-status"] => "sys/seal-status",
        ["sys", "leader"] => "sys/leader",
        ["sys", "init"] => "sys/init",
        ["sys", "mfa", "validate"] => "sys/mfa/validate",
        ["auth", "token", "lookup-self"] => "auth/token/lookup-self",
        ["auth", _, "login"] => "auth/{mount}/login",
        ["sys", "namespaces"] => "sys/namespaces",
        ["sys", "namespaces", ..] => "sys/namespaces/{name}",
        ["sys", "auth"] => "sys/auth",
        ["sys", "auth", ..] => "sys/auth/{path}",
        ["sys", "mfa", "method", "duo", _] => "sys/mfa/method/duo/{name}",
        ["identity", "mfa", "method", "duo"] => "identity/mfa/method/duo",
        ["identity", "mfa", "method", "duo", _] => "identity/mfa/method/duo/{id}",
        ["identity", "mfa", "method"] => "identity/mfa/method",
        ["identity", "mfa", "method", _] => "identity/mfa/method/{id}",
        ["identity", "mfa", "login-enforcement"] => "identity/mfa/login-enforcement",
        ["identity", "mfa", "login-enforcement", _] => "identity/mfa/login-enforcement/{name}",
        _ => "unsupported",
    }
}

/// The role a route needs: `None` for routes open to any valid token.
fn required_role(segments: &[&str], op: Operation) -> Option<Role> {
    match segments {
        ["auth", "token", "lookup-self"] => None,
        ["auth", _, "login"] => Some(Role::Mfa),
        _ if op.writes() => Some(Role::Admin),
        _ => Some(Role::Reader),
    }
}

async fn dispatch(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    peer: Option<std::net::IpAddr>,
    logical: &mut &'static str,
) -> Result<Reply, VaultError> {
    let raw = uri.path().strip_prefix("/v1").unwrap_or("");
    let rest = percent_encoding::percent_decode_str(raw.trim_start_matches('/'))
        .decode_utf8()
        .map_err(|_| VaultError::invalid("the path is not valid UTF-8"))?;
    let mut query = request::query_data(uri.query());
    let op = request::operation(method, &mut query)?;
    let split = request::split_path(&rest);
    let segments: Vec<&str> = split
        .api_path
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    *logical = logical_route(&segments);

    // Unauthenticated, as in Vault, and only at the root (no namespace prefix).
    if split.namespace_prefix.is_empty() {
        match segments.as_slice() {
            ["sys", "health"] => return sys::health(state, op).await,
            ["sys", "seal-status"] => return sys::seal_status(state, op).await,
            ["sys", "leader"] => return sys::leader(op),
            ["sys", "init"] => return sys::init(op),
            _ => {}
        }
    }

    // `sys/mfa/validate` is unauthenticated, as in Vault: the request id is the capability.
    let unauthenticated = segments == ["sys", "mfa", "validate"];
    // Vault speaks tokens only: Basic accounts (for ONTAP clients) are not credentials here.
    let caller = match authenticate_token(state, headers).await? {
        Ok(caller) => caller,
        Err(_) if unauthenticated => Caller {
            principal: "anonymous".into(),
            role: Role::Login,
            tenant_id: None,
        },
        Err(denied) => return Err(denied.into()),
    };
    if !unauthenticated && let Some(role) = required_role(&segments, op) {
        caller.require(role)?;
    }
    let tenant = request_tenant(state, &caller, headers, &split.namespace_prefix).await?;

    if op == Operation::Patch {
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/merge-patch+json") {
            return Err(VaultError {
                status: axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                errors: vec![format!(
                    "PATCH requires Content-Type of application/merge-patch+json, provided {content_type}"
                )],
            });
        }
    }
    if split.trailing_slash && matches!(op, Operation::Update | Operation::Patch) {
        return Err(VaultError::invalid("cannot write to a path ending in '/'"));
    }
    let data = match op {
        Operation::Update | Operation::Patch => {
            let content_type = headers
                .get(axum::http::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            request::body_data(content_type, body)?
        }
        _ => query,
    };
    let call = VaultCall {
        state,
        caller,
        tenant,
        op,
        data,
        peer,
    };
    // A list ignores its query parameters, and says so, as Vault does.
    let ignored: Vec<String> = match op {
        Operation::List => call.data.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut reply = route(call, &segments, headers).await?;
    if !ignored.is_empty()
        && let Reply::Data { warnings, .. } = &mut reply
    {
        warnings.push(format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            ignored.join(" ")
        ));
    }
    Ok(reply)
}

/// The namespace a request acts in: `X-Vault-Namespace` joined with the path prefix.
async fn request_tenant(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    prefix: &str,
) -> Result<Tenant, VaultError> {
    let header = headers
        .get("x-vault-namespace")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_matches('/');
    let joined = [header, prefix]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("/");
    let not_found = || {
        if caller.tenant_id.is_some() {
            VaultError::permission_denied()
        } else {
            VaultError {
                status: axum::http::StatusCode::NOT_FOUND,
                errors: vec!["namespace not found".into()],
            }
        }
    };
    let path = TenantPath::parse(&joined).map_err(|_| not_found())?;
    let tenant = match state.store.tenant(&path).await {
        Ok(tenant) => tenant,
        Err(StoreError::NotFound) => return Err(not_found()),
        Err(other) => return Err(other.into()),
    };
    if !caller.may_use_tenant(&tenant.id) {
        return Err(VaultError::permission_denied());
    }
    if caller.tenant_id.is_none() {
        crate::access_log::record_tenant(&tenant.id);
    }
    Ok(tenant)
}

async fn route(
    call: VaultCall<'_>,
    segments: &[&str],
    headers: &HeaderMap,
) -> Result<Reply, VaultError> {
    match segments {
        ["sys", "mfa", "validate"] => login::validate(call).await,
        ["auth", "token", "lookup-self"] => login::lookup_self(call, headers).await,
        ["auth", mount, "login"] => login::login(call, mount, headers).await,
        ["sys", "namespaces"] => sys::namespaces(call).await,
        ["sys", "namespaces", name @ ..] => sys::namespace(call, &name.join("/")).await,
        ["sys", "auth"] => sys::mounts(call).await,
        ["sys", "auth", path @ ..] if !path.is_empty() => sys::mount(call, &path.join("/")).await,
        ["sys", "mfa", "method", "duo", name] => stepup::handle(call, name).await,
        ["identity", "mfa", "method", "duo"] => methods::collection(call).await,
        ["identity", "mfa", "method", "duo", id] if request::is_lowercase_uuid(id) => {
            methods::item(call, id, true).await
        }
        ["identity", "mfa", "method"] => methods::list_all(call).await,
        ["identity", "mfa", "method", id] if request::is_lowercase_uuid(id) => {
            methods::item(call, id, false).await
        }
        ["identity", "mfa", "login-enforcement"] => enforcements::collection(call).await,
        ["identity", "mfa", "login-enforcement", name] if request::is_enforcement_name(name) => {
            enforcements::item(call, name).await
        }
        [first, ..] if ["sys", "identity", "auth"].contains(first) => {
            Err(VaultError::unsupported_path())
        }
        _ => Err(VaultError::no_handler(&segments.join("/"))),
    }
}

#[cfg(test)]
mod tests {
    use super::logical_route;

    #[test]
    fn logical_routes_are_templates_without_the_names_and_ids_of_the_path() {
        let id = "0f8e2c4e-3b51-4f1d-9a57-8a5b3f0e2d11";
        for (path, route) in [
            (vec!["sys", "health"], "sys/health"),
            (vec!["sys", "seal-status"], "sys/seal-status"),
            (
                vec!["identity", "mfa", "method", "duo", id],
                "identity/mfa/method/duo/{id}",
            ),
            (
                vec!["identity", "mfa", "method", id],
                "identity/mfa/method/{id}",
            ),
            (
                vec!["identity", "mfa", "login-enforcement", "corp"],
                "identity/mfa/login-enforcement/{name}",
            ),
            (
                vec!["sys", "namespaces", "team", "a"],
                "sys/namespaces/{name}",
            ),
            (vec!["auth", "userpass", "login"], "auth/{mount}/login"),
            (
                vec!["sys", "mfa", "method", "duo", "corp"],
                "sys/mfa/method/duo/{name}",
            ),
            (vec!["secret", "data", "corp"], "unsupported"),
        ] {
            assert_eq!(logical_route(&path), route, "{path:?}");
        }
    }
}
