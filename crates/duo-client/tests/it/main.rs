//! Integration tests of the client: transport behaviour against small local servers, and the
//! typed calls against the emulator.

mod against_emulator;
mod signing_on_the_wire;
mod tls;
mod transport;

use std::sync::Arc;
use std::time::Duration;

use duo_client::clock::FixedClock;
use duo_client::{ApiHost, ClientConfig, DuoClient};

/// Serves `router` on a loopback port in the current runtime; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// A client for `url` with the given keys.
pub fn client(url: &str, ikey: &str, skey: &str) -> DuoClient {
    let mut config = ClientConfig::new(ApiHost::parse(url).unwrap(), ikey, skey.to_string().into());
    config.timeout = Duration::from_secs(10);
    DuoClient::new(config).unwrap().with_rng_seed(1)
}

/// A client whose Date header is fixed (for emulators with a fixed clock).
pub fn fixed_client(url: &str, ikey: &str, skey: &str, now: jiff::Timestamp) -> DuoClient {
    client(url, ikey, skey).with_clock(Arc::new(FixedClock(now)))
}
