//! `tenants`: list, create, delete.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use duogate_store::tenants::{Tenant, TenantPath};
use duogate_store::tokens::Role;

use super::extract::{NativeBody, NativePath};
use super::{ApiError, audit_write, caller, parse_body, require_unbound};
use crate::state::AppState;

pub(crate) fn tenant_json(tenant: &Tenant) -> Value {
    json!({"id": tenant.id, "path": tenant.path.as_str(), "created_at": tenant.created_at})
}

pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&state, &headers, Role::Reader).await?;
    let tenants: Vec<Value> = state
        .store
        .list_tenants()
        .await?
        .iter()
        .filter(|t| caller.may_use_tenant(&t.id))
        .map(tenant_json)
        .collect();
    Ok(Json(json!({"tenants": tenants})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTenant {
    path: String,
}

pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativeBody(body): NativeBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    require_unbound(&caller)?;
    let input: NewTenant = parse_body(&body)?;
    let path = TenantPath::parse(&input.path)?;
    if path == TenantPath::root() {
        return Err(ApiError::invalid("path: must not be empty"));
    }
    let tenant = state.store.create_tenant(&path).await?;
    audit_write(&state, &caller, "tenant.create", path.as_str(), json!({})).await?;
    Ok((StatusCode::CREATED, Json(tenant_json(&tenant))))
}

pub(super) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(path): NativePath<String>,
) -> Result<StatusCode, ApiError> {
    let caller = caller(&state, &headers, Role::Admin).await?;
    require_unbound(&caller)?;
    let path = TenantPath::parse(&path)?;
    state.store.delete_tenant(&path).await?;
    audit_write(&state, &caller, "tenant.delete", path.as_str(), json!({})).await?;
    Ok(StatusCode::NO_CONTENT)
}
