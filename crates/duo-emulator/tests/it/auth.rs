//! The Auth API with scripted users, on a paused clock.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{auth, control, emulator, send};

async fn script(emu: &duo_emulator::Emulator, username: &str, answer: &str) {
    let reply = send(
        emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": username, "answer": answer, "passcodes": ["123456"]}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test(start_paused = true)]
async fn each_scripted_answer_gives_duos_result_and_status() {
    let emu = emulator("");
    for (answer, result, status) in [
        ("approve", "allow", "allow"),
        ("deny", "deny", "deny"),
        ("fraud", "deny", "fraud"),
        ("timeout", "deny", "timeout"),
    ] {
        let name = format!("user-{answer}");
        script(&emu, &name, answer).await;
        let pre = send(
            &emu,
            auth("POST", "/auth/v2/preauth", json!({"username": name})),
        )
        .await;
        assert_eq!(pre.body["response"]["result"], "auth", "{answer}");
        assert!(
            !pre.body["response"]["devices"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        let started = tokio::time::Instant::now();
        let reply = send(
            &emu,
            auth(
                "POST",
                "/auth/v2/auth",
                json!({"username": name, "factor": "push", "device": "auto"}),
            ),
        )
        .await;
        assert_eq!(reply.body["response"]["result"], result, "{answer}");
        assert_eq!(reply.body["response"]["status"], status, "{answer}");
        if answer == "timeout" {
            assert!(
                started.elapsed() >= Duration::from_secs(60),
                "a timeout waits for the push timeout"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn async_pushes_wait_until_decided_and_long_poll() {
    let emu = emulator("");
    script(&emu, "slow", "timeout").await;
    let started = send(&emu, auth("POST", "/auth/v2/auth", json!({"username": "slow", "factor": "push", "device": "auto", "async": "1", "pushinfo": "from=login%20portal"}))).await;
    let txid = started.body["response"]["txid"]
        .as_str()
        .unwrap()
        .to_string();
    let first = send(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(
        first.body["response"],
        json!({"result": "waiting", "status": "pushed", "status_msg": "Pushed a login request to your device..."})
    );
    tokio::time::advance(Duration::from_secs(61)).await;
    let last = send(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(last.body["response"]["status"], "timeout");
    let txs = send(&emu, control("GET", "/_emulator/transactions", Value::Null)).await;
    assert_eq!(txs.body[0]["pushinfo"], "from=login%20portal");
    let unknown = send(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": "nope"})),
    )
    .await;
    assert_eq!(unknown.body["message_detail"], "txid");
}

#[tokio::test]
async fn preauth_reflects_bypass_enrollment_lockout_and_unknown_users() {
    let emu = emulator("");
    for (answer, result) in [
        ("bypass", "allow"),
        ("not_enrolled", "enroll"),
        ("locked_out", "deny"),
    ] {
        script(&emu, answer, answer).await;
        let reply = send(
            &emu,
            auth("POST", "/auth/v2/preauth", json!({"username": answer})),
        )
        .await;
        assert_eq!(reply.body["response"]["result"], result, "{answer}");
    }
    let unknown = send(
        &emu,
        auth("POST", "/auth/v2/preauth", json!({"username": "ghost"})),
    )
    .await;
    assert_eq!(unknown.body["response"]["result"], "enroll");
    assert!(unknown.body["response"]["enroll_portal_url"].is_string());
    let both = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/preauth",
            json!({"username": "x", "user_id": "y"}),
        ),
    )
    .await;
    assert_eq!(both.body["code"], 40002);
}

#[tokio::test]
async fn passcodes_sms_and_missing_devices() {
    let emu = emulator("");
    script(&emu, "pat", "approve").await;
    let good = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "pat", "factor": "passcode", "passcode": "123456"}),
        ),
    )
    .await;
    assert_eq!(good.body["response"]["result"], "allow");
    let bad = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "pat", "factor": "passcode", "passcode": "000000"}),
        ),
    )
    .await;
    assert_eq!(
        bad.body["response"]["status_msg"],
        "Incorrect passcode. Please try again."
    );
    let sms = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "pat", "factor": "sms", "device": "auto"}),
        ),
    )
    .await;
    assert_eq!(sms.body["response"]["status"], "sent");
    let no_device = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "pat", "factor": "push"}),
        ),
    )
    .await;
    assert_eq!(no_device.body["message_detail"], "device");
    send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "nophone", "phones": 0}),
        ),
    )
    .await;
    let incapable = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "nophone", "factor": "push", "device": "auto"}),
        ),
    )
    .await;
    assert_eq!(incapable.body["message_detail"], "no capable device");
}

#[tokio::test]
async fn ping_is_unsigned_and_logo_is_a_png() {
    let emu = emulator("");
    let ping = axum::http::Request::builder()
        .uri("/auth/v2/ping")
        .body(axum::body::Body::empty())
        .unwrap();
    let reply = send(&emu, ping).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body["response"]["time"].is_i64());
    let logo = send(&emu, auth("GET", "/auth/v2/logo", json!({}))).await;
    assert_eq!(logo.content_type, "image/png");
}

#[tokio::test]
async fn enrollment_waits_until_activated() {
    let emu = emulator("");
    let enrolled = send(
        &emu,
        auth("POST", "/auth/v2/enroll", json!({"username": "newbie"})),
    )
    .await
    .body["response"]
        .clone();
    let (user_id, code) = (
        enrolled["user_id"].as_str().unwrap(),
        enrolled["activation_code"].as_str().unwrap(),
    );
    assert!(code.starts_with("duo://"));
    let status = |code: &str| {
        auth(
            "POST",
            "/auth/v2/enroll_status",
            json!({"user_id": user_id, "activation_code": code}),
        )
    };
    assert_eq!(send(&emu, status(code)).await.body["response"], "waiting");
    assert_eq!(
        send(&emu, status("duo://wrong")).await.body["response"],
        "invalid"
    );
    send(
        &emu,
        control(
            "POST",
            "/_emulator/enrollments/activate",
            json!({"user_id": user_id}),
        ),
    )
    .await;
    assert_eq!(send(&emu, status(code)).await.body["response"], "success");
}
