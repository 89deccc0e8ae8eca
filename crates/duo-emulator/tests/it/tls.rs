//! Serving HTTPS (`Emulator::serve_tls`): the API answers over TLS, and the `down` fault still
//! closes the connection without an answer.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::emulator;

/// A CA's PEM and an acceptor for a `127.0.0.1` certificate it signed, offering HTTP/1.1.
fn acceptor() -> (Vec<u8>, tokio_rustls::TlsAcceptor) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    )
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (
        ca.pem().into_bytes(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}

#[tokio::test]
async fn over_tls_the_api_answers_and_down_still_drops_the_connection() {
    let emu = emulator("users=1");
    let (ca, acceptor) = acceptor();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(emu.clone().serve_tls(listener, acceptor, async move {
        let _ = stopped.await;
    }));
    let https = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let url = format!("https://{addr}");
    let ping = https
        .get(format!("{url}/auth/v2/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);
    assert_eq!(emu.public_url(), url, "serve_tls sets an https public URL");

    let added = https
        .post(format!("{url}/_emulator/faults"))
        .json(&json!({"kind": "down", "paths": ["/auth/v2/ping"], "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let error = https
        .get(format!("{url}/auth/v2/ping"))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_status(), "no HTTP answer at all: {error}");
    let log: Value = https
        .get(format!("{url}/_emulator/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|entry| entry["outcome"] == "fault:down"),
        "{log}"
    );
    // Plain HTTP on the TLS port gets no answer either.
    assert!(
        reqwest::get(format!("http://{addr}/auth/v2/ping"))
            .await
            .is_err()
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
