//! `duo-emulator`: an offline Duo Security Admin + Auth API and Universal Prompt.
//!
//! It verifies every request's signature exactly as Duo does (through `duo-proto`, the same
//! code the client signs with), answers with Duo's envelopes, error codes and paging, lets
//! users answer pushes as scripted, and injects faults. duogate's own tests, benchmarks and
//! demos talk to it, and so can anyone's CI: `duogate emulate --print-keys` runs it.
//!
//! ```no_run
//! # async fn example() -> Result<(), duo_emulator::EmulatorError> {
//! use duo_emulator::{Emulator, EmulatorConfig, SeedSpec};
//! let emulator = Emulator::new(EmulatorConfig {
//!     seed: "users=100,phones=100".parse()?,
//!     ..EmulatorConfig::default()
//! })?;
//! let keys = emulator.keys();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! emulator.serve(listener, std::future::pending()).await
//! # }
//! ```
//!
//! Three integrations are emulated: the admin keys open `/admin/*` only and the auth keys
//! `/auth/*` only (the other answers 403/40301 `Wrong integration type for this API.`), and a
//! Universal Prompt (Web SDK v4) application's client id and secret open `/oauth/v1/*`.
//! Duo's request budgets can be switched on ([`EmulatorConfig::rate_limits`]).
//! Signature skew and timestamps use [`EmulatorConfig::clock`]; push timeouts, long polls,
//! answer delays and `delay` faults use `tokio::time`, so tests can run them on a paused clock.
//! [`Emulator::router`] serves in-process (no socket; the control API then treats the caller
//! as loopback and the `down` fault answers 503); [`Emulator::serve`] serves a socket, where
//! `down` really drops the connection, and [`Emulator::serve_tls`] the same over TLS.
//!
//! # Layout
//!
//! - [`config`]: [`EmulatorConfig`], [`SeedSpec`], [`KeySet`], [`keys_json`].
//! - [`state`]: the data (users and their scripted answers, phones, admins, bypass codes,
//!   enrollments, transactions) with its indexes, deterministic seeding, and the state file
//!   (the shape of `GET /_emulator/state`).
//! - [`pipeline`]: one API request end to end: faults, signature, integration type,
//!   parameters, endpoint, request log.
//! - [`admin_api`], [`auth_api`]: the endpoints.
//! - [`universal_prompt`]: the OIDC flow of Web SDK v4 (health check, authorize, token).
//! - [`rate_limits`]: Duo's per-endpoint request budgets.
//! - [`request_params`]: parameter reading with Duo's 40002 answers; paging.
//! - [`faults`]: injected faults.
//! - [`control`]: the `/_emulator/` control API.
//! - [`shared`]: state shared by all requests, and the request log.
//! - [`server`]: serving a socket, with the connection-dropping `down` fault.
//! - [`error`]: [`EmulatorError`], why start-up or serving failed.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin_api;
pub mod auth_api;
pub mod config;
pub mod control;
pub mod error;
pub mod faults;
pub mod pipeline;
pub mod rate_limits;
pub mod request_params;
pub mod server;
pub mod shared;
pub mod state;
pub mod universal_prompt;

use std::future::Future;
use std::sync::Arc;

pub use config::{EmulatorConfig, KeySet, SeedSpec, keys_json};
pub use error::EmulatorError;
pub use rate_limits::RateLimits;

use shared::Shared;
use state::Data;
pub use state::StateFile;

/// A Duo emulator: cheap to clone, all clones share one state.
#[derive(Clone)]
pub struct Emulator {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("keys", &self.shared.keys())
            .field("url", &self.shared.public_url())
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Seeds, loads the state file, and sets the keys up.
    pub fn new(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        let mut data = Data::seeded(config.seed);
        if let Some(path) = &config.state_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| EmulatorError::State(format!("{}: {e}", path.display())))?;
            let state: StateFile = serde_json::from_str(&text)
                .map_err(|e| EmulatorError::State(format!("{}: {e}", path.display())))?;
            data.load(state)
                .map_err(|e| EmulatorError::State(format!("{}: {e}", path.display())))?;
        }
        let keys = config.keys.clone().unwrap_or_else(KeySet::generate);
        Ok(Self {
            shared: Arc::new(Shared::new(config, keys, data)),
        })
    }

    /// The whole app: the Admin and Auth APIs, the Universal Prompt and the control API.
    pub fn router(&self) -> axum::Router {
        control::router()
            .merge(universal_prompt::router())
            .fallback(pipeline::fallback)
            .with_state(self.shared.clone())
    }

    /// The current keys (they change with `POST /_emulator/keys/rotate`).
    pub fn keys(&self) -> KeySet {
        self.shared.keys()
    }

    /// Everything, in the state-file shape (what `GET /_emulator/state` answers): to save and
    /// later [`Emulator::load_state`]. Transactions, enrollments, faults and the request log are
    /// not part of it.
    pub fn state(&self) -> StateFile {
        self.shared.data().snapshot()
    }

    /// Loads a state file's objects, as [`EmulatorConfig::state_file`] does at start: objects
    /// with the id of an existing one replace it, the others are added. On an error (the
    /// message names the inconsistent entry) the data is unchanged.
    pub fn load_state(&self, state: StateFile) -> Result<(), EmulatorError> {
        let mut data = self.shared.data();
        let mut loaded = data.clone();
        loaded.load(state).map_err(EmulatorError::State)?;
        *data = loaded;
        Ok(())
    }

    /// The URL shown in enrollment links and the key-rotation answer.
    pub fn set_public_url(&self, url: &str) {
        self.shared.set_public_url(url);
    }

    /// The URL set by [`Emulator::set_public_url`] or [`Emulator::serve`].
    pub fn public_url(&self) -> String {
        self.shared.public_url()
    }

    /// Serves on `listener` until `shutdown` resolves. Sets the public URL from the listener's
    /// address unless one was set.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EmulatorError> {
        if self.shared.public_url().is_empty() {
            let addr = listener.local_addr()?;
            self.shared.set_public_url(&format!("http://{addr}"));
        }
        let router = self.router();
        server::serve(self.shared.clone(), router, listener, None, shutdown).await?;
        Ok(())
    }

    /// Serves HTTPS on `listener` until `shutdown` resolves: every connection first completes a
    /// TLS handshake with `acceptor` (whose configuration should offer `http/1.1`, or no ALPN
    /// protocol: the emulator speaks HTTP/1.1 only). Sets the public URL (`https://…`) from the
    /// listener's address unless one was set.
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EmulatorError> {
        if self.shared.public_url().is_empty() {
            let addr = listener.local_addr()?;
            self.shared.set_public_url(&format!("https://{addr}"));
        }
        let router = self.router();
        server::serve(
            self.shared.clone(),
            router,
            listener,
            Some(acceptor),
            shutdown,
        )
        .await?;
        Ok(())
    }
}
