//! `sys/health`, `sys/seal-status`, `sys/leader`, `sys/init`, `sys/namespaces[/{name}]` and
//! `sys/auth[/{path}]`.
//!
//! `sealed` (health and seal status) is whether the database holds rows sealed under a key id
//! this instance's keyring lacks: one `SELECT DISTINCT` of the key ids per call
//! (`Store::seal_health`), so it turns true as soon as another instance seals under a newer key
//! and false once this one is restarted with it.
//!
//! Namespaces are tenants; a namespace is created and read relative to the request namespace
//! (`X-Vault-Namespace: ns1` + `POST sys/namespaces/ns2` makes `ns1/ns2/`). Auth mounts are
//! `auth_mount` integrations named by their path (`trusted/`); every namespace also has the
//! built-in `token/` mount, whose accessor is derived from the tenant id.

use serde_json::{Map, Value, json};
use sha2::Digest as _;

use duogate_store::StoreError;
use duogate_store::integrations::{IntegrationKind, NewIntegration};
use duogate_store::tenants::{Tenant, TenantPath};

use super::VaultCall;
use super::request::{Fields, Operation};
use super::response::{Reply, VaultError};
use crate::state::AppState;

/// The one auth method type that can be mounted: an application that has checked the first
/// factor itself logs users in through it (issue 4).
const MOUNTABLE_TYPE: &str = "trusted";

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "+duogate");

/// Whether rows are sealed under a key this instance lacks (logged with the key ids).
async fn sealed(state: &AppState) -> Result<bool, VaultError> {
    let health = state.store.seal_health().await?;
    if !health.is_ok() {
        tracing::warn!(
            missing = ?health.missing_key_ids,
            current = %health.current_key_id,
            "rows are sealed under keys this instance was not given: restart it with them"
        );
    }
    Ok(!health.is_ok())
}

/// `GET sys/health`: a bare status object, like Vault's (active); 503 with `sealed: true`
/// when this instance cannot open every sealed row.
pub(super) async fn health(state: &AppState, op: Operation) -> Result<Reply, VaultError> {
    if op != Operation::Read {
        return Err(VaultError::unsupported_operation());
    }
    let sealed = sealed(state).await?;
    let body = json!({
        "initialized": true,
        "sealed": sealed,
        "standby": false,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": jiff::Timestamp::now().as_second(),
        "version": VERSION,
        "cluster_name": "duogate",
        "cluster_id": state.cluster_id(),
    });
    Ok(if sealed {
        Reply::BareWithStatus(axum::http::StatusCode::SERVICE_UNAVAILABLE, body)
    } else {
        Reply::Bare(body)
    })
}

/// `GET sys/seal-status`: Vault's shape (OpenBao's `commit_date` too), for `bao status` and
/// hvac's `sys.read_seal_status()`.
pub(super) async fn seal_status(state: &AppState, op: Operation) -> Result<Reply, VaultError> {
    if op != Operation::Read {
        return Err(VaultError::unsupported_operation());
    }
    let storage_type = match state.store.engine() {
        duogate_store::Engine::Sqlite => "sqlite",
        duogate_store::Engine::Postgres => "postgresql",
    };
    Ok(Reply::Bare(json!({
        "type": "shamir",
        "initialized": true,
        "sealed": sealed(state).await?,
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": VERSION,
        "build_date": "",
        "commit_date": "",
        "migration": false,
        "cluster_name": "duogate",
        "cluster_id": state.cluster_id(),
        "recovery_seal": false,
        "storage_type": storage_type,
    })))
}

/// `GET sys/init`: always initialized (there is no init step; the first start mints the root
/// token).
pub(super) fn init(op: Operation) -> Result<Reply, VaultError> {
    if op != Operation::Read {
        return Err(VaultError::unsupported_operation());
    }
    Ok(Reply::Bare(json!({"initialized": true})))
}

/// `GET sys/leader`: not an HA cluster (every instance is active), as OpenBao's dev server
/// answers.
pub(super) fn leader(op: Operation) -> Result<Reply, VaultError> {
    if op != Operation::Read {
        return Err(VaultError::unsupported_operation());
    }
    Ok(Reply::Bare(json!({"ha_enabled": false})))
}

fn namespace_json(tenant: &Tenant) -> Value {
    json!({
        "custom_metadata": {},
        "id": tenant.id,
        "locked": false,
        "path": tenant.path.as_str(),
        "tainted": false,
        "uuid": tenant.id,
    })
}

/// The last segment of a tenant path, with its slash (`ns2/` for `ns1/ns2/`).
fn child_key(path: &TenantPath) -> String {
    let inner = path.as_str().trim_end_matches('/');
    format!("{}/", inner.rsplit('/').next().unwrap_or(inner))
}

/// `LIST sys/namespaces`: direct children of the request namespace.
pub(super) async fn namespaces(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    if call.op != Operation::List {
        return Err(VaultError::unsupported_operation());
    }
    let children: Vec<Tenant> = call
        .state
        .store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| t.path.parent().as_ref() == Some(&call.tenant.path))
        .collect();
    if children.is_empty() {
        return Err(VaultError::not_found());
    }
    let keys: Vec<String> = children.iter().map(|t| child_key(&t.path)).collect();
    let key_info: Map<String, Value> = children
        .iter()
        .map(|t| (child_key(&t.path), namespace_json(t)))
        .collect();
    Ok(Reply::data(json!({"keys": keys, "key_info": key_info})))
}

fn child_path(call: &VaultCall<'_>, name: &str) -> Result<TenantPath, VaultError> {
    let name = name.trim_end_matches('/');
    if name.contains('/') {
        return Err(VaultError::invalid("namespace name cannot contain /"));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(VaultError::invalid(format!(
            "{name:?} contains space characters that cannot be used in a namespace name"
        )));
    }
    TenantPath::parse(&format!("{}{name}", call.tenant.path.as_str()))
        .map_err(|e| VaultError::invalid(e.to_string().trim_start_matches("invalid ").to_string()))
}

/// `sys/namespaces/{name}`: create (POST), read (GET), delete (DELETE).
pub(super) async fn namespace(call: VaultCall<'_>, name: &str) -> Result<Reply, VaultError> {
    let path = child_path(&call, name)?;
    let store = &call.state.store;
    match call.op {
        Operation::Update => {
            if call.caller.tenant_id.is_some() {
                return Err(VaultError::permission_denied());
            }
            let tenant = match store.tenant(&path).await {
                Ok(existing) => existing,
                Err(StoreError::NotFound) => {
                    let created = store.create_tenant(&path).await?;
                    call.audit("tenant.create", path.as_str()).await?;
                    created
                }
                Err(other) => return Err(other.into()),
            };
            Ok(Reply::data(namespace_json(&tenant)))
        }
        Operation::Read => match store.tenant(&path).await {
            Ok(tenant) => Ok(Reply::data(namespace_json(&tenant))),
            Err(StoreError::NotFound) => Err(VaultError::not_found()),
            Err(other) => Err(other.into()),
        },
        Operation::Delete => {
            if call.caller.tenant_id.is_some() {
                return Err(VaultError::permission_denied());
            }
            match store.delete_tenant_and_contents(&path).await {
                Ok(()) => {
                    call.audit("tenant.delete", path.as_str()).await?;
                    Ok(Reply::data(json!({"status": "deleted"})))
                }
                Err(StoreError::NotFound) => Ok(Reply::NoContent),
                Err(StoreError::Conflict(_)) => Err(VaultError::invalid(format!(
                    "cannot delete namespace ({:?}) containing child namespaces",
                    path.as_str()
                ))),
                Err(other) => Err(other.into()),
            }
        }
        Operation::List | Operation::Patch => Err(VaultError::unsupported_operation()),
    }
}

/// An auth mount as enforcements see it.
#[derive(Debug, Clone)]
pub(crate) struct Mount {
    pub(crate) path: String,
    pub(crate) kind: String,
    pub(crate) accessor: String,
    description: String,
    uuid: String,
}

impl Mount {
    fn json(&self) -> Value {
        json!({
            "accessor": self.accessor,
            "config": {
                "default_lease_ttl": 0,
                "force_no_cache": false,
                "max_lease_ttl": 0,
                "token_type": "default-service",
            },
            "description": self.description,
            "external_entropy_access": false,
            "local": false,
            "options": {},
            "plugin_version": "",
            "running_plugin_version": concat!("v", env!("CARGO_PKG_VERSION"), "+duogate"),
            "running_sha256": "",
            "seal_wrap": false,
            "type": self.kind,
            "uuid": self.uuid,
        })
    }
}

fn token_mount(tenant: &Tenant) -> Mount {
    let digest = hex::encode(sha2::Sha256::digest(tenant.id.as_bytes()));
    Mount {
        path: "token/".into(),
        kind: "token".into(),
        accessor: format!("auth_token_{}", &digest[..8]),
        description: "token based credentials".into(),
        uuid: tenant.id.clone(),
    }
}

/// The auth mounts of a tenant, `token/` first.
pub(crate) async fn tenant_mounts(
    state: &AppState,
    tenant: &Tenant,
) -> Result<Vec<Mount>, VaultError> {
    let mut mounts = vec![token_mount(tenant)];
    for stored in state
        .store
        .list_integrations(&tenant.id, IntegrationKind::AuthMount)
        .await?
    {
        let text = |field: &str| stored.config[field].as_str().unwrap_or("").to_string();
        mounts.push(Mount {
            path: stored.name.clone(),
            kind: text("type"),
            accessor: text("accessor"),
            description: text("description"),
            uuid: stored.id.clone(),
        });
    }
    Ok(mounts)
}

/// `GET sys/auth`: every mount, in `data` and (as Vault does) also at the top level.
pub(super) async fn mounts(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    if call.op != Operation::Read {
        return Err(VaultError::unsupported_operation());
    }
    let entries: Map<String, Value> = tenant_mounts(call.state, &call.tenant)
        .await?
        .iter()
        .map(|m| (m.path.clone(), m.json()))
        .collect();
    Ok(Reply::DataAlsoAtTop(entries))
}

/// `sys/auth/{path}`: mount (POST) or unmount (DELETE).
pub(super) async fn mount(call: VaultCall<'_>, path: &str) -> Result<Reply, VaultError> {
    let path = format!("{}/", path.trim_matches('/'));
    let store = &call.state.store;
    match call.op {
        Operation::Update => {
            let mut fields = Fields::new(&call.data);
            let kind = fields.string("type")?.unwrap_or_default();
            let description = fields.string("description")?.unwrap_or_default();
            if kind != MOUNTABLE_TYPE {
                return Err(VaultError::invalid(format!(
                    "plugin not found in the catalog: {kind}"
                )));
            }
            let taken = tenant_mounts(call.state, &call.tenant)
                .await?
                .iter()
                .any(|m| m.path == path);
            if taken {
                return Err(VaultError::invalid(format!(
                    "path is already in use at {path}"
                )));
            }
            let random = uuid::Uuid::new_v4().simple().to_string();
            let accessor = format!("auth_{kind}_{}", &random[..8]);
            match store
                .create_integration(NewIntegration {
                    tenant_id: call.tenant.id.clone(),
                    kind: IntegrationKind::AuthMount,
                    name: path.clone(),
                    config: json!({"type": kind, "accessor": accessor, "description": description}),
                    secret: None,
                })
                .await
            {
                Ok(_) => {}
                Err(StoreError::Conflict(_)) => {
                    return Err(VaultError::invalid(format!(
                        "path is already in use at {path}"
                    )));
                }
                Err(other) => return Err(other.into()),
            }
            call.audit("vault.auth.enable", &path).await?;
            Ok(Reply::NoContent)
        }
        Operation::Delete => {
            if path == "token/" {
                return Err(VaultError::invalid(
                    "token credential backend cannot be disabled",
                ));
            }
            match store
                .integration_named(&call.tenant.id, IntegrationKind::AuthMount, &path)
                .await
            {
                Ok(found) => {
                    store.delete_integration(&found.id).await?;
                    call.audit("vault.auth.disable", &path).await?;
                }
                Err(StoreError::NotFound) => {}
                Err(other) => return Err(other.into()),
            }
            Ok(Reply::NoContent)
        }
        _ => Err(VaultError::unsupported_operation()),
    }
}
