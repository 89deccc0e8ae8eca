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
//! decision is final: progress, and any other decision, recorded after it is ignored.
//!
//! A check job also records its tenant (migration 7), so only callers that may use that tenant
//! read it, and its decision deadline (`decide_by`, Unix seconds): once that has passed by a
//! grace period, any instance may end a job nobody decided
//! ([`Store::end_overdue_check_job`]), so a job whose instance died ends the same way on every
//! instance. Jobs written before migration 7 have neither (tenant `None`, no deadline).

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

/// A check job with what decides who may read it and when it is overdue.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckJobEntry {
    /// The tenant of the check (`None` for jobs stored before migration 7).
    pub tenant_id: Option<String>,
    /// When the check must be decided by, Unix seconds (`None` for jobs stored before
    /// migration 7).
    pub decide_by: Option<i64>,
    /// Its state.
    pub job: CheckJob,
}

/// What marks a check job's `result` as progress rather than a decision.
const PROGRESS_PREFIX: &str = "progress:";

impl Store {
    /// Records an asynchronous check of `tenant_id` that must be decided within
    /// `decide_within_secs` and stays readable for `ttl_secs`; returns its id.
    pub async fn create_check_job(
        &self,
        tenant_id: &str,
        decide_within_secs: i64,
        ttl_secs: i64,
    ) -> Result<String, StoreError> {
        let _timer = self.time_operation("create_check_job");
        let now = self.now();
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query("DELETE FROM check_jobs WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO check_jobs (id, result, created_at, expires_at, tenant_id, decide_by) \
             VALUES ($1, NULL, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(now)
        .bind(now + ttl_secs)
        .bind(tenant_id)
        .bind(now + decide_within_secs)
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Records a check's decision; `NotFound` when the job is unknown or already decided (a
    /// decision is final, whoever wrote it first).
    pub async fn finish_check_job(&self, id: &str, result: &Value) -> Result<(), StoreError> {
        let _timer = self.time_operation("finish_check_job");
        let updated = sqlx::query(
            "UPDATE check_jobs SET result = $1 WHERE id = $2 \
             AND (result IS NULL OR result LIKE 'progress:%')",
        )
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

    /// Decides a check nobody decided in time: when its `decide_by` is more than `grace_secs`
    /// ago and it is still waiting, records `decision`. Answers whether this call recorded it
    /// (`false`: not overdue, already decided, expired or unknown). Every instance may call
    /// it; the first one's decision is the one everybody reads.
    pub async fn end_overdue_check_job(
        &self,
        id: &str,
        grace_secs: i64,
        decision: &Value,
    ) -> Result<bool, StoreError> {
        let now = self.now();
        let updated = sqlx::query(
            "UPDATE check_jobs SET result = $1 WHERE id = $2 AND expires_at > $3 \
             AND decide_by IS NOT NULL AND decide_by + $4 < $3 \
             AND (result IS NULL OR result LIKE 'progress:%')",
        )
        .bind(decision.to_string())
        .bind(id)
        .bind(now)
        .bind(grace_secs)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// A check that has not expired; `NotFound` otherwise.
    pub async fn check_job(&self, id: &str) -> Result<CheckJob, StoreError> {
        let _timer = self.time_operation("check_job");
        Ok(self.check_job_entry(id).await?.job)
    }

    /// A check that has not expired, with its tenant and deadline; `NotFound` otherwise.
    pub async fn check_job_entry(&self, id: &str) -> Result<CheckJobEntry, StoreError> {
        let row = sqlx::query(
            "SELECT result, tenant_id, decide_by FROM check_jobs WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(self.now())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let json = |text: &str| {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Invalid(format!("stored check result is not JSON: {e}")))
        };
        let job = match row.try_get::<Option<String>, _>("result")? {
            None => CheckJob::Waiting,
            Some(text) => match text.strip_prefix(PROGRESS_PREFIX) {
                Some(progress) => CheckJob::Progress(json(progress)?),
                None => CheckJob::Decided(json(&text)?),
            },
        };
        Ok(CheckJobEntry {
            tenant_id: row.try_get("tenant_id")?,
            decide_by: row.try_get("decide_by")?,
            job,
        })
    }
}
