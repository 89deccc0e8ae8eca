//! API tokens: random, shown once, stored as a SHA-256 hash.
//!
//! Tokens are 32 random bytes (`dg.` + base64url), so a plain SHA-256 is a safe lookup hash
//! (no dictionary to attack; argon2 is for human-chosen passwords). The `accessor` is the
//! token's public handle: listing, revoking and audit use it, never the token.
//!
//! [`Store::create_token_with_secret`] stores a token whose value the caller chose (`serve
//! --dev --dev-root-token-id`, like Vault's flag): it is hashed the same way, so it is only as
//! strong as the value given.

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use crate::Store;
use crate::error::StoreError;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// Read configuration, never secrets.
    Reader,
    /// Only login, validate and check endpoints.
    Mfa,
    /// Issued by a login (Vault's `auth/{path}/login`, after MFA): it may only look itself up.
    /// Never created through the token API.
    Login,
}

impl Role {
    /// The stored and displayed spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Reader => "reader",
            Self::Mfa => "mfa",
            Self::Login => "login",
        }
    }

    /// Parses `admin`, `reader` or `mfa`.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "admin" => Ok(Self::Admin),
            "reader" => Ok(Self::Reader),
            "mfa" => Ok(Self::Mfa),
            "login" => Ok(Self::Login),
            other => Err(StoreError::Invalid(format!(
                "role {other:?}: use admin, reader or mfa"
            ))),
        }
    }
}

/// A stored token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Public handle.
    pub accessor: String,
    /// Role.
    pub role: Role,
    /// The tenant it is bound to, if any.
    pub tenant_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
    /// What a login token describes (entity, policies, metadata…); `null` for API tokens.
    pub detail: serde_json::Value,
}

fn hash(token: &SecretString) -> String {
    hex::encode(Sha256::digest(token.expose_secret().as_bytes()))
}

fn token_from(row: &sqlx::any::AnyRow) -> Result<Token, StoreError> {
    Ok(Token {
        accessor: row.try_get("accessor")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        tenant_id: row.try_get("tenant_id")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        detail: match row.try_get::<Option<String>, _>("detail")? {
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                StoreError::Invalid(format!("stored token detail is not JSON: {e}"))
            })?,
            None => serde_json::Value::Null,
        },
    })
}

impl Store {
    /// Creates a token; returns it (show it once) and its record.
    pub async fn create_token(
        &self,
        role: Role,
        tenant_id: Option<&str>,
        ttl_secs: Option<i64>,
    ) -> Result<(SecretString, Token), StoreError> {
        self.create_token_with_detail(role, tenant_id, ttl_secs, serde_json::Value::Null)
            .await
    }

    /// [`Store::create_token`] with a description (login tokens).
    pub async fn create_token_with_detail(
        &self,
        role: Role,
        tenant_id: Option<&str>,
        ttl_secs: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<(SecretString, Token), StoreError> {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let secret = SecretString::from(format!(
            "dg.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ));
        let token = self
            .insert_token(&secret, role, tenant_id, ttl_secs, detail)
            .await?;
        Ok((secret, token))
    }

    /// Stores `secret` as a token (a value the caller chose, such as a dev root token id);
    /// returns its record. `Conflict` when a token (live or not) already has this value.
    pub async fn create_token_with_secret(
        &self,
        secret: &SecretString,
        role: Role,
        tenant_id: Option<&str>,
        ttl_secs: Option<i64>,
    ) -> Result<Token, StoreError> {
        if secret.expose_secret().is_empty() {
            return Err(StoreError::Invalid("token: must not be empty".into()));
        }
        self.insert_token(secret, role, tenant_id, ttl_secs, serde_json::Value::Null)
            .await
    }

    async fn insert_token(
        &self,
        secret: &SecretString,
        role: Role,
        tenant_id: Option<&str>,
        ttl_secs: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<Token, StoreError> {
        if let Some(id) = tenant_id {
            self.tenant_by_id(id).await.map_err(|e| match e {
                StoreError::NotFound => StoreError::Invalid("tenant: no such tenant".into()),
                other => other,
            })?;
        }
        if ttl_secs.is_some_and(|t| t <= 0) {
            return Err(StoreError::Invalid("ttl: must be positive".into()));
        }
        let now = self.now();
        let token = Token {
            accessor: uuid::Uuid::new_v4().simple().to_string(),
            role,
            tenant_id: tenant_id.map(str::to_string),
            created_at: now,
            expires_at: ttl_secs.map(|ttl| now + ttl),
            detail,
        };
        sqlx::query(
            "INSERT INTO tokens (accessor, token_hash, role, tenant_id, created_at, expires_at, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.accessor)
        .bind(hash(secret))
        .bind(role.as_str())
        .bind(&token.tenant_id)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind((!token.detail.is_null()).then(|| token.detail.to_string()))
        .execute(&self.pool)
        .await
        .map_err(|e| self.conflict(e, "a token with this value".into()))?;
        Ok(token)
    }

    /// The live token matching `secret`; `NotFound` when unknown, revoked or expired.
    pub async fn token_by_secret(&self, secret: &SecretString) -> Result<Token, StoreError> {
        let _timer = self.time_operation("token_by_secret");
        let row = sqlx::query(
            "SELECT accessor, role, tenant_id, created_at, expires_at, detail FROM tokens WHERE token_hash = $1",
        )
        .bind(hash(secret))
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let token = token_from(&row)?;
        if token.expires_at.is_some_and(|at| at <= self.now()) {
            return Err(StoreError::NotFound);
        }
        Ok(token)
    }

    /// Whether any admin token that has not expired exists (the service bootstraps one
    /// otherwise).
    pub async fn has_live_admin_token(&self) -> Result<bool, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens WHERE role = 'admin' AND (expires_at IS NULL OR expires_at > $1)",
        )
        .bind(self.now())
        .fetch_one(&self.pool)
        .await?;
        Ok(count > 0)
    }

    /// Revokes a token by accessor.
    pub async fn revoke_token(&self, accessor: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM tokens WHERE accessor = $1")
            .bind(accessor)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
