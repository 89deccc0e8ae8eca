//! `tokens`: create (shown once) and revoke.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::{Value, json};

use duogate_store::tokens::Role;

use super::extract::{NativeBody, NativePath};
use super::{ApiError, audit_write, caller, named_tenant, parse_body, require_unbound};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewToken {
    role: String,
    tenant: Option<String>,
    ttl: Option<i64>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativeBody(body): NativeBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    let input: NewToken = parse_body(&body)?;
    let role = super::grantable_role(&input.role)?;
    let tenant = named_tenant(&state, input.tenant.as_deref()).await?;
    // A tenant-bound admin can only mint tokens bound to its own tenant.
    if let Some(bound) = &caller.tenant_id
        && tenant.as_ref().map(|t| &t.id) != Some(bound)
    {
        return Err(crate::access::Denied::Forbidden.into());
    }
    let (secret, token) = state
        .store
        .create_token(role, tenant.as_ref().map(|t| t.id.as_str()), input.ttl)
        .await?;
    audit_write(
        &state,
        &caller,
        "token.create",
        &token.accessor,
        json!({"role": role.as_str()}),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "token": secret.expose_secret(),
            "accessor": token.accessor,
            "role": role.as_str(),
            "tenant": tenant.map(|t| t.path.as_str().to_string()),
            "expires_at": token.expires_at,
        })),
    ))
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(accessor): NativePath<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    require_unbound(&caller)?;
    state.store.revoke_token(&accessor).await?;
    audit_write(&state, &caller, "token.revoke", &accessor, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
