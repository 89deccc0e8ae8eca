//! Vault's two-phase login MFA (`docs/vault-dialect.md` §4–5) over `trusted` auth mounts:
//! `POST auth/{mount}/login`, `POST sys/mfa/validate`, `X-Vault-MFA`, and
//! `auth/token/lookup-self`.
//!
//! - **Login** (an mfa-role token: the application that checked the first factor). Body:
//!   `username` (required), `entity_id`, `entity_name`, `metadata`, `alias_metadata`,
//!   `group_ids`. Without `entity_id` the entity id is derived from the namespace, mount and
//!   username (stable across logins); without `entity_name` it is `entity_<8 hex>`, as Vault
//!   names auto-created entities. Enforcements of the namespace and its ancestors match by
//!   entity id, group id, mount accessor or mount type. No match: the auth block at once.
//!   A match: 200 with `auth.mfa_requirement` (constraints keyed by enforcement name;
//!   `uses_passcode`/`name` omitted when false/empty) and the request kept in the store for
//!   300 s, so any instance on the same database can validate it.
//! - **Validate** (no token needed; the request id is the capability). Every matched
//!   enforcement must pass (AND); within one, its methods are tried in order, skipping those
//!   without credentials in the payload (OR). Success consumes the request exactly once and
//!   returns the auth block; a failure keeps it for a retry until it expires. A missing
//!   `mfa_payload` is 400 `missing mfa payload` (Vault answers 403 there: a bug not copied).
//! - **`X-Vault-MFA`** on the login runs the methods inline: any failure is 403
//!   `permission denied`.
//! - Issued tokens have the `login` role (they can only look themselves up), policies
//!   `["default"]`, a TTL of one hour, and are bound to the login's namespace.
//! - The Duo username is the method's `username_format` rendered with identity templates
//!   (empty: the entity name). `ipaddr` is the validating client's address: the peer, or, from a
//!   trusted proxy (`trusted_proxies`), the address it forwarded (`crate::client_address`).
//! - `username` is at most 256 bytes (`engine::limiter::MAX_USERNAME_BYTES`); longer is 400.
//! - `lookup-self` never echoes the token itself: `id` is empty.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use duogate_store::StoreError;
use duogate_store::integrations::{Integration, IntegrationKind};
use duogate_store::tenants::Tenant;
use duogate_store::tokens::Role;

use super::VaultCall;
use super::request::{Fields, Operation};
use super::response::{Reply, VaultError, multierror};
use crate::engine::limiter::MAX_USERNAME_BYTES;
use crate::engine::{Attempt, Credential, Outcome};
use crate::targets;
use crate::username_format::{Identity, render_identity};

const REQUEST_TTL_SECS: i64 = 300;
const TOKEN_TTL_SECS: i64 = 3600;
const MFA_WARNING: &str = "A login request was issued that is subject to MFA validation. Please make sure to validate the login by sending another request to mfa/validate endpoint.";

/// What a pending login keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingLogin {
    identity: Identity,
    mount_path: String,
    enforcements: Vec<PendingEnforcement>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PendingEnforcement {
    name: String,
    method_ids: Vec<String>,
}

fn string_map(value: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, VaultError> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                _ => Err(VaultError::invalid(format!(
                    "{field}: values must be strings"
                ))),
            })
            .collect(),
        Some(_) => Err(VaultError::invalid(format!(
            "{field}: must be an object of strings"
        ))),
    }
}

fn derived_uuid(parts: &[&str]) -> String {
    let digest = sha2::Sha256::digest(parts.join("\u{0}").as_bytes());
    let hex = hex::encode(&digest[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `POST auth/{mount}/login`.
pub(super) async fn login(
    call: VaultCall<'_>,
    mount: &str,
    headers: &HeaderMap,
) -> Result<Reply, VaultError> {
    if call.op != Operation::Update {
        return Err(VaultError::unsupported_operation());
    }
    let mounts = super::sys::tenant_mounts(call.state, &call.tenant).await?;
    let mount_path = format!("{}/", mount.trim_matches('/'));
    let Some(mount) = mounts
        .iter()
        .find(|m| m.path == mount_path && m.kind == "trusted")
    else {
        return Err(VaultError::no_handler(&format!("auth/{mount_path}login")));
    };
    let mut fields = Fields::new(&call.data);
    let username = fields.string("username")?.unwrap_or_default();
    let entity_id = fields.string("entity_id")?.filter(|s| !s.is_empty());
    let entity_name = fields.string("entity_name")?.filter(|s| !s.is_empty());
    let group_ids = fields.string_list("group_ids")?.unwrap_or_default();
    fields.has("metadata");
    fields.has("alias_metadata");
    if username.trim().is_empty() {
        return Err(VaultError::invalid("missing username"));
    }
    if username.len() > MAX_USERNAME_BYTES {
        return Err(VaultError::invalid(format!(
            "username: longer than {MAX_USERNAME_BYTES} bytes"
        )));
    }
    let entity_metadata = string_map(call.data.get("metadata"), "metadata")?;
    let alias_metadata = string_map(call.data.get("alias_metadata"), "alias_metadata")?;
    let entity_id =
        entity_id.unwrap_or_else(|| derived_uuid(&[&call.tenant.id, &mount.accessor, &username]));
    let entity_name =
        entity_name.unwrap_or_else(|| format!("entity_{}", &derived_uuid(&[&entity_id])[..8]));
    let identity = Identity {
        alias_id: derived_uuid(&["alias", &mount.accessor, &username]),
        alias_name: username.clone(),
        entity_id,
        entity_name,
        entity_metadata,
        alias_metadata,
        mount_accessor: mount.accessor.clone(),
        group_ids,
    };
    let enforcements = matching_enforcements(&call, &identity, &mount.kind).await?;
    let mfa_headers = parse_mfa_headers(headers)?;
    let pending = PendingLogin {
        identity,
        mount_path: mount_path.clone(),
        enforcements,
    };
    let mut warnings = Vec::new();
    if !mfa_headers.is_empty() {
        if pending.enforcements.is_empty() {
            warnings.push("Found MFA header but failed to find MFA Enforcement Config".to_string());
        } else {
            let payload: Map<String, Value> = mfa_headers
                .into_iter()
                .map(|(method, creds)| (method, json!(creds)))
                .collect();
            let ipaddr = call.peer.map(|ip| ip.to_string());
            if satisfy(&call, &pending, &payload, ipaddr).await.is_err() {
                return Err(VaultError::permission_denied());
            }
            return issue(&call, &pending, warnings).await;
        }
    }
    if pending.enforcements.is_empty() {
        return issue(&call, &pending, warnings).await;
    }
    let constraints = constraints(&call, &pending).await?;
    let body = serde_json::to_value(&pending).expect("serialises");
    let request = call
        .state
        .store
        .create_mfa_request(&call.tenant.id, body, REQUEST_TTL_SECS)
        .await?;
    call.audit("vault.login.mfa_required", &pending.identity.alias_name)
        .await?;
    Ok(Reply::Auth {
        auth: json!({
            "client_token": "",
            "accessor": "",
            "policies": null,
            "metadata": null,
            "lease_duration": 0,
            "renewable": false,
            "entity_id": "",
            "token_type": "default",
            "orphan": false,
            "mfa_requirement": {"mfa_request_id": request.id, "mfa_constraints": constraints},
            "num_uses": 0,
        }),
        warnings: vec![MFA_WARNING.to_string()],
    })
}

async fn matching_enforcements(
    call: &VaultCall<'_>,
    identity: &Identity,
    mount_type: &str,
) -> Result<Vec<PendingEnforcement>, VaultError> {
    let list = |config: &Value, field: &str| -> Vec<String> {
        config[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut matched = Vec::new();
    for owner in call.state.store.lineage(&call.tenant.path).await? {
        for enforcement in call
            .state
            .store
            .list_integrations(&owner.id, IntegrationKind::LoginEnforcement)
            .await?
        {
            let config = &enforcement.config;
            let hit = list(config, "identity_entity_ids").contains(&identity.entity_id)
                || list(config, "identity_group_ids")
                    .iter()
                    .any(|g| identity.group_ids.contains(g))
                || list(config, "auth_method_accessors").contains(&identity.mount_accessor)
                || list(config, "auth_method_types")
                    .iter()
                    .any(|t| t == mount_type);
            if hit {
                matched.push(PendingEnforcement {
                    name: enforcement.name.clone(),
                    method_ids: list(config, "mfa_method_ids"),
                });
            }
        }
    }
    Ok(matched)
}

async fn method(
    call: &VaultCall<'_>,
    id: &str,
) -> Result<Option<(Integration, Tenant)>, VaultError> {
    match call.state.store.integration(id).await {
        Ok(found) if found.kind == IntegrationKind::VaultMethod => {
            let owner = call.state.store.tenant_by_id(&found.tenant_id).await?;
            Ok(Some((found, owner)))
        }
        Ok(_) | Err(StoreError::NotFound) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

async fn constraints(call: &VaultCall<'_>, pending: &PendingLogin) -> Result<Value, VaultError> {
    let mut constraints = Map::new();
    for enforcement in &pending.enforcements {
        let mut any = Vec::new();
        for id in &enforcement.method_ids {
            let Some((found, _)) = method(call, id).await? else {
                continue;
            };
            let mut entry = json!({"type": "duo", "id": found.id});
            if found.config["use_passcode"].as_bool() == Some(true) {
                entry["uses_passcode"] = json!(true);
            }
            if let Some(name) = found.config["method_name"]
                .as_str()
                .filter(|n| !n.is_empty())
            {
                entry["name"] = json!(name);
            }
            any.push(entry);
        }
        constraints.insert(enforcement.name.clone(), json!({"any": any}));
    }
    Ok(Value::Object(constraints))
}

/// `X-Vault-MFA: <method>[:<passcode>]` headers as payload entries.
fn parse_mfa_headers(headers: &HeaderMap) -> Result<Vec<(String, Vec<String>)>, VaultError> {
    let bad = |what: &str| {
        VaultError::invalid(format!(
            "failed to parse X-Vault-MFA header: invalid data in header \"X-Vault-MFA\"; missing {what}"
        ))
    };
    let mut entries = Vec::new();
    for value in headers.get_all("x-vault-mfa") {
        let text = value.to_str().map_err(|_| bad("method name or ID"))?.trim();
        let (method, cred) = match text.split_once(':') {
            Some((method, cred)) => {
                if cred.is_empty() {
                    return Err(bad("method value"));
                }
                (method, vec![cred.to_string()])
            }
            None => (text, Vec::new()),
        };
        if method.is_empty() {
            return Err(bad("method name or ID"));
        }
        entries.push((method.to_string(), cred));
    }
    Ok(entries)
}

/// The credential a payload entry gives (`docs/vault-dialect.md` §5.2).
fn credential(creds: &[String]) -> Result<Credential, String> {
    let mut passcode = None;
    for cred in creds {
        if cred.is_empty() {
            continue;
        }
        let code = match cred.split_once('=') {
            Some(("passcode", "")) => return Err("invalid passcode".into()),
            Some(("passcode", code)) => code,
            Some(_) => return Err(format!("found an invalid MFA cred: {cred}")),
            None => cred.as_str(),
        };
        if passcode.replace(code.to_string()).is_some() {
            return Err("found multiple passcodes for the same MFA method".into());
        }
    }
    Ok(passcode.map_or(Credential::Push, Credential::Passcode))
}

/// The payload entry for a method: by id, else by name (`ns1/name` for a namespaced method).
fn creds_for<'p>(
    payload: &'p Map<String, Value>,
    found: &Integration,
    owner: &Tenant,
) -> Option<&'p Value> {
    if let Some(value) = payload.get(&found.id) {
        return Some(value);
    }
    let name = found.config["method_name"]
        .as_str()
        .filter(|n| !n.is_empty())?;
    payload.get(&format!("{}{name}", owner.path.as_str()))
}

/// Runs every enforcement (AND; OR within one); the error is Vault's 403 text.
async fn satisfy(
    call: &VaultCall<'_>,
    pending: &PendingLogin,
    payload: &Map<String, Value>,
    ipaddr: Option<String>,
) -> Result<(), String> {
    for enforcement in &pending.enforcements {
        let mut failures = Vec::new();
        let mut tried = Vec::new();
        let mut satisfied = false;
        for id in &enforcement.method_ids {
            let found = match method(call, id).await {
                Ok(Some(found)) => found,
                Ok(None) => continue,
                Err(_) => {
                    failures.push("internal error".to_string());
                    continue;
                }
            };
            let (integration, owner) = found;
            let Some(creds) = creds_for(payload, &integration, &owner) else {
                continue;
            };
            let creds: Vec<String> = match creds {
                Value::Null => continue,
                Value::Array(items) => items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => continue,
            };
            tried.push(integration.id.clone());
            match run_method(
                call,
                &pending.identity,
                &integration,
                &creds,
                ipaddr.clone(),
            )
            .await
            {
                Ok(()) => {
                    satisfied = true;
                    break;
                }
                Err(text) => failures.push(text),
            }
        }
        if satisfied {
            continue;
        }
        let error = if tried.is_empty() {
            let first = enforcement.method_ids.first().cloned().unwrap_or_default();
            format!(
                "failed to sanitize MFA creds, {}",
                multierror(&format!(
                    "failed to find MFA credentials associated with an MFA method ID {first}"
                ))
            )
        } else {
            failures.push(format!(
                "login MFA validation failed for methodID: [{}]",
                tried.join(" ")
            ));
            let count = failures.len();
            let items: String = failures.iter().map(|f| format!("\t* {f}\n")).collect();
            format!("{count} errors occurred:\n{items}\n")
        };
        return Err(format!(
            "failed to satisfy enforcement {}. error: {error}",
            enforcement.name
        ));
    }
    Ok(())
}

async fn run_method(
    call: &VaultCall<'_>,
    identity: &Identity,
    integration: &Integration,
    creds: &[String],
    ipaddr: Option<String>,
) -> Result<(), String> {
    let credential = credential(creds)?;
    let format = integration.config["username_format"].as_str().unwrap_or("");
    let username = render_identity(format, identity)?;
    let enforced = targets::vault_method(call.state, integration.clone())
        .await
        .map_err(|e| e.to_string())?;
    let attempt = Attempt {
        username: username.clone(),
        ipaddr: ipaddr.clone(),
        credential,
        pushinfo: enforced.pushinfo.clone(),
        groups: Vec::new(),
    };
    let decision = enforced.decide(call.state, &call.caller, &attempt).await;
    match decision.outcome {
        Outcome::Allow => Ok(()),
        Outcome::Deny => Err(decision.detail),
    }
}

/// Mints the login token and answers the auth block.
async fn issue(
    call: &VaultCall<'_>,
    pending: &PendingLogin,
    warnings: Vec<String>,
) -> Result<Reply, VaultError> {
    let identity = &pending.identity;
    let mut metadata = identity.alias_metadata.clone();
    metadata.insert("username".into(), identity.alias_name.clone());
    let display_name = format!(
        "{}-{}",
        pending.mount_path.trim_end_matches('/'),
        identity.alias_name
    );
    let detail = json!({
        "display_name": display_name,
        "entity_id": identity.entity_id,
        "policies": ["default"],
        "meta": metadata,
        "path": format!("auth/{}login", pending.mount_path),
        "mount_accessor": identity.mount_accessor,
    });
    let (secret, token) = call
        .state
        .store
        .create_token_with_detail(
            Role::Login,
            Some(&call.tenant.id),
            Some(TOKEN_TTL_SECS),
            detail,
        )
        .await?;
    call.audit("vault.login", &identity.alias_name).await?;
    Ok(Reply::Auth {
        auth: json!({
            "client_token": secret.expose_secret(),
            "accessor": token.accessor,
            "policies": ["default"],
            "token_policies": ["default"],
            "metadata": metadata,
            "lease_duration": TOKEN_TTL_SECS,
            "renewable": false,
            "entity_id": identity.entity_id,
            "token_type": "service",
            "orphan": true,
            "mfa_requirement": null,
            "num_uses": 0,
        }),
        warnings,
    })
}

/// `POST sys/mfa/validate`.
pub(super) async fn validate(call: VaultCall<'_>) -> Result<Reply, VaultError> {
    if call.op != Operation::Update {
        return Err(VaultError::unsupported_operation());
    }
    let mut fields = Fields::new(&call.data);
    let request_id = fields.string("mfa_request_id")?.unwrap_or_default();
    if request_id.is_empty() {
        return Err(VaultError::invalid("missing request ID"));
    }
    let payload = match call.data.get("mfa_payload") {
        None | Some(Value::Null) => return Err(VaultError::invalid("missing mfa payload")),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(VaultError::invalid("invalid mfa payload")),
    };
    let well_formed = payload.values().all(|v| match v {
        Value::Null => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    });
    if !well_formed {
        return Err(VaultError::invalid("invalid mfa payload"));
    }
    let request = match call.state.store.mfa_request(&request_id).await {
        Ok(request) => request,
        Err(StoreError::NotFound) => return Err(VaultError::invalid("invalid request ID")),
        Err(other) => return Err(other.into()),
    };
    if request.tenant_id != call.tenant.id {
        return Err(VaultError::internal(
            "original request was issued in a different namesapce",
        ));
    }
    let pending: PendingLogin = serde_json::from_value(request.body.clone())
        .map_err(|_| VaultError::internal("stored MFA request is unreadable"))?;
    let ipaddr = call.peer.map(|ip| ip.to_string());
    if let Err(text) = satisfy(&call, &pending, &payload, ipaddr).await {
        return Err(VaultError {
            status: axum::http::StatusCode::FORBIDDEN,
            errors: vec![text],
        });
    }
    match call.state.store.consume_mfa_request(&request_id).await {
        Ok(()) => issue(&call, &pending, Vec::new()).await,
        Err(StoreError::NotFound) => Err(VaultError::invalid("invalid request ID")),
        Err(other) => Err(other.into()),
    }
}

/// `GET`/`POST auth/token/lookup-self`.
pub(super) async fn lookup_self(
    call: VaultCall<'_>,
    headers: &HeaderMap,
) -> Result<Reply, VaultError> {
    if !matches!(call.op, Operation::Read | Operation::Update) {
        return Err(VaultError::unsupported_operation());
    }
    let secret =
        crate::access::presented_token(headers).ok_or_else(VaultError::permission_denied)?;
    let token = match call.state.store.token_by_secret(&secret).await {
        Ok(token) => token,
        Err(StoreError::NotFound) => return Err(VaultError::permission_denied()),
        Err(other) => return Err(other.into()),
    };
    let now = jiff::Timestamp::now().as_second();
    let detail = &token.detail;
    let text = |field: &str, default: &str| detail[field].as_str().unwrap_or(default).to_string();
    let policies = match token.role {
        Role::Login => detail["policies"].clone(),
        Role::Admin => json!(["root"]),
        other => json!([other.as_str()]),
    };
    let ttl = token.expires_at.map_or(0, |at| (at - now).max(0));
    let expire_time = token
        .expires_at
        .and_then(|at| jiff::Timestamp::from_second(at).ok())
        .map(|t| t.to_string());
    let issue_time = jiff::Timestamp::from_second(token.created_at)
        .map(|t| t.to_string())
        .unwrap_or_default();
    Ok(Reply::data(json!({
        "accessor": token.accessor,
        "creation_time": token.created_at,
        "creation_ttl": token.expires_at.map_or(0, |at| at - token.created_at),
        "display_name": text("display_name", "token"),
        "entity_id": text("entity_id", ""),
        "expire_time": expire_time,
        "explicit_max_ttl": 0,
        "id": "",
        "issue_time": issue_time,
        "meta": if detail["meta"].is_object() { detail["meta"].clone() } else { Value::Null },
        "namespace_path": call.tenant.path.as_str(),
        "num_uses": 0,
        "orphan": true,
        "path": text("path", "auth/token/create"),
        "policies": policies,
        "renewable": false,
        "ttl": ttl,
        "type": "service",
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_credentials_parse_like_vault() {
        assert_eq!(credential(&[]).unwrap(), Credential::Push);
        assert_eq!(credential(&["".into()]).unwrap(), Credential::Push);
        assert_eq!(
            credential(&["123456".into()]).unwrap(),
            Credential::Passcode("123456".into())
        );
        assert_eq!(
            credential(&["passcode=123456".into()]).unwrap(),
            Credential::Passcode("123456".into())
        );
        assert_eq!(
            credential(&["passcode=".into()]).unwrap_err(),
            "invalid passcode"
        );
        assert_eq!(
            credential(&["foo=bar".into()]).unwrap_err(),
            "found an invalid MFA cred: foo=bar"
        );
        assert_eq!(
            credential(&["1".into(), "2".into()]).unwrap_err(),
            "found multiple passcodes for the same MFA method"
        );
    }

    #[test]
    fn mfa_headers_need_a_method_and_a_value_after_the_colon() {
        let mut headers = HeaderMap::new();
        headers.append("x-vault-mfa", "corp".parse().unwrap());
        headers.append("x-vault-mfa", "other:123456".parse().unwrap());
        let parsed = parse_mfa_headers(&headers).unwrap();
        assert_eq!(
            parsed,
            vec![
                ("corp".to_string(), vec![]),
                ("other".to_string(), vec!["123456".to_string()])
            ]
        );
        let mut bad = HeaderMap::new();
        bad.append("x-vault-mfa", ":123".parse().unwrap());
        assert!(
            parse_mfa_headers(&bad).unwrap_err().errors[0].ends_with("missing method name or ID")
        );
        let mut empty_value = HeaderMap::new();
        empty_value.append("x-vault-mfa", "corp:".parse().unwrap());
        assert!(
            parse_mfa_headers(&empty_value).unwrap_err().errors[0]
                .ends_with("missing method value")
        );
    }

    #[test]
    fn derived_ids_are_stable_lowercase_uuids() {
        let a = derived_uuid(&["t", "acc", "alice"]);
        assert_eq!(a, derived_uuid(&["t", "acc", "alice"]));
        assert_ne!(a, derived_uuid(&["t", "acc", "bob"]));
        assert!(super::super::request::is_lowercase_uuid(&a), "{a}");
    }
}
