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
