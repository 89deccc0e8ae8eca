//! The ONTAP dialect through the real router, with an in-process Duo emulator behind every
//! profile's `status`: envelopes and status codes, `Location`, `fields`/filters/`order_by`/
//! paging, validation codes, 409s, `fingerprint` and `status`, the status refresher, the
//! access matrix on every route (credentials, roles, tenants), and that every rejected request
//! leaves the stored state as it was.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};
use sha2::Digest as _;
use tower::ServiceExt as _;

use duo_emulator::{Emulator, EmulatorConfig, KeySet};
use duogate_server::{AppState, ServiceSettings, app, ontap};
use duogate_store::tenants::TenantPath;
use duogate_store::tokens::Role;
use duogate_store::{Keyring, SealKey, Store};

const PROFILES: &str = "/api/security/authentication/duo/profiles";
const GROUPS: &str = "/api/security/authentication/duo/groups";
const SVMS: &str = "/api/svm/svms";
const ADMIN_PASSWORD: &str = "ontap-admin-password";

/// Who a request claims to be.
#[derive(Debug, Clone, Copy)]
enum Auth<'a> {
    Nobody,
    Basic(&'a str, &'a str),
    Bearer(&'a str),
}

/// An answer, with its body parsed when it is JSON.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    text: String,
    json: Value,
}

struct Service {
    state: AppState,
    emulator: Emulator,
    duo_url: String,
    root_id: String,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start() -> Self {
        Self::start_with(true).await
    }

    async fn start_with(allow_plain_http_duo: bool) -> Self {
        let emulator = Emulator::new(EmulatorConfig {
            seed: "users=2".parse().unwrap(),
            ..Default::default()
        })
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let duo_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(emulator.clone().serve(listener, std::future::pending()));
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
        let store = Store::connect(&url, Keyring::new(SealKey::generate()))
            .await
            .unwrap();
        store
            .create_account(
                "ontap-admin",
                &SecretString::from(ADMIN_PASSWORD),
                Role::Admin,
                None,
            )
            .await
            .unwrap();
        let root_id = store.root_tenant().await.unwrap().id;
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
            emulator,
            duo_url,
            root_id,
            _dir: dir,
        }
    }

    fn admin(&self) -> Auth<'static> {
        Auth::Basic("ontap-admin", ADMIN_PASSWORD)
    }

    fn keys(&self) -> KeySet {
        self.emulator.keys()
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        auth: Auth<'_>,
        body: Option<String>,
        accept: Option<&str>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        match auth {
            Auth::Nobody => {}
            Auth::Basic(user, password) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                request = request.header("Authorization", format!("Basic {encoded}"));
            }
            Auth::Bearer(token) => {
                request = request.header("Authorization", format!("Bearer {token}"));
            }
        }
        if let Some(accept) = accept {
            request = request.header("Accept", accept);
        }
        let request = request
            .header("Content-Type", "application/json")
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    async fn call(&self, method: Method, uri: &str, auth: Auth<'_>, body: Option<Value>) -> Reply {
        self.send(method, uri, auth, body.map(|b| b.to_string()), None)
            .await
    }

    async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, self.admin(), None).await
    }

    async fn tenant(&self, path: &str) -> String {
        self.state
            .store
            .create_tenant(&TenantPath::parse(path).unwrap())
            .await
            .unwrap()
            .id
    }

    async fn account(&self, name: &str, role: Role, tenant: Option<&str>) -> String {
        let password = format!("{name}-password-long");
        self.state
            .store
            .create_account(name, &SecretString::from(password.clone()), role, tenant)
            .await
            .unwrap();
        password
    }

    async fn token(&self, role: Role, tenant: Option<&str>) -> String {
        let (secret, _) = self
            .state
            .store
            .create_token(role, tenant, None)
            .await
            .unwrap();
        secret.expose_secret().to_string()
    }

    /// A profile body with the emulator's Auth API keys (owner added by the caller).
    fn profile_body(&self) -> Value {
        let keys = self.keys();
        json!({
            "api_host": self.duo_url,
            "integration_key": keys.auth_ikey,
            "secret_key": keys.auth_skey,
        })
    }

    async fn create_profile(&self, owner_uuid: &str, extra: Value) -> Reply {
        let mut body = self.profile_body();
        body["owner"] = json!({"uuid": owner_uuid});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let reply = self
            .call(Method::POST, PROFILES, self.admin(), Some(body))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply
    }

    async fn create_group(&self, owner_uuid: &str, name: &str, excluded: &[&str]) -> Reply {
        let body = json!({"owner": {"uuid": owner_uuid}, "name": name, "excluded_users": excluded});
        let reply = self
            .call(Method::POST, GROUPS, self.admin(), Some(body))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply
    }

    /// Everything the dialect stores, as an admin sees it, plus the audit log's length.
    async fn snapshot(&self) -> Value {
        let profiles = self.get(&format!("{PROFILES}?fields=*")).await;
        let groups = self.get(&format!("{GROUPS}?fields=*")).await;
        assert_eq!((profiles.status, groups.status), (200, 200));
        let audit = self.state.store.recent_audit(1000).await.unwrap().len();
        json!({"profiles": profiles.json["records"], "groups": groups.json["records"], "audit": audit})
    }

    /// Rotates the emulator's secret keys (the old ones then fail with 40103).
    async fn rotate_duo_keys(&self) {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/_emulator/keys/rotate")
            .body(Body::empty())
            .unwrap();
        let response = self.emulator.router().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

fn error_code(reply: &Reply) -> (u16, String, String) {
    (
        reply.status,
        reply.json["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        reply.json["error"]["target"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

fn owner_names(reply: &Reply) -> Vec<String> {
    reply.json["records"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["owner"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn post_answers_201_with_location_and_an_empty_body_and_get_shows_the_profile() {
    let svc = Service::start().await;
    let reply = svc
        .call(
            Method::POST,
            PROFILES,
            svc.admin(),
            Some(svc.profile_body()),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.text, "{}");
    let location = format!("{PROFILES}/{}", svc.root_id);
    assert_eq!(reply.headers["location"], location.as_str());
    assert_eq!(reply.headers["content-type"], "application/hal+json");
    assert_eq!(
        reply.headers["cache-control"],
        "no-cache,no-store,must-revalidate"
    );

    let shown = svc.get(&location).await;
    assert_eq!(shown.status, 200);
    assert!(shown.text.starts_with('{'), "{}", shown.text);
    let keys = svc.keys();
    assert_eq!(
        shown.json,
        json!({
            "owner": {"uuid": svc.root_id, "name": "cluster", "_links": {"self": {"href": format!("{SVMS}/{}", svc.root_id)}}},
            "api_host": svc.duo_url,
            "integration_key": keys.auth_ikey,
            "fingerprint": sha256_hex(&keys.auth_skey),
            "is_enabled": true,
            "auto_push": false,
            "push_info": false,
            "fail_mode": "safe",
            "max_prompts": 1,
            "status": "OK",
            "_links": {"self": {"href": location}},
        })
    );
    assert!(!shown.text.contains(&keys.auth_skey));

    let selected = svc.get(&format!("{location}?fields=fail_mode")).await;
    assert_eq!(selected.json["fail_mode"], "safe");
    assert!(selected.json.get("api_host").is_none());
    assert_eq!(selected.json["owner"]["name"], "cluster");
    let secret = svc.get(&format!("{location}?fields=secret_key")).await;
    assert_eq!(error_code(&secret), (400, "2".into(), "fields".into()));
}

#[tokio::test]
async fn return_records_answers_the_created_records() {
    let svc = Service::start().await;
    let mut body = svc.profile_body();
    body["comment"] = json!("lab");
    body["max_prompts"] = json!(2);
    let reply = svc
        .call(
            Method::POST,
            &format!("{PROFILES}?return_records=true"),
            svc.admin(),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json["num_records"], 1);
    let record = &reply.json["records"][0];
    assert_eq!(record["owner"]["uuid"], svc.root_id.as_str());
    assert_eq!(
        (record["comment"].clone(), record["max_prompts"].clone()),
        (json!("lab"), json!(2))
    );
    assert_eq!(record["status"], "OK");
    assert!(!reply.text.contains(&svc.keys().auth_skey));

    let group = svc
        .call(
            Method::POST,
            &format!("{GROUPS}?return_records=true"),
            svc.admin(),
            Some(json!({"name": "admins", "excluded_users": ["break-glass"]})),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.text);
    assert_eq!(
        group.json["records"][0]["excluded_users"],
        json!(["break-glass"])
    );
    assert_eq!(
        group.headers["location"],
        format!("{GROUPS}/{}/admins", svc.root_id).as_str()
    );
}

#[tokio::test]
async fn a_second_profile_for_an_owner_is_409_and_changes_nothing() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&vs0, json!({"comment": "first"})).await;
    let before = svc.snapshot().await;
    let mut body = svc.profile_body();
    body["owner.name"] = json!("vs0");
    body["comment"] = json!("second");
    let reply = svc
        .call(Method::POST, PROFILES, svc.admin(), Some(body))
        .await;
    assert_eq!(error_code(&reply), (409, "1".into(), "owner.uuid".into()));
    assert!(
        reply.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("vs0")
    );
    assert_eq!(svc.snapshot().await, before);
    // Another owner may still have one.
    svc.create_profile(&svc.root_id, json!({})).await;
}

#[tokio::test]
async fn invalid_profile_bodies_get_ontap_codes_and_change_nothing() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&vs0, json!({})).await;
    let before = svc.snapshot().await;
    let base = svc.profile_body();
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body.to_string()
    };
    let without = |key: &str| {
        let mut body = base.clone();
        body.as_object_mut().unwrap().remove(key);
        body.to_string()
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (with("max_prompts", json!(0)), "2", "max_prompts"),
        (with("max_prompts", json!(4)), "2", "max_prompts"),
        (with("max_prompts", json!("2")), "2", "max_prompts"),
        (with("fail_mode", json!("fast")), "2", "fail_mode"),
        (with("is_enabled", json!("yes")), "2", "is_enabled"),
        (with("auto_push", json!(2)), "2", "auto_push"),
        (with("colour", json!("red")), "262179", "colour"),
        (with("fingerprint", json!("00")), "2", "fingerprint"),
        (with("status", json!("OK")), "2", "status"),
        (with("api_host", json!("https://h/path")), "2", "api_host"),
        (with("api_host", json!(7)), "2", "api_host"),
        (
            with("integration_key", json!("not a key")),
            "2",
            "integration_key",
        ),
        (
            with("secret_key", json!("has spaces in it")),
            "2",
            "secret_key",
        ),
        (
            with("http_proxy", json!("http://user:pw@proxy:3128")),
            "2",
            "http_proxy",
        ),
        (with("comment", json!("x".repeat(1025))), "2", "comment"),
        (
            with("owner", json!({"uuid": uuid::Uuid::now_v7().to_string()})),
            "2",
            "owner.uuid",
        ),
        (with("owner", json!({"name": "nope"})), "2", "owner.name"),
        (
            with("owner", json!({"uuid": "not-a-uuid"})),
            "2",
            "owner.uuid",
        ),
        (
            with("owner", json!({"colour": "red"})),
            "262179",
            "owner.colour",
        ),
        (with("owner", json!("vs0")), "2", "owner"),
        (without("api_host"), "2", "api_host"),
        (
            with("api_host", json!("a".repeat(100_000))),
            "2",
            "api_host",
        ),
        (
            with("api_host", json!("api-x duosecurity.com")),
            "2",
            "api_host",
        ),
        (
            with("http_proxy", json!("a".repeat(100_000))),
            "2",
            "http_proxy",
        ),
        (
            with("http_proxy", json!(format!("{}:3128", "p".repeat(254)))),
            "2",
            "http_proxy",
        ),
        (without("integration_key"), "2", "integration_key"),
        (without("secret_key"), "2", "secret_key"),
    ];
    for (body, code, target) in cases {
        let reply = svc
            .send(
                Method::POST,
                PROFILES,
                svc.admin(),
                Some(body.clone()),
                None,
            )
            .await;
        assert_eq!(
            error_code(&reply),
            (400, code.to_string(), target.to_string()),
            "{body}: {}",
            reply.text
        );
        assert!(!reply.text.contains("has spaces in it"));
        assert!(reply.text.len() < 1000, "the value is not echoed");
    }
    // Group names may hold `/` (Active Directory names), but not control characters, nor be
    // `..` or longer than 256 characters.
    for name in [
        "a\nb".to_string(),
        "..".into(),
        "x\u{0}".into(),
        "g".repeat(257),
    ] {
        let body = json!({"owner": {"uuid": vs0}, "name": name});
        let reply = svc
            .call(Method::POST, GROUPS, svc.admin(), Some(body))
            .await;
        assert_eq!(error_code(&reply).0, 400, "{name:.20?}: {}", reply.text);
        assert!(reply.json["error"]["message"].is_string(), "{}", reply.text);
    }
    for (body, what) in [
        ("", "empty"),
        ("[1]", "not an object"),
        ("{\"api_host\":", "not JSON"),
    ] {
        let reply = svc
            .send(Method::POST, PROFILES, svc.admin(), Some(body.into()), None)
            .await;
        assert_eq!(
            (reply.status, reply.json["error"]["code"].clone()),
            (400, json!("2")),
            "{what}"
        );
    }
    let unknown_query = svc
        .call(
            Method::POST,
            &format!("{PROFILES}?colour=red"),
            svc.admin(),
            Some(base.clone()),
        )
        .await;
    assert_eq!(error_code(&unknown_query).1, "262179");
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn invalid_patches_are_refused_and_change_nothing() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&vs0, json!({"comment": "keep"})).await;
    svc.create_group(&vs0, "ops", &["u1"]).await;
    let before = svc.snapshot().await;
    let profile = format!("{PROFILES}/{vs0}");
    let group = format!("{GROUPS}/{vs0}/ops");
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (&profile, json!({"max_prompts": 9}), "2", "max_prompts"),
        (&profile, json!({"fail_mode": "open"}), "2", "fail_mode"),
        (
            &profile,
            json!({"comment": "x", "colour": 1}),
            "262179",
            "colour",
        ),
        (
            &profile,
            json!({"owner": {"uuid": svc.root_id}}),
            "2",
            "owner",
        ),
        (
            &profile,
            json!({"owner": {"name": "cluster"}}),
            "2",
            "owner",
        ),
        (&profile, json!({"status": "OK"}), "2", "status"),
        (
            &group,
            json!({"excluded_users": "u2"}),
            "2",
            "excluded_users",
        ),
        (
            &group,
            json!({"excluded_users": ["a", "a"]}),
            "2",
            "excluded_users",
        ),
        (&group, json!({"name": "renamed"}), "2", "name"),
        (&group, json!({"colour": 1}), "262179", "colour"),
    ];
    for (path, body, code, target) in cases {
        let reply = svc
            .call(Method::PATCH, path, svc.admin(), Some(body.clone()))
            .await;
        assert_eq!(
            error_code(&reply),
            (400, code.to_string(), target.to_string()),
            "{path} {body}: {}",
            reply.text
        );
    }
    let with_query = svc
        .call(
            Method::PATCH,
            &format!("{profile}?return_records=true"),
            svc.admin(),
            Some(json!({"comment": "x"})),
        )
        .await;
    assert_eq!(error_code(&with_query).1, "262179");
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn plain_http_duo_hosts_are_refused_unless_the_server_allows_them() {
    let svc = Service::start_with(false).await;
    let reply = svc
        .call(
            Method::POST,
            PROFILES,
            svc.admin(),
            Some(svc.profile_body()),
        )
        .await;
    assert_eq!(error_code(&reply), (400, "2".into(), "api_host".into()));
    assert!(
        reply.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("plain http")
    );
    assert_eq!(svc.snapshot().await["profiles"], json!([]));
}

#[tokio::test]
async fn collections_show_keys_by_default_and_honour_fields_filters_order_and_paging() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    let vs1 = svc.tenant("vs1").await;
    svc.create_profile(&svc.root_id, json!({})).await;
    svc.create_profile(
        &vs0,
        json!({"fail_mode": "secure", "max_prompts": 2, "auto_push": true}),
    )
    .await;
    svc.create_profile(
        &vs1,
        json!({"fail_mode": "secure", "max_prompts": 3, "comment": "Lab SVM", "is_enabled": 0}),
    )
    .await;

    let keys_only = svc.get(PROFILES).await;
    assert_eq!(keys_only.json["num_records"], 3);
    assert_eq!(keys_only.json["_links"]["self"]["href"], PROFILES);
    for record in keys_only.json["records"].as_array().unwrap() {
        let mut fields: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort();
        assert_eq!(fields, ["_links", "owner"], "{record}");
    }

    let all = svc.get(&format!("{PROFILES}?fields=*")).await;
    assert_eq!(all.json["records"][1]["fail_mode"], "secure");
    assert_eq!(all.json["records"][1]["status"], "OK");

    let filtered = |query: String| {
        let svc = &svc;
        async move { owner_names(&svc.get(&format!("{PROFILES}?{query}")).await) }
    };
    assert_eq!(filtered("fail_mode=secure".into()).await, ["vs0", "vs1"]);
    assert_eq!(filtered("fail_mode=!secure".into()).await, ["cluster"]);
    assert_eq!(
        filtered("max_prompts=%3E%3D2&auto_push=False".into()).await,
        ["vs1"]
    );
    assert_eq!(filtered("is_enabled=false".into()).await, ["vs1"]);
    assert_eq!(filtered("comment=lab*".into()).await, ["vs1"]);
    assert_eq!(filtered("comment=null".into()).await, ["cluster", "vs0"]);
    assert_eq!(filtered("owner.name=vs*".into()).await, ["vs0", "vs1"]);
    assert_eq!(
        filtered("owner.name=cluster%7Cvs1".into()).await,
        ["cluster", "vs1"]
    );
    assert_eq!(filtered(format!("owner.uuid={vs0}")).await, ["vs0"]);
    assert_eq!(
        filtered("order_by=max_prompts%20desc".into()).await,
        ["vs1", "vs0", "cluster"]
    );
    assert_eq!(
        filtered("order_by=fail_mode%20desc,owner.name%20desc".into()).await,
        ["vs1", "vs0", "cluster"]
    );

    // Paging: follow `_links.next` until it is absent.
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{PROFILES}?fields=%2A&order_by=owner.name&max_records=2"
    ));
    while let Some(uri) = next.take() {
        let page = svc.get(&uri).await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.json["num_records"].as_u64().unwrap() <= 2);
        assert_eq!(page.json["_links"]["self"]["href"], uri.as_str());
        for record in page.json["records"].as_array().unwrap() {
            assert!(record.get("fail_mode").is_some());
            seen.push(record["owner"]["name"].as_str().unwrap().to_string());
        }
        next = page.json["_links"]["next"]["href"]
            .as_str()
            .map(str::to_string);
    }
    assert_eq!(seen, ["cluster", "vs0", "vs1"]);

    let count = svc
        .get(&format!("{PROFILES}?return_records=false&fail_mode=secure"))
        .await;
    assert_eq!(count.json["num_records"], 2);
    assert!(count.json.get("records").is_none());

    for (query, code, target) in [
        ("colour=red", "262179", "colour"),
        ("secret_key=x", "262179", "secret_key"),
        ("fail_mode=fast", "2", "fail_mode"),
        ("max_prompts=many", "2", "max_prompts"),
        ("max_records=0", "2", "max_records"),
        ("order_by=colour", "2", "order_by"),
        ("fields=colour", "2", "fields"),
        ("return_records=perhaps", "2", "return_records"),
    ] {
        let reply = svc.get(&format!("{PROFILES}?{query}")).await;
        assert_eq!(
            error_code(&reply),
            (400, code.to_string(), target.to_string()),
            "{query}"
        );
    }
}

#[tokio::test]
async fn accept_application_json_drops_hal_links_but_keeps_next() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&svc.root_id, json!({})).await;
    svc.create_profile(&vs0, json!({})).await;
    let reply = svc
        .send(
            Method::GET,
            &format!("{PROFILES}?max_records=1"),
            svc.admin(),
            None,
            Some("application/json"),
        )
        .await;
    assert_eq!(reply.headers["content-type"], "application/json");
    assert_eq!(
        reply.json["records"][0],
        json!({"owner": {"uuid": svc.root_id, "name": "cluster"}})
    );
    assert_eq!(
        reply.json["_links"],
        json!({"next": {"href": format!("{PROFILES}?max_records=1&start.index=1")}})
    );
}

#[tokio::test]
async fn patch_changes_only_the_fields_given_and_rechecks_status() {
    let svc = Service::start().await;
    svc.create_profile(
        &svc.root_id,
        json!({"comment": "before", "fail_mode": "secure"}),
    )
    .await;
    let path = format!("{PROFILES}/{}", svc.root_id);
    let original = svc.get(&path).await.json;

    let reply = svc
        .call(
            Method::PATCH,
            &path,
            svc.admin(),
            Some(json!({"comment": "after", "auto_push": true, "owner": {"uuid": svc.root_id}})),
        )
        .await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "{}"));
    let patched = svc.get(&path).await.json;
    let mut expected = original.clone();
    expected["comment"] = json!("after");
    expected["auto_push"] = json!(true);
    assert_eq!(patched, expected);

    // A wrong secret key is stored (sealed) and the status says what Duo answered.
    let wrong = "0123456789012345678901234567890123456789";
    let reply = svc
        .call(
            Method::PATCH,
            &path,
            svc.admin(),
            Some(json!({"secret_key": wrong})),
        )
        .await;
    assert_eq!(reply.status, 200);
    let broken = svc.get(&path).await.json;
    assert_eq!(broken["fingerprint"], sha256_hex(wrong));
    assert_eq!(
        broken["status"],
        "Duo refused the request: 401 40103 Invalid signature in request credentials"
    );
    assert!(!broken.to_string().contains(wrong));

    // Clearing the comment and fixing the key.
    let reply = svc
        .call(
            Method::PATCH,
            &path,
            svc.admin(),
            Some(json!({"secret_key": svc.keys().auth_skey, "comment": null})),
        )
        .await;
    assert_eq!(reply.status, 200);
    let fixed = svc.get(&path).await.json;
    assert_eq!(fixed["status"], "OK");
    assert!(fixed.get("comment").is_none());
    assert_eq!(fixed["fingerprint"], original["fingerprint"]);
}

#[tokio::test]
async fn delete_answers_an_empty_body_and_the_profile_is_then_gone() {
    let svc = Service::start().await;
    svc.create_profile(&svc.root_id, json!({})).await;
    let path = format!("{PROFILES}/{}", svc.root_id);
    let reply = svc
        .call(Method::DELETE, &path, svc.admin(), Some(json!({})))
        .await;
    assert_eq!((reply.status, reply.text.as_str()), (200, "{}"));
    let gone = svc.get(&path).await;
    assert_eq!(gone.status, 404);
    assert_eq!(
        gone.text,
        r#"{"error":{"code":"4","message":"entry doesn't exist","target":"uuid"}}"#
    );
    let again = svc.call(Method::DELETE, &path, svc.admin(), None).await;
    assert_eq!(error_code(&again), (404, "4".into(), "uuid".into()));
    // The owner may have a profile again.
    svc.create_profile(&svc.root_id, json!({})).await;
}

#[tokio::test]
async fn status_is_the_duo_error_text_for_a_wrong_key_and_the_transport_text_when_unreachable() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    let vs1 = svc.tenant("vs1").await;
    svc.create_profile(
        &vs0,
        json!({"secret_key": "ffffffffffffffffffffffffffffffffffffffff"}),
    )
    .await;
    // A port nothing listens on: bind one, then drop it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    svc.create_profile(&vs1, json!({"api_host": format!("http://{closed}")}))
        .await;
    let wrong = svc.get(&format!("{PROFILES}/{vs0}")).await;
    assert_eq!(
        wrong.json["status"],
        "Duo refused the request: 401 40103 Invalid signature in request credentials"
    );
    let unreachable = svc.get(&format!("{PROFILES}/{vs1}")).await;
    let text = unreachable.json["status"].as_str().unwrap();
    assert!(text.starts_with("cannot reach Duo: "), "{text}");
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!text.contains(&svc.keys().auth_skey));
    let failing = svc.get(&format!("{PROFILES}?status=!OK")).await;
    assert_eq!(owner_names(&failing), ["vs0", "vs1"]);
}

#[tokio::test]
async fn refreshing_statuses_records_what_duo_answers_now() {
    let svc = Service::start().await;
    svc.create_profile(&svc.root_id, json!({})).await;
    let path = format!("{PROFILES}/{}", svc.root_id);
    let original = svc.get(&path).await.json;
    assert_eq!(original["status"], "OK");
    assert_eq!(ontap::refresh_statuses(&svc.state).await.unwrap(), 0);
    let audit_before = svc.state.store.recent_audit(1000).await.unwrap().len();

    svc.rotate_duo_keys().await;
    assert_eq!(ontap::refresh_statuses(&svc.state).await.unwrap(), 1);
    let refreshed = svc.get(&path).await.json;
    assert_eq!(
        refreshed["status"],
        "Duo refused the request: 401 40103 Invalid signature in request credentials"
    );
    // Nothing but the status changed, and a refresh is not an audited write.
    let mut expected = original;
    expected["status"] = refreshed["status"].clone();
    assert_eq!(refreshed, expected);
    assert_eq!(
        svc.state.store.recent_audit(1000).await.unwrap().len(),
        audit_before
    );

    // The operator puts the new key in: the write checks for itself.
    let reply = svc
        .call(
            Method::PATCH,
            &path,
            svc.admin(),
            Some(json!({"secret_key": svc.keys().auth_skey})),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(svc.get(&path).await.json["status"], "OK");
    assert_eq!(ontap::refresh_statuses(&svc.state).await.unwrap(), 0);
}

#[tokio::test]
async fn the_status_refresher_rechecks_on_its_timer() {
    let mut svc = Service::start().await;
    svc.create_profile(&svc.root_id, json!({})).await;
    let path = format!("{PROFILES}/{}", svc.root_id);
    assert_eq!(svc.get(&path).await.json["status"], "OK");
    svc.state = AppState::new(
        svc.state.store.clone(),
        ServiceSettings {
            allow_plain_http_duo: true,
            status_refresh: Some(Duration::from_millis(50)),
            ..ServiceSettings::default()
        },
    );
    ontap::spawn_status_refresher(&svc.state);
    svc.rotate_duo_keys().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = svc.get(&path).await.json["status"].clone();
        if status != "OK" {
            assert_eq!(
                status,
                "Duo refused the request: 401 40103 Invalid signature in request credentials"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refresher never re-checked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_status_refresher_does_nothing_without_a_period_or_a_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let svc = runtime.block_on(Service::start());
    // No period: nothing to start. Outside a runtime: no panic.
    ontap::spawn_status_refresher(&svc.state);
    let state = AppState::new(
        svc.state.store.clone(),
        ServiceSettings {
            allow_plain_http_duo: true,
            status_refresh: Some(Duration::from_secs(60)),
            ..ServiceSettings::default()
        },
    );
    ontap::spawn_status_refresher(&state);
    let zero = AppState::new(
        svc.state.store.clone(),
        ServiceSettings {
            allow_plain_http_duo: true,
            status_refresh: Some(Duration::ZERO),
            ..ServiceSettings::default()
        },
    );
    runtime.block_on(async { ontap::spawn_status_refresher(&zero) });
}

#[tokio::test]
async fn groups_round_trip_with_names_encoded_as_the_client_encodes_them() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    let name = "DOMAIN\\Storage Admins";
    let created = svc.create_group(&vs0, name, &["u1", "u2"]).await;
    assert_eq!(created.text, "{}");
    let location = format!("{GROUPS}/{vs0}/DOMAIN%5CStorage%20Admins");
    assert_eq!(created.headers["location"], location.as_str());

    // quote_plus: space as `+`, backslash as %5C.
    let plus = svc
        .get(&format!("{GROUPS}/{vs0}/DOMAIN%5CStorage+Admins"))
        .await;
    assert_eq!(plus.status, 200, "{}", plus.text);
    assert_eq!(
        plus.json,
        json!({
            "owner": {"uuid": vs0, "name": "vs0", "_links": {"self": {"href": format!("{SVMS}/{vs0}")}}},
            "name": name,
            "excluded_users": ["u1", "u2"],
            "_links": {"self": {"href": location}},
        })
    );
    assert_eq!(svc.get(&location).await.json, plus.json);

    // `/` and `+` inside a name.
    svc.create_group(&vs0, "a/b+c", &[]).await;
    let odd = svc.get(&format!("{GROUPS}/{vs0}/a%2Fb%2Bc")).await;
    assert_eq!(odd.json["name"], "a/b+c", "{}", odd.text);
    assert!(odd.json.get("excluded_users").is_none());

    let patched = svc
        .call(
            Method::PATCH,
            &location,
            svc.admin(),
            Some(json!({"excluded_users": ["u3"], "comment": "storage team", "name": name})),
        )
        .await;
    assert_eq!((patched.status, patched.text.as_str()), (200, "{}"));
    let after = svc.get(&location).await.json;
    assert_eq!(after["excluded_users"], json!(["u3"]));
    assert_eq!(after["comment"], "storage team");

    let keys_only = svc.get(GROUPS).await;
    assert_eq!(keys_only.json["num_records"], 2);
    assert!(keys_only.json["records"][0].get("excluded_users").is_none());
    assert_eq!(keys_only.json["records"][0]["name"], "a/b+c");
    let by_user = svc
        .get(&format!("{GROUPS}?excluded_users=u3&fields=*"))
        .await;
    assert_eq!(by_user.json["num_records"], 1);
    assert_eq!(by_user.json["records"][0]["comment"], "storage team");
    let by_name = svc.get(&format!("{GROUPS}?name=domain*")).await;
    assert_eq!(by_name.json["records"][0]["name"], name);
    let unset = svc.get(&format!("{GROUPS}?excluded_users=null")).await;
    assert_eq!(unset.json["records"][0]["name"], "a/b+c");

    let before = svc.snapshot().await;
    let duplicate = svc
        .call(
            Method::POST,
            GROUPS,
            svc.admin(),
            Some(json!({"owner": {"name": "vs0"}, "name": name})),
        )
        .await;
    assert_eq!(error_code(&duplicate), (409, "1".into(), "name".into()));
    for (body, code, target) in [
        (json!({"owner": {"uuid": vs0}}), "2", "name"),
        (json!({"name": ""}), "2", "name"),
        (
            json!({"name": "g", "excluded_users": [1]}),
            "2",
            "excluded_users",
        ),
        (json!({"name": "g", "members": []}), "262179", "members"),
        (json!({"name": "g", "_links": {}}), "2", "_links"),
        (json!({"records": [{"name": "g"}]}), "2", "name"),
    ] {
        let reply = svc
            .call(Method::POST, GROUPS, svc.admin(), Some(body.clone()))
            .await;
        assert_eq!(
            error_code(&reply),
            (400, code.to_string(), target.to_string()),
            "{body}"
        );
    }
    assert_eq!(svc.snapshot().await, before);

    let deleted = svc
        .call(Method::DELETE, &location, svc.admin(), Some(json!({})))
        .await;
    assert_eq!((deleted.status, deleted.text.as_str()), (200, "{}"));
    assert_eq!(error_code(&svc.get(&location).await).0, 404);
}

#[tokio::test]
async fn svms_list_the_tenants_with_the_root_as_the_cluster() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    let nested = svc.tenant("vs0/eng").await;
    let all = svc.get(SVMS).await;
    assert_eq!(all.json["num_records"], 3);
    let named: Vec<(String, String)> = all.json["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["uuid"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        named,
        [
            (svc.root_id.clone(), "cluster".to_string()),
            (vs0.clone(), "vs0".to_string()),
            (nested.clone(), "vs0/eng".to_string()),
        ]
    );
    let one = svc.get(&format!("{SVMS}/{nested}")).await;
    assert_eq!(
        one.json,
        json!({"uuid": nested, "name": "vs0/eng", "_links": {"self": {"href": format!("{SVMS}/{nested}")}}})
    );
    let filtered = svc.get(&format!("{SVMS}?name=vs0")).await;
    assert_eq!(filtered.json["records"][0]["uuid"], vs0.as_str());
    let missing = svc.get(&format!("{SVMS}/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(error_code(&missing), (404, "4".into(), "uuid".into()));

    // A nested SVM is an owner by name too.
    let mut body = svc.profile_body();
    body["owner.name"] = json!("vs0/eng");
    let reply = svc
        .call(Method::POST, PROFILES, svc.admin(), Some(body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(
        reply.headers["location"],
        format!("{PROFILES}/{nested}").as_str()
    );
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_ontap_envelope() {
    let svc = Service::start().await;
    let unknown = svc.get("/api/storage/volumes").await;
    assert_eq!(error_code(&unknown), (404, "3".into(), "".into()));
    for (method, path) in [
        (Method::PATCH, PROFILES.to_string()),
        (Method::DELETE, GROUPS.to_string()),
        (Method::POST, format!("{PROFILES}/{}", svc.root_id)),
        (Method::PUT, format!("{GROUPS}/{}/g", svc.root_id)),
        (Method::POST, SVMS.to_string()),
    ] {
        let reply = svc
            .call(method.clone(), &path, svc.admin(), Some(json!({})))
            .await;
        assert_eq!(
            error_code(&reply),
            (405, "3".into(), "".into()),
            "{method} {path}"
        );
    }
}

/// Every ONTAP route, with a body for writes, and whether it writes.
fn routes(owner: &str) -> Vec<(Method, String, Option<Value>)> {
    let profile = format!("{PROFILES}/{owner}");
    let group = format!("{GROUPS}/{owner}/ops");
    vec![
        (Method::GET, PROFILES.to_string(), None),
        (
            Method::POST,
            PROFILES.to_string(),
            Some(
                json!({"owner": {"uuid": owner}, "api_host": "api-x.duosecurity.com", "integration_key": "DIXXXXXXXXXXXXXXXXXX", "secret_key": "s"}),
            ),
        ),
        (Method::GET, profile.clone(), None),
        (
            Method::PATCH,
            profile.clone(),
            Some(json!({"comment": "changed"})),
        ),
        (Method::DELETE, profile, Some(json!({}))),
        (Method::GET, GROUPS.to_string(), None),
        (
            Method::POST,
            GROUPS.to_string(),
            Some(json!({"owner": {"uuid": owner}, "name": "new-group"})),
        ),
        (Method::GET, group.clone(), None),
        (
            Method::PATCH,
            group.clone(),
            Some(json!({"comment": "changed"})),
        ),
        (Method::DELETE, group, Some(json!({}))),
        (Method::GET, SVMS.to_string(), None),
        (Method::GET, format!("{SVMS}/{owner}"), None),
    ]
}

#[tokio::test]
async fn every_route_answers_401_to_missing_or_bad_credentials_and_changes_nothing() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&vs0, json!({})).await;
    svc.create_group(&vs0, "ops", &[]).await;
    let before = svc.snapshot().await;
    let revoked = svc.token(Role::Admin, None).await;
    svc.state
        .store
        .revoke_token(
            &svc.state
                .store
                .token_by_secret(&SecretString::from(revoked.clone()))
                .await
                .unwrap()
                .accessor,
        )
        .await
        .unwrap();
    for (method, path, body) in routes(&vs0) {
        for auth in [
            Auth::Nobody,
            Auth::Basic("ontap-admin", "wrong-password"),
            Auth::Basic("nobody", ADMIN_PASSWORD),
            Auth::Bearer("dg.not-a-token"),
            Auth::Bearer(&revoked),
        ] {
            let reply = svc.call(method.clone(), &path, auth, body.clone()).await;
            assert_eq!(
                error_code(&reply),
                (401, "6".into(), "".into()),
                "{method} {path} {auth:?}"
            );
            assert_eq!(reply.headers["content-type"], "application/hal+json");
        }
    }
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn the_mfa_role_may_use_nothing_and_readers_only_read() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&vs0, json!({})).await;
    svc.create_group(&vs0, "ops", &["u1"]).await;
    let before = svc.snapshot().await;
    let mfa_token = svc.token(Role::Mfa, None).await;
    let mfa_password = svc.account("mfa-user", Role::Mfa, None).await;
    let reader_token = svc.token(Role::Reader, None).await;
    let reader_password = svc.account("reader-user", Role::Reader, None).await;
    let skey = svc.keys().auth_skey;
    for (method, path, body) in routes(&vs0) {
        for auth in [
            Auth::Bearer(&mfa_token),
            Auth::Basic("mfa-user", &mfa_password),
        ] {
            let reply = svc.call(method.clone(), &path, auth, body.clone()).await;
            assert_eq!(
                error_code(&reply),
                (403, "6".into(), "".into()),
                "{method} {path} {auth:?}"
            );
        }
        for auth in [
            Auth::Bearer(&reader_token),
            Auth::Basic("reader-user", &reader_password),
        ] {
            let reply = svc.call(method.clone(), &path, auth, body.clone()).await;
            if method == Method::GET {
                assert_eq!(reply.status, 200, "{method} {path}: {}", reply.text);
                assert!(!reply.text.contains(&skey));
                assert!(!reply.text.contains("secret_key"));
            } else {
                assert_eq!(
                    error_code(&reply),
                    (403, "6".into(), "".into()),
                    "{method} {path} {auth:?}"
                );
            }
        }
    }
    let everything = svc
        .call(
            Method::GET,
            &format!("{PROFILES}?fields=**"),
            Auth::Bearer(&reader_token),
            None,
        )
        .await;
    assert_eq!(
        everything.json["records"][0]["fingerprint"],
        sha256_hex(&skey)
    );
    assert!(!everything.text.contains(&skey));
    assert_eq!(svc.snapshot().await, before);
}

#[tokio::test]
async fn tenant_bound_callers_see_and_write_only_their_own_tenant() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    let vs1 = svc.tenant("vs1").await;
    svc.create_profile(&svc.root_id, json!({})).await;
    svc.create_profile(&vs1, json!({})).await;
    svc.create_group(&vs1, "ops", &[]).await;
    let password = svc.account("vs0-admin", Role::Admin, Some(&vs0)).await;
    let bound = Auth::Basic("vs0-admin", &password);
    let bound_token = svc.token(Role::Admin, Some(&vs0)).await;

    // Nothing of other tenants is listed.
    for auth in [bound, Auth::Bearer(&bound_token)] {
        for path in [PROFILES, GROUPS] {
            let reply = svc.call(Method::GET, path, auth, None).await;
            assert_eq!(
                (reply.status, reply.json["num_records"].clone()),
                (200, json!(0))
            );
        }
        let svms = svc.call(Method::GET, SVMS, auth, None).await;
        assert_eq!(svms.json["records"].as_array().unwrap().len(), 1);
        assert_eq!(svms.json["records"][0]["uuid"], vs0.as_str());
    }

    // Another tenant's objects answer exactly like objects that do not exist.
    let before = svc.snapshot().await;
    let absent = uuid::Uuid::now_v7().to_string();
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"comment": "mine now"}))),
        (Method::DELETE, Some(json!({}))),
    ] {
        for (other, missing) in [
            (format!("{PROFILES}/{vs1}"), format!("{PROFILES}/{absent}")),
            (
                format!("{PROFILES}/{}", svc.root_id),
                format!("{PROFILES}/{absent}"),
            ),
            (
                format!("{GROUPS}/{vs1}/ops"),
                format!("{GROUPS}/{absent}/ops"),
            ),
            (format!("{SVMS}/{vs1}"), format!("{SVMS}/{absent}")),
        ] {
            if other.starts_with(SVMS) && method != Method::GET {
                continue;
            }
            let theirs = svc.call(method.clone(), &other, bound, body.clone()).await;
            let nobodys = svc
                .call(method.clone(), &missing, bound, body.clone())
                .await;
            assert_eq!(theirs.status, 404, "{method} {other}");
            assert_eq!(
                (theirs.status, theirs.text.clone()),
                (nobodys.status, nobodys.text.clone()),
                "{method} {other}"
            );
        }
    }
    // Creating in another tenant answers like creating in one that does not exist.
    for (path, owner_body) in [
        (PROFILES, svc.profile_body()),
        (GROUPS, json!({"name": "intruders"})),
    ] {
        let mut theirs = owner_body.clone();
        theirs["owner"] = json!({"uuid": vs1});
        let mut nobodys = owner_body.clone();
        nobodys["owner"] = json!({"uuid": vs1.replace(&vs1[..8], "00000000")});
        let a = svc.call(Method::POST, path, bound, Some(theirs)).await;
        let b = svc.call(Method::POST, path, bound, Some(nobodys)).await;
        assert_eq!(error_code(&a), (400, "2".into(), "owner.uuid".into()));
        assert_eq!(
            a.json["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&vs1, "X"),
            b.json["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&vs1.replace(&vs1[..8], "00000000"), "X")
        );
        let mut by_name = owner_body.clone();
        by_name["owner"] = json!({"name": "cluster"});
        let c = svc.call(Method::POST, path, bound, Some(by_name)).await;
        assert_eq!(error_code(&c), (400, "2".into(), "owner.name".into()));
    }
    assert_eq!(svc.snapshot().await, before);

    // Without an owner, a bound caller creates in its own tenant, and then sees only that.
    let mine = svc
        .call(Method::POST, PROFILES, bound, Some(svc.profile_body()))
        .await;
    assert_eq!(mine.status, 201, "{}", mine.text);
    assert_eq!(
        mine.headers["location"],
        format!("{PROFILES}/{vs0}").as_str()
    );
    let group = svc
        .call(Method::POST, GROUPS, bound, Some(json!({"name": "ops"})))
        .await;
    assert_eq!(group.status, 201, "{}", group.text);
    let listed = svc
        .call(Method::GET, &format!("{PROFILES}?fields=*"), bound, None)
        .await;
    assert_eq!(owner_names(&listed), ["vs0"]);
    let patched = svc
        .call(
            Method::PATCH,
            &format!("{GROUPS}/{vs0}/ops"),
            bound,
            Some(json!({"comment": "vs0 ops"})),
        )
        .await;
    assert_eq!(patched.status, 200);
    let all = svc.get(&format!("{GROUPS}?fields=*")).await;
    assert_eq!(owner_names(&all), ["vs0", "vs1"]);
}

#[tokio::test]
async fn writes_are_audited_without_secrets() {
    let svc = Service::start().await;
    svc.create_profile(&svc.root_id, json!({})).await;
    let path = format!("{PROFILES}/{}", svc.root_id);
    svc.call(
        Method::PATCH,
        &path,
        svc.admin(),
        Some(json!({"secret_key": "fresh-secret-key-value"})),
    )
    .await;
    svc.call(Method::DELETE, &path, svc.admin(), None).await;
    let entries = svc.state.store.recent_audit(10).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "ontap.profile.delete",
            "ontap.profile.update",
            "ontap.profile.create"
        ]
    );
    assert_eq!(entries[1].detail["fields"], json!(["secret_key"]));
    assert!(entries.iter().all(|e| e.actor == "account:ontap-admin"));
    let text = format!("{entries:?}");
    assert!(!text.contains(&svc.keys().auth_skey));
    assert!(!text.contains("fresh-secret-key-value"));
}

#[tokio::test]
async fn bodies_over_two_mib_are_413_in_the_ontap_envelope_and_change_nothing() {
    let svc = Service::start().await;
    let vs0 = svc.tenant("vs0").await;
    svc.create_profile(&vs0, json!({})).await;
    let before = svc.snapshot().await;
    let big = format!("{{\"comment\": \"{}\"}}", "x".repeat(3 << 20));
    for (method, uri) in [
        (Method::POST, PROFILES.to_string()),
        (Method::PATCH, format!("{PROFILES}/{vs0}")),
        (Method::POST, GROUPS.to_string()),
    ] {
        let reply = svc
            .send(method.clone(), &uri, svc.admin(), Some(big.clone()), None)
            .await;
        assert_eq!(
            (reply.status, reply.json["error"]["code"].clone()),
            (413, json!("2")),
            "{method} {uri}: {:.200}",
            reply.text
        );
        assert!(reply.json["error"]["message"].is_string());
    }
    assert_eq!(svc.snapshot().await, before);
}
