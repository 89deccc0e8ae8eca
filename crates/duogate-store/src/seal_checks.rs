//! The key check on the database, rotation, and the seal health of a running instance.
//!
//! The rule that decides whether a keyring opens a database, and why, is in [`crate::seal`]'s
//! module doc; this module runs it against the tables ([`SEALED_COLUMNS`] and `seal_checks`).

use std::collections::BTreeSet;

use sqlx::Row as _;

use crate::error::StoreError;
use crate::seal::{KeyCheckProblem, RowBinding, SEALED_COLUMNS};
use crate::{Engine, Store};

/// Whether this instance can open every sealed row of the database right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealHealth {
    /// The key id new secrets are sealed under here.
    pub current_key_id: String,
    /// Key ids of live sealed rows that this instance's keyring lacks (empty when healthy).
    pub missing_key_ids: Vec<String>,
}

impl SealHealth {
    /// Whether every live sealed row opens here.
    pub fn is_ok(&self) -> bool {
        self.missing_key_ids.is_empty()
    }
}

/// What the key check found: whether the current key still needs its check row.
#[derive(Debug)]
pub(crate) struct Verified {
    current_has_check: bool,
}

impl Store {
    /// Distinct key ids of every live sealed row (from each value's header, in SQL).
    async fn live_key_ids(
        connection: &mut sqlx::AnyConnection,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut ids = BTreeSet::new();
        for (table, column, _) in SEALED_COLUMNS {
            // Bytes 4..=7 (1-based) of the header `dg1 || key id || …` are the key id.
            let rows: Vec<Vec<u8>> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT DISTINCT substr({column}, 4, 4) FROM {table} WHERE {column} IS NOT NULL"
            )))
            .fetch_all(&mut *connection)
            .await?;
            ids.extend(rows.iter().map(hex::encode));
        }
        Ok(ids)
    }

    /// The key check rows: (key id, sealed check).
    async fn check_rows(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rows = sqlx::query("SELECT key_id, sealed_check FROM seal_checks ORDER BY key_id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("key_id")?, row.try_get("sealed_check")?)))
            .collect()
    }

    /// The ids of the keys that have a check row, sorted.
    pub async fn seal_check_key_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .check_rows()
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }

    /// Runs the key check (the rule in [`crate::seal`]) without writing anything.
    pub(crate) async fn verify_keyring(&self) -> Result<Verified, StoreError> {
        let checks = self.check_rows().await?;
        let live = Self::live_key_ids(&mut *self.pool.acquire().await?).await?;
        let refuse = |problem| {
            let expected: BTreeSet<String> = checks
                .iter()
                .map(|(id, _)| id.clone())
                .chain(live.iter().cloned())
                .collect();
            Err(StoreError::WrongSealKey {
                problem,
                expected: expected.into_iter().collect(),
                given: self.keyring.key_ids(),
            })
        };
        if checks.is_empty() {
            if let Some(problem) = self.first_row_that_does_not_open(&live).await? {
                return refuse(problem);
            }
        } else {
            let mut known = checks
                .iter()
                .filter(|(id, _)| self.keyring.has_key(id))
                .peekable();
            if known.peek().is_none() {
                return refuse(KeyCheckProblem::NoKnownKey);
            }
            if known.any(|(id, sealed)| !self.keyring.opens_check(id, sealed)) {
                return refuse(KeyCheckProblem::CheckDoesNotOpen);
            }
        }
        if live.iter().any(|id| !self.keyring.has_key(id)) {
            return refuse(KeyCheckProblem::RowsUnderMissingKeys);
        }
        let current = self.keyring.current_id();
        Ok(Verified {
            current_has_check: checks.iter().any(|(id, _)| *id == current),
        })
    }

    /// For a database without checks: opens every sealed row with the keyring and names the
    /// first problem.
    async fn first_row_that_does_not_open(
        &self,
        live: &BTreeSet<String>,
    ) -> Result<Option<KeyCheckProblem>, StoreError> {
        if live.iter().any(|id| !self.keyring.has_key(id)) {
            return Ok(Some(KeyCheckProblem::RowsUnderMissingKeys));
        }
        for (table, column, key) in SEALED_COLUMNS {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {key} AS row_id, {column} AS sealed FROM {table} WHERE {column} IS NOT NULL"
            )))
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let row_id: String = row.try_get("row_id")?;
                let sealed: Vec<u8> = row.try_get("sealed")?;
                let binding = RowBinding {
                    table,
                    row_id: &row_id,
                };
                if self.keyring.open(&sealed, binding).is_err() {
                    return Ok(Some(KeyCheckProblem::RowDoesNotOpen));
                }
            }
        }
        Ok(None)
    }

    /// Records the current key's check unless it has one (after [`Store::verify_keyring`]).
    pub(crate) async fn record_seal_check(&self, verified: &Verified) -> Result<(), StoreError> {
        if verified.current_has_check {
            return Ok(());
        }
        insert_current_check(self, &self.pool).await?;
        tracing::info!(key_id = %self.keyring.current_id(), "recorded the seal key check");
        Ok(())
    }

    /// This instance's seal health: the key ids of live sealed rows that its keyring lacks. One
    /// `SELECT DISTINCT` over each sealed column; cheap enough for every health call of a
    /// configuration store.
    pub async fn seal_health(&self) -> Result<SealHealth, StoreError> {
        let live = Self::live_key_ids(&mut *self.pool.acquire().await?).await?;
        Ok(SealHealth {
            current_key_id: self.keyring.current_id(),
            missing_key_ids: live
                .into_iter()
                .filter(|id| !self.keyring.has_key(id))
                .collect(),
        })
    }

    /// Re-seals every sealed value not under the current key, records the current key's check
    /// and deletes every other key's check, in one transaction; returns how many values changed.
    /// The old keys must still be in the keyring.
    ///
    /// Safe while instances serve: each row is replaced only if it still holds the value that
    /// was re-sealed (a secret written meanwhile is kept), and the pass repeats (at most three
    /// times) until no row is under another key; if rows still are (an instance keeps sealing
    /// under an old key), [`StoreError::RotationRaced`] and nothing changes.
    pub async fn reseal_all(&self) -> Result<u64, StoreError> {
        let mut tx = match self.engine {
            // Take SQLite's write lock up front, so a serving instance's writes wait for the
            // rotation (busy timeout) instead of invalidating its snapshot.
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.pool.begin().await?,
        };
        let mut changed = 0;
        let mut stale = BTreeSet::new();
        for _pass in 0..3 {
            for (table, column, key) in SEALED_COLUMNS {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {key} AS row_id, {column} AS sealed FROM {table} \
                     WHERE {column} IS NOT NULL"
                )))
                .fetch_all(&mut *tx)
                .await?;
                for row in rows {
                    let row_id: String = row.try_get("row_id")?;
                    let sealed: Vec<u8> = row.try_get("sealed")?;
                    if self.keyring.is_current(&sealed) {
                        continue;
                    }
                    let resealed = self.keyring.reseal(
                        &sealed,
                        RowBinding {
                            table,
                            row_id: &row_id,
                        },
                    )?;
                    let result = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "UPDATE {table} SET {column} = $1 WHERE {key} = $2 AND {column} = $3"
                    )))
                    .bind(resealed)
                    .bind(&row_id)
                    .bind(sealed)
                    .execute(&mut *tx)
                    .await?;
                    changed += result.rows_affected();
                }
            }
            let current = self.keyring.current_id();
            stale = Self::live_key_ids(&mut tx)
                .await?
                .into_iter()
                .filter(|id| *id != current)
                .collect();
            if stale.is_empty() {
                break;
            }
        }
        if !stale.is_empty() {
            tx.rollback().await?;
            return Err(StoreError::RotationRaced(stale.into_iter().collect()));
        }
        insert_current_check(self, &mut *tx).await?;
        sqlx::query("DELETE FROM seal_checks WHERE key_id <> $1")
            .bind(self.keyring.current_id())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(changed)
    }
}

/// Inserts the current key's check; an existing row for the id (another instance recorded it
/// meanwhile) is kept.
async fn insert_current_check<'e, E>(store: &Store, executor: E) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO seal_checks (key_id, sealed_check, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key_id) DO NOTHING",
    )
    .bind(store.keyring.current_id())
    .bind(store.keyring.seal_check())
    .bind(store.now())
    .execute(executor)
    .await?;
    Ok(())
}
