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

#[tokio::test]
async fn the_system_roots_do_not_know_a_private_ca() {
    let private = pki();
    let url = tls_server(private.server).await;
    let error = client(&url, TlsMode::SystemRoots)
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Tls { .. }), "{error:?}");
}

/// A minimal HTTP CONNECT proxy on loopback; records each request line it receives.
async fn connect_proxy() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match client.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let line = head.lines().next().unwrap_or_default().to_string();
                log.lock().unwrap().push(line.clone());
                let mut words = line.split_whitespace();
                let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
                    let _ = client
                        .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                        .await;
                    return;
                };
                let _ = client
                    .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    .await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn an_explicit_proxy_tunnels_https_with_connect() {
    let trusted = pki();
    let ca_pem = trusted.ca_pem.clone().into_bytes();
    let url = tls_server(trusted.server).await;
    let (proxy, seen) = connect_proxy().await;
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        "DIKEY",
        "skey".to_string().into(),
    );
    config.tls = TlsMode::CustomCa(ca_pem);
    config.proxy = Some(proxy);
    config.timeout = std::time::Duration::from_secs(10);
    let answer = DuoClient::new(config)
        .unwrap()
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap();
    assert_eq!(answer.response["time"], 1);
    let target = url.trim_start_matches("https://");
    assert_eq!(
        *seen.lock().unwrap(),
        vec![format!("CONNECT {target} HTTP/1.1")]
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused_even_from_the_right_ca() {
    let trusted = pki();
    let ca_pem = trusted.ca_pem.clone().into_bytes();
    let url = tls_server(trusted.server).await;
    // The certificate names 127.0.0.1, not localhost.
    let by_name = url.replace("127.0.0.1", "localhost");
    let error = client(&by_name, TlsMode::CustomCa(ca_pem))
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Tls { .. }), "{error:?}");
}
