//! `sys/mfa/method/duo/{name}`: Vault Enterprise step-up methods (`docs/vault-dialect.md` §3), kept
//! in the root namespace as `stepup_method` integrations named by the method name.
//!
//! POST creates or fully replaces (204); GET reads `api_hostname, id, mount_accessor, name,
//! pushinfo, type, username_format` (never the keys); DELETE is 204 whether or not it existed.
//! `mount_accessor` is required and must be an auth mount of the root namespace.
//! `username_format` uses simple substitution (`{{alias.name}}`, …), applied at login.

use serde_json::json;

use duogate_store::integrations::{Integration, IntegrationKind, NewIntegration};
use duogate_store::tenants::TenantPath;
use duogate_store::{OptionalExt as _, StoreError};

use super::VaultCall;
use super::methods::duo_settings;
use super::request::{Fields, Operation};
use super::response::{Reply, VaultError};

fn stepup_json(method: &Integration) -> serde_json::Value {
    let text = |field: &str| method.config[field].as_str().unwrap_or("").to_string();
    json!({
        "api_hostname": text("api_hostname"),
        "id": method.id,
        "mount_accessor": text("mount_accessor"),
        "name": method.name,
        "pushinfo": text("push_info"),
        "type": "duo",
        "username_format": text("username_format"),
    })
}

/// `sys/mfa/method/duo/{name}`.
pub(super) async fn handle(call: VaultCall<'_>, name: &str) -> Result<Reply, VaultError> {
    if call.tenant.path != TenantPath::root() {
        return Err(VaultError::invalid(
            "step-up MFA methods can only be configured in the root namespace",
        ));
    }
    let store = &call.state.store;
    let existing = store
        .integration_named(&call.tenant.id, IntegrationKind::StepUpMethod, name)
        .await
        .optional()?;
    match call.op {
        Operation::Read => existing
            .map(|m| Reply::data(stepup_json(&m)))
            .ok_or_else(VaultError::not_found),
        Operation::Update => {
            let mut fields = Fields::new(&call.data);
            let mount_accessor = fields.string("mount_accessor")?.unwrap_or_default();
            let username_format = fields.string("username_format")?.unwrap_or_default();
            if mount_accessor.is_empty() {
                return Err(VaultError::invalid("mount_accessor is empty"));
            }
            let mounts = super::sys::tenant_mounts(call.state, &call.tenant).await?;
            if !mounts.iter().any(|m| m.accessor == mount_accessor) {
                return Err(VaultError::invalid(format!(
                    "invalid mount accessor {mount_accessor:?}"
                )));
            }
            let duo = duo_settings(call.state, &mut fields)?;
            let config = json!({
                "mount_accessor": mount_accessor,
                "username_format": username_format,
                "api_hostname": duo.api_hostname,
                "integration_key": duo.integration_key,
                "push_info": duo.push_info,
            });
            match existing {
                Some(existing) => {
                    store
                        .update_integration(&existing.id, config, Some(duo.secret_key))
                        .await?;
                }
                None => {
                    store
                        .create_integration(NewIntegration {
                            tenant_id: call.tenant.id.clone(),
                            kind: IntegrationKind::StepUpMethod,
                            name: name.to_string(),
                            config,
                            secret: Some(duo.secret_key),
                        })
                        .await?;
                }
            }
            call.audit("vault.stepup.write", name).await?;
            Ok(Reply::NoContent)
        }
        Operation::Delete => {
            if let Some(existing) = existing {
                match store.delete_integration(&existing.id).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(other) => return Err(other.into()),
                }
                call.audit("vault.stepup.delete", name).await?;
            }
            Ok(Reply::NoContent)
        }
        Operation::List | Operation::Patch => Err(VaultError::unsupported_operation()),
    }
}
