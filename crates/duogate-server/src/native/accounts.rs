//! `accounts`: Basic-auth accounts for ONTAP clients. Passwords go in, never out.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

use duogate_store::accounts::Account;
use duogate_store::tokens::Role;

use super::extract::{NativeBody, NativePath};
use super::{ApiError, audit_write, caller, named_tenant, parse_body, require_unbound};
use crate::state::AppState;

fn account_json(account: &Account) -> Value {
    json!({"name": account.name, "role": account.role.as_str(), "tenant_id": account.tenant_id, "created_at": account.created_at})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAccount {
    name: String,
    password: SecretString,
    role: String,
    tenant: Option<String>,
}

pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativeBody(body): NativeBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    require_unbound(&caller)?;
    let input: NewAccount = parse_body(&body)?;
    let role = super::grantable_role(&input.role)?;
    let tenant = named_tenant(&state, input.tenant.as_deref()).await?;
    let account = state
        .store
        .create_account(
            &input.name,
            &input.password,
            role,
            tenant.as_ref().map(|t| t.id.as_str()),
        )
        .await?;
    audit_write(
        &state,
        &caller,
        "account.create",
        &account.name,
        json!({"role": role.as_str()}),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(account_json(&account))))
}

pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&state, &headers, Role::Reader).await?;
    let accounts: Vec<Value> = state
        .store
        .list_accounts()
        .await?
        .iter()
        .filter(|a| caller.tenant_id.is_none() || a.tenant_id == caller.tenant_id)
        .map(account_json)
        .collect();
    Ok(Json(json!({"accounts": accounts})))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(name): NativePath<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    require_unbound(&caller)?;
    state.store.delete_account(&name).await?;
    audit_write(&state, &caller, "account.delete", &name, json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
