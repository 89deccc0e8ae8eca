//! Basic-auth accounts (for ONTAP clients, which speak HTTP Basic): a name, an argon2id hash
//! of the password (PHC string, salt inside), a role and an optional tenant binding.
//!
//! Verifying an unknown name still runs one argon2 verification against a fixed hash, so the
//! time taken does not reveal which names exist.
//!
//! argon2 is slow on purpose (tens of milliseconds of CPU), so it never runs on the async
//! workers: [`Store::verify_account`] hands it to tokio's blocking pool. Callers that cache
//! successful verifications (the service does) read the row with [`Store::account_login`],
//! key their cache by [`AccountLogin::stamp`] (which changes whenever the password does, on
//! any instance: every hash has a fresh salt) and verify with [`verify_password`].

use argon2::{Argon2, PasswordHasher as _, PasswordVerifier as _};
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::Row as _;

use crate::Store;
use crate::error::StoreError;
use crate::tokens::Role;

/// A stored account (never its password or hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Tenant binding.
    pub tenant_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A well-formed argon2id hash of no account's password, verified when a name is unknown.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$lDlS2Esgp2oY0/+Gqr3L3bUr4AnNWO1G+XPyg6LgZJ4";

/// Shortest accepted password.
pub const MIN_PASSWORD_LEN: usize = 12;

fn valid_name(name: &str) -> bool {
    crate::names::is_valid_account_name(name)
}

/// An account with what a login is checked against.
#[derive(Clone)]
pub struct AccountLogin {
    /// The account.
    pub account: Account,
    password_hash: String,
}

impl std::fmt::Debug for AccountLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountLogin")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl AccountLogin {
    /// The SHA-256 of the stored password hash: equal for two reads exactly when the password
    /// was not set again in between (each hash has its own random salt).
    pub fn stamp(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(self.password_hash.as_bytes()).into()
    }
}

/// Whether `password` is the password of `login`; for `None` (no such account) one
/// verification against a decoy hash runs, so both cost the same, and the answer is `false`.
/// Blocking (argon2): call it from `tokio::task::spawn_blocking` or a thread of its own.
pub fn verify_password(login: Option<&AccountLogin>, password: &SecretString) -> bool {
    let hash = login.map_or(DECOY, |l| l.password_hash.as_str());
    let matches = Argon2::default()
        .verify_password(password.expose_secret().as_bytes(), hash)
        .is_ok();
    matches && login.is_some()
}

/// [`verify_password`] on tokio's blocking pool, so the async workers stay free.
pub async fn verify_password_off_workers(
    login: Option<AccountLogin>,
    password: SecretString,
) -> Result<bool, StoreError> {
    off_the_workers(move || verify_password(login.as_ref(), &password)).await
}

fn hash_password(password: &SecretString) -> Result<String, StoreError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        return Err(StoreError::Invalid(format!(
            "password: at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(Argon2::default()
        .hash_password(password.expose_secret().as_bytes())
        .map_err(|e| StoreError::Invalid(format!("password: cannot hash ({e})")))?
        .to_string())
}

/// Runs a blocking closure on tokio's blocking pool (a closure that panicked is reported as a
/// crashed worker: a server fault, never the caller's).
async fn off_the_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| StoreError::Database(sqlx::Error::WorkerCrashed))
}

fn account_from(row: &sqlx::any::AnyRow) -> Result<Account, StoreError> {
    Ok(Account {
        name: row.try_get("name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        tenant_id: row.try_get("tenant_id")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// Creates an account; `Conflict` when the name is taken.
    pub async fn create_account(
        &self,
        name: &str,
        password: &SecretString,
        role: Role,
        tenant_id: Option<&str>,
    ) -> Result<Account, StoreError> {
        if !valid_name(name) {
            return Err(StoreError::Invalid(
                "name: 1-64 letters, digits, '-', '_', '.' or '@'; not dots alone nor a device name (CON, NUL, COM1, …)".into(),
            ));
        }
        hash_password(password)?;
        if let Some(id) = tenant_id {
            self.tenant_by_id(id).await.map_err(|e| match e {
                StoreError::NotFound => StoreError::Invalid("tenant: no such tenant".into()),
                other => other,
            })?;
        }
        let password = password.clone();
        let hash = off_the_workers(move || hash_password(&password)).await??;
        let account = Account {
            name: name.to_string(),
            role,
            tenant_id: tenant_id.map(str::to_string),
            created_at: self.now(),
        };
        sqlx::query(
            "INSERT INTO accounts (name, password_hash, role, tenant_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&account.name)
        .bind(hash)
        .bind(role.as_str())
        .bind(&account.tenant_id)
        .bind(account.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| self.conflict(e, format!("account {name:?}")))?;
        Ok(account)
    }

    /// The account whose name and password match; `NotFound` otherwise (either way). argon2
    /// runs on the blocking pool.
    pub async fn verify_account(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<Account, StoreError> {
        let _timer = self.time_operation("verify_account");
        let login = self.account_login(name).await?;
        let matches = verify_password_off_workers(login.clone(), password.clone()).await?;
        match login {
            Some(login) if matches => Ok(login.account),
            _ => Err(StoreError::NotFound),
        }
    }

    /// The account named so with its password hash, to verify a login against; `None` when
    /// there is no such account.
    pub async fn account_login(&self, name: &str) -> Result<Option<AccountLogin>, StoreError> {
        let _timer = self.time_operation("account_login");
        let row = sqlx::query(
            "SELECT name, password_hash, role, tenant_id, created_at FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(AccountLogin {
                account: account_from(&row)?,
                password_hash: row.try_get("password_hash")?,
            })
        })
        .transpose()
    }

    /// Sets an account's password (the old one stops working at once, on every instance).
    pub async fn set_account_password(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<(), StoreError> {
        let password = password.clone();
        let hash = off_the_workers(move || hash_password(&password)).await??;
        let result = sqlx::query("UPDATE accounts SET password_hash = $1 WHERE name = $2")
            .bind(hash)
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Every account, by name.
    pub async fn list_accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows =
            sqlx::query("SELECT name, role, tenant_id, created_at FROM accounts ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(account_from).collect()
    }

    /// Deletes an account.
    pub async fn delete_account(&self, name: &str) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM accounts WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoy_is_a_well_formed_hash_so_unknown_names_cost_a_full_verification() {
        assert!(argon2::PasswordHash::new(DECOY).is_ok());
        let wrong = Argon2::default().verify_password(b"anything", DECOY);
        assert!(
            matches!(wrong, Err(argon2::password_hash::Error::PasswordInvalid)),
            "{wrong:?}"
        );
    }
}
