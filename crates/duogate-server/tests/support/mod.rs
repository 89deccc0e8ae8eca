//! What the service's integration tests share: an in-process Duo emulator with its control
//! API, a fresh store with a root token, and one request through the real router.
//! (Each test binary uses part of it.)
#![allow(dead_code)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use duo_emulator::{Emulator, EmulatorConfig};
use duogate_server::engine::DuoTarget;
use duogate_server::{AppState, app};
use duogate_store::tokens::Role;
use duogate_store::{Keyring, SealKey, Store};

/// The emulator on a loopback port.
pub struct Duo {
    pub emulator: Emulator,
    pub url: String,
}

impl Duo {
    /// Starts an emulator whose unanswered pushes time out after `push_timeout`.
    pub async fn start(push_timeout: Duration) -> Self {
        Self::start_with(EmulatorConfig {
            push_timeout,
            long_poll: Duration::from_secs(1),
            ..EmulatorConfig::default()
        })
        .await
    }

    /// Starts an emulator configured so.
    pub async fn start_with(config: EmulatorConfig) -> Self {
        let emulator = Emulator::new(config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(emulator.clone().serve(listener, std::future::pending()));
        Self { emulator, url }
    }

    /// A control-API call (in process); asserts success and answers the JSON body.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.emulator.router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {bytes:?}");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// A user who answers pushes with `answer` and accepts `passcodes`.
    pub async fn user(&self, username: &str, answer: &str, passcodes: &[&str]) {
        self.control(
            "POST",
            "/_emulator/users",
            json!({"username": username, "answer": answer, "passcodes": passcodes}),
        )
        .await;
    }

    /// The emulator's auth transactions, oldest first.
    pub async fn transactions(&self) -> Vec<Value> {
        self.control("GET", "/_emulator/transactions", Value::Null)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// How many requests reached `path`.
    pub async fn requests_to(&self, path: &str) -> usize {
        let log = self
            .control("GET", "/_emulator/requests", Value::Null)
            .await;
        let entries = log
            .get("requests")
            .and_then(Value::as_array)
            .or_else(|| log.as_array())
            .cloned()
            .unwrap_or_default();
        entries.iter().filter(|e| e["path"] == path).count()
    }

    /// The Auth API endpoint, for the engine.
    pub fn target(&self) -> DuoTarget {
        let keys = self.emulator.keys();
        DuoTarget {
            api_host: self.url.clone(),
            ikey: keys.auth_ikey,
            skey: keys.auth_skey.into(),
            allow_plain_http: true,
            proxy: None,
        }
    }
}

/// The seal keyring of [`store_with_root`]'s stores: another instance on the same database
/// needs the same key (a stranger's key is refused).
pub fn keyring() -> Keyring {
    Keyring::new(SealKey::from_bytes([0x5e; 32]))
}

/// A fresh SQLite store (sealed with [`keyring`]) and a root (admin) token; keep the directory
/// alive.
pub async fn store_with_root() -> (Store, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store = Store::connect(&url, keyring()).await.unwrap();
    let (root, _) = store.create_token(Role::Admin, None, None).await.unwrap();
    (store, root.expose_secret().to_string(), dir)
}

/// One request through the real router: (status, JSON body or `null`).
pub async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body
        .map(|b| Body::from(b.to_string()))
        .unwrap_or_else(Body::empty);
    let response = app(state.clone())
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}
