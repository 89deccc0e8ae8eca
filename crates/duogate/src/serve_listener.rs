//! How `duogate serve` listens: the TLS flags, the rule that plain HTTP stays on loopback, and
//! certificate reloading on SIGHUP.
//!
//! - `--tls-cert-file FILE --tls-key-file FILE` (or `tls_cert_file` / `tls_key_file` in
//!   `--config`, like Vault's listener stanza) serve HTTPS with that PEM chain and key; HTTP/2
//!   and HTTP/1.1 are offered by ALPN.
//! - A listen address that is not loopback needs TLS, or `--tls-disable` (`tls_disable = true`)
//!   to say that plain HTTP is wanted on purpose (TLS terminated by a proxy in front); otherwise
//!   `serve` stops with a usage error before binding.
//! - `serve --dev --dev-tls` generates a CA and a server certificate in `DATA_DIR/tls/`
//!   ([`crate::dev_tls`]) and serves HTTPS with them.
//! - SIGHUP re-reads the certificate and key files: new handshakes use the new pair, open
//!   connections keep theirs; a pair that does not load is logged as an error and the old one
//!   keeps serving. Without TLS, SIGHUP is logged and ignored (it no longer stops the process).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use duogate_server::listener::{Listener, ReloadableTlsConfig, TlsListener};

use crate::failure::UsageError;

/// The TLS flags of `duogate serve`.
#[derive(Debug, Args)]
pub struct ServeTlsArgs {
    /// Serve HTTPS with this PEM certificate chain (server certificate first); re-read on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of --tls-cert-file (PEM: PKCS#8, RSA or EC); re-read on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// Serve plain HTTP even on a non-loopback address (TLS is terminated in front of duogate).
    #[arg(long, conflicts_with_all = ["tls_cert_file", "dev_tls"])]
    pub tls_disable: bool,
    /// With --dev: generate a CA and a server certificate in DATA_DIR/tls and serve HTTPS (the
    /// JSON line gains "ca_file").
    #[arg(long, requires = "dev", conflicts_with = "tls_cert_file")]
    pub dev_tls: bool,
}

/// The certificate chain and key to serve with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
}

/// The listening choice after flags and `--config` are combined.
#[derive(Debug, Default)]
pub struct TlsChoice {
    /// Serve HTTPS with these files.
    pub files: Option<TlsFiles>,
    /// Plain HTTP on a non-loopback address is wanted on purpose.
    pub disabled: bool,
}

impl ServeTlsArgs {
    /// Combines the flags with `--config`'s `tls_cert_file`, `tls_key_file` and `tls_disable`
    /// (flags win).
    pub fn choice(
        &self,
        config_cert: Option<PathBuf>,
        config_key: Option<PathBuf>,
        config_disable: bool,
    ) -> Result<TlsChoice, UsageError> {
        let files = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
            _ => match (config_cert, config_key) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => {
                    return Err(UsageError(
                        "--config: tls_cert_file and tls_key_file go together".into(),
                    ));
                }
            },
        };
        let disabled = self.tls_disable || config_disable;
        if disabled && files.is_some() {
            return Err(UsageError(
                "--tls-disable (tls_disable) conflicts with a TLS certificate \
                 (--tls-cert-file / tls_cert_file)"
                    .into(),
            ));
        }
        Ok(TlsChoice {
            files: files.map(|(cert_file, key_file)| TlsFiles {
                cert_file,
                key_file,
            }),
            disabled,
        })
    }
}

/// A bound service listener.
#[derive(Debug)]
pub struct BoundListener {
    /// What `duogate_server::run` serves.
    pub listener: Listener,
    /// `http://ADDR` or `https://ADDR`, with the bound port.
    pub url: String,
    /// The bound address.
    pub local: SocketAddr,
    /// The certificate to reload on SIGHUP, with TLS.
    pub tls: Option<ReloadableTlsConfig>,
}

/// Checks the loopback rule, binds `listen`, and loads the certificate (if any).
pub async fn bind(listen: SocketAddr, choice: TlsChoice) -> anyhow::Result<BoundListener> {
    check_loopback_rule(listen, choice.files.is_some(), choice.disabled)?;
    let tcp = bind_tcp(listen).await?;
    secure(tcp, choice.files.as_ref())
}

/// Plain HTTP only on loopback, unless TLS is on its way (`tls_planned`) or turned off on
/// purpose (`disabled`, because TLS is terminated in front of duogate).
pub fn check_loopback_rule(
    listen: SocketAddr,
    tls_planned: bool,
    disabled: bool,
) -> Result<(), UsageError> {
    if tls_planned || disabled || listen.ip().is_loopback() {
        return Ok(());
    }
    Err(UsageError(format!(
        "refusing to serve plain HTTP on {listen}, which is not a loopback address: pass \
         --tls-cert-file and --tls-key-file (or tls_cert_file / tls_key_file in --config), \
         or --tls-disable (tls_disable = true) if TLS is terminated in front of duogate"
    )))
}

/// Binds `listen` (a usage error naming the address when it cannot).
pub async fn bind_tcp(listen: SocketAddr) -> Result<tokio::net::TcpListener, UsageError> {
    tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {listen}: {e}")))
}

/// Serves `tcp` with the certificate in `files`, or plain without.
pub fn secure(
    tcp: tokio::net::TcpListener,
    files: Option<&TlsFiles>,
) -> anyhow::Result<BoundListener> {
    let tls = match files {
        Some(files) => Some(
            ReloadableTlsConfig::load(&files.cert_file, &files.key_file)
                .map_err(|e| UsageError(format!("--tls-cert-file/--tls-key-file: {e}")))?,
        ),
        None => None,
    };
    let listener = match &tls {
        Some(tls) => Listener::from(TlsListener::new(tcp, tls.clone())?),
        None => Listener::from(tcp),
    };
    Ok(BoundListener {
        url: listener.url()?,
        local: listener.local_addr()?,
        listener,
        tls,
    })
}

/// On every SIGHUP, re-reads the certificate and key (when serving TLS). Runs until the process
/// ends.
pub fn reload_on_sighup(tls: Option<ReloadableTlsConfig>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP: certificates will not reload");
                return;
            }
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let Some(tls) = &tls else {
                    tracing::info!("SIGHUP: no TLS certificate to reload");
                    continue;
                };
                match tls.reload() {
                    Ok(()) => tracing::info!(
                        cert_file = %tls.cert_file().display(),
                        "SIGHUP: TLS certificate reloaded; new connections use it"
                    ),
                    Err(error) => tracing::error!(
                        %error,
                        "SIGHUP: the new TLS certificate was refused; still serving the previous one"
                    ),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = tls;
}
