//! Certificate trust: a private CA is refused by the pinned Duo set, accepted when it is the
//! configured CA file, and ignored with `Insecure`.

use std::sync::Arc;

use serde_json::Map;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use duo_client::{ApiHost, ClientConfig, ClientError, DuoClient, TlsMode};

struct TestPki {
    ca_pem: String,
    server: rustls::ServerConfig,
}

fn pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "duogate test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![leaf.der().clone()], key)
    .unwrap();
    TestPki {
        ca_pem: ca_cert.pem(),
        server,
    }
}

/// A TLS server on loopback answering every request with a Duo OK envelope.
async fn tls_server(config: rustls::ServerConfig) -> String {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"response": {"time": 1}, "stat": "OK"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}", addr.port())
}

fn client(url: &str, tls: TlsMode) -> DuoClient {
    let mut config = ClientConfig::new(
        ApiHost::parse(url).unwrap(),
        "DIKEY",
        "skey".to_string().into(),
    );
    config.tls = tls;
    config.timeout = std::time::Duration::from_secs(10);
    DuoClient::new(config).unwrap()
}

#[tokio::test]
async fn the_pinned_duo_set_refuses_a_private_ca() {
    let private = pki();
    let url = tls_server(private.server).await;
    let error = client(&url, TlsMode::PinnedDuo)
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Tls { .. }), "{error:?}");
    assert_eq!(error.exit_code(), 3);
}

#[tokio::test]
async fn a_custom_ca_file_is_trusted_and_insecure_skips_verification() {
    let trusted = pki();
    let ca_pem = trusted.ca_pem.clone().into_bytes();
    let url = tls_server(trusted.server).await;
    let answer = client(&url, TlsMode::CustomCa(ca_pem))
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap();
    assert_eq!(answer.response["time"], 1);
    let insecure = client(&url, TlsMode::Insecure)
        .call("GET", "/auth/v2/check", &Map::new())
        .await;
    assert!(insecure.is_ok(), "{insecure:?}");
    // A different CA is refused even when a CA file is configured.
    let other = pki();
    let refused = client(&url, TlsMode::CustomCa(other.ca_pem.into_bytes()))
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(refused, ClientError::Tls { .. }), "{refused:?}");
}
