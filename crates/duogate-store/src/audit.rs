//! The audit log: who changed what, and every MFA decision with its reason. Entries hold
//! names, ids and reasons only; callers must never put a secret or passcode in `detail`.

use serde_json::Value;
use sqlx::Row as _;

use crate::Store;
use crate::error::StoreError;

/// An entry to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Who: a token accessor, an account name, or `system`.
    pub actor: String,
    /// What: `integration.create`, `mfa.decision`, …
    pub action: String,
    /// On what: a path or id.
    pub target: String,
    /// Details (a reason, changed field names…), never secrets.
    pub detail: Value,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Time-ordered id (UUID v7).
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Details.
    pub detail: Value,
}

impl Store {
    /// Appends an entry.
    pub async fn append_audit(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        let _timer = self.time_operation("append_audit");
        let stored = AuditEntry {
            id: uuid::Uuid::now_v7().to_string(),
            at: self.now(),
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            detail: entry.detail,
        };
        sqlx::query("INSERT INTO audit (id, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&stored.id)
            .bind(stored.at)
            .bind(&stored.actor)
            .bind(&stored.action)
            .bind(&stored.target)
            .bind(stored.detail.to_string())
            .execute(&self.pool)
            .await?;
        Ok(stored)
    }

    /// The newest `limit` entries, newest first.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail FROM audit ORDER BY id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let detail: String = row.try_get("detail")?;
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: row.try_get("at")?,
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Invalid(format!("stored audit detail: {e}")))?,
                })
            })
            .collect()
    }
}
