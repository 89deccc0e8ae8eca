//! The Auth API with scripted users, on a paused clock.

use std::time::Duration;

use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::{auth, config, control, emulator, ok, send};

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
    let polled_at = tokio::time::Instant::now();
    let first = send(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(
        polled_at.elapsed(),
        Duration::ZERO,
        "the first poll has news: the push went out"
    );
    let waiting = json!({"result": "waiting", "status": "pushed", "status_msg": "Pushed a login request to your device..."});
    assert_eq!(first.body["response"], waiting);
    let polled_at = tokio::time::Instant::now();
    let second = send(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(
        polled_at.elapsed(),
        Duration::from_secs(5),
        "without news a long poll waits long_poll for a change"
    );
    assert_eq!(second.body["response"], waiting);
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
    assert_eq!(
        reply.body["response"],
        json!({"time": crate::support::now().as_second()})
    );
    let check = ok(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(check, json!({"time": crate::support::now().as_second()}));
    let logo = emu
        .router()
        .oneshot(auth("GET", "/auth/v2/logo", json!({})))
        .await
        .unwrap();
    assert_eq!(logo.headers()["content-type"], "image/png");
    let bytes = axum::body::to_bytes(logo.into_body(), 1 << 20)
        .await
        .unwrap();
    assert_eq!(&bytes[..], duo_emulator::auth_api::LOGO_PNG);
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
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
    assert_eq!(
        enrolled["expiration"],
        crate::support::now().as_second() + 86_400,
        "valid_secs defaults to a day"
    );
    assert_eq!(enrolled["username"], "newbie");
    assert!(enrolled["user_id"].as_str().unwrap().starts_with("DU"));
    for bad in ["0", "-5", "soon", "9223372036854775807"] {
        let reply = send(
            &emu,
            auth("POST", "/auth/v2/enroll", json!({"valid_secs": bad})),
        )
        .await;
        assert_eq!(reply.body["message_detail"], "valid_secs", "{bad}");
    }
    let taken = send(
        &emu,
        auth("POST", "/auth/v2/enroll", json!({"username": "newbie"})),
    )
    .await;
    assert_eq!(taken.status, 400);
    let anonymous = ok(
        &emu,
        auth("POST", "/auth/v2/enroll", json!({"valid_secs": "60"})),
    )
    .await;
    assert!(anonymous["username"].as_str().unwrap().starts_with("user-"));
    assert_eq!(
        anonymous["expiration"],
        crate::support::now().as_second() + 60
    );
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

#[tokio::test(start_paused = true)]
async fn scripted_answers_are_decided_after_the_answer_delay() {
    let mut cfg = config("");
    cfg.answer_delay = Duration::from_secs(3);
    let emu = duo_emulator::Emulator::new(cfg).unwrap();
    for (answer, result, status, msg) in [
        ("approve", "allow", "allow", "Success. Logging you in..."),
        ("deny", "deny", "deny", "Login request denied."),
        (
            "fraud",
            "deny",
            "fraud",
            "Login request reported as fraudulent.",
        ),
    ] {
        script(&emu, answer, answer).await;
        let started = ok(
            &emu,
            auth(
                "POST",
                "/auth/v2/auth",
                json!({"username": answer, "factor": "push", "device": "auto", "async": "1"}),
            ),
        )
        .await;
        let txid = started["txid"].as_str().unwrap().to_string();
        let pending = send(&emu, control("GET", "/_emulator/transactions", Value::Null)).await;
        let mine = pending
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["txid"] == txid.as_str())
            .cloned()
            .unwrap();
        assert_eq!(
            (mine["result"].clone(), mine["status"].clone()),
            (json!("waiting"), json!("pushed"))
        );
        let first = ok(
            &emu,
            auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
        )
        .await;
        assert_eq!(
            first["status"], "pushed",
            "{answer}: the first poll answers at once"
        );
        let polled_at = tokio::time::Instant::now();
        let decided = ok(
            &emu,
            auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
        )
        .await;
        assert_eq!(polled_at.elapsed(), Duration::from_secs(3), "{answer}");
        assert_eq!(
            decided,
            json!({"result": result, "status": status, "status_msg": msg}),
            "{answer}"
        );
        // A synchronous auth waits for the same delay.
        let sync_at = tokio::time::Instant::now();
        let sync = ok(
            &emu,
            auth(
                "POST",
                "/auth/v2/auth",
                json!({"username": answer, "factor": "phone", "device": "auto"}),
            ),
        )
        .await;
        assert_eq!(sync_at.elapsed(), Duration::from_secs(3));
        assert_eq!(sync["status"], status);
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_push_waits_until_the_push_timeout_then_denies() {
    let mut cfg = config("");
    cfg.push_timeout = Duration::from_secs(20);
    cfg.long_poll = Duration::from_secs(15);
    let emu = duo_emulator::Emulator::new(cfg).unwrap();
    script(&emu, "sleepy", "timeout").await;
    let txid = ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "sleepy", "factor": "auto", "device": "auto", "async": true}),
        ),
    )
    .await["txid"]
        .as_str()
        .unwrap()
        .to_string();
    let first = ok(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(first["result"], "waiting");
    assert_eq!(
        first["status_msg"],
        "Pushed a login request to your device..."
    );
    let second = ok(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(second["result"], "waiting", "a long poll of 15 s");
    // 15 s have passed; the decision comes 5 s into the next poll.
    let polled_at = tokio::time::Instant::now();
    let last = ok(
        &emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await;
    assert_eq!(polled_at.elapsed(), Duration::from_secs(5));
    assert_eq!(
        last,
        json!({"result": "deny", "status": "timeout", "status_msg": "Login timed out."})
    );
}

#[tokio::test]
async fn user_status_overrides_the_script() {
    let emu = emulator("");
    for (status, pre_result) in [("disabled", "deny"), ("bypass", "allow")] {
        let reply = send(
            &emu,
            control(
                "POST",
                "/_emulator/users",
                json!({"username": status, "status": status, "answer": "deny"}),
            ),
        )
        .await;
        assert_eq!(reply.status, 200);
        let pre = ok(
            &emu,
            auth("POST", "/auth/v2/preauth", json!({"username": status})),
        )
        .await;
        assert_eq!(pre["result"], pre_result, "{status}");
    }
    let bypassed = ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "bypass", "factor": "push", "device": "auto"}),
        ),
    )
    .await;
    assert_eq!(
        (bypassed["result"].clone(), bypassed["status"].clone()),
        (json!("allow"), json!("bypass"))
    );
    let disabled = ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "disabled", "factor": "push", "device": "auto"}),
        ),
    )
    .await;
    assert_eq!(disabled["result"], "deny");
    script(&emu, "locked", "locked_out").await;
    let locked = ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "locked", "factor": "push", "device": "auto"}),
        ),
    )
    .await;
    assert_eq!(
        (locked["result"].clone(), locked["status"].clone()),
        (json!("deny"), json!("locked_out"))
    );
    let pre_locked = ok(
        &emu,
        auth("POST", "/auth/v2/preauth", json!({"username": "locked"})),
    )
    .await;
    assert!(
        pre_locked["status_msg"]
            .as_str()
            .unwrap()
            .contains("locked out")
    );
    let bypass_script = ok(
        &emu,
        auth("POST", "/auth/v2/preauth", json!({"username": "bypass"})),
    )
    .await;
    assert!(bypass_script.get("devices").is_none());
}

#[tokio::test]
async fn preauth_by_user_id_lists_seeded_devices_with_masked_numbers() {
    let emu = emulator("users=1,phones=1");
    let users = ok(
        &emu,
        crate::support::admin("GET", "/admin/v1/users", json!({})),
    )
    .await;
    let (user_id, phone_id) = (
        users[0]["user_id"].as_str().unwrap(),
        users[0]["phones"][0]["phone_id"].as_str().unwrap(),
    );
    let pre = ok(
        &emu,
        auth("POST", "/auth/v2/preauth", json!({"user_id": user_id})),
    )
    .await;
    assert_eq!(pre["result"], "auth");
    assert_eq!(pre["devices"][0]["device"], phone_id);
    assert_eq!(pre["devices"][0]["type"], "phone");
    assert_eq!(pre["devices"][0]["number"], "XXX-XXX-0001");
    assert!(
        pre["devices"][0]["capabilities"]
            .as_array()
            .unwrap()
            .contains(&json!("push"))
    );
    // Seeded users approve, on that very device.
    let decided = ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"user_id": user_id, "factor": "push", "device": phone_id}),
        ),
    )
    .await;
    assert_eq!(decided["result"], "allow");
    let wrong_device = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"user_id": user_id, "factor": "push", "device": "DPNOTTHEIRS000000000"}),
        ),
    )
    .await;
    assert_eq!(wrong_device.body["message_detail"], "no capable device");
}

#[tokio::test]
async fn bad_auth_parameters_name_the_parameter() {
    let emu = emulator("");
    script(&emu, "pat", "approve").await;
    for (params, detail) in [
        (json!({"username": "pat"}), "factor"),
        (json!({"username": "pat", "factor": "pigeon"}), "factor"),
        (json!({"username": "pat", "factor": "passcode"}), "passcode"),
        (
            json!({"username": "ghost", "factor": "push", "device": "auto"}),
            "username",
        ),
        (
            json!({"user_id": "DUGHOST0000000000000", "factor": "push", "device": "auto"}),
            "user_id",
        ),
    ] {
        let reply = send(&emu, auth("POST", "/auth/v2/auth", params.clone())).await;
        assert_eq!(
            (
                reply.status,
                reply.body["code"].clone(),
                reply.body["message_detail"].clone()
            ),
            (400, json!(40002), json!(detail)),
            "{params}"
        );
    }
    let neither = send(&emu, auth("POST", "/auth/v2/preauth", json!({}))).await;
    assert_eq!(
        (neither.status, neither.body["code"].clone()),
        (400, json!(40002))
    );
    let no_txid = send(&emu, auth("GET", "/auth/v2/auth_status", json!({}))).await;
    assert_eq!(no_txid.body["message_detail"], "txid");
}

#[tokio::test]
async fn transactions_record_what_was_asked() {
    let emu = emulator("");
    script(&emu, "rec", "approve").await;
    ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "rec", "factor": "push", "device": "auto", "type": "Acme", "pushinfo": "a=1&b=2", "ipaddr": "192.0.2.1", "display_username": "Rec"}),
        ),
    )
    .await;
    ok(
        &emu,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "rec", "factor": "passcode", "passcode": "123456"}),
        ),
    )
    .await;
    let txs = send(&emu, control("GET", "/_emulator/transactions", Value::Null))
        .await
        .body;
    let txs = txs.as_array().unwrap();
    assert_eq!(txs.len(), 2);
    let push = &txs[0];
    for (field, value) in [
        ("username", json!("rec")),
        ("factor", json!("push")),
        ("device", json!("auto")),
        ("type", json!("Acme")),
        ("pushinfo", json!("a=1&b=2")),
        ("ipaddr", json!("192.0.2.1")),
        ("display_username", json!("Rec")),
        ("result", json!("allow")),
        ("status", json!("allow")),
        ("created", json!(crate::support::now().as_second())),
    ] {
        assert_eq!(push[field], value, "{field}");
    }
    assert_eq!(txs[1]["factor"], "passcode");
    assert!(
        txs[1].get("passcode").is_none(),
        "passcodes are never recorded"
    );
}
