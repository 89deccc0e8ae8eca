//! The logs: Auth API decisions and Admin API changes are recorded with Duo's fields, the last
//! two minutes are held back, and the v2 logs page with `next_offset`.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use serde_json::{Value, json};

use duo_emulator::{Emulator, EmulatorConfig};
use duo_proto::SigVersion;

use crate::support::{self, config, send, signed_with};

/// An emulator whose clock the test moves (milliseconds since the epoch).
struct Clocked {
    emulator: Emulator,
    now_ms: Arc<AtomicI64>,
}

impl Clocked {
    fn start(seed: &str) -> Self {
        let now_ms = Arc::new(AtomicI64::new(support::now().as_millisecond()));
        let reading = now_ms.clone();
        let emulator = Emulator::new(EmulatorConfig {
            clock: Arc::new(move || {
                Timestamp::from_millisecond(reading.load(Ordering::SeqCst)).unwrap()
            }),
            answer_delay: std::time::Duration::ZERO,
            ..config(seed)
        })
        .unwrap();
        Self { emulator, now_ms }
    }

    fn now(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }

    fn advance_secs(&self, secs: i64) {
        self.now_ms.fetch_add(secs * 1000, Ordering::SeqCst);
    }

    fn date(&self) -> String {
        duo_proto::date::format_date(Timestamp::from_millisecond(self.now()).unwrap())
    }

    async fn call(&self, api: &str, method: &str, path: &str, params: Value) -> support::Reply {
        let k = support::keys();
        let (version, ikey, skey) = match api {
            "auth" => (SigVersion::V2, k.auth_ikey, k.auth_skey),
            _ => (SigVersion::V5, k.admin_ikey, k.admin_skey),
        };
        let request = signed_with(version, method, path, params, &ikey, &skey, &self.date());
        send(&self.emulator, request).await
    }

    async fn ok(&self, api: &str, method: &str, path: &str, params: Value) -> Value {
        let reply = self.call(api, method, path, params).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
        reply.body["response"].clone()
    }

    async fn auth_log(&self, params: Value) -> Value {
        let mut params = params;
        if params.get("mintime").is_none() {
            params["mintime"] = json!((self.now() - 3_600_000).to_string());
        }
        if params.get("maxtime").is_none() {
            params["maxtime"] = json!(self.now().to_string());
        }
        self.ok("admin", "GET", "/admin/v2/logs/authentication", params)
            .await
    }
}

async fn first_username(c: &Clocked) -> String {
    c.ok("admin", "GET", "/admin/v1/users", json!({})).await[0]["username"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn auth_decisions_appear_in_the_authentication_log_after_two_minutes() {
    let c = Clocked::start("users=2,phones=2");
    let username = first_username(&c).await;
    let started = c.now();
    let decision = c
        .ok(
            "auth",
            "POST",
            "/auth/v2/auth",
            json!({"username": username, "factor": "push", "device": "auto", "ipaddr": "192.0.2.7"}),
        )
        .await;
    assert_eq!(decision["result"], "allow");
    let held = c.auth_log(json!({})).await;
    assert_eq!(
        held["authlogs"],
        json!([]),
        "the last two minutes are held back"
    );
    assert_eq!(held["metadata"]["total_objects"], 0);

    c.advance_secs(119);
    assert_eq!(c.auth_log(json!({})).await["authlogs"], json!([]));
    c.advance_secs(2);
    let shown = c.auth_log(json!({})).await;
    let entry = &shown["authlogs"][0];
    assert_eq!(entry["user"]["name"], username.as_str());
    assert!(entry["user"]["key"].as_str().unwrap().starts_with("DU"));
    assert_eq!(entry["factor"], "duo_push");
    assert_eq!(entry["result"], "success");
    assert_eq!(entry["reason"], "user_approved");
    assert_eq!(entry["event_type"], "authentication");
    assert_eq!(entry["access_device"]["ip"], "192.0.2.7");
    assert_eq!(entry["application"]["key"], support::keys().auth_ikey);
    assert_eq!(entry["timestamp"], started / 1000);
    assert!(entry["txid"].as_str().unwrap().len() >= 32);
    assert!(entry["isotimestamp"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(
        shown["metadata"],
        json!({"next_offset": null, "total_objects": 1})
    );
}

#[tokio::test]
async fn preauth_decisions_passcodes_and_denials_are_logged_with_duo_reasons() {
    let c = Clocked::start("users=3,phones=3");
    let users = c.ok("admin", "GET", "/admin/v1/users", json!({})).await;
    let (a, b) = (
        users[0]["username"].as_str().unwrap(),
        users[1]["user_id"].as_str().unwrap(),
    );
    c.ok(
        "admin",
        "POST",
        &format!("/admin/v1/users/{b}"),
        json!({"status": "bypass"}),
    )
    .await;
    let bypassed = c
        .ok("auth", "POST", "/auth/v2/preauth", json!({"user_id": b}))
        .await;
    assert_eq!(bypassed["result"], "allow");
    c.ok(
        "auth",
        "POST",
        "/auth/v2/preauth",
        json!({"username": "stranger"}),
    )
    .await;
    c.ok(
        "auth",
        "POST",
        "/auth/v2/auth",
        json!({"username": a, "factor": "passcode", "passcode": "000000"}),
    )
    .await;
    // A preauth that asks for a second factor decides nothing: not logged.
    c.ok("auth", "POST", "/auth/v2/preauth", json!({"username": a}))
        .await;
    c.advance_secs(121);
    let log = c.auth_log(json!({"sort": "ts:asc"})).await["authlogs"].clone();
    let seen: Vec<(Value, Value, Value)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"]["name"].clone(),
                e["result"].clone(),
                e["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                users[1]["username"].clone(),
                json!("success"),
                json!("bypass_user")
            ),
            (
                json!("stranger"),
                json!("denied"),
                json!("deny_unenrolled_user")
            ),
            (json!(a), json!("denied"), json!("invalid_passcode")),
        ]
    );
    let denied = c.auth_log(json!({"results": "denied"})).await;
    assert_eq!(denied["metadata"]["total_objects"], 2);
    let one_user = c.auth_log(json!({"users": b})).await;
    assert_eq!(one_user["authlogs"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_authentication_log_pages_with_next_offset_in_both_orders() {
    let c = Clocked::start("users=1,phones=1");
    let username = first_username(&c).await;
    for _ in 0..5 {
        c.ok(
            "auth",
            "POST",
            "/auth/v2/auth",
            json!({"username": username, "factor": "push", "device": "auto"}),
        )
        .await;
        c.advance_secs(1);
    }
    c.advance_secs(120);
    for sort in ["ts:asc", "ts:desc"] {
        let mut seen = Vec::new();
        let mut params = json!({"limit": "2", "sort": sort});
        loop {
            let page = c.auth_log(params.clone()).await;
            assert_eq!(page["metadata"]["total_objects"], 5);
            seen.extend(
                page["authlogs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["timestamp"].as_i64().unwrap()),
            );
            match &page["metadata"]["next_offset"] {
                Value::Null => break,
                next => {
                    assert_eq!(next.as_array().unwrap().len(), 2, "[ts, txid]");
                    params["next_offset"] = next.clone();
                }
            }
        }
        assert_eq!(seen.len(), 5, "{sort}");
        let mut sorted = seen.clone();
        sorted.sort();
        if sort == "ts:desc" {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "{sort}");
    }
}

#[tokio::test]
async fn log_parameters_are_validated_like_duo() {
    let c = Clocked::start("users=1");
    let now = c.now();
    for (params, detail) in [
        (json!({"maxtime": now.to_string()}), "mintime"),
        (json!({"mintime": (now - 1000).to_string()}), "maxtime"),
        (
            json!({"mintime": now.to_string(), "maxtime": (now - 1).to_string()}),
            "maxtime",
        ),
        (
            json!({"mintime": (now - 181 * 86_400_000i64).to_string(), "maxtime": now.to_string()}),
            "mintime must be within the past 180 days",
        ),
        (
            json!({"mintime": (now - 1000).to_string(), "maxtime": now.to_string(), "limit": "1001"}),
            "limit",
        ),
        (
            json!({"mintime": (now - 1000).to_string(), "maxtime": now.to_string(), "sort": "up"}),
            "sort",
        ),
        (
            json!({"mintime": (now - 1000).to_string(), "maxtime": now.to_string(), "next_offset": "x"}),
            "next_offset",
        ),
    ] {
        for path in [
            "/admin/v2/logs/authentication",
            "/admin/v2/logs/telephony",
            "/admin/v2/logs/activity",
        ] {
            let reply = c.call("admin", "GET", path, params.clone()).await;
            assert_eq!(
                (
                    reply.status,
                    reply.body["code"].clone(),
                    reply.body["message_detail"].clone()
                ),
                (400, json!(40002), json!(detail)),
                "{path} {params}"
            );
        }
    }
    let bad = c
        .call(
            "admin",
            "GET",
            "/admin/v1/logs/administrator",
            json!({"mintime": "soon"}),
        )
        .await;
    assert_eq!(bad.body["message_detail"], "mintime");
    let wrong_keys = c
        .call("auth", "GET", "/admin/v1/logs/administrator", json!({}))
        .await;
    assert_eq!(wrong_keys.status, 403);
}

#[tokio::test]
async fn admin_api_changes_fill_the_administrator_and_activity_logs() {
    let c = Clocked::start("users=1,admins=1");
    let start_secs = c.now() / 1000;
    let created = c
        .ok(
            "admin",
            "POST",
            "/admin/v1/users",
            json!({"username": "logged", "realname": "L"}),
        )
        .await;
    let id = created["user_id"].as_str().unwrap();
    c.ok(
        "admin",
        "POST",
        &format!("/admin/v1/users/{id}"),
        json!({"notes": "hi"}),
    )
    .await;
    c.ok(
        "admin",
        "POST",
        &format!("/admin/v1/users/{id}/bypass_codes"),
        json!({"codes": "98765432"}),
    )
    .await;
    // Refused changes and reads are not logged.
    c.call(
        "admin",
        "POST",
        &format!("/admin/v1/users/{id}"),
        json!({"status": "nope"}),
    )
    .await;
    c.ok("admin", "GET", "/admin/v1/users", json!({})).await;
    c.ok(
        "admin",
        "DELETE",
        &format!("/admin/v1/users/{id}"),
        json!({}),
    )
    .await;
    let held = c
        .ok(
            "admin",
            "GET",
            "/admin/v1/logs/administrator",
            json!({"mintime": "0"}),
        )
        .await;
    assert_eq!(held, json!([]));
    c.advance_secs(121);
    let log = c
        .ok(
            "admin",
            "GET",
            "/admin/v1/logs/administrator",
            json!({"mintime": start_secs.to_string()}),
        )
        .await;
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["user_create", "user_update", "bypass_create", "user_delete"]
    );
    assert_eq!(log[0]["object"], "logged");
    assert_eq!(log[0]["username"], "API");
    assert_eq!(log[0]["timestamp"], start_secs);
    let description: Value = serde_json::from_str(log[1]["description"].as_str().unwrap()).unwrap();
    assert_eq!(description, json!({"notes": "hi"}));
    assert!(
        !log.to_string().contains("98765432"),
        "codes are never logged"
    );
    let later = c
        .ok(
            "admin",
            "GET",
            "/admin/v1/logs/administrator",
            json!({"mintime": (start_secs + 1).to_string()}),
        )
        .await;
    assert_eq!(later, json!([]));
    let activity = c
        .ok(
            "admin",
            "GET",
            "/admin/v2/logs/activity",
            json!({"mintime": ((start_secs - 10) * 1000).to_string(), "maxtime": c.now().to_string()}),
        )
        .await;
    assert_eq!(activity["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        activity["metadata"]["total_objects"],
        json!({"relation": "eq", "value": 4})
    );
}

#[tokio::test]
async fn phone_calls_and_sms_are_telephony_entries() {
    let c = Clocked::start("users=1,phones=1");
    let username = first_username(&c).await;
    for factor in ["phone", "sms"] {
        c.ok(
            "auth",
            "POST",
            "/auth/v2/auth",
            json!({"username": username, "factor": factor, "device": "auto"}),
        )
        .await;
    }
    c.advance_secs(121);
    let log = c
        .ok(
            "admin",
            "GET",
            "/admin/v2/logs/telephony",
            json!({"mintime": (c.now() - 600_000).to_string(), "maxtime": c.now().to_string(), "sort": "ts:asc", "limit": "1"}),
        )
        .await;
    assert_eq!(log["items"][0]["type"], "phone");
    assert_eq!(log["items"][0]["phone"], "+15550000001");
    assert_eq!(log["items"][0]["context"], "authentication");
    let next = log["metadata"]["next_offset"].as_str().unwrap().to_string();
    let rest = c
        .ok(
            "admin",
            "GET",
            "/admin/v2/logs/telephony",
            json!({"mintime": (c.now() - 600_000).to_string(), "maxtime": c.now().to_string(), "sort": "ts:asc", "next_offset": next}),
        )
        .await;
    assert_eq!(rest["items"][0]["type"], "sms");
    assert_eq!(rest["metadata"]["next_offset"], Value::Null);
    let auth = c.auth_log(json!({})).await;
    assert_eq!(
        auth["authlogs"][0]["factor"], "phone_call",
        "SMS sending is not a decision"
    );
    assert_eq!(auth["metadata"]["total_objects"], 1);
}
