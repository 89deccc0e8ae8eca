//! `duogate-server`: duogate's service. Three dialects over one store: the Vault dialect
//! (`/v1/…`: login-MFA and step-up methods, enforcements, namespaces, two-phase logins), the
//! ONTAP dialect (`/api/…`: Duo profiles and groups, SVMs) and the native API (`/v1/duogate/…`),
//! plus the enforcement engine that runs Duo's Auth API with Vault's and duo_unix's semantics.
//! The dialects are thin: they parse their wire format, call the store or the engine, and map
//! errors to their own envelope; the engine knows no dialect; no dialect touches SQL.
//!
//! # Layout
//!
//! - [`state`]: [`AppState`] and [`ServiceSettings`].
//! - [`access`]: who is calling (tokens, Basic accounts) and what their role allows.
//! - [`basic_auth`]: Basic-auth verification off the async workers, its cache and throttle.
//! - [`client_address`]: the client's address, through trusted proxies.
//! - [`reachability`]: `GET status`'s probes of the stored Duo endpoints, run in the
//!   background and cached.
//! - [`engine`]: the second factor against Duo's Auth API (Vault and duo_unix semantics).
//! - [`native`]: the `/v1/duogate/` routes and their error mapping.
//! - [`vault`]: the Vault dialect (`/v1/…`).
//! - [`ontap`]: the ONTAP dialect (`/api/…`).
//! - [`targets`]: stored integrations as engine inputs.
//! - [`username_format`]: Vault's `username_format` (identity templates, step-up substitution).
//! - [`metrics`]: `/metrics` (Prometheus/OpenMetrics text through `prometheus-client`), and
//!   what is measured where.
//! - [`access_log`]: request ids, the per-request span and access line, request metrics.
//! - [`listener`]: the listening socket, plain or TLS (with a certificate reloadable on SIGHUP).
//!
//! The entry point is [`run`]: it takes a bound listener (a `tokio::net::TcpListener` for plain
//! HTTP, or a [`listener::TlsListener`]) and a shutdown future, so tests pick the port and stop
//! the server.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod access;
pub mod access_log;
pub mod basic_auth;
pub mod client_address;
pub mod engine;
pub mod listener;
pub mod metrics;
pub mod names;
pub mod native;
pub mod ontap;
pub mod reachability;
pub mod routes;
pub mod state;
pub mod targets;
pub mod username_format;
pub mod vault;

use std::future::Future;

pub use state::{AppState, ServiceSettings};

/// The whole HTTP app.
pub fn app(state: AppState) -> axum::Router {
    let routes = axum::Router::new()
        .nest("/v1/duogate", native::router())
        .nest("/api", ontap::router())
        .merge(vault::router())
        .route("/metrics", axum::routing::get(metrics::render));
    access_log::instrument(routes, state.metrics.clone())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_address::resolve,
        ))
        .with_state(state)
}

/// Serves the app on `listener` (plain or TLS) until `shutdown` resolves, then lets open
/// requests finish for up to [`ServiceSettings::shutdown_timeout`] (see [`listener::serve_with`]).
/// Handlers see the peer address as `ConnectInfo<SocketAddr>` either way.
pub async fn run(
    state: AppState,
    listener: impl Into<listener::Listener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    ontap::spawn_status_refresher(&state);
    reachability::spawn_refresher(&state);
    let options = listener::ServeOptions {
        max_connections: state.settings.max_connections,
        shutdown_timeout: state.settings.shutdown_timeout,
        header_read_timeout: state.header_read_timeout,
    };
    listener::serve_with(app(state), listener, shutdown, options)
        .await
        .map(|_| ())
}
