//! `connections`: Admin API credentials (skey sealed), and running the Swimlane-shaped actions
//! with them.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use duo_client::actions::{self, ActionResult};
use duo_client::{ApiHost, ClientConfig, DuoClient, TlsMode};
use duogate_store::integrations::{Integration, IntegrationKind, NewIntegration};
use duogate_store::tokens::Role;
use duogate_store::{OptionalExt as _, StoreError};

use super::extract::{NativeBody, NativePath, NativeQuery};
use super::{ApiError, TenantQuery, acting_tenant, audit_write, caller, parse_body};
use crate::state::AppState;

/// A connection as written by clients.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConnectionInput {
    api_host: String,
    ikey: String,
    skey: Option<SecretString>,
    #[serde(default)]
    insecure: bool,
    timeout_secs: Option<u64>,
}

/// The stored, non-secret part.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ConnectionConfig {
    api_host: String,
    ikey: String,
    insecure: bool,
    timeout_secs: u64,
}

fn connection_json(integration: &Integration) -> Value {
    let mut value = integration.config.clone();
    value["name"] = json!(integration.name);
    value["skey_fingerprint"] = json!(integration.secret_fingerprint);
    value["updated_at"] = json!(integration.updated_at);
    value
}

fn validate(state: &AppState, input: &ConnectionInput) -> Result<ConnectionConfig, ApiError> {
    crate::names::check_host(&input.api_host)
        .map_err(|e| ApiError::invalid(format!("api_host: {e}")))?;
    let host =
        ApiHost::parse(&input.api_host).map_err(|e| ApiError::invalid(format!("api_host: {e}")))?;
    if host.is_plain_http() && !state.settings.allow_plain_http_duo {
        return Err(ApiError::invalid(
            "api_host: plain http Duo endpoints are not allowed on this server",
        ));
    }
    if input.ikey.trim().is_empty() {
        return Err(ApiError::invalid("ikey: must not be empty"));
    }
    // As the other dialects: 1 to 256 printable characters without spaces (never echoed).
    if let Some(skey) = &input.skey {
        let skey = skey.expose_secret();
        if !(1..=256).contains(&skey.len()) || !skey.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ApiError::invalid(
                "skey: 1 to 256 printable characters without spaces",
            ));
        }
    }
    let timeout_secs = input.timeout_secs.unwrap_or(30);
    if !(1..=600).contains(&timeout_secs) {
        return Err(ApiError::invalid("timeout_secs: must be 1..600"));
    }
    Ok(ConnectionConfig {
        api_host: input.api_host.trim().to_string(),
        ikey: input.ikey.trim().to_string(),
        insecure: input.insecure,
        timeout_secs,
    })
}

pub(super) async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(name): NativePath<String>,
    NativeQuery(query): NativeQuery<TenantQuery>,
    NativeBody(body): NativeBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    let tenant = acting_tenant(&state, &caller, &query).await?;
    let input: ConnectionInput = parse_body(&body)?;
    let config = validate(&state, &input)?;
    let config_json = serde_json::to_value(&config).unwrap_or(Value::Null);
    let existing = state
        .store
        .integration_named(&tenant.id, IntegrationKind::Connection, &name)
        .await
        .optional()?;
    let (status, stored) = match existing {
        Some(found) => {
            let stored = state
                .store
                .update_integration(&found.id, config_json, input.skey)
                .await?;
            (StatusCode::OK, stored)
        }
        None => {
            let Some(skey) = input.skey else {
                return Err(ApiError::invalid(
                    "skey: required when creating a connection",
                ));
            };
            let stored = state
                .store
                .create_integration(NewIntegration {
                    tenant_id: tenant.id.clone(),
                    kind: IntegrationKind::Connection,
                    name: name.clone(),
                    config: config_json,
                    secret: Some(skey),
                })
                .await?;
            (StatusCode::CREATED, stored)
        }
    };
    audit_write(
        &state,
        &caller,
        "connection.put",
        &name,
        json!({"tenant": tenant.path.as_str()}),
    )
    .await?;
    Ok((status, Json(connection_json(&stored))))
}

async fn find(state: &AppState, tenant_id: &str, name: &str) -> Result<Integration, ApiError> {
    state
        .store
        .integration_named(tenant_id, IntegrationKind::Connection, name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(format!("no connection {name:?}")),
            other => other.into(),
        })
}

pub(super) async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(name): NativePath<String>,
    NativeQuery(query): NativeQuery<TenantQuery>,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&state, &headers, Role::Reader).await?;
    let tenant = acting_tenant(&state, &caller, &query).await?;
    Ok(Json(connection_json(
        &find(&state, &tenant.id, &name).await?,
    )))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(name): NativePath<String>,
    NativeQuery(query): NativeQuery<TenantQuery>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    let tenant = acting_tenant(&state, &caller, &query).await?;
    let found = find(&state, &tenant.id, &name).await?;
    state.store.delete_integration(&found.id).await?;
    audit_write(
        &state,
        &caller,
        "connection.delete",
        &name,
        json!({"tenant": tenant.path.as_str()}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn run_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath((name, action)): NativePath<(String, String)>,
    NativeQuery(query): NativeQuery<TenantQuery>,
    NativeBody(body): NativeBody,
) -> Result<Json<ActionResult>, ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    let tenant = acting_tenant(&state, &caller, &query).await?;
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        parse_body(&body)?
    };
    // Validate before touching Duo: a bad input sends nothing.
    crate::names::check_duo_ids(&input).map_err(ApiError::invalid)?;
    let call = actions::plan(&action, &input)?;
    let stored = find(&state, &tenant.id, &name).await?;
    let config: ConnectionConfig = serde_json::from_value(stored.config.clone())
        .map_err(|_| ApiError::from(StoreError::Invalid("stored connection".into())))?;
    let skey = state
        .store
        .integration_secret(&stored.id)
        .await?
        .ok_or_else(|| {
            ApiError::from(StoreError::Invalid("stored connection has no skey".into()))
        })?;
    let host = ApiHost::parse(&config.api_host)
        .map_err(|e| ApiError::invalid(format!("api_host: {e}")))?;
    let mut client_config = ClientConfig::new(host, config.ikey.clone(), skey);
    client_config.timeout = Duration::from_secs(config.timeout_secs);
    if config.insecure {
        client_config.tls = TlsMode::Insecure;
    }
    let client = DuoClient::new(client_config).map_err(|e| ApiError::invalid(e.to_string()))?;
    let raw = client
        .call_raw(call.method, &call.path, &call.params)
        .await
        .map_err(|e| ApiError {
            status: StatusCode::BAD_GATEWAY,
            code: "duo_unreachable",
            message: e.to_string(),
        })?;
    let result = ActionResult::from_response(raw.status, &raw.reason, &raw.body);
    state.metrics.count_action(&action, result.status_code);
    audit_write(
        &state,
        &caller,
        "connection.action",
        &format!("{name}/{action}"),
        json!({"status_code": result.status_code, "warnings": call.warnings}),
    )
    .await?;
    Ok(Json(result))
}
