//! `POST /v1/duogate/check` through the real router against the in-process emulator: Vault
//! methods and ONTAP profiles, sync and async, rate limits, access, the audit trail, factor and
//! device choices, and Verified Duo Push through an asynchronous check.

mod support;

use std::time::Duration;

use axum::http::Method;
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use duogate_server::engine::Limits;
use duogate_server::engine::limiter::RateLimits;
use duogate_server::{AppState, ServiceSettings};
use duogate_store::tenants::TenantPath;
use duogate_store::tokens::Role;
use support::Duo;

struct Setup {
    state: AppState,
    root: String,
    duo: Duo,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start(rate_limits: RateLimits) -> Self {
        Self::start_with(
            Limits {
                call_timeout: Duration::from_secs(5),
                push_timeout: Duration::from_secs(30),
                poll_interval: Duration::from_millis(100),
                rate_limit_attempts: 7,
                check_deadline: Duration::from_secs(120),
            },
            rate_limits,
        )
        .await
    }

    async fn start_with(limits: Limits, rate_limits: RateLimits) -> Self {
        Self::start_with_duo(
            Duo::start(Duration::from_secs(2)).await,
            limits,
            rate_limits,
        )
        .await
    }

    async fn start_with_duo(duo: Duo, limits: Limits, rate_limits: RateLimits) -> Self {
        let (store, root, dir) = support::store_with_root().await;
        let state = AppState::new(
            store,
            ServiceSettings {
                allow_plain_http_duo: true,
                status_refresh: None,
                ..ServiceSettings::default()
            },
        )
        .with_engine(limits, rate_limits);
        Self {
            state,
            root,
            duo,
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
        let headers: Vec<(&str, &str)> = token.map(|t| ("x-vault-token", t)).into_iter().collect();
        support::send(&self.state, method.as_str(), path, &headers, body).await
    }

    async fn emulator_user(&self, username: &str, answer: &str) {
        self.duo.user(username, answer, &["424242"]).await;
    }

    async fn emulator_control(&self, method: &str, path: &str, body: Value) {
        self.duo.control(method, path, body).await;
    }

    async fn emulator_count(&self, path: &str) -> usize {
        self.duo.requests_to(path).await
    }

    /// A Vault method through the Vault dialect; returns its id.
    async fn vault_method(&self, name: &str) -> String {
        let keys = self.duo.emulator.keys();
        let (status, body) = self
            .call(
                Method::POST,
                "/v1/identity/mfa/method/duo",
                Some(&self.root),
                Some(json!({"method_name": name, "api_hostname": self.duo.url, "integration_key": keys.auth_ikey, "secret_key": keys.auth_skey, "push_info": "from=check"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["method_id"].as_str().unwrap().to_string()
    }

    /// An ONTAP profile for `tenant_path`, stored directly in the shape the ONTAP dialect keeps.
    /// An ONTAP profile (and Duo groups) for `tenant_path` ("" is the cluster), written
    /// through the ONTAP dialect.
    async fn ontap_profile(&self, tenant_path: &str, fail_mode: &str, groups: &[(&str, &[&str])]) {
        let path = TenantPath::parse(tenant_path).unwrap();
        if self.state.store.tenant(&path).await.is_err() {
            self.state.store.create_tenant(&path).await.unwrap();
        }
        let owner = if tenant_path.is_empty() {
            "cluster"
        } else {
            tenant_path
        };
        let keys = self.duo.emulator.keys();
        let bearer = format!("Bearer {}", self.root);
        let write = |path: &'static str, body: Value| {
            let bearer = bearer.clone();
            async move {
                let (status, answer) = support::send(
                    &self.state,
                    "POST",
                    path,
                    &[("authorization", bearer.as_str())],
                    Some(body.clone()),
                )
                .await;
                assert_eq!(status, 201, "{path} {body}: {answer}");
            }
        };
        write(
            "/api/security/authentication/duo/profiles",
            json!({"owner": {"name": owner}, "api_host": self.duo.url, "integration_key": keys.auth_ikey,
                   "secret_key": keys.auth_skey, "fail_mode": fail_mode, "max_prompts": 1}),
        )
        .await;
        for (name, excluded) in groups {
            write(
                "/api/security/authentication/duo/groups",
                json!({"owner": {"name": owner}, "name": name, "excluded_users": excluded}),
            )
            .await;
        }
    }

    async fn token(&self, role: Role, tenant: Option<&str>) -> String {
        let tenant_id = match tenant {
            Some(path) => Some(
                self.state
                    .store
                    .tenant(&TenantPath::parse(path).unwrap())
                    .await
                    .unwrap()
                    .id,
            ),
            None => None,
        };
        let (secret, _) = self
            .state
            .store
            .create_token(role, tenant_id.as_deref(), None)
            .await
            .unwrap();
        secret.expose_secret().to_string()
    }
}

#[tokio::test]
async fn a_vault_method_decides_by_push_and_passcode_and_audits_without_the_passcode() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.emulator_user("alice", "approve").await;
    setup.emulator_user("mallory", "deny").await;
    setup.vault_method("corp").await;
    let mfa = setup.token(Role::Mfa, None).await;
    for (body, result, reason) in [
        (
            json!({"method": "corp", "username": "alice"}),
            "allow",
            "approved",
        ),
        (
            json!({"method": "corp", "username": "mallory"}),
            "deny",
            "denied",
        ),
        (
            json!({"method": "corp", "username": "mallory", "passcode": "424242"}),
            "allow",
            "approved",
        ),
        (
            json!({"method": "corp", "username": "alice", "passcode": "000000", "factor": "passcode"}),
            "deny",
            "denied",
        ),
    ] {
        let (status, answer) = setup
            .call(
                Method::POST,
                "/v1/duogate/check",
                Some(&mfa),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(
            (answer["result"].as_str(), answer["reason"].as_str()),
            (Some(result), Some(reason)),
            "{body}: {answer}"
        );
    }
    let (_, audit) = setup
        .call(
            Method::GET,
            "/v1/duogate/audit?limit=50",
            Some(&setup.root),
            None,
        )
        .await;
    let decisions: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mfa.decision")
        .collect();
    assert_eq!(decisions.len(), 4, "{audit}");
    assert!(
        decisions
            .iter()
            .any(|e| e["detail"]["reason"] == "denied" && e["target"] == "mallory")
    );
    let text = audit.to_string();
    assert!(
        !text.contains("424242") && !text.contains("000000"),
        "passcode in the audit log: {text}"
    );
}

#[tokio::test]
async fn an_async_check_answers_waiting_then_the_decision_on_any_instance() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.emulator_user("alice", "approve").await;
    let method_id = setup.vault_method("corp").await;
    let (status, started) = setup
        .call(
            Method::POST,
            "/v1/duogate/check",
            Some(&setup.root),
            Some(json!({"method": method_id, "username": "alice", "async": true})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["result"], "waiting");
    let txid = started["txid"].as_str().unwrap().to_string();
    // Another instance on the same database (and seal key) answers the poll.
    let url = format!(
        "sqlite://{}?mode=rwc",
        setup._dir.path().join("s.db").display()
    );
    let other_store = duogate_store::Store::connect(&url, support::keyring())
        .await
        .unwrap();
    let other = AppState::new(other_store, ServiceSettings::default());
    let mut answer = Value::Null;
    for _ in 0..100 {
        let (status, polled) = support::send(
            &other,
            "GET",
            &format!("/v1/duogate/check/{txid}"),
            &[("x-vault-token", setup.root.as_str())],
            None,
        )
        .await;
        assert_eq!(status, 200, "{polled}");
        if polled["result"] != "waiting" {
            answer = polled;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer["result"], "allow", "{answer}");
    assert_eq!(answer["txid"], txid.as_str());
    let (status, _) = setup
        .call(
            Method::GET,
            "/v1/duogate/check/nope",
            Some(&setup.root),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_ontap_profile_applies_groups_and_fail_mode() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.emulator_user("alice", "deny").await;
    setup
        .ontap_profile("", "secure", &[("ops", &["bob"])])
        .await;
    setup.ontap_profile("svm1", "safe", &[]).await;
    let mfa = setup.token(Role::Mfa, None).await;
    for (body, result, reason) in [
        (
            json!({"profile": "cluster", "username": "carol", "groups": ["staff"]}),
            "allow",
            "not_in_group",
        ),
        (
            json!({"profile": "cluster", "username": "bob", "groups": ["ops"]}),
            "allow",
            "excluded",
        ),
        (
            json!({"profile": "cluster", "username": "alice", "groups": ["ops"]}),
            "deny",
            "denied",
        ),
        (
            json!({"profile": "svm1", "username": "alice"}),
            "deny",
            "denied",
        ),
    ] {
        let (status, answer) = setup
            .call(
                Method::POST,
                "/v1/duogate/check",
                Some(&mfa),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(
            (answer["result"].as_str(), answer["reason"].as_str()),
            (Some(result), Some(reason)),
            "{body}: {answer}"
        );
    }
}

#[tokio::test]
async fn attempts_beyond_the_limit_are_refused_without_asking_duo() {
    let setup = Setup::start(RateLimits {
        per_user: 2,
        per_source: 100,
        window: Duration::from_secs(60),
    })
    .await;
    setup.emulator_user("alice", "approve").await;
    setup.vault_method("corp").await;
    for expected in ["approved", "approved", "rate_limited"] {
        let (_, answer) = setup
            .call(
                Method::POST,
                "/v1/duogate/check",
                Some(&setup.root),
                Some(json!({"method": "corp", "username": "alice", "ipaddr": "192.0.2.1"})),
            )
            .await;
        assert_eq!(answer["reason"], expected, "{answer}");
    }
    assert_eq!(setup.emulator_count("/auth/v2/preauth").await, 2);
}

#[tokio::test]
async fn check_needs_the_mfa_role_and_refuses_bad_input_before_asking_duo() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.vault_method("corp").await;
    setup.ontap_profile("svm1", "safe", &[]).await;
    setup
        .state
        .store
        .create_tenant(&TenantPath::parse("svm2").unwrap())
        .await
        .unwrap();
    let body = json!({"method": "corp", "username": "alice"});
    let (status, _) = setup
        .call(Method::POST, "/v1/duogate/check", None, Some(body.clone()))
        .await;
    assert_eq!(status, 401);
    let reader = setup.token(Role::Reader, None).await;
    let (status, _) = setup
        .call(
            Method::POST,
            "/v1/duogate/check",
            Some(&reader),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 403);
    let other = setup.token(Role::Mfa, Some("svm2")).await;
    let (status, answer) = setup
        .call(
            Method::POST,
            "/v1/duogate/check",
            Some(&other),
            Some(json!({"profile": "svm1", "username": "alice"})),
        )
        .await;
    assert_eq!(status, 404, "another tenant's profile: {answer}");
    for (bad, field) in [
        (json!({"username": "alice"}), "method or profile"),
        (
            json!({"method": "corp", "profile": "cluster", "username": "alice"}),
            "method or profile",
        ),
        (json!({"method": "corp", "username": " "}), "username"),
        (
            json!({"method": "corp", "username": "alice", "factor": "sms"}),
            "factor",
        ),
        (
            json!({"method": "corp", "username": "alice", "factor": "passcode"}),
            "passcode",
        ),
        (
            json!({"method": "corp", "username": "alice", "device": "DP123"}),
            "device",
        ),
        (
            json!({"method": "corp", "username": "alice", "extra": 1}),
            "extra",
        ),
    ] {
        let (status, answer) = setup
            .call(
                Method::POST,
                "/v1/duogate/check",
                Some(&setup.root),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains(field),
            "{bad}: {answer}"
        );
    }
    let (status, _) = setup
        .call(
            Method::POST,
            "/v1/duogate/check",
            Some(&setup.root),
            Some(json!({"method": "nope", "username": "alice"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(setup.emulator_count("/auth/v2/preauth").await, 0);
}

#[tokio::test]
async fn a_status_refresh_reports_the_reachability_of_every_stored_duo_endpoint() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.vault_method("good").await;
    let keys = setup.duo.emulator.keys();
    let (status, _) = setup
        .call(
            Method::POST,
            "/v1/identity/mfa/method/duo",
            Some(&setup.root),
            Some(json!({"method_name": "wrong-key", "api_hostname": setup.duo.url, "integration_key": keys.auth_ikey, "secret_key": "y".repeat(40)})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = setup
        .call(
            Method::PUT,
            "/v1/duogate/connections/dead",
            Some(&setup.root),
            Some(json!({"api_host": "http://127.0.0.1:9", "ikey": "DIX", "skey": "z"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = setup
        .call(
            Method::GET,
            "/v1/duogate/status?refresh=true",
            Some(&setup.root),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let of = |name: &str| {
        body["reachability"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {body}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(of("good"), "OK");
    assert!(
        of("wrong-key").contains("40103") || of("wrong-key").to_lowercase().contains("signature"),
        "{body}"
    );
    assert!(of("dead").starts_with("cannot reach Duo"), "{body}");
    assert!(!body.to_string().contains(&"y".repeat(40)));
}

async fn decide_over_http(setup: &Setup, token: &str, body: Value) -> (String, String) {
    let (status, answer) = setup
        .call(
            Method::POST,
            "/v1/duogate/check",
            Some(token),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 200, "{body}: {answer}");
    (
        answer["result"].as_str().unwrap().to_string(),
        answer["reason"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn every_scripted_answer_decides_through_the_api_for_each_policy() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.vault_method("corp").await;
    setup.ontap_profile("", "safe", &[]).await;
    setup.ontap_profile("secure-svm", "secure", &[]).await;
    let mfa = setup.token(Role::Mfa, None).await;
    let cases = [
        ("approve", None, "allow", "approved"),
        ("deny", None, "deny", "denied"),
        ("timeout", None, "deny", "timeout"),
        ("fraud", None, "deny", "fraud"),
        ("bypass", None, "allow", "bypass"),
        ("not_enrolled", None, "deny", "not_enrolled"),
        ("locked_out", None, "deny", "locked_out"),
        ("deny", Some("424242"), "allow", "approved"),
        ("approve", Some("111111"), "deny", "denied"),
    ];
    for (index, (answer, passcode, result, reason)) in cases.into_iter().enumerate() {
        let username = format!("u{index}-{answer}");
        setup.emulator_user(&username, answer).await;
        for target in [
            json!({"method": "corp"}),
            json!({"profile": "cluster"}),
            json!({"profile": "secure-svm"}),
        ] {
            let mut body = target.clone();
            body["username"] = json!(username);
            if let Some(code) = passcode {
                body["passcode"] = json!(code);
            }
            let got = decide_over_http(&setup, &mfa, body).await;
            assert_eq!(
                got,
                (result.to_string(), reason.to_string()),
                "{answer} {passcode:?} {target}"
            );
        }
    }
}

#[tokio::test]
async fn a_step_up_method_is_checked_with_its_username_format() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.emulator_user("sam@corp", "approve").await;
    let keys = setup.duo.emulator.keys();
    let root = setup.root.clone();
    let (status, _) = setup
        .call(
            Method::POST,
            "/v1/sys/auth/app",
            Some(&root),
            Some(json!({"type": "trusted"})),
        )
        .await;
    assert_eq!(status, 204);
    let (_, mounts) = setup
        .call(Method::GET, "/v1/sys/auth", Some(&root), None)
        .await;
    let accessor = mounts["data"]["app/"]["accessor"].clone();
    let (status, answer) = setup
        .call(
            Method::POST,
            "/v1/sys/mfa/method/duo/sudo",
            Some(&root),
            Some(json!({"mount_accessor": accessor, "username_format": "{{alias.name}}@corp", "api_hostname": setup.duo.url,
                        "integration_key": keys.auth_ikey, "secret_key": keys.auth_skey})),
        )
        .await;
    assert_eq!(status, 204, "{answer}");
    let got = decide_over_http(&setup, &root, json!({"method": "sudo", "username": "sam"})).await;
    assert_eq!(got, ("allow".to_string(), "approved".to_string()));
}

#[tokio::test]
async fn the_fail_mode_matrix_holds_through_the_api() {
    let setup = Setup::start_with(
        Limits {
            call_timeout: Duration::from_secs(1),
            push_timeout: Duration::from_secs(10),
            poll_interval: Duration::from_millis(100),
            // Two attempts: a 429 storm outlasts the backoff after about a second.
            rate_limit_attempts: 2,
            check_deadline: Duration::from_secs(120),
        },
        RateLimits {
            per_user: 1000,
            per_source: 1000,
            window: Duration::from_secs(60),
        },
    )
    .await;
    setup.emulator_user("alice", "approve").await;
    setup.vault_method("corp").await;
    setup.ontap_profile("", "safe", &[]).await;
    setup.ontap_profile("secure-svm", "secure", &[]).await;
    let root = setup.root.clone();
    let faults = |path: &str| {
        [
            ("down", json!({"kind": "down", "paths": [path]})),
            (
                "slow past the timeout",
                json!({"kind": "delay", "ms": 1500, "paths": [path]}),
            ),
            (
                "5xx",
                json!({"kind": "status", "status": 500, "paths": [path]}),
            ),
            (
                "malformed JSON",
                json!({"kind": "malformed", "paths": [path]}),
            ),
        ]
    };
    let targets = [
        (json!({"profile": "cluster"}), ("allow", "fail_safe")),
        (json!({"profile": "secure-svm"}), ("deny", "fail_secure")),
        (json!({"method": "corp"}), ("deny", "error")),
    ];
    for (name, fault) in faults("/auth/v2/preauth") {
        setup
            .emulator_control("POST", "/_emulator/faults", fault)
            .await;
        for (target, (result, reason)) in &targets {
            let mut body = target.clone();
            body["username"] = json!("alice");
            let got = decide_over_http(&setup, &root, body).await;
            assert_eq!(
                got,
                (result.to_string(), reason.to_string()),
                "preauth {name} {target}"
            );
        }
        setup
            .emulator_control("DELETE", "/_emulator/faults", Value::Null)
            .await;
    }
    for (name, fault) in faults("/auth/v2/auth") {
        setup
            .emulator_control("POST", "/_emulator/faults", fault)
            .await;
        for (target, _) in &targets {
            let mut body = target.clone();
            body["username"] = json!("alice");
            let (result, reason) = decide_over_http(&setup, &root, body).await;
            assert_eq!(result, "deny", "auth {name} {target}: {reason}");
            assert!(
                reason == "error" || reason == "timeout",
                "auth {name} {target}: {reason}"
            );
        }
        setup
            .emulator_control("DELETE", "/_emulator/faults", Value::Null)
            .await;
    }
    // A 429 storm that outlasts the backoff ends the login in every mode (duo_unix: ABORT).
    setup
        .emulator_control(
            "POST",
            "/_emulator/faults",
            json!({"kind": "rate_limit", "every": 1, "paths": ["/auth/v2/preauth"]}),
        )
        .await;
    for (target, _) in &targets {
        let mut body = target.clone();
        body["username"] = json!("alice");
        let got = decide_over_http(&setup, &root, body).await;
        assert_eq!(
            got,
            ("deny".to_string(), "error".to_string()),
            "429 storm {target}"
        );
    }
    setup
        .emulator_control("DELETE", "/_emulator/faults", Value::Null)
        .await;
    // A rotated key (401 at check/preauth) follows fail_mode too.
    setup
        .emulator_control("POST", "/_emulator/keys/rotate", json!({}))
        .await;
    for (target, (result, reason)) in &targets {
        let mut body = target.clone();
        body["username"] = json!("alice");
        let got = decide_over_http(&setup, &root, body).await;
        assert_eq!(
            got,
            (result.to_string(), reason.to_string()),
            "rotated key {target}"
        );
    }
}

/// Polls `GET check/{txid}` until `done` accepts the answer (about 10 s at most).
async fn poll_check(setup: &Setup, txid: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let (status, polled) = setup
            .call(
                Method::GET,
                &format!("/v1/duogate/check/{txid}"),
                Some(&setup.root),
                None,
            )
            .await;
        assert_eq!(status, 200, "{polled}");
        if done(&polled) {
            return polled;
        }
        last = polled;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("check {txid} never got there; last answer: {last}");
}

#[tokio::test]
async fn factor_and_device_choices_reach_duo_as_duo_unix_menu_choices() {
    let setup = Setup::start(RateLimits {
        per_user: 100,
        per_source: 100,
        window: Duration::from_secs(60),
    })
    .await;
    let kim = setup
        .duo
        .control(
            "POST",
            "/_emulator/users",
            json!({"username": "kim", "answer": "approve", "passcodes": ["424242"]}),
        )
        .await;
    let second = setup
        .duo
        .control(
            "POST",
            "/_emulator/phones",
            json!({"user_id": kim["user_id"], "number": "+15555555678", "capabilities": ["phone", "sms"]}),
        )
        .await["phone_id"]
        .as_str()
        .unwrap()
        .to_string();
    setup.ontap_profile("", "secure", &[]).await;
    let mfa = setup.token(Role::Mfa, None).await;
    let cases = [
        (json!({}), "allow", "approved", Some("push1")),
        (
            json!({"factor": "push"}),
            "allow",
            "approved",
            Some("push1"),
        ),
        (
            json!({"factor": "auto"}),
            "allow",
            "approved",
            Some("push1"),
        ),
        (
            json!({"factor": "phone"}),
            "allow",
            "approved",
            Some("phone1"),
        ),
        (
            json!({"factor": "phone", "device": "phone2"}),
            "allow",
            "approved",
            Some("phone2"),
        ),
        (
            json!({"factor": "phone", "device": second}),
            "allow",
            "approved",
            Some("phone2"),
        ),
        (
            json!({"device": "phone2"}),
            "allow",
            "approved",
            Some("phone2"),
        ),
        (
            json!({"factor": "sms", "device": "phone2"}),
            "deny",
            "sms_sent",
            Some("sms2"),
        ),
        (
            json!({"factor": "passcode", "passcode": "424242"}),
            "allow",
            "approved",
            Some("passcode"),
        ),
        (
            json!({"factor": "push", "device": "phone2"}),
            "deny",
            "error",
            None,
        ),
        (
            json!({"factor": "phone", "device": "phone3"}),
            "deny",
            "error",
            None,
        ),
    ];
    for (extra, result, reason, choice) in cases {
        let before = setup.duo.transactions().await.len();
        let mut body = extra.clone();
        body["profile"] = json!("cluster");
        body["username"] = json!("kim");
        let got = decide_over_http(&setup, &mfa, body).await;
        assert_eq!(got, (result.to_string(), reason.to_string()), "{extra}");
        let transactions = setup.duo.transactions().await;
        match choice {
            Some(choice) => {
                let last = transactions.last().unwrap();
                assert_eq!(transactions.len(), before + 1, "{extra}");
                assert_eq!(
                    (last["factor"].as_str(), last["choice"].as_str()),
                    (Some("prompt"), Some(choice)),
                    "{extra}: {last}"
                );
            }
            None => assert_eq!(transactions.len(), before, "{extra}: Duo was not asked"),
        }
    }
    assert!(
        !setup
            .duo
            .transactions()
            .await
            .iter()
            .any(|t| t.to_string().contains("424242")),
        "a passcode was recorded"
    );
}

#[tokio::test]
async fn bad_factors_and_devices_are_refused_and_vault_methods_keep_vaults_behaviour() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.emulator_user("alice", "approve").await;
    setup.vault_method("corp").await;
    setup.ontap_profile("", "safe", &[]).await;
    for (bad, field) in [
        (json!({"profile": "cluster", "factor": "pigeon"}), "factor"),
        (json!({"profile": "cluster", "device": "DPshort"}), "device"),
        (json!({"profile": "cluster", "device": "phone0"}), "device"),
        (json!({"profile": "cluster", "device": "phone01"}), "device"),
        (
            json!({"profile": "cluster", "passcode": "424242", "device": "auto"}),
            "device",
        ),
        (json!({"method": "corp", "factor": "phone"}), "factor"),
        (json!({"method": "corp", "factor": "sms"}), "factor"),
        (json!({"method": "corp", "device": "phone2"}), "device"),
        (
            json!({"method": "corp", "factor": "push", "device": "DPABCDEFGHIJKLMNOPQR"}),
            "device",
        ),
    ] {
        let mut body = bad.clone();
        body["username"] = json!("alice");
        let (status, answer) = setup
            .call(
                Method::POST,
                "/v1/duogate/check",
                Some(&setup.root),
                Some(body),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{bad}: {answer}"
        );
    }
    assert_eq!(
        setup.emulator_count("/auth/v2/preauth").await,
        0,
        "Duo was not asked"
    );
    for factor in ["push", "auto"] {
        let got = decide_over_http(
            &setup,
            &setup.root,
            json!({"method": "corp", "username": "alice", "factor": factor, "device": "auto"}),
        )
        .await;
        assert_eq!(
            got,
            ("allow".to_string(), "approved".to_string()),
            "{factor}"
        );
    }
    let transactions = setup.duo.transactions().await;
    assert!(
        transactions
            .iter()
            .all(|t| t["factor"] == "push" && t["device"] == "auto"),
        "Vault pushes to device auto: {transactions:?}"
    );
}

#[tokio::test]
async fn an_async_check_shows_the_verified_push_code_while_waiting_then_decides() {
    // Unanswered pushes wait a minute in the emulator; the test answers them.
    let duo = Duo::start(Duration::from_secs(60)).await;
    let setup = Setup::start_with_duo(
        duo,
        Limits {
            call_timeout: Duration::from_secs(5),
            push_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            rate_limit_attempts: 7,
            check_deadline: Duration::from_secs(120),
        },
        RateLimits::default(),
    )
    .await;
    setup.emulator_user("vera", "timeout").await;
    setup
        .emulator_control(
            "POST",
            "/_emulator/users",
            json!({"username": "vic", "answer": "timeout", "verified_push": "wrong"}),
        )
        .await;
    setup.ontap_profile("", "secure", &[]).await;
    let mfa = setup.token(Role::Mfa, None).await;
    for (username, result, reason, message) in [
        ("vera", "allow", "approved", "Success. Logging you in..."),
        (
            "vic",
            "deny",
            "denied",
            "Incorrect verification code entered. Login request denied.",
        ),
    ] {
        let (status, started) = setup
            .call(
                Method::POST,
                "/v1/duogate/check",
                Some(&mfa),
                Some(json!({"profile": "cluster", "username": username, "async": true})),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let txid = started["txid"].as_str().unwrap().to_string();
        let waiting = poll_check(&setup, &txid, |v| v.get("verification_code").is_some()).await;
        let code = waiting["verification_code"].as_str().unwrap().to_string();
        assert!(
            code.len() == 3 && code.chars().all(|c| c.is_ascii_digit()),
            "{waiting}"
        );
        assert_eq!(
            waiting,
            json!({"result": "waiting", "reason": "waiting", "status": "pushed", "txid": txid,
                   "verification_code": code,
                   "status_msg": format!("Please enter verification code {code} into Duo Mobile...")})
        );
        let pushed = setup.duo.transactions().await;
        let pushed = pushed.last().unwrap();
        assert_eq!(pushed["choice"], "verified_push1", "{pushed}");
        assert_eq!(pushed["verification_code"], code.as_str(), "{pushed}");
        // The user approves in Duo Mobile, typing the code (vic types another one).
        setup
            .emulator_control(
                "POST",
                "/_emulator/transactions/answer",
                json!({"username": username, "answer": "approve"}),
            )
            .await;
        let decided = poll_check(&setup, &txid, |v| v["result"] != "waiting").await;
        assert_eq!(
            (
                decided["result"].as_str(),
                decided["reason"].as_str(),
                decided["status_msg"].as_str()
            ),
            (Some(result), Some(reason), Some(message)),
            "{decided}"
        );
        assert!(decided.get("verification_code").is_none(), "{decided}");
    }
    // A synchronous check cannot show a code, so it never asks for Verified Push.
    setup.emulator_user("sam", "approve").await;
    let got = decide_over_http(
        &setup,
        &mfa,
        json!({"profile": "cluster", "username": "sam"}),
    )
    .await;
    assert_eq!(got, ("allow".to_string(), "approved".to_string()));
    let last = setup.duo.transactions().await;
    assert_eq!(last.last().unwrap()["choice"], "push1");
}

#[tokio::test]
async fn an_async_check_is_read_only_by_callers_of_its_tenant() {
    let setup = Setup::start(RateLimits::default()).await;
    setup.emulator_user("alice", "approve").await;
    let method_id = setup.vault_method("corp").await;
    let (status, started) = setup
        .call(
            Method::POST,
            "/v1/duogate/check",
            Some(&setup.root),
            Some(json!({"method": method_id, "username": "alice", "async": true})),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let txid = started["txid"].as_str().unwrap().to_string();
    setup
        .state
        .store
        .create_tenant(&TenantPath::parse("elsewhere").unwrap())
        .await
        .unwrap();
    let outsider = setup.token(Role::Mfa, Some("elsewhere")).await;
    let unknown_txid = "00000000-0000-4000-8000-000000000000";
    let (unknown_status, unknown) = setup
        .call(
            Method::GET,
            &format!("/v1/duogate/check/{unknown_txid}"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(unknown_status, 404, "{unknown}");
    // Until and after the decision, the other tenant's caller sees exactly an unknown txid.
    let read_as_outsider = || async {
        setup
            .call(
                Method::GET,
                &format!("/v1/duogate/check/{txid}"),
                Some(&outsider),
                None,
            )
            .await
    };
    let (status, body) = read_as_outsider().await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        body.to_string().replace(&txid, unknown_txid),
        unknown.to_string()
    );
    let decided = poll_check(&setup, &txid, |body| body["result"] != "waiting").await;
    assert_eq!(decided["result"], "allow", "{decided}");
    let (status, body) = read_as_outsider().await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.to_string().contains("allow"), "{body}");
    // A caller bound to the check's own tenant reads it.
    let insider = setup.token(Role::Mfa, Some("")).await;
    let (status, body) = setup
        .call(
            Method::GET,
            &format!("/v1/duogate/check/{txid}"),
            Some(&insider),
            None,
        )
        .await;
    assert_eq!((status, &body["result"]), (200, &json!("allow")), "{body}");
}

#[tokio::test]
async fn an_async_check_whose_instance_died_ends_as_a_timeout_on_every_instance() {
    let setup = Setup::start(RateLimits::default()).await;
    let root_tenant = setup
        .state
        .store
        .tenant(&TenantPath::parse("").unwrap())
        .await
        .unwrap();
    // The job an instance recorded before dying: its deadline (plus the grace) has passed and
    // nobody will ever decide it.
    let txid = setup
        .state
        .store
        .create_check_job(&root_tenant.id, -30, 600)
        .await
        .unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        setup._dir.path().join("s.db").display()
    );
    let other = AppState::new(
        duogate_store::Store::connect(&url, support::keyring())
            .await
            .unwrap(),
        ServiceSettings::default(),
    );
    let mut answers = Vec::new();
    for state in [&setup.state, &other, &setup.state] {
        let (status, body) = support::send(
            state,
            "GET",
            &format!("/v1/duogate/check/{txid}"),
            &[("x-vault-token", setup.root.as_str())],
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        answers.push(body);
    }
    assert_eq!(answers[0]["result"], "deny", "{}", answers[0]);
    assert_eq!(answers[0]["reason"], "timeout", "{}", answers[0]);
    assert_eq!(answers[0]["txid"], txid.as_str());
    assert_eq!(answers[1], answers[0]);
    assert_eq!(answers[2], answers[0]);
    let ended: Vec<_> = setup
        .state
        .store
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "mfa.decision" && e.target == txid)
        .collect();
    assert_eq!(ended.len(), 1, "audited once: {ended:?}");
    // A decision arriving late changes nothing.
    assert!(
        setup
            .state
            .store
            .finish_check_job(&txid, &json!({"result": "allow"}))
            .await
            .is_err()
    );
    // A check still within its deadline keeps waiting.
    let fresh = setup
        .state
        .store
        .create_check_job(&root_tenant.id, 90, 600)
        .await
        .unwrap();
    let (_, body) = support::send(
        &other,
        "GET",
        &format!("/v1/duogate/check/{fresh}"),
        &[("x-vault-token", setup.root.as_str())],
        None,
    )
    .await;
    assert_eq!(body["result"], "waiting", "{body}");
}
