//! Integrations: every stored Duo configuration (Vault login-MFA and step-up methods, ONTAP
//! profiles and groups, Admin API connections, login enforcements), as one table.
//!
//! The store does not interpret `config`: each dialect validates and shapes its own JSON. What
//! the store guarantees is that the secret (a Duo skey) is sealed to its row before it is
//! written, never read back by listing or reading, and opened only by
//! [`Store::integration_secret`]; reads carry its SHA-256 fingerprint instead.

use secrecy::SecretString;
use serde_json::Value;
use sqlx::Row as _;

use crate::Store;
use crate::error::StoreError;
use crate::seal::{RowBinding, fingerprint};

const TABLE: &str = "integrations";

/// What an integration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrationKind {
    /// Vault login MFA method (`identity/mfa/method/duo`).
    VaultMethod,
    /// Vault Enterprise step-up method (`sys/mfa/method/duo`).
    StepUpMethod,
    /// Vault login enforcement.
    LoginEnforcement,
    /// ONTAP Duo profile.
    OntapProfile,
    /// ONTAP Duo group.
    OntapGroup,
    /// Admin API credentials for connector actions.
    Connection,
    /// A Vault auth mount (`sys/auth/{path}`), which login enforcements select by accessor or
    /// type; it has no secret.
    AuthMount,
}

impl IntegrationKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VaultMethod => "vault_method",
            Self::StepUpMethod => "stepup_method",
            Self::LoginEnforcement => "login_enforcement",
            Self::OntapProfile => "ontap_profile",
            Self::OntapGroup => "ontap_group",
            Self::Connection => "connection",
            Self::AuthMount => "auth_mount",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        [
            Self::VaultMethod,
            Self::StepUpMethod,
            Self::LoginEnforcement,
            Self::OntapProfile,
            Self::OntapGroup,
            Self::Connection,
            Self::AuthMount,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| StoreError::Invalid(format!("integration kind {text:?} in the database")))
    }
}

/// An integration to create.
#[derive(Debug, Clone)]
pub struct NewIntegration {
    /// Owning tenant's id.
    pub tenant_id: String,
    /// Kind.
    pub kind: IntegrationKind,
    /// Name, unique per tenant and kind.
    pub name: String,
    /// Non-secret configuration (the dialect's JSON).
    pub config: Value,
    /// The secret to seal, if any.
    pub secret: Option<SecretString>,
}

/// A stored integration, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Integration {
    /// UUID.
    pub id: String,
    /// Owning tenant's id.
    pub tenant_id: String,
    /// Kind.
    pub kind: IntegrationKind,
    /// Name.
    pub name: String,
    /// Non-secret configuration.
    pub config: Value,
    /// SHA-256 of the secret, lower-case hex, when there is one.
    pub secret_fingerprint: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, tenant_id, kind, name, config, secret_fingerprint, created_at, updated_at";

fn integration_from(row: &sqlx::any::AnyRow) -> Result<Integration, StoreError> {
    let config: String = row.try_get("config")?;
    Ok(Integration {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        kind: IntegrationKind::parse(&row.try_get::<String, _>("kind")?)?,
        name: row.try_get("name")?,
        config: serde_json::from_str(&config)
            .map_err(|e| StoreError::Invalid(format!("stored config is not JSON: {e}")))?,
        secret_fingerprint: row.try_get("secret_fingerprint")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Creates an integration; `Conflict` if the tenant already has one of this kind and name.
    pub async fn create_integration(&self, new: NewIntegration) -> Result<Integration, StoreError> {
        match new.kind {
            IntegrationKind::OntapGroup | IntegrationKind::AuthMount => {
                crate::names::check_group_name(&new.name)?
            }
            _ => crate::names::check_object_name(&new.name)?,
        }
        self.tenant_by_id(&new.tenant_id)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => StoreError::Invalid("tenant: no such tenant".into()),
                other => other,
            })?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.now();
        let row = RowBinding {
            table: TABLE,
            row_id: &id,
        };
        let sealed = new.secret.as_ref().map(|s| self.keyring.seal_str(s, row));
        let secret_fingerprint = new.secret.as_ref().map(fingerprint);
        sqlx::query(
            "INSERT INTO integrations (id, tenant_id, kind, name, config, sealed_secret, secret_fingerprint, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&new.tenant_id)
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(new.config.to_string())
        .bind(sealed)
        .bind(&secret_fingerprint)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| self.conflict(e, format!("{} {:?}", new.kind.as_str(), new.name)))?;
        self.integration(&id).await
    }

    /// Replaces an integration's configuration, and its secret when `secret` is `Some`.
    pub async fn update_integration(
        &self,
        id: &str,
        config: Value,
        secret: Option<SecretString>,
    ) -> Result<Integration, StoreError> {
        self.update_integration_renamed(id, None, config, secret)
            .await
    }

    /// [`Store::update_integration`], also renaming it when `name` is `Some` (`Conflict` if the
    /// tenant has another integration of this kind with that name; then nothing changes). A
    /// new name follows [`crate::names::check_object_name`].
    pub async fn update_integration_renamed(
        &self,
        id: &str,
        name: Option<&str>,
        config: Value,
        secret: Option<SecretString>,
    ) -> Result<Integration, StoreError> {
        if let Some(name) = name {
            crate::names::check_object_name(name)?;
        }
        let now = self.now();
        let mut tx = self.pool.begin().await?;
        if let Some(name) = name {
            sqlx::query("UPDATE integrations SET name = $1 WHERE id = $2")
                .bind(name)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(|e| self.conflict(e, format!("integration {name:?}")))?;
        }
        let result = match &secret {
            Some(secret) => {
                let sealed = self.keyring.seal_str(
                    secret,
                    RowBinding {
                        table: TABLE,
                        row_id: id,
                    },
                );
                sqlx::query(
                    "UPDATE integrations SET config = $1, sealed_secret = $2, secret_fingerprint = $3, \
                     updated_at = $4 WHERE id = $5",
                )
                .bind(config.to_string())
                .bind(sealed)
                .bind(fingerprint(secret))
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?
            }
            None => {
                sqlx::query("UPDATE integrations SET config = $1, updated_at = $2 WHERE id = $3")
                    .bind(config.to_string())
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
            }
        };
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        self.integration(id).await
    }

    /// One integration (without its secret).
    pub async fn integration(&self, id: &str) -> Result<Integration, StoreError> {
        let _timer = self.time_operation("integration");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM integrations WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        integration_from(&row)
    }

    /// One integration by tenant, kind and name.
    pub async fn integration_named(
        &self,
        tenant_id: &str,
        kind: IntegrationKind,
        name: &str,
    ) -> Result<Integration, StoreError> {
        let _timer = self.time_operation("integration_named");
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM integrations WHERE tenant_id = $1 AND kind = $2 AND name = $3"
        )))
        .bind(tenant_id)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        integration_from(&row)
    }

    /// A tenant's integrations of one kind, by name.
    pub async fn list_integrations(
        &self,
        tenant_id: &str,
        kind: IntegrationKind,
    ) -> Result<Vec<Integration>, StoreError> {
        let _timer = self.time_operation("list_integrations");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM integrations WHERE tenant_id = $1 AND kind = $2 ORDER BY name"
        )))
        .bind(tenant_id)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(integration_from).collect()
    }

    /// How many integrations of each kind exist (kinds with none are left out).
    pub async fn integration_counts(&self) -> Result<Vec<(IntegrationKind, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT kind, COUNT(*) AS n FROM integrations GROUP BY kind ORDER BY kind")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    IntegrationKind::parse(&row.try_get::<String, _>("kind")?)?,
                    row.try_get("n")?,
                ))
            })
            .collect()
    }

    /// Every tenant's integrations of one kind, by tenant id then name.
    pub async fn list_integrations_of_kind(
        &self,
        kind: IntegrationKind,
    ) -> Result<Vec<Integration>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM integrations WHERE kind = $1 ORDER BY tenant_id, name"
        )))
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(integration_from).collect()
    }

    /// Opens an integration's secret (for calling Duo; never for a response).
    pub async fn integration_secret(&self, id: &str) -> Result<Option<SecretString>, StoreError> {
        let _timer = self.time_operation("integration_secret");
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT sealed_secret FROM integrations WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        match sealed.ok_or(StoreError::NotFound)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(self.keyring.open_str(
                &bytes,
                RowBinding {
                    table: TABLE,
                    row_id: id,
                },
            )?)),
        }
    }

    /// Deletes an integration.
    pub async fn delete_integration(&self, id: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Deletes an integration unless an integration of `referrer` lists its id in the config
    /// array `field`; then `Referenced(referrer's id)` and nothing changes. Check and delete run
    /// in one transaction.
    pub async fn delete_integration_unreferenced(
        &self,
        id: &str,
        referrer: IntegrationKind,
        field: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id, config FROM integrations WHERE kind = $1 ORDER BY id")
            .bind(referrer.as_str())
            .fetch_all(&mut *tx)
            .await?;
        for row in rows {
            let config: String = row.try_get("config")?;
            let config: Value = serde_json::from_str(&config)
                .map_err(|e| StoreError::Invalid(format!("stored config is not JSON: {e}")))?;
            let listed = config[field]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|v| v.as_str() == Some(id)));
            if listed {
                return Err(StoreError::Referenced(row.try_get("id")?));
            }
        }
        let result = sqlx::query("DELETE FROM integrations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }
}
