//! Who is calling: a token (`X-Vault-Token`, or `Authorization: Bearer`), looked up by hash, or
//! an account (`Authorization: Basic`, for ONTAP clients), verified against its argon2 hash by
//! [`crate::basic_auth`] (off the async workers, cached, failures throttled per account and per
//! client address).
//!
//! Each dialect answers a missing or bad credential in its own envelope (native: 401); this
//! module only finds the caller and checks roles. A caller bound to a tenant acts only inside it.

use axum::http::HeaderMap;
use secrecy::SecretString;

use duogate_store::tokens::Role;
use duogate_store::{Store, StoreError};

use crate::state::AppState;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who, for the audit log: `token:ACCESSOR` or `account:NAME`.
    pub principal: String,
    /// Role.
    pub role: Role,
    /// Tenant binding.
    pub tenant_id: Option<String>,
}

/// Why a request is not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No token, or not a live one.
    Unauthenticated,
    /// A live token whose role or tenant does not allow this.
    Forbidden,
}

/// The token a request carries: `X-Vault-Token` first, else the first `Bearer` value.
pub fn presented_token(headers: &HeaderMap) -> Option<SecretString> {
    if let Some(value) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if !value.is_empty() {
            return Some(SecretString::from(value.to_string()));
        }
    }
    headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("Bearer ").map(str::trim))
        .filter(|v| !v.is_empty())
        .map(|v| SecretString::from(v.to_string()))
}

/// `Authorization: Basic` credentials, if any.
pub fn presented_basic(headers: &HeaderMap) -> Option<(String, SecretString)> {
    use base64::Engine as _;
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some((name.to_string(), SecretString::from(password.to_string())))
}

/// Finds the caller; database trouble is not an authentication failure. Basic credentials
/// are throttled per client address as [`crate::client_address::current`] gives it. A caller
/// found is recorded on the request's log span ([`crate::access_log::record_caller`]: the
/// accessor or account name, never the secret).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<Caller, Denied>, StoreError> {
    let found = find_caller(state, headers).await;
    if let Ok(Ok(caller)) = &found {
        crate::access_log::record_caller(caller);
    }
    found
}

async fn find_caller(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<Caller, Denied>, StoreError> {
    let store = &state.store;
    if let Some(secret) = presented_token(headers) {
        return match store.token_by_secret(&secret).await {
            Ok(token) => Ok(Ok(Caller {
                principal: format!("token:{}", token.accessor),
                role: token.role,
                tenant_id: token.tenant_id,
            })),
            Err(StoreError::NotFound) => Ok(Err(Denied::Unauthenticated)),
            Err(other) => Err(other),
        };
    }
    if let Some((name, password)) = presented_basic(headers) {
        let verified = state
            .basic_auth
            .verify(
                store,
                &state.limiter,
                &name,
                &password,
                crate::client_address::current(),
            )
            .await?;
        return Ok(match verified {
            Some(account) => Ok(Caller {
                principal: format!("account:{}", account.name),
                role: account.role,
                tenant_id: account.tenant_id,
            }),
            None => Err(Denied::Unauthenticated),
        });
    }
    Ok(Err(Denied::Unauthenticated))
}

/// Finds the caller from a token only (`X-Vault-Token` or `Bearer`): for dialects where
/// Basic accounts are not credentials (Vault).
pub async fn authenticate_token(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Result<Caller, Denied>, StoreError> {
    if presented_token(headers).is_none() {
        return Ok(Err(Denied::Unauthenticated));
    }
    authenticate(state, headers).await
}

impl Caller {
    /// Appends an audit entry with this caller as the actor (every dialect audits through this).
    pub async fn audit(
        &self,
        store: &Store,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        store
            .append_audit(duogate_store::audit::NewAuditEntry {
                actor: self.principal.clone(),
                action: action.to_string(),
                target: target.to_string(),
                detail,
            })
            .await
            .map(|_| ())
    }

    /// Whether the caller's role allows `needed`: admin allows everything, reader allows
    /// reader, mfa allows mfa.
    pub fn has(&self, needed: Role) -> bool {
        self.role == Role::Admin || self.role == needed
    }

    /// Requires `needed`.
    pub fn require(&self, needed: Role) -> Result<(), Denied> {
        if self.has(needed) {
            Ok(())
        } else {
            Err(Denied::Forbidden)
        }
    }

    /// Whether the caller may act in the tenant with this id (unbound callers act everywhere).
    pub fn may_use_tenant(&self, tenant_id: &str) -> bool {
        self.tenant_id
            .as_deref()
            .is_none_or(|bound| bound == tenant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;

    #[test]
    fn vault_token_wins_over_bearer_and_empty_values_are_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer from-bearer".parse().unwrap());
        assert_eq!(
            presented_token(&headers).unwrap().expose_secret(),
            "from-bearer"
        );
        headers.insert("x-vault-token", "from-vault".parse().unwrap());
        assert_eq!(
            presented_token(&headers).unwrap().expose_secret(),
            "from-vault"
        );
        let mut empty = HeaderMap::new();
        empty.insert("x-vault-token", " ".parse().unwrap());
        empty.insert("authorization", "Basic abc".parse().unwrap());
        assert!(presented_token(&empty).is_none());
    }
}
