//! Embedded schema migrations, applied in order, each in a transaction.
//!
//! One list serves both engines: the only DDL difference is `BLOB` vs `BYTEA` (`{blob}` in a
//! statement); every query elsewhere is shared.
//! The `schema_migrations` table records what ran; re-running is a no-op. Two instances
//! migrating one PostgreSQL at the same moment race on the version's primary key: the loser's
//! transaction rolls back and it re-reads the applied versions (see [`run`]).

use sqlx::AnyPool;

use crate::Engine;
use crate::error::StoreError;

/// A schema version. `{blob}` in a statement stands for the engine's byte-string type (the
/// only DDL difference between the engines).
struct Migration {
    version: i64,
    statements: &'static [&'static str],
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        statements: &[
            "CREATE TABLE tenants (id TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)",
            "CREATE TABLE integrations (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, kind TEXT NOT NULL, \
         name TEXT NOT NULL, config TEXT NOT NULL, sealed_secret {blob}, secret_fingerprint TEXT, \
         created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, UNIQUE (tenant_id, kind, name))",
            "CREATE TABLE tokens (accessor TEXT PRIMARY KEY, token_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL, \
         tenant_id TEXT, created_at BIGINT NOT NULL, expires_at BIGINT)",
            "CREATE TABLE audit (id TEXT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, \
         target TEXT NOT NULL, detail TEXT NOT NULL)",
            "CREATE INDEX audit_at ON audit (at)",
        ],
    },
    Migration {
        version: 2,
        statements: &[
            "CREATE TABLE accounts (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL, \
         tenant_id TEXT, created_at BIGINT NOT NULL)",
        ],
    },
    Migration {
        version: 3,
        statements: &[
            "ALTER TABLE tokens ADD COLUMN detail TEXT",
            "CREATE TABLE mfa_requests (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, body TEXT NOT NULL, \
         created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)",
        ],
    },
    Migration {
        version: 4,
        statements: &[
            "CREATE TABLE check_jobs (id TEXT PRIMARY KEY, result TEXT, created_at BIGINT NOT NULL, \
         expires_at BIGINT NOT NULL)",
        ],
    },
    Migration {
        version: 5,
        statements: &[
            "CREATE TABLE seal_checks (key_id TEXT PRIMARY KEY, sealed_check {blob} NOT NULL, \
         created_at BIGINT NOT NULL)",
        ],
    },
    Migration {
        version: 6,
        statements: &[
            "CREATE TABLE attempt_counters (scope TEXT NOT NULL, key_hash TEXT NOT NULL, \
         window_start BIGINT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (scope, key_hash, window_start))",
            "CREATE INDEX attempt_counters_window ON attempt_counters (window_start)",
        ],
    },
    // Check jobs remember their tenant (who may read them) and their decision deadline (after
    // which any instance ends them); jobs from before have neither.
    Migration {
        version: 7,
        statements: &[
            "ALTER TABLE check_jobs ADD COLUMN tenant_id TEXT",
            "ALTER TABLE check_jobs ADD COLUMN decide_by BIGINT",
        ],
    },
];

fn for_engine(statement: &str, engine: Engine) -> String {
    statement.replace(
        "{blob}",
        match engine {
            Engine::Sqlite => "BLOB",
            Engine::Postgres => "BYTEA",
        },
    )
}

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

async fn applied(pool: &AnyPool) -> Result<Vec<i64>, StoreError> {
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(pool)
            .await?;
    Ok(versions)
}

/// Applies every migration not yet recorded.
pub async fn run(pool: &AnyPool, engine: Engine) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .execute(pool)
    .await?;
    for attempt in 0..2 {
        let done = applied(pool).await?;
        let mut raced = false;
        for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
            let mut tx = pool.begin().await?;
            for statement in migration.statements {
                sqlx::query(sqlx::AssertSqlSafe(for_engine(statement, engine)))
                    .execute(&mut *tx)
                    .await?;
            }
            let recorded =
                sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                    .bind(migration.version)
                    .bind(jiff::Timestamp::now().as_second())
                    .execute(&mut *tx)
                    .await;
            match recorded {
                Ok(_) => tx.commit().await?,
                Err(error) if attempt == 0 && is_unique_violation(&error) => {
                    tx.rollback().await?;
                    raced = true;
                    break;
                }
                Err(error) => return Err(error.into()),
            }
            tracing::info!(version = migration.version, "applied schema migration");
        }
        if !raced {
            return Ok(());
        }
    }
    Ok(())
}

/// Whether a database error is a UNIQUE violation (both engines report it the same way).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}
