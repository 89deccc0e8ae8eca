//! `duo-client`: an async client for Duo Security's Admin and Auth APIs.
//!
//! It signs with `duo-proto` (byte-identical to the official `duo_client`), pins Duo's CA set by
//! default, never reads a proxy from the environment unless told, puts a timeout on every call,
//! rides out HTTP 429 with Duo's own backoff schedule (or the wait a `Retry-After` asks for), and
//! pages through offset-paged lists as a
//! stream. It knows nothing of duogate.
//!
//! The secret key is a [`secrecy::SecretString`]. It is used only to compute signatures and never
//! appears in `Debug` output, error messages or logs. Neither do proxy passwords, passcodes, or
//! the query string of a failed request.
//!
//! ```no_run
//! # async fn example() -> Result<(), duo_client::ClientError> {
//! use duo_client::{ApiHost, ClientConfig, DuoClient};
//! let host = ApiHost::parse("api-xxxxxxxx.duosecurity.com")?;
//! let client = DuoClient::new(ClientConfig::new(host, "DIXXXXXXXXXXXXXXXXXX", "secret".to_string().into()))?;
//! let user = client.admin().user("DU3RP9I2WOC59VZX672N").await?;
//! println!("{}", user.username);
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`host`]: [`ApiHost`], the API endpoint parsed at the edge (https, or plain http for
//!   loopback endpoints such as the emulator).
//! - [`config`]: [`ClientConfig`] and [`TlsMode`].
//! - [`tls`]: Duo's pinned CA set, chosen from the Mozilla roots compiled into `webpki-roots`.
//! - [`backoff`]: [`backoff::DuoBackoff`], the 429 retry schedule (1, 2, 4 … 32 s + jitter),
//!   and [`backoff::retry_after`], reading a 429's `Retry-After`.
//! - [`error`]: [`ClientError`] and its exit codes.
//! - [`client`]: [`DuoClient`]: signed calls, envelopes, paging streams.
//! - [`admin`], [`auth`]: typed Admin and Auth API calls.
//! - [`actions`]: the Swimlane-shaped connector actions (catalogue, input validation, results).
//! - [`clock`]: the injectable wall clock for the `Date` header.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod actions;
pub mod admin;
pub mod auth;
pub mod backoff;
pub mod client;
pub mod clock;
pub mod config;
pub mod error;
pub mod host;
pub mod tls;

pub use client::{DuoClient, DuoResponse, Page, RawResponse};
pub use clock::{Clock, SystemClock};
pub use config::{ClientConfig, TlsMode};
pub use error::ClientError;
pub use host::ApiHost;
