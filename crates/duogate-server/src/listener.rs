//! The service's listening socket: plain TCP, or TLS with a certificate that can be reloaded.
//!
//! [`Listener`] is what [`crate::run`] (and [`serve`], for any router) serves. A bound
//! `tokio::net::TcpListener` converts into a plain one; a [`TlsListener`] terminates TLS (rustls
//! with the aws-lc-rs provider) and offers HTTP/2 and HTTP/1.1 by ALPN (`h2`, `http/1.1`); the
//! server speaks whichever the client picked.
//!
//! # Reloading
//!
//! The certificate chain and key live in a [`ReloadableTlsConfig`]: the files' paths and the
//! `rustls::ServerConfig` built from them, behind a lock. Every handshake takes the current
//! configuration, so [`ReloadableTlsConfig::reload`] (the binary calls it on SIGHUP) changes what
//! new connections see while established connections keep theirs. A pair that does not load
//! (unreadable file, no certificate, no key, a key that does not match the certificate) is
//! refused and the previous configuration stays in place.
//!
//! # Handshakes
//!
//! Handshakes run in their own tasks, each bounded by [`HANDSHAKE_TIMEOUT`], so a slow or silent
//! client never holds up the accept loop; at most [`MAX_CONCURRENT_HANDSHAKES`] run at once (then
//! accepting waits, and the kernel's backlog holds new clients). Finished handshakes are handed
//! to the HTTP server through a small queue. A failed handshake (an untrusting client, a plain-HTTP request on the
//! TLS port) is logged at debug level and the connection is closed.
//!
//! # Serving
//!
//! [`serve_with`] bounds the number of open connections ([`ServeOptions::max_connections`]:
//! more wait in the kernel's backlog) and the time shutdown waits for requests in flight
//! ([`ServeOptions::shutdown_timeout`]), after which it logs how many connections it cut.
//!
//! # Slow clients
//!
//! An HTTP/1 client must send a request's whole head (request line and headers) within the
//! header-read timeout ([`DEFAULT_HEADER_READ_TIMEOUT`], `header_read_timeout_secs` in the
//! binary's configuration), or its connection is closed: a client that opens connections and
//! dribbles half a request line cannot hold them. [`serve_with`] runs hyper's connection
//! builder with that timeout (axum's `serve` offers no such setting).
//!
//! # Errors
//!
//! [`TlsFilesError`] names the file and the problem, never the file's contents: a key file's
//! bytes are secret, so problems parsing it are described, not quoted.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an HTTP/1 client may take to send a request's head (see "Slow clients").
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How many TLS handshakes may be in progress at once.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 1024;

/// How many finished handshakes may wait for the HTTP server to take them.
const HANDSHAKE_QUEUE: usize = 64;

/// What the service listens on.
#[derive(Debug)]
pub enum Listener {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS.
    Tls(TlsListener),
}

impl From<TcpListener> for Listener {
    fn from(listener: TcpListener) -> Self {
        Self::Plain(listener)
    }
}

impl From<TlsListener> for Listener {
    fn from(listener: TlsListener) -> Self {
        Self::Tls(listener)
    }
}

impl Listener {
    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Self::Plain(listener) => listener.local_addr(),
            Self::Tls(listener) => Ok(listener.local_addr),
        }
    }

    /// The URL clients use: `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> io::Result<String> {
        let scheme = match self {
            Self::Plain(_) => "http",
            Self::Tls(_) => "https",
        };
        Ok(format!("{scheme}://{}", self.local_addr()?))
    }
}

/// Why a certificate chain and key could not be loaded. The messages name the file and the
/// problem; they never contain the files' contents.
#[derive(Debug, thiserror::Error)]
pub enum TlsFilesError {
    /// A file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The certificate file is not a PEM certificate chain.
    #[error("certificate file {path}: {problem}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The key file holds no usable private key.
    #[error("key file {path}: {problem}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// rustls refused the pair (the key does not match the certificate, or its type is not
    /// supported).
    #[error("certificate {cert} with key {key}: {problem}")]
    Pair {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason (it does not include key material).
        problem: String,
    },
}

/// Describes a PEM parsing error without quoting the input (a key file's lines are secret).
fn pem_problem(error: &rustls::pki_types::pem::Error, none_found: &'static str) -> &'static str {
    use rustls::pki_types::pem::Error;
    match error {
        Error::NoItemsFound => none_found,
        Error::MissingSectionEnd { .. } => "a PEM section has no END line",
        Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        Error::Base64Decode(_) => "a PEM section is not valid base64",
        _ => "it is not valid PEM",
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsFilesError> {
    std::fs::read(path).map_err(|source| TlsFilesError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 RSA or SEC1
/// EC) into a server configuration with the aws-lc-rs provider, offering `h2` and `http/1.1` by
/// ALPN. Fails if either file is unusable or the key does not match the leaf certificate.
pub fn load_server_config(
    cert_file: &Path,
    key_file: &Path,
) -> Result<ServerConfig, TlsFilesError> {
    let cert_pem = read("certificate", cert_file)?;
    let certificate_problem = |problem| TlsFilesError::Certificate {
        path: cert_file.to_path_buf(),
        problem,
    };
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| certificate_problem(pem_problem(&e, "no CERTIFICATE section")))?;
    if chain.is_empty() {
        return Err(certificate_problem("no CERTIFICATE section"));
    }
    let key_pem = zeroize::Zeroizing::new(read("key", key_file)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsFilesError::Key {
        path: key_file.to_path_buf(),
        problem: pem_problem(
            &e,
            "no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section",
        ),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsFilesError::Pair {
            cert: cert_file.to_path_buf(),
            key: key_file.to_path_buf(),
            problem: e.to_string(),
        })?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsFilesError::Pair {
            cert: cert_file.to_path_buf(),
            key: key_file.to_path_buf(),
            problem: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A TLS server configuration loaded from a certificate file and a key file, which
/// [`reload`](Self::reload) reads again. Clones share the configuration: the binary keeps one to
/// reload on SIGHUP, the [`TlsListener`] another to handshake with.
#[derive(Debug, Clone)]
pub struct ReloadableTlsConfig {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: Arc<RwLock<Arc<ServerConfig>>>,
}

impl ReloadableTlsConfig {
    /// Loads the pair (see [`load_server_config`]).
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Self, TlsFilesError> {
        let config = load_server_config(cert_file, key_file)?;
        Ok(Self {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: Arc::new(RwLock::new(Arc::new(config))),
        })
    }

    /// Reads the files again. On success new handshakes use the new pair; on failure nothing
    /// changes and the error says why.
    pub fn reload(&self) -> Result<(), TlsFilesError> {
        let config = Arc::new(load_server_config(&self.cert_file, &self.key_file)?);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = config;
        Ok(())
    }

    /// The configuration new handshakes use.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The certificate file.
    pub fn cert_file(&self) -> &Path {
        &self.cert_file
    }

    /// The key file.
    pub fn key_file(&self) -> &Path {
        &self.key_file
    }
}

/// A TCP listener that completes TLS handshakes before handing connections to the server.
///
/// Creating one spawns the accept task (so it needs a tokio runtime); the task ends when the
/// listener is dropped.
#[derive(Debug)]
pub struct TlsListener {
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Accepts on `listener` and handshakes with `tls`'s current configuration.
    pub fn new(listener: TcpListener, tls: ReloadableTlsConfig) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (sender, handshaken) = mpsc::channel(HANDSHAKE_QUEUE);
        tokio::spawn(accept_and_handshake(listener, tls, sender));
        Ok(Self {
            handshaken,
            local_addr,
        })
    }
}

async fn accept_and_handshake(
    listener: TcpListener,
    tls: ReloadableTlsConfig,
    sender: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    loop {
        let permit = tokio::select! {
            permit = handshakes.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return, // never closed
            },
            () = sender.closed() => return,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    // Like axum's own loop: out of descriptors and the like; back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = sender.closed() => return,
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.current());
        let sender = sender.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
            drop(permit);
            match handshake {
                Ok(Ok(stream)) => {
                    let _ = sender.send((stream, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(connection) => connection,
            // The accept task only ends once this receiver is gone, so this cannot happen;
            // waiting forever is the honest answer if it did.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// How long shutdown waits for requests in flight unless told otherwise.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// How [`serve_with`] serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// At most this many connections are served at once; `None`: no limit.
    pub max_connections: Option<usize>,
    /// How long shutdown waits for requests in flight.
    pub shutdown_timeout: Duration,
    /// How long an HTTP/1 client may take to send a request's head.
    pub header_read_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// How serving ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections still open when the shutdown timeout ran out (0 after a complete drain).
    pub cut_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open requests finish
/// (with [`ServeOptions::default`]; see [`serve_with`]).
pub async fn serve(
    router: axum::Router,
    listener: impl Into<Listener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(router, listener, shutdown, ServeOptions::default())
        .await
        .map(|_| ())
}

/// Serves `router` on `listener` until `shutdown` resolves. Handlers see the peer address as
/// `ConnectInfo<SocketAddr>`, over plain HTTP and TLS alike.
///
/// - **Connection limit**: with `max_connections`, at most that many connections are served
///   at once; the next one is not accepted until one closes, so it waits in the kernel's
///   listen backlog (and is refused by the kernel only when that backlog is full). With TLS the
///   limit counts connections whose handshake is done; handshakes have their own bound
///   ([`MAX_CONCURRENT_HANDSHAKES`]).
/// - **Slow clients**: an HTTP/1 request head must arrive within `header_read_timeout`, or
///   the connection is closed.
/// - **Shutdown**: when `shutdown` resolves, accepting stops, idle connections are closed and
///   requests in flight may finish for up to `shutdown_timeout`. Then `serve_with` returns,
///   logging and reporting ([`ShutdownReport`]) how many connections were still open: those
///   are cut (their tasks end with the runtime, that is when the process exits). Start of draining and the end are logged at
///   info level, cut connections at warn.
pub async fn serve_with(
    router: axum::Router,
    listener: impl Into<Listener>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> io::Result<ShutdownReport> {
    let open = Arc::new(AtomicUsize::new(0));
    let slots = options
        .max_connections
        .map(|limit| Arc::new(tokio::sync::Semaphore::new(limit.max(1))));
    let (draining, drain_started) = tokio::sync::oneshot::channel::<()>();
    let open_at_signal = open.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!(
            open_connections = open_at_signal.load(Ordering::SeqCst),
            timeout_secs = options.shutdown_timeout.as_secs_f64(),
            "shutting down: no new connections; waiting for requests in flight"
        );
        let _ = draining.send(());
    };
    let header_read_timeout = options.header_read_timeout;
    let served: std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>> + Send>> =
        match listener.into() {
            Listener::Plain(listener) => Box::pin(serve_connections(
                CountedListener::new(listener, slots, open.clone()),
                router,
                signal,
                header_read_timeout,
            )),
            Listener::Tls(listener) => Box::pin(serve_connections(
                CountedListener::new(listener, slots, open.clone()),
                router,
                signal,
                header_read_timeout,
            )),
        };
    let deadline = async {
        if drain_started.await.is_err() {
            // The server ended before any shutdown: nothing to bound.
            return std::future::pending().await;
        }
        tokio::time::sleep(options.shutdown_timeout).await;
    };
    tokio::select! {
        result = served => {
            tracing::info!("shutdown complete: every connection closed");
            result.map(|()| ShutdownReport { cut_connections: 0 })
        }
        () = deadline => {
            let cut_connections = open.load(Ordering::SeqCst);
            tracing::warn!(
                cut_connections,
                "shutdown timeout reached: cutting the connections still open"
            );
            Ok(ShutdownReport { cut_connections })
        }
    }
}

/// A listener that counts open connections and, with a limit, accepts only while fewer are
/// open.
struct CountedListener<L> {
    inner: L,
    slots: Option<Arc<tokio::sync::Semaphore>>,
    open: Arc<AtomicUsize>,
}

impl<L> CountedListener<L> {
    fn new(inner: L, slots: Option<Arc<tokio::sync::Semaphore>>, open: Arc<AtomicUsize>) -> Self {
        Self { inner, slots, open }
    }
}

impl<L: axum::serve::Listener> axum::serve::Listener for CountedListener<L>
where
    L::Io: Unpin,
{
    type Io = CountedConnection<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let slot = match &self.slots {
            Some(slots) => match slots.clone().acquire_owned().await {
                Ok(slot) => Some(slot),
                // The semaphore is never closed.
                Err(_) => std::future::pending().await,
            },
            None => None,
        };
        let (io, addr) = self.inner.accept().await;
        self.open.fetch_add(1, Ordering::SeqCst);
        let connection = CountedConnection {
            io,
            _slot: slot,
            open: self.open.clone(),
        };
        (connection, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that holds its slot and counts itself open until dropped.
struct CountedConnection<T> {
    io: T,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    open: Arc<AtomicUsize>,
}

impl<T> Drop for CountedConnection<T> {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountedConnection<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountedConnection<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The accept loop: one task per connection, hyper's HTTP/1 and HTTP/2 with a header-read
/// timeout; on `shutdown`, stops accepting, asks every connection to finish its requests
/// and waits for them.
async fn serve_connections<L>(
    mut listener: L,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    header_read_timeout: Duration,
) -> io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let router = router.clone();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    tower::ServiceExt::oneshot(router.clone(), request.map(axum::body::Body::new))
                },
            );
            let mut builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            builder
                .http1()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_read_timeout);
            let connection =
                builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(io), service);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::trace!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cert_file = dir.join(format!("{name}.crt"));
        let key_file = dir.join(format!("{name}.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }

    #[test]
    fn a_pem_pair_loads_and_offers_h2_and_http1() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "localhost");
        let config = load_server_config(&cert, &key).unwrap();
        assert_eq!(
            config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    /// One DER element: (tag, contents, what follows).
    fn der_element(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1]);
        let (len, header) = if first < 0x80 {
            (first as usize, 2)
        } else {
            let n = (first & 0x7f) as usize;
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | *b as usize);
            (len, 2 + n)
        };
        (tag, &der[header..header + len], &der[header + len..])
    }

    /// The traditional form (PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`) inside a
    /// PKCS#8 key: the contents of its privateKey OCTET STRING.
    fn traditional_pem(pkcs8: &[u8], label: &str) -> String {
        use base64::Engine as _;
        let (_, info, _) = der_element(pkcs8);
        let (_, _, after_version) = der_element(info);
        let (_, _, after_algorithm) = der_element(after_version);
        let (tag, inner, _) = der_element(after_algorithm);
        assert_eq!(tag, 0x04, "privateKey is an OCTET STRING");
        let encoded = base64::engine::general_purpose::STANDARD.encode(inner);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn pkcs8_rsa_and_sec1_ec_keys_all_load() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (&rcgen::PKCS_ECDSA_P256_SHA256, None),
            (&rcgen::PKCS_ECDSA_P256_SHA256, Some("EC PRIVATE KEY")),
            (&rcgen::PKCS_RSA_SHA256, None),
            (&rcgen::PKCS_RSA_SHA256, Some("RSA PRIVATE KEY")),
        ];
        for (index, (algorithm, traditional)) in cases.into_iter().enumerate() {
            let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let key_pem = match traditional {
                Some(label) => traditional_pem(&key.serialize_der(), label),
                None => key.serialize_pem(),
            };
            let cert_file = dir.path().join(format!("{index}.crt"));
            let key_file = dir.path().join(format!("{index}.key"));
            std::fs::write(&cert_file, cert.pem()).unwrap();
            std::fs::write(&key_file, &key_pem).unwrap();
            load_server_config(&cert_file, &key_file)
                .unwrap_or_else(|e| panic!("{}: {e}", key_pem.lines().next().unwrap()));
        }
    }

    #[test]
    fn errors_name_the_file_and_never_quote_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "localhost");
        let (_, other_key) = pair(dir.path(), "other");

        let missing = dir.path().join("missing.pem");
        let error = load_server_config(&missing, &key).unwrap_err().to_string();
        assert!(
            error.contains("certificate file") && error.contains("missing.pem"),
            "{error}"
        );

        let garbage = dir.path().join("garbage.key");
        let secret_line = "c2VjcmV0IGtleSBtYXRlcmlhbA!!";
        std::fs::write(
            &garbage,
            format!("-----BEGIN PRIVATE KEY-----\n{secret_line}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let error = load_server_config(&cert, &garbage).unwrap_err().to_string();
        assert!(error.contains("garbage.key"), "{error}");
        assert!(!error.contains(secret_line), "{error}");

        let error = load_server_config(&cert, &cert).unwrap_err().to_string();
        assert!(error.contains("no PRIVATE KEY"), "{error}");
        let error = load_server_config(&key, &key).unwrap_err().to_string();
        assert!(error.contains("no CERTIFICATE"), "{error}");

        let error = load_server_config(&cert, &other_key)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("localhost.crt") && error.contains("other.key"),
            "{error}"
        );
    }

    #[test]
    fn a_failed_reload_keeps_the_previous_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "localhost");
        let tls = ReloadableTlsConfig::load(&cert, &key).unwrap();
        let before = tls.current();
        std::fs::write(&key, "not a key").unwrap();
        assert!(tls.reload().is_err());
        assert!(Arc::ptr_eq(&before, &tls.current()));

        let (new_cert, new_key) = pair(dir.path(), "renewed");
        std::fs::copy(new_cert, &cert).unwrap();
        std::fs::copy(new_key, &key).unwrap();
        tls.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &tls.current()));
    }
}
