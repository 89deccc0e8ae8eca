//! SVMs: duogate's tenants as ONTAP owners, and `GET /api/svm/svms[/{uuid}]`.
//!
//! Wire choices (where `docs/ontap-dialect.md` leaves room):
//! - An SVM's `uuid` is the tenant's id. Its `name` is the tenant path without the trailing
//!   slash (`eng/ops/` is `eng/ops`); the root tenant is the cluster (admin SVM) and is named
//!   `cluster`. A top-level tenant whose path is `cluster/` keeps its slash (`cluster/`) so the
//!   two names never collide. Resolving an `owner.name`: `cluster` is the root tenant, anything
//!   else is parsed as a tenant path (with or without the trailing slash).
//! - `GET /api/svm/svms` shows `uuid` and `name` by default (both identity fields), with the
//!   same `fields`, filters, `order_by` and paging as the Duo collections; the instance shows the
//!   same two fields and `_links`.
//! - A caller bound to a tenant sees only that SVM. An SVM it may not see answers exactly like
//!   one that does not exist (404 `4` on a path, `SVM "…" does not exist.` for an `owner` in a
//!   body).
//! - A POST without `owner` creates the object for the caller's own tenant when the caller is
//!   bound to one, else for the cluster.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use duogate_store::StoreError;
use duogate_store::tenants::{Tenant, TenantPath};
use duogate_store::tokens::Role;

use super::error::OntapError;
use super::input::OwnerRef;
use super::query::{Catalog, CollectionQuery, Field, InstanceQuery, Kind};
use super::reply::{Links, hal};
use super::{authorize, path_keys};
use crate::access::Caller;
use crate::state::AppState;

/// The SVM collection's path.
pub(crate) const SVMS_PATH: &str = "/api/svm/svms";

/// The root tenant's SVM name.
pub(crate) const CLUSTER_NAME: &str = "cluster";

/// The readable fields of an SVM.
pub(crate) const CATALOG: Catalog = Catalog {
    fields: &[
        Field {
            name: "uuid",
            kind: Kind::Text,
            identity: true,
        },
        Field {
            name: "name",
            kind: Kind::Text,
            identity: true,
        },
    ],
    write_only: &[],
    keys: &["uuid"],
};

/// The SVM name of a tenant.
pub(crate) fn svm_name(tenant: &Tenant) -> String {
    match tenant.path.as_str() {
        "" => CLUSTER_NAME.to_string(),
        "cluster/" => "cluster/".to_string(),
        path => path.trim_end_matches('/').to_string(),
    }
}

/// An SVM record, which is also the `owner` object of a profile or group.
pub(crate) fn owner_json(tenant: &Tenant) -> Value {
    json!({
        "uuid": tenant.id,
        "name": svm_name(tenant),
        "_links": {"self": {"href": format!("{SVMS_PATH}/{}", tenant.id)}},
    })
}

/// The tenants `caller` may see.
pub(crate) async fn visible_tenants(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<Tenant>, OntapError> {
    Ok(state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| caller.may_use_tenant(&t.id))
        .collect())
}

/// Every stored object of `kind` whose tenant `caller` may see, with that tenant.
pub(crate) async fn visible_objects(
    state: &AppState,
    caller: &Caller,
    kind: duogate_store::integrations::IntegrationKind,
) -> Result<Vec<(Tenant, duogate_store::integrations::Integration)>, OntapError> {
    let tenants = visible_tenants(state, caller).await?;
    Ok(state
        .store
        .list_integrations_of_kind(kind)
        .await?
        .into_iter()
        .filter_map(|stored| {
            let tenant = tenants.iter().find(|t| t.id == stored.tenant_id)?;
            Some((tenant.clone(), stored))
        })
        .collect())
}

/// The tenant with this id, when `caller` may see it.
async fn tenant_by_uuid(
    state: &AppState,
    caller: &Caller,
    uuid: &str,
) -> Result<Option<Tenant>, OntapError> {
    let Ok(uuid) = uuid::Uuid::parse_str(uuid.trim()) else {
        return Ok(None);
    };
    match state
        .store
        .tenant_by_id(&uuid.hyphenated().to_string())
        .await
    {
        Ok(tenant) if caller.may_use_tenant(&tenant.id) => Ok(Some(tenant)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The tenant an SVM name names, when `caller` may see it.
async fn tenant_by_name(
    state: &AppState,
    caller: &Caller,
    name: &str,
) -> Result<Option<Tenant>, OntapError> {
    let path = if name == CLUSTER_NAME {
        TenantPath::root()
    } else {
        match TenantPath::parse(name) {
            Ok(path) if path != TenantPath::root() => path,
            _ => return Ok(None),
        }
    };
    match state.store.tenant(&path).await {
        Ok(tenant) if caller.may_use_tenant(&tenant.id) => Ok(Some(tenant)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// The tenant of a `{owner.uuid}` path segment: 404 `4` when it does not exist or `caller` may
/// not see it.
pub(crate) async fn path_owner(
    state: &AppState,
    caller: &Caller,
    uuid: &str,
) -> Result<Tenant, OntapError> {
    tenant_by_uuid(state, caller, uuid)
        .await?
        .ok_or_else(OntapError::not_found)
}

/// The tenant a POST body's `owner` names (absent: the caller's tenant, else the cluster).
pub(crate) async fn body_owner(
    state: &AppState,
    caller: &Caller,
    owner: Option<&OwnerRef>,
) -> Result<Tenant, OntapError> {
    let Some(owner) = owner else {
        let tenant = match &caller.tenant_id {
            Some(id) => state.store.tenant_by_id(id).await?,
            None => state.store.root_tenant().await?,
        };
        return Ok(tenant);
    };
    let missing = |target: &str, given: &str| {
        OntapError::invalid(target, format!("SVM \"{given}\" does not exist."))
    };
    let by_uuid = match &owner.uuid {
        Some(uuid) => Some(
            tenant_by_uuid(state, caller, uuid)
                .await?
                .ok_or_else(|| missing("owner.uuid", uuid))?,
        ),
        None => None,
    };
    let by_name = match &owner.name {
        Some(name) => Some(
            tenant_by_name(state, caller, name)
                .await?
                .ok_or_else(|| missing("owner.name", name))?,
        ),
        None => None,
    };
    match (by_uuid, by_name) {
        (Some(a), Some(b)) if a.id != b.id => Err(OntapError::invalid(
            "owner",
            "\"owner.uuid\" and \"owner.name\" name different SVMs.",
        )),
        (Some(tenant), _) | (None, Some(tenant)) => Ok(tenant),
        (None, None) => Err(OntapError::invalid(
            "owner",
            "\"owner\" must give \"uuid\" or \"name\".",
        )),
    }
}

/// `GET /api/svm/svms`.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Reader).await?;
    let query = CollectionQuery::parse(&CATALOG, uri.query())?;
    let records = visible_tenants(&state, &caller)
        .await?
        .iter()
        .map(owner_json)
        .collect();
    let body = query.respond(&CATALOG, records, SVMS_PATH);
    Ok(hal(StatusCode::OK, &body, Links::from_headers(&headers)))
}

/// `GET /api/svm/svms/{uuid}`.
pub(super) async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Reader).await?;
    let query = InstanceQuery::parse(&CATALOG, uri.query())?;
    let tenant = path_owner(&state, &caller, &path_keys::<1>(&uri)?[0]).await?;
    let body = query.render(&CATALOG, &owner_json(&tenant));
    Ok(hal(StatusCode::OK, &body, Links::from_headers(&headers)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(path: &str) -> Tenant {
        Tenant {
            id: "0190c0de-0000-7000-8000-000000000000".into(),
            path: TenantPath::parse(path).unwrap(),
            created_at: 0,
        }
    }

    #[test]
    fn svm_names_are_paths_and_the_root_is_the_cluster() {
        assert_eq!(svm_name(&tenant("")), "cluster");
        assert_eq!(svm_name(&tenant("vs0")), "vs0");
        assert_eq!(svm_name(&tenant("eng/ops/")), "eng/ops");
        assert_eq!(svm_name(&tenant("cluster")), "cluster/");
    }
}
