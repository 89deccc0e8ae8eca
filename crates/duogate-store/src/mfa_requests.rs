//! Pending MFA requests: a login waiting for its second factor (Vault's two-phase login), and
//! asynchronous checks waiting for their decision.
//!
//! They live in the database, so with PostgreSQL a login served by one instance can be
//! validated on another. A request is readable until it expires; a successful validation
//! consumes it exactly once ([`Store::consume_mfa_request`] deletes it and reports whether
//! this caller was the one that did). The body holds no secret: the token is minted only when
//! the request is consumed.
//!
//! A check job's `result` column holds NULL while it waits with nothing to tell, the text
//! `progress:` followed by JSON while it waits with news for the caller (a Verified Push
//! code, Duo's waiting message: [`Store::record_check_progress`]), and plain JSON once decided.
//! JSON never starts with `p`, so the two cannot be confused, and no migration was needed. A
//! decision is final: progress recorded after it is ignored.

use serde_json::Value;
use sqlx::Row as _;

use crate::Store;
use crate::error::StoreError;

/// A pending request.
#[derive(Debug, Clone, PartialEq)]
pub struct MfaRequest {
    /// UUID (`mfa_request_id`).
    pub id: String,
    /// The tenant (namespace) of the login.
    pub tenant_id: String,
    /// What the login will issue and what it must satisfy (the dialect's JSON).
    pub body: Value,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Store {
    /// Stores a pending request that expires after `ttl_secs`; returns it.
    pub async fn create_mfa_request(
        &self,
        tenant_id: &str,
        body: Value,
        ttl_secs: i64,
    ) -> Result<MfaRequest, StoreError> {
        let _timer = self.time_operation("create_mfa_request");
        let now = self.now();
        let request = MfaRequest {
            id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant_id.to_string(),
            body,
            expires_at: now + ttl_secs,
        };
        // Expired requests are swept as new ones arrive.
        sqlx::query("DELETE FROM mfa_requests WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO mfa_requests (id, tenant_id, body, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&request.id)
        .bind(&request.tenant_id)
        .bind(request.body.to_string())
        .bind(now)
        .bind(request.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(request)
    }

    /// A pending request that has not expired; `NotFound` otherwise.
    pub async fn mfa_request(&self, id: &str) -> Result<MfaRequest, StoreError> {
        let _timer = self.time_operation("mfa_request");
        let row = sqlx::query(
            "SELECT id, tenant_id, body, expires_at FROM mfa_requests WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let body: String = row.try_get("body")?;
        Ok(MfaRequest {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            body: serde_json::from_str(&body)
                .map_err(|e| StoreError::Invalid(format!("stored MFA request is not JSON: {e}")))?,
            expires_at: row.try_get("expires_at")?,
        })
    }

    /// Consumes a pending request: `Ok` for exactly one caller, `NotFound` for everyone else
    /// (already consumed, expired or unknown).
    pub async fn consume_mfa_request(&self, id: &str) -> Result<(), StoreError> {
        let _timer = self.time_operation("consume_mfa_request");
        let result = sqlx::query("DELETE FROM mfa_requests WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(self.now())
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}

/// An asynchronous check as every instance sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckJob {
    /// Still deciding.
    Waiting,
    /// Still deciding, with news for the caller: the dialect's JSON.
    Progress(Value),
    /// Decided: the dialect's JSON.
    Decided(Value),
}

/// What marks a check job's `result` as progress rather than a decision.
const PROGRESS_PREFIX: &str = "progress:";

impl Store {
    /// Records an asynchronous check that expires after `ttl_secs`; returns its id.
    pub async fn create_check_job(&self, ttl_secs: i64) -> Result<String, StoreError> {
        let _timer = self.time_operation("create_check_job");
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query("DELETE FROM check_jobs WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO check_jobs (id, result, created_at, expires_at) VALUES ($1, NULL, $2, $3)",
        )
        .bind(&id)
        .bind(now)
        .bind(now + ttl_secs)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Records a check's decision.
    pub async fn finish_check_job(&self, id: &str, result: &Value) -> Result<(), StoreError> {
        let _timer = self.time_operation("finish_check_job");
        let updated = sqlx::query("UPDATE check_jobs SET result = $1 WHERE id = $2")
            .bind(result.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Records news about a check that is still deciding (it replaces earlier news). Answers
    /// whether it was recorded: `false` once the check is decided, expired or unknown, so late
    /// news never hides a decision.
    pub async fn record_check_progress(
        &self,
        id: &str,
        progress: &Value,
    ) -> Result<bool, StoreError> {
        let _timer = self.time_operation("record_check_progress");
        let updated = sqlx::query(
            "UPDATE check_jobs SET result = $1 WHERE id = $2 AND expires_at > $3 \
             AND (result IS NULL OR result LIKE 'progress:%')",
        )
        .bind(format!("{PROGRESS_PREFIX}{progress}"))
        .bind(id)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// A check that has not expired; `NotFound` otherwise.
    pub async fn check_job(&self, id: &str) -> Result<CheckJob, StoreError> {
        let _timer = self.time_operation("check_job");
        let row = sqlx::query("SELECT result FROM check_jobs WHERE id = $1 AND expires_at > $2")
            .bind(id)
            .bind(self.now())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let json = |text: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Invalid(format!("stored check result is not JSON: {e}")))
        };
        match row.try_get::<Option<String>, _>("result")? {
            None => Ok(CheckJob::Waiting),
            Some(text) => match text.strip_prefix(PROGRESS_PREFIX) {
                Some(progress) => Ok(CheckJob::Progress(json(progress)?)),
                None => Ok(CheckJob::Decided(json(&text)?)),
            },
        }
    }
}
