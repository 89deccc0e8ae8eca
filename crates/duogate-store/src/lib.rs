//! `duogate-store`: duogate's storage.
//!
//! One sqlx code path (the `Any` driver, `$N` placeholders, only integers, text and blobs)
//! serves SQLite (the default, a file with WAL) and PostgreSQL (several instances behind a load
//! balancer). Secrets are sealed to their row before they are written ([`seal`]). No store code
//! knows about HTTP: dialects validate input and map [`StoreError`] to their envelopes.
//!
//! # Layout
//!
//! - [`seal`]: AES-256-GCM sealing bound to the row; derived key ids; keyring rotation;
//!   fingerprints.
//! - [`seal_checks`]: the key check on connect (which keyrings open a database), rotation
//!   ([`Store::reseal_all`]) and a running instance's [`seal_checks::SealHealth`].
//! - [`migrate`]: embedded migrations (one list; `BLOB`/`BYTEA` filled in per engine).
//! - [`tenants`]: tenants (Vault namespaces, ONTAP owners) and [`tenants::TenantPath`].
//! - [`integrations`]: every stored Duo configuration, with its sealed secret.
//! - [`tokens`]: API tokens (and login tokens), stored as hashes; roles.
//! - [`mfa_requests`]: pending two-phase logins, shared by every instance on one database.
//! - [`accounts`]: Basic-auth accounts with argon2id password hashes (verified off the async
//!   workers).
//! - [`attempts`]: attempt counters in fixed windows, shared by every instance on one database.
//! - [`audit`]: the audit log.
//! - [`error`]: [`StoreError`], the one error type.
//!
//! # Pool and timeouts
//!
//! [`PoolSettings`] sets the pool size (default 4 connections for SQLite, 10 for PostgreSQL)
//! and a statement timeout: on PostgreSQL every new connection runs `SET statement_timeout`;
//! on SQLite, where statements do not wait on a server, it is the `busy_timeout` (how long a
//! statement waits for a lock held by another connection). Unset, PostgreSQL has no statement
//! timeout and SQLite keeps sqlx's 5 s busy timeout.
//!
//! # Timing
//!
//! [`Store::with_operation_observer`] reports how long the request-path operations take
//! (`token_by_secret`, `verify_account`, `tenant`, `tenant_by_id`, `integration`,
//! `integration_named`, `integration_secret`, `list_integrations`, `append_audit`, the MFA
//! request and check-job operations): from the call to its return (or to the future's drop),
//! pool wait and hashing included. The service turns that into a histogram.
//!
//! The contract suite (`tests/contract.rs`) runs every operation on SQLite, and on PostgreSQL
//! when `TEST_POSTGRES_URL` is set (`scripts/test.sh` sets it).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod accounts;
pub mod attempts;
pub mod audit;
mod database_url;
pub mod error;
pub mod integrations;
pub mod mfa_requests;
pub mod migrate;
pub mod names;
pub mod seal;
pub mod seal_checks;
pub mod tenants;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Row as _;
use sqlx::any::AnyPoolOptions;

pub use error::{OptionalExt, StoreError};
pub use seal::{Keyring, SealKey};

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// SQLite (`sqlite://…`).
    Sqlite,
    /// PostgreSQL (`postgres://…`).
    Postgres,
}

impl Engine {
    /// The engine a URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            let scheme = url.split(':').next().unwrap_or("");
            Err(StoreError::UnsupportedUrl(format!("{scheme}:…")))
        }
    }
}

/// How long [`Store::connect`] tries to reach the database before it gives up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One direct connection attempt (bounded too), for the cause a timed-out pool hides.
async fn why_unreachable(url: &str) -> Box<dyn std::error::Error + Send + Sync> {
    use sqlx::Connection as _;
    match tokio::time::timeout(Duration::from_secs(3), sqlx::AnyConnection::connect(url)).await {
        Ok(Err(cause)) => Box::new(cause),
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            format!(
                "no connection within {} s (the database answered only later)",
                CONNECT_TIMEOUT.as_secs()
            )
            .into()
        }
        Err(_) => format!("no answer within {} s", CONNECT_TIMEOUT.as_secs() + 3).into(),
    }
}

/// Told the name and duration of each timed store operation ([`Store::with_operation_observer`]).
pub type OperationObserver = Arc<dyn Fn(&'static str, Duration) + Send + Sync>;

/// Times one store operation until dropped.
pub(crate) struct OperationTimer<'a> {
    observer: Option<&'a OperationObserver>,
    operation: &'static str,
    started: std::time::Instant,
}

impl Drop for OperationTimer<'_> {
    fn drop(&mut self) {
        if let Some(observer) = self.observer {
            observer(self.operation, self.started.elapsed());
        }
    }
}

/// The pool's size and statement timeout (see the crate documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections in the pool; `None`: 4 for SQLite, 10 for PostgreSQL.
    pub max_connections: Option<u32>,
    /// PostgreSQL's `statement_timeout`, SQLite's `busy_timeout`; `None`: the engine's default.
    pub statement_timeout: Option<Duration>,
}

/// The wall clock, injectable for tests.
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// A connected, migrated store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    engine: Engine,
    keyring: Keyring,
    clock: Clock,
    observer: Option<OperationObserver>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("engine", &self.engine)
            .field("seal_key", &self.keyring.current_id())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `url`, migrates, checks that `keyring` opens the database (reading only;
    /// [`StoreError::WrongSealKey`] otherwise, see [`seal`]), records the current key's check if
    /// it has none, and makes sure the root tenant exists.
    ///
    /// `sqlite://FILE` creates FILE (mode 0600) when it is missing, unless the URL has a
    /// `mode=` parameter. Connecting gives up after [`CONNECT_TIMEOUT`]; a failure is
    /// [`StoreError::Connect`], naming `host:port` or the file (never the URL's password) and
    /// why.
    pub async fn connect(url: &str, keyring: Keyring) -> Result<Self, StoreError> {
        Self::connect_with_clock(url, keyring, Arc::new(jiff::Timestamp::now)).await
    }

    /// [`Store::connect`] with a given clock.
    pub async fn connect_with_clock(
        url: &str,
        keyring: Keyring,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        Self::connect_with(url, keyring, clock, PoolSettings::default()).await
    }

    /// [`Store::connect`] with a given clock and pool settings.
    pub async fn connect_with(
        url: &str,
        keyring: Keyring,
        clock: Clock,
        pool: PoolSettings,
    ) -> Result<Self, StoreError> {
        let store = Self::open(url, keyring, clock, pool).await?;
        let verified = store.verify_keyring().await?;
        store.record_seal_check(&verified).await?;
        store.ensure_root_tenant().await?;
        Ok(store)
    }

    /// Connects and migrates like [`Store::connect`] and checks the keyring, but writes
    /// nothing else: for `duogate seal rotate`, whose [`Store::reseal_all`] records the new
    /// key's check in its own transaction (so a failed rotation leaves no check for a key that
    /// was never used).
    pub async fn connect_to_rotate(url: &str, keyring: Keyring) -> Result<Self, StoreError> {
        let store = Self::open(
            url,
            keyring,
            Arc::new(jiff::Timestamp::now),
            PoolSettings::default(),
        )
        .await?;
        store.verify_keyring().await?;
        Ok(store)
    }

    /// Connects and migrates.
    async fn open(
        url: &str,
        keyring: Keyring,
        clock: Clock,
        pool: PoolSettings,
    ) -> Result<Self, StoreError> {
        let engine = Engine::of_url(url)?;
        sqlx::any::install_default_drivers();
        if engine == Engine::Sqlite {
            database_url::create_missing_sqlite_file(url)?;
        }
        let timeout_ms = pool
            .statement_timeout
            .map(|timeout| timeout.as_millis().min(i32::MAX as u128));
        let connecting = AnyPoolOptions::new()
            .max_connections(pool.max_connections.unwrap_or(match engine {
                Engine::Sqlite => 4,
                Engine::Postgres => 10,
            }))
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if let Some(ms) = timeout_ms {
                        // An integer formatted into the statement: nothing from outside.
                        let statement = match engine {
                            Engine::Postgres => format!("SET statement_timeout = {ms}"),
                            Engine::Sqlite => format!("PRAGMA busy_timeout = {ms}"),
                        };
                        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                            .execute(&mut *connection)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(url);
        // Only the first connection is bounded here; the pool's own acquire timeout (for busy
        // moments later) stays sqlx's default.
        let cause: Box<dyn std::error::Error + Send + Sync> =
            match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
                Ok(Ok(pool)) => return Self::set_up(pool, engine, keyring, clock).await,
                Ok(Err(e)) => Box::new(e),
                // The pool retries a refused connection until a deadline and would then report
                // only that; one more attempt says why.
                Err(_) => why_unreachable(url).await,
            };
        Err(StoreError::Connect {
            target: database_url::printable_target(url, engine),
            cause,
        })
    }

    /// WAL for SQLite and migrations.
    async fn set_up(
        pool: AnyPool,
        engine: Engine,
        keyring: Keyring,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        if engine == Engine::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        migrate::run(&pool, engine).await?;
        Ok(Self {
            pool,
            engine,
            keyring,
            clock,
            observer: None,
        })
    }

    /// The same store, reporting each timed operation to `observer` (see the crate
    /// documentation). Clones made afterwards share it.
    pub fn with_operation_observer(mut self, observer: OperationObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Starts timing `operation` until the returned guard drops.
    pub(crate) fn time_operation(&self, operation: &'static str) -> OperationTimer<'_> {
        OperationTimer {
            observer: self.observer.as_ref(),
            operation,
            started: std::time::Instant::now(),
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Ends a clean shutdown: with SQLite, first moves the write-ahead log into the main file
    /// and empties it (`PRAGMA wal_checkpoint(TRUNCATE)`), so a copy of the database file
    /// alone holds every write; then closes the pool (PostgreSQL: only that). A checkpoint
    /// that cannot finish (a reader still busy) is reported as an error after the pool is
    /// closed; SQLite then checkpoints when its last connection closes, as far as it can.
    pub async fn checkpoint_and_close(&self) -> Result<(), StoreError> {
        let checkpoint = if self.engine == Engine::Sqlite {
            match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await
            {
                Ok(row) => match row.try_get::<i64, _>(0) {
                    Ok(0) => Ok(()),
                    Ok(_) => Err(StoreError::Invalid(
                        "the WAL checkpoint could not finish: the database was busy".into(),
                    )),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            }
        } else {
            Ok(())
        };
        self.pool.close().await;
        checkpoint
    }

    pub(crate) fn now(&self) -> i64 {
        (self.clock)().as_second()
    }

    /// Maps a UNIQUE violation to `Conflict(what)`.
    pub(crate) fn conflict(&self, error: sqlx::Error, what: String) -> StoreError {
        if migrate::is_unique_violation(&error) {
            StoreError::Conflict(what)
        } else {
            StoreError::Database(error)
        }
    }
}
