//! `/metrics` after a scripted run through the real router against the in-process emulator:
//! request counters and histograms by dialect and route (the Vault dialect's logical route),
//! MFA decisions that match what was decided, Duo calls by endpoint, limiter refusals, store
//! timings, no names or secrets in any label; `metrics_token` guards the page; every answer,
//! errors included, carries `x-request-id`.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use tower::ServiceExt as _;

use duogate_server::engine::Limits;
use duogate_server::engine::limiter::RateLimits;
use duogate_server::{AppState, ServiceSettings, app};
use duogate_store::tokens::Role;
use support::Duo;

async fn state_with(
    settings: ServiceSettings,
    rate_limits: RateLimits,
) -> (AppState, String, tempfile::TempDir) {
    let (store, root, dir) = support::store_with_root().await;
    let limits = Limits {
        call_timeout: Duration::from_secs(5),
        push_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(100),
        ..Limits::default()
    };
    let state = AppState::new(store, settings).with_engine(limits, rate_limits);
    (state, root, dir)
}

/// One request: (status, headers, body text).
async fn exchange(
    state: &AppState,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
) -> (u16, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

/// The value of the sample `name{labels}` in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

#[tokio::test]
async fn metrics_count_requests_by_logical_route_and_decisions_as_they_were_made() {
    let duo = Duo::start(Duration::from_secs(2)).await;
    duo.user("alice", "approve", &["424242"]).await;
    duo.user("mallory", "deny", &["424242"]).await;
    let (state, root, _dir) = state_with(
        ServiceSettings {
            allow_plain_http_duo: true,
            ..ServiceSettings::default()
        },
        RateLimits {
            per_user: 2,
            per_source: 100,
            window: Duration::from_secs(60),
        },
    )
    .await;
    let keys = duo.emulator.keys();
    let (status, created) = support::send(
        &state,
        "POST",
        "/v1/identity/mfa/method/duo",
        &[("x-vault-token", &root)],
        Some(json!({"method_name": "corp", "api_hostname": duo.url, "integration_key": keys.auth_ikey, "secret_key": keys.auth_skey})),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let method_id = created["data"]["method_id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let (status, _) = support::send(
            &state,
            "GET",
            &format!("/v1/identity/mfa/method/duo/{method_id}"),
            &[("x-vault-token", &root)],
            None,
        )
        .await;
        assert_eq!(status, 200);
    }
    let (mfa, _) = state
        .store
        .create_token(Role::Mfa, None, None)
        .await
        .unwrap();
    let mfa = mfa.expose_secret().to_string();
    // alice is allowed, mallory denied, alice allowed again, then alice is over her limit.
    for (username, result, reason) in [
        ("alice", "allow", "approved"),
        ("mallory", "deny", "denied"),
        ("alice", "allow", "approved"),
        ("alice", "deny", "rate_limited"),
    ] {
        let (status, answer) = support::send(
            &state,
            "POST",
            "/v1/duogate/check",
            &[("x-vault-token", &mfa)],
            Some(json!({"method": "corp", "username": username})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (answer["result"].as_str(), answer["reason"].as_str()),
            (Some(result), Some(reason)),
            "{username}: {answer}"
        );
    }

    let (status, headers, text) = exchange(&state, "GET", "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{headers:?}"
    );
    let expect = |series: &str, value: f64| {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    };
    expect(
        r#"duogate_mfa_decisions_total{policy="fail_closed",outcome="allow",reason="approved"}"#,
        2.0,
    );
    expect(
        r#"duogate_mfa_decisions_total{policy="fail_closed",outcome="deny",reason="denied"}"#,
        1.0,
    );
    expect(
        r#"duogate_mfa_decisions_total{policy="fail_closed",outcome="deny",reason="rate_limited"}"#,
        1.0,
    );
    expect(r#"duogate_limiter_refusals_total{scope="attempt"}"#, 1.0);
    expect(
        r#"duogate_http_requests_total{dialect="vault",route="identity/mfa/method/duo/{id}",method="GET",status="200"}"#,
        2.0,
    );
    expect(
        r#"duogate_http_requests_total{dialect="vault",route="identity/mfa/method/duo",method="POST",status="200"}"#,
        1.0,
    );
    expect(
        r#"duogate_http_requests_total{dialect="native",route="/v1/duogate/check",method="POST",status="200"}"#,
        4.0,
    );
    expect(
        r#"duogate_http_request_duration_seconds_count{dialect="vault",route="identity/mfa/method/duo/{id}"}"#,
        2.0,
    );
    assert!(
        text.contains(r#"duogate_http_request_duration_seconds_bucket{le="+Inf",dialect="native",route="/v1/duogate/check"} 4"#)
            || text.contains(r#"duogate_http_request_duration_seconds_bucket{dialect="native",route="/v1/duogate/check",le="+Inf"} 4"#),
        "{text}"
    );
    // Three decisions reached Duo (the fourth was refused first): one check, preauth and auth each.
    for endpoint in ["/auth/v2/check", "/auth/v2/preauth", "/auth/v2/auth"] {
        expect(
            &format!(r#"duogate_duo_call_duration_seconds_count{{endpoint="{endpoint}"}}"#),
            3.0,
        );
        expect(
            &format!(r#"duogate_duo_calls_total{{endpoint="{endpoint}",outcome="ok"}}"#),
            3.0,
        );
    }
    for operation in ["token_by_secret", "integration_secret", "append_audit"] {
        let series =
            format!(r#"duogate_store_query_duration_seconds_count{{operation="{operation}"}}"#);
        assert!(
            sample(&text, &series).is_some_and(|n| n >= 1.0),
            "{series} in\n{text}"
        );
    }
    assert!(
        text.contains(&format!(
            "duogate_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    for secret_or_name in [
        root.as_str(),
        mfa.as_str(),
        keys.auth_skey.as_str(),
        method_id.as_str(),
        "alice",
        "mallory",
        "corp",
    ] {
        assert!(
            !text.contains(secret_or_name),
            "{secret_or_name} in\n{text}"
        );
    }
}

#[tokio::test]
async fn a_metrics_token_refuses_requests_without_it_or_with_another() {
    let (state, _root, _dir) = state_with(
        ServiceSettings {
            metrics_token: Some(SecretString::from("m3trics-t0ken")),
            ..ServiceSettings::default()
        },
        RateLimits::default(),
    )
    .await;
    let (status, _, _) = exchange(&state, "GET", "/metrics", &[]).await;
    assert_eq!(status, 401);
    let (status, _, _) = exchange(
        &state,
        "GET",
        "/metrics",
        &[("authorization", "Bearer m3trics-t0ken-not")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, _) = exchange(
        &state,
        "GET",
        "/metrics",
        &[("authorization", "Bearer m3trics")],
    )
    .await;
    assert_eq!(status, 401);
    let (status, _, text) = exchange(
        &state,
        "GET",
        "/metrics",
        &[("authorization", "Bearer m3trics-t0ken")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(!text.contains("m3trics-t0ken"));
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_fitting_client_id_is_kept() {
    let (state, _root, _dir) = state_with(ServiceSettings::default(), RateLimits::default()).await;
    for (method, path) in [
        ("GET", "/v1/identity/mfa/method/duo"),
        ("GET", "/v1/duogate/tenants"),
        ("GET", "/api/svm/svms"),
        ("GET", "/nowhere"),
        ("GET", "/v1/sys/health"),
    ] {
        let (status, headers, _) = exchange(&state, method, path, &[]).await;
        let id = headers
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{path} ({status}) has no x-request-id"));
        assert!(
            uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok(),
            "{id:?}"
        );
    }
    let (_, headers, _) = exchange(
        &state,
        "GET",
        "/v1/duogate/tenants",
        &[("x-request-id", "client-42.a_b")],
    )
    .await;
    assert_eq!(headers["x-request-id"], "client-42.a_b");
    let (_, headers, _) = exchange(
        &state,
        "GET",
        "/v1/duogate/tenants",
        &[("x-request-id", "not an id; token=dg.x")],
    )
    .await;
    let id = headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}
