//! Transport behaviour: 429 backoff on a paused clock, timeouts, envelopes, errors, paging.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::StreamExt as _;
use serde_json::{Map, Value, json};

use duo_client::backoff::DuoBackoff;
use duo_client::{ApiHost, ClientConfig, ClientError, DuoClient};

use crate::{client, serve};

const LIMITED: &str = r#"{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}"#;

/// A server that answers 429 `limited` times without `Retry-After` (as the Admin API does),
/// then OK; counts requests.
async fn rate_limited(limited: u32) -> (String, Arc<AtomicU32>) {
    rate_limited_with(limited, None).await
}

/// A server that answers 429 `limited` times, with `retry_after` as the header (and name) given,
/// then OK; counts requests.
async fn rate_limited_with(
    limited: u32,
    retry_after: Option<(&'static str, &'static str)>,
) -> (String, Arc<AtomicU32>) {
    let count = Arc::new(AtomicU32::new(0));
    let router = axum::Router::new()
        .route(
            "/auth/v2/check",
            get(move |State(count): State<Arc<AtomicU32>>| async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                if n < limited {
                    let mut response = (StatusCode::TOO_MANY_REQUESTS, LIMITED).into_response();
                    if let Some((name, value)) = retry_after {
                        response
                            .headers_mut()
                            .insert(name, axum::http::HeaderValue::from_static(value));
                    }
                    response
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
    // Exactly the seeded schedule (the helper seeds the jitter with 1).
    let expected: Duration = DuoBackoff::new(Some(1)).take(3).sum();
    assert!(
        slept >= expected && slept < expected + Duration::from_millis(50),
        "slept {slept:?}, schedule {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_waits_exactly_that_long_then_succeeds() {
    let (url, count) = rate_limited_with(1, Some(("retry-after", "5"))).await;
    let started = tokio::time::Instant::now();
    let answer = client(&url, "DIKEY", "skey")
        .call("GET", "/auth/v2/check", &Map::new())
        .await;
    assert!(answer.is_ok(), "{answer:?}");
    assert_eq!(count.load(Ordering::SeqCst), 2);
    let slept = started.elapsed();
    assert!(
        slept >= Duration::from_secs(5) && slept < Duration::from_millis(5_050),
        "{slept:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_replaces_the_schedule_for_every_429_and_keeps_its_attempts() {
    // duo_unix's X-Retry-After is read too. Seven 429s: six waits of 2 s, then the 429.
    let (url, count) = rate_limited_with(u32::MAX, Some(("x-retry-after", "2"))).await;
    let started = tokio::time::Instant::now();
    let raw = client(&url, "DIKEY", "skey")
        .call_raw("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap();
    assert_eq!((raw.status, raw.attempts), (429, 7));
    assert_eq!(raw.retry_after, Some(Duration::from_secs(2)));
    assert_eq!(count.load(Ordering::SeqCst), 7);
    let slept = started.elapsed();
    assert!(
        slept >= Duration::from_secs(12) && slept < Duration::from_millis(12_050),
        "{slept:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_cut_to_the_configured_maximum() {
    let (url, _) = rate_limited_with(1, Some(("retry-after", "600"))).await;
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        "DIKEY",
        "skey".to_string().into(),
    );
    config.max_retry_after = Duration::from_secs(10);
    let started = tokio::time::Instant::now();
    DuoClient::new(config)
        .unwrap()
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap();
    let slept = started.elapsed();
    assert!(
        slept >= Duration::from_secs(10) && slept < Duration::from_millis(10_050),
        "{slept:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn call_raw_hands_back_the_seventh_429_as_is() {
    let (url, count) = rate_limited(u32::MAX).await;
    let started = tokio::time::Instant::now();
    let raw = client(&url, "DIKEY", "skey")
        .call_raw("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 7);
    assert_eq!(raw.attempts, 7);
    assert_eq!(raw.status, 429);
    assert_eq!(raw.reason, "Too Many Requests");
    assert_eq!(raw.body, LIMITED.as_bytes());
    let expected: Duration = DuoBackoff::new(Some(1)).sum();
    let slept = started.elapsed();
    assert!(
        slept >= expected && slept < expected + Duration::from_millis(50),
        "slept {slept:?}, schedule {expected:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn max_attempts_of_one_turns_retrying_off() {
    let (url, count) = rate_limited(u32::MAX).await;
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        "DIKEY",
        "skey".to_string().into(),
    );
    config.max_attempts = 1;
    let started = tokio::time::Instant::now();
    let error = DuoClient::new(config)
        .unwrap()
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.duo_code(), Some(42901));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn only_429_is_retried() {
    let count = Arc::new(AtomicU32::new(0));
    let router = axum::Router::new()
        .route(
            "/auth/v2/check",
            get(|State(count): State<Arc<AtomicU32>>| async move {
                count.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"code": 50301, "message": "Service Unavailable", "stat": "FAIL"}"#,
                )
            }),
        )
        .with_state(count.clone());
    let url = serve(router).await;
    let error = client(&url, "DIKEY", "skey")
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    match error {
        ClientError::Duo {
            status,
            reason,
            fail,
        } => {
            assert_eq!(
                (status, reason.as_str(), fail.code),
                (503, "Service Unavailable", 50301)
            );
        }
        other => panic!("{other:?}"),
    }
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
fn debug_output_never_shows_the_skey_or_a_proxy_password() {
    let secret = "THIS-IS-THE-SECRET-KEY-0123456789abcdef";
    let mut config = ClientConfig::new(
        ApiHost::parse("api-x.duosecurity.com").unwrap(),
        "DIKEY",
        secret.to_string().into(),
    );
    config.proxy = Some("http://proxyuser:proxy-pass-42@proxy.example:3128".into());
    let shown = format!("{config:?} {config:#?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains("proxy-pass-42"), "{shown}");
    assert!(
        shown.contains("DIKEY") && shown.contains("proxy.example"),
        "{shown}"
    );
    let client = DuoClient::new(config).unwrap();
    let shown = format!("{client:?} {client:#?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains("proxy-pass-42"), "{shown}");
}

#[tokio::test]
async fn errors_never_show_the_skey() {
    let secret = "THIS-IS-THE-SECRET-KEY-0123456789abcdef";
    let router = axum::Router::new().route(
        "/admin/v1/users",
        get(|| async {
            (
                StatusCode::UNAUTHORIZED,
                r#"{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}"#,
            )
        }),
    );
    let url = serve(router).await;
    let duo = client(&url, "DIKEY", secret)
        .call("GET", "/admin/v1/users", &Map::new())
        .await
        .unwrap_err();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let transport = client(&closed, "DIKEY", secret)
        .call("GET", "/admin/v1/users", &Map::new())
        .await
        .unwrap_err();
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        "DIKEY",
        secret.to_string().into(),
    );
    config.proxy = Some("http://u:proxy-pass-42@bad host".into());
    let config_error = DuoClient::new(config).unwrap_err();
    // A proxy that cannot be reached, with credentials in its URL.
    let mut config = ClientConfig::new(
        ApiHost::parse("api-x.duosecurity.com").unwrap(),
        "DIKEY",
        secret.to_string().into(),
    );
    config.proxy = Some(format!(
        "http://u:proxy-pass-42@{}",
        closed.trim_start_matches("http://")
    ));
    let proxy_error = DuoClient::new(config)
        .unwrap()
        .call("GET", "/admin/v1/users", &Map::new())
        .await
        .unwrap_err();
    assert!(
        matches!(proxy_error, ClientError::Transport { .. }),
        "{proxy_error:?}"
    );
    for error in [duo, transport, config_error, proxy_error] {
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("proxy-pass-42"), "{shown}");
    }
}

#[tokio::test]
async fn transport_errors_name_the_endpoint_but_not_the_query() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let mut params = Map::new();
    params.insert("username".into(), json!("someone-private"));
    let error = client(&closed, "DIKEY", "skey")
        .call("GET", "/admin/v1/users", &params)
        .await
        .unwrap_err();
    let shown = error.to_string();
    assert!(shown.contains("/admin/v1/users"), "{shown}");
    assert!(!shown.contains("someone-private"), "{shown}");
}

#[tokio::test]
async fn a_body_that_stalls_is_a_timeout_too() {
    let router = axum::Router::new().route(
        "/auth/v2/check",
        get(|| async {
            let first =
                futures_util::stream::once(async { Ok::<_, std::io::Error>(r#"{"stat": "OK", "#) });
            let stalled = first.chain(futures_util::stream::pending());
            axum::body::Body::from_stream(stalled)
        }),
    );
    let url = serve(router).await;
    let mut config = ClientConfig::new(
        ApiHost::parse(&url).unwrap(),
        "DIKEY",
        "skey".to_string().into(),
    );
    config.timeout = Duration::from_millis(200);
    let started = std::time::Instant::now();
    let error = DuoClient::new(config)
        .unwrap()
        .call("GET", "/auth/v2/check", &Map::new())
        .await
        .unwrap_err();
    match error {
        ClientError::Timeout { after } => assert_eq!(after, Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// `(limit, offset, number)` of each request a paging mock received.
type RequestLog = Arc<Mutex<Vec<(String, String, String)>>>;

#[tokio::test]
async fn paging_sends_limit_and_offset_and_stops_without_next_offset() {
    let seen: RequestLog = Arc::default();
    let router = axum::Router::new()
        .route(
            "/admin/v1/phones",
            get(
                |State(seen): State<RequestLog>,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    let limit: u64 = q["limit"].parse().unwrap();
                    let offset: u64 = q["offset"].parse().unwrap();
                    seen.lock().unwrap().push((
                        q["limit"].clone(),
                        q["offset"].clone(),
                        q.get("number").cloned().unwrap_or_default(),
                    ));
                    let total = 5u64;
                    let items: Vec<Value> = (offset..total.min(offset + limit))
                        .map(|i| json!({"phone_id": format!("DP{i}")}))
                        .collect();
                    // The last page omits next_offset altogether; the others send it as a string.
                    let mut metadata = json!({"total_objects": total, "prev_offset": null});
                    if offset + limit < total {
                        metadata["next_offset"] = json!((offset + limit).to_string());
                    }
                    json!({"stat": "OK", "response": items, "metadata": metadata}).to_string()
                },
            ),
        )
        .with_state(seen.clone());
    let url = serve(router).await;
    let client = client(&url, "DIKEY", "skey");
    let mut filter = Map::new();
    filter.insert("number".into(), json!("+15555550100"));
    let pages: Vec<_> = client
        .pages("/admin/v1/phones", filter, Some(2))
        .collect()
        .await;
    let pages: Vec<duo_client::Page> = pages.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        pages.iter().map(|p| p.items.len()).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    assert_eq!(pages[0].metadata.total_objects, Some(5));
    assert_eq!(pages[0].metadata.next_offset, Some(2));
    assert_eq!(pages[2].metadata.next_offset, None);
    let requests: Vec<(String, String, String)> = seen.lock().unwrap().drain(..).collect();
    let expected: Vec<(String, String, String)> = [("2", "0"), ("2", "2"), ("2", "4")]
        .iter()
        .map(|(l, o)| (l.to_string(), o.to_string(), "+15555550100".to_string()))
        .collect();
    assert_eq!(requests, expected);
    // Without a page size, the endpoint's maximum.
    let all: Vec<_> = client
        .items("/admin/v1/phones", Map::new(), None)
        .collect()
        .await;
    assert_eq!(all.len(), 5);
    assert_eq!(seen.lock().unwrap()[0].0, "500");
}

#[tokio::test]
async fn a_failing_page_ends_the_stream_with_the_error() {
    let router = axum::Router::new().route(
        "/admin/v1/users",
        get(|Query(q): Query<std::collections::HashMap<String, String>>| async move {
            if q["offset"] == "0" {
                (
                    StatusCode::OK,
                    r#"{"stat": "OK", "response": [{"user_id": "DU1"}], "metadata": {"next_offset": 1}}"#,
                )
            } else {
                (
                    StatusCode::FORBIDDEN,
                    r#"{"code": 40301, "message": "Access forbidden", "stat": "FAIL"}"#,
                )
            }
        }),
    );
    let url = serve(router).await;
    let client = client(&url, "DIKEY", "skey");
    let items: Vec<_> = client
        .items("/admin/v1/users", Map::new(), None)
        .collect()
        .await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[0].is_ok());
    assert_eq!(items[1].as_ref().unwrap_err().duo_code(), Some(40301));
}

#[tokio::test]
async fn metadata_is_read_leniently_and_kept_raw() {
    let router = axum::Router::new().route(
        "/admin/v2/logs/authentication",
        get(|| async {
            r#"{"stat": "OK", "response": {"authlogs": []}, "metadata": {"next_offset": ["1532951895000", "af0ba235-0b33-23c8-bc23-a31aa0231de8"], "total_objects": "7"}}"#
        }),
    );
    let url = serve(router).await;
    let answer = client(&url, "DIKEY", "skey")
        .call("GET", "/admin/v2/logs/authentication", &Map::new())
        .await
        .unwrap();
    let metadata = answer.metadata.unwrap();
    assert_eq!(metadata.total_objects, Some(7));
    assert_eq!(metadata.next_offset, None);
    assert!(answer.raw_metadata.unwrap()["next_offset"].is_array());
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
