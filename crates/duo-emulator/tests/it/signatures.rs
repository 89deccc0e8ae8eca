//! Signature verification as Duo does it, through the real router.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use duo_proto::SigVersion;

use crate::support::{admin, auth, date, emulator, keys, send, signed_with};

#[tokio::test]
async fn v2_and_v5_signatures_are_accepted_with_the_port_in_host() {
    let emu = emulator("users=2");
    let k = keys();
    for version in [SigVersion::V2, SigVersion::V5] {
        let request = signed_with(
            version,
            "GET",
            "/admin/v1/users",
            json!({"limit": "1"}),
            &k.admin_ikey,
            &k.admin_skey,
            &date(),
        );
        let reply = send(&emu, request).await;
        assert_eq!(reply.status, 200, "{version:?}: {:?}", reply.body);
        assert_eq!(reply.body["stat"], "OK");
    }
}

#[tokio::test]
async fn a_wrong_secret_key_is_40103() {
    let emu = emulator("users=1");
    let k = keys();
    let request = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &k.admin_ikey,
        "wrong",
        &date(),
    );
    let reply = send(&emu, request).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.body,
        json!({"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"})
    );
}

#[tokio::test]
async fn an_unknown_ikey_is_40102_and_no_credentials_is_40101() {
    let emu = emulator("users=1");
    let request = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        "DINOSUCHKEY000000000",
        "x",
        &date(),
    );
    assert_eq!(send(&emu, request).await.body["code"], 40102);
    let anonymous = Request::builder()
        .uri("/admin/v1/users")
        .body(Body::empty())
        .unwrap();
    let reply = send(&emu, anonymous).await;
    assert_eq!(
        (reply.status, reply.body["code"].clone()),
        (401, json!(40101))
    );
}

#[tokio::test]
async fn missing_or_unreadable_dates_are_40104_and_skewed_dates_40105() {
    let emu = emulator("users=1");
    let k = keys();
    let unreadable = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &k.admin_ikey,
        &k.admin_skey,
        "Di, 23 Nov 2026 12:00:00 -0000",
    );
    assert_eq!(send(&emu, unreadable).await.body["code"], 40104);
    let old = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &k.admin_ikey,
        &k.admin_skey,
        "Mon, 23 Nov 2026 11:50:00 -0000",
    );
    let reply = send(&emu, old).await;
    assert_eq!(
        (reply.status, reply.body["code"].clone()),
        (401, json!(40105))
    );
    let slightly_off = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &k.admin_ikey,
        &k.admin_skey,
        "Mon, 23 Nov 2026 12:04:00 GMT",
    );
    assert_eq!(send(&emu, slightly_off).await.status, 200);
}

#[tokio::test]
async fn each_integration_only_opens_its_own_api() {
    let emu = emulator("users=1");
    let k = keys();
    let admin_on_auth = signed_with(
        SigVersion::V5,
        "GET",
        "/auth/v2/check",
        json!({}),
        &k.admin_ikey,
        &k.admin_skey,
        &date(),
    );
    let reply = send(&emu, admin_on_auth).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body["code"], 40301);
    assert_eq!(
        reply.body["message_detail"],
        "Wrong integration type for this API."
    );
    let auth_on_admin = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &k.auth_ikey,
        &k.auth_skey,
        &date(),
    );
    assert_eq!(send(&emu, auth_on_admin).await.body["code"], 40301);
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/check", json!({})))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_configured_hostname_is_the_only_host_accepted() {
    let mut config = crate::support::config("users=1");
    config.hostname = Some("api-test.duosecurity.com".into());
    let emu = duo_emulator::Emulator::new(config).unwrap();
    // Signed for 127.0.0.1: refused, because the server signs its configured host.
    assert_eq!(
        send(&emu, admin("GET", "/admin/v1/users", json!({})))
            .await
            .body["code"],
        40103
    );
}

#[tokio::test]
async fn errors_are_serialised_like_duo() {
    let emu = emulator("users=1");
    let reply = send(
        &emu,
        admin("GET", "/admin/v1/users/DUNOSUCHUSER00000000", json!({})),
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.content_type, "application/json");
    let raw = emu.router();
    let request = admin("GET", "/admin/v1/users/DUNOSUCHUSER00000000", json!({}));
    let response = tower::ServiceExt::oneshot(raw, request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(
        &bytes[..],
        br#"{"code": 40401, "message": "Resource not found", "stat": "FAIL"}"#
    );
}

#[tokio::test]
async fn a_missing_date_is_40104() {
    let emu = emulator("users=1");
    let mut request = admin("GET", "/admin/v1/users", json!({}));
    request.headers_mut().remove("Date");
    let reply = send(&emu, request).await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.body,
        json!({"code": 40104, "message": "Missing request timestamp", "stat": "FAIL"})
    );
}

#[tokio::test]
async fn x_duo_date_wins_over_date_and_is_hashed_under_v5() {
    let emu = emulator("users=1");
    let k = keys();
    let date = date();
    let params = duo_proto::Params::new();
    let x_duo = [("X-Duo-Date", date.as_str())];
    let signed = duo_proto::SignRequest {
        version: SigVersion::V5,
        digest: duo_proto::Digest::Sha512,
        method: "GET",
        host: crate::support::HOST,
        path: "/admin/v1/users",
        date: &date,
        params: &params,
        body: b"",
        x_duo_headers: &x_duo,
    };
    let request = Request::builder()
        .uri("/admin/v1/users")
        .header("Host", crate::support::HOST)
        .header("X-Duo-Date", &date)
        .header("Date", "not a date at all")
        .header(
            "Authorization",
            signed.authorization(&k.admin_ikey, k.admin_skey.as_bytes()),
        )
        .body(Body::empty())
        .unwrap();
    let reply = send(&emu, request).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test]
async fn sha1_v2_signatures_verify_and_the_log_records_versions_and_outcomes() {
    let emu = emulator("users=1");
    let k = keys();
    let params = serde_json::Map::new();
    let prepared = duo_proto::sign::prepare_request(
        SigVersion::V2,
        duo_proto::Digest::Sha1,
        "GET",
        crate::support::HOST,
        "/auth/v2/check",
        &params,
        &date(),
        &k.auth_ikey,
        k.auth_skey.as_bytes(),
    );
    assert_eq!(
        prepared.authorization.len(),
        "Basic ".len() + (20 + 1 + 40usize).div_ceil(3) * 4
    );
    let request = Request::builder()
        .uri(&prepared.path_and_query)
        .header("Host", crate::support::HOST)
        .header("Date", &prepared.date)
        .header("Authorization", &prepared.authorization)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&emu, request).await.status, 200);
    send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    let forged = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &k.admin_ikey,
        "not-the-secret",
        &date(),
    );
    send(&emu, forged).await;
    let log = crate::support::ok_control(&emu, "GET", "/_emulator/requests").await;
    assert_eq!(
        log,
        json!([
            {"method": "GET", "path": "/auth/v2/check", "sig_version": 2, "ikey": k.auth_ikey, "status": 200, "outcome": "ok"},
            {"method": "GET", "path": "/admin/v1/users", "sig_version": 5, "ikey": k.admin_ikey, "status": 200, "outcome": "ok"},
            {"method": "GET", "path": "/admin/v1/users", "sig_version": null, "ikey": null, "status": 401, "outcome": "fail:40103"},
        ])
    );
}

#[tokio::test]
async fn over_a_socket_the_host_is_accepted_with_or_without_its_port() {
    let emu = emulator("users=2");
    let served = crate::support::Served::start(&emu).await;
    for signed_host in [
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", served.port),
    ] {
        let response = served
            .admin_get(&signed_host, "/admin/v1/users", json!({"limit": "1"}))
            .await;
        assert_eq!(response.status(), 200, "signed for {signed_host}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "signed for {signed_host}"
        );
        let text = response.text().await.unwrap();
        assert!(
            text.starts_with(r#"{"metadata": {"next_offset": 1, "prev_offset": null, "total_objects": 2}, "response": [{"#),
            "Duo's serialisation: {text}"
        );
    }
    let elsewhere = served
        .admin_get("api-other.duosecurity.com", "/admin/v1/users", json!({}))
        .await;
    assert_eq!(elsewhere.status(), 401);
    assert_eq!(
        elsewhere.text().await.unwrap(),
        r#"{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}"#
    );
    served.stop().await;
}

#[tokio::test]
async fn ping_alone_is_unsigned() {
    let emu = emulator("users=1");
    for path in ["/auth/v2/check", "/auth/v2/logo", "/admin/v1/users"] {
        let anonymous = Request::builder().uri(path).body(Body::empty()).unwrap();
        assert_eq!(send(&emu, anonymous).await.body["code"], 40101, "{path}");
    }
    let ping = Request::builder()
        .uri("/auth/v2/ping")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&emu, ping).await.status, 200);
}
