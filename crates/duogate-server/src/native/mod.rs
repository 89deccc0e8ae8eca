//! The native API under `/v1/duogate/`: our own JSON, described for clients by the OpenAPI
//! document served at `GET openapi.json`; this table is the summary for readers of the code.
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET health` | none | `{"status": "ok", "database": "sqlite", "seal": {"key_id", "missing_key_ids": []}}`; 503 with `status` `seal_key_missing` (rows are sealed under keys this instance was not given, named in `missing_key_ids`) or `database_unavailable` |
//! | `GET status[?refresh=true]` | reader (admin with `refresh`) | `{version, database, tenants, integrations: {kind: count}, reachability: [{id, kind, tenant, name, status}], checked_at, age_secs}`: the last background probe of every stored Duo endpoint (`OK` or the error; `checked_at` Unix seconds, `null` before the first); `refresh=true` probes now (`crate::reachability`) |
//! | `GET openapi.json` | none | the OpenAPI 3.1 document of these routes |
//! | `GET tenants` | reader | `{"tenants": [{id, path, created_at}]}` |
//! | `POST tenants` `{"path"}` | admin | 201 with the tenant; the parent must exist |
//! | `DELETE tenants/{path}` | admin | 204; 409 while it has children or integrations |
//! | `POST tokens` `{"role", "tenant"?, "ttl"?}` | admin | 201 `{token, accessor, role, tenant, expires_at}`; the token is shown once |
//! | `DELETE tokens/{accessor}` | admin | 204 |
//! | `GET accounts` | reader | `{"accounts": [{name, role, tenant_id, created_at}]}` |
//! | `POST accounts` `{"name", "password", "role", "tenant"?}` | admin | 201; the password (≥ 12 characters) is stored as an argon2id hash |
//! | `DELETE accounts/{name}` | admin | 204 |
//! | `PUT connections/{name}` `{"api_host", "ikey", "skey"?, "insecure"?, "timeout_secs"?}` | admin | Admin API credentials, skey sealed; 201 created, 200 replaced (skey kept when omitted) |
//! | `GET connections/{name}` | reader | the connection with `skey_fingerprint`, never the skey |
//! | `DELETE connections/{name}` | admin | 204 |
//! | `POST connections/{name}/actions/{action}` | admin | runs a Swimlane-shaped action: 200 `{status_code, reason, json_body}` whatever Duo answered; 400 naming the field for bad input (nothing sent); 502 when Duo cannot be reached |
//! | `POST check` `{method\|profile, username, passcode?, factor?, device?, ipaddr?, groups?, async?}` | mfa | the second factor: 200 `{result, reason, status_msg, detail?}`; with `async` 202 `{txid}` |
//! | `GET check/{txid}` | mfa | an asynchronous check: `result` is `waiting` until decided |
//! | `GET audit?limit=N` | reader (unbound) | `{"entries": [...]}`, newest first; `N` is 0 (no entries) to 1000 (more reads as 1000), default 100 |
//!
//! Tenants: a request acts in the tenant named by `?tenant=PATH` (default: the root tenant); a
//! token bound to a tenant acts only there (403 elsewhere). Errors:
//! `{"error": {"code", "message"}}`; missing or invalid credentials (a token, or Basic auth for an
//! account) are 401 and reveal nothing about what exists. A query string that does not parse
//! (`audit?limit=-1`) is 400 `invalid` and a body over 2 MB is 413 `too_large`, in the same
//! envelope (`native/extract.rs`); so is any path under `/v1/duogate/` that is not a route (404),
//! including `tenants/` with an empty path.

mod accounts;
mod check;
mod connections;
mod error;
mod extract;
mod tenants;
mod tokens;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use duogate_store::tenants::{Tenant, TenantPath};
use duogate_store::tokens::Role;

pub use error::ApiError;

use extract::NativeQuery;

use crate::access::{Caller, authenticate};
use crate::state::AppState;

/// Every row of [`router`]'s table (paths relative to `/v1/duogate`). `actions/{action}` needs
/// a reader for read actions and an admin for the others; `status?refresh=true` an admin.
pub const ROUTES: &[crate::routes::RouteSpec] = {
    use crate::routes::{Access::*, row};
    &[
        row("GET", "/health", Open),
        row("GET", "/status", Needs(Role::Reader)),
        row("GET", "/openapi.json", Open),
        row("GET", "/tenants", Needs(Role::Reader)),
        row("POST", "/tenants", Needs(Role::Admin)),
        row("DELETE", "/tenants/{*path}", Needs(Role::Admin)),
        row("GET", "/accounts", Needs(Role::Reader)),
        row("POST", "/accounts", Needs(Role::Admin)),
        row("DELETE", "/accounts/{name}", Needs(Role::Admin)),
        row("POST", "/tokens", Needs(Role::Admin)),
        row("DELETE", "/tokens/{accessor}", Needs(Role::Admin)),
        row("GET", "/connections/{name}", Needs(Role::Reader)),
        row("PUT", "/connections/{name}", Needs(Role::Admin)),
        row("DELETE", "/connections/{name}", Needs(Role::Admin)),
        row(
            "POST",
            "/connections/{name}/actions/{action}",
            Needs(Role::Reader),
        ),
        row("POST", "/check", Needs(Role::Mfa)),
        row("GET", "/check/{txid}", Needs(Role::Mfa)),
        row("GET", "/audit", Needs(Role::Reader)),
    ]
};

/// The native routes, to be nested under `/v1/duogate`.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/openapi.json", get(openapi))
        .route("/tenants", get(tenants::list).post(tenants::create))
        .route("/tenants/{*path}", delete(tenants::remove))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/{name}", delete(accounts::remove))
        .route("/tokens", post(tokens::create))
        .route("/tokens/{accessor}", delete(tokens::revoke))
        .route(
            "/connections/{name}",
            get(connections::read)
                .put(connections::put)
                .delete(connections::remove),
        )
        .route(
            "/connections/{name}/actions/{action}",
            post(connections::run_action),
        )
        .route("/check", post(check::check))
        .route("/check/{txid}", get(check::status))
        .route("/audit", get(audit))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        // `tenants/{*path}` cannot match an empty path, which would otherwise reach the Vault
        // dialect's catch-all under `/v1/`: it is no endpoint here either.
        .route(
            "/tenants/",
            axum::routing::any(|| async { ApiError::not_found("no such endpoint") }),
        )
}

/// Liveness, and whether this instance opens every sealed row: one `SELECT DISTINCT` of the
/// key ids of sealed rows per call (`Store::seal_health`), so an instance left on an old key
/// while another seals under a new one answers 503 until it is restarted with that key.
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match state.store.engine() {
        duogate_store::Engine::Sqlite => "sqlite",
        duogate_store::Engine::Postgres => "postgres",
    };
    match state.store.seal_health().await {
        Ok(seal) => {
            let body = |status: &str| {
                json!({
                    "status": status,
                    "database": database,
                    "seal": {"key_id": seal.current_key_id, "missing_key_ids": seal.missing_key_ids},
                })
            };
            if seal.is_ok() {
                (StatusCode::OK, Json(body("ok")))
            } else {
                tracing::warn!(
                    missing = ?seal.missing_key_ids,
                    "rows are sealed under keys this instance was not given: restart it with them"
                );
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(body("seal_key_missing")),
                )
            }
        }
        Err(error) => {
            tracing::error!(%error, "health: the database cannot be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "database_unavailable", "database": database})),
            )
        }
    }
}

/// The OpenAPI document, kept as a golden file (`openapi.json` beside this module; the test
/// `tests/openapi.rs` checks it against the routes).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> axum::response::Response {
    axum::response::IntoResponse::into_response((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    ))
}

/// `?refresh=true` on `GET status`.
#[derive(Debug, Deserialize, Default)]
struct StatusQuery {
    #[serde(default)]
    refresh: bool,
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativeQuery(query): NativeQuery<StatusQuery>,
) -> Result<Json<Value>, ApiError> {
    // Reading the last probes is a reader's right; making Duo calls now is an admin's.
    let needed = if query.refresh {
        Role::Admin
    } else {
        Role::Reader
    };
    let caller = caller(&state, &headers, needed).await?;
    require_unbound(&caller)?;
    let database = match state.store.engine() {
        duogate_store::Engine::Sqlite => "sqlite",
        duogate_store::Engine::Postgres => "postgres",
    };
    let snapshot = if query.refresh {
        Some(state.reachability.refresh(&state).await?)
    } else {
        state.reachability.latest()
    };
    let tenants = state.store.list_tenants().await?.len();
    let integrations: serde_json::Map<String, Value> = state
        .store
        .integration_counts()
        .await?
        .into_iter()
        .map(|(kind, n)| (kind.as_str().to_string(), json!(n)))
        .collect();
    let (reachability, checked_at, age_secs) = match &snapshot {
        Some(snapshot) => (
            snapshot.entries.clone(),
            json!(snapshot.checked_at),
            json!(snapshot.finished.elapsed().as_secs()),
        ),
        None => (Vec::new(), Value::Null, Value::Null),
    };
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "database": database,
        "tenants": tenants,
        "integrations": integrations,
        "reachability": reachability,
        "checked_at": checked_at,
        "age_secs": age_secs,
    })))
}

/// The authenticated caller, with `role`.
pub(crate) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
) -> Result<Caller, ApiError> {
    let caller = authenticate(state, headers).await??;
    caller.require(role)?;
    Ok(caller)
}

/// `?tenant=PATH`.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct TenantQuery {
    tenant: Option<String>,
}

/// The tenant a request acts in, checked against the caller's binding.
pub(crate) async fn acting_tenant(
    state: &AppState,
    caller: &Caller,
    query: &TenantQuery,
) -> Result<Tenant, ApiError> {
    let path = TenantPath::parse(query.tenant.as_deref().unwrap_or(""))?;
    let tenant = state.store.tenant(&path).await.map_err(|e| match e {
        duogate_store::StoreError::NotFound => {
            ApiError::not_found(format!("no tenant {:?}", path.as_str()))
        }
        other => other.into(),
    })?;
    if !caller.may_use_tenant(&tenant.id) {
        return Err(crate::access::Denied::Forbidden.into());
    }
    Ok(tenant)
}

/// Parses a JSON body; the error names what is wrong.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("body: {e}")))
}

/// The tenant an input names, if it names one (`400` when it does not exist).
pub(crate) async fn named_tenant(
    state: &AppState,
    path: Option<&str>,
) -> Result<Option<Tenant>, ApiError> {
    let Some(path) = path else {
        return Ok(None);
    };
    match state.store.tenant(&TenantPath::parse(path)?).await {
        Ok(tenant) => Ok(Some(tenant)),
        Err(duogate_store::StoreError::NotFound) => {
            Err(ApiError::invalid(format!("tenant: no tenant {path:?}")))
        }
        Err(other) => Err(other.into()),
    }
}

/// A role an API token or account may have (login tokens come only from logins).
pub(crate) fn grantable_role(text: &str) -> Result<Role, ApiError> {
    match Role::parse(text)? {
        Role::Login => Err(ApiError::invalid(
            "role \"login\": use admin, reader or mfa (login tokens come from logins)",
        )),
        role => Ok(role),
    }
}

/// Refuses callers bound to a tenant (for operations on the whole service).
pub(crate) fn require_unbound(caller: &Caller) -> Result<(), ApiError> {
    match caller.tenant_id {
        Some(_) => Err(crate::access::Denied::Forbidden.into()),
        None => Ok(()),
    }
}

/// Appends an audit entry; a failure to audit fails the request (nothing unaudited happens
/// silently).
pub(crate) async fn audit_write(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<(), ApiError> {
    Ok(caller.audit(&state.store, action, target, detail).await?)
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    limit: Option<u32>,
}

async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativeQuery(query): NativeQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    // The log spans every tenant: callers bound to one may not read it.
    let caller = caller(&state, &headers, Role::Reader).await?;
    require_unbound(&caller)?;
    // `limit=0` asks for no entries; above 1000 reads 1000.
    let limit = query.limit.unwrap_or(100).min(1000);
    if limit == 0 {
        return Ok(Json(json!({"entries": []})));
    }
    let entries: Vec<Value> = state
        .store
        .recent_audit(limit)
        .await?
        .into_iter()
        .map(|e| json!({"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target, "detail": e.detail}))
        .collect();
    Ok(Json(json!({"entries": entries})))
}
