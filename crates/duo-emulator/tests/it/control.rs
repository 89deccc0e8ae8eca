//! The control API: faults (one over a real socket), key rotation, state, loopback-only.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use serde_json::{Value, json};

use duo_emulator::Emulator;
use duo_proto::SigVersion;

use crate::support::{admin, auth, config, control, date, emulator, keys, send, signed_with};

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
        .json(&json!({"kind": "down", "paths": ["/auth/v2/ping"]}))
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
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
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
    let scripted = again["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "scripted")
        .unwrap();
    assert_eq!(scripted["answer"], "deny");
    std::fs::write(&file, "{\"users\": 5}").unwrap();
    let mut broken = config("");
    broken.state_file = Some(file);
    assert!(
        Emulator::new(broken)
            .unwrap_err()
            .to_string()
            .contains("state file")
    );
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
}
