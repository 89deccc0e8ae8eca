//! The native API through the real router: access control on every route, tenants, tokens,
//! connections (secrets never returned) and actions against the emulator.

mod support;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use duogate_server::{AppState, ServiceSettings, app};
use duogate_store::tokens::Role;

struct Service {
    state: AppState,
    root: String,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start(allow_plain_http_duo: bool) -> Self {
        let (store, root, dir) = support::store_with_root().await;
        let state = AppState::new(
            store,
            ServiceSettings {
                allow_plain_http_duo,
                status_refresh: None,
                ..ServiceSettings::default()
            },
        );
        Self {
            state,
            root,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("X-Vault-Token", token);
        }
        let request = request
            .header("Content-Type", "application/json")
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn token(&self, role: &str, tenant: Option<&str>) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/duogate/tokens",
                Some(&self.root),
                Some(json!({"role": role, "tenant": tenant})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().unwrap().to_string()
    }
}

const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";

#[tokio::test]
async fn health_needs_no_token() {
    let svc = Service::start(false).await;
    let (status, body) = svc
        .call(Method::GET, "/v1/duogate/health", None, None)
        .await;
    assert_eq!((status, body["status"].clone()), (200, json!("ok")));
}

#[tokio::test]
async fn every_route_refuses_missing_bad_and_underprivileged_tokens() {
    let svc = Service::start(false).await;
    let mfa = svc.token("mfa", None).await;
    let reader = svc.token("reader", None).await;
    let routes: [(Method, &str, Option<Value>, Role); 13] = [
        (Method::GET, "/v1/duogate/status", None, Role::Reader),
        (Method::GET, "/v1/duogate/accounts", None, Role::Reader),
        (
            Method::POST,
            "/v1/duogate/accounts",
            Some(json!({"name": "a", "password": "p4ssw0rd-long-enough", "role": "reader"})),
            Role::Admin,
        ),
        (Method::DELETE, "/v1/duogate/accounts/a", None, Role::Admin),
        (Method::GET, "/v1/duogate/tenants", None, Role::Reader),
        (
            Method::POST,
            "/v1/duogate/tenants",
            Some(json!({"path": "x"})),
            Role::Admin,
        ),
        (Method::DELETE, "/v1/duogate/tenants/x", None, Role::Admin),
        (
            Method::POST,
            "/v1/duogate/tokens",
            Some(json!({"role": "admin"})),
            Role::Admin,
        ),
        (Method::DELETE, "/v1/duogate/tokens/abc", None, Role::Admin),
        (
            Method::PUT,
            "/v1/duogate/connections/c",
            Some(json!({"api_host": "api-x.duosecurity.com", "ikey": "DI", "skey": "s"})),
            Role::Admin,
        ),
        (Method::GET, "/v1/duogate/connections/c", None, Role::Reader),
        (
            Method::POST,
            "/v1/duogate/connections/c/actions/retrieve_users",
            Some(json!({})),
            Role::Admin,
        ),
        (Method::GET, "/v1/duogate/audit", None, Role::Reader),
    ];
    for (method, path, body, needed) in routes {
        for (token, expected) in [
            (None, 401),
            (Some("dg.not-a-token"), 401),
            (Some(mfa.as_str()), 403),
        ] {
            let (status, reply) = svc.call(method.clone(), path, token, body.clone()).await;
            assert_eq!(status, expected, "{method} {path} with {token:?}: {reply}");
            assert!(reply["error"]["code"].is_string(), "{reply}");
        }
        let (status, _) = svc
            .call(method.clone(), path, Some(&reader), body.clone())
            .await;
        if needed == Role::Admin {
            assert_eq!(status, 403, "reader on {method} {path}");
        } else {
            assert_ne!(status, 403, "reader on {method} {path}");
        }
    }
    // Nothing reached the store: no tenant, no connection.
    let (_, tenants) = svc
        .call(Method::GET, "/v1/duogate/tenants", Some(&svc.root), None)
        .await;
    assert_eq!(tenants["tenants"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn tenants_are_created_listed_refused_and_deleted() {
    let svc = Service::start(false).await;
    let root = svc.root.clone();
    let (status, created) = svc
        .call(
            Method::POST,
            "/v1/duogate/tenants",
            Some(&root),
            Some(json!({"path": "eng/"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["path"], "eng/");
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/tenants",
            Some(&root),
            Some(json!({"path": "eng"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, bad) = svc
        .call(
            Method::POST,
            "/v1/duogate/tenants",
            Some(&root),
            Some(json!({"path": "a b"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("tenant path")
    );
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/tenants",
            Some(&root),
            Some(json!({"path": "x", "extra": 1})),
        )
        .await;
    assert_eq!(status, 400);
    svc.call(
        Method::POST,
        "/v1/duogate/tenants",
        Some(&root),
        Some(json!({"path": "eng/ops"})),
    )
    .await;
    assert_eq!(
        svc.call(Method::DELETE, "/v1/duogate/tenants/eng", Some(&root), None)
            .await
            .0,
        409
    );
    assert_eq!(
        svc.call(
            Method::DELETE,
            "/v1/duogate/tenants/eng/ops",
            Some(&root),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        svc.call(Method::DELETE, "/v1/duogate/tenants/eng", Some(&root), None)
            .await
            .0,
        204
    );
    assert_eq!(
        svc.call(Method::DELETE, "/v1/duogate/tenants/eng", Some(&root), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn revoked_tokens_stop_working_and_bound_tokens_stay_in_their_tenant() {
    let svc = Service::start(false).await;
    svc.call(
        Method::POST,
        "/v1/duogate/tenants",
        Some(&svc.root),
        Some(json!({"path": "acme"})),
    )
    .await;
    let (status, minted) = svc
        .call(
            Method::POST,
            "/v1/duogate/tokens",
            Some(&svc.root),
            Some(json!({"role": "admin", "tenant": "acme", "ttl": 3600})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(minted["tenant"], "acme/");
    assert!(minted["expires_at"].is_i64());
    let bound = minted["token"].as_str().unwrap();
    let put = json!({"api_host": "api-x.duosecurity.com", "ikey": "DIKEY", "skey": SKEY});
    assert_eq!(
        svc.call(
            Method::PUT,
            "/v1/duogate/connections/c?tenant=acme",
            Some(bound),
            Some(put.clone())
        )
        .await
        .0,
        201
    );
    assert_eq!(
        svc.call(
            Method::PUT,
            "/v1/duogate/connections/c",
            Some(bound),
            Some(put)
        )
        .await
        .0,
        403,
        "root tenant"
    );
    let (_, seen) = svc
        .call(Method::GET, "/v1/duogate/tenants", Some(bound), None)
        .await;
    assert_eq!(seen["tenants"].as_array().unwrap().len(), 1);
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/tokens",
            Some(bound),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(status, 403, "a bound admin cannot mint an unbound token");
    let accessor = minted["accessor"].as_str().unwrap();
    assert_eq!(
        svc.call(
            Method::DELETE,
            &format!("/v1/duogate/tokens/{accessor}"),
            Some(&svc.root),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        svc.call(Method::GET, "/v1/duogate/tenants", Some(bound), None)
            .await
            .0,
        401
    );
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/tokens",
            Some(&svc.root),
            Some(json!({"role": "root"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn connections_never_return_the_skey() {
    let svc = Service::start(false).await;
    let root = svc.root.clone();
    let path = "/v1/duogate/connections/prod";
    let (status, body) = svc
        .call(
            Method::PUT,
            path,
            Some(&root),
            Some(json!({"api_host": "api-x.duosecurity.com", "ikey": "DIKEY"})),
        )
        .await;
    assert_eq!(status, 400, "skey is required on create");
    assert!(body["error"]["message"].as_str().unwrap().contains("skey"));
    let (status, body) = svc
        .call(
            Method::PUT,
            path,
            Some(&root),
            Some(json!({"api_host": "api-x.duosecurity.com", "ikey": "DIKEY", "skey": SKEY})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let fingerprint = body["skey_fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fingerprint.len(), 64);
    let (status, body) = svc
        .call(
            Method::PUT,
            path,
            Some(&root),
            Some(json!({"api_host": "api-y.duosecurity.com", "ikey": "DIKEY"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["skey_fingerprint"],
        fingerprint.as_str(),
        "skey kept when omitted"
    );
    let (_, read) = svc.call(Method::GET, path, Some(&root), None).await;
    assert_eq!(read["api_host"], "api-y.duosecurity.com");
    let (_, audit) = svc
        .call(Method::GET, "/v1/duogate/audit", Some(&root), None)
        .await;
    for body in [&read, &audit] {
        assert!(!body.to_string().contains(SKEY), "{body}");
    }
    let (status, body) = svc
        .call(
            Method::PUT,
            path,
            Some(&root),
            Some(json!({"api_host": "http://127.0.0.1:9", "ikey": "DIKEY"})),
        )
        .await;
    assert_eq!(status, 400, "plain http refused unless allowed: {body}");
    assert_eq!(
        svc.call(Method::DELETE, path, Some(&root), None).await.0,
        204
    );
    assert_eq!(svc.call(Method::GET, path, Some(&root), None).await.0, 404);
}

#[tokio::test]
async fn actions_run_against_duo_and_bad_input_sends_nothing() {
    let emulator = duo_emulator::Emulator::new(duo_emulator::EmulatorConfig {
        seed: "users=5".parse().unwrap(),
        ..Default::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(emulator.clone().serve(listener, std::future::pending()));
    let keys = emulator.keys();
    let svc = Service::start(true).await;
    let root = svc.root.clone();
    let (status, _) = svc
        .call(
            Method::PUT,
            "/v1/duogate/connections/emu",
            Some(&root),
            Some(json!({"api_host": url, "ikey": keys.admin_ikey, "skey": keys.admin_skey})),
        )
        .await;
    assert_eq!(status, 201);
    let action = "/v1/duogate/connections/emu/actions";
    let (status, result) = svc
        .call(
            Method::POST,
            &format!("{action}/retrieve_users"),
            Some(&root),
            Some(json!({"limit": 2})),
        )
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["status_code"], 200);
    assert_eq!(result["json_body"].as_array().unwrap().len(), 2);
    let (status, missing) = svc
        .call(
            Method::POST,
            &format!("{action}/retrieve_user_by_user_id"),
            Some(&root),
            Some(json!({"user_id": "DUNOSUCHUSER00000000"})),
        )
        .await;
    assert_eq!((status, missing["status_code"].clone()), (200, json!(404)));
    assert_eq!(missing["json_body"]["code"], 40401);
    let log = emulator_requests_logged(&url).await;
    let (status, bad) = svc
        .call(
            Method::POST,
            &format!("{action}/associate_phone_with_user"),
            Some(&root),
            Some(json!({"user_id": "DU1"})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("phone_id")
    );
    assert_eq!(
        emulator_requests_logged(&url).await,
        log,
        "nothing was sent to Duo"
    );
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/connections/nope/actions/retrieve_users",
            Some(&root),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, audit) = svc
        .call(Method::GET, "/v1/duogate/audit?limit=5", Some(&root), None)
        .await;
    assert_eq!(audit["entries"][0]["action"], "connection.action");
    assert!(!audit.to_string().contains(&keys.admin_skey));
}

/// The emulator's request-log length, read with a plain TCP exchange.
async fn emulator_requests_logged(url: &str) -> usize {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /_emulator/requests HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).await.unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let start = body.find('[').unwrap_or(0);
    let end = body.rfind(']').map(|i| i + 1).unwrap_or(body.len());
    serde_json::from_str::<Vec<Value>>(&body[start..end])
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}

#[tokio::test]
async fn accounts_authenticate_with_basic_auth_and_never_show_passwords() {
    use base64::Engine as _;
    let svc = Service::start(false).await;
    let password = "ontap-password-123";
    let (status, created) = svc
        .call(
            Method::POST,
            "/v1/duogate/accounts",
            Some(&svc.root),
            Some(json!({"name": "ontap", "password": password, "role": "reader"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert!(!created.to_string().contains(password));
    let basic = |pw: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("ontap:{pw}"))
        )
    };
    let request = |auth: String| {
        Request::builder()
            .uri("/v1/duogate/tenants")
            .header("Authorization", auth)
            .body(Body::empty())
            .unwrap()
    };
    let ok = app(svc.state.clone())
        .oneshot(request(basic(password)))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let wrong = app(svc.state.clone())
        .oneshot(request(basic("not-the-password")))
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/accounts",
            Some(&svc.root),
            Some(json!({"name": "short", "password": "x", "role": "reader"})),
        )
        .await;
    assert_eq!(status, 400);
    let (_, listed) = svc
        .call(Method::GET, "/v1/duogate/accounts", Some(&svc.root), None)
        .await;
    assert_eq!(listed["accounts"][0]["name"], "ontap");
    let (_, audit) = svc
        .call(Method::GET, "/v1/duogate/audit", Some(&svc.root), None)
        .await;
    assert!(!audit.to_string().contains(password));
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_without_names_or_secrets() {
    let svc = Service::start(false).await;
    svc.call(Method::GET, "/v1/duogate/health", None, None)
        .await;
    svc.call(
        Method::GET,
        "/v1/duogate/connections/secret-project-name",
        Some(&svc.root),
        None,
    )
    .await;
    svc.call(
        Method::GET,
        "/v1/duogate/connections/other",
        Some("dg.bad"),
        None,
    )
    .await;
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = app(svc.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.contains(
            r#"duogate_http_requests_total{dialect="native",route="/v1/duogate/health",method="GET",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/v1/duogate/connections/{name}",method="GET",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/v1/duogate/connections/{name}",method="GET",status="401"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("secret-project-name")
            && !text.contains(&svc.root)
            && !text.contains("dg.bad")
    );
}

#[tokio::test]
async fn status_counts_tenants_and_integrations_by_kind() {
    let svc = Service::start(false).await;
    let root = svc.root.clone();
    svc.call(
        Method::PUT,
        "/v1/duogate/connections/c",
        Some(&root),
        Some(json!({"api_host": "api-x.duosecurity.com", "ikey": "DI", "skey": "s"})),
    )
    .await;
    svc.call(
        Method::POST,
        "/v1/duogate/tenants",
        Some(&root),
        Some(json!({"path": "eng"})),
    )
    .await;
    let (status, body) = svc
        .call(Method::GET, "/v1/duogate/status", Some(&root), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "sqlite");
    assert_eq!(body["tenants"], 2);
    assert_eq!(body["integrations"], json!({"connection": 1}));
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_token_bound_to_a_tenant_reaches_nothing_outside_it() {
    let svc = Service::start(false).await;
    let root = svc.root.clone();
    for path in ["acme", "other"] {
        svc.call(
            Method::POST,
            "/v1/duogate/tenants",
            Some(&root),
            Some(json!({"path": path})),
        )
        .await;
    }
    let put = json!({"api_host": "api-x.duosecurity.com", "ikey": "DIKEY", "skey": SKEY});
    for tenant in ["", "?tenant=other"] {
        let (status, _) = svc
            .call(
                Method::PUT,
                &format!("/v1/duogate/connections/c{tenant}"),
                Some(&root),
                Some(put.clone()),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (_, root_token) = svc
        .call(
            Method::POST,
            "/v1/duogate/tokens",
            Some(&root),
            Some(json!({"role": "reader"})),
        )
        .await;
    let bound = svc.token("admin", Some("acme")).await;
    let before = svc
        .call(
            Method::GET,
            "/v1/duogate/audit?limit=1000",
            Some(&root),
            None,
        )
        .await
        .1["entries"]
        .as_array()
        .unwrap()
        .len();
    let refused: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/duogate/status".into(), None),
        (Method::GET, "/v1/duogate/audit".into(), None),
        (
            Method::POST,
            "/v1/duogate/tenants".into(),
            Some(json!({"path": "acme/sub"})),
        ),
        (Method::DELETE, "/v1/duogate/tenants/other".into(), None),
        (
            Method::POST,
            "/v1/duogate/tokens".into(),
            Some(json!({"role": "admin"})),
        ),
        (
            Method::POST,
            "/v1/duogate/tokens".into(),
            Some(json!({"role": "admin", "tenant": "other"})),
        ),
        (
            Method::DELETE,
            format!(
                "/v1/duogate/tokens/{}",
                root_token["accessor"].as_str().unwrap()
            ),
            None,
        ),
        (
            Method::POST,
            "/v1/duogate/accounts".into(),
            Some(json!({"name": "x", "password": "long-enough-password", "role": "reader"})),
        ),
        (Method::DELETE, "/v1/duogate/accounts/admin".into(), None),
        (Method::GET, "/v1/duogate/connections/c".into(), None),
        (
            Method::PUT,
            "/v1/duogate/connections/c".into(),
            Some(put.clone()),
        ),
        (
            Method::DELETE,
            "/v1/duogate/connections/c?tenant=other".into(),
            None,
        ),
        (
            Method::POST,
            "/v1/duogate/connections/c/actions/retrieve_users?tenant=other".into(),
            Some(json!({})),
        ),
        (
            Method::POST,
            "/v1/duogate/check".into(),
            Some(json!({"method": "corp", "username": "alice"})),
        ),
    ];
    for (method, path, body) in refused {
        let (status, answer) = svc.call(method.clone(), &path, Some(&bound), body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(
            answer["error"]["code"], "forbidden",
            "{method} {path}: {answer}"
        );
    }
    // Inside its tenant it works, and it sees only its tenant.
    let (_, tenants) = svc
        .call(Method::GET, "/v1/duogate/tenants", Some(&bound), None)
        .await;
    let paths: Vec<&str> = tenants["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec!["acme/"]);
    let (status, _) = svc
        .call(
            Method::PUT,
            "/v1/duogate/connections/c?tenant=acme",
            Some(&bound),
            Some(put),
        )
        .await;
    assert_eq!(status, 201);
    // The refusals changed nothing: the only new audit entries are the tenant connection write.
    let after = svc
        .call(
            Method::GET,
            "/v1/duogate/audit?limit=1000",
            Some(&root),
            None,
        )
        .await
        .1["entries"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before + 1);
    let (status, _) = svc
        .call(Method::GET, "/v1/duogate/connections/c", Some(&root), None)
        .await;
    assert_eq!(status, 200, "the root connection is still there");
}

#[tokio::test]
async fn names_hosts_keys_and_duo_ids_are_limited_before_anything_is_stored_or_sent() {
    let svc = Service::start(true).await;
    let root = svc.root.clone();
    let good =
        json!({"api_host": "http://127.0.0.1:9", "ikey": "DIXXXXXXXXXXXXXXXXXX", "skey": SKEY});
    let long_name = "n".repeat(10_000);
    let cases: Vec<(String, Value)> = vec![
        (
            "c".into(),
            json!({"api_host": "a".repeat(100_000), "ikey": "DI1", "skey": SKEY}),
        ),
        (
            "c".into(),
            json!({"api_host": "api x.duosecurity.com", "ikey": "DI1", "skey": SKEY}),
        ),
        (
            "c".into(),
            json!({"api_host": "api-x.duosecurity.com", "ikey": "DI1", "skey": ""}),
        ),
        (
            "c".into(),
            json!({"api_host": "api-x.duosecurity.com", "ikey": "DI1", "skey": "has space"}),
        ),
        ("a%00b".into(), good.clone()),
        ("a%0Ab".into(), good.clone()),
        ("..%2Fx".into(), good.clone()),
        ("%2E%2E".into(), good.clone()),
        (long_name, good.clone()),
    ];
    for (name, body) in cases {
        let (status, answer) = svc
            .call(
                Method::PUT,
                &format!("/v1/duogate/connections/{name}"),
                Some(&root),
                Some(body),
            )
            .await;
        assert_eq!(status, 400, "{name:.20}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid", "{answer}");
        assert!(answer.to_string().len() < 400, "the value is not echoed");
    }
    let stored = svc
        .state
        .store
        .list_integrations_of_kind(duogate_store::integrations::IntegrationKind::Connection)
        .await
        .unwrap();
    assert!(stored.is_empty(), "{stored:?}");
    for name in [".", "..", "CON", "nul.txt", "COM1"] {
        let (status, answer) = svc
            .call(
                Method::POST,
                "/v1/duogate/accounts",
                Some(&root),
                Some(json!({"name": name, "password": "ontap-password-123", "role": "reader"})),
            )
            .await;
        assert_eq!(status, 400, "{name}: {answer}");
    }
    // A 100,000-character id is refused before Duo is asked (no 502 from a doomed call).
    let (status, _) = svc
        .call(
            Method::PUT,
            "/v1/duogate/connections/c",
            Some(&root),
            Some(good),
        )
        .await;
    assert_eq!(status, 201);
    let (status, answer) = svc
        .call(
            Method::POST,
            "/v1/duogate/connections/c/actions/retrieve_user_by_user_id",
            Some(&root),
            Some(json!({"user_id": "D".repeat(100_000)})),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("user_id:"),
        "{answer}"
    );
}

/// A raw request: status and body text.
async fn raw_call(svc: &Service, method: Method, path: &str, body: Vec<u8>) -> (u16, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("X-Vault-Token", svc.root.as_str())
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app(svc.state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn bad_query_strings_big_bodies_and_empty_paths_answer_in_the_native_envelope() {
    let svc = Service::start(false).await;
    let cases = [
        (
            Method::GET,
            "/v1/duogate/audit?limit=-1",
            Vec::new(),
            400,
            "invalid",
        ),
        (
            Method::GET,
            "/v1/duogate/audit?limit=x",
            Vec::new(),
            400,
            "invalid",
        ),
        (
            Method::GET,
            "/v1/duogate/status?refresh=maybe",
            Vec::new(),
            400,
            "invalid",
        ),
        (
            Method::PUT,
            "/v1/duogate/connections/c?tenant=%FF",
            b"{}".to_vec(),
            400,
            "invalid",
        ),
        (
            Method::POST,
            "/v1/duogate/tenants",
            vec![b' '; 3 << 20],
            413,
            "too_large",
        ),
        (
            Method::DELETE,
            "/v1/duogate/tenants/",
            Vec::new(),
            404,
            "not_found",
        ),
        (
            Method::GET,
            "/v1/duogate/connections/%FF",
            Vec::new(),
            400,
            "invalid",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, text) = raw_call(&svc, method.clone(), path, body).await;
        let answer: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text:.200}"));
        assert_eq!(
            (got, answer["error"]["code"].clone()),
            (status, json!(code)),
            "{method} {path}: {text:.200}"
        );
        assert!(answer["error"]["message"].is_string(), "{text:.200}");
    }
    // limit=0 answers no entries (there is one).
    let (status, _) = svc
        .call(
            Method::POST,
            "/v1/duogate/tenants",
            Some(&svc.root),
            Some(json!({"path": "acme"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, audit) = svc
        .call(
            Method::GET,
            "/v1/duogate/audit?limit=0",
            Some(&svc.root),
            None,
        )
        .await;
    assert_eq!((status, audit), (200, json!({"entries": []})));
    let (_, audit) = svc
        .call(
            Method::GET,
            "/v1/duogate/audit?limit=1",
            Some(&svc.root),
            None,
        )
        .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
}
