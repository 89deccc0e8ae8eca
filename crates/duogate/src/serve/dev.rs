//! `duogate serve --dev`: everything embedded, like `vault server -dev`.
//!
//! # Fresh, or kept with `--data-dir`
//!
//! Without `--data-dir` every start is fresh: the data lives in a new private temporary folder
//! (`duogate-dev-*`, mode 0700) that is removed on a clean exit (SIGINT/SIGTERM), like Vault's
//! in-memory dev storage. The JSON line's `data_dir` names it.
//!
//! With `--data-dir DIR` (created with mode 0700 when missing) everything survives a restart:
//! the SQLite database `duogate.db` (0600), the seal key `seal.key` (0600, generated on first
//! start), and `dev-state.json` (0600): the emulator's port, keys and data (the shape of
//! `GET /_emulator/state`) and the accessor of the dev root token. `dev-state.json` is written
//! at start (after the database is set up) and again on a clean exit, which is when changes made
//! through the emulator's Admin or control API are saved; a killed process (SIGKILL) loses those
//! changes, not the keys or the port. Emulator transactions, enrollments and faults are not
//! kept. While a process serves DIR it holds a lock on `DIR/lock`: a second one is refused
//! (exit 2) before it changes anything. A DIR from before `dev-state.json` existed gets a new
//! emulator (its old dev root tokens cannot be told from others and stay).
//!
//! The emulator listens on its saved port again, so Vault methods and ONTAP profiles that name
//! `http://127.0.0.1:PORT` keep working. When that port is taken, it listens on a new one, says
//! so on stderr, and re-points the connection `emulator` and every stored Vault method,
//! step-up method (`api_hostname`) and ONTAP profile (`api_host`) that names the old emulator
//! URL with the emulator's Auth API integration key (anything else is left alone).
//!
//! A signal during the fraction of a second before the server serves ends the process without
//! cleanup, so a temporary folder may then stay behind.
//!
//! # Order of start-up
//!
//! 1. Settings: `--config` is read (`listen`, `trusted_proxies`, `forwarded_header`,
//!    `[enforcement]`, `[database]` pool settings and the operational keys `log_format`,
//!    `workers`, `shutdown_timeout_secs`, `max_connections`, `metrics_token`, checked like
//!    without `--dev`;
//!    `database_url` and `seal_key_file(s)` are refused with exit 2, as are `--database-url`,
//!    `--seal-key-file`, `DUOGATE_DATABASE_URL`, `DUOGATE_SEAL_KEY` and
//!    `DUOGATE_SEAL_KEY_FILE`: dev mode has its own database and key). Without `--config`, ONTAP
//!    profiles' `status` is re-checked every 60 s (`status_refresh_secs` of a `--config` wins).
//!    `--dev-root-token-id` is checked (printable ASCII without spaces, 1 to 256 characters).
//! 2. `DIR/dev-state.json` is read (nothing is written).
//! 3. The service's port, then the emulator's, are bound. A busy service port exits 2
//!    (`cannot listen on …`) having changed nothing: no folder, file, token or password.
//! 4. The data folder is created (or locked), the database opened, the emulator started and
//!    registered as the connection `emulator`.
//! 5. The dev root token replaces the previous one (revoked by the accessor saved in
//!    `dev-state.json`; tokens created through the API are kept). `--dev-root-token-id ID` sets
//!    its value; otherwise it is generated. Each start gives the account `admin` a new
//!    generated password.
//! 6. The JSON line on stdout (`listen`, `url`, `root_token`, `admin_user`, `admin_password`,
//!    `data_dir`, `emulator`, and `ca_file` with `--dev-tls`, whose CA is kept in `DATA/tls/`
//!    and whose server certificate is issued anew each start), then ready-to-paste `export` lines and `curl` examples on stderr.
//!    They carry the real root token, admin password and emulator keys on purpose, as `vault
//!    server -dev` prints its root token: these are a throwaway dev server's credentials. The
//!    banner ends with `==> duogate dev server started; log data will stream in below:`; no
//!    secret appears in what follows.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;

use duo_emulator::{Emulator, EmulatorConfig, KeySet, SeedSpec, StateFile, keys_json};
use duogate_server::client_address::ProxyTrust;
use duogate_server::engine::Limits;
use duogate_server::engine::limiter::RateLimits;
use duogate_server::{AppState, ServiceSettings};
use duogate_store::integrations::{IntegrationKind, NewIntegration};
use duogate_store::tokens::Role;
use duogate_store::{Keyring, OptionalExt as _, PoolSettings, SealKey, Store, StoreError};

use super::{DEFAULT_LISTEN, ServeArgs, print_line, read_config_file, read_seal_key};
use crate::failure::UsageError;
use crate::private_files::{create_new_private_file, create_private_dir_all, replace_private_file};
use crate::serve_listener::TlsFiles;

/// The longest `--dev-root-token-id` accepted.
const ROOT_TOKEN_ID_MAX_LEN: usize = 256;
/// What a fresh dev emulator is seeded with.
const DEV_SEED: SeedSpec = SeedSpec {
    users: 50,
    phones: 60,
    admins: 5,
    bypass_codes: 20,
};
/// How often dev mode re-checks ONTAP profiles' `status` when `--config` does not say.
const DEV_STATUS_REFRESH: Duration = Duration::from_secs(60);
/// The last line of the start-up banner on stderr; the log follows it.
const STARTED_LINE: &str = "==> duogate dev server started; log data will stream in below:";
/// The file in `--data-dir` that keeps the emulator and the dev root token's accessor.
const DEV_STATE_FILE: &str = "dev-state.json";

/// `duogate serve --dev`: the steps of the module documentation, in order.
pub(super) async fn serve_dev(args: ServeArgs) -> anyhow::Result<ExitCode> {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "duogate dev server starting"
    );
    let settings = DevSettings::from_args(&args)?;
    let tls = args.tls.choice(None, None, false)?;
    crate::serve_listener::check_loopback_rule(
        settings.listen,
        args.tls.dev_tls || tls.files.is_some(),
        tls.disabled,
    )?;
    let saved = match &settings.data_dir {
        Some(dir) => DevState::read(dir)?,
        None => None,
    };
    let listeners = DevListeners::bind(
        settings.listen,
        saved.as_ref().map(|state| state.emulator.port),
    )
    .await?;
    let data_dir = DevDataDir::open(settings.data_dir.as_deref())?;
    let (tls_files, ca_file) = if args.tls.dev_tls {
        let certificates = issue_dev_certificates(data_dir.path())?;
        let files = TlsFiles {
            cert_file: certificates.cert_file,
            key_file: certificates.key_file,
        };
        (Some(files), Some(certificates.ca_file))
    } else {
        (tls.files, None)
    };
    let store = open_store(data_dir.path(), settings.operational.pool).await?;

    let emulator = start_emulator(saved.as_ref())?;
    let emulator_url = listeners.emulator_url();
    emulator.set_public_url(&emulator_url);
    let keys = emulator.keys();
    register_emulator_connection(&store, &emulator_url, &keys).await?;
    if let (Some(old_port), Some(saved)) = (listeners.emulator_moved_from, &saved) {
        follow_moved_emulator(&store, old_port, &emulator_url, &saved.emulator, &data_dir).await?;
    }
    let root_token = replace_root_token(
        &store,
        saved
            .as_ref()
            .and_then(|s| s.root_token_accessor.as_deref()),
        settings.root_token_id.as_ref(),
    )
    .await?;
    let admin_password = reset_admin_account(&store).await?;
    let mut state = DevState {
        root_token_accessor: Some(root_token.accessor.clone()),
        emulator: SavedEmulator::of(&emulator, listeners.emulator_port()),
    };
    data_dir.save(&state)?;

    let service = crate::serve_listener::secure(listeners.service, tls_files.as_ref())?;
    let service_url = service.url.clone();
    let mut line = json!({
        "listen": service.local.to_string(),
        "url": service_url,
        "root_token": root_token.secret.expose_secret(),
        "admin_user": "admin",
        "admin_password": admin_password.expose_secret(),
        "data_dir": data_dir.path().display().to_string(),
        "emulator": keys_json(&emulator_url, &keys),
    });
    if let Some(ca_file) = &ca_file {
        line["ca_file"] = json!(ca_file.display().to_string());
    }
    // SIGHUP is handled before the line announces the server, so no reload request kills it.
    crate::serve_listener::reload_on_sighup(service.tls.clone());
    print_line(&line)?;
    print_ready_lines(&ReadyLines {
        service_url: &service_url,
        ca_file: ca_file.as_deref(),
        root_token: &root_token.secret,
        admin_password: &admin_password,
        emulator_url: &emulator_url,
        keys: &keys,
        data_dir: &data_dir,
    });

    let operational = settings.operational;
    let app = AppState::new(
        store.clone(),
        ServiceSettings {
            allow_plain_http_duo: true,
            status_refresh: settings.status_refresh,
            metrics_token: operational.metrics_token,
            max_connections: operational.max_connections,
            shutdown_timeout: operational.shutdown_timeout,
        },
    )
    .with_engine(settings.limits, settings.rate_limits)
    .with_proxy_trust(settings.proxy_trust.clone());
    tracing::info!(url = %service_url, "duogate dev server ready");
    let (stop_emulator, emulator_stopped) = tokio::sync::oneshot::channel::<()>();
    let emulator_task = tokio::spawn(emulator.clone().serve(listeners.emulator, async move {
        let _ = emulator_stopped.await;
    }));
    let served = duogate_server::run(app, service.listener, super::shutdown_signal()).await;
    let _ = stop_emulator.send(());
    let _ = emulator_task.await;
    state.emulator = SavedEmulator::of(&emulator, state.emulator.port);
    let saved_at_exit = data_dir.save(&state);
    if let Err(error) = store.checkpoint_and_close().await {
        tracing::warn!(%error, "could not checkpoint the database on shutdown");
    }
    tracing::info!("duogate dev server stopped");
    served?;
    saved_at_exit?;
    // `data_dir` is dropped here: a temporary folder goes with it.
    Ok(ExitCode::SUCCESS)
}

/// What `--dev` runs with, from the flags and `--config`.
struct DevSettings {
    listen: SocketAddr,
    data_dir: Option<PathBuf>,
    root_token_id: Option<SecretString>,
    limits: Limits,
    rate_limits: RateLimits,
    status_refresh: Option<Duration>,
    operational: super::OperationalSettings,
    proxy_trust: ProxyTrust,
}

impl DevSettings {
    fn from_args(args: &ServeArgs) -> Result<Self, UsageError> {
        let file = read_config_file(args.config.as_deref())?;
        let mut not_for_dev = Vec::new();
        if file.database_url.is_some() {
            not_for_dev.push("database_url in --config");
        }
        if file.seal_key_file.is_some() || !file.seal_key_files.is_empty() {
            not_for_dev.push("seal_key_file(s) in --config");
        }
        if args.database_url.is_some() {
            not_for_dev.push("--database-url (or DUOGATE_DATABASE_URL)");
        }
        if !args.seal_key_file.is_empty() {
            not_for_dev.push("--seal-key-file (or DUOGATE_SEAL_KEY_FILE)");
        }
        if std::env::var_os("DUOGATE_SEAL_KEY").is_some() {
            not_for_dev.push("DUOGATE_SEAL_KEY");
        }
        if !not_for_dev.is_empty() {
            return Err(UsageError(format!(
                "--dev keeps its own SQLite database and seal key (in --data-dir, or a temporary \
                 folder): drop {}, or run without --dev",
                not_for_dev.join(", ")
            )));
        }
        let (limits, rate_limits, status_refresh) = file.enforcement.settings()?;
        let operational = file.operational(args)?;
        let proxy_trust = file.proxy_trust()?;
        Ok(Self {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data_dir: args.data_dir.clone(),
            root_token_id: args
                .dev_root_token_id
                .as_ref()
                .map(|id| checked_root_token_id(id.expose_secret()))
                .transpose()?,
            limits,
            rate_limits,
            status_refresh: if args.config.is_some() {
                status_refresh
            } else {
                Some(DEV_STATUS_REFRESH)
            },
            operational,
            proxy_trust,
        })
    }
}

/// A `--dev-root-token-id`: 1 to 256 printable ASCII characters without spaces (it travels
/// in an HTTP header and in shell lines).
fn checked_root_token_id(id: &str) -> Result<SecretString, UsageError> {
    if id.is_empty() || id.len() > ROOT_TOKEN_ID_MAX_LEN {
        return Err(UsageError(format!(
            "--dev-root-token-id must have 1 to {ROOT_TOKEN_ID_MAX_LEN} characters"
        )));
    }
    if !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UsageError(
            "--dev-root-token-id may hold only printable ASCII characters, without spaces".into(),
        ));
    }
    Ok(SecretString::from(id.to_string()))
}

/// `DIR/dev-state.json`: what a kept dev server needs to come back as it was.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DevState {
    /// The dev root token of the last start, replaced by the next start.
    root_token_accessor: Option<String>,
    /// The emulator.
    emulator: SavedEmulator,
}

/// The emulator's port, keys and data.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedEmulator {
    port: u16,
    admin_ikey: String,
    admin_skey: String,
    auth_ikey: String,
    auth_skey: String,
    /// The Universal Prompt application's (absent from files written before it existed: a new
    /// pair is generated).
    #[serde(default)]
    oidc_client_id: Option<String>,
    #[serde(default)]
    oidc_client_secret: Option<String>,
    state: StateFile,
}

impl SavedEmulator {
    fn of(emulator: &Emulator, port: u16) -> Self {
        let keys = emulator.keys();
        Self {
            port,
            admin_ikey: keys.admin_ikey,
            admin_skey: keys.admin_skey,
            auth_ikey: keys.auth_ikey,
            auth_skey: keys.auth_skey,
            oidc_client_id: Some(keys.oidc_client_id),
            oidc_client_secret: Some(keys.oidc_client_secret),
            state: emulator.state(),
        }
    }

    fn keys(&self) -> KeySet {
        let generated = KeySet::generate();
        let oidc = match (&self.oidc_client_id, &self.oidc_client_secret) {
            (Some(id), Some(secret)) => (id.clone(), secret.clone()),
            _ => (generated.oidc_client_id, generated.oidc_client_secret),
        };
        KeySet {
            admin_ikey: self.admin_ikey.clone(),
            admin_skey: self.admin_skey.clone(),
            auth_ikey: self.auth_ikey.clone(),
            auth_skey: self.auth_skey.clone(),
            oidc_client_id: oidc.0,
            oidc_client_secret: oidc.1,
        }
    }
}

impl DevState {
    /// The saved state of `dir`, if a kept dev server ran there.
    fn read(dir: &Path) -> Result<Option<Self>, UsageError> {
        let path = dir.join(DEV_STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(UsageError(format!("cannot read {}: {e}", path.display()))),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            UsageError(format!(
                "{} is not a dev state file ({e}); remove it to start the emulator afresh",
                path.display()
            ))
        })
    }
}

/// `--dev-tls`: the dev CA (kept in the data folder) and a fresh server certificate for
/// `localhost`, `127.0.0.1` and `::1`, in `DATA/tls/`.
fn issue_dev_certificates(data_dir: &Path) -> Result<crate::dev_tls::DevCertificates, UsageError> {
    let tls_dir = data_dir.join("tls");
    crate::dev_tls::issue(&tls_dir, &[]).map_err(|e| {
        UsageError(format!(
            "--dev-tls: certificates in {}: {e:#}",
            tls_dir.display()
        ))
    })
}

/// The service's and the emulator's listeners, bound before anything else happens.
struct DevListeners {
    service: tokio::net::TcpListener,
    emulator: tokio::net::TcpListener,
    /// The saved emulator port, when it was taken and a new one was bound instead.
    emulator_moved_from: Option<u16>,
}

impl DevListeners {
    async fn bind(listen: SocketAddr, emulator_port: Option<u16>) -> anyhow::Result<Self> {
        let service = crate::serve_listener::bind_tcp(listen).await?;
        let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let (emulator, emulator_moved_from) = match emulator_port {
            Some(port) => match tokio::net::TcpListener::bind(loopback(port)).await {
                Ok(listener) => (listener, None),
                Err(_) => (
                    tokio::net::TcpListener::bind(loopback(0)).await?,
                    Some(port),
                ),
            },
            None => (tokio::net::TcpListener::bind(loopback(0)).await?, None),
        };
        Ok(Self {
            service,
            emulator,
            emulator_moved_from,
        })
    }

    fn emulator_port(&self) -> u16 {
        self.emulator
            .local_addr()
            .expect("a bound listener has an address")
            .port()
    }

    fn emulator_url(&self) -> String {
        format!(
            "http://{}",
            SocketAddr::from((Ipv4Addr::LOCALHOST, self.emulator_port()))
        )
    }
}

/// Where the dev data lives.
enum DevDataDir {
    /// A fresh private folder, removed when this is dropped (on exit).
    Temporary(tempfile::TempDir),
    /// `--data-dir`: kept, and locked while this process serves it.
    Kept { path: PathBuf, _lock: File },
}

impl DevDataDir {
    fn open(kept: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = kept else {
            let dir = tempfile::Builder::new()
                .prefix("duogate-dev-")
                .tempdir()
                .context("creating a temporary data folder")?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
            }
            return Ok(Self::Temporary(dir));
        };
        create_private_dir_all(path)
            .map_err(|e| UsageError(format!("cannot create --data-dir {}: {e}", path.display())))?;
        let lock_path = path.join("lock");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let lock = options
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(UsageError(format!(
                    "--data-dir {} is in use by another `duogate serve --dev`",
                    path.display()
                ))
                .into());
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(
                    anyhow::Error::new(e).context(format!("locking {}", lock_path.display()))
                );
            }
        }
        Ok(Self::Kept {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    fn path(&self) -> &Path {
        match self {
            Self::Temporary(dir) => dir.path(),
            Self::Kept { path, .. } => path,
        }
    }

    fn is_kept(&self) -> bool {
        matches!(self, Self::Kept { .. })
    }

    /// Writes `dev-state.json` (kept folders only: a temporary one is gone at exit anyway).
    fn save(&self, state: &DevState) -> anyhow::Result<()> {
        if !self.is_kept() {
            return Ok(());
        }
        let path = self.path().join(DEV_STATE_FILE);
        let text = serde_json::to_vec(state).context("encoding the dev state")?;
        replace_private_file(&path, &text).with_context(|| format!("writing {}", path.display()))
    }
}

/// Reads `dir/seal.key`, or generates it (mode 0600) on first start.
fn dev_seal_key(dir: &Path) -> anyhow::Result<SealKey> {
    use std::io::Write as _;
    let path = dir.join("seal.key");
    if path.exists() {
        return read_seal_key(&path);
    }
    // A database without its key cannot be opened by a new one: say so, and leave no new key
    // file behind in a folder that is not ours to repair.
    let database = dir.join("duogate.db");
    if database.exists() {
        return Err(UsageError(format!(
            "{} exists but its seal key {} is missing: restore the key, or start with another \
             --data-dir",
            database.display(),
            path.display()
        ))
        .into());
    }
    let key = SealKey::generate();
    let mut file =
        create_new_private_file(&path).with_context(|| format!("creating {}", path.display()))?;
    writeln!(file, "{}", key.to_hex().expose_secret())?;
    Ok(key)
}

/// The dev database `dir/duogate.db` (created with mode 0600 by the store).
async fn open_store(dir: &Path, pool: PoolSettings) -> anyhow::Result<Store> {
    let key = dev_seal_key(dir)?;
    let url = format!("sqlite://{}", dir.join("duogate.db").display());
    let hint = format!(
        "{} does not open {} (start with another --data-dir)",
        dir.join("seal.key").display(),
        dir.join("duogate.db").display()
    );
    super::connect_store(&url, Keyring::new(key), pool, &hint)
        .await
        .context("opening the dev database")
}

/// The emulator as saved (keys and data), or freshly seeded.
fn start_emulator(saved: Option<&DevState>) -> anyhow::Result<Emulator> {
    let Some(saved) = saved else {
        return Emulator::new(EmulatorConfig {
            seed: DEV_SEED,
            ..EmulatorConfig::default()
        })
        .map_err(|e| UsageError(format!("emulator: {e}")).into());
    };
    let emulator = Emulator::new(EmulatorConfig {
        keys: Some(saved.emulator.keys()),
        ..EmulatorConfig::default()
    })
    .map_err(|e| UsageError(format!("emulator: {e}")))?;
    emulator
        .load_state(saved.emulator.state.clone())
        .map_err(|e| UsageError(format!("emulator state in {DEV_STATE_FILE}: {e}")))?;
    Ok(emulator)
}

/// Registers the emulator as the connection `emulator` (replacing the last start's).
async fn register_emulator_connection(
    store: &Store,
    emulator_url: &str,
    keys: &KeySet,
) -> anyhow::Result<()> {
    let root = store.root_tenant().await?;
    let config = json!({"api_host": emulator_url, "ikey": keys.admin_ikey, "insecure": false, "timeout_secs": 30});
    let skey = SecretString::from(keys.admin_skey.clone());
    match store
        .integration_named(&root.id, IntegrationKind::Connection, "emulator")
        .await
        .optional()?
    {
        Some(found) => {
            store
                .update_integration(&found.id, config, Some(skey))
                .await?;
        }
        None => {
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
    }
    Ok(())
}

/// The emulator could not have its saved port back: re-points what was made against it, and
/// says so.
async fn follow_moved_emulator(
    store: &Store,
    old_port: u16,
    emulator_url: &str,
    saved: &SavedEmulator,
    data_dir: &DevDataDir,
) -> anyhow::Result<()> {
    let old_url = format!(
        "http://{}",
        SocketAddr::from((Ipv4Addr::LOCALHOST, old_port))
    );
    let moved = repoint_integrations(store, &old_url, emulator_url, saved).await?;
    eprintln!(
        "warning: the emulator's port {old_port} (from {}) is taken: it listens on {emulator_url} \
         now; the connection \"emulator\" and {moved} stored method(s)/profile(s) that named \
         {old_url} were re-pointed",
        data_dir.path().join(DEV_STATE_FILE).display()
    );
    Ok(())
}

/// Points the stored methods and profiles made against the emulator at `old_url` (same URL and
/// the emulator's Auth API integration key) at `new_url`. Returns how many changed.
async fn repoint_integrations(
    store: &Store,
    old_url: &str,
    new_url: &str,
    emulator: &SavedEmulator,
) -> anyhow::Result<usize> {
    let mut moved = 0;
    for (kind, host_key) in [
        (IntegrationKind::VaultMethod, "api_hostname"),
        (IntegrationKind::StepUpMethod, "api_hostname"),
        (IntegrationKind::OntapProfile, "api_host"),
    ] {
        for integration in store.list_integrations_of_kind(kind).await? {
            let config = &integration.config;
            let names_old_url = config[host_key]
                .as_str()
                .is_some_and(|host| host.trim_end_matches('/') == old_url);
            let emulators_key = config["integration_key"].as_str() == Some(&emulator.auth_ikey);
            if names_old_url && emulators_key {
                let mut config = config.clone();
                config[host_key] = json!(new_url);
                store
                    .update_integration(&integration.id, config, None)
                    .await?;
                moved += 1;
            }
        }
    }
    Ok(moved)
}

/// The dev root token of this start.
struct RootToken {
    secret: SecretString,
    accessor: String,
}

/// Revokes the previous start's dev root token (by its saved accessor) and creates this start's:
/// `id` when given, otherwise a generated one.
async fn replace_root_token(
    store: &Store,
    previous_accessor: Option<&str>,
    id: Option<&SecretString>,
) -> anyhow::Result<RootToken> {
    if let Some(accessor) = previous_accessor {
        store.revoke_token(accessor).await.optional()?;
    }
    match id {
        Some(secret) => {
            // The same value may still be a token (its accessor file lost): replace it too.
            if let Some(existing) = store.token_by_secret(secret).await.optional()? {
                store.revoke_token(&existing.accessor).await.optional()?;
            }
            let token = store
                .create_token_with_secret(secret, Role::Admin, None, None)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => anyhow::Error::new(UsageError(
                        "--dev-root-token-id: an expired token with this value exists; choose \
                         another value"
                            .into(),
                    )),
                    other => other.into(),
                })?;
            Ok(RootToken {
                secret: secret.clone(),
                accessor: token.accessor,
            })
        }
        None => {
            let (secret, token) = store.create_token(Role::Admin, None, None).await?;
            Ok(RootToken {
                secret,
                accessor: token.accessor,
            })
        }
    }
}

/// Gives the Basic account `admin` (for ONTAP clients) a fresh generated password.
async fn reset_admin_account(store: &Store) -> anyhow::Result<SecretString> {
    let password = SecretString::from(generated_password());
    store.delete_account("admin").await.optional()?;
    store
        .create_account("admin", &password, Role::Admin, None)
        .await?;
    Ok(password)
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

/// `value` as one shell word: as it is when it holds only safe characters, else single-quoted.
fn shell_word(value: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-:/@%+=,".contains(c);
    if !value.is_empty() && value.chars().all(safe) {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// What the stderr lines show.
struct ReadyLines<'a> {
    service_url: &'a str,
    /// The generated CA with `--dev-tls`.
    ca_file: Option<&'a Path>,
    root_token: &'a SecretString,
    admin_password: &'a SecretString,
    emulator_url: &'a str,
    keys: &'a KeySet,
    data_dir: &'a DevDataDir,
}

/// The friendly stderr text: where things are, ready-to-paste exports, and `curl` examples with
/// the real values.
fn print_ready_lines(ready: &ReadyLines<'_>) {
    let url = ready.service_url;
    let token = shell_word(ready.root_token.expose_secret());
    let password = ready.admin_password.expose_secret();
    let data = ready.data_dir.path().display();
    if ready.data_dir.is_kept() {
        eprintln!("duogate dev server on {url} (data kept in {data})");
    } else {
        eprintln!("duogate dev server on {url} (fresh; data in {data}, removed on exit)");
    }
    eprintln!(
        "  Duo emulator:  {} (the connection \"emulator\")",
        ready.emulator_url
    );
    eprintln!("  Basic account: admin / {password} (for ONTAP clients)");
    eprintln!();
    eprintln!("Ready to paste:");
    match ready.ca_file {
        Some(ca_file) => {
            let ca_file = shell_word(&ca_file.display().to_string());
            eprintln!("  export VAULT_ADDR={url} VAULT_TOKEN={token} VAULT_CACERT={ca_file}");
            eprintln!("  export DUOGATE_CACERT={ca_file} CURL_CA_BUNDLE={ca_file}");
        }
        None => eprintln!("  export VAULT_ADDR={url} VAULT_TOKEN={token}"),
    }
    eprintln!("  export DUOGATE_ADDR={url} DUOGATE_TOKEN={token}");
    eprintln!(
        "  export DUO_API_HOST={} DUO_IKEY={} DUO_SKEY={}   # duogate users list … against the emulator",
        ready.emulator_url,
        ready.keys.admin_ikey,
        shell_word(&ready.keys.admin_skey)
    );
    eprintln!();
    eprintln!("Try:");
    let header = shell_word(&format!(
        "X-Vault-Token: {}",
        ready.root_token.expose_secret()
    ));
    eprintln!("  # Admin API actions through the emulator connection");
    eprintln!("  curl -s -H {header} -d '{{\"limit\": 2}}' \\");
    eprintln!("    {url}/v1/duogate/connections/emulator/actions/retrieve_users");
    eprintln!("  # A Vault login-MFA method on the emulator (hvac, bao/vault: VAULT_ADDR above)");
    eprintln!("  curl -s -H {header} {url}/v1/identity/mfa/method/duo \\");
    eprintln!(
        "    -d '{{\"method_name\": \"corp\", \"api_hostname\": \"{}\", \"integration_key\": \"{}\", \"secret_key\": \"{}\"}}'",
        ready.emulator_url, ready.keys.auth_ikey, ready.keys.auth_skey
    );
    eprintln!("  # The second factor for a user of the emulator (after creating the method)");
    eprintln!("  curl -s -H {header} {url}/v1/duogate/check \\");
    eprintln!("    -d '{{\"method\": \"corp\", \"username\": \"asmith0001\"}}'");
    eprintln!("  # ONTAP Duo profiles (netapp-ontap: Basic admin)");
    eprintln!(
        "  curl -s -u {} {url}/api/security/authentication/duo/profiles",
        shell_word(&format!("admin:{password}"))
    );
    eprintln!("  # Audit log");
    eprintln!("  curl -s -H {header} {url}/v1/duogate/audit");
    eprintln!();
    // The banner's last line, as Vault's: what follows is the service's log, where no secret
    // ever appears (the interop tests check that after this line).
    eprintln!("{STARTED_LINE}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_token_ids_must_be_printable_and_bounded() {
        assert!(checked_root_token_id("root").is_ok());
        assert!(checked_root_token_id("").is_err());
        assert!(checked_root_token_id("has space").is_err());
        assert!(checked_root_token_id("tab\t").is_err());
        assert!(checked_root_token_id("é").is_err());
        assert!(checked_root_token_id(&"x".repeat(ROOT_TOKEN_ID_MAX_LEN)).is_ok());
        assert!(checked_root_token_id(&"x".repeat(ROOT_TOKEN_ID_MAX_LEN + 1)).is_err());
    }

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        assert_eq!(shell_word("dg.abc-_DEF"), "dg.abc-_DEF");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's$"), r"'it'\''s$'");
    }
}
