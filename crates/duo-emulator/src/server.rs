//! Serving over a socket, with a connection-level hook for the `down` fault.
//!
//! Each accepted connection is served by hyper with a service that first asks the faults
//! whether this request's path is `down`: if so the service fails, and hyper closes the
//! connection without writing a byte, which is what a client sees when Duo is unreachable
//! mid-request. Otherwise the request goes to the axum router with the peer address attached
//! (the control API uses it to refuse non-loopback peers).
//!
//! With a TLS acceptor (`duogate emulate --tls`), each connection's handshake runs in the
//! connection's own task, bounded by [`HANDSHAKE_TIMEOUT`], before hyper sees it; the `down`
//! fault then closes the TLS connection the same way. The emulator speaks HTTP/1.1 only (as Duo's
//! clients do), so the acceptor's configuration should offer `http/1.1` by ALPN, or nothing.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tower::ServiceExt as _;

use crate::faults::{FaultAnswer, plan};
use crate::shared::{LogEntry, Shared};

/// How long a TLS client has to finish its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The error that makes hyper drop a connection.
#[derive(Debug)]
struct EmulatedOutage;

impl std::fmt::Display for EmulatedOutage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("emulated outage")
    }
}

impl std::error::Error for EmulatedOutage {}

/// Whether a `down` fault takes this request (consuming the fault's counters if so).
fn is_down(shared: &Shared, path: &str) -> bool {
    if !(path.starts_with("/admin/") || path.starts_with("/auth/") || path.starts_with("/oauth/")) {
        return false;
    }
    let mut faults = shared.faults();
    // Peek with a copy: only a `down` decision is taken here; other faults run in the pipeline.
    let mut probe = faults.clone();
    if plan(&mut probe, path).answer != Some(FaultAnswer::Down) {
        return false;
    }
    *faults = probe;
    true
}

/// Serves `router` on `listener` (over TLS when `tls` is given) until `shutdown` resolves, then
/// waits up to 5 s for open connections.
pub async fn serve(
    shared: Arc<Shared>,
    router: axum::Router,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let shared = shared.clone();
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                let shared = shared.clone();
                let router = router.clone();
                async move {
                    let path = request.uri().path().to_string();
                    if is_down(&shared, &path) {
                        shared.log(LogEntry {
                            method: request.method().to_string(),
                            path,
                            sig_version: None,
                            ikey: None,
                            status: 0,
                            outcome: "fault:down".into(),
                        });
                        return Err(EmulatedOutage);
                    }
                    request
                        .extensions_mut()
                        .insert(ConnectInfo::<SocketAddr>(peer));
                    let response = router
                        .oneshot(request.map(axum::body::Body::new))
                        .await
                        .unwrap_or_else(|e: Infallible| match e {});
                    Ok(response)
                }
            },
        );
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let builder = Builder::new(TokioExecutor::new());
            let ended =
                match tls {
                    None => {
                        let connection =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        watcher.watch(connection.into_owned()).await
                    }
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(stream)) => stream,
                                Ok(Err(error)) => {
                                    tracing::debug!(%peer, %error, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                        let connection =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        watcher.watch(connection.into_owned()).await
                    }
                };
            if let Err(error) = ended {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {},
        () = tokio::time::sleep(Duration::from_secs(5)) => {},
    }
    Ok(())
}
