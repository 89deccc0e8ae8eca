//! Transport behaviour: 429 backoff on a paused clock, timeouts, envelopes, errors, paging.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Map, Value, json};

use duo_client::{ApiHost, ClientConfig, ClientError, DuoClient};

use crate::{client, serve};

const LIMITED: &str = r#"{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}"#;

/// A server that answers 429 `limited` times, then OK; counts requests.
async fn rate_limited(limited: u32) -> (String, Arc<AtomicU32>) {
    let count = Arc::new(AtomicU32::new(0));
    let router = axum::Router::new()
        .route(
            "/auth/v2/check",
            get(move |State(count): State<Arc<AtomicU32>>| async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                if n < limited {
                    (StatusCode::TOO_MANY_REQUESTS, LIMITED).into_response()
                } else {
                    (StatusCode::OK, r#"{"stat": "OK", "response": {"time": 1}}"#).into_response()
                }
            }),
        )
        .with_state(count.clone());
    (serve(router).await, count)
}

#[tokio::test(start_paused = true)]
async fn three_429s_are_ridden_out_on_duos_schedule() {
    let (url, count) = rate_limited(3).await;
    let started = tokio::time::Instant::now();
    let answer = client(&url, "DIKEY", "skey")
        .call("GET", "/auth/v2/check", &Map::new())
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(count.load(Ordering::SeqCst), 4);
    let slept = started.elapsed();
    // 1 + 2 + 4 s, each plus up to 1 s of jitter.
    assert!(
        slept >= Duration::from_secs(7) && slept < Duration::from_secs(10),
        "{slept:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn after_seven_attempts_the_429_is_returned_as_duos_error() {
    let (url, count) = rate_limited(u32::MAX).await;
    let started = tokio::time::Instant::now();
    let error = client(&url, "DIKEY", "skey")
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 7);
    assert_eq!(error.duo_code(), Some(42901));
    assert_eq!(error.exit_code(), 1);
    let slept = started.elapsed();
    // 1 + 2 + 4 + 8 + 16 + 32 = 63 s plus up to 6 s of jitter.
    assert!(
        slept >= Duration::from_secs(63) && slept < Duration::from_secs(69),
        "{slept:?}"
    );
}

#[tokio::test]
async fn a_slow_server_is_a_timeout() {
    let router = axum::Router::new().route(
        "/auth/v2/check",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let url = serve(router).await;
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        "DIKEY",
        "skey".to_string().into(),
    );
    config.timeout = Duration::from_millis(200);
    let error = DuoClient::new(config)
        .unwrap()
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Timeout { .. }), "{error:?}");
    assert_eq!(error.exit_code(), 3);
}

#[tokio::test]
async fn fail_envelopes_become_duo_errors_and_junk_is_malformed() {
    let router = axum::Router::new()
        .route(
            "/fail",
            get(|| async {
                (StatusCode::NOT_FOUND, r#"{"code": 40401, "message": "Resource not found", "message_detail": "user", "stat": "FAIL"}"#)
            }),
        )
        .route("/html", get(|| async { (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>") }))
        .route("/stat", get(|| async { r#"{"stat": "MAYBE"}"# }));
    let url = serve(router).await;
    let client = client(&url, "DIKEY", "skey");
    match client.call("GET", "/fail", &Map::new()).await.unwrap_err() {
        ClientError::Duo { status, fail, .. } => {
            assert_eq!(status, 404);
            assert_eq!(fail.code, 40401);
            assert_eq!(fail.message_detail.as_deref(), Some("user"));
        }
        other => panic!("{other:?}"),
    }
    let html = client.call("GET", "/html", &Map::new()).await.unwrap_err();
    assert!(
        matches!(html, ClientError::Malformed { status: 502, .. }),
        "{html:?}"
    );
    assert!(matches!(
        client.call("GET", "/stat", &Map::new()).await,
        Err(ClientError::Malformed { .. })
    ));
    // call_raw hands back any status as is.
    let raw = client.call_raw("GET", "/fail", &Map::new()).await.unwrap();
    assert_eq!(raw.status, 404);
    assert_eq!(raw.reason, "Not Found");
}

#[tokio::test]
async fn an_unreachable_host_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let error = client(&format!("http://127.0.0.1:{port}"), "DIKEY", "skey")
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport { .. }), "{error:?}");
    assert_eq!(error.exit_code(), 3);
}

#[tokio::test]
async fn paging_follows_next_offset_and_clamps_the_page_size() {
    let limits = Arc::new(Mutex::new(Vec::<String>::new()));
    let router = axum::Router::new()
        .route(
            "/admin/v1/users",
            get(|State(limits): State<Arc<Mutex<Vec<String>>>>, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                limits.lock().unwrap().push(q["limit"].clone());
                let offset: u64 = q["offset"].parse().unwrap();
                let next = if offset < 600 { json!(offset + 300) } else { Value::Null };
                let items: Vec<Value> = (0..300).map(|i| json!({"user_id": format!("DU{}", offset + i)})).collect();
                let body = json!({"stat": "OK", "response": items, "metadata": {"next_offset": next, "total_objects": 900}});
                body.to_string()
            }),
        )
        .with_state(limits.clone());
    let url = serve(router).await;
    let client = client(&url, "DIKEY", "skey");
    use futures_util::StreamExt as _;
    let items: Vec<_> = client
        .items("/admin/v1/users", Map::new(), Some(5000))
        .collect()
        .await;
    assert_eq!(items.len(), 900);
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(
        *limits.lock().unwrap(),
        vec!["300", "300", "300"],
        "clamped to the users maximum"
    );
}

#[test]
fn debug_output_never_shows_the_skey() {
    let secret = "THIS-IS-THE-SECRET-KEY-0123456789abcdef";
    let config = ClientConfig::new(
        ApiHost::parse("api-x.duosecurity.com").unwrap(),
        "DIKEY",
        secret.to_string().into(),
    );
    assert!(!format!("{config:?}").contains(secret));
    let client = DuoClient::new(config).unwrap();
    assert!(!format!("{client:?}").contains(secret));
}

#[test]
fn a_bad_proxy_or_ca_file_is_a_configuration_error() {
    let mut config = ClientConfig::new(
        ApiHost::parse("api-x.duosecurity.com").unwrap(),
        "DIKEY",
        "s".to_string().into(),
    );
    config.proxy = Some("not a url".into());
    assert!(matches!(
        DuoClient::new(config.clone()),
        Err(ClientError::Config(_))
    ));
    config.proxy = None;
    config.tls = duo_client::TlsMode::CustomCa(b"not pem".to_vec());
    let error = DuoClient::new(config).unwrap_err();
    assert_eq!(error.exit_code(), 2, "{error}");
}
