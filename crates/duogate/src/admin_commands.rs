//! Commands that administer a duogate service: `token`, `tenant`, `account`, `health` (over its
//! native API) and `seal rotate` (directly on the database).
//!
//! `seal rotate` is the middle step of a rotation without downtime: every instance already runs
//! with `--seal-key-file NEW --seal-key-file OLD`; it checks the keyring like `serve` does
//! (a key that does not open the database: exit 2, nothing written, and a new key file it
//! created is removed again on any failure), then re-seals every row in one transaction that
//! tolerates serving instances (`Store::reseal_all`). Afterwards instances restart with the new
//! key only.
//!
//! The service is `--addr` (`DUOGATE_ADDR`, default `http://127.0.0.1:8200`) and the caller's
//! token `--token` (`DUOGATE_TOKEN`); an https service with a private CA (`serve --dev-tls`)
//! is trusted with `--ca-file` (`DUOGATE_CACERT`). Output is the service's JSON on stdout; an error from the
//! service is printed with its code and exits 1 (2 for usage, 3 when unreachable).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

use anyhow::Context as _;

use duogate_store::{Keyring, SealKey, Store, StoreError};

use crate::failure::{EXIT_DUO, EXIT_TRANSPORT, UsageError};

/// Where the service is and who is calling.
#[derive(Clone, Args)]
pub struct ServiceArgs {
    /// The duogate service.
    #[arg(
        long,
        env = "DUOGATE_ADDR",
        default_value = "http://127.0.0.1:8200",
        value_name = "URL"
    )]
    pub addr: String,
    /// A token with the admin role.
    #[arg(long, env = "DUOGATE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Trust only this PEM CA for an https:// service (e.g. the `ca_file` of `serve --dev-tls`);
    /// without it the system's roots are used.
    #[arg(long, env = "DUOGATE_CACERT", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for ServiceArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceArgs")
            .field("addr", &self.addr)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// `duogate token …`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token (printed once).
    Create {
        /// admin, reader or mfa.
        #[arg(long, value_parser = ["admin", "reader", "mfa"])]
        role: String,
        /// Bind the token to this tenant path.
        #[arg(long)]
        tenant: Option<String>,
        /// Lifetime in seconds (default: no expiry).
        #[arg(long, value_name = "SECS")]
        ttl: Option<i64>,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Revoke a token by its accessor.
    Revoke {
        /// The token's accessor.
        accessor: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
}

/// `duogate tenant …`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant (its parent must exist), e.g. `eng/ops`.
    Create {
        /// Tenant path.
        path: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Delete a tenant without children or integrations.
    Delete {
        /// Tenant path.
        path: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
}

/// `duogate account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a Basic-auth account; the password is read from stdin (first line, at least 12
    /// characters), so it never appears in `ps` or shell history.
    Create {
        /// Login name.
        name: String,
        /// admin, reader or mfa.
        #[arg(long, value_parser = ["admin", "reader", "mfa"])]
        role: String,
        /// Bind the account to this tenant path.
        #[arg(long)]
        tenant: Option<String>,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Delete an account.
    Delete {
        /// Login name.
        name: String,
        #[command(flatten)]
        service: ServiceArgs,
    },
}

/// `duogate account …`
pub async fn account(command: AccountCommand) -> anyhow::Result<ExitCode> {
    match command {
        AccountCommand::Create {
            name,
            role,
            tenant,
            service,
        } => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| UsageError(format!("reading the password from stdin: {e}")))?;
            let password = line.trim_end_matches(['\r', '\n']).to_string();
            if password.is_empty() {
                return Err(UsageError("no password on stdin".into()).into());
            }
            call(
                &service,
                reqwest::Method::POST,
                "/accounts",
                Some(json!({"name": name, "password": password, "role": role, "tenant": tenant})),
            )
            .await
        }
        AccountCommand::Delete { name, service } => {
            call(
                &service,
                reqwest::Method::DELETE,
                &format!("/accounts/{name}"),
                None,
            )
            .await
        }
    }
}

/// `duogate seal …`
#[derive(Debug, Subcommand)]
pub enum SealCommand {
    /// Re-encrypt every sealed secret under a new key, in one transaction, while instances
    /// serve. First restart every instance with `--seal-key-file NEW --seal-key-file OLD`;
    /// afterwards restart them with the new key only.
    Rotate {
        /// Database URL.
        #[arg(
            long,
            env = "DUOGATE_DATABASE_URL",
            hide_env_values = true,
            value_name = "URL"
        )]
        database_url: String,
        /// A key the rows are sealed with now (repeat it for several).
        #[arg(long, value_name = "FILE", required = true, action = clap::ArgAction::Append)]
        old_seal_key_file: Vec<PathBuf>,
        /// The new key (64 hex characters); created with mode 0600 if the file does not exist.
        #[arg(long, value_name = "FILE")]
        seal_key_file: PathBuf,
    },
}

/// An HTTP client for the service: no proxy, a 30 s timeout, and only `--ca-file` trusted when
/// given.
fn service_client(service: &ServiceArgs) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .no_proxy();
    if let Some(path) = &service.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| UsageError(format!("--ca-file {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            UsageError(format!(
                "--ca-file {}: not a PEM certificate bundle: {e}",
                path.display()
            ))
        })?;
        builder = builder.tls_certs_only(certs);
    }
    Ok(builder.build()?)
}

/// `duogate health`: the service's `/v1/duogate/health` for probes (container `HEALTHCHECK`,
/// load balancers, scripts). Needs no token. Prints the answer; exits 0 when the service says
/// `ok`, 1 when it answers anything else (a seal problem, say), 3 when it cannot be reached.
pub async fn health(service: ServiceArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/v1/duogate/health", service.addr.trim_end_matches('/'));
    let answer = match service_client(&service)?.get(&url).send().await {
        Ok(answer) => answer,
        Err(e) => {
            eprintln!("error: cannot reach duogate at {}: {e}", service.addr);
            return Ok(ExitCode::from(EXIT_TRANSPORT));
        }
    };
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    println!("{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() && body["status"] == "ok" {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: duogate is not healthy (HTTP {status})");
        Ok(ExitCode::from(EXIT_DUO))
    }
}

/// One authenticated native-API call; prints the answer (exit 0) or the error (1, 2 or 3).
async fn call(
    service: &ServiceArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<ExitCode> {
    let token = service
        .token
        .as_deref()
        .ok_or_else(|| UsageError("no token: pass --token or set DUOGATE_TOKEN".into()))?;
    let url = format!("{}/v1/duogate{path}", service.addr.trim_end_matches('/'));
    let client = service_client(service)?;
    let mut request = client.request(method, &url).header("X-Vault-Token", token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            eprintln!("error: cannot reach duogate at {}: {e}", service.addr);
            return Ok(ExitCode::from(EXIT_TRANSPORT));
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if status.is_success() {
        if !text.is_empty() {
            println!("{text}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    eprintln!(
        "error: duogate answered {}: {} {}",
        status.as_u16(),
        value["error"]["code"].as_str().unwrap_or(""),
        value["error"]["message"].as_str().unwrap_or(&text)
    );
    Ok(ExitCode::from(EXIT_DUO))
}

/// `duogate token …`
pub async fn token(command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Create {
            role,
            tenant,
            ttl,
            service,
        } => {
            call(
                &service,
                reqwest::Method::POST,
                "/tokens",
                Some(json!({"role": role, "tenant": tenant, "ttl": ttl})),
            )
            .await
        }
        TokenCommand::Revoke { accessor, service } => {
            call(
                &service,
                reqwest::Method::DELETE,
                &format!("/tokens/{accessor}"),
                None,
            )
            .await
        }
    }
}

/// `duogate tenant …`
pub async fn tenant(command: TenantCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantCommand::Create { path, service } => {
            call(
                &service,
                reqwest::Method::POST,
                "/tenants",
                Some(json!({"path": path})),
            )
            .await
        }
        TenantCommand::List { service } => {
            call(&service, reqwest::Method::GET, "/tenants", None).await
        }
        TenantCommand::Delete { path, service } => {
            let path = path.trim_matches('/');
            call(
                &service,
                reqwest::Method::DELETE,
                &format!("/tenants/{path}"),
                None,
            )
            .await
        }
    }
}

fn read_key(path: &std::path::Path) -> anyhow::Result<SealKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())))?;
    SealKey::parse(&SecretString::from(text))
        .map_err(|e| UsageError(format!("{}: {e}", path.display())).into())
}

/// `duogate seal …`
pub async fn seal(command: SealCommand) -> anyhow::Result<ExitCode> {
    let SealCommand::Rotate {
        database_url,
        old_seal_key_file,
        seal_key_file,
    } = command;
    // Every old key is read before a new key file may be created.
    let old = old_seal_key_file
        .iter()
        .map(|path| read_key(path))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let created = !seal_key_file.exists();
    let new = if created {
        create_key_file(&seal_key_file)?
    } else {
        read_key(&seal_key_file)?
    };
    let new_id = new.id_hex();
    let keyring = old.into_iter().fold(Keyring::new(new), Keyring::with_older);
    match reseal(&database_url, keyring).await {
        Ok(changed) => {
            println!("{}", json!({"resealed": changed, "key_id": new_id}));
            eprintln!(
                "re-sealed {changed} secrets under key {new_id}: restart every instance with \
                 only this key; the old key is no longer needed"
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if created && let Err(e) = std::fs::remove_file(&seal_key_file) {
                eprintln!(
                    "warning: could not remove the new key file {}: {e}",
                    seal_key_file.display()
                );
            }
            Err(error)
        }
    }
}

/// Writes a fresh key to `path` (mode 0600, synced) before anything is sealed under it.
fn create_key_file(path: &std::path::Path) -> anyhow::Result<SealKey> {
    let key = SealKey::generate();
    let mut file = crate::private_files::create_new_private_file(path)
        .map_err(|e| UsageError(format!("cannot create {}: {e}", path.display())))?;
    let written = std::io::Write::write_all(
        &mut file,
        format!("{}\n", key.to_hex().expose_secret()).as_bytes(),
    )
    .and_then(|()| file.sync_all());
    if let Err(e) = written {
        let _ = std::fs::remove_file(path);
        return Err(anyhow::Error::new(e).context(format!("writing {}", path.display())));
    }
    Ok(key)
}

/// Checks the keyring against the database (exit 2 when it does not open it; nothing written)
/// and re-seals every row under its first key.
async fn reseal(database_url: &str, keyring: Keyring) -> anyhow::Result<u64> {
    let store = Store::connect_to_rotate(database_url, keyring)
        .await
        .map_err(|e| match e {
            StoreError::UnsupportedUrl(_) => {
                anyhow::Error::new(UsageError(format!("--database-url: {e}")))
            }
            StoreError::WrongSealKey { .. } => anyhow::Error::new(UsageError(format!(
                "{e}; pass every key the database still uses with --old-seal-key-file \
                 (nothing was written)"
            ))),
            other => anyhow::Error::new(other).context("opening the database"),
        })?;
    let changed = store.reseal_all().await;
    store.close().await;
    changed.context("re-sealing")
}
