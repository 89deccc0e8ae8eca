//! `duogate emulate`: the offline Duo.
//!
//! With `--print-keys` the first line on stdout is one JSON object, for scripts:
//! `{"url": "http://127.0.0.1:PORT", "admin_ikey": …, "admin_skey": …, "auth_ikey": …,
//! "auth_skey": …}`. Friendly text goes to stderr. Without `--print-keys` secret keys are never
//! printed. SIGINT and SIGTERM stop the server gracefully.
//!
//! TLS: plain HTTP is the default (and what `serve --dev`'s in-process emulator uses). `--tls`
//! serves HTTPS with a generated CA and server certificate ([`crate::dev_tls`]: names
//! `localhost`, `127.0.0.1`, `::1` and `--hostname`), written to `--tls-dir` if given (the CA is
//! kept across runs there), otherwise to a fresh temporary folder removed when the emulator
//! stops gracefully; the `--print-keys` line then has `"url": "https://…"` and `"ca_file"` (the
//! CA's absolute path). `--tls-cert-file` / `--tls-key-file` serve a given pair instead. The
//! emulator offers only `http/1.1` by ALPN: Duo's clients speak HTTP/1.1, and the `down` fault
//! closes a whole connection, which only means "Duo is unreachable" with one request per
//! connection at a time.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use duo_emulator::{Emulator, EmulatorConfig, KeySet, SeedSpec, keys_json};

use crate::failure::{UsageError, usage};

/// `duogate emulate …`
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Address to listen on (127.0.0.1:0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8443", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Initial state: a JSON file in the shape of GET /_emulator/state.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Seed generated data: users=N,phones=N,admins=N,bypass_codes=N (deterministic).
    #[arg(long, value_name = "SPEC")]
    pub seed: Option<String>,
    /// Print the URL and keys as one JSON line on stdout first.
    #[arg(long)]
    pub print_keys: bool,
    /// Fix the Admin API integration key (default: generated).
    #[arg(long, requires = "admin_skey")]
    pub admin_ikey: Option<String>,
    /// Fix the Admin API secret key.
    #[arg(long, requires = "admin_ikey", hide_env_values = true)]
    pub admin_skey: Option<String>,
    /// Fix the Auth API integration key (default: generated).
    #[arg(long, requires = "auth_skey")]
    pub auth_ikey: Option<String>,
    /// Fix the Auth API secret key.
    #[arg(long, requires = "auth_ikey", hide_env_values = true)]
    pub auth_skey: Option<String>,
    /// The API hostname clients sign (default: whatever Host they send, with or without port).
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Largest accepted difference between a request's date and the clock, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    pub max_skew: i64,
    /// Seconds before an unanswered push is decided deny/timeout.
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub push_timeout: u64,
    /// Duo's request budgets: `duo` (Duo's published defaults) and/or KEY=N[/s|min|h] rules
    /// (KEY: modify, single, page, all, logs, or a path); off by default.
    #[arg(long, value_name = "SPEC")]
    pub rate_limits: Option<duo_emulator::RateLimits>,
    /// Serve HTTPS with a generated CA and server certificate (the --print-keys line gains
    /// "ca_file").
    #[arg(long)]
    pub tls: bool,
    /// Where --tls writes ca.pem, cert.pem and key.pem, keeping the CA across runs (default: a
    /// temporary folder removed on exit).
    #[arg(long, value_name = "DIR", requires = "tls")]
    pub tls_dir: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (server certificate first).
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key_file",
        conflicts_with = "tls"
    )]
    pub tls_cert_file: Option<PathBuf>,
    /// The private key of --tls-cert-file (PEM: PKCS#8, RSA or EC).
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
}

/// The emulator's TLS set-up: the acceptor, the generated CA (if any) and the temporary folder
/// holding it (removed when dropped).
struct EmulatorTls {
    acceptor: tokio_rustls::TlsAcceptor,
    ca_file: Option<PathBuf>,
    _temporary: Option<tempfile::TempDir>,
}

fn emulator_tls(args: &EmulateArgs) -> anyhow::Result<Option<EmulatorTls>> {
    let (cert_file, key_file, ca_file, temporary) = match (&args.tls_cert_file, &args.tls_key_file)
    {
        (Some(cert), Some(key)) => (cert.clone(), key.clone(), None, None),
        _ if args.tls => {
            let (dir, temporary) = match &args.tls_dir {
                Some(dir) => (dir.clone(), None),
                None => {
                    let temporary = tempfile::Builder::new()
                        .prefix("duogate-emulator-tls-")
                        .tempdir()
                        .context("creating a folder for the emulator's certificates")?;
                    (temporary.path().to_path_buf(), Some(temporary))
                }
            };
            let names: Vec<String> = args.hostname.iter().cloned().collect();
            // A folder that cannot hold them, or a kept CA key that does not load, is the
            // operator's to fix: a usage error.
            let files = crate::dev_tls::issue(&dir, &names).map_err(|e| {
                UsageError(format!("--tls: certificates in {}: {e:#}", dir.display()))
            })?;
            (
                files.cert_file,
                files.key_file,
                Some(files.ca_file),
                temporary,
            )
        }
        _ => return Ok(None),
    };
    let mut config = duogate_server::listener::load_server_config(&cert_file, &key_file)
        .map_err(|e| UsageError(format!("--tls-cert-file/--tls-key-file: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(EmulatorTls {
        acceptor: tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
        ca_file,
        _temporary: temporary,
    }))
}

fn fixed_keys(args: &EmulateArgs, generated: KeySet) -> KeySet {
    KeySet {
        admin_ikey: args.admin_ikey.clone().unwrap_or(generated.admin_ikey),
        admin_skey: args.admin_skey.clone().unwrap_or(generated.admin_skey),
        auth_ikey: args.auth_ikey.clone().unwrap_or(generated.auth_ikey),
        auth_skey: args.auth_skey.clone().unwrap_or(generated.auth_skey),
        ..generated
    }
}

async fn bind(addr: SocketAddr, scheme: &str) -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().context("reading the bound address")?;
    Ok((listener, format!("{scheme}://{local}")))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn print_line(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{value}")?;
    stdout.flush()?;
    Ok(())
}

/// `duogate emulate`.
pub async fn emulate(args: EmulateArgs) -> anyhow::Result<ExitCode> {
    let seed = match &args.seed {
        Some(spec) => spec
            .parse::<SeedSpec>()
            .map_err(|e| UsageError(format!("--seed {spec:?}: {e}")))?,
        None => SeedSpec::default(),
    };
    if args.max_skew < 0 {
        return usage("--max-skew must not be negative");
    }
    let mut config = EmulatorConfig {
        hostname: args.hostname.clone(),
        max_skew_secs: args.max_skew,
        seed,
        state_file: args.state.clone(),
        push_timeout: Duration::from_secs(args.push_timeout),
        rate_limits: args.rate_limits.clone().unwrap_or_default(),
        ..EmulatorConfig::default()
    };
    if args.admin_ikey.is_some() || args.auth_ikey.is_some() {
        let generated = Emulator::new(EmulatorConfig::default())
            .map_err(|e| UsageError(e.to_string()))?
            .keys();
        config.keys = Some(fixed_keys(&args, generated));
    }
    let emulator = Emulator::new(config).map_err(|e| UsageError(format!("emulator: {e}")))?;
    let tls = emulator_tls(&args)?;
    let (listener, url) = bind(args.listen, if tls.is_some() { "https" } else { "http" }).await?;
    emulator.set_public_url(&url);
    let keys = emulator.keys();
    let ca_file = tls.as_ref().and_then(|tls| tls.ca_file.clone());
    if args.print_keys {
        let mut line = keys_json(&url, &keys);
        if let Some(ca_file) = &ca_file {
            line["ca_file"] = serde_json::json!(ca_file.display().to_string());
        }
        print_line(&line)?;
    }
    eprintln!("Duo emulator listening on {url}");
    if let Some(ca_file) = &ca_file {
        eprintln!(
            "  CA certificate: {} (duo_client ca_certs=, duogate --ca-file)",
            ca_file.display()
        );
    }
    eprintln!("  Admin API ikey: {}", keys.admin_ikey);
    eprintln!("  Auth API ikey:  {}", keys.auth_ikey);
    if !args.print_keys {
        eprintln!("  (secret keys are shown only with --print-keys)");
    }
    eprintln!("  control API:    {url}/_emulator/ (loopback only)");
    match tls {
        Some(tls) => {
            emulator
                .serve_tls(listener, tls.acceptor.clone(), shutdown_signal())
                .await
                .context("serving the emulator")?;
            drop(tls);
        }
        None => emulator
            .serve(listener, shutdown_signal())
            .await
            .context("serving the emulator")?,
    }
    Ok(ExitCode::SUCCESS)
}
