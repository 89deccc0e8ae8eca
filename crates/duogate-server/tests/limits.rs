//! Limits that hold, through the real router: the client's address through trusted proxies
//! (and not through anyone else), attempt limits shared by two instances on one PostgreSQL,
//! Basic auth's cache and failure throttle, and `GET status` answering from the last
//! background probe with bounded fan-out. Time that matters (the attempt windows) comes from
//! an injected clock; nothing here asserts on elapsed time.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use duogate_server::client_address::{ForwardedHeader, ProxyTrust};
use duogate_server::engine::Limits;
use duogate_server::engine::limiter::{RateLimits, WindowClock};
use duogate_server::{AppState, ServiceSettings, app};
use duogate_store::tokens::Role;
use duogate_store::{Keyring, SealKey, Store};
use support::Duo;

const PROXY: &str = "10.0.0.1:40000";
const PASSWORD: &str = "correct horse battery";

fn settings() -> ServiceSettings {
    ServiceSettings {
        allow_plain_http_duo: true,
        status_refresh: None,
        ..ServiceSettings::default()
    }
}

fn engine_limits() -> Limits {
    Limits {
        call_timeout: Duration::from_secs(5),
        push_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(100),
        rate_limit_attempts: 7,
        check_deadline: Duration::from_secs(120),
    }
}

/// A clock the test moves by hand.
fn manual_clock() -> (WindowClock, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(1_800_000_000));
    let read = now.clone();
    (Arc::new(move || read.load(Ordering::SeqCst)), now)
}

/// One request through the real router, from TCP peer `peer`: (status, JSON body or `null`).
async fn send_from(
    state: &AppState,
    peer: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn basic(name: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{name}:{password}"))
    )
}

/// A trusted mount `app`, a Duo method `corp` on `duo` and an enforcement; answers the
/// method's id.
async fn vault_login_setup(state: &AppState, root: &str, duo: &Duo) -> String {
    let admin = |method: &'static str, path: &'static str, body: Value| async move {
        let (status, answer) = support::send(
            state,
            method,
            &format!("/v1/{path}"),
            &[("x-vault-token", root)],
            Some(body.clone()),
        )
        .await;
        assert!(
            status == 200 || status == 204,
            "{path} {body}: {status} {answer}"
        );
        answer
    };
    admin("POST", "sys/auth/app", json!({"type": "trusted"})).await;
    let mounts = admin("GET", "sys/auth", json!({})).await;
    let accessor = mounts["data"]["app/"]["accessor"]
        .as_str()
        .unwrap()
        .to_string();
    let keys = duo.emulator.keys();
    let created = admin(
        "POST",
        "identity/mfa/method/duo",
        json!({"method_name": "corp", "api_hostname": duo.url, "integration_key": keys.auth_ikey,
               "secret_key": keys.auth_skey}),
    )
    .await;
    let method_id = created["data"]["method_id"].as_str().unwrap().to_string();
    let (status, answer) = support::send(
        state,
        "POST",
        "/v1/identity/mfa/login-enforcement/e1",
        &[("x-vault-token", root)],
        Some(json!({"mfa_method_ids": [method_id], "auth_method_accessors": [accessor]})),
    )
    .await;
    assert!(status == 200 || status == 204, "{answer}");
    method_id
}

/// An inline (`X-Vault-MFA`) login of `username` from `peer`, with `forwarded` as
/// `X-Forwarded-For`: the HTTP status (200 allowed, 403 denied).
async fn inline_login(
    state: &AppState,
    mfa: &str,
    method_id: &str,
    peer: &str,
    forwarded: Option<&str>,
    username: &str,
) -> u16 {
    let mut headers = vec![("x-vault-token", mfa), ("x-vault-mfa", method_id)];
    if let Some(forwarded) = forwarded {
        headers.push(("x-forwarded-for", forwarded));
    }
    send_from(
        state,
        peer,
        "POST",
        "/v1/auth/app/login",
        &headers,
        Some(json!({"username": username, "entity_name": username})),
    )
    .await
    .0
}

struct VaultService {
    state: AppState,
    mfa: String,
    method_id: String,
    duo: Duo,
    _dir: tempfile::TempDir,
}

async fn vault_service(per_source: usize) -> VaultService {
    let duo = Duo::start(Duration::from_secs(20)).await;
    for user in ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"] {
        duo.user(user, "approve", &[]).await;
    }
    let (store, root, dir) = support::store_with_root().await;
    let (mfa, _) = store.create_token(Role::Mfa, None, None).await.unwrap();
    let state = AppState::new(store, settings())
        .with_engine(
            engine_limits(),
            RateLimits {
                per_user: 100,
                per_source,
                window: Duration::from_secs(60),
            },
        )
        .with_proxy_trust(ProxyTrust::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            ForwardedHeader::XForwardedFor,
        ));
    let method_id = vault_login_setup(&state, &root, &duo).await;
    VaultService {
        state,
        mfa: mfa.expose_secret().to_string(),
        method_id,
        duo,
        _dir: dir,
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_per_source_limits_and_duo_see_the_forwarded_client() {
    let svc = vault_service(2).await;
    let login = |forwarded: &'static str, user: &'static str| {
        inline_login(
            &svc.state,
            &svc.mfa,
            &svc.method_id,
            PROXY,
            Some(forwarded),
            user,
        )
    };
    // A client's spoofed left-most entry is not believed: the proxy appended the real one.
    assert_eq!(login("198.51.100.7, 203.0.113.1", "u1").await, 200);
    assert_eq!(login("203.0.113.1", "u2").await, 200);
    assert_eq!(
        login("203.0.113.1", "u3").await,
        403,
        "the third attempt from 203.0.113.1 in the window is refused"
    );
    assert_eq!(
        login("203.0.113.2", "u4").await,
        200,
        "another client behind the same proxy has its own budget"
    );
    let ipaddrs: Vec<Value> = svc
        .duo
        .transactions()
        .await
        .iter()
        .map(|t| t["ipaddr"].clone())
        .collect();
    assert_eq!(
        ipaddrs,
        [
            json!("203.0.113.1"),
            json!("203.0.113.1"),
            json!("203.0.113.2")
        ],
        "Duo is told the client's address, never the proxy's; the refused attempt never reached Duo"
    );
}

#[tokio::test]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let svc = vault_service(2).await;
    let peer = "192.0.2.9:5000";
    for (forwarded, user, expected) in [
        ("203.0.113.1", "u1", 200),
        ("203.0.113.2", "u2", 200),
        ("203.0.113.3", "u3", 403),
    ] {
        let status = inline_login(
            &svc.state,
            &svc.mfa,
            &svc.method_id,
            peer,
            Some(forwarded),
            user,
        )
        .await;
        assert_eq!(status, expected, "{user} claiming {forwarded}");
    }
    let ipaddrs: Vec<Value> = svc
        .duo
        .transactions()
        .await
        .iter()
        .map(|t| t["ipaddr"].clone())
        .collect();
    assert_eq!(ipaddrs, [json!("192.0.2.9"), json!("192.0.2.9")]);
}

/// A fresh database on the `TEST_POSTGRES_URL` server: (url, name).
async fn fresh_postgres(base: &str) -> (String, String) {
    use sqlx::Executor as _;
    sqlx::any::install_default_drivers();
    let name = format!("duogate_limits_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::AnyPool::connect(base)
        .await
        .expect("TEST_POSTGRES_URL reachable");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    admin.close().await;
    let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
    (format!("{prefix}/{name}"), name)
}

async fn drop_postgres(base: &str, name: &str) {
    use sqlx::Executor as _;
    let admin = sqlx::AnyPool::connect(base)
        .await
        .expect("TEST_POSTGRES_URL reachable");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
    admin.close().await;
}

#[tokio::test]
async fn two_instances_on_one_postgres_allow_no_more_attempts_per_user_or_failed_logins_than_one() {
    let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
        eprintln!("skipped: TEST_POSTGRES_URL is not set (shared limits need PostgreSQL)");
        return;
    };
    let (url, name) = fresh_postgres(&base).await;
    let keyring = Keyring::new(SealKey::generate());
    let (clock, _) = manual_clock();
    let rate_limits = RateLimits {
        per_user: 3,
        per_source: 1_000,
        window: Duration::from_secs(60),
    };
    let mut instances = Vec::new();
    for _ in 0..2 {
        let store = Store::connect(&url, keyring.clone()).await.unwrap();
        let state = AppState::new(store, settings())
            .with_engine(engine_limits(), rate_limits)
            .with_window_clock(clock.clone());
        assert!(
            state.limiter.is_shared(),
            "PostgreSQL counts in the database"
        );
        instances.push(state);
    }
    let (root, _) = instances[0]
        .store
        .create_token(Role::Admin, None, None)
        .await
        .unwrap();
    let root = root.expose_secret().to_string();
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("alice", "approve", &[]).await;
    let keys = duo.emulator.keys();
    let (status, created) = support::send(
        &instances[0],
        "POST",
        "/v1/identity/mfa/method/duo",
        &[("x-vault-token", &root)],
        Some(json!({"method_name": "corp", "api_hostname": duo.url, "integration_key": keys.auth_ikey, "secret_key": keys.auth_skey})),
    )
    .await;
    assert_eq!(status, 200, "{created}");

    let mut reasons = Vec::new();
    for round in 0..8 {
        let instance = &instances[round % 2];
        let (status, answer) = support::send(
            instance,
            "POST",
            "/v1/duogate/check",
            &[("x-vault-token", &root)],
            Some(json!({"method": "corp", "username": "alice", "ipaddr": "192.0.2.1"})),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        reasons.push(answer["reason"].as_str().unwrap().to_string());
    }
    let admitted = reasons.iter().filter(|r| *r != "rate_limited").count();
    assert_eq!(admitted, 3, "one budget for both instances: {reasons:?}");
    assert_eq!(duo.requests_to("/auth/v2/preauth").await, 3);
    assert!(instances[0].store.attempt_counter_rows().await.unwrap() >= 1);

    // Failed Basic logins are counted in the database too: five failures spread over both
    // instances throttle the account on both.
    instances[0]
        .store
        .create_account(
            "ontap",
            &SecretString::from(PASSWORD.to_string()),
            Role::Reader,
            None,
        )
        .await
        .unwrap();
    let basic_get = |instance: &AppState, password: &str| {
        let authorization = basic("ontap", password);
        let instance = instance.clone();
        async move {
            support::send(
                &instance,
                "GET",
                "/v1/duogate/tenants",
                &[("authorization", authorization.as_str())],
                None,
            )
            .await
            .0
        }
    };
    for round in 0..5 {
        assert_eq!(
            basic_get(&instances[round % 2], "wrong password!").await,
            401
        );
    }
    for instance in &instances {
        assert_eq!(
            basic_get(instance, PASSWORD).await,
            401,
            "throttled on every instance"
        );
    }
    let verifications: u64 = instances.iter().map(|i| i.basic_auth.verifications()).sum();
    assert_eq!(verifications, 5, "the throttled logins ran no argon2");
    for instance in &instances {
        instance.store.close().await;
    }
    drop_postgres(&base, &name).await;
}

struct AccountService {
    state: AppState,
    clock: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

async fn account_service() -> AccountService {
    let (store, _root, dir) = support::store_with_root().await;
    store
        .create_account(
            "ontap",
            &SecretString::from(PASSWORD.to_string()),
            Role::Reader,
            None,
        )
        .await
        .unwrap();
    let (clock, now) = manual_clock();
    let state = AppState::new(store, settings())
        .with_proxy_trust(ProxyTrust::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            ForwardedHeader::XForwardedFor,
        ))
        .with_window_clock(clock);
    AccountService {
        state,
        clock: now,
        _dir: dir,
    }
}

impl AccountService {
    async fn get(&self, name: &str, password: &str) -> u16 {
        self.get_from("127.0.0.1:6000", None, name, password).await
    }

    async fn get_from(
        &self,
        peer: &str,
        forwarded: Option<&str>,
        name: &str,
        password: &str,
    ) -> u16 {
        let authorization = basic(name, password);
        let mut headers = vec![("authorization", authorization.as_str())];
        if let Some(forwarded) = forwarded {
            headers.push(("x-forwarded-for", forwarded));
        }
        send_from(
            &self.state,
            peer,
            "GET",
            "/v1/duogate/tenants",
            &headers,
            None,
        )
        .await
        .0
    }

    fn verifications(&self) -> u64 {
        self.state.basic_auth.verifications()
    }
}

#[tokio::test]
async fn a_cached_basic_login_skips_argon2_until_the_password_changes_or_the_account_goes() {
    let svc = account_service().await;
    for _ in 0..5 {
        assert_eq!(svc.get("ontap", PASSWORD).await, 200);
    }
    assert_eq!(svc.verifications(), 1, "one argon2 for five requests");
    assert_eq!(svc.state.basic_auth.cached(), 1);

    let new_password = "a brand new passphrase";
    svc.state
        .store
        .set_account_password("ontap", &SecretString::from(new_password.to_string()))
        .await
        .unwrap();
    assert_eq!(
        svc.get("ontap", PASSWORD).await,
        401,
        "the old password stops working at once, cache or not"
    );
    assert_eq!(
        svc.verifications(),
        2,
        "the stamp changed: the cache missed"
    );
    assert_eq!(svc.get("ontap", new_password).await, 200);
    assert_eq!(svc.get("ontap", new_password).await, 200);
    assert_eq!(svc.verifications(), 3);

    svc.state.store.delete_account("ontap").await.unwrap();
    assert_eq!(
        svc.get("ontap", new_password).await,
        401,
        "deleted: refused at once"
    );
}

#[tokio::test]
async fn failed_basic_logins_are_throttled_per_account_even_for_the_right_password() {
    let svc = account_service().await;
    for _ in 0..5 {
        assert_eq!(svc.get("ontap", "wrong password!").await, 401);
    }
    assert_eq!(svc.verifications(), 5);
    assert_eq!(
        svc.get("ontap", PASSWORD).await,
        401,
        "throttled: even the right password is refused"
    );
    assert_eq!(svc.get("ontap", "wrong password!").await, 401);
    assert_eq!(svc.verifications(), 5, "and no argon2 ran for them");
    svc.clock.fetch_add(60, Ordering::SeqCst);
    assert_eq!(svc.get("ontap", PASSWORD).await, 200, "the window passed");
    assert_eq!(svc.verifications(), 6);
}

#[tokio::test]
async fn unknown_accounts_are_throttled_exactly_like_known_ones() {
    let svc = account_service().await;
    for _ in 0..5 {
        assert_eq!(svc.get("ghost", "any password at all").await, 401);
    }
    assert_eq!(
        svc.verifications(),
        5,
        "each unknown name cost one decoy argon2"
    );
    assert_eq!(svc.get("ghost", "any password at all").await, 401);
    assert_eq!(
        svc.verifications(),
        5,
        "then the throttle answers without argon2"
    );
    assert_eq!(
        svc.get("ontap", PASSWORD).await,
        200,
        "other accounts are not affected"
    );
}

#[tokio::test]
async fn failed_basic_logins_are_throttled_per_forwarded_client_address() {
    let svc = account_service().await;
    // 20 failures (the per-source limit) from one client behind the proxy, each on a new name
    // so that no per-account limit is reached.
    for i in 0..20 {
        let status = svc
            .get_from(
                PROXY,
                Some("203.0.113.5"),
                &format!("guess{i}"),
                "nope nope nope",
            )
            .await;
        assert_eq!(status, 401);
    }
    assert_eq!(svc.verifications(), 20);
    assert_eq!(
        svc.get_from(PROXY, Some("203.0.113.5"), "ontap", PASSWORD)
            .await,
        401,
        "the client is throttled"
    );
    assert_eq!(svc.verifications(), 20);
    assert_eq!(
        svc.get_from(PROXY, Some("203.0.113.6"), "ontap", PASSWORD)
            .await,
        200,
        "another client behind the same proxy is not"
    );
}

/// A Duo stand-in answering `/auth/v2/check` slowly, counting requests and the most in
/// flight at once.
struct SlowDuo {
    url: String,
    requests: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
}

async fn slow_duo() -> SlowDuo {
    let requests = Arc::new(AtomicUsize::new(0));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let most_in_flight = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (requests, in_flight, most) =
            (requests.clone(), in_flight.clone(), most_in_flight.clone());
        move || async move {
            requests.fetch_add(1, Ordering::SeqCst);
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            axum::Json(json!({"stat": "OK", "response": {"time": 1_800_000_000}}))
        }
    };
    let router = axum::Router::new().route("/auth/v2/check", axum::routing::get(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    SlowDuo {
        url,
        requests,
        most_in_flight,
    }
}

async fn status_service() -> (AppState, String, String, tempfile::TempDir) {
    let (store, root, dir) = support::store_with_root().await;
    let (reader, _) = store.create_token(Role::Reader, None, None).await.unwrap();
    let state =
        AppState::new(store, settings()).with_engine(engine_limits(), RateLimits::default());
    (state, root, reader.expose_secret().to_string(), dir)
}

async fn add_method(state: &AppState, root: &str, name: &str, host: &str, ikey: &str, skey: &str) {
    let (status, body) = support::send(
        state,
        "POST",
        "/v1/identity/mfa/method/duo",
        &[("x-vault-token", root)],
        Some(json!({"method_name": name, "api_hostname": host, "integration_key": ikey, "secret_key": skey})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn status_answers_the_last_probe_and_only_an_admin_may_force_one() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    let (state, root, reader, _dir) = status_service().await;
    let keys = duo.emulator.keys();
    for i in 0..50 {
        add_method(
            &state,
            &root,
            &format!("m{i}"),
            &duo.url,
            &keys.auth_ikey,
            &keys.auth_skey,
        )
        .await;
    }
    let get = |token: String, uri: &'static str| {
        let state = state.clone();
        async move { support::send(&state, "GET", uri, &[("x-vault-token", &token)], None).await }
    };

    let (status, body) = get(reader.clone(), "/v1/duogate/status").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["checked_at"],
        Value::Null,
        "nothing probed yet: {body}"
    );
    assert_eq!(body["reachability"], json!([]));
    let (status, body) = get(reader.clone(), "/v1/duogate/status?refresh=true").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["code"].is_string(),
        "the native envelope: {body}"
    );
    assert_eq!(
        duo.requests_to("/auth/v2/check").await,
        0,
        "readers probe nothing"
    );

    let (status, body) = get(root.clone(), "/v1/duogate/status?refresh=true").await;
    assert_eq!(status, 200, "{body}");
    let entries = body["reachability"].as_array().unwrap();
    assert_eq!(entries.len(), 50);
    assert!(entries.iter().all(|e| e["status"] == "OK"), "{body}");
    assert_eq!(
        duo.requests_to("/auth/v2/check").await,
        1,
        "fifty methods on one endpoint with one key: one probe"
    );
    let checked_at = body["checked_at"].clone();
    assert!(checked_at.is_i64(), "{body}");

    for _ in 0..3 {
        let (status, body) = get(reader.clone(), "/v1/duogate/status").await;
        assert_eq!(status, 200);
        assert_eq!(body["checked_at"], checked_at);
        assert!(body["age_secs"].is_u64(), "{body}");
        assert_eq!(body["reachability"].as_array().unwrap().len(), 50);
    }
    assert_eq!(
        duo.requests_to("/auth/v2/check").await,
        1,
        "readers read the cache"
    );
}

#[tokio::test]
async fn a_refresh_probes_each_distinct_endpoint_once_at_most_eight_at_a_time() {
    let duo = slow_duo().await;
    let (state, root, _reader, _dir) = status_service().await;
    // 30 distinct endpoints (each its own key), and 10 more methods sharing the first's.
    for i in 0..30 {
        add_method(
            &state,
            &root,
            &format!("m{i}"),
            &duo.url,
            "DIXXXXXXXXXXXXXXXXXX",
            &format!("{i:0>40}"),
        )
        .await;
    }
    for i in 0..10 {
        add_method(
            &state,
            &root,
            &format!("same{i}"),
            &duo.url,
            "DIXXXXXXXXXXXXXXXXXX",
            &format!("{:0>40}", 0),
        )
        .await;
    }
    let refreshes = (0..3).map(|_| {
        let state = state.clone();
        let root = root.clone();
        async move {
            support::send(
                &state,
                "GET",
                "/v1/duogate/status?refresh=true",
                &[("x-vault-token", &root)],
                None,
            )
            .await
        }
    });
    for (status, body) in futures_util::future::join_all(refreshes).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["reachability"].as_array().unwrap().len(), 40);
    }
    assert_eq!(
        duo.requests.load(Ordering::SeqCst),
        30,
        "one probe per distinct endpoint, and three concurrent refreshes shared one round"
    );
    let most = duo.most_in_flight.load(Ordering::SeqCst);
    assert!(
        (1..=duogate_server::reachability::PROBE_CONCURRENCY).contains(&most),
        "at most eight probes at once, saw {most}"
    );
}

#[tokio::test]
async fn over_long_usernames_are_refused_before_anything_is_counted_or_sent() {
    let svc = vault_service(30).await;
    let long = "a".repeat(257);
    let status = inline_login(
        &svc.state,
        &svc.mfa,
        &svc.method_id,
        "127.0.0.1:1",
        None,
        &long,
    )
    .await;
    assert_eq!(status, 400);
    let (status, body) = support::send(
        &svc.state,
        "POST",
        "/v1/duogate/check",
        &[("x-vault-token", &svc.mfa)],
        Some(json!({"method": "corp", "username": long})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("256"),
        "{body}"
    );
    assert!(svc.state.limiter.is_empty(), "nothing was counted");
    assert!(svc.duo.transactions().await.is_empty());
}
