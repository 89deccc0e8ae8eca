//! The control API: faults (one over a real socket), key rotation, state, loopback-only.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use serde_json::{Value, json};

use duo_emulator::Emulator;
use duo_proto::SigVersion;

use crate::support::{
    admin, auth, config, control, date, emulator, keys, ok, ok_control, send, signed_with,
};

async fn fault(emu: &Emulator, spec: Value) {
    let reply = send(emu, control("POST", "/_emulator/faults", spec.clone())).await;
    assert_eq!(reply.status, 201, "{spec}: {:?}", reply.body);
}

#[tokio::test]
async fn status_rate_limit_malformed_and_bad_stat_faults_answer_as_documented() {
    let emu = emulator("users=1");
    fault(
        &emu,
        json!({"kind": "status", "status": 503, "paths": ["/auth/v2/preauth"], "count": 1}),
    )
    .await;
    let reply = send(
        &emu,
        auth("POST", "/auth/v2/preauth", json!({"username": "a"})),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body["code"].clone()),
        (503, json!(50301))
    );
    let after = send(
        &emu,
        auth("POST", "/auth/v2/preauth", json!({"username": "a"})),
    )
    .await;
    assert_eq!(after.status, 200, "count=1 applies once");

    fault(
        &emu,
        json!({"kind": "rate_limit", "every": 1, "paths": ["/admin/"]}),
    )
    .await;
    let limited = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(
        limited.body,
        json!({"code": 42901, "message": "Too Many Requests", "stat": "FAIL"})
    );
    assert_eq!(limited.status, 429);
    assert_eq!(
        send(&emu, control("DELETE", "/_emulator/faults", Value::Null))
            .await
            .status,
        204
    );

    fault(&emu, json!({"kind": "malformed"})).await;
    let malformed = send(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(malformed.status, 200);
    assert!(malformed.body.is_string(), "not JSON");
    send(&emu, control("DELETE", "/_emulator/faults", Value::Null)).await;
    fault(&emu, json!({"kind": "bad_stat"})).await;
    let bad = send(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(bad.body["stat"], "MAINTENANCE");

    let invalid = send(
        &emu,
        control("POST", "/_emulator/faults", json!({"kind": "status"})),
    )
    .await;
    assert_eq!(invalid.status, 400);
    let unknown = send(
        &emu,
        control("POST", "/_emulator/faults", json!({"kind": "gremlins"})),
    )
    .await;
    assert_eq!(unknown.status, 400);

    let log = send(&emu, control("GET", "/_emulator/requests", Value::Null))
        .await
        .body;
    let outcomes: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"fault:status") && outcomes.contains(&"fault:rate_limit"));
}

#[tokio::test(start_paused = true)]
async fn delay_faults_hold_the_answer() {
    let emu = emulator("users=1");
    fault(&emu, json!({"kind": "delay", "ms": 1500})).await;
    let started = tokio::time::Instant::now();
    let reply = send(&emu, auth("GET", "/auth/v2/check", json!({}))).await;
    assert_eq!(reply.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
}

#[tokio::test]
async fn down_closes_the_connection_without_an_answer() {
    let emu = emulator("users=1");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(emu.clone().serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let url = format!("http://{addr}");
    let added = http
        .post(format!("{url}/_emulator/faults"))
        .json(&json!({"kind": "down", "paths": ["/auth/v2/ping"], "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let error = http
        .get(format!("{url}/auth/v2/ping"))
        .send()
        .await
        .unwrap_err();
    assert!(!error.is_status(), "no HTTP answer at all: {error}");
    // The control API still answers, and the log shows the dropped request.
    let log: Value = http
        .get(format!("{url}/_emulator/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["outcome"], "fault:down");
    // count=1: the next request is answered again.
    let again = http
        .get(format!("{url}/auth/v2/ping"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    // In-process there is no connection to drop: the router answers 503.
    fault(&emu, json!({"kind": "down"})).await;
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/check", json!({})))
            .await
            .status,
        503
    );
}

#[tokio::test]
async fn rotated_keys_refuse_the_old_secret() {
    let emu = emulator("users=1");
    let old = keys();
    let rotated = send(&emu, control("POST", "/_emulator/keys/rotate", Value::Null))
        .await
        .body;
    assert_eq!(rotated["admin_ikey"], old.admin_ikey.as_str());
    let new_skey = rotated["admin_skey"].as_str().unwrap();
    assert_ne!(new_skey, old.admin_skey);
    let with_old = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &old.admin_ikey,
        &old.admin_skey,
        &date(),
    );
    assert_eq!(send(&emu, with_old).await.body["code"], 40103);
    let with_new = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/users",
        json!({}),
        &old.admin_ikey,
        new_skey,
        &date(),
    );
    assert_eq!(send(&emu, with_new).await.status, 200);
    assert_eq!(emu.keys().admin_skey, new_skey);
}

#[tokio::test]
async fn state_dumps_load_back_as_a_state_file() {
    let emu = emulator("users=4,phones=5,admins=2,bypass_codes=3");
    send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "scripted", "answer": "deny", "passcodes": ["999"]}),
        ),
    )
    .await;
    let state = send(&emu, control("GET", "/_emulator/state", Value::Null))
        .await
        .body;
    let dir = std::env::temp_dir().join(format!("duo-emulator-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    std::fs::write(&file, state.to_string()).unwrap();
    let mut cfg = config("");
    cfg.state_file = Some(file.clone());
    let loaded = Emulator::new(cfg).unwrap();
    let again = send(&loaded, control("GET", "/_emulator/state", Value::Null))
        .await
        .body;
    assert_eq!(again, state);
    assert_eq!(again["users"].as_array().unwrap().len(), 5);
    assert_eq!(
        again["scripts"],
        json!({"scripted": {"answer": "deny", "passcodes": ["999"]}}),
        "only non-default scripts are listed"
    );
    // The loaded emulator answers the Admin API with the same users, phones included.
    assert_eq!(
        send(&loaded, admin("GET", "/admin/v1/users", json!({})))
            .await
            .body,
        send(&emu, admin("GET", "/admin/v1/users", json!({})))
            .await
            .body
    );
    // ... and the scripted user still denies.
    let denied = send(
        &loaded,
        auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": "scripted", "factor": "push", "device": "auto"}),
        ),
    )
    .await;
    assert_eq!(denied.body["response"]["result"], "deny");
    for (text, mentions) in [
        ("{\"users\": 5}", "state file"),
        (
            "{\"scripts\": {\"ghost\": {\"answer\": \"deny\"}}}",
            "ghost",
        ),
        (
            "{\"bypass_codes\": [{\"bypass_code_id\": \"DB1\"}]}",
            "bypass_codes[0]",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let mut broken = config("");
        broken.state_file = Some(file.clone());
        let message = Emulator::new(broken).unwrap_err().to_string();
        assert!(message.contains(mentions), "{text}: {message}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn seeding_is_deterministic() {
    let a = send(
        &emulator("users=3,phones=2"),
        admin("GET", "/admin/v1/users", json!({})),
    )
    .await
    .body;
    let b = send(
        &emulator("users=3,phones=2"),
        admin("GET", "/admin/v1/users", json!({})),
    )
    .await
    .body;
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_control_api_refuses_remote_peers() {
    let emu = emulator("");
    let mut request = control("GET", "/_emulator/requests", Value::Null);
    request
        .extensions_mut()
        .insert(ConnectInfo::<SocketAddr>("10.1.2.3:5000".parse().unwrap()));
    assert_eq!(send(&emu, request).await.status, 403);
    let mut local = control("GET", "/_emulator/requests", Value::Null);
    local
        .extensions_mut()
        .insert(ConnectInfo::<SocketAddr>("127.0.0.1:5000".parse().unwrap()));
    assert_eq!(send(&emu, local).await.status, 200);
}

#[tokio::test]
async fn bad_control_input_is_refused_clearly() {
    let emu = emulator("");
    let reply = send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "x", "answer": "maybe"}),
        ),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body["error"].as_str().unwrap().contains("answer"));
    let missing = send(&emu, control("POST", "/_emulator/users", json!({}))).await;
    assert_eq!(missing.status, 400);
    for (path, body, mentions) in [
        (
            "/_emulator/users",
            json!({"username": "x", "status": "asleep"}),
            "status",
        ),
        (
            "/_emulator/users",
            json!({"username": "x", "colour": "red"}),
            "colour",
        ),
        ("/_emulator/admins", json!({"role": "Overlord"}), "role"),
        ("/_emulator/faults", json!({"kind": "delay"}), "ms"),
    ] {
        let reply = send(&emu, control("POST", path, body.clone())).await;
        assert_eq!(reply.status, 400, "{body}");
        let message = reply.body["error"].as_str().unwrap();
        assert!(message.contains(mentions), "{body}: {message}");
    }
    assert_eq!(
        ok_control(&emu, "GET", "/_emulator/state").await["users"],
        json!([]),
        "refused input changes nothing"
    );
}

#[tokio::test]
async fn faults_are_listed_scoped_by_path_and_never_touch_the_control_api() {
    let emu = emulator("users=1");
    fault(
        &emu,
        json!({"kind": "status", "status": 500, "paths": ["/admin/"]}),
    )
    .await;
    fault(
        &emu,
        json!({"kind": "bad_stat", "paths": ["/auth/v2/preauth"]}),
    )
    .await;
    assert_eq!(
        send(&emu, admin("GET", "/admin/v1/users", json!({})))
            .await
            .status,
        500
    );
    assert_eq!(
        send(&emu, auth("GET", "/auth/v2/check", json!({})))
            .await
            .status,
        200
    );
    let listed = ok_control(&emu, "GET", "/_emulator/faults").await;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["kind"], "status");
    assert_eq!(listed[0]["applied"], 1);
    assert_eq!(listed[1]["applied"], 0);
    // A fault for every path still leaves /_emulator/ alone.
    fault(&emu, json!({"kind": "malformed"})).await;
    assert_eq!(
        ok_control(&emu, "GET", "/_emulator/faults")
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    ok_control(&emu, "DELETE", "/_emulator/faults").await;
    assert_eq!(
        ok_control(&emu, "GET", "/_emulator/faults").await,
        json!([])
    );
    assert_eq!(
        send(&emu, admin("GET", "/admin/v1/users", json!({})))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn rate_limits_hit_every_nth_request_and_count_bounds_them() {
    let emu = emulator("users=1");
    fault(&emu, json!({"kind": "rate_limit", "every": 2, "count": 2})).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            send(&emu, auth("GET", "/auth/v2/check", json!({})))
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 429, 200, 429, 200, 200]);
}

#[tokio::test]
async fn the_request_log_is_kept_and_cleared() {
    let emu = emulator("users=1");
    send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    send(&emu, admin("GET", "/admin/v1/nowhere", json!({}))).await;
    let log = ok_control(&emu, "GET", "/_emulator/requests").await;
    assert_eq!(log.as_array().unwrap().len(), 2);
    assert_eq!(log[1]["status"], 404);
    assert_eq!(log[1]["outcome"], "fail:40401");
    ok_control(&emu, "DELETE", "/_emulator/requests").await;
    assert_eq!(
        ok_control(&emu, "GET", "/_emulator/requests").await,
        json!([])
    );
}

#[tokio::test]
async fn control_objects_appear_in_the_admin_api() {
    let emu = emulator("");
    let user = send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "carol", "phones": 2}),
        ),
    )
    .await;
    assert_eq!(user.status, 200, "{:?}", user.body);
    assert_eq!(user.body["answer"], "approve");
    assert_eq!(user.body["phones"].as_array().unwrap().len(), 2);
    let user_id = user.body["user_id"].as_str().unwrap();
    let phone = send(
        &emu,
        control(
            "POST",
            "/_emulator/phones",
            json!({"number": "+15551234567", "user_id": user_id}),
        ),
    )
    .await;
    assert_eq!(phone.status, 200, "{:?}", phone.body);
    assert!(phone.body["phone_id"].as_str().unwrap().starts_with("DP"));
    let admin_made = send(
        &emu,
        control(
            "POST",
            "/_emulator/admins",
            json!({"name": "Ada", "role": "Owner"}),
        ),
    )
    .await;
    assert_eq!(admin_made.status, 200);
    let code = send(
        &emu,
        control(
            "POST",
            "/_emulator/bypass_codes",
            json!({"username": "carol", "reuse_count": 2}),
        ),
    )
    .await;
    assert_eq!(code.status, 200, "{:?}", code.body);

    let phones = ok(
        &emu,
        admin(
            "GET",
            &format!("/admin/v1/users/{user_id}/phones"),
            json!({}),
        ),
    )
    .await;
    assert_eq!(phones.as_array().unwrap().len(), 3);
    assert_eq!(phones[2]["number"], "+15551234567");
    let admins = ok(&emu, admin("GET", "/admin/v1/admins", json!({}))).await;
    assert_eq!(admins[0]["name"], "Ada");
    let codes = ok(&emu, admin("GET", "/admin/v1/bypass_codes", json!({}))).await;
    assert_eq!(codes[0]["user"]["username"], "carol");
    assert_eq!(codes[0]["reuse_count"], 2);

    // Replacing the user keeps its id; "phones" replaces its phones.
    let replaced = send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "carol", "answer": "fraud", "phones": 1}),
        ),
    )
    .await;
    assert_eq!(replaced.body["user_id"], user_id);
    assert_eq!(replaced.body["answer"], "fraud");
    assert_eq!(replaced.body["phones"].as_array().unwrap().len(), 1);

    let no_user = send(
        &emu,
        control(
            "POST",
            "/_emulator/bypass_codes",
            json!({"username": "nobody"}),
        ),
    )
    .await;
    assert_eq!(no_user.status, 404);
}

#[tokio::test]
async fn reset_empties_everything() {
    let emu = emulator("users=3,phones=3,admins=1,bypass_codes=1");
    fault(&emu, json!({"kind": "delay", "ms": 1})).await;
    send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(
        send(&emu, control("POST", "/_emulator/reset", Value::Null))
            .await
            .status,
        204
    );
    let state = ok_control(&emu, "GET", "/_emulator/state").await;
    assert_eq!(
        state,
        json!({"users": [], "phones": [], "admins": [], "bypass_codes": [], "scripts": {}})
    );
    assert_eq!(
        ok_control(&emu, "GET", "/_emulator/faults").await,
        json!([])
    );
    assert_eq!(
        ok_control(&emu, "GET", "/_emulator/requests").await,
        json!([])
    );
}

#[tokio::test]
async fn rotation_answers_the_print_keys_shape_with_the_public_url() {
    let emu = emulator("");
    emu.set_public_url("http://emulator.test:8443");
    let rotated = ok_control(&emu, "POST", "/_emulator/keys/rotate").await;
    let keys = emu.keys();
    assert_eq!(
        rotated,
        duo_emulator::keys_json("http://emulator.test:8443", &keys)
    );
    assert_eq!(
        rotated.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "admin_ikey",
            "admin_skey",
            "auth_ikey",
            "auth_skey",
            "oidc_client_id",
            "oidc_client_secret",
            "url"
        ]
    );
    assert_ne!(
        keys.oidc_client_secret,
        crate::support::keys().oidc_client_secret
    );
    assert_eq!(keys.oidc_client_id, crate::support::keys().oidc_client_id);
    assert_eq!(keys.auth_skey.len(), 40);
    assert!(keys.auth_skey.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(keys.auth_skey, crate::support::keys().auth_skey);
}

#[tokio::test]
async fn generated_keys_look_like_duos_and_sign_requests() {
    let emu = Emulator::new(duo_emulator::EmulatorConfig {
        clock: std::sync::Arc::new(crate::support::now),
        ..duo_emulator::EmulatorConfig::default()
    })
    .unwrap();
    let keys = emu.keys();
    for ikey in [&keys.admin_ikey, &keys.auth_ikey] {
        assert!(ikey.starts_with("DI") && ikey.len() == 20, "{ikey}");
        assert!(
            ikey.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
    }
    for skey in [&keys.admin_skey, &keys.auth_skey] {
        assert_eq!(skey.len(), 40);
        assert!(skey.chars().all(|c| c.is_ascii_alphanumeric()));
    }
    assert!(!format!("{keys:?}").contains(&keys.admin_skey));
    let request = signed_with(
        SigVersion::V5,
        "GET",
        "/admin/v1/admins",
        json!({}),
        &keys.admin_ikey,
        &keys.admin_skey,
        &date(),
    );
    assert_eq!(send(&emu, request).await.status, 200);
}

#[tokio::test]
async fn seeded_objects_have_duo_shaped_ids_and_realistic_fields() {
    let emu = emulator("users=20,phones=30,admins=5,bypass_codes=4");
    let state = ok_control(&emu, "GET", "/_emulator/state").await;
    let id_ok = |id: &Value, prefix: &str| {
        let id = id.as_str().unwrap();
        id.len() == 20
            && id.starts_with(prefix)
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    let users = state["users"].as_array().unwrap();
    assert_eq!(users.len(), 20);
    for user in users {
        assert!(id_ok(&user["user_id"], "DU"), "{user}");
        let name = user["username"].as_str().unwrap();
        assert_eq!(user["email"], format!("{name}@example.com"));
        assert!(user["realname"].as_str().unwrap().contains(' '));
    }
    assert_eq!(
        users[0]["phones"].as_array().unwrap().len(),
        2,
        "30 phones over 20 users"
    );
    assert_eq!(users[19]["phones"].as_array().unwrap().len(), 1);
    for phone in state["phones"].as_array().unwrap() {
        assert!(id_ok(&phone["phone_id"], "DP"));
        assert!(phone["number"].as_str().unwrap().starts_with("+1555"));
    }
    let admins = state["admins"].as_array().unwrap();
    assert!(admins.iter().all(|a| id_ok(&a["admin_id"], "DE")));
    assert!(admins.iter().any(|a| a["role"] == "Owner"));
    assert!(
        admins
            .iter()
            .all(|a| duo_emulator::admin_api::ADMIN_ROLES.contains(&a["role"].as_str().unwrap()))
    );
    let codes = state["bypass_codes"].as_array().unwrap();
    assert!(codes.iter().all(|c| id_ok(&c["bypass_code_id"], "DB")));
    assert!(codes.iter().any(|c| c["expiration"].is_i64()));
    assert!(codes.iter().any(|c| c["reuse_count"].is_i64()));
    let again = ok_control(
        &emulator("users=20,phones=30,admins=5,bypass_codes=4"),
        "GET",
        "/_emulator/state",
    )
    .await;
    assert_eq!(again, state, "seeding is deterministic");
}
