//! The listener in process: TLS serving keeps `ConnectInfo<SocketAddr>` for handlers, speaks
//! HTTP/2 and HTTP/1.1 by ALPN, reloads its certificate, and shuts down gracefully.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;

use duogate_server::listener::{Listener, ReloadableTlsConfig, TlsListener, serve};

/// A new CA and a `127.0.0.1` certificate it signed: (CA PEM, cert file, key file).
fn pki(dir: &Path, name: &str) -> (Vec<u8>, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("test CA {name}"));
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (cert_file, key_file) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (ca.pem().into_bytes(), cert_file, key_file)
}

fn client(ca_pem: &[u8]) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem).unwrap()])
        .timeout(Duration::from_secs(30))
}

/// A router whose only route answers the peer address it was given.
fn peer_router() -> axum::Router {
    axum::Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    )
}

struct Running {
    url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(listener: Listener) -> Running {
    let url = listener.url().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(peer_router(), listener, async move {
        let _ = stopped.await;
    }));
    Running { url, stop, task }
}

#[tokio::test]
async fn handlers_see_the_peer_address_over_tls_and_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = pki(dir.path(), "one");
    let tls = ReloadableTlsConfig::load(&cert, &key).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = start(TlsListener::new(tcp, tls).unwrap().into()).await;
    assert!(
        running.url.starts_with("https://127.0.0.1:"),
        "{}",
        running.url
    );

    for (client, version) in [
        (client(&ca).build().unwrap(), reqwest::Version::HTTP_2),
        (
            client(&ca).http1_only().build().unwrap(),
            reqwest::Version::HTTP_11,
        ),
    ] {
        let answer = client
            .get(format!("{}/peer", running.url))
            .send()
            .await
            .unwrap();
        assert_eq!((answer.status().as_u16(), answer.version()), (200, version));
        let peer: SocketAddr = answer.text().await.unwrap().parse().unwrap();
        assert!(peer.ip().is_loopback(), "{peer}");
    }

    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = start(plain.into()).await;
    assert!(plain.url.starts_with("http://127.0.0.1:"), "{}", plain.url);
    let answer = reqwest::get(format!("{}/peer", plain.url)).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().starts_with("127.0.0.1:"));

    for running in [running, plain] {
        running.stop.send(()).unwrap();
        running.task.await.unwrap().expect("graceful shutdown");
    }
}

#[tokio::test]
async fn a_reload_changes_the_certificate_of_the_next_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let (old_ca, cert, key) = pki(dir.path(), "current");
    let (new_ca, new_cert, new_key) = pki(dir.path(), "next");
    let tls = ReloadableTlsConfig::load(&cert, &key).unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let running = start(TlsListener::new(tcp, tls.clone()).unwrap().into()).await;
    let url = format!("{}/peer", running.url);
    let before = client(&old_ca).http1_only().build().unwrap();
    assert_eq!(before.get(&url).send().await.unwrap().status(), 200);

    std::fs::copy(new_cert, &cert).unwrap();
    std::fs::copy(new_key, &key).unwrap();
    tls.reload().unwrap();

    let fresh_new = client(&new_ca).build().unwrap();
    assert_eq!(fresh_new.get(&url).send().await.unwrap().status(), 200);
    let fresh_old = client(&old_ca).build().unwrap();
    assert!(fresh_old.get(&url).send().await.is_err());
    assert_eq!(
        before.get(&url).send().await.unwrap().status(),
        200,
        "the connection made before the reload keeps its certificate"
    );
    running.stop.send(()).unwrap();
    running.task.await.unwrap().unwrap();
}
