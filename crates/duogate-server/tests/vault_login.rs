//! Vault's two-phase login MFA through the real router against the in-process emulator:
//! `auth/{mount}/login` → `mfa_requirement` → `sys/mfa/validate` → a token that
//! `auth/token/lookup-self` describes; `X-Vault-MFA`; AND across enforcements; retries.

mod support;

use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use duogate_server::engine::Limits;
use duogate_server::engine::limiter::RateLimits;
use duogate_server::{AppState, ServiceSettings};
use duogate_store::tokens::Role;
use support::Duo;

struct Vault {
    state: AppState,
    root: String,
    mfa: String,
    duo: Duo,
    _dir: tempfile::TempDir,
}

impl Vault {
    async fn start() -> Self {
        let duo = Duo::start(Duration::from_secs(20)).await;
        let (store, root, dir) = support::store_with_root().await;
        let (mfa, _) = store.create_token(Role::Mfa, None, None).await.unwrap();
        let state = AppState::new(
            store,
            ServiceSettings {
                allow_plain_http_duo: true,
                status_refresh: None,
                ..ServiceSettings::default()
            },
        )
        .with_engine(
            Limits {
                call_timeout: Duration::from_secs(5),
                push_timeout: Duration::from_secs(30),
                poll_interval: Duration::from_millis(100),
                rate_limit_attempts: 7,
                check_deadline: Duration::from_secs(120),
            },
            RateLimits::default(),
        );
        Self {
            state,
            root,
            mfa: mfa.expose_secret().to_string(),
            duo,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        mfa_headers: &[&str],
    ) -> (u16, Value) {
        let mut headers: Vec<(&str, &str)> =
            token.map(|t| ("x-vault-token", t)).into_iter().collect();
        headers.extend(mfa_headers.iter().map(|h| ("x-vault-mfa", *h)));
        support::send(&self.state, method, &format!("/v1/{path}"), &headers, body).await
    }

    async fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self
            .call(method, path, Some(&self.root), Some(body.clone()), &[])
            .await;
        assert!(
            status == 200 || status == 204,
            "{method} {path} {body}: {status} {answer}"
        );
        answer
    }

    async fn user(&self, username: &str, answer: &str) {
        self.duo.user(username, answer, &["424242"]).await;
    }

    /// A trusted mount, a Duo method and an enforcement on the mount; returns (accessor, method id).
    async fn setup(&self, username_format: &str) -> (String, String) {
        self.admin("POST", "sys/auth/app", json!({"type": "trusted"}))
            .await;
        let mounts = self.admin("GET", "sys/auth", json!({})).await;
        let accessor = mounts["data"]["app/"]["accessor"]
            .as_str()
            .unwrap()
            .to_string();
        let keys = self.duo.emulator.keys();
        let created = self
            .admin(
                "POST",
                "identity/mfa/method/duo",
                json!({"method_name": "corp", "api_hostname": self.duo.url, "integration_key": keys.auth_ikey,
                       "secret_key": keys.auth_skey, "username_format": username_format}),
            )
            .await;
        let method_id = created["data"]["method_id"].as_str().unwrap().to_string();
        self.admin(
            "POST",
            "identity/mfa/login-enforcement/e1",
            json!({"mfa_method_ids": [method_id], "auth_method_accessors": [accessor]}),
        )
        .await;
        (accessor, method_id)
    }

    async fn login(&self, username: &str) -> Value {
        let (status, answer) = self
            .call(
                "POST",
                "auth/app/login",
                Some(&self.mfa),
                Some(json!({"username": username, "entity_name": username})),
                &[],
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

fn request_id(login: &Value) -> String {
    login["auth"]["mfa_requirement"]["mfa_request_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_login_needs_mfa_and_validate_returns_a_token_lookup_self_describes() {
    let vault = Vault::start().await;
    vault.user("alice", "approve").await;
    let (_, method_id) = vault.setup("").await;
    // The default Duo username is the entity name: name the entity "alice".
    let (status, login) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(json!({"username": "alice", "entity_name": "alice"})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["auth"]["client_token"], "");
    assert_eq!(
        login["warnings"][0].as_str().unwrap().split('.').next(),
        Some("A login request was issued that is subject to MFA validation")
    );
    let constraint = &login["auth"]["mfa_requirement"]["mfa_constraints"]["e1"]["any"][0];
    assert_eq!(
        constraint,
        &json!({"type": "duo", "id": method_id, "name": "corp"}),
        "uses_passcode is omitted when false"
    );
    let id = request_id(&login);
    let (status, done) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {method_id.clone(): [""]}})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let token = done["auth"]["client_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("dg."));
    assert_eq!(done["auth"]["policies"], json!(["default"]));
    let (status, me) = vault
        .call("GET", "auth/token/lookup-self", Some(&token), None, &[])
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["display_name"], "app-alice");
    assert_eq!(me["data"]["entity_id"], done["auth"]["entity_id"]);
    assert_eq!(me["data"]["policies"], json!(["default"]));
    assert_eq!(me["data"]["id"], "", "lookup-self never echoes the token");
    // Single use.
    let (status, again) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {method_id: [""]}})),
            &[],
        )
        .await;
    assert_eq!(
        (status, again),
        (400, json!({"errors": ["invalid request ID"]}))
    );
    // The login token can look itself up and nothing more.
    let (status, _) = vault
        .call("LIST", "identity/mfa/method/duo", Some(&token), None, &[])
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_failed_validation_keeps_the_request_for_a_retry() {
    let vault = Vault::start().await;
    vault.user("bob", "deny").await;
    let (accessor, method_id) = vault.setup("{{identity.entity.aliases.ACC.name}}").await;
    // Point the template at the real accessor.
    let keys = vault.duo.emulator.keys();
    vault
        .admin(
            "POST",
            &format!("identity/mfa/method/duo/{method_id}"),
            json!({"api_hostname": vault.duo.url, "integration_key": keys.auth_ikey, "secret_key": keys.auth_skey,
                   "username_format": format!("{{{{identity.entity.aliases.{accessor}.name}}}}")}),
        )
        .await;
    let id = request_id(&vault.login("bob").await);
    let (status, refused) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {"corp": []}})),
            &[],
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    let text = refused["errors"][0].as_str().unwrap();
    assert!(text.starts_with("failed to satisfy enforcement e1. error: 2 errors occurred:\n\t* duo authentication failed: "), "{text}");
    assert!(
        text.ends_with(&format!(
            "\t* login MFA validation failed for methodID: [{method_id}]\n\n"
        )),
        "{text}"
    );
    let (status, done) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {"corp": ["passcode=424242"]}})),
            &[],
        )
        .await;
    assert_eq!(
        status, 200,
        "the same request id works after a failure: {done}"
    );
}

#[tokio::test]
async fn validate_refuses_malformed_requests() {
    let vault = Vault::start().await;
    vault.user("carol", "approve").await;
    let (_, method_id) = vault.setup("").await;
    let id = request_id(&vault.login("carol").await);
    for (body, status, error) in [
        (json!({"mfa_payload": {}}), 400, "missing request ID"),
        (
            json!({"mfa_request_id": "nope", "mfa_payload": {method_id.clone(): []}}),
            400,
            "invalid request ID",
        ),
        (
            json!({"mfa_request_id": id, "mfa_payload": {method_id.clone(): "123456"}}),
            400,
            "invalid mfa payload",
        ),
        (json!({"mfa_request_id": id}), 400, "missing mfa payload"),
    ] {
        let (got, answer) = vault
            .call("POST", "sys/mfa/validate", None, Some(body.clone()), &[])
            .await;
        assert_eq!(
            (got, answer),
            (status, json!({"errors": [error]})),
            "{body}"
        );
    }
    let (status, answer) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {"other": []}})),
            &[],
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        answer["errors"][0]
            .as_str()
            .unwrap()
            .contains("failed to find MFA credentials associated with an MFA method ID"),
        "{answer}"
    );
    let (status, bad_cred) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {"corp": ["foo=bar"]}})),
            &[],
        )
        .await;
    assert_eq!(status, 403);
    assert!(
        bad_cred["errors"][0]
            .as_str()
            .unwrap()
            .contains("found an invalid MFA cred: foo=bar"),
        "{bad_cred}"
    );
    // Still usable after all that.
    let (status, _) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {"corp": []}})),
            &[],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn logins_without_a_matching_enforcement_get_the_auth_block_at_once() {
    let vault = Vault::start().await;
    vault
        .admin("POST", "sys/auth/plain", json!({"type": "trusted"}))
        .await;
    let (status, login) = vault
        .call(
            "POST",
            "auth/plain/login",
            Some(&vault.mfa),
            Some(json!({"username": "dave"})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert!(
        login["auth"]["client_token"]
            .as_str()
            .unwrap()
            .starts_with("dg.")
    );
    assert_eq!(login["auth"]["mfa_requirement"], Value::Null);
}

#[tokio::test]
async fn the_mfa_header_runs_the_methods_inline() {
    let vault = Vault::start().await;
    vault.user("erin", "approve").await;
    vault.user("frank", "deny").await;
    vault.setup("{{identity.entity.aliases.NOPE.name}}").await;
    // A template that cannot render fails the method: permission denied.
    let (status, answer) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(json!({"username": "erin"})),
            &["corp"],
        )
        .await;
    assert_eq!(
        (status, answer),
        (403, json!({"errors": ["permission denied"]}))
    );
    let vault = Vault::start().await;
    vault.user("erin", "approve").await;
    vault.user("frank", "deny").await;
    vault.setup("").await;
    let login = |who: &'static str| json!({"username": who, "entity_name": who});
    let (status, ok) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(login("erin")),
            &["corp"],
        )
        .await;
    assert_eq!(status, 200, "{ok}");
    assert!(
        ok["auth"]["client_token"]
            .as_str()
            .unwrap()
            .starts_with("dg.")
    );
    let (status, denied) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(login("frank")),
            &["corp"],
        )
        .await;
    assert_eq!(
        (status, denied),
        (403, json!({"errors": ["permission denied"]}))
    );
    let (status, passcode) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(login("frank")),
            &["corp:424242"],
        )
        .await;
    assert_eq!(status, 200, "{passcode}");
    let (status, malformed) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(login("frank")),
            &["corp:"],
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        malformed["errors"][0]
            .as_str()
            .unwrap()
            .ends_with("missing method value")
    );
}

#[tokio::test]
async fn every_matching_enforcement_must_pass() {
    let vault = Vault::start().await;
    vault.user("gina", "approve").await;
    let (_, first) = vault.setup("").await;
    let keys = vault.duo.emulator.keys();
    let second = vault
        .admin(
            "POST",
            "identity/mfa/method/duo",
            json!({"method_name": "second", "api_hostname": vault.duo.url, "integration_key": keys.auth_ikey, "secret_key": keys.auth_skey, "use_passcode": true}),
        )
        .await["data"]["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    vault
        .admin(
            "POST",
            "identity/mfa/login-enforcement/e2",
            json!({"mfa_method_ids": [second], "auth_method_types": ["trusted"]}),
        )
        .await;
    let (_, login) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(json!({"username": "gina", "entity_name": "gina"})),
            &[],
        )
        .await;
    let constraints = &login["auth"]["mfa_requirement"]["mfa_constraints"];
    assert_eq!(
        constraints["e2"]["any"][0]["uses_passcode"], true,
        "{constraints}"
    );
    let id = request_id(&login);
    let (status, only_one) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {first.clone(): []}})),
            &[],
        )
        .await;
    assert_eq!(status, 403, "{only_one}");
    assert!(
        only_one["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("failed to satisfy enforcement e2."),
        "{only_one}"
    );
    let (status, both) = vault
        .call(
            "POST",
            "sys/mfa/validate",
            None,
            Some(json!({"mfa_request_id": id, "mfa_payload": {first: [], "second": ["424242"]}})),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{both}");
}

#[tokio::test]
async fn login_needs_the_mfa_role() {
    let vault = Vault::start().await;
    vault.setup("").await;
    let (reader, _) = vault
        .state
        .store
        .create_token(Role::Reader, None, None)
        .await
        .unwrap();
    for token in [None, Some("dg.nope"), Some(reader.expose_secret())] {
        let (status, answer) = vault
            .call(
                "POST",
                "auth/app/login",
                token,
                Some(json!({"username": "x"})),
                &[],
            )
            .await;
        assert_eq!(
            (status, answer),
            (403, json!({"errors": ["permission denied"]})),
            "{token:?}"
        );
    }
    let (status, answer) = vault
        .call(
            "POST",
            "auth/app/login",
            Some(&vault.mfa),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(
        (status, answer),
        (400, json!({"errors": ["missing username"]}))
    );
    let (status, _) = vault
        .call(
            "POST",
            "auth/nosuch/login",
            Some(&vault.mfa),
            Some(json!({"username": "x"})),
            &[],
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn enforcements_select_by_entity_and_group_and_others_log_in_without_mfa() {
    let vault = Vault::start().await;
    vault.user("ivy", "approve").await;
    let (_, method_id) = vault.setup("").await;
    // Replace the mount-wide enforcement by one for an entity and one for a group.
    let (status, _) = vault
        .call(
            "DELETE",
            "identity/mfa/login-enforcement/e1",
            Some(&vault.root),
            None,
            &[],
        )
        .await;
    assert_eq!(status, 204);
    vault
        .admin(
            "POST",
            "identity/mfa/login-enforcement/by-entity",
            json!({"mfa_method_ids": [method_id], "identity_entity_ids": ["ent-ivy"]}),
        )
        .await;
    vault
        .admin(
            "POST",
            "identity/mfa/login-enforcement/by-group",
            json!({"mfa_method_ids": [method_id], "identity_group_ids": ["admins"]}),
        )
        .await;
    let vault = &vault;
    let login = |body: Value| async move {
        let (status, answer) = vault
            .call("POST", "auth/app/login", Some(&vault.mfa), Some(body), &[])
            .await;
        assert_eq!(status, 200, "{answer}");
        answer["auth"]["mfa_requirement"]["mfa_constraints"]
            .as_object()
            .map(|c| c.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(
        login(json!({"username": "ivy", "entity_id": "ent-ivy"})).await,
        vec!["by-entity"]
    );
    assert_eq!(
        login(json!({"username": "jo", "group_ids": ["admins"]})).await,
        vec!["by-group"]
    );
    assert_eq!(
        login(json!({"username": "ivy", "entity_id": "ent-ivy", "group_ids": ["admins"]})).await,
        vec!["by-entity", "by-group"]
    );
    assert!(
        login(json!({"username": "kim", "group_ids": ["staff"]}))
            .await
            .is_empty(),
        "no enforcement matches kim"
    );
}
