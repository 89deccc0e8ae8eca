//! Duo's limits as Duo applies them: 429s with `Retry-After` on the Auth API and without on the
//! Admin API (faults and configured budgets alike), and object limits.

use std::time::Duration;

use serde_json::json;

use duo_emulator::{Emulator, EmulatorConfig};

use crate::support::{admin, auth, config, control, emulator, ok, send};

fn limited(spec: &str) -> Emulator {
    Emulator::new(EmulatorConfig {
        rate_limits: spec.parse().unwrap(),
        ..config("users=3,phones=3")
    })
    .unwrap()
}

const TOO_MANY: &str = r#"{"code":42901,"message":"Too Many Requests","stat":"FAIL"}"#;

#[tokio::test]
async fn rate_limit_faults_send_retry_after_on_the_auth_api_only() {
    let emu = emulator("users=1");
    let fault = send(
        &emu,
        control(
            "POST",
            "/_emulator/faults",
            json!({"kind": "rate_limit", "retry_after": 7}),
        ),
    )
    .await;
    assert_eq!(fault.status, 201, "{:?}", fault.body);

    let on_auth = send(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(on_auth.status, 429);
    assert_eq!(on_auth.headers["retry-after"], "7");
    assert_eq!(
        on_auth.body,
        serde_json::from_str::<serde_json::Value>(TOO_MANY).unwrap()
    );

    let on_admin = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(on_admin.status, 429);
    assert!(on_admin.headers.get("retry-after").is_none());
    assert_eq!(on_admin.body["code"], 42901);
}

#[tokio::test]
async fn the_default_fault_asks_auth_clients_to_wait_a_second() {
    let emu = emulator("users=1");
    send(
        &emu,
        control("POST", "/_emulator/faults", json!({"kind": "rate_limit"})),
    )
    .await;
    let reply = send(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(reply.headers["retry-after"], "1");
}

#[tokio::test(start_paused = true)]
async fn configured_budgets_refuse_until_the_window_frees_a_slot() {
    let emu = limited("/auth/v2/check=2/min,/admin/v1/users=1/min");
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/check", json!({})))
            .await
            .status,
        200
    );
    tokio::time::advance(Duration::from_secs(15)).await;
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/check", json!({})))
            .await
            .status,
        200
    );
    let refused = send(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.headers["retry-after"], "45",
        "the first request leaves in 45 s"
    );
    assert_eq!(refused.body["code"], 42901);
    // Other endpoints have their own budgets; the Admin API's 429 has no Retry-After.
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/logo", json!({})))
            .await
            .status,
        200
    );
    ok(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    let admin_refused = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(admin_refused.status, 429);
    assert!(admin_refused.headers.get("retry-after").is_none());

    // At 75 s both windows have let their requests go.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/check", json!({})))
            .await
            .status,
        200
    );
    ok(&emu, admin("GET", "/admin/v1/users", json!({}))).await;

    let log = crate::support::ok_control(&emu, "GET", "/_emulator/requests").await;
    let limited_count = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["outcome"] == "fail:42901")
        .count();
    assert_eq!(limited_count, 2);
}

#[tokio::test(start_paused = true)]
async fn duos_defaults_budget_list_pages_per_minute_and_forged_requests_spend_nothing() {
    let emu = limited("duo");
    // A request with a bad signature is refused before it is counted.
    let k = crate::support::keys();
    for _ in 0..41 {
        let forged = crate::support::signed_with(
            duo_proto::SigVersion::V5,
            "GET",
            "/admin/v1/users",
            json!({}),
            &k.admin_ikey,
            "wrongwrongwrongwrongwrongwrongwrongwrong",
            &crate::support::date(),
        );
        assert_eq!(send(&emu, forged).await.status, 401);
    }
    // "get all" (no paging parameters): 40 a minute.
    for i in 0..40 {
        let reply = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
        assert_eq!(reply.status, 200, "request {i}");
    }
    let refused = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(refused.status, 429);
    // Pages (limit/offset) have their own budget of 200.
    ok(&emu, admin("GET", "/admin/v1/users", json!({"limit": "1"}))).await;
    // The Auth API is not limited by Duo's published defaults.
    for _ in 0..50 {
        assert_eq!(
            send(&emu, auth("GET", "/auth/v2/check", json!({})))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn a_user_holds_at_most_a_hundred_phones() {
    let emu = emulator("");
    let user = send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "many", "phones": 100}),
        ),
    )
    .await;
    assert_eq!(user.status, 200, "{:?}", user.body);
    let user_id = user.body["user_id"].as_str().unwrap().to_string();
    let phone = send(&emu, control("POST", "/_emulator/phones", json!({}))).await;
    let phone_id = phone.body["phone_id"].as_str().unwrap().to_string();
    let refused = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{user_id}/phones"),
            json!({"phone_id": phone_id}),
        ),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["code"], 40002);
    assert!(
        refused.body["message_detail"]
            .as_str()
            .unwrap()
            .contains("100 phones"),
        "{:?}",
        refused.body
    );
    // Nothing changed, and re-associating a phone the user already has is still fine.
    let phones = ok(
        &emu,
        admin(
            "GET",
            &format!("/admin/v1/users/{user_id}/phones"),
            json!({"limit": "500"}),
        ),
    )
    .await;
    assert_eq!(phones.as_array().unwrap().len(), 100);
    let existing = phones[0]["phone_id"].as_str().unwrap();
    ok(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{user_id}/phones"),
            json!({"phone_id": existing}),
        ),
    )
    .await;
}

#[tokio::test]
async fn a_phone_serves_at_most_a_hundred_users() {
    let emu = emulator("");
    let phone = send(&emu, control("POST", "/_emulator/phones", json!({}))).await;
    let phone_id = phone.body["phone_id"].as_str().unwrap().to_string();
    let mut user_ids = Vec::new();
    for i in 0..101 {
        let user = send(
            &emu,
            control(
                "POST",
                "/_emulator/users",
                json!({"username": format!("u{i}"), "phones": 0}),
            ),
        )
        .await;
        user_ids.push(user.body["user_id"].as_str().unwrap().to_string());
    }
    for user_id in &user_ids[..100] {
        ok(
            &emu,
            admin(
                "POST",
                &format!("/admin/v1/users/{user_id}/phones"),
                json!({"phone_id": phone_id}),
            ),
        )
        .await;
    }
    let refused = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{}/phones", user_ids[100]),
            json!({"phone_id": phone_id}),
        ),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body["message_detail"]
            .as_str()
            .unwrap()
            .contains("100 users")
    );
}
