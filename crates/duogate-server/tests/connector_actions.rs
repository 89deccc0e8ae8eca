//! The connector's user, bypass-code, group, SMS-activation and log (authentication, telephony,
//! activity) actions over HTTP
//! (`/v1/duogate/connections/{name}/actions/{action}`) against the emulator: the same catalogue
//! as the CLI, DELETE calls included, refused inputs sending nothing, codes never audited.

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use duogate_server::{AppState, ServiceSettings, app};

async fn call(state: &AppState, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let method = if body.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("X-Vault-Token", token)
        .header("Content-Type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn user_bypass_code_and_group_actions_run_over_http() {
    let emulator = duo_emulator::Emulator::new(duo_emulator::EmulatorConfig {
        seed: "users=1".parse().unwrap(),
        ..Default::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(emulator.clone().serve(listener, std::future::pending()));
    let keys = emulator.keys();
    let (store, root, _dir) = support::store_with_root().await;
    let state = AppState::new(
        store,
        ServiceSettings {
            allow_plain_http_duo: true,
            status_refresh: None,
            ..ServiceSettings::default()
        },
    );
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/v1/duogate/connections/emu")
        .header("X-Vault-Token", &root)
        .header("Content-Type", "application/json")
        .body(Body::from(
            json!({"api_host": url, "ikey": keys.admin_ikey, "skey": keys.admin_skey}).to_string(),
        ))
        .unwrap();
    assert_eq!(
        app(state.clone()).oneshot(request).await.unwrap().status(),
        201
    );
    let run = |action: &'static str, input: Value| {
        let state = state.clone();
        let root = root.clone();
        async move {
            let path = format!("/v1/duogate/connections/emu/actions/{action}");
            call(&state, &path, &root, Some(input)).await
        }
    };

    let (status, created) = run("create_user", json!({"username": "soar"})).await;
    assert_eq!(
        (status, created["status_code"].clone()),
        (200, json!(200)),
        "{created}"
    );
    let user_id = created["json_body"]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, found) = run("retrieve_user_by_username", json!({"username": "soar"})).await;
    assert_eq!(found["json_body"][0]["user_id"], user_id.as_str());

    let (_, codes) = run(
        "generate_bypass_codes",
        json!({"user_id": user_id, "count": 2}),
    )
    .await;
    let codes: Vec<String> = codes["json_body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 2);
    let (_, listed) = run(
        "retrieve_bypass_codes_by_user_id",
        json!({"user_id": user_id}),
    )
    .await;
    let code_id = listed["json_body"][0]["bypass_code_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, deleted) = run("delete_bypass_code", json!({"bypass_code_id": code_id})).await;
    assert_eq!(deleted["json_body"], json!(""));

    let (_, group) = run("create_group", json!({"name": "soar-group"})).await;
    let group_id = group["json_body"]["group_id"].as_str().unwrap().to_string();
    let (_, added) = run(
        "add_user_to_group",
        json!({"user_id": user_id, "group_id": group_id}),
    )
    .await;
    assert_eq!(added["status_code"], 200);
    let (_, removed) = run(
        "remove_user_from_group",
        json!({"user_id": user_id, "group_id": group_id}),
    )
    .await;
    assert_eq!(removed["status_code"], 200);

    let (_, gone) = run("delete_user", json!({"user_id": user_id})).await;
    assert_eq!(gone["json_body"], json!(""));
    let (_, again) = run("delete_user", json!({"user_id": user_id})).await;
    assert_eq!(
        (
            again["status_code"].clone(),
            again["json_body"]["code"].clone()
        ),
        (json!(404), json!(40401))
    );

    let (status, refused) = run(
        "retrieve_authentication_logs",
        json!({"mintime": 10, "maxtime": 5}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maxtime"),
        "{refused}"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    for name in ["retrieve_telephony_logs", "retrieve_activity_logs"] {
        let (status, page) = run(
            name,
            json!({"mintime": now - 3_600_000, "maxtime": now, "limit": 5, "sort": "ts:asc"}),
        )
        .await;
        assert_eq!(
            (status, page["status_code"].clone()),
            (200, json!(200)),
            "{page}"
        );
        assert!(page["json_body"]["items"].is_array(), "{name}: {page}");
        let (status, refused) = run(name, json!({"mintime": now, "next_offset": "x"})).await;
        assert_eq!(status, 400, "{name}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("maxtime"),
            "{refused}"
        );
    }

    let (_, phone) = run(
        "create_phone",
        json!({"number": "+15550009999", "type": "mobile", "platform": "apple ios"}),
    )
    .await;
    let phone_id = phone["json_body"]["phone_id"].as_str().unwrap().to_string();
    let (status, sms) = run(
        "send_sms_activation",
        json!({"phone_id": phone_id, "install": true, "valid_secs": 600}),
    )
    .await;
    assert_eq!(
        (status, sms["status_code"].clone()),
        (200, json!(200)),
        "{sms}"
    );
    assert_eq!(sms["json_body"]["valid_secs"], 600);
    assert!(sms["json_body"]["installation_msg"].is_string(), "{sms}");
    let (status, refused) = run(
        "send_sms_activation",
        json!({"phone_id": phone_id, "activation_msg": "no link"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("activation_msg"),
        "{refused}"
    );

    let (_, audit) = call(&state, "/v1/duogate/audit?limit=50", &root, None).await;
    let audit = audit.to_string();
    assert!(audit.contains("generate_bypass_codes"));
    for code in &codes {
        assert!(
            !audit.contains(code.as_str()),
            "a bypass code reached the audit log"
        );
    }
}
