//! Attempt counters shared by every instance on one database: one row per (scope, key,
//! window) in `attempt_counters`, so N instances on one PostgreSQL enforce one budget instead
//! of N.
//!
//! - Keys are stored as the SHA-256 (hex) of the caller's key bytes under a label: a raw
//!   username (which may be a mistyped password) is never written.
//! - Windows are fixed: the caller names the window by its start (Unix seconds, a multiple of
//!   its length), so every instance with a sane clock lands on the same row.
//! - [`Store::count_attempt`] is one transaction of conditional upserts (`INSERT … ON
//!   CONFLICT DO UPDATE … WHERE count < limit RETURNING count`): the database's row lock makes
//!   concurrent instances queue on a key, and a key at its limit rolls the whole attempt back,
//!   so a refused attempt changes nothing. Keys are taken in the caller's order (always the
//!   same order for the same kinds of key), so two attempts never wait on each other in a
//!   cycle.
//! - Expired windows are deleted by [`Store::purge_attempt_windows`], which the caller runs
//!   now and then; the table holds at most the keys seen in the live windows plus what awaits
//!   the next purge.

use sha2::{Digest as _, Sha256};

use crate::Store;
use crate::error::StoreError;

/// One counter an attempt touches.
#[derive(Debug, Clone, Copy)]
pub struct AttemptKey<'a> {
    /// What is counted (`user`, `source`, `login_account`, …).
    pub scope: &'a str,
    /// Whose attempts: hashed before it is stored.
    pub key: &'a [u8],
    /// Attempts allowed in one window.
    pub limit: u32,
}

fn key_hash(key: &AttemptKey<'_>) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"duogate attempt key\0");
    hasher.update(key.scope.as_bytes());
    hasher.update([0]);
    hasher.update(key.key);
    hex::encode(hasher.finalize())
}

impl Store {
    /// Counts one attempt under every key in the window starting at `window_start`, if every
    /// key is below its limit; otherwise counts nothing and answers `false`.
    pub async fn count_attempt(
        &self,
        keys: &[AttemptKey<'_>],
        window_start: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        for key in keys {
            let counted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO attempt_counters (scope, key_hash, window_start, count) \
                 VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (scope, key_hash, window_start) \
                 DO UPDATE SET count = attempt_counters.count + 1 \
                 WHERE attempt_counters.count < $4 RETURNING count",
            )
            .bind(key.scope)
            .bind(key_hash(key))
            .bind(window_start)
            .bind(i64::from(key.limit))
            .fetch_optional(&mut *tx)
            .await?;
            if counted.is_none() {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whether any key has reached its limit in the window starting at `window_start` (reads
    /// only).
    pub async fn attempts_exhausted(
        &self,
        keys: &[AttemptKey<'_>],
        window_start: i64,
    ) -> Result<bool, StoreError> {
        for key in keys {
            let count: Option<i64> = sqlx::query_scalar(
                "SELECT count FROM attempt_counters \
                 WHERE scope = $1 AND key_hash = $2 AND window_start = $3",
            )
            .bind(key.scope)
            .bind(key_hash(key))
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await?;
            if count.unwrap_or(0) >= i64::from(key.limit) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Counts one attempt under every key, whatever the limits (for failures, which happen
    /// whether or not they are allowed).
    pub async fn add_attempt(
        &self,
        keys: &[AttemptKey<'_>],
        window_start: i64,
    ) -> Result<(), StoreError> {
        for key in keys {
            sqlx::query(
                "INSERT INTO attempt_counters (scope, key_hash, window_start, count) \
                 VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (scope, key_hash, window_start) \
                 DO UPDATE SET count = attempt_counters.count + 1",
            )
            .bind(key.scope)
            .bind(key_hash(key))
            .bind(window_start)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Deletes the counters of windows that started before `before`; answers how many.
    pub async fn purge_attempt_windows(&self, before: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM attempt_counters WHERE window_start < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    /// How many counter rows exist (for tests and operators).
    pub async fn attempt_counter_rows(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM attempt_counters")
            .fetch_one(&self.pool)
            .await?)
    }
}
