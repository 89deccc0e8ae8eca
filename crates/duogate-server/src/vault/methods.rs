//! `identity/mfa/method/duo[/{id}]` and `identity/mfa/method[/{id}]`: login-MFA Duo methods.
//!
//! Stored as `vault_method` integrations: the skey sealed, everything else in `config`
//! (`method_name, api_hostname, integration_key, push_info, use_passcode, username_format`).
//! The integration's unique `name` is the `method_name`, or `unnamed:<uuid>` while it has none.
//! Method ids are the integrations' ids (lowercase UUIDs).
//!
//! Semantics as Vault's (`docs/vault-dialect.md` §2): create 200 `{method_id}` (an existing
//! `method_name` is upserted and keeps its id), update 204 as a full replace of the Duo part
//! (`push_info`/`use_passcode` reset when omitted, `username_format`/`method_name` kept),
//! update or delete of an unknown id 204, read 404 `[]` when unknown, list 404 `[]` when empty,
//! reads show `pushinfo` and never the keys. Namespaces: read = same, ancestor or descendant;
//! list = same and ancestors; write and delete = same only.

use secrecy::SecretString;
use serde_json::{Map, Value, json};

use duo_client::ApiHost;
use duogate_store::integrations::{Integration, IntegrationKind, NewIntegration};
use duogate_store::tenants::Tenant;
use duogate_store::{OptionalExt as _, StoreError};

use super::request::{Fields, Operation};
use super::response::{Reply, VaultError};
use super::{VaultCall, namespace_fields};
use crate::state::AppState;

const NAMESPACE_MISMATCH: &str = "request namespace does not match method namespace";

/// The Duo part every method write carries (login MFA and step-up alike).
pub(super) struct DuoSettings {
    pub(super) secret_key: SecretString,
    pub(super) integration_key: String,
    pub(super) api_hostname: String,
    pub(super) push_info: String,
}

/// Checks `push_info`: URL-encoded `key=value` pairs joined by `&` (or empty), because Duo
/// refuses anything else at push time.
pub(super) fn check_push_info(push_info: &str) -> Result<(), VaultError> {
    if push_info.is_empty() {
        return Ok(());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~%+".contains(c);
    let escapes_valid = |text: &str| {
        let bytes = text.as_bytes();
        bytes.iter().enumerate().all(|(i, b)| {
            *b != b'%'
                || bytes
                    .get(i + 1..i + 3)
                    .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        }) && percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .is_ok()
    };
    let valid = push_info.split('&').all(|pair| {
        pair.split_once('=').is_some_and(|(key, value)| {
            !key.is_empty() && key.chars().all(allowed) && value.chars().all(allowed)
        }) && escapes_valid(pair)
    });
    if valid {
        Ok(())
    } else {
        Err(VaultError::invalid(
            "push_info must be URL-encoded key=value pairs joined by '&', e.g. \
             from=vault&domain=example.com (Duo rejects anything else)",
        ))
    }
}

/// Reads and checks the Duo part in Vault's order: `secret_key`, `integration_key`,
/// `api_hostname`, then our own checks of the hostname and `push_info`.
pub(super) fn duo_settings(
    state: &AppState,
    fields: &mut Fields<'_>,
) -> Result<DuoSettings, VaultError> {
    let secret_key = fields.string("secret_key")?.unwrap_or_default();
    let integration_key = fields.string("integration_key")?.unwrap_or_default();
    let api_hostname = fields.string("api_hostname")?.unwrap_or_default();
    let push_info = fields.string("push_info")?.unwrap_or_default();
    if secret_key.is_empty() {
        return Err(VaultError::invalid("secret_key is empty"));
    }
    if integration_key.is_empty() {
        return Err(VaultError::invalid("integration_key is empty"));
    }
    if api_hostname.is_empty() {
        return Err(VaultError::invalid("api_hostname is empty"));
    }
    crate::names::check_host(&api_hostname)
        .map_err(|e| VaultError::invalid(format!("api_hostname: {e}")))?;
    let host = ApiHost::parse(&api_hostname)
        .map_err(|e| VaultError::invalid(format!("api_hostname: {e}")))?;
    if host.is_plain_http() && !state.settings.allow_plain_http_duo {
        return Err(VaultError::invalid(
            "api_hostname: plain http Duo endpoints are not allowed on this server",
        ));
    }
    check_push_info(&push_info)?;
    Ok(DuoSettings {
        secret_key: SecretString::from(secret_key),
        integration_key,
        api_hostname: api_hostname.trim().to_string(),
        push_info,
    })
}

fn unnamed() -> String {
    format!("unnamed:{}", uuid::Uuid::new_v4())
}

/// The read map (`docs/vault-dialect.md` §2.4).
fn method_json(method: &Integration, tenant: &Tenant) -> Value {
    let config = &method.config;
    let (namespace_id, namespace_path) = namespace_fields(tenant);
    json!({
        "api_hostname": config["api_hostname"],
        "id": method.id,
        "mount_accessor": "",
        "name": config["method_name"].as_str().unwrap_or(""),
        "namespace_id": namespace_id,
        "namespace_path": namespace_path,
        "pushinfo": config["push_info"].as_str().unwrap_or(""),
        "type": "duo",
        "use_passcode": config["use_passcode"].as_bool().unwrap_or(false),
        "username_format": config["username_format"].as_str().unwrap_or(""),
    })
}

/// A stored Vault method by id, or `None` (unknown ids, and ids of other kinds).
async fn find(state: &AppState, id: &str) -> Result<Option<Integration>, VaultError> {
    match state.store.integration(id).await {
        Ok(found) if found.kind == IntegrationKind::VaultMethod => Ok(Some(found)),
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// `identity/mfa/method/duo`: create (POST/PUT) or list (LIST).
pub(super) async fn collection(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    match call.op {
        Operation::Update => create(call).await,
        Operation::List => list(&call).await,
        Operation::Read | Operation::Delete | Operation::Patch => {
            Err(VaultError::unsupported_operation())
        }
    }
}

/// `identity/mfa/method`: LIST only.
pub(super) async fn list_all(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    match call.op {
        Operation::List => list(&call).await,
        _ => Err(VaultError::unsupported_operation()),
    }
}

/// `identity/mfa/method/duo/{id}` (`typed`) and `identity/mfa/method/{id}`.
pub(super) async fn item(call: VaultCall<'_>, id: &str, typed: bool) -> Result<Reply, VaultError> {
    match (call.op, typed) {
        (Operation::Read, _) => read(&call, id).await,
        (Operation::Update, true) => update(call, id).await,
        (Operation::Delete, true) => delete(&call, id).await,
        _ => Err(VaultError::unsupported_operation()),
    }
}

struct MethodInput {
    duo: DuoSettings,
    method_name: Option<String>,
    use_passcode: bool,
    username_format: Option<String>,
}

fn config_of(input: &MethodInput, previous: Option<&Value>) -> Value {
    let kept = |field: &str| {
        previous
            .and_then(|p| p[field].as_str())
            .unwrap_or("")
            .to_string()
    };
    json!({
        "method_name": input.method_name.clone().unwrap_or_else(|| kept("method_name")),
        "api_hostname": input.duo.api_hostname,
        "integration_key": input.duo.integration_key,
        "push_info": input.duo.push_info,
        "use_passcode": input.use_passcode,
        "username_format": input.username_format.clone().unwrap_or_else(|| kept("username_format")),
    })
}

fn read_input(
    state: &AppState,
    data: &Map<String, Value>,
) -> Result<(MethodInput, Option<String>), VaultError> {
    let mut fields = Fields::new(data);
    fields.has("method_id");
    let method_name = fields.string("method_name")?;
    let use_passcode = fields.boolean("use_passcode")?.unwrap_or(false);
    let username_format = fields.string("username_format")?;
    let duo = duo_settings(state, &mut fields)?;
    let warning = fields.unknown_fields_warning();
    Ok((
        MethodInput {
            duo,
            method_name: method_name.filter(|n| !n.is_empty()),
            use_passcode,
            username_format,
        },
        warning,
    ))
}

async fn create(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    let (input, warning) = read_input(call.state, &call.data)?;
    let store = &call.state.store;
    let existing = match &input.method_name {
        Some(name) => store
            .integration_named(&call.tenant.id, IntegrationKind::VaultMethod, name)
            .await
            .optional()?,
        None => None,
    };
    let method_id = match existing {
        Some(existing) => {
            let config = config_of(&input, Some(&existing.config));
            store
                .update_integration(&existing.id, config, Some(input.duo.secret_key))
                .await?;
            existing.id
        }
        None => {
            let name = input.method_name.clone().unwrap_or_else(unnamed);
            let created = store
                .create_integration(NewIntegration {
                    tenant_id: call.tenant.id.clone(),
                    kind: IntegrationKind::VaultMethod,
                    name,
                    config: config_of(&input, None),
                    secret: Some(input.duo.secret_key),
                })
                .await?;
            created.id
        }
    };
    call.audit("vault.method.write", &method_id).await?;
    Ok(Reply::Data {
        data: json!({"method_id": method_id}),
        warnings: warning.into_iter().collect(),
    })
}

async fn update(call: VaultCall<'_>, id: &str) -> Result<Reply, VaultError> {
    let Some(method) = find(call.state, id).await? else {
        return Ok(Reply::NoContent);
    };
    if method.tenant_id != call.tenant.id {
        return Err(VaultError::invalid(NAMESPACE_MISMATCH));
    }
    let (input, _) = read_input(call.state, &call.data)?;
    let new_name = match &input.method_name {
        Some(name) if *name != method.name => Some(name.as_str()),
        _ => None,
    };
    let config = config_of(&input, Some(&method.config));
    match call
        .state
        .store
        .update_integration_renamed(&method.id, new_name, config, Some(input.duo.secret_key))
        .await
    {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(VaultError::internal(&format!(
                "a login MFA method configuration with the method name {} already exists",
                new_name.unwrap_or_default()
            )));
        }
        Err(other) => return Err(other.into()),
    }
    call.audit("vault.method.write", id).await?;
    Ok(Reply::NoContent)
}

async fn read(call: &VaultCall<'_>, id: &str) -> Result<Reply, VaultError> {
    let Some(method) = find(call.state, id).await? else {
        return Err(VaultError::not_found());
    };
    let owner = call.state.store.tenant_by_id(&method.tenant_id).await?;
    let here = &call.tenant.path;
    if !(owner.path.is_same_or_ancestor_of(here) || here.is_same_or_ancestor_of(&owner.path)) {
        return Err(VaultError {
            status: axum::http::StatusCode::FORBIDDEN,
            errors: vec![NAMESPACE_MISMATCH.into()],
        });
    }
    Ok(Reply::data(method_json(&method, &owner)))
}

async fn delete(call: &VaultCall<'_>, id: &str) -> Result<Reply, VaultError> {
    let Some(method) = find(call.state, id).await? else {
        return Ok(Reply::NoContent);
    };
    if method.tenant_id != call.tenant.id {
        return Err(VaultError::internal(NAMESPACE_MISMATCH));
    }
    match call
        .state
        .store
        .delete_integration_unreferenced(id, IntegrationKind::LoginEnforcement, "mfa_method_ids")
        .await
    {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(StoreError::Referenced(enforcement)) => {
            return Err(VaultError::internal(&format!(
                "methodID is still used by an enforcement configuration with ID: {enforcement}"
            )));
        }
        Err(other) => return Err(other.into()),
    }
    call.audit("vault.method.delete", id).await?;
    Ok(Reply::NoContent)
}

/// Methods of the request namespace and its ancestors.
pub(super) async fn visible_methods(
    state: &AppState,
    tenant: &Tenant,
) -> Result<Vec<(Integration, Tenant)>, VaultError> {
    let mut found = Vec::new();
    for owner in state.store.lineage(&tenant.path).await? {
        for method in state
            .store
            .list_integrations(&owner.id, IntegrationKind::VaultMethod)
            .await?
        {
            found.push((method, owner.clone()));
        }
    }
    found.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    Ok(found)
}

async fn list(call: &VaultCall<'_>) -> Result<Reply, VaultError> {
    let methods = visible_methods(call.state, &call.tenant).await?;
    if methods.is_empty() {
        return Err(VaultError::not_found());
    }
    let keys: Vec<&str> = methods.iter().map(|(m, _)| m.id.as_str()).collect();
    let key_info: Map<String, Value> = methods
        .iter()
        .map(|(m, owner)| (m.id.clone(), method_json(m, owner)))
        .collect();
    Ok(Reply::data(json!({"keys": keys, "key_info": key_info})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_info_must_be_url_encoded_pairs() {
        for good in ["", "from=vault", "a=1&b=x%20y", "k=v+w&empty="] {
            assert!(check_push_info(good).is_ok(), "{good}");
        }
        for bad in ["from vault", "novalue", "=v", "a=1&&b=2", "a=b c", "a=%zz%"] {
            assert!(check_push_info(bad).is_err(), "{bad}");
        }
    }
}
