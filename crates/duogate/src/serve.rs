//! `duogate serve`: the configuration service.
//!
//! `--dev` is the embedded default, like a Vault dev server: SQLite in a data folder
//! (`--data-dir`, default `./.duogate-dev`), a seal key generated there on first start
//! (`seal.key`, mode 0600, reused afterwards so the database stays readable), a new root token,
//! a Basic account `admin` with a fresh generated password, and an in-process Duo emulator
//! registered as the connection `emulator`. The first stdout line is one JSON object for
//! scripts: `{"listen", "root_token", "admin_user", "admin_password", "data_dir", "emulator":
//! {url, admin_ikey, admin_skey, auth_ikey, auth_skey}}`; friendly text goes to stderr.
//!
//! Without `--dev`, the service needs a database URL and a seal key, from flags, environment
//! (`DUOGATE_DATABASE_URL`, `DUOGATE_SEAL_KEY`, `DUOGATE_SEAL_KEY_FILE`) or a TOML `--config`
//! file with the same names in snake case.
//!
//! Seal keys: `--seal-key-file` may be given several times (`seal_key_files = [..]` in the
//! config; the single `seal_key_file` still works): the first key seals new secrets, every key
//! opens. `DUOGATE_SEAL_KEY` (one key, 64 hex characters) takes precedence over files. A keyring
//! that does not open the database (the rule is in `duogate_store::seal`) is a usage error
//! (exit 2) naming the key ids the database expects, before anything is served or written. Plain-http Duo endpoints are refused unless
//! `--allow-plain-http-duo` (tests only). When the database has no live admin token (first
//! start), one is created and shown once as `root_token` in the JSON line.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgAction, Args};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;

use duo_emulator::{Emulator, EmulatorConfig, SeedSpec, keys_json};
use duogate_server::engine::Limits;
use duogate_server::engine::limiter::RateLimits;
use duogate_server::{AppState, ServiceSettings};
use duogate_store::integrations::{IntegrationKind, NewIntegration};
use duogate_store::tokens::Role;
use duogate_store::{Keyring, SealKey, Store, StoreError};

use crate::failure::{UsageError, usage};

/// `duogate serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Embedded development mode: SQLite, generated seal key, in-process emulator, root token.
    #[arg(long)]
    pub dev: bool,
    /// Address to listen on (127.0.0.1:0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// TOML config file (keys: listen, database_url, seal_key_files (or seal_key_file),
    /// allow_plain_http_duo, and an
    /// `enforcement` table: duo_timeout_secs, push_timeout_secs, attempts_per_user,
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
    /// Data folder for --dev.
    #[arg(long, default_value = ".duogate-dev", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Allow plain-http Duo endpoints in stored integrations (tests only; always on with --dev).
    #[arg(long)]
    pub allow_plain_http_duo: bool,
}

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
    #[serde(default)]
    enforcement: EnforcementConfig,
}

/// `[enforcement]` in `--config`: time bounds and rate limits of the second factor.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct EnforcementConfig {
    /// Timeout of each Duo call.
    duo_timeout_secs: u64,
    /// How long a push may wait for an answer, in all.
    push_timeout_secs: u64,
    /// Attempts per user of one integration per minute.
    attempts_per_user: usize,
    /// Attempts per source address per minute.
    attempts_per_source: usize,
    /// How often ONTAP profiles re-check Duo for their `status`; 0 turns the timer off.
    status_refresh_secs: u64,
}

impl Default for EnforcementConfig {
    fn default() -> Self {
        let limits = Limits::default();
        let rates = RateLimits::default();
        Self {
            duo_timeout_secs: limits.call_timeout.as_secs(),
            push_timeout_secs: limits.push_timeout.as_secs(),
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
/// names the key ids the database expects.
async fn connect_store(database_url: &str, keyring: Keyring) -> anyhow::Result<Store> {
    Store::connect(database_url, keyring)
        .await
        .map_err(|e| match e {
            StoreError::UnsupportedUrl(_) => {
                anyhow::Error::new(UsageError(format!("--database-url: {e}")))
            }
            StoreError::WrongSealKey { .. } => anyhow::Error::new(UsageError(format!(
                "{e}; pass every key the database still uses with --seal-key-file, the sealing \
                 key first (nothing was written)"
            ))),
            other => anyhow::Error::new(other).context("opening the database"),
        })
}

/// Reads `data_dir/seal.key`, or generates it (mode 0600) on first start.
fn dev_seal_key(data_dir: &Path) -> anyhow::Result<SealKey> {
    let path = data_dir.join("seal.key");
    if path.exists() {
        return read_seal_key(&path);
    }
    let key = SealKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{}", key.to_hex().expose_secret())?;
    Ok(key)
}

/// 24 random characters from a 54-letter alphabet without look-alikes (about 138 bits).
fn generated_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..24)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
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

/// `duogate serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.dev {
        return serve_dev(args).await;
    }
    let file: ConfigFile = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| UsageError(format!("cannot read --config {}: {e}", path.display())))?;
            toml::from_str(&text)
                .map_err(|e| UsageError(format!("--config {} is invalid: {e}", path.display())))?
        }
        None => ConfigFile::default(),
    };
    let (limits, rate_limits, status_refresh) = file.enforcement.settings()?;
    let Some(database_url) = args.database_url.clone().or(file.database_url.clone()) else {
        return usage(
            "no database: pass --database-url (sqlite://FILE or postgres://…), set \
             DUOGATE_DATABASE_URL, or put database_url in --config; or try `duogate serve --dev`",
        );
    };
    let keyring = seal_keyring(&args, &file)?;
    let store = connect_store(&database_url, keyring).await?;
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {listen}: {e}")))?;
    let local = listener.local_addr()?;
    let state = AppState::new(
        store,
        ServiceSettings {
            allow_plain_http_duo: args.allow_plain_http_duo || file.allow_plain_http_duo,
            status_refresh,
        },
    )
    .with_engine(limits, rate_limits);
    // First start (no live admin token): mint one, shown once, like `vault operator init`.
    let mut line = json!({"listen": local.to_string()});
    if !state.store.has_live_admin_token().await? {
        let (token, _) = state.store.create_token(Role::Admin, None, None).await?;
        line["root_token"] = json!(token.expose_secret());
        eprintln!(
            "no admin token existed: a root token was created and is shown once (\"root_token\")"
        );
    }
    print_line(&line)?;
    eprintln!("duogate listening on http://{local}");
    duogate_server::run(state, listener, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_dev(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|e| {
        UsageError(format!(
            "cannot create --data-dir {}: {e}",
            data_dir.display()
        ))
    })?;
    let key = dev_seal_key(&data_dir)?;
    let database_url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("duogate.db").display()
    );
    let store = connect_store(&database_url, Keyring::new(key)).await?;

    let emulator = Emulator::new(EmulatorConfig {
        seed: SeedSpec {
            users: 50,
            phones: 60,
            admins: 5,
            bypass_codes: 20,
        },
        ..EmulatorConfig::default()
    })
    .map_err(|e| UsageError(format!("emulator: {e}")))?;
    let emulator_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let emulator_url = format!("http://{}", emulator_listener.local_addr()?);
    emulator.set_public_url(&emulator_url);
    let keys = emulator.keys();

    // Register the emulator as the connection "emulator" (replacing the last run's).
    let root = store.root_tenant().await?;
    let config = json!({"api_host": emulator_url, "ikey": keys.admin_ikey, "insecure": false, "timeout_secs": 30});
    let skey = SecretString::from(keys.admin_skey.clone());
    match store
        .integration_named(&root.id, IntegrationKind::Connection, "emulator")
        .await
    {
        Ok(found) => {
            store
                .update_integration(&found.id, config, Some(skey))
                .await?;
        }
        Err(StoreError::NotFound) => {
            store
                .create_integration(NewIntegration {
                    tenant_id: root.id.clone(),
                    kind: IntegrationKind::Connection,
                    name: "emulator".into(),
                    config,
                    secret: Some(skey),
                })
                .await?;
        }
        Err(other) => return Err(other.into()),
    }
    let (root_token, _) = store.create_token(Role::Admin, None, None).await?;
    // A Basic account for ONTAP clients; dev mode gives it a fresh password each start.
    let admin_password = SecretString::from(generated_password());
    match store.delete_account("admin").await {
        Ok(()) | Err(StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    store
        .create_account("admin", &admin_password, Role::Admin, None)
        .await?;

    let listen = args
        .listen
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {listen}: {e}")))?;
    let local = listener.local_addr()?;
    print_line(&json!({
        "listen": local.to_string(),
        "root_token": root_token.expose_secret(),
        "admin_user": "admin",
        "admin_password": admin_password.expose_secret(),
        "data_dir": data_dir.display().to_string(),
        "emulator": keys_json(&emulator_url, &keys),
    }))?;
    eprintln!(
        "duogate dev server on http://{local} (data in {})",
        data_dir.display()
    );
    eprintln!("  Duo emulator: {emulator_url} (registered as the connection \"emulator\")");
    eprintln!("  root token:   in the JSON line on stdout (\"root_token\")");
    eprintln!(
        "  Basic account: admin / the \"admin_password\" in the JSON line (for ONTAP clients)"
    );
    eprintln!();
    eprintln!("Try (export DUOGATE_TOKEN=<root_token> first):");
    eprintln!("  # Admin API actions through the emulator connection");
    eprintln!("  curl -s -H \"X-Vault-Token: $DUOGATE_TOKEN\" -d '{{\"limit\": 2}}' \\");
    eprintln!("    http://{local}/v1/duogate/connections/emulator/actions/retrieve_users");
    eprintln!("  # Vault login-MFA method (hvac, bao/vault CLI: VAULT_ADDR=http://{local})");
    eprintln!(
        "  curl -s -H \"X-Vault-Token: $DUOGATE_TOKEN\" http://{local}/v1/identity/mfa/method/duo \\"
    );
    eprintln!(
        "    -d '{{\"method_name\": \"corp\", \"api_hostname\": \"{emulator_url}\", \"integration_key\": \"{}\", \"secret_key\": \"<auth_skey>\"}}'",
        keys.auth_ikey
    );
    eprintln!("  # ONTAP Duo profiles (netapp-ontap: Basic admin / <admin_password>)");
    eprintln!(
        "  curl -s -u admin:<admin_password> http://{local}/api/security/authentication/duo/profiles"
    );
    eprintln!("  # Audit log");
    eprintln!("  curl -s -H \"X-Vault-Token: $DUOGATE_TOKEN\" http://{local}/v1/duogate/audit");
    eprintln!("  # The second factor for a user of the emulator (after creating the method above)");
    eprintln!("  curl -s -H \"X-Vault-Token: $DUOGATE_TOKEN\" http://{local}/v1/duogate/check \\");
    eprintln!("    -d '{{\"method\": \"corp\", \"username\": \"<a seeded username>\"}}'");

    let state = AppState::new(
        store,
        ServiceSettings {
            allow_plain_http_duo: true,
            status_refresh: Some(std::time::Duration::from_secs(60)),
        },
    );
    let (stop_emulator, emulator_stopped) = tokio::sync::oneshot::channel::<()>();
    let emulator_task = tokio::spawn(emulator.serve(emulator_listener, async move {
        let _ = emulator_stopped.await;
    }));
    duogate_server::run(state, listener, shutdown_signal()).await?;
    let _ = stop_emulator.send(());
    let _ = emulator_task.await;
    Ok(ExitCode::SUCCESS)
}
