//! The store's one error type.

use crate::seal::{KeyCheckProblem, SealError};

/// What went wrong in the store. Messages carry no secrets (sqlx errors never include bound
/// values).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No such row.
    #[error("not found")]
    NotFound,
    /// The row would collide with an existing one (a UNIQUE constraint).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The row is still referenced by another (its id is given).
    #[error("still referenced by {0}")]
    Referenced(String),
    /// The input is not acceptable (the message names the field).
    #[error("invalid {0}")]
    Invalid(String),
    /// A sealed secret cannot be opened.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The keyring does not open this database (the rule is in [`crate::seal`]'s doc); nothing
    /// but the schema was written. Key ids are 8 hex characters; never key material.
    #[error(
        "wrong seal key: {problem}: the database expects key id(s) [{}], given [{}]",
        .expected.join(", "),
        .given.join(", ")
    )]
    WrongSealKey {
        /// What does not match.
        problem: KeyCheckProblem,
        /// The key ids the database knows: those with a key check and those sealing live rows.
        expected: Vec<String>,
        /// The key ids of the given keyring, the sealing key's first.
        given: Vec<String>,
    },
    /// While re-sealing, rows kept being sealed under other keys than the new one (an instance
    /// still seals with an old key); the rotation was rolled back.
    #[error(
        "rows were sealed under key id(s) [{}] while re-sealing: restart every instance with the \
         new key first, then rotate again",
        .0.join(", ")
    )]
    RotationRaced(Vec<String>),
    /// The database URL is not one this store speaks.
    #[error("unsupported database URL: {0} (use sqlite://… or postgres://…)")]
    UnsupportedUrl(String),
    /// The database cannot be reached or opened. `target` is `host:port` (PostgreSQL) or the
    /// file (SQLite), never the whole URL, so no password is shown; `cause` says why (it is in
    /// the message too, so whoever shows only the message still shows why).
    #[error("cannot connect to the database at {target}: {cause}")]
    Connect {
        /// Where: `host:port` or the SQLite file.
        target: String,
        /// Why.
        cause: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Any other database error.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// `NotFound` as `None`, for lookups where absence is an answer rather than an error.
pub trait OptionalExt<T> {
    /// `Ok(Some(found))`, `Ok(None)` for `NotFound`, and every other error as it is.
    fn optional(self) -> Result<Option<T>, StoreError>;
}

impl<T> OptionalExt<T> for Result<T, StoreError> {
    fn optional(self) -> Result<Option<T>, StoreError> {
        match self {
            Ok(found) => Ok(Some(found)),
            Err(StoreError::NotFound) => Ok(None),
            Err(other) => Err(other),
        }
    }
}
