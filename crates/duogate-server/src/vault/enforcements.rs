//! `identity/mfa/login-enforcement[/{name}]`: which logins need which methods
//! (`docs/vault-dialect.md` §4).
//!
//! Stored as `login_enforcement` integrations named by the enforcement name; the config holds
//! the five lists; the enforcement id is the integration id. Writes are 204 (create or
//! update); selectors omitted on an update keep their values, but every write must name at
//! least one selector. Method ids must exist in the same or an ancestor namespace; mount
//! accessors and types must be auth mounts (`sys/auth`) of the request namespace. Entity and
//! group ids are accepted as given (not empty): there is no identity store, because entities
//! and groups arrive with each login on a `trusted` mount (`entity_id`, `group_ids`); Vault
//! refuses ids its identity store does not hold. Reads, lists and deletes see the request
//! namespace only.

use serde_json::{Map, Value, json};

use duogate_store::integrations::{Integration, IntegrationKind, NewIntegration};
use duogate_store::{OptionalExt as _, StoreError};

use super::request::{Fields, Operation};
use super::response::{Reply, VaultError};
use super::{VaultCall, namespace_fields};

const SELECTORS: [&str; 4] = [
    "auth_method_accessors",
    "auth_method_types",
    "identity_group_ids",
    "identity_entity_ids",
];

fn enforcement_json(enforcement: &Integration, call: &VaultCall<'_>) -> Value {
    let (namespace_id, namespace_path) = namespace_fields(&call.tenant);
    let list = |field: &str| {
        enforcement.config[field]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    json!({
        "auth_method_accessors": list("auth_method_accessors"),
        "auth_method_types": list("auth_method_types"),
        "id": enforcement.id,
        "identity_entity_ids": list("identity_entity_ids"),
        "identity_group_ids": list("identity_group_ids"),
        "mfa_method_ids": list("mfa_method_ids"),
        "name": enforcement.name,
        "namespace_id": namespace_id,
        "namespace_path": namespace_path,
    })
}

/// `identity/mfa/login-enforcement`: LIST only.
pub(super) async fn collection(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    if call.op != Operation::List {
        return Err(VaultError::unsupported_operation());
    }
    let enforcements = call
        .state
        .store
        .list_integrations(&call.tenant.id, IntegrationKind::LoginEnforcement)
        .await?;
    if enforcements.is_empty() {
        return Err(VaultError::not_found());
    }
    let keys: Vec<&str> = enforcements.iter().map(|e| e.name.as_str()).collect();
    let key_info: Map<String, Value> = enforcements
        .iter()
        .map(|e| (e.name.clone(), enforcement_json(e, &call)))
        .collect();
    Ok(Reply::data(json!({"keys": keys, "key_info": key_info})))
}

/// `identity/mfa/login-enforcement/{name}`.
pub(super) async fn item(call: VaultCall<'_>, name: &str) -> Result<Reply, VaultError> {
    let existing = call
        .state
        .store
        .integration_named(&call.tenant.id, IntegrationKind::LoginEnforcement, name)
        .await
        .optional()?;
    match call.op {
        Operation::Read => existing
            .map(|e| Reply::data(enforcement_json(&e, &call)))
            .ok_or_else(VaultError::not_found),
        Operation::Update => write(call, name, existing).await,
        Operation::Delete => {
            if let Some(existing) = existing {
                match call.state.store.delete_integration(&existing.id).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(other) => return Err(other.into()),
                }
                call.audit("vault.enforcement.delete", name).await?;
            }
            Ok(Reply::NoContent)
        }
        Operation::List | Operation::Patch => Err(VaultError::unsupported_operation()),
    }
}

async fn write(
    call: VaultCall<'_>,
    name: &str,
    existing: Option<Integration>,
) -> Result<Reply, VaultError> {
    let mut fields = Fields::new(&call.data);
    let method_ids = fields.string_list("mfa_method_ids")?;
    let mut selectors = Vec::new();
    for selector in SELECTORS {
        selectors.push((selector, fields.string_list(selector)?));
    }
    let Some(method_ids) = method_ids else {
        return Err(VaultError::invalid("missing method ids"));
    };
    check_methods(&call, &method_ids).await?;
    check_selectors(&call, &selectors).await?;
    if selectors
        .iter()
        .all(|(_, values)| values.as_ref().is_none_or(Vec::is_empty))
    {
        return Err(VaultError::invalid(
            "One of auth_method_accessors, auth_method_types, identity_group_ids, \
             identity_entity_ids must be specified",
        ));
    }
    let mut config = existing
        .as_ref()
        .map(|e| e.config.clone())
        .unwrap_or_else(|| json!({}));
    config["mfa_method_ids"] = json!(method_ids);
    for (selector, values) in selectors {
        match values {
            Some(values) => config[selector] = json!(values),
            None if config.get(selector).is_none() => config[selector] = json!([]),
            None => {}
        }
    }
    let store = &call.state.store;
    match existing {
        Some(existing) => {
            store.update_integration(&existing.id, config, None).await?;
        }
        None => {
            store
                .create_integration(NewIntegration {
                    tenant_id: call.tenant.id.clone(),
                    kind: IntegrationKind::LoginEnforcement,
                    name: name.to_string(),
                    config,
                    secret: None,
                })
                .await?;
        }
    }
    call.audit("vault.enforcement.write", name).await?;
    Ok(Reply::NoContent)
}

async fn check_methods(call: &VaultCall<'_>, ids: &[String]) -> Result<(), VaultError> {
    for id in ids {
        let method = match call.state.store.integration(id).await {
            Ok(found) if found.kind == IntegrationKind::VaultMethod => found,
            Ok(_) | Err(StoreError::NotFound) => {
                return Err(VaultError::invalid(
                    "one of the provided method ids doesn't exist",
                ));
            }
            Err(other) => return Err(other.into()),
        };
        let owner = call.state.store.tenant_by_id(&method.tenant_id).await?;
        if !owner.path.is_same_or_ancestor_of(&call.tenant.path) {
            return Err(VaultError::invalid(
                "one of the provided method ids is in an incompatible namespace and can't be used",
            ));
        }
    }
    Ok(())
}

async fn check_selectors(
    call: &VaultCall<'_>,
    selectors: &[(&str, Option<Vec<String>>)],
) -> Result<(), VaultError> {
    let mounts = super::sys::tenant_mounts(call.state, &call.tenant).await?;
    for (selector, values) in selectors {
        let Some(values) = values else { continue };
        for value in values {
            let known = match *selector {
                "auth_method_accessors" => mounts.iter().any(|m| m.accessor == *value),
                "auth_method_types" => mounts.iter().any(|m| m.kind == *value),
                // Entities and groups come from the trusted application's login bodies; there
                // is no identity store to check them against.
                _ => !value.trim().is_empty(),
            };
            if !known {
                return Err(VaultError::invalid(match *selector {
                    "auth_method_accessors" => {
                        "one of the auth method accessors provided is invalid"
                    }
                    "auth_method_types" => "one of the auth method types provided is invalid",
                    "identity_group_ids" => "one of the provided group ids doesn't exist",
                    _ => "one of the provided entity ids doesn't exist",
                }));
            }
        }
    }
    Ok(())
}
