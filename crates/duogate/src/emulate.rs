//! `duogate emulate`: the offline Duo.
//!
//! With `--print-keys` the first line on stdout is one JSON object, for scripts:
//! `{"url": "http://127.0.0.1:PORT", "admin_ikey": …, "admin_skey": …, "auth_ikey": …,
//! "auth_skey": …}`. Friendly text goes to stderr. Without `--print-keys` secret keys are never
//! printed. SIGINT and SIGTERM stop the server gracefully.

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

async fn bind(addr: SocketAddr) -> anyhow::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| UsageError(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().context("reading the bound address")?;
    Ok((listener, format!("http://{local}")))
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
    let (listener, url) = bind(args.listen).await?;
    emulator.set_public_url(&url);
    let keys = emulator.keys();
    if args.print_keys {
        print_line(&keys_json(&url, &keys))?;
    }
    eprintln!("Duo emulator listening on {url}");
    eprintln!("  Admin API ikey: {}", keys.admin_ikey);
    eprintln!("  Auth API ikey:  {}", keys.auth_ikey);
    if !args.print_keys {
        eprintln!("  (secret keys are shown only with --print-keys)");
    }
    eprintln!("  control API:    {url}/_emulator/ (loopback only)");
    emulator
        .serve(listener, shutdown_signal())
        .await
        .context("serving the emulator")?;
    Ok(ExitCode::SUCCESS)
}
