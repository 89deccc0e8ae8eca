//! Where the Duo connection of a connector command comes from.
//!
//! Precedence, highest first: command-line flags, environment variables (`DUO_API_HOST`,
//! `DUO_IKEY`, `DUO_SKEY`, `DUO_SKEY_FILE`), then the profile named by `--profile` (or
//! `[profiles.default]` if there is one) in the config file (`--config`, `DUOGATE_CONFIG`, or
//! `$XDG_CONFIG_HOME/duogate/config.toml`, falling back to `~/.config/duogate/config.toml`).
//!
//! The proxy is never taken from the environment unless `--proxy-from-env` is given, and then
//! only `HTTPS_PROXY` (or `https_proxy`). The skey is held as a `SecretString` from the moment
//! it is read and is never printed; `Debug` of these types redacts it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use secrecy::SecretString;
use serde::Deserialize;

use duo_client::{ApiHost, ClientConfig, DuoClient, TlsMode};
use duo_proto::SigVersion;

use crate::failure::{UsageError, usage};

/// Connection flags, shared by every connector command.
#[derive(Clone, Args)]
pub struct ConnectionArgs {
    /// Duo API hostname (api-xxxxxxxx.duosecurity.com) or URL; http:// only for local
    /// endpoints such as the emulator.
    #[arg(long, env = "DUO_API_HOST", value_name = "HOST|URL")]
    pub api_host: Option<String>,
    /// Integration key (DI…).
    #[arg(long, env = "DUO_IKEY")]
    pub ikey: Option<String>,
    /// Secret key. Prefer DUO_SKEY_FILE or a profile's skey_file: flags show up in `ps`.
    #[arg(long, env = "DUO_SKEY", hide_env_values = true)]
    pub skey: Option<String>,
    /// Read the secret key from this file (first line).
    #[arg(long, env = "DUO_SKEY_FILE", value_name = "FILE")]
    pub skey_file: Option<PathBuf>,
    /// Profile name in the config file.
    #[arg(long, env = "DUOGATE_PROFILE")]
    pub profile: Option<String>,
    /// Config file with [profiles.NAME] tables.
    #[arg(long, env = "DUOGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not verify Duo's TLS certificate (testing only).
    #[arg(long, conflicts_with = "ca_file")]
    pub insecure: bool,
    /// Trust only the CA certificates in this PEM file instead of Duo's pinned CA set.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// HTTPS CONNECT proxy URL (http://host:port).
    #[arg(long, value_name = "URL", conflicts_with = "proxy_from_env")]
    pub proxy: Option<String>,
    /// Take the proxy from HTTPS_PROXY.
    #[arg(long)]
    pub proxy_from_env: bool,
    /// Seconds before a call to Duo is abandoned.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Signature version: 5 (default, JSON bodies) or 2 (form bodies).
    #[arg(long, value_parser = ["2", "5"], value_name = "2|5")]
    pub sig_version: Option<String>,
}

impl std::fmt::Debug for ConnectionArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionArgs")
            .field("api_host", &self.api_host)
            .field("ikey", &self.ikey)
            .field("skey", &self.skey.as_ref().map(|_| "[REDACTED]"))
            .field("skey_file", &self.skey_file)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// One `[profiles.NAME]` table.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    api_host: Option<String>,
    ikey: Option<String>,
    skey: Option<SecretString>,
    skey_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    insecure: Option<bool>,
    proxy: Option<String>,
    timeout: Option<f64>,
    sig_version: Option<u8>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Profile>,
}

fn default_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("duogate/config.toml"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/duogate/config.toml"))
}

fn load_profile(args: &ConnectionArgs) -> anyhow::Result<Profile> {
    let (path, explicit) = match &args.config {
        Some(path) => (path.clone(), true),
        None => match default_config_path() {
            Some(path) => (path, false),
            None => return Ok(Profile::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            if let Some(name) = &args.profile {
                return usage(format!(
                    "profile {name:?} requested but there is no config file at {}",
                    path.display()
                ));
            }
            return Ok(Profile::default());
        }
        Err(e) => return usage(format!("cannot read config file {}: {e}", path.display())),
    };
    let mut config: ConfigFile = toml::from_str(&text)
        .map_err(|e| UsageError(format!("config file {} is invalid: {e}", path.display())))?;
    match &args.profile {
        Some(name) => config.profiles.remove(name).ok_or_else(|| {
            let known: Vec<&String> = config.profiles.keys().collect();
            UsageError(format!(
                "no profile {name:?} in {} (profiles: {known:?})",
                path.display()
            ))
            .into()
        }),
        None => Ok(config.profiles.remove("default").unwrap_or_default()),
    }
}

fn read_skey_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read skey file {}: {e}", path.display())))?;
    let first = text.lines().next().unwrap_or("").trim();
    if first.is_empty() {
        return usage(format!("skey file {} is empty", path.display()));
    }
    Ok(SecretString::from(first.to_string()))
}

impl ConnectionArgs {
    /// Resolves flags, environment and profile into a client configuration.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let profile = load_profile(self)?;
        let missing = |what: &str, flag: &str, env: &str| {
            UsageError(format!(
                "no Duo {what}: pass {flag}, set {env}, or add it to a config profile \
                 (see `duogate --help`)"
            ))
        };
        let host_text = self
            .api_host
            .clone()
            .or(profile.api_host)
            .ok_or_else(|| missing("API host", "--api-host", "DUO_API_HOST"))?;
        let api_host = ApiHost::parse(&host_text)
            .map_err(|e| UsageError(format!("--api-host {host_text:?}: {e}")))?;
        let ikey = self
            .ikey
            .clone()
            .or(profile.ikey)
            .ok_or_else(|| missing("integration key", "--ikey", "DUO_IKEY"))?;
        let skey = match (&self.skey, &self.skey_file) {
            (Some(skey), _) => SecretString::from(skey.clone()),
            (None, Some(path)) => read_skey_file(path)?,
            (None, None) => match (profile.skey, profile.skey_file) {
                (Some(skey), _) => skey,
                (None, Some(path)) => read_skey_file(&path)?,
                (None, None) => {
                    return Err(missing("secret key", "--skey", "DUO_SKEY or DUO_SKEY_FILE").into());
                }
            },
        };
        let mut config = ClientConfig::new(api_host, ikey, skey);
        config.tls = if self.insecure || profile.insecure == Some(true) {
            TlsMode::Insecure
        } else if let Some(path) = self.ca_file.clone().or(profile.ca_file) {
            let pem = std::fs::read(&path).map_err(|e| {
                UsageError(format!("cannot read --ca-file {}: {e}", path.display()))
            })?;
            TlsMode::CustomCa(pem)
        } else {
            TlsMode::PinnedDuo
        };
        config.proxy = if self.proxy_from_env {
            let proxy = std::env::var("HTTPS_PROXY")
                .or_else(|_| std::env::var("https_proxy"))
                .map_err(|_| {
                    UsageError("--proxy-from-env given but HTTPS_PROXY is not set".into())
                })?;
            Some(proxy)
        } else {
            self.proxy.clone().or(profile.proxy)
        };
        if let Some(secs) = self.timeout.or(profile.timeout) {
            if !(secs.is_finite() && secs > 0.0) {
                return usage(format!(
                    "--timeout must be a positive number of seconds, got {secs}"
                ));
            }
            config.timeout = Duration::from_secs_f64(secs);
        }
        let version = match (&self.sig_version, profile.sig_version) {
            (Some(v), _) => v.parse::<u8>().ok(),
            (None, v) => v,
        };
        if let Some(v) = version {
            config.sig_version = match v {
                2 => SigVersion::V2,
                5 => SigVersion::V5,
                other => return usage(format!("sig_version must be 2 or 5, got {other}")),
            };
        }
        Ok(config)
    }

    /// Builds the client.
    pub fn client(&self) -> anyhow::Result<DuoClient> {
        let config = self.client_config()?;
        DuoClient::new(config).context("setting up the Duo client")
    }
}
