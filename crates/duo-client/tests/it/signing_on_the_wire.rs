//! What reaches the server: every request verifies with `duo_proto::verify` (v2 SHA-512,
//! v2 SHA-1 and v5), is laid out byte for byte as `duo_proto::sign::prepare_request` says, and
//! carries the expected headers.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use duo_client::clock::FixedClock;
use duo_client::{ApiHost, ClientConfig, DuoClient};
use duo_proto::canon::form_urldecode;
use duo_proto::sign::prepare_request;
use duo_proto::verify::{VerifyRequest, verify};
use duo_proto::{Digest, Params, SigVersion};

use crate::serve;

const IKEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";
const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    verified: Result<(SigVersion, Digest), String>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn now() -> jiff::Timestamp {
    "2026-03-01T12:34:56Z".parse().unwrap()
}

/// A server that verifies every request against [`IKEY`]/[`SKEY`] and the signed host
/// `127.0.0.1`, records it, and answers OK (or Duo's 401 when verification fails).
async fn verifying_server() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = axum::Router::new()
        .fallback(
            |State(seen): State<Arc<Mutex<Vec<Seen>>>>, request: Request| async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
                let headers: Vec<(String, String)> = parts
                    .headers
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
                    .collect();
                let header_refs: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let query = form_urldecode(parts.uri.query().unwrap_or(""));
                let is_form = headers.iter().any(|(n, v)| {
                    n.eq_ignore_ascii_case("content-type")
                        && v.starts_with("application/x-www-form-urlencoded")
                });
                let form: Option<Params> =
                    is_form.then(|| form_urldecode(std::str::from_utf8(&body).unwrap()));
                let verified = verify(
                    &VerifyRequest {
                        method: parts.method.as_str(),
                        path: parts.uri.path(),
                        configured_host: Some("127.0.0.1"),
                        query: &query,
                        form: form.as_ref(),
                        body: &body,
                        headers: &header_refs,
                    },
                    |ikey| (ikey == IKEY).then_some(SKEY),
                    now(),
                    300,
                )
                .map(|v| (v.version, v.digest))
                .map_err(|e| e.to_string());
                let ok = verified.is_ok();
                seen.lock().unwrap().push(Seen {
                    method: parts.method.to_string(),
                    path_and_query: parts
                        .uri
                        .path_and_query()
                        .map(|pq| pq.as_str().to_string())
                        .unwrap_or_default(),
                    headers,
                    body,
                    verified,
                });
                if ok {
                    (StatusCode::OK, r#"{"response": "", "stat": "OK"}"#).into_response()
                } else {
                    (
                        StatusCode::UNAUTHORIZED,
                        r#"{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}"#,
                    )
                        .into_response()
                }
            },
        )
        .with_state(seen.clone());
    (serve(router).await, seen)
}

fn client(url: &str, version: SigVersion, digest: Digest) -> DuoClient {
    let mut config = ClientConfig::new(ApiHost::parse(url).unwrap(), IKEY, SKEY.to_string().into());
    config.sig_version = version;
    config.digest = digest;
    DuoClient::new(config)
        .unwrap()
        .with_clock(Arc::new(FixedClock(now())))
}

fn params(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// Requests covering query and body encodings: spaces, `~`, `/`, `@`, non-ASCII, booleans,
/// numbers, no parameters at all, and a percent-encoded path.
fn cases() -> Vec<(&'static str, String, Map<String, Value>)> {
    vec![
        ("GET", "/admin/v1/users".into(), Map::new()),
        (
            "GET",
            "/admin/v1/users".into(),
            params(json!({"username": "Zoë Q. ~/@ +x", "limit": "10", "offset": "0"})),
        ),
        (
            "POST",
            "/admin/v1/users/DU%2F1".into(),
            params(json!({"realname": "Zoë Q", "notes": "a&b=c d", "alias1": ""})),
        ),
        (
            "POST",
            "/admin/v1/admins/DE1".into(),
            params(json!({"name": "Ana", "password_change_required": true})),
        ),
        ("POST", "/auth/v2/preauth".into(), Map::new()),
        (
            "GET",
            "/auth/v2/auth_status".into(),
            params(json!({"txid": "45f7c92b-f45f-4862-8545-e0f58e78075a"})),
        ),
    ]
}

#[tokio::test]
async fn every_signature_version_verifies_on_the_server_and_matches_prepare_request() {
    let (url, seen) = verifying_server().await;
    for (version, digest) in [
        (SigVersion::V5, Digest::Sha512),
        (SigVersion::V2, Digest::Sha512),
        (SigVersion::V2, Digest::Sha1),
    ] {
        let client = client(&url, version, digest);
        for (method, path, params) in cases() {
            seen.lock().unwrap().clear();
            let raw = client.call_raw(method, &path, &params).await.unwrap();
            let request = seen.lock().unwrap().pop().unwrap();
            let what = format!("{version:?}/{digest:?} {method} {path} {params:?}");
            assert_eq!(raw.status, 200, "{what}: {:?}", request.verified);
            let (matched_version, matched_digest) = request.verified.clone().unwrap();
            assert_eq!(matched_digest, digest, "{what}");
            if version == SigVersion::V5 {
                assert_eq!(matched_version, SigVersion::V5, "{what}");
            }
            // Byte for byte what duo-proto lays out (which is duo_client's layout).
            let date = duo_proto::date::format_date(now());
            let expected = prepare_request(
                version,
                digest,
                method,
                "127.0.0.1",
                &path,
                &params,
                &date,
                IKEY,
                SKEY.as_bytes(),
            );
            assert_eq!(request.method, expected.method, "{what}");
            assert_eq!(request.path_and_query, expected.path_and_query, "{what}");
            assert_eq!(request.body, expected.body, "{what}");
            assert_eq!(request.header("date"), Some(date.as_str()), "{what}");
            assert_eq!(
                request.header("authorization"),
                Some(expected.authorization.as_str()),
                "{what}"
            );
            assert_eq!(
                request.header("content-type"),
                expected.content_type,
                "{what}"
            );
            assert_eq!(
                request.header("user-agent"),
                Some(concat!("duogate/", env!("CARGO_PKG_VERSION"))),
                "{what}"
            );
            // Plain-http loopback: signed as the bare host, while Host carries the port.
            let port = url.rsplit(':').next().unwrap();
            assert_eq!(
                request.header("host"),
                Some(format!("127.0.0.1:{port}").as_str()),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn a_wrong_secret_key_does_not_verify() {
    let (url, seen) = verifying_server().await;
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        IKEY,
        "not-the-secret".to_string().into(),
    );
    config.sig_version = SigVersion::V5;
    let client = DuoClient::new(config)
        .unwrap()
        .with_clock(Arc::new(FixedClock(now())));
    let error = client
        .call("GET", "/admin/v1/users", &Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.duo_code(), Some(40103));
    assert!(seen.lock().unwrap()[0].verified.is_err());
}
