//! `duogate serve`: the configuration service.
//!
//! `--dev` is the embedded default and behaves like `vault server -dev` (see [`dev`]): fresh
//! every start in a private temporary folder unless `--data-dir DIR` keeps everything (the
//! emulator's keys, port and data included), the port bound before any state is touched, a root
//! token (`--dev-root-token-id`), a Basic account `admin`, an in-process Duo emulator registered
//! as the connection `emulator`, one JSON line on stdout (with `"url"`, and `"ca_file"` with `--dev-tls`) and ready-to-paste `export` lines on
//! stderr.
//!
//! Without `--dev`, the service needs a database URL and a seal key, from flags, environment
//! (`DUOGATE_DATABASE_URL`, `DUOGATE_SEAL_KEY`, `DUOGATE_SEAL_KEY_FILE`) or a TOML `--config`
//! file with the same names in snake case. `sqlite://FILE` creates FILE (mode 0600) when it is
//! missing; an unreachable database fails within seconds ([`duogate_store::CONNECT_TIMEOUT`])
//! naming `host:port` and the cause. Plain-http Duo endpoints are refused unless
//! `--allow-plain-http-duo` (tests only). When the database has no live admin token (first
//! start), one is created and shown once as `root_token` in the JSON line, or written to
//! `--root-token-file FILE` instead (created new with mode 0600; refused if FILE exists, before
//! any token is made; not touched when a token already exists, so a service manager can pass it
//! on every start).
//!
//! Operations (flags win over `--config`): `--log-format text|json` (`log_format`; see
//! [`crate::logging`]), `--workers N` (`workers`, 1..=1024; default: the machine's cores; read
//! before the async runtime is built, see [`ProcessSettings`]), `--shutdown-timeout SECS`
//! (`shutdown_timeout_secs`, 0..=3600, default 10: how long requests in flight may finish
//! after SIGINT/SIGTERM before their connections are cut), `max_connections` (1..=1000000:
//! connections served at once; more wait in the kernel's backlog), `metrics_token` (a bearer
//! token `/metrics` requires; absent: open), and `[database]` `max_connections` (1..=1000) and
//! `statement_timeout_ms` (1..=3600000; PostgreSQL's `statement_timeout`, SQLite's
//! `busy_timeout`). A value out of range exits 2 naming the key. Start, ready and shutdown are
//! logged at info level; without `--dev` everything on stderr is the log (JSON lines with
//! `--log-format json`), while `--dev` prints its human banner first.
//!
//! TLS, the loopback rule for plain HTTP and SIGHUP reloading: [`crate::serve_listener`]. Every
//! JSON line has `"url"` (`http://…` or `https://…`, with the bound port).
//!
//! Seal keys: `--seal-key-file` may be given several times (`seal_key_files = [..]` in the
//! config; the single `seal_key_file` still works): the first key seals new secrets, every key
//! opens. `DUOGATE_SEAL_KEY` (one key, 64 hex characters) takes precedence over files. A keyring
//! that does not open the database (the rule is in `duogate_store::seal`) is a usage error
//! (exit 2) naming the key ids the database expects, before anything is served or written.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Args};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use duogate_server::client_address::{Cidr, ForwardedHeader, ProxyTrust};
use duogate_server::engine::Limits;
use duogate_server::engine::limiter::RateLimits;
use duogate_server::{AppState, ServiceSettings};
use duogate_store::tokens::Role;
use duogate_store::{Keyring, PoolSettings, SealKey, Store, StoreError};

use crate::failure::{UsageError, usage};
use crate::logging::LogFormat;
use crate::private_files::create_new_private_file;

mod dev;
use crate::serve_listener::ServeTlsArgs;

/// `duogate serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Development mode like `vault server -dev`: fresh each start (unless --data-dir), an
    /// in-process Duo emulator, a root token, ready-to-paste exports.
    #[arg(long)]
    pub dev: bool,
    /// Address to listen on (127.0.0.1:0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// TOML config file (keys: listen, database_url, seal_key_files (or seal_key_file),
    /// allow_plain_http_duo, tls_cert_file, tls_key_file, tls_disable, trusted_proxies (CIDRs),
    /// forwarded_header (x-forwarded-for or forwarded), log_format, workers,
    /// shutdown_timeout_secs, max_connections, header_read_timeout_secs, metrics_token, a
    /// `database` table: max_connections, statement_timeout_ms, and an `enforcement` table:
    /// duo_timeout_secs, push_timeout_secs, check_deadline_secs, attempts_per_user,
    /// attempts_per_source (per minute), status_refresh_secs).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://…
    #[arg(
        long,
        env = "DUOGATE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// File holding a seal key (64 hex characters or base64 of 32 bytes). Repeat it during a
    /// rotation: the first key seals new secrets, every key opens (`--seal-key-file new
    /// --seal-key-file old`).
    #[arg(
        long,
        env = "DUOGATE_SEAL_KEY_FILE",
        value_name = "FILE",
        action = ArgAction::Append
    )]
    pub seal_key_file: Vec<PathBuf>,
    /// Keep --dev's data in DIR across restarts (default: a new private temporary folder,
    /// removed on exit).
    #[arg(long, value_name = "DIR", requires = "dev")]
    pub data_dir: Option<PathBuf>,
    /// --dev's root token, instead of a generated one (printable ASCII, at most 256 characters).
    #[arg(long, value_name = "ID", requires = "dev", value_parser = secret_arg)]
    pub dev_root_token_id: Option<SecretString>,
    /// On first start, write the root token to FILE (created, mode 0600; refused if it exists)
    /// instead of showing it in the JSON line.
    #[arg(long, value_name = "FILE", conflicts_with = "dev")]
    pub root_token_file: Option<PathBuf>,
    /// Allow plain-http Duo endpoints in stored integrations (tests only; always on with --dev).
    #[arg(long)]
    pub allow_plain_http_duo: bool,
    #[command(flatten)]
    pub tls: ServeTlsArgs,
    /// Log format on stderr: text, or json (one object per line) [config: log_format].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Worker threads of the async runtime (default: the machine's cores) [config: workers].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(WORKERS_RANGE))]
    pub workers: Option<u64>,
    /// On SIGINT/SIGTERM, how long requests in flight may finish, in seconds (default 10)
    /// [config: shutdown_timeout_secs].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(SHUTDOWN_TIMEOUT_RANGE))]
    pub shutdown_timeout: Option<u64>,
}

/// `--workers` / `workers`.
const WORKERS_RANGE: std::ops::RangeInclusive<u64> = 1..=1024;
/// `--shutdown-timeout` / `shutdown_timeout_secs`.
const SHUTDOWN_TIMEOUT_RANGE: std::ops::RangeInclusive<u64> = 0..=3600;
/// The longest `metrics_token`.
const METRICS_TOKEN_MAX_LEN: usize = 256;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    seal_key_file: Option<PathBuf>,
    #[serde(default)]
    seal_key_files: Vec<PathBuf>,
    #[serde(default)]
    allow_plain_http_duo: bool,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    #[serde(default)]
    tls_disable: bool,
    #[serde(default)]
    enforcement: EnforcementConfig,
    log_format: Option<LogFormat>,
    workers: Option<u64>,
    shutdown_timeout_secs: Option<u64>,
    max_connections: Option<u64>,
    metrics_token: Option<SecretString>,
    #[serde(default)]
    database: DatabaseConfig,
    /// Peers (CIDRs) whose forwarding header names the client's address.
    #[serde(default)]
    trusted_proxies: Vec<String>,
    /// `x-forwarded-for` (default) or `forwarded`: the header those proxies append to.
    forwarded_header: Option<String>,
    /// How long an HTTP/1 client may take to send a request's head (1 to 300; default 10).
    header_read_timeout_secs: Option<u64>,
}

/// `[database]` in `--config`: the pool.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DatabaseConfig {
    /// Connections in the pool (default 4 for SQLite, 10 for PostgreSQL).
    max_connections: Option<u64>,
    /// PostgreSQL's `statement_timeout` / SQLite's `busy_timeout`, in milliseconds.
    statement_timeout_ms: Option<u64>,
}

/// A `--config` value outside its range is a usage error naming the key.
fn check_range(
    key: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, UsageError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(UsageError(format!(
            "--config: {key} = {value} is out of range {}..={}",
            range.start(),
            range.end()
        )))
    }
}

/// What the process is set up with before the async runtime exists: the log format and the
/// runtime's worker threads (`serve` reads them from its flags and `--config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessSettings {
    /// The log format.
    pub log_format: LogFormat,
    /// Worker threads; `None`: the machine's cores.
    pub workers: Option<usize>,
    /// Whether this process serves (`serve`): info-level logs by default.
    pub service: bool,
}

impl ProcessSettings {
    /// The settings of `command`: `serve`'s from its flags and `--config`; other commands
    /// log text and run on two worker threads.
    pub fn of(command: &crate::cli::Command) -> Result<Self, UsageError> {
        let crate::cli::Command::Serve(args) = command else {
            return Ok(Self {
                log_format: LogFormat::Text,
                workers: Some(2),
                service: false,
            });
        };
        let file = read_config_file(args.config.as_deref())?;
        let workers = match (args.workers, file.workers) {
            (Some(flag), _) => Some(flag),
            (None, Some(value)) => Some(check_range("workers", value, WORKERS_RANGE)?),
            (None, None) => None,
        };
        Ok(Self {
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            workers: workers.map(|n| n as usize),
            service: true,
        })
    }

    /// The async runtime these settings ask for.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let workers = self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

/// The service's operational settings from flags and `--config`, shared by `serve` and
/// `serve --dev`.
struct OperationalSettings {
    metrics_token: Option<SecretString>,
    max_connections: Option<usize>,
    shutdown_timeout: Duration,
    pool: PoolSettings,
}

impl ConfigFile {
    /// `header_read_timeout_secs`, range-checked (the error names the key).
    fn header_read_timeout(&self) -> Result<Duration, UsageError> {
        match self.header_read_timeout_secs {
            None => Ok(duogate_server::listener::DEFAULT_HEADER_READ_TIMEOUT),
            Some(secs @ 1..=300) => Ok(Duration::from_secs(secs)),
            Some(secs) => Err(UsageError(format!(
                "--config: header_read_timeout_secs = {secs} is out of range 1..=300"
            ))),
        }
    }

    /// `trusted_proxies` and `forwarded_header`, parsed (the error names the key and entry).
    fn proxy_trust(&self) -> Result<ProxyTrust, UsageError> {
        let proxies = self
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.parse::<Cidr>()
                    .map_err(|e| UsageError(format!("--config: trusted_proxies[{i}]: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let header = match &self.forwarded_header {
            None => ForwardedHeader::default(),
            Some(text) => text
                .parse()
                .map_err(|e| UsageError(format!("--config: forwarded_header: {e}")))?,
        };
        Ok(ProxyTrust::new(proxies, header))
    }

    fn operational(&self, args: &ServeArgs) -> Result<OperationalSettings, UsageError> {
        let shutdown_timeout = match (args.shutdown_timeout, self.shutdown_timeout_secs) {
            (Some(flag), _) => Duration::from_secs(flag),
            (None, Some(value)) => Duration::from_secs(check_range(
                "shutdown_timeout_secs",
                value,
                SHUTDOWN_TIMEOUT_RANGE,
            )?),
            (None, None) => duogate_server::listener::DEFAULT_SHUTDOWN_TIMEOUT,
        };
        let max_connections = self
            .max_connections
            .map(|value| check_range("max_connections", value, 1..=1_000_000))
            .transpose()?
            .map(|n| n as usize);
        if let Some(token) = &self.metrics_token {
            let token = token.expose_secret();
            if token.is_empty()
                || token.len() > METRICS_TOKEN_MAX_LEN
                || !token.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(UsageError(format!(
                    "--config: metrics_token must be 1 to {METRICS_TOKEN_MAX_LEN} printable \
                     ASCII characters without spaces"
                )));
            }
        }
        let pool = PoolSettings {
            max_connections: self
                .database
                .max_connections
                .map(|value| check_range("database.max_connections", value, 1..=1000))
                .transpose()?
                .map(|n| n as u32),
            statement_timeout: self
                .database
                .statement_timeout_ms
                .map(|value| check_range("database.statement_timeout_ms", value, 1..=3_600_000))
                .transpose()?
                .map(Duration::from_millis),
        };
        Ok(OperationalSettings {
            metrics_token: self.metrics_token.clone(),
            max_connections,
            shutdown_timeout,
            pool,
        })
    }
}

/// `[enforcement]` in `--config`: time bounds and rate limits of the second factor.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EnforcementConfig {
    /// Timeout of each Duo call.
    duo_timeout_secs: u64,
    /// How long a push may wait for an answer, in all.
    push_timeout_secs: u64,
    /// The most one whole check may take (every Duo call, 429 waits and retries); by default
    /// `push_timeout_secs + 15`.
    check_deadline_secs: Option<u64>,
    /// Attempts per user of one integration per minute.
    attempts_per_user: usize,
    /// Attempts per source address per minute.
    attempts_per_source: usize,
    /// How often ONTAP profiles re-check Duo for their `status` and `GET status` probes every
    /// stored Duo endpoint; 0 turns the timer off.
    status_refresh_secs: u64,
}

impl Default for EnforcementConfig {
    fn default() -> Self {
        let limits = Limits::default();
        let rates = RateLimits::default();
        Self {
            duo_timeout_secs: limits.call_timeout.as_secs(),
            push_timeout_secs: limits.push_timeout.as_secs(),
            check_deadline_secs: None,
            attempts_per_user: rates.per_user,
            attempts_per_source: rates.per_source,
            status_refresh_secs: 300,
        }
    }
}

impl EnforcementConfig {
    /// The engine's settings, after checking every value's range (the error names the key).
    fn settings(&self) -> Result<(Limits, RateLimits, Option<Duration>), UsageError> {
        let check = |key: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
            if range.contains(&value) {
                Ok(())
            } else {
                Err(UsageError(format!(
                    "--config: enforcement.{key} = {value} is out of range {}..={}",
                    range.start(),
                    range.end()
                )))
            }
        };
        check("duo_timeout_secs", self.duo_timeout_secs, 1..=120)?;
        check("push_timeout_secs", self.push_timeout_secs, 5..=600)?;
        let check_deadline_secs = self
            .check_deadline_secs
            .unwrap_or(self.push_timeout_secs + 15);
        check(
            "check_deadline_secs",
            check_deadline_secs,
            self.push_timeout_secs..=3600,
        )?;
        check(
            "attempts_per_user",
            self.attempts_per_user as u64,
            1..=10_000,
        )?;
        check(
            "attempts_per_source",
            self.attempts_per_source as u64,
            1..=100_000,
        )?;
        if self.status_refresh_secs != 0 {
            check("status_refresh_secs", self.status_refresh_secs, 10..=86_400)?;
        }
        let limits = Limits {
            call_timeout: Duration::from_secs(self.duo_timeout_secs),
            push_timeout: Duration::from_secs(self.push_timeout_secs),
            check_deadline: Duration::from_secs(check_deadline_secs),
            ..Limits::default()
        };
        let rates = RateLimits {
            per_user: self.attempts_per_user,
            per_source: self.attempts_per_source,
            window: Duration::from_secs(60),
        };
        let refresh =
            (self.status_refresh_secs > 0).then(|| Duration::from_secs(self.status_refresh_secs));
        Ok((limits, rates, refresh))
    }
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8200";

/// A secret flag value (kept out of `Debug`).
fn secret_arg(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text.to_string()))
}

/// The `--config` file, or the defaults without one.
fn read_config_file(path: Option<&Path>) -> Result<ConfigFile, UsageError> {
    let Some(path) = path else {
        return Ok(ConfigFile::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read --config {}: {e}", path.display())))?;
    toml::from_str(&text)
        .map_err(|e| UsageError(format!("--config {} is invalid: {e}", path.display())))
}

fn read_seal_key(path: &Path) -> anyhow::Result<SealKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read seal key file {}: {e}", path.display())))?;
    SealKey::parse(&SecretString::from(text))
        .map_err(|e| UsageError(format!("seal key file {}: {e}", path.display())).into())
}

/// The keyring from `DUOGATE_SEAL_KEY`, else the `--seal-key-file`s (or
/// `DUOGATE_SEAL_KEY_FILE`), else the config's `seal_key_files` / `seal_key_file`: the first key
/// seals, every key opens.
fn seal_keyring(args: &ServeArgs, file: &ConfigFile) -> anyhow::Result<Keyring> {
    if let Ok(text) = std::env::var("DUOGATE_SEAL_KEY") {
        let key = SealKey::parse(&SecretString::from(text))
            .map_err(|e| UsageError(format!("DUOGATE_SEAL_KEY: {e}")))?;
        return Ok(Keyring::new(key));
    }
    let paths: Vec<PathBuf> = if !args.seal_key_file.is_empty() {
        args.seal_key_file.clone()
    } else {
        if file.seal_key_file.is_some() && !file.seal_key_files.is_empty() {
            return usage("--config: give either seal_key_file or seal_key_files, not both");
        }
        file.seal_key_file
            .iter()
            .chain(&file.seal_key_files)
            .cloned()
            .collect()
    };
    let Some((first, older)) = paths.split_first() else {
        return usage(
            "no seal key: pass --seal-key-file, set DUOGATE_SEAL_KEY or DUOGATE_SEAL_KEY_FILE, \
             or put seal_key_files in --config (generate one with `openssl rand -hex 32`)",
        );
    };
    older
        .iter()
        .try_fold(Keyring::new(read_seal_key(first)?), |ring, path| {
            Ok(ring.with_older(read_seal_key(path)?))
        })
}

/// Opens the store; a keyring that does not open the database is a usage error (exit 2) that
/// names the key ids the database expects, followed by `hint`.
async fn connect_store(
    database_url: &str,
    keyring: Keyring,
    pool: PoolSettings,
    hint: &str,
) -> anyhow::Result<Store> {
    Store::connect_with(
        database_url,
        keyring,
        std::sync::Arc::new(jiff::Timestamp::now),
        pool,
    )
    .await
    .map_err(|e| match e {
        StoreError::UnsupportedUrl(_) => {
            anyhow::Error::new(UsageError(format!("--database-url: {e}")))
        }
        StoreError::WrongSealKey { .. } => {
            anyhow::Error::new(UsageError(format!("{e}; {hint} (nothing was written)")))
        }
        other => anyhow::Error::new(other).context("opening the database"),
    })
}

async fn shutdown_signal() {
    crate::emulate::shutdown_signal().await;
}

fn print_line(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{value}")?;
    stdout.flush()?;
    Ok(())
}

/// Mints the first root token into `path` (created new, mode 0600). The file is created before
/// the token, so an existing file refuses the start with nothing minted; a failed write revokes
/// the token again.
async fn write_first_root_token(store: &Store, path: &Path) -> anyhow::Result<()> {
    let mut file = create_new_private_file(path).map_err(|e| {
        UsageError(format!(
            "--root-token-file {}: {e} (it must not exist yet: it receives the first root token)",
            path.display()
        ))
    })?;
    let (token, record) = store.create_token(Role::Admin, None, None).await?;
    let written = writeln!(file, "{}", token.expose_secret()).and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = store.revoke_token(&record.accessor).await;
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(
            anyhow::Error::new(e).context(format!("writing the root token to {}", path.display()))
        );
    }
    Ok(())
}

/// `duogate serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.dev {
        return dev::serve_dev(args).await;
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "duogate starting");
    let file = read_config_file(args.config.as_deref())?;
    let (limits, rate_limits, status_refresh) = file.enforcement.settings()?;
    let operational = file.operational(&args)?;
    let proxy_trust = file.proxy_trust()?;
    let header_read_timeout = file.header_read_timeout()?;
    let tls = args.tls.choice(
        file.tls_cert_file.clone(),
        file.tls_key_file.clone(),
        file.tls_disable,
    )?;
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    // The listener's rules are checked before the database is touched.
    crate::serve_listener::check_loopback_rule(listen, tls.files.is_some(), tls.disabled)?;
    let Some(database_url) = args.database_url.clone().or(file.database_url.clone()) else {
        return usage(
            "no database: pass --database-url (sqlite://FILE or postgres://…), set \
             DUOGATE_DATABASE_URL, or put database_url in --config; or try `duogate serve --dev`",
        );
    };
    let keyring = seal_keyring(&args, &file)?;
    let store = connect_store(
        &database_url,
        keyring,
        operational.pool,
        "pass every key the database still uses with --seal-key-file, the sealing key first",
    )
    .await?;
    let bound = crate::serve_listener::bind(listen, tls).await?;
    let local = bound.local;
    let state = AppState::new(
        store,
        ServiceSettings {
            allow_plain_http_duo: args.allow_plain_http_duo || file.allow_plain_http_duo,
            status_refresh,
            metrics_token: operational.metrics_token,
            max_connections: operational.max_connections,
            shutdown_timeout: operational.shutdown_timeout,
        },
    )
    .with_engine(limits, rate_limits)
    .with_proxy_trust(proxy_trust)
    .with_header_read_timeout(header_read_timeout);
    // First start (no live admin token): mint one, shown once, like `vault operator init`.
    let mut line = json!({"listen": local.to_string(), "url": bound.url.clone()});
    if !state.store.has_live_admin_token().await? {
        match &args.root_token_file {
            Some(path) => {
                write_first_root_token(&state.store, path).await?;
                tracing::info!(
                    file = %path.display(),
                    "no admin token existed: a root token was created and written to the file"
                );
            }
            None => {
                let (token, _) = state.store.create_token(Role::Admin, None, None).await?;
                line["root_token"] = json!(token.expose_secret());
                tracing::info!(
                    "no admin token existed: a root token was created and is shown once \
                     (\"root_token\" on stdout)"
                );
            }
        }
    }
    // SIGHUP is handled before the line announces the server, so no reload request kills it.
    crate::serve_listener::reload_on_sighup(bound.tls.clone());
    print_line(&line)?;
    tracing::info!(url = %bound.url, "duogate ready");
    let store = state.store.clone();
    let served = duogate_server::run(state, bound.listener, shutdown_signal()).await;
    // A clean exit leaves every write in the database file itself (SQLite's WAL emptied), so
    // copying that file alone is a complete backup.
    if let Err(error) = store.checkpoint_and_close().await {
        tracing::warn!(%error, "could not checkpoint the database on shutdown");
    }
    served?;
    tracing::info!("duogate stopped");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../packaging/duogate.example.toml");

    /// The keys a table accepts, read from serde's refusal of an unknown one.
    fn accepted_keys(table: Option<&str>) -> Vec<String> {
        let probe = match table {
            Some(table) => format!("[{table}]\nnot_a_key = 1\n"),
            None => "not_a_key = 1\n".to_string(),
        };
        let error = toml::from_str::<ConfigFile>(&probe)
            .expect_err("an unknown key is refused")
            .to_string();
        let expected = error
            .split("expected ")
            .nth(1)
            .unwrap_or_else(|| panic!("serde names the accepted keys: {error}"));
        // "`a`", "`a` or `b`", "one of `a`, `b`, `c`": every name is in backticks.
        expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn the_example_configuration_parses_and_its_values_are_in_range() {
        let file: ConfigFile = toml::from_str(EXAMPLE).expect("the example parses");
        file.enforcement.settings().expect("enforcement in range");
        file.proxy_trust().expect("proxies parse");
    }

    #[test]
    fn the_example_configuration_mentions_every_key_the_service_reads() {
        let tables = [None, Some("enforcement"), Some("database")];
        let mut missing = Vec::new();
        for table in tables {
            let keys = accepted_keys(table);
            assert!(keys.len() > 1, "{table:?}: {keys:?}");
            for key in keys {
                // `seal_key_file` is the one-key spelling of `seal_key_files`.
                let mentioned = EXAMPLE.lines().any(|line| {
                    let line = line.trim_start_matches(['#', ' ']);
                    line.starts_with(&format!("{key} ")) || line.starts_with(&format!("[{key}]"))
                }) || (key == "seal_key_file" && EXAMPLE.contains("seal_key_file"));
                if !mentioned {
                    missing.push(format!(
                        "{}{key}",
                        table.map(|t| format!("{t}.")).unwrap_or_default()
                    ));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "packaging/duogate.example.toml does not mention: {missing:?}"
        );
    }
}
