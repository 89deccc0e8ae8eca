//! Signed requests against an in-process emulator.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use jiff::Timestamp;
use serde_json::{Map, Value};
use tower::ServiceExt as _;

use duo_emulator::{Emulator, EmulatorConfig, EmulatorError, KeySet, SeedSpec};
use duo_proto::{Digest, SigVersion};

pub const HOST: &str = "127.0.0.1";
pub const NOW: &str = "2026-11-23T12:00:00Z";

pub fn now() -> Timestamp {
    NOW.parse().unwrap()
}

pub fn keys() -> KeySet {
    KeySet {
        admin_ikey: "DIADMINADMINADMIN001".into(),
        admin_skey: "adminsecretadminsecretadminsecretadmin01".into(),
        auth_ikey: "DIAUTHAUTHAUTHAUTH01".into(),
        auth_skey: "authsecretauthsecretauthsecretauthsecr01".into(),
        oidc_client_id: "DIOIDCOIDCOIDCOIDC01".into(),
        oidc_client_secret: "oidcsecretoidcsecretoidcsecretoidcsecr01".into(),
    }
}

pub fn config(seed: &str) -> EmulatorConfig {
    EmulatorConfig {
        keys: Some(keys()),
        seed: seed.parse::<SeedSpec>().unwrap(),
        clock: Arc::new(now),
        ..EmulatorConfig::default()
    }
}

pub fn emulator(seed: &str) -> Emulator {
    Emulator::new(config(seed)).unwrap()
}

/// A response: status, and the body as JSON (or a JSON string of the text).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
}

pub async fn send(emulator: &Emulator, request: Request<Body>) -> Reply {
    let response = emulator.router().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply {
        status,
        body,
        content_type,
        headers,
    }
}

/// Builds a request signed like duo_client (`prepare_request`), with extra header tweaks.
pub fn signed_with(
    version: SigVersion,
    method: &str,
    path: &str,
    params: Value,
    ikey: &str,
    skey: &str,
    date: &str,
) -> Request<Body> {
    let params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    let prepared = duo_proto::sign::prepare_request(
        version,
        Digest::Sha512,
        method,
        HOST,
        path,
        &params,
        date,
        ikey,
        skey.as_bytes(),
    );
    let mut builder = Request::builder()
        .method(prepared.method.as_str())
        .uri(&prepared.path_and_query)
        .header("Host", format!("{HOST}:8443"))
        .header("Date", &prepared.date)
        .header("Authorization", &prepared.authorization);
    if let Some(content_type) = prepared.content_type {
        builder = builder.header("Content-Type", content_type);
    }
    builder.body(Body::from(prepared.body)).unwrap()
}

pub fn date() -> String {
    duo_proto::date::format_date(now())
}

/// An Admin API request signed with the admin keys (v5).
pub fn admin(method: &str, path: &str, params: Value) -> Request<Body> {
    let k = keys();
    signed_with(
        SigVersion::V5,
        method,
        path,
        params,
        &k.admin_ikey,
        &k.admin_skey,
        &date(),
    )
}

/// An Auth API request signed with the auth keys (v2, as duo_unix and Node send them).
pub fn auth(method: &str, path: &str, params: Value) -> Request<Body> {
    let k = keys();
    signed_with(
        SigVersion::V2,
        method,
        path,
        params,
        &k.auth_ikey,
        &k.auth_skey,
        &date(),
    )
}

/// An unsigned control API request.
pub fn control(method: &str, path: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// The `response` of an OK envelope, asserting the request succeeded.
pub async fn ok(emulator: &Emulator, request: Request<Body>) -> Value {
    let reply = send(emulator, request).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["stat"], "OK", "{:?}", reply.body);
    reply.body["response"].clone()
}

/// An emulator serving a real loopback socket.
pub struct Served {
    pub url: String,
    pub port: u16,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), EmulatorError>>,
}

impl Served {
    /// Serves `emulator` on 127.0.0.1 with a free port.
    pub async fn start(emulator: &Emulator) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(emulator.clone().serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            url: format!("http://127.0.0.1:{port}"),
            port,
            stop,
            task,
        }
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }

    /// Sends a request signed like duo_client for `signed_host` with the admin keys (v5).
    pub async fn admin_get(
        &self,
        signed_host: &str,
        path: &str,
        params: Value,
    ) -> reqwest::Response {
        let k = keys();
        let params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
        let prepared = duo_proto::sign::prepare_request(
            SigVersion::V5,
            Digest::Sha512,
            "GET",
            signed_host,
            path,
            &params,
            &date(),
            &k.admin_ikey,
            k.admin_skey.as_bytes(),
        );
        reqwest::Client::new()
            .get(format!("{}{}", self.url, prepared.path_and_query))
            .header("Date", &prepared.date)
            .header("Authorization", &prepared.authorization)
            .send()
            .await
            .unwrap()
    }
}

/// A control API call that must answer 2xx; its JSON body (or null).
pub async fn ok_control(emulator: &Emulator, method: &str, path: &str) -> Value {
    let reply = send(emulator, control(method, path, Value::Null)).await;
    assert!(
        (200..300).contains(&reply.status),
        "{method} {path}: {reply:?}"
    );
    reply.body
}
