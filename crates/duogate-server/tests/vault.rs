//! The Vault dialect through the real router (`docs/vault-dialect.md` and the module docs
//! of `duogate_server::vault`): login-MFA Duo methods, login enforcements, auth mounts,
//! namespaces, step-up methods, `sys/health`, Vault's HTTP conventions, and access control on
//! every route.
//!
//! Every response goes through [`Service::send`], which also checks what must hold for all of
//! them: `Content-Type: application/json` exactly, `Cache-Control: no-store`, the
//! `X-Vault-Namespace` header echoed, 204 bodies empty, error bodies `{"errors":[strings]}`,
//! and no Duo secret or integration key in any body.

mod support;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use duogate_server::{AppState, ServiceSettings, app};
use duogate_store::tenants::TenantPath;
use duogate_store::tokens::Role;

const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";
const SKEY2: &str = "p7Rk2wXvB9sLmQ4tYc8NzH3aJd6fGe1uKo5iWr0E";
const IKEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";
const IKEY2: &str = "DIQ3VN0Z7XK2LM4PR8TB";
const SECRETS: [&str; 4] = [SKEY, SKEY2, IKEY, IKEY2];
const HOST: &str = "api-deadbeef.duosecurity.com";
const HOST2: &str = "api-cafef00d.duosecurity.com";
/// A lowercase UUID no test creates.
const UNKNOWN_ID: &str = "6705fafd-0fd0-3453-4593-949196b29527";

const DUO: &str = "/v1/identity/mfa/method/duo";
const ANY_METHOD: &str = "/v1/identity/mfa/method";
const ENF: &str = "/v1/identity/mfa/login-enforcement";
const NAMESPACES: &str = "/v1/sys/namespaces";
const AUTH: &str = "/v1/sys/auth";
const STEPUP: &str = "/v1/sys/mfa/method/duo";

const NS_MISMATCH: &str = "request namespace does not match method namespace";
const ONE_OF: &str = "One of auth_method_accessors, auth_method_types, identity_group_ids, \
                      identity_entity_ids must be specified";
const FIELD_VALIDATION: &str = "Field validation failed: error converting input for field";

/// Go's multierror text for one error.
fn multierror(message: &str) -> String {
    format!("1 error occurred:\n\t* {message}\n\n")
}

/// The three required Duo fields, plus `extra`.
fn duo(extra: Value) -> Value {
    let mut body = json!({"secret_key": SKEY, "integration_key": IKEY, "api_hostname": HOST});
    for (key, value) in extra.as_object().expect("extra is an object") {
        body[key] = value.clone();
    }
    body
}

fn is_lowercase_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}

/// Splits Vault's envelope, checking its exact key order and fixed values on the raw text;
/// returns `(data, warnings)`.
#[track_caller]
fn envelope(what: &str, text: &str) -> (Value, Value) {
    let rest = text
        .strip_prefix(r#"{"request_id":""#)
        .unwrap_or_else(|| panic!("{what}: not an envelope starting with request_id: {text}"));
    let (request_id, rest) = rest
        .split_at_checked(36)
        .unwrap_or_else(|| panic!("{what}: short request_id: {text}"));
    assert!(is_lowercase_uuid(request_id), "{what}: request_id: {text}");
    let rest = rest
        .strip_prefix(r#"","lease_id":"","renewable":false,"lease_duration":0,"data":"#)
        .unwrap_or_else(|| panic!("{what}: lease_id, renewable, lease_duration, data: {text}"));
    let marker = r#","wrap_info":null,"warnings":"#;
    let at = rest
        .rfind(marker)
        .unwrap_or_else(|| panic!("{what}: wrap_info, warnings: {text}"));
    let data: Value = serde_json::from_str(&rest[..at])
        .unwrap_or_else(|e| panic!("{what}: data is not JSON ({e}): {text}"));
    let tail = rest[at + marker.len()..]
        .strip_suffix(r#","auth":null}"#)
        .unwrap_or_else(|| panic!("{what}: auth must come last and be null: {text}"));
    let warnings: Value = serde_json::from_str(tail)
        .unwrap_or_else(|e| panic!("{what}: warnings are not JSON ({e}): {text}"));
    assert!(
        warnings.is_null()
            || warnings
                .as_array()
                .is_some_and(|w| !w.is_empty() && w.iter().all(Value::is_string)),
        "{what}: warnings must be null or a non-empty list of strings: {text}"
    );
    (data, warnings)
}

struct Req {
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn req(method: &str, path: impl Into<String>) -> Req {
    Req {
        method: Method::from_bytes(method.as_bytes()).unwrap(),
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
    }
}

impl Req {
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn token(self, token: &str) -> Self {
        self.header("X-Vault-Token", token)
    }

    fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    fn ns(self, namespace: &str) -> Self {
        self.header("X-Vault-Namespace", namespace)
    }

    fn maybe_ns(self, namespace: Option<&str>) -> Self {
        match namespace {
            Some(namespace) => self.ns(namespace),
            None => self,
        }
    }

    fn json(self, body: &Value) -> Self {
        self.raw("application/json", &body.to_string())
    }

    fn raw(mut self, content_type: &str, body: &str) -> Self {
        self.body = body.as_bytes().to_vec();
        self.header("Content-Type", content_type)
    }
}

struct Resp {
    what: String,
    status: u16,
    headers: HeaderMap,
    text: String,
}

impl Resp {
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {:?}", self.what, self.text))
    }

    #[track_caller]
    fn status(&self, expected: u16) -> &Self {
        assert_eq!(self.status, expected, "{}: {}", self.what, self.text);
        self
    }

    /// 200 with Vault's envelope; its `data`.
    #[track_caller]
    fn ok(&self) -> Value {
        self.status(200);
        envelope(&self.what, &self.text).0
    }

    /// 200 with Vault's envelope; its `warnings`.
    #[track_caller]
    fn warnings(&self) -> Value {
        self.status(200);
        envelope(&self.what, &self.text).1
    }

    #[track_caller]
    fn no_content(&self) {
        self.status(204);
        assert!(self.text.is_empty(), "{}: {:?}", self.what, self.text);
    }

    /// Exactly `{"errors":[message]}` with `status`.
    #[track_caller]
    fn error(&self, status: u16, message: &str) {
        self.status(status);
        assert_eq!(self.json(), json!({"errors": [message]}), "{}", self.what);
    }

    /// `status` with one error, returned.
    #[track_caller]
    fn one_error(&self, status: u16) -> String {
        self.status(status);
        let body = self.json();
        let errors = body["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{}: {}", self.what, self.text);
        errors[0].as_str().unwrap().to_string()
    }

    #[track_caller]
    fn error_starting(&self, status: u16, prefix: &str) {
        let error = self.one_error(status);
        assert!(error.starts_with(prefix), "{}: {error:?}", self.what);
    }

    /// Exactly `{"errors":[]}` with `status`.
    #[track_caller]
    fn empty_errors(&self, status: u16) {
        self.status(status);
        assert_eq!(self.text, r#"{"errors":[]}"#, "{}", self.what);
    }

    #[track_caller]
    fn denied(&self) {
        self.error(403, "permission denied");
    }

    /// `data.keys` of a successful list.
    #[track_caller]
    fn keys(&self) -> Vec<String> {
        let data = self.ok();
        data["keys"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no keys: {}", self.what, self.text))
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    }
}

struct Service {
    state: AppState,
    root: String,
    _dir: tempfile::TempDir,
}

impl Service {
    async fn start() -> Self {
        Self::start_with(false).await
    }

    async fn start_with(allow_plain_http_duo: bool) -> Self {
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

    /// Sends `request` and checks what holds for every Vault response.
    async fn send(&self, request: Req) -> Resp {
        let what = format!("{} {}", request.method, request.path);
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(&request.path);
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let built = builder.body(Body::from(request.body.clone())).unwrap();
        let response = app(self.state.clone()).oneshot(built).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/json"),
            "{what}: content-type"
        );
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{what}: cache-control"
        );
        let sent_namespace = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("x-vault-namespace"))
            .map(|(_, value)| value.clone());
        assert_eq!(
            header("x-vault-namespace"),
            sent_namespace,
            "{what}: X-Vault-Namespace is echoed (and only when sent)"
        );
        if status == 204 {
            assert!(text.is_empty(), "{what}: 204 with a body: {text:?}");
        }
        for secret in SECRETS {
            assert!(!text.contains(secret), "{what}: a Duo key leaked: {text}");
        }
        if status >= 400 {
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{what}: error body is not JSON ({e}): {text:?}"));
            let object = body.as_object().unwrap();
            assert_eq!(object.len(), 1, "{what}: only `errors`: {text}");
            assert!(
                object["errors"]
                    .as_array()
                    .is_some_and(|e| e.iter().all(Value::is_string)),
                "{what}: {text}"
            );
        }
        Resp {
            what,
            status,
            headers,
            text,
        }
    }

    /// A request with the unbound admin token.
    fn r(&self, method: &str, path: impl Into<String>) -> Req {
        req(method, path).token(&self.root)
    }

    async fn tenant_id(&self, path: &str) -> String {
        self.state
            .store
            .tenant(&TenantPath::parse(path).unwrap())
            .await
            .unwrap()
            .id
    }

    /// A token with `role`, bound to the namespace at `namespace` if given.
    async fn token(&self, role: Role, namespace: Option<&str>) -> String {
        let tenant = match namespace {
            Some(path) => Some(self.tenant_id(path).await),
            None => None,
        };
        let (secret, _) = self
            .state
            .store
            .create_token(role, tenant.as_deref(), None)
            .await
            .unwrap();
        secret.expose_secret().to_string()
    }

    /// Creates namespace `name` under `parent` (the root if `None`); its data.
    async fn namespace(&self, parent: Option<&str>, name: &str) -> Value {
        self.send(
            self.r("POST", format!("{NAMESPACES}/{name}"))
                .maybe_ns(parent),
        )
        .await
        .ok()
    }

    /// Creates a Duo method; its id.
    async fn create_method(&self, namespace: Option<&str>, body: Value) -> String {
        let data = self
            .send(self.r("POST", DUO).maybe_ns(namespace).json(&body))
            .await
            .ok();
        data["method_id"].as_str().unwrap().to_string()
    }

    async fn read_method(&self, namespace: Option<&str>, id: &str) -> Resp {
        self.send(self.r("GET", format!("{DUO}/{id}")).maybe_ns(namespace))
            .await
    }

    async fn list_methods(&self, namespace: Option<&str>) -> Resp {
        self.send(self.r("LIST", DUO).maybe_ns(namespace)).await
    }

    /// Mounts `trusted/` in `namespace`; its accessor.
    async fn mount_trusted(&self, namespace: Option<&str>) -> String {
        self.send(
            self.r("POST", format!("{AUTH}/trusted"))
                .maybe_ns(namespace)
                .json(&json!({"type": "trusted"})),
        )
        .await
        .no_content();
        let mounts = self.send(self.r("GET", AUTH).maybe_ns(namespace)).await;
        mounts.status(200);
        mounts.json()["data"]["trusted/"]["accessor"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn enforce(&self, namespace: Option<&str>, name: &str, body: Value) -> Resp {
        self.send(
            self.r("POST", format!("{ENF}/{name}"))
                .maybe_ns(namespace)
                .json(&body),
        )
        .await
    }

    async fn enforcement(&self, namespace: Option<&str>, name: &str) -> Resp {
        self.send(self.r("GET", format!("{ENF}/{name}")).maybe_ns(namespace))
            .await
    }

    /// What an admin sees: `data` on 200, else the error body.
    async fn observe(
        &self,
        verb: &str,
        path: &str,
        namespace: Option<&str>,
    ) -> (String, u16, Value) {
        let resp = self.send(self.r(verb, path).maybe_ns(namespace)).await;
        let body = resp.json();
        let body = if resp.status == 200 {
            body["data"].clone()
        } else {
            body
        };
        (format!("{verb} {path} in {namespace:?}"), resp.status, body)
    }

    /// The lists of every namespace in `namespaces`, and the reads in `reads` (root).
    async fn snapshot(
        &self,
        namespaces: &[Option<&str>],
        reads: &[String],
    ) -> Vec<(String, u16, Value)> {
        let mut seen = Vec::new();
        for namespace in namespaces {
            for (verb, path) in [
                ("LIST", DUO),
                ("LIST", ENF),
                ("LIST", NAMESPACES),
                ("GET", AUTH),
            ] {
                seen.push(self.observe(verb, path, *namespace).await);
            }
        }
        for path in reads {
            seen.push(self.observe("GET", path, None).await);
        }
        seen
    }
}

// ---------------------------------------------------------------------------------------------
// Methods: create and read

#[tokio::test]
async fn create_answers_200_with_a_lowercase_method_id_in_vaults_envelope() {
    let svc = Service::start().await;
    let resp = svc.send(svc.r("POST", DUO).json(&duo(json!({})))).await;
    let data = resp.ok();
    assert_eq!(resp.warnings(), Value::Null);
    let id = data["method_id"].as_str().unwrap();
    assert!(is_lowercase_uuid(id), "{id}");
    assert_eq!(data, json!({"method_id": id}));
    // PUT creates as POST does.
    let put = svc.send(svc.r("PUT", DUO).json(&duo(json!({})))).await.ok();
    let other = put["method_id"].as_str().unwrap();
    assert!(is_lowercase_uuid(other) && other != id, "{other}");
    let mut keys = svc.list_methods(None).await.keys();
    keys.sort();
    let mut expected = vec![id.to_string(), other.to_string()];
    expected.sort();
    assert_eq!(keys, expected);
}

#[tokio::test]
async fn create_warns_about_unrecognized_parameters_such_as_mount_accessor() {
    let svc = Service::start().await;
    let resp = svc
        .send(
            svc.r("POST", DUO)
                .json(&duo(json!({"mount_accessor": "auth_userpass_1234"}))),
        )
        .await;
    let id = resp.ok()["method_id"].as_str().unwrap().to_string();
    assert_eq!(
        resp.warnings(),
        json!(["Endpoint ignored these unrecognized parameters: [mount_accessor]"])
    );
    assert_eq!(svc.read_method(None, &id).await.ok()["mount_accessor"], "");
    // On update the answer is 204, so the warning is dropped.
    svc.send(
        svc.r("POST", format!("{DUO}/{id}"))
            .json(&duo(json!({"mount_accessor": "auth_userpass_1234"}))),
    )
    .await
    .no_content();
}

#[tokio::test]
async fn read_shows_exactly_vaults_keys_with_pushinfo_and_never_the_keys() {
    let svc = Service::start().await;
    let id = svc
        .create_method(
            None,
            duo(json!({
                "method_name": "corp_duo",
                "push_info": "from=vault",
                "use_passcode": true,
                "username_format": "{{identity.entity.name}}@example.com",
            })),
        )
        .await;
    let expected = json!({
        "api_hostname": HOST,
        "id": id,
        "mount_accessor": "",
        "name": "corp_duo",
        "namespace_id": "root",
        "namespace_path": "",
        "pushinfo": "from=vault",
        "type": "duo",
        "use_passcode": true,
        "username_format": "{{identity.entity.name}}@example.com",
    });
    let typed = svc.read_method(None, &id).await;
    assert_eq!(typed.ok(), expected);
    let untyped = svc.send(svc.r("GET", format!("{ANY_METHOD}/{id}"))).await;
    assert_eq!(untyped.ok(), expected);
    let listed = svc.list_methods(None).await;
    let data = listed.ok();
    assert_eq!(data["keys"], json!([id]));
    let mut key_info = serde_json::Map::new();
    key_info.insert(id.clone(), expected.clone());
    assert_eq!(data["key_info"], Value::Object(key_info));
    for resp in [&typed, &untyped, &listed] {
        for field in ["secret_key", "integration_key", "push_info"] {
            assert!(!resp.text.contains(field), "{}: {}", resp.what, resp.text);
        }
    }
}

#[tokio::test]
async fn writes_require_secret_key_then_integration_key_then_api_hostname() {
    let svc = Service::start().await;
    let cases = [
        (json!({}), "secret_key is empty"),
        (
            json!({"integration_key": IKEY, "api_hostname": HOST}),
            "secret_key is empty",
        ),
        (
            json!({"secret_key": "", "integration_key": IKEY, "api_hostname": HOST}),
            "secret_key is empty",
        ),
        (
            json!({"secret_key": SKEY, "api_hostname": HOST}),
            "integration_key is empty",
        ),
        (
            json!({"secret_key": SKEY, "integration_key": IKEY}),
            "api_hostname is empty",
        ),
        (
            json!({"secret_key": SKEY, "integration_key": IKEY, "api_hostname": ""}),
            "api_hostname is empty",
        ),
    ];
    for (body, message) in &cases {
        svc.send(svc.r("POST", DUO).json(body))
            .await
            .error(400, message);
    }
    // No body at all is `{}`.
    svc.send(svc.r("POST", DUO))
        .await
        .error(400, "secret_key is empty");
    svc.list_methods(None).await.empty_errors(404);

    // Every update needs all three again.
    let id = svc.create_method(None, duo(json!({}))).await;
    let before = svc.read_method(None, &id).await.ok();
    for (body, message) in &cases {
        svc.send(svc.r("POST", format!("{DUO}/{id}")).json(body))
            .await
            .error(400, message);
    }
    svc.send(
        svc.r("POST", format!("{DUO}/{id}"))
            .json(&json!({"push_info": "a=b", "use_passcode": true})),
    )
    .await
    .error(400, "secret_key is empty");
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
}

#[tokio::test]
async fn bad_field_types_are_refused_with_field_validation_failed() {
    let svc = Service::start().await;
    let prefix = format!("{FIELD_VALIDATION} \"use_passcode\"");
    for body in [
        duo(json!({"use_passcode": "maybe"})),
        duo(json!({"use_passcode": {"a": 1}})),
        duo(json!({"use_passcode": [true]})),
        // Type errors come before the missing-key checks, as Vault validates fields first.
        json!({"use_passcode": "maybe"}),
    ] {
        svc.send(svc.r("POST", DUO).json(&body))
            .await
            .error_starting(400, &prefix);
    }
    svc.send(
        svc.r("POST", DUO)
            .json(&duo(json!({"username_format": {"nested": true}}))),
    )
    .await
    .error_starting(400, &format!("{FIELD_VALIDATION} \"username_format\""));
    svc.list_methods(None).await.empty_errors(404);

    // Weak typing: numbers are strings where strings are expected,
    let id = svc
        .create_method(None, duo(json!({"method_name": 42})))
        .await;
    assert_eq!(svc.read_method(None, &id).await.ok()["name"], "42");
    // and Go's ParseBool strings and numbers are booleans.
    for (value, expected) in [
        (json!("1"), true),
        (json!("t"), true),
        (json!("True"), true),
        (json!(1), true),
        (json!("false"), false),
        (json!(0), false),
    ] {
        let id = svc
            .create_method(None, duo(json!({"use_passcode": value})))
            .await;
        assert_eq!(
            svc.read_method(None, &id).await.ok()["use_passcode"],
            expected,
            "{value}"
        );
    }
}

#[tokio::test]
async fn invalid_json_is_refused_with_failed_to_parse_json_input() {
    let svc = Service::start().await;
    for body in ["{nope", r#"{"secret_key": "#, "[1, 2]"] {
        svc.send(svc.r("POST", DUO).raw("application/json", body))
            .await
            .error_starting(400, "failed to parse JSON input");
    }
    svc.list_methods(None).await.empty_errors(404);
}

#[tokio::test]
async fn form_encoded_bodies_are_accepted() {
    let svc = Service::start().await;
    let body = format!(
        "secret_key={SKEY}&integration_key={IKEY}&api_hostname={HOST}&use_passcode=true\
         &push_info=from%3Dvault%26x%3Dy&method_name=form_duo"
    );
    let resp = svc
        .send(
            svc.r("POST", DUO)
                .raw("application/x-www-form-urlencoded", &body),
        )
        .await;
    let id = resp.ok()["method_id"].as_str().unwrap().to_string();
    let data = svc.read_method(None, &id).await.ok();
    assert_eq!(data["use_passcode"], true);
    assert_eq!(data["pushinfo"], "from=vault&x=y");
    assert_eq!(data["name"], "form_duo");
    assert_eq!(data["api_hostname"], HOST);
    // A form content type with a JSON body is read as JSON.
    let resp = svc
        .send(svc.r("POST", DUO).raw(
            "application/x-www-form-urlencoded",
            &duo(json!({"method_name": "json_duo"})).to_string(),
        ))
        .await;
    let id = resp.ok()["method_id"].as_str().unwrap().to_string();
    assert_eq!(svc.read_method(None, &id).await.ok()["name"], "json_duo");
}

// ---------------------------------------------------------------------------------------------
// Methods: update and upsert

#[tokio::test]
async fn update_is_a_full_replace_that_keeps_name_and_format() {
    let svc = Service::start().await;
    let id = svc
        .create_method(
            None,
            duo(json!({
                "method_name": "corp_duo",
                "push_info": "from=vault",
                "use_passcode": true,
                "username_format": "{{identity.entity.name}}",
            })),
        )
        .await;
    let resp = svc
        .send(svc.r("POST", format!("{DUO}/{id}")).json(&json!({
            "secret_key": SKEY2,
            "integration_key": IKEY2,
            "api_hostname": HOST2,
        })))
        .await;
    resp.no_content();
    assert_eq!(
        svc.read_method(None, &id).await.ok(),
        json!({
            "api_hostname": HOST2,
            "id": id,
            "mount_accessor": "",
            "name": "corp_duo",
            "namespace_id": "root",
            "namespace_path": "",
            "pushinfo": "",
            "type": "duo",
            "use_passcode": false,
            "username_format": "{{identity.entity.name}}",
        })
    );
    // Given fields replace; PUT updates as POST does; a method_id in the body is ignored.
    svc.send(svc.r("PUT", format!("{DUO}/{id}")).json(&duo(json!({
        "method_name": "renamed",
        "username_format": "plain",
        "push_info": "a=1",
        "use_passcode": true,
        "method_id": UNKNOWN_ID,
    }))))
    .await
    .no_content();
    let data = svc.read_method(None, &id).await.ok();
    assert_eq!(
        (
            &data["id"],
            &data["name"],
            &data["username_format"],
            &data["pushinfo"],
            &data["use_passcode"],
            &data["api_hostname"],
        ),
        (
            &json!(id),
            &json!("renamed"),
            &json!("plain"),
            &json!("a=1"),
            &json!(true),
            &json!(HOST),
        )
    );
    svc.read_method(None, UNKNOWN_ID).await.empty_errors(404);
    assert_eq!(svc.list_methods(None).await.keys(), vec![id]);
}

#[tokio::test]
async fn update_of_an_unknown_id_is_204_and_creates_nothing() {
    let svc = Service::start().await;
    svc.send(
        svc.r("POST", format!("{DUO}/{UNKNOWN_ID}"))
            .json(&duo(json!({"method_name": "ghost"}))),
    )
    .await
    .no_content();
    svc.read_method(None, UNKNOWN_ID).await.empty_errors(404);
    svc.list_methods(None).await.empty_errors(404);
    // Also with an existing method around: still one method, unchanged.
    let id = svc.create_method(None, duo(json!({}))).await;
    let before = svc.read_method(None, &id).await.ok();
    svc.send(
        svc.r("POST", format!("{DUO}/{UNKNOWN_ID}"))
            .json(&duo(json!({"api_hostname": HOST2}))),
    )
    .await
    .no_content();
    assert_eq!(svc.list_methods(None).await.keys(), vec![id.clone()]);
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
}

#[tokio::test]
async fn renaming_to_a_name_another_method_owns_is_a_500_multierror() {
    let svc = Service::start().await;
    let _a = svc
        .create_method(None, duo(json!({"method_name": "corp_duo"})))
        .await;
    let b = svc
        .create_method(None, duo(json!({"method_name": "other"})))
        .await;
    let before = svc.read_method(None, &b).await.ok();
    svc.send(svc.r("POST", format!("{DUO}/{b}")).json(&duo(
        json!({"method_name": "corp_duo", "api_hostname": HOST2}),
    )))
    .await
    .error(
        500,
        &multierror(
            "a login MFA method configuration with the method name corp_duo already exists",
        ),
    );
    assert_eq!(svc.read_method(None, &b).await.ok(), before);
}

#[tokio::test]
async fn create_with_an_existing_method_name_upserts_and_keeps_the_id() {
    let svc = Service::start().await;
    let first = svc
        .create_method(
            None,
            duo(json!({"method_name": "corp_duo", "push_info": "from=vault"})),
        )
        .await;
    let second = svc
        .create_method(
            None,
            json!({
                "secret_key": SKEY2,
                "integration_key": IKEY2,
                "api_hostname": HOST2,
                "method_name": "corp_duo",
            }),
        )
        .await;
    assert_eq!(second, first);
    assert_eq!(svc.list_methods(None).await.keys(), vec![first.clone()]);
    let data = svc.read_method(None, &first).await.ok();
    assert_eq!(data["api_hostname"], HOST2);
    assert_eq!(data["name"], "corp_duo");
}

#[tokio::test]
async fn free_text_push_info_is_refused_and_nothing_is_stored() {
    let svc = Service::start().await;
    svc.send(
        svc.r("POST", DUO)
            .json(&duo(json!({"push_info": "from vault"}))),
    )
    .await
    .one_error(400);
    svc.list_methods(None).await.empty_errors(404);
    // Nor on update.
    let id = svc
        .create_method(None, duo(json!({"push_info": "from=vault"})))
        .await;
    let before = svc.read_method(None, &id).await.ok();
    for push_info in ["from vault", "novalue", "=v", "a=%zz"] {
        svc.send(
            svc.r("POST", format!("{DUO}/{id}"))
                .json(&duo(json!({"push_info": push_info}))),
        )
        .await
        .one_error(400);
    }
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
    assert_eq!(svc.list_methods(None).await.keys(), vec![id]);
}

#[tokio::test]
async fn url_encoded_push_info_pairs_are_accepted_and_read_back_as_pushinfo() {
    let svc = Service::start().await;
    let id = svc
        .create_method(None, duo(json!({"push_info": "from=vault&x=y"})))
        .await;
    assert_eq!(
        svc.read_method(None, &id).await.ok()["pushinfo"],
        "from=vault&x=y"
    );
    svc.send(
        svc.r("POST", format!("{DUO}/{id}"))
            .json(&duo(json!({"push_info": "domain=example.com&note=a%20b"}))),
    )
    .await
    .no_content();
    assert_eq!(
        svc.read_method(None, &id).await.ok()["pushinfo"],
        "domain=example.com&note=a%20b"
    );
}

#[tokio::test]
async fn api_hostname_is_validated_at_write_time() {
    let svc = Service::start().await;
    for host in [
        "api-deadbeef.duosecurity.com/auth/v2",
        "ftp://api-deadbeef.duosecurity.com",
        "http://127.0.0.1:9",
        "http://api-deadbeef.duosecurity.com",
    ] {
        svc.send(svc.r("POST", DUO).json(&duo(json!({"api_hostname": host}))))
            .await
            .one_error(400);
    }
    svc.list_methods(None).await.empty_errors(404);
}

#[tokio::test]
async fn plain_http_loopback_api_hostname_is_accepted_only_when_the_server_allows_it() {
    let strict = Service::start().await;
    strict
        .send(
            strict
                .r("POST", DUO)
                .json(&duo(json!({"api_hostname": "http://127.0.0.1:9"}))),
        )
        .await
        .one_error(400);
    let dev = Service::start_with(true).await;
    let id = dev
        .create_method(None, duo(json!({"api_hostname": "http://127.0.0.1:9"})))
        .await;
    assert_eq!(
        dev.read_method(None, &id).await.ok()["api_hostname"],
        "http://127.0.0.1:9"
    );
    // Plain http stays loopback-only.
    dev.send(dev.r("POST", DUO).json(&duo(
        json!({"api_hostname": "http://api-deadbeef.duosecurity.com"}),
    )))
    .await
    .one_error(400);
}

// ---------------------------------------------------------------------------------------------
// Methods: list, read errors, verbs, routing

#[tokio::test]
async fn list_accepts_the_list_verb_and_boolean_list_queries() {
    let svc = Service::start().await;
    let mut ids = vec![
        svc.create_method(None, duo(json!({}))).await,
        svc.create_method(None, duo(json!({}))).await,
    ];
    ids.sort();
    for request in [
        svc.r("LIST", DUO),
        svc.r("LIST", format!("{DUO}/")),
        svc.r("GET", format!("{DUO}?list=true")),
        svc.r("GET", format!("{DUO}?list=True")),
        svc.r("GET", format!("{DUO}?list=1")),
        svc.r("GET", format!("{DUO}?list=t")),
        svc.r("GET", format!("{DUO}/?list=TRUE")),
        svc.r("LIST", ANY_METHOD),
        svc.r("GET", format!("{ANY_METHOD}?list=true")),
    ] {
        let resp = svc.send(request).await;
        let data = resp.ok();
        assert_eq!(resp.keys(), ids, "{}", resp.what);
        for id in &ids {
            assert_eq!(data["key_info"][id]["id"], json!(id), "{}", resp.what);
        }
    }
    // list=false is a plain read of the collection, which Vault does not support.
    svc.send(svc.r("GET", format!("{DUO}?list=false")))
        .await
        .error(405, &multierror("unsupported operation"));
}

#[tokio::test]
async fn a_non_boolean_list_query_is_400_with_an_empty_error_list() {
    let svc = Service::start().await;
    svc.create_method(None, duo(json!({}))).await;
    for query in ["yes", "no", "2", "tRuE", "true,false"] {
        svc.send(svc.r("GET", format!("{DUO}?list={query}")))
            .await
            .empty_errors(400);
    }
}

#[tokio::test]

async fn an_empty_list_query_is_no_list_flag() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    // Vault: `if listStr != "" { ParseBool }`, so `?list=` is a plain read.
    svc.send(svc.r("GET", format!("{DUO}/{id}?list=")))
        .await
        .ok();
    svc.send(svc.r("GET", format!("{DUO}?list=")))
        .await
        .error(405, &multierror("unsupported operation"));
}

#[tokio::test]

async fn the_list_query_is_a_flag_on_get_only() {
    let svc = Service::start().await;
    let id = svc
        .send(
            svc.r("POST", format!("{DUO}?list=yes"))
                .json(&duo(json!({}))),
        )
        .await
        .ok()["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        svc.send(svc.r("LIST", format!("{DUO}?list=yes")))
            .await
            .keys(),
        vec![id.clone()]
    );
    svc.send(svc.r("DELETE", format!("{DUO}/{id}?list=yes")))
        .await
        .no_content();
    svc.read_method(None, &id).await.empty_errors(404);
}

#[tokio::test]

async fn list_verb_with_a_list_query_warns_about_the_list_parameter() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    let resp = svc.send(svc.r("LIST", format!("{DUO}?list=true"))).await;
    assert_eq!(resp.keys(), vec![id]);
    assert_eq!(
        resp.warnings(),
        json!(["Endpoint ignored these unrecognized parameters: [list]"])
    );
}

#[tokio::test]

async fn write_bodies_of_several_mib_are_accepted() {
    let svc = Service::start().await;
    let padding = "x".repeat(3 << 20);
    let resp = svc
        .send(svc.r("POST", DUO).json(&duo(json!({"padding": padding}))))
        .await;
    resp.ok();
    assert_eq!(
        resp.warnings(),
        json!(["Endpoint ignored these unrecognized parameters: [padding]"])
    );
}

#[tokio::test]
async fn an_oversized_body_is_refused_in_vaults_error_shape_and_stores_nothing() {
    let svc = Service::start().await;
    // Above even Vault's 32 MiB default.
    let padding = "x".repeat(33 << 20);
    let resp = svc
        .send(svc.r("POST", DUO).json(&duo(json!({"padding": padding}))))
        .await;
    assert!(
        matches!(resp.status, 400 | 413),
        "{}: {}",
        resp.what,
        resp.status
    );
    resp.one_error(resp.status);
    svc.list_methods(None).await.empty_errors(404);
}

#[tokio::test]
async fn empty_lists_are_404_with_an_empty_error_list() {
    let svc = Service::start().await;
    for request in [
        svc.r("LIST", DUO),
        svc.r("GET", format!("{DUO}?list=true")),
        svc.r("LIST", ANY_METHOD),
        svc.r("LIST", ENF),
        svc.r("LIST", NAMESPACES),
    ] {
        svc.send(request).await.empty_errors(404);
    }
}

#[tokio::test]
async fn collection_paths_without_a_list_flag_are_405() {
    let svc = Service::start().await;
    svc.create_method(None, duo(json!({}))).await;
    for request in [
        svc.r("GET", DUO),
        svc.r("DELETE", DUO),
        svc.r("GET", ANY_METHOD),
        svc.r("GET", ENF),
    ] {
        svc.send(request)
            .await
            .error(405, &multierror("unsupported operation"));
    }
}

#[tokio::test]
async fn the_untyped_method_path_only_reads() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    let before = svc.read_method(None, &id).await.ok();
    assert_eq!(
        svc.send(svc.r("GET", format!("{ANY_METHOD}/{id}")))
            .await
            .ok(),
        before
    );
    svc.send(
        svc.r("POST", format!("{ANY_METHOD}/{id}"))
            .json(&duo(json!({"api_hostname": HOST2}))),
    )
    .await
    .error(405, &multierror("unsupported operation"));
    svc.send(svc.r("DELETE", format!("{ANY_METHOD}/{id}")))
        .await
        .error(405, &multierror("unsupported operation"));
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
    svc.send(svc.r("GET", format!("{ANY_METHOD}/{UNKNOWN_ID}")))
        .await
        .empty_errors(404);
}

#[tokio::test]
async fn reading_an_unknown_id_is_404_with_an_empty_error_list() {
    let svc = Service::start().await;
    svc.read_method(None, UNKNOWN_ID).await.empty_errors(404);
    // Ids of other kinds of objects are unknown too.
    let accessor = svc.mount_trusted(None).await;
    let method = svc.create_method(None, duo(json!({}))).await;
    svc.enforce(
        None,
        "e1",
        json!({"mfa_method_ids": [method], "auth_method_accessors": [accessor]}),
    )
    .await
    .no_content();
    let enforcement_id = svc.enforcement(None, "e1").await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    svc.read_method(None, &enforcement_id)
        .await
        .empty_errors(404);
}

#[tokio::test]
async fn ids_that_are_not_lowercase_uuids_are_unsupported_paths() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    let upper = id.to_uppercase();
    for request in [
        svc.r("GET", format!("{DUO}/{upper}")),
        svc.r("GET", format!("{DUO}/not-a-uuid")),
        svc.r("GET", format!("{ANY_METHOD}/{upper}")),
        svc.r("DELETE", format!("{DUO}/{upper}")),
        svc.r("POST", format!("{DUO}/not-a-uuid"))
            .json(&duo(json!({}))),
        svc.r("GET", format!("{ENF}/-bad")),
        svc.r("GET", format!("{ENF}/bad.")),
    ] {
        svc.send(request)
            .await
            .error(404, &multierror("unsupported path"));
    }
    // Nothing was deleted or created.
    assert_eq!(svc.list_methods(None).await.keys(), vec![id.clone()]);
    svc.read_method(None, &id).await.ok();
}

#[tokio::test]
async fn patch_is_405_unsupported_operation() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    let before = svc.read_method(None, &id).await.ok();
    svc.send(svc.r("PATCH", format!("{DUO}/{id}")).raw(
        "application/merge-patch+json",
        &json!({"api_hostname": HOST2}).to_string(),
    ))
    .await
    .error(405, &multierror("unsupported operation"));
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
}

#[tokio::test]

async fn patch_needs_the_merge_patch_content_type() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    svc.send(
        svc.r("PATCH", format!("{DUO}/{id}"))
            .json(&json!({"api_hostname": HOST2})),
    )
    .await
    .error(
        415,
        "PATCH requires Content-Type of application/merge-patch+json, provided application/json",
    );
}

#[tokio::test]
async fn an_unknown_http_verb_is_405_with_an_empty_error_list() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    for path in [format!("{DUO}/{id}"), DUO.to_string()] {
        svc.send(svc.r("FOO", path)).await.empty_errors(405);
    }
    svc.read_method(None, &id).await.ok();
}

#[tokio::test]
async fn writes_to_a_path_ending_in_a_slash_are_refused() {
    let svc = Service::start().await;
    for verb in ["POST", "PUT"] {
        svc.send(svc.r(verb, format!("{DUO}/")).json(&duo(json!({}))))
            .await
            .error(400, "cannot write to a path ending in '/'");
    }
    svc.list_methods(None).await.empty_errors(404);
    let id = svc.create_method(None, duo(json!({}))).await;
    let before = svc.read_method(None, &id).await.ok();
    svc.send(
        svc.r("POST", format!("{DUO}/{id}/"))
            .json(&duo(json!({"api_hostname": HOST2}))),
    )
    .await
    .error(400, "cannot write to a path ending in '/'");
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
}

#[tokio::test]
async fn paths_outside_known_mounts_have_no_handler() {
    let svc = Service::start().await;
    svc.send(svc.r("GET", "/v1/nosuch/x")).await.error(
        404,
        r#"no handler for route "nosuch/x". route entry not found."#,
    );
    svc.send(svc.r("POST", "/v1/nosuch/x").json(&json!({})))
        .await
        .error(
            404,
            r#"no handler for route "nosuch/x". route entry not found."#,
        );
    // Unknown paths under known mounts are unsupported paths.
    for path in ["/v1/identity/nosuch", "/v1/sys/nosuch"] {
        svc.send(svc.r("GET", path))
            .await
            .error(404, &multierror("unsupported path"));
    }
}

// ---------------------------------------------------------------------------------------------
// Methods: delete

#[tokio::test]
async fn delete_is_204_also_for_an_unknown_id() {
    let svc = Service::start().await;
    let id = svc.create_method(None, duo(json!({}))).await;
    svc.send(svc.r("DELETE", format!("{DUO}/{id}")))
        .await
        .no_content();
    svc.read_method(None, &id).await.empty_errors(404);
    svc.list_methods(None).await.empty_errors(404);
    svc.send(svc.r("DELETE", format!("{DUO}/{id}")))
        .await
        .no_content();
    svc.send(svc.r("DELETE", format!("{DUO}/{UNKNOWN_ID}")))
        .await
        .no_content();
}

#[tokio::test]
async fn a_method_used_by_an_enforcement_cannot_be_deleted() {
    let svc = Service::start().await;
    let accessor = svc.mount_trusted(None).await;
    let id = svc.create_method(None, duo(json!({}))).await;
    let spare = svc.create_method(None, duo(json!({}))).await;
    svc.enforce(
        None,
        "e1",
        json!({"mfa_method_ids": [spare, id], "auth_method_accessors": [accessor]}),
    )
    .await
    .no_content();
    let enforcement_id = svc.enforcement(None, "e1").await.ok()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(enforcement_id, "e1");
    let before = svc.read_method(None, &id).await.ok();
    svc.send(svc.r("DELETE", format!("{DUO}/{id}")))
        .await
        .error(
            500,
            &multierror(&format!(
                "methodID is still used by an enforcement configuration with ID: {enforcement_id}"
            )),
        );
    assert_eq!(svc.read_method(None, &id).await.ok(), before);
    // Once the enforcement is gone the method can go.
    svc.send(svc.r("DELETE", format!("{ENF}/e1")))
        .await
        .no_content();
    svc.send(svc.r("DELETE", format!("{DUO}/{id}")))
        .await
        .no_content();
    svc.read_method(None, &id).await.empty_errors(404);
}

// ---------------------------------------------------------------------------------------------
// Auth mounts

#[tokio::test]
async fn trusted_auth_mounts_show_up_in_sys_auth_with_an_accessor() {
    let svc = Service::start().await;
    svc.send(
        svc.r("POST", format!("{AUTH}/trusted"))
            .json(&json!({"type": "trusted", "description": "app logins"})),
    )
    .await
    .no_content();
    let resp = svc.send(svc.r("GET", AUTH)).await;
    resp.status(200);
    let body = resp.json();
    let mount = &body["data"]["trusted/"];
    assert_eq!(mount["type"], "trusted");
    assert_eq!(mount["description"], "app logins");
    let accessor = mount["accessor"].as_str().unwrap();
    assert!(!accessor.is_empty());
    // Repeated at the top level, as Vault does for old clients.
    assert_eq!(body["trusted/"], *mount);
    assert_eq!(body["data"]["token/"]["type"], "token");
    assert!(body["request_id"].is_string(), "{body}");
    assert_eq!(body["auth"], Value::Null);
    // Unmount: 204, gone; the token/ mount cannot go.
    svc.send(svc.r("DELETE", format!("{AUTH}/trusted")))
        .await
        .no_content();
    let after = svc.send(svc.r("GET", AUTH)).await.json();
    assert!(after["data"].get("trusted/").is_none(), "{after}");
    svc.send(svc.r("DELETE", format!("{AUTH}/trusted")))
        .await
        .no_content();
    svc.send(svc.r("DELETE", format!("{AUTH}/token")))
        .await
        .one_error(400);
}

#[tokio::test]
async fn only_the_trusted_auth_type_can_be_mounted() {
    let svc = Service::start().await;
    let before = svc.observe("GET", AUTH, None).await;
    svc.send(
        svc.r("POST", format!("{AUTH}/userpass"))
            .json(&json!({"type": "userpass"})),
    )
    .await
    .error(400, "plugin not found in the catalog: userpass");
    assert_eq!(svc.observe("GET", AUTH, None).await, before);
}

#[tokio::test]
async fn mounting_a_path_twice_is_refused() {
    let svc = Service::start().await;
    svc.mount_trusted(None).await;
    let before = svc.observe("GET", AUTH, None).await;
    svc.send(
        svc.r("POST", format!("{AUTH}/trusted"))
            .json(&json!({"type": "trusted"})),
    )
    .await
    .error(400, "path is already in use at trusted/");
    assert_eq!(svc.observe("GET", AUTH, None).await, before);
}

// ---------------------------------------------------------------------------------------------
// Login enforcements

/// A root `trusted/` mount, a method, and enforcement `e1` over both.
async fn with_enforcement(svc: &Service) -> (String, String) {
    let accessor = svc.mount_trusted(None).await;
    let method = svc.create_method(None, duo(json!({}))).await;
    svc.enforce(
        None,
        "e1",
        json!({"mfa_method_ids": [method], "auth_method_accessors": [accessor]}),
    )
    .await
    .no_content();
    (method, accessor)
}

#[tokio::test]
async fn enforcement_write_is_204_and_read_shows_vaults_keys() {
    let svc = Service::start().await;
    let (method, accessor) = with_enforcement(&svc).await;
    let resp = svc.enforcement(None, "e1").await;
    let data = resp.ok();
    let id = data["id"].as_str().unwrap().to_string();
    assert!(is_lowercase_uuid(&id), "{id}");
    assert_eq!(
        data,
        json!({
            "auth_method_accessors": [accessor],
            "auth_method_types": [],
            "id": id,
            "identity_entity_ids": [],
            "identity_group_ids": [],
            "mfa_method_ids": [method],
            "name": "e1",
            "namespace_id": "root",
            "namespace_path": "",
        })
    );
    assert!(
        resp.text.contains(r#""auth_method_types":[]"#),
        "{}",
        resp.text
    );
    // PUT writes as POST does; a second write keeps the id.
    svc.send(
        svc.r("PUT", format!("{ENF}/e1"))
            .json(&json!({"mfa_method_ids": [method], "auth_method_types": ["trusted"]})),
    )
    .await
    .no_content();
    let after = svc.enforcement(None, "e1").await.ok();
    assert_eq!(after["id"], json!(id));
    assert_eq!(after["auth_method_types"], json!(["trusted"]));
    // Unknown names: 404 on read.
    svc.enforcement(None, "e2").await.empty_errors(404);
}

#[tokio::test]
async fn enforcement_writes_need_mfa_method_ids() {
    let svc = Service::start().await;
    let (_, accessor) = with_enforcement(&svc).await;
    let before = svc.enforcement(None, "e1").await.ok();
    for name in ["e1", "e2"] {
        svc.enforce(None, name, json!({"auth_method_accessors": [accessor]}))
            .await
            .error(400, "missing method ids");
    }
    assert_eq!(svc.enforcement(None, "e1").await.ok(), before);
    svc.enforcement(None, "e2").await.empty_errors(404);
}

#[tokio::test]
async fn enforcement_method_ids_must_exist() {
    let svc = Service::start().await;
    let (method, accessor) = with_enforcement(&svc).await;
    let before = svc.enforcement(None, "e1").await.ok();
    for name in ["e1", "e2"] {
        for ids in [
            json!([UNKNOWN_ID]),
            json!([method, UNKNOWN_ID]),
            json!(["nope"]),
        ] {
            svc.enforce(
                None,
                name,
                json!({"mfa_method_ids": ids, "auth_method_accessors": [accessor]}),
            )
            .await
            .error(400, "one of the provided method ids doesn't exist");
        }
    }
    // An enforcement's own id is not a method id.
    let own = before["id"].clone();
    svc.enforce(
        None,
        "e2",
        json!({"mfa_method_ids": [own], "auth_method_accessors": [accessor]}),
    )
    .await
    .error(400, "one of the provided method ids doesn't exist");
    assert_eq!(svc.enforcement(None, "e1").await.ok(), before);
    svc.enforcement(None, "e2").await.empty_errors(404);
}

#[tokio::test]
async fn enforcement_accessors_must_be_auth_mounts_of_the_namespace() {
    let svc = Service::start().await;
    let (method, accessor) = with_enforcement(&svc).await;
    let before = svc.enforcement(None, "e1").await.ok();
    for accessors in [
        json!(["auth_userpass_12345678"]),
        json!([accessor, "bogus"]),
    ] {
        svc.enforce(
            None,
            "e1",
            json!({"mfa_method_ids": [method], "auth_method_accessors": accessors}),
        )
        .await
        .error(400, "one of the auth method accessors provided is invalid");
    }
    assert_eq!(svc.enforcement(None, "e1").await.ok(), before);
    // The token/ mount's accessor is an auth mount accessor too.
    let mounts = svc.send(svc.r("GET", AUTH)).await.json();
    let token_accessor = mounts["data"]["token/"]["accessor"].clone();
    svc.enforce(
        None,
        "e1",
        json!({"mfa_method_ids": [method], "auth_method_accessors": [token_accessor]}),
    )
    .await
    .no_content();
}

#[tokio::test]
async fn enforcement_types_must_be_types_of_mounted_auth_methods() {
    let svc = Service::start().await;
    let (method, _) = with_enforcement(&svc).await;
    let before = svc.enforcement(None, "e1").await.ok();
    for types in [json!(["userpass"]), json!(["trusted", "ldap"])] {
        svc.enforce(
            None,
            "e1",
            json!({"mfa_method_ids": [method], "auth_method_types": types}),
        )
        .await
        .error(400, "one of the auth method types provided is invalid");
    }
    assert_eq!(svc.enforcement(None, "e1").await.ok(), before);
    svc.enforce(
        None,
        "e2",
        json!({"mfa_method_ids": [method], "auth_method_types": ["trusted", "token"]}),
    )
    .await
    .no_content();
    assert_eq!(
        svc.enforcement(None, "e2").await.ok()["auth_method_types"],
        json!(["trusted", "token"])
    );
}

#[tokio::test]
async fn enforcement_writes_must_name_a_selector() {
    let svc = Service::start().await;
    let (method, _) = with_enforcement(&svc).await;
    for body in [
        json!({"mfa_method_ids": [method]}),
        json!({"mfa_method_ids": [method], "auth_method_accessors": []}),
        json!({"mfa_method_ids": [method], "auth_method_types": [], "identity_group_ids": []}),
    ] {
        svc.enforce(None, "e2", body).await.error(400, ONE_OF);
    }
    svc.enforcement(None, "e2").await.empty_errors(404);
    assert_eq!(svc.send(svc.r("LIST", ENF)).await.keys(), vec!["e1"]);
}

#[tokio::test]
async fn enforcement_update_keeps_omitted_selectors_but_must_still_name_one() {
    let svc = Service::start().await;
    let (method, accessor) = with_enforcement(&svc).await;
    let before = svc.enforcement(None, "e1").await.ok();
    svc.enforce(None, "e1", json!({"mfa_method_ids": [method]}))
        .await
        .error(400, ONE_OF);
    assert_eq!(svc.enforcement(None, "e1").await.ok(), before);
    // Naming another selector keeps the accessors.
    svc.enforce(
        None,
        "e1",
        json!({"mfa_method_ids": [method], "auth_method_types": ["trusted"]}),
    )
    .await
    .no_content();
    let after = svc.enforcement(None, "e1").await.ok();
    assert_eq!(after["auth_method_accessors"], json!([accessor]));
    assert_eq!(after["auth_method_types"], json!(["trusted"]));
    assert_eq!(after["id"], before["id"]);
}

#[tokio::test]
async fn enforcement_checks_run_method_ids_then_selectors_then_one_of() {
    let svc = Service::start().await;
    let (method, _) = with_enforcement(&svc).await;
    let before = svc.enforcement(None, "e1").await.ok();
    let cases = [
        (
            json!({"mfa_method_ids": [UNKNOWN_ID], "auth_method_accessors": ["bogus"]}),
            "one of the provided method ids doesn't exist",
        ),
        (
            json!({"mfa_method_ids": [UNKNOWN_ID]}),
            "one of the provided method ids doesn't exist",
        ),
        (
            json!({"mfa_method_ids": [method], "auth_method_accessors": ["bogus"]}),
            "one of the auth method accessors provided is invalid",
        ),
        (
            json!({"mfa_method_ids": [method], "auth_method_accessors": [], "auth_method_types": ["nope"]}),
            "one of the auth method types provided is invalid",
        ),
        // No identity store: entity and group ids are taken as given, but not empty ones.
        (
            json!({"mfa_method_ids": [method], "identity_entity_ids": [""]}),
            "one of the provided entity ids doesn't exist",
        ),
        (
            json!({"mfa_method_ids": [method], "identity_group_ids": [" "]}),
            "one of the provided group ids doesn't exist",
        ),
    ];
    for (body, message) in cases {
        svc.enforce(None, "e1", body).await.error(400, message);
    }
    assert_eq!(svc.enforcement(None, "e1").await.ok(), before);
}

#[tokio::test]
async fn a_bare_string_is_accepted_as_one_method_id() {
    let svc = Service::start().await;
    let (method, accessor) = with_enforcement(&svc).await;
    svc.enforce(
        None,
        "e2",
        json!({"mfa_method_ids": method, "auth_method_accessors": accessor}),
    )
    .await
    .no_content();
    let data = svc.enforcement(None, "e2").await.ok();
    assert_eq!(data["mfa_method_ids"], json!([method]));
    assert_eq!(data["auth_method_accessors"], json!([accessor]));
}

#[tokio::test]
async fn an_empty_method_id_list_passes_validation() {
    let svc = Service::start().await;
    let (_, accessor) = with_enforcement(&svc).await;
    svc.enforce(
        None,
        "e2",
        json!({"mfa_method_ids": [], "auth_method_accessors": [accessor]}),
    )
    .await
    .no_content();
    assert_eq!(
        svc.enforcement(None, "e2").await.ok()["mfa_method_ids"],
        json!([])
    );
}

#[tokio::test]
async fn enforcements_list_by_name_and_delete_is_204_even_when_unknown() {
    let svc = Service::start().await;
    let (method, accessor) = with_enforcement(&svc).await;
    svc.enforce(
        None,
        "a.b-c_d",
        json!({"mfa_method_ids": [method], "auth_method_accessors": [accessor]}),
    )
    .await
    .no_content();
    let e1 = svc.enforcement(None, "e1").await.ok();
    for request in [svc.r("LIST", ENF), svc.r("GET", format!("{ENF}?list=true"))] {
        let resp = svc.send(request).await;
        let mut keys = resp.keys();
        keys.sort();
        assert_eq!(keys, vec!["a.b-c_d", "e1"]);
        assert_eq!(resp.ok()["key_info"]["e1"], e1);
    }
    svc.send(svc.r("DELETE", format!("{ENF}/e1")))
        .await
        .no_content();
    svc.enforcement(None, "e1").await.empty_errors(404);
    svc.send(svc.r("DELETE", format!("{ENF}/e1")))
        .await
        .no_content();
    svc.send(svc.r("DELETE", format!("{ENF}/never")))
        .await
        .no_content();
    assert_eq!(svc.send(svc.r("LIST", ENF)).await.keys(), vec!["a.b-c_d"]);
    svc.send(svc.r("DELETE", format!("{ENF}/a.b-c_d")))
        .await
        .no_content();
    svc.send(svc.r("LIST", ENF)).await.empty_errors(404);
}

// ---------------------------------------------------------------------------------------------
// Namespaces

#[tokio::test]
async fn namespaces_are_created_and_listed_relative_to_the_request_namespace() {
    let svc = Service::start().await;
    let ns1 = svc.namespace(None, "ns1").await;
    assert_eq!(ns1["path"], "ns1/");
    assert_eq!(
        svc.send(svc.r("LIST", NAMESPACES)).await.keys(),
        vec!["ns1/"]
    );
    assert_eq!(
        svc.send(svc.r("GET", format!("{NAMESPACES}?list=true")))
            .await
            .keys(),
        vec!["ns1/"]
    );
    let ns2 = svc.namespace(Some("ns1"), "ns2").await;
    assert_eq!(ns2["path"], "ns1/ns2/");
    // Lists show direct children only.
    assert_eq!(
        svc.send(svc.r("LIST", NAMESPACES)).await.keys(),
        vec!["ns1/"]
    );
    assert_eq!(
        svc.send(svc.r("LIST", NAMESPACES).ns("ns1")).await.keys(),
        vec!["ns2/"]
    );
    assert_eq!(
        svc.send(svc.r("LIST", "/v1/ns1/sys/namespaces"))
            .await
            .keys(),
        vec!["ns2/"]
    );
    assert_eq!(
        svc.send(svc.r("GET", format!("{NAMESPACES}/ns1")))
            .await
            .ok()["path"],
        "ns1/"
    );
    assert_eq!(
        svc.send(svc.r("GET", format!("{NAMESPACES}/ns2")).ns("ns1/"))
            .await
            .ok()["path"],
        "ns1/ns2/"
    );
    svc.send(svc.r("GET", format!("{NAMESPACES}/ns2")))
        .await
        .empty_errors(404);
    // Header and path prefix combine.
    let ns3 = svc
        .send(svc.r("POST", "/v1/ns2/sys/namespaces/ns3").ns("ns1"))
        .await
        .ok();
    assert_eq!(ns3["path"], "ns1/ns2/ns3/");
    assert_eq!(
        svc.tenant_id("ns1/ns2/ns3").await,
        ns3["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn namespace_names_cannot_contain_a_slash() {
    let svc = Service::start().await;
    svc.send(svc.r("POST", format!("{NAMESPACES}/a/b")))
        .await
        .error(400, "namespace name cannot contain /");
    svc.send(svc.r("LIST", NAMESPACES)).await.empty_errors(404);
}

#[tokio::test]
async fn the_namespace_header_is_echoed() {
    let svc = Service::start().await;
    svc.namespace(None, "ns1").await;
    for sent in ["ns1", "ns1/", "/ns1/"] {
        let resp = svc.send(svc.r("LIST", NAMESPACES).ns(sent)).await;
        assert_eq!(resp.headers["x-vault-namespace"], sent);
    }
    // On errors too (checked by `send`), and not invented when none was sent.
    svc.send(svc.r("LIST", DUO).ns("nope")).await.status(404);
    let plain = svc.send(svc.r("LIST", NAMESPACES)).await;
    assert!(plain.headers.get("x-vault-namespace").is_none());
}

#[tokio::test]
async fn an_unknown_namespace_is_404_namespace_not_found() {
    let svc = Service::start().await;
    svc.namespace(None, "ns1").await;
    for request in [
        svc.r("LIST", DUO).ns("nope"),
        svc.r("POST", DUO).ns("nope").json(&duo(json!({}))),
        svc.r("LIST", "/v1/nope/identity/mfa/method/duo"),
        svc.r("LIST", DUO).ns("ns1/nope"),
        svc.r("POST", format!("{NAMESPACES}/child")).ns("nope"),
    ] {
        svc.send(request).await.error(404, "namespace not found");
    }
    svc.list_methods(None).await.empty_errors(404);
    assert_eq!(
        svc.send(svc.r("LIST", NAMESPACES)).await.keys(),
        vec!["ns1/"]
    );
}

#[tokio::test]
async fn methods_created_in_a_namespace_carry_its_path_and_id() {
    let svc = Service::start().await;
    svc.namespace(None, "ns1").await;
    let tenant = svc.tenant_id("ns1").await;
    let by_header = svc
        .create_method(Some("ns1"), duo(json!({"method_name": "corp"})))
        .await;
    let by_prefix = svc
        .send(
            svc.r("POST", "/v1/ns1/identity/mfa/method/duo")
                .json(&duo(json!({}))),
        )
        .await
        .ok()["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    let by_slashed_header = svc.create_method(Some("ns1/"), duo(json!({}))).await;
    for id in [&by_header, &by_prefix, &by_slashed_header] {
        for resp in [
            svc.read_method(Some("ns1"), id).await,
            svc.send(svc.r("GET", format!("/v1/ns1/identity/mfa/method/duo/{id}")))
                .await,
            svc.read_method(None, id).await,
        ] {
            let data = resp.ok();
            assert_eq!(data["namespace_path"], "ns1/", "{}", resp.what);
            assert_eq!(data["namespace_id"], json!(tenant), "{}", resp.what);
        }
    }
    // Method names are unique per namespace: the same name in the root is another method.
    let in_root = svc
        .create_method(None, duo(json!({"method_name": "corp"})))
        .await;
    assert_ne!(in_root, by_header);
    assert_eq!(
        svc.read_method(None, &in_root).await.ok()["namespace_id"],
        "root"
    );
    let mut expected = vec![by_header, by_prefix, by_slashed_header, in_root];
    expected.sort();
    assert_eq!(svc.list_methods(Some("ns1")).await.keys(), expected);
}

/// Namespaces `ns1`, `ns1/ns2`, `nsb` and one method in each and in the root:
/// `(root, ns1, ns2, nsb)`.
async fn methods_everywhere(svc: &Service) -> (String, String, String, String) {
    svc.namespace(None, "ns1").await;
    svc.namespace(Some("ns1"), "ns2").await;
    svc.namespace(None, "nsb").await;
    (
        svc.create_method(None, duo(json!({}))).await,
        svc.create_method(Some("ns1"), duo(json!({}))).await,
        svc.create_method(Some("ns1/ns2"), duo(json!({}))).await,
        svc.create_method(Some("nsb"), duo(json!({}))).await,
    )
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn method_lists_show_the_own_and_ancestor_namespaces_only() {
    let svc = Service::start().await;
    let (root, ns1, ns2, nsb) = methods_everywhere(&svc).await;
    assert_eq!(svc.list_methods(None).await.keys(), vec![root.clone()]);
    assert_eq!(
        svc.list_methods(Some("ns1")).await.keys(),
        sorted(&[&root, &ns1])
    );
    assert_eq!(
        svc.list_methods(Some("ns1/ns2")).await.keys(),
        sorted(&[&root, &ns1, &ns2])
    );
    assert_eq!(
        svc.list_methods(Some("nsb")).await.keys(),
        sorted(&[&root, &nsb])
    );
    assert_eq!(
        svc.send(svc.r("LIST", ANY_METHOD).ns("ns1")).await.keys(),
        sorted(&[&root, &ns1])
    );
    let info = svc.list_methods(Some("ns1/ns2")).await.ok()["key_info"].clone();
    assert_eq!(info[&root]["namespace_path"], "");
    assert_eq!(info[&ns1]["namespace_path"], "ns1/");
    assert_eq!(info[&ns2]["namespace_path"], "ns1/ns2/");
}

#[tokio::test]
async fn method_reads_work_from_ancestors_and_descendants_but_not_siblings() {
    let svc = Service::start().await;
    let (root, ns1, ns2, nsb) = methods_everywhere(&svc).await;
    for (namespace, id) in [
        (Some("ns1/ns2"), &root),
        (Some("ns1/ns2"), &ns1),
        (None, &ns1),
        (None, &ns2),
        (Some("ns1"), &ns2),
        (Some("nsb"), &root),
    ] {
        assert_eq!(
            svc.read_method(namespace, id).await.ok()["id"],
            json!(id),
            "{namespace:?}"
        );
    }
    for (namespace, id) in [
        (Some("nsb"), &ns1),
        (Some("nsb"), &ns2),
        (Some("ns1"), &nsb),
        (Some("ns1/ns2"), &nsb),
    ] {
        svc.read_method(namespace, id).await.error(403, NS_MISMATCH);
        svc.send(
            svc.r("GET", format!("{ANY_METHOD}/{id}"))
                .maybe_ns(namespace),
        )
        .await
        .error(403, NS_MISMATCH);
    }
}

#[tokio::test]
async fn method_updates_and_deletes_only_work_from_the_owning_namespace() {
    let svc = Service::start().await;
    let (_, ns1, _, _) = methods_everywhere(&svc).await;
    let before = svc.read_method(None, &ns1).await.ok();
    for namespace in [None, Some("nsb"), Some("ns1/ns2")] {
        for body in [duo(json!({"api_hostname": HOST2})), json!({})] {
            svc.send(
                svc.r("POST", format!("{DUO}/{ns1}"))
                    .maybe_ns(namespace)
                    .json(&body),
            )
            .await
            .error(400, NS_MISMATCH);
        }
        svc.send(svc.r("DELETE", format!("{DUO}/{ns1}")).maybe_ns(namespace))
            .await
            .error(500, &multierror(NS_MISMATCH));
    }
    assert_eq!(svc.read_method(None, &ns1).await.ok(), before);
    svc.send(
        svc.r("POST", format!("{DUO}/{ns1}"))
            .ns("ns1")
            .json(&duo(json!({"api_hostname": HOST2}))),
    )
    .await
    .no_content();
    assert_eq!(
        svc.read_method(None, &ns1).await.ok()["api_hostname"],
        HOST2
    );
    svc.send(svc.r("DELETE", format!("{DUO}/{ns1}")).ns("ns1"))
        .await
        .no_content();
    svc.read_method(None, &ns1).await.empty_errors(404);
}

#[tokio::test]
async fn enforcements_may_only_use_methods_of_the_same_or_an_ancestor_namespace() {
    let svc = Service::start().await;
    let (root, ns1, ns2, nsb) = methods_everywhere(&svc).await;
    let root_accessor = svc.mount_trusted(None).await;
    let ns1_accessor = svc.mount_trusted(Some("ns1")).await;
    assert_ne!(root_accessor, ns1_accessor);
    for id in [&nsb, &ns2] {
        svc.enforce(
            Some("ns1"),
            "e1",
            json!({"mfa_method_ids": [root, id], "auth_method_accessors": [ns1_accessor]}),
        )
        .await
        .error(
            400,
            "one of the provided method ids is in an incompatible namespace and can't be used",
        );
    }
    svc.enforcement(Some("ns1"), "e1").await.empty_errors(404);
    // Accessors must be mounts of the request namespace.
    svc.enforce(
        Some("ns1"),
        "e1",
        json!({"mfa_method_ids": [root, ns1], "auth_method_accessors": [root_accessor]}),
    )
    .await
    .error(400, "one of the auth method accessors provided is invalid");
    svc.enforce(
        Some("ns1"),
        "e1",
        json!({"mfa_method_ids": [root, ns1], "auth_method_accessors": [ns1_accessor]}),
    )
    .await
    .no_content();
    let data = svc.enforcement(Some("ns1"), "e1").await.ok();
    assert_eq!(data["mfa_method_ids"], json!([root, ns1]));
    assert_eq!(data["namespace_path"], "ns1/");
    assert_eq!(data["namespace_id"], json!(svc.tenant_id("ns1").await));
    // A method used from another namespace's enforcement still cannot be deleted.
    svc.send(svc.r("DELETE", format!("{DUO}/{root}")))
        .await
        .error(
            500,
            &multierror(&format!(
                "methodID is still used by an enforcement configuration with ID: {}",
                data["id"].as_str().unwrap()
            )),
        );
    svc.read_method(None, &root).await.ok();
}

#[tokio::test]
async fn enforcements_are_seen_only_in_their_own_namespace() {
    let svc = Service::start().await;
    let (root, _, _, _) = methods_everywhere(&svc).await;
    svc.enforce(
        Some("ns1"),
        "e1",
        json!({"mfa_method_ids": [root], "auth_method_types": ["token"]}),
    )
    .await
    .no_content();
    assert_eq!(
        svc.send(svc.r("LIST", ENF).ns("ns1")).await.keys(),
        vec!["e1"]
    );
    svc.send(svc.r("LIST", ENF)).await.empty_errors(404);
    svc.send(svc.r("LIST", ENF).ns("ns1/ns2"))
        .await
        .empty_errors(404);
    svc.enforcement(None, "e1").await.empty_errors(404);
    svc.enforcement(Some("ns1/ns2"), "e1")
        .await
        .empty_errors(404);
    // A delete from elsewhere does not reach it.
    svc.send(svc.r("DELETE", format!("{ENF}/e1")))
        .await
        .no_content();
    svc.enforcement(Some("ns1"), "e1").await.ok();
}

#[tokio::test]
async fn a_namespace_with_children_cannot_be_deleted() {
    let svc = Service::start().await;
    let (_, ns1, ns2, _) = methods_everywhere(&svc).await;
    let error = svc
        .send(svc.r("DELETE", format!("{NAMESPACES}/ns1")))
        .await
        .one_error(400);
    assert!(error.contains("containing child namespaces"), "{error}");
    let mut keys = svc.send(svc.r("LIST", NAMESPACES)).await.keys();
    keys.sort();
    assert_eq!(keys, vec!["ns1/", "nsb/"]);
    assert_eq!(
        svc.send(svc.r("LIST", NAMESPACES).ns("ns1")).await.keys(),
        vec!["ns2/"]
    );
    svc.read_method(None, &ns1).await.ok();
    svc.read_method(None, &ns2).await.ok();
}

#[tokio::test]
async fn deleting_a_leaf_namespace_answers_deleted_and_removes_its_contents() {
    let svc = Service::start().await;
    let (root, ns1, ns2, _) = methods_everywhere(&svc).await;
    svc.mount_trusted(Some("ns1/ns2")).await;
    svc.enforce(
        Some("ns1/ns2"),
        "e1",
        json!({"mfa_method_ids": [ns2], "auth_method_types": ["trusted"]}),
    )
    .await
    .no_content();
    let data = svc
        .send(svc.r("DELETE", format!("{NAMESPACES}/ns2")).ns("ns1"))
        .await
        .ok();
    assert_eq!(data["status"], "deleted");
    svc.send(svc.r("LIST", NAMESPACES).ns("ns1"))
        .await
        .empty_errors(404);
    svc.read_method(None, &ns2).await.empty_errors(404);
    svc.list_methods(Some("ns1/ns2"))
        .await
        .error(404, "namespace not found");
    // Recreated, it starts empty.
    svc.namespace(Some("ns1"), "ns2").await;
    assert_eq!(
        svc.list_methods(Some("ns1/ns2")).await.keys(),
        sorted(&[&root, &ns1])
    );
    svc.send(svc.r("LIST", ENF).ns("ns1/ns2"))
        .await
        .empty_errors(404);
    let mounts = svc.send(svc.r("GET", AUTH).ns("ns1/ns2")).await.json();
    assert!(mounts["data"].get("trusted/").is_none(), "{mounts}");
    // A child of the root goes the same way.
    svc.send(svc.r("DELETE", format!("{NAMESPACES}/nsb")))
        .await
        .ok();
    assert_eq!(
        svc.send(svc.r("LIST", NAMESPACES)).await.keys(),
        vec!["ns1/"]
    );
}

// ---------------------------------------------------------------------------------------------
// Step-up methods (sys/mfa/method/duo/{name})

#[tokio::test]
async fn stepup_methods_are_written_with_204_and_read_without_the_keys() {
    let svc = Service::start().await;
    let accessor = svc.mount_trusted(None).await;
    let path = format!("{STEPUP}/sudo");
    svc.send(svc.r("POST", &path).json(&duo(json!({
        "mount_accessor": accessor,
        "push_info": "from=vault",
        "username_format": "{{alias.name}}@example.com",
    }))))
    .await
    .no_content();
    let resp = svc.send(svc.r("GET", &path)).await;
    let data = resp.ok();
    let id = data["id"].as_str().unwrap().to_string();
    assert_eq!(
        data,
        json!({
            "api_hostname": HOST,
            "id": id,
            "mount_accessor": accessor,
            "name": "sudo",
            "pushinfo": "from=vault",
            "type": "duo",
            "username_format": "{{alias.name}}@example.com",
        })
    );
    for field in ["secret_key", "integration_key"] {
        assert!(!resp.text.contains(field), "{}", resp.text);
    }
    // A second write replaces the Duo part and keeps the id.
    svc.send(svc.r("POST", &path).json(&json!({
        "mount_accessor": accessor,
        "secret_key": SKEY2,
        "integration_key": IKEY2,
        "api_hostname": HOST2,
    })))
    .await
    .no_content();
    let after = svc.send(svc.r("GET", &path)).await.ok();
    assert_eq!(
        (&after["id"], &after["api_hostname"], &after["pushinfo"]),
        (&json!(id), &json!(HOST2), &json!(""))
    );
    svc.send(svc.r("GET", format!("{STEPUP}/other")))
        .await
        .empty_errors(404);
}

#[tokio::test]
async fn stepup_methods_need_a_mount_accessor_of_a_root_auth_mount() {
    let svc = Service::start().await;
    svc.mount_trusted(None).await;
    svc.namespace(None, "ns1").await;
    let ns1_accessor = svc.mount_trusted(Some("ns1")).await;
    let path = format!("{STEPUP}/sudo");
    svc.send(svc.r("POST", &path).json(&duo(json!({}))))
        .await
        .error(400, "mount_accessor is empty");
    svc.send(
        svc.r("POST", &path)
            .json(&duo(json!({"mount_accessor": ""}))),
    )
    .await
    .error(400, "mount_accessor is empty");
    for accessor in ["auth_userpass_12345678", ns1_accessor.as_str()] {
        svc.send(
            svc.r("POST", &path)
                .json(&duo(json!({"mount_accessor": accessor}))),
        )
        .await
        .one_error(400);
    }
    svc.send(svc.r("GET", &path)).await.empty_errors(404);
}

#[tokio::test]
async fn stepup_methods_are_refused_in_namespaces() {
    let svc = Service::start().await;
    svc.namespace(None, "ns1").await;
    let ns1_accessor = svc.mount_trusted(Some("ns1")).await;
    let body = duo(json!({"mount_accessor": ns1_accessor}));
    svc.send(
        svc.r("POST", format!("{STEPUP}/sudo"))
            .ns("ns1")
            .json(&body),
    )
    .await
    .one_error(400);
    svc.send(svc.r("POST", "/v1/ns1/sys/mfa/method/duo/sudo").json(&body))
        .await
        .one_error(400);
    svc.send(svc.r("GET", format!("{STEPUP}/sudo")))
        .await
        .empty_errors(404);
}

#[tokio::test]
async fn stepup_delete_is_204_whether_or_not_it_exists() {
    let svc = Service::start().await;
    let accessor = svc.mount_trusted(None).await;
    let path = format!("{STEPUP}/sudo");
    svc.send(
        svc.r("POST", &path)
            .json(&duo(json!({"mount_accessor": accessor}))),
    )
    .await
    .no_content();
    svc.send(svc.r("DELETE", &path)).await.no_content();
    svc.send(svc.r("GET", &path)).await.empty_errors(404);
    svc.send(svc.r("DELETE", &path)).await.no_content();
}

// ---------------------------------------------------------------------------------------------
// sys/health

#[tokio::test]
async fn sys_health_needs_no_token_and_is_a_bare_object() {
    let svc = Service::start().await;
    for request in [
        req("GET", "/v1/sys/health"),
        req("GET", "/v1/sys/health").token("hvs.not-a-token"),
    ] {
        let resp = svc.send(request).await;
        resp.status(200);
        let body = resp.json();
        assert_eq!(body["initialized"], true, "{body}");
        assert_eq!(body["sealed"], false, "{body}");
        assert_eq!(body["standby"], false, "{body}");
        for envelope_key in ["request_id", "data", "auth"] {
            assert!(body.get(envelope_key).is_none(), "{body}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Access control

/// A root `trusted/` mount, a root method (`corp`) and enforcement `e1` over them, step-up
/// `sudo`, namespaces `ns1` (with its own mount, method and enforcement `e1`) and `nsb`.
struct Fixture {
    svc: Service,
    method: String,
    ns_method: String,
    accessor: String,
}

async fn fixture() -> Fixture {
    let svc = Service::start().await;
    svc.namespace(None, "ns1").await;
    svc.namespace(None, "nsb").await;
    let accessor = svc.mount_trusted(None).await;
    svc.mount_trusted(Some("ns1")).await;
    let method = svc
        .create_method(None, duo(json!({"method_name": "corp"})))
        .await;
    let ns_method = svc
        .create_method(Some("ns1"), duo(json!({"method_name": "ns_corp"})))
        .await;
    svc.enforce(
        None,
        "e1",
        json!({"mfa_method_ids": [method], "auth_method_accessors": [accessor]}),
    )
    .await
    .no_content();
    svc.enforce(
        Some("ns1"),
        "e1",
        json!({"mfa_method_ids": [ns_method], "auth_method_types": ["trusted"]}),
    )
    .await
    .no_content();
    svc.send(
        svc.r("POST", format!("{STEPUP}/sudo"))
            .json(&duo(json!({"mount_accessor": accessor}))),
    )
    .await
    .no_content();
    Fixture {
        svc,
        method,
        ns_method,
        accessor,
    }
}

/// One request of the matrix: whether it writes, and what an unbound admin gets (in order).
struct Route {
    verb: &'static str,
    path: String,
    body: Option<Value>,
    write: bool,
    admin: u16,
}

impl Route {
    fn request(&self) -> Req {
        let request = req(self.verb, self.path.clone());
        match &self.body {
            Some(body) => request.json(body),
            None => request,
        }
    }
}

impl Fixture {
    /// Every route and verb of the dialect (but `sys/health`), in an order in which an admin's
    /// requests all succeed.
    fn routes(&self) -> Vec<Route> {
        let (m, a) = (&self.method, &self.accessor);
        let read = |verb: &'static str, path: String| Route {
            verb,
            path,
            body: None,
            write: false,
            admin: 200,
        };
        let write = |verb: &'static str, path: String, body: Option<Value>, admin: u16| Route {
            verb,
            path,
            body,
            write: true,
            admin,
        };
        vec![
            read("LIST", NAMESPACES.into()),
            read("GET", format!("{NAMESPACES}?list=true")),
            write("POST", format!("{NAMESPACES}/nsx"), None, 200),
            read("GET", format!("{NAMESPACES}/ns1")),
            read("GET", AUTH.into()),
            write(
                "POST",
                format!("{AUTH}/other"),
                Some(json!({"type": "trusted"})),
                204,
            ),
            read("LIST", DUO.into()),
            read("GET", format!("{DUO}?list=True")),
            write("POST", DUO.into(), Some(duo(json!({}))), 200),
            write("PUT", DUO.into(), Some(duo(json!({}))), 200),
            read("GET", format!("{DUO}/{m}")),
            write(
                "POST",
                format!("{DUO}/{m}"),
                Some(duo(json!({"api_hostname": HOST2}))),
                204,
            ),
            // A JSON body: Vault refuses PATCH without merge-patch before routing (415).
            write(
                "PATCH",
                format!("{DUO}/{m}"),
                Some(json!({"api_hostname": HOST2})),
                415,
            ),
            read("LIST", ANY_METHOD.into()),
            read("GET", format!("{ANY_METHOD}/{m}")),
            read("LIST", ENF.into()),
            read("GET", format!("{ENF}/e1")),
            write(
                "POST",
                format!("{ENF}/e1"),
                Some(json!({"mfa_method_ids": [m], "auth_method_types": ["trusted"]})),
                204,
            ),
            read("GET", format!("{STEPUP}/sudo")),
            write(
                "POST",
                format!("{STEPUP}/sudo2"),
                Some(duo(json!({"mount_accessor": a}))),
                204,
            ),
            write("DELETE", format!("{STEPUP}/sudo"), None, 204),
            write("DELETE", format!("{ENF}/e1"), None, 204),
            write("DELETE", format!("{DUO}/{m}"), None, 204),
            write("DELETE", format!("{AUTH}/trusted"), None, 204),
            write("DELETE", format!("{NAMESPACES}/ns1"), None, 200),
        ]
    }

    async fn snapshot(&self) -> Vec<(String, u16, Value)> {
        self.svc
            .snapshot(
                &[None, Some("ns1"), Some("nsb")],
                &[
                    format!("{STEPUP}/sudo"),
                    format!("{STEPUP}/sudo2"),
                    format!("{NAMESPACES}/nsx"),
                    format!("{DUO}/{}", self.method),
                    format!("{DUO}/{}", self.ns_method),
                ],
            )
            .await
    }
}

#[tokio::test]
async fn the_matrix_routes_all_work_for_an_unbound_admin() {
    let f = fixture().await;
    let before = f.snapshot().await;
    for route in f.routes() {
        f.svc
            .send(route.request().token(&f.svc.root))
            .await
            .status(route.admin);
    }
    // The writes took effect (so the refusals in the other tests are real ones).
    assert_ne!(f.snapshot().await, before);
    f.svc
        .send(f.svc.r("GET", format!("{STEPUP}/sudo2")))
        .await
        .ok();
    f.svc.read_method(None, &f.method).await.empty_errors(404);
}

#[tokio::test]
async fn every_route_refuses_missing_bad_and_mfa_tokens_with_permission_denied() {
    let f = fixture().await;
    let svc = &f.svc;
    let mfa = svc.token(Role::Mfa, None).await;
    let before = f.snapshot().await;
    for route in f.routes() {
        svc.send(route.request()).await.denied();
        svc.send(route.request().token("hvs.not-a-token"))
            .await
            .denied();
        svc.send(route.request().bearer("hvs.not-a-token"))
            .await
            .denied();
        svc.send(route.request().token(&mfa)).await.denied();
        svc.send(route.request().bearer(&mfa)).await.denied();
        assert_eq!(f.snapshot().await, before, "{} {}", route.verb, route.path);
    }
}

#[tokio::test]
async fn reader_tokens_may_read_and_list_but_not_write() {
    let f = fixture().await;
    let svc = &f.svc;
    let reader = svc.token(Role::Reader, None).await;
    let before = f.snapshot().await;
    for route in f.routes() {
        for request in [
            route.request().token(&reader),
            route.request().bearer(&reader),
        ] {
            let resp = svc.send(request).await;
            if route.write {
                resp.denied();
            } else {
                resp.status(200);
            }
        }
        assert_eq!(f.snapshot().await, before, "{} {}", route.verb, route.path);
    }
    // Namespaces work for an unbound reader; empty lists and unknown ids are 404, not 403.
    assert_eq!(
        svc.send(req("LIST", DUO).token(&reader).ns("nsb"))
            .await
            .keys(),
        vec![f.method.clone()]
    );
    for request in [
        req("LIST", ENF).ns("nsb"),
        req("GET", format!("{DUO}/{UNKNOWN_ID}")),
        req("GET", format!("{ENF}/nope")),
    ] {
        svc.send(request.token(&reader)).await.empty_errors(404);
    }
}

#[tokio::test]
async fn bearer_authorization_works_like_x_vault_token() {
    let svc = Service::start().await;
    let id = svc
        .send(req("POST", DUO).bearer(&svc.root).json(&duo(json!({}))))
        .await
        .ok()["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        svc.send(req("LIST", DUO).bearer(&svc.root)).await.keys(),
        vec![id.clone()]
    );
    // An empty X-Vault-Token falls back to the Bearer token.
    svc.send(
        req("GET", format!("{DUO}/{id}"))
            .token("")
            .bearer(&svc.root),
    )
    .await
    .ok();
    // X-Vault-Token comes first: a bad one is not rescued by a good Bearer.
    svc.send(
        req("GET", format!("{DUO}/{id}"))
            .token("hvs.not-a-token")
            .bearer(&svc.root),
    )
    .await
    .denied();
    // and a good one is not spoiled by a bad Bearer.
    svc.send(
        req("GET", format!("{DUO}/{id}"))
            .token(&svc.root)
            .bearer("hvs.not-a-token"),
    )
    .await
    .ok();
    // Other schemes are not tokens.
    svc.send(req("LIST", DUO).header("Authorization", &format!("Token {}", svc.root)))
        .await
        .denied();
}

#[tokio::test]

async fn basic_credentials_are_not_a_vault_token() {
    use base64::Engine as _;
    let svc = Service::start().await;
    let password = secrecy::SecretString::from("p4ssw0rd-long-enough".to_string());
    svc.state
        .store
        .create_account("ops", &password, Role::Admin, None)
        .await
        .unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode("ops:p4ssw0rd-long-enough");
    let basic = format!("Basic {basic}");
    svc.send(req("LIST", DUO).header("Authorization", &basic))
        .await
        .denied();
    svc.send(
        req("POST", DUO)
            .header("Authorization", &basic)
            .json(&duo(json!({}))),
    )
    .await
    .denied();
    svc.list_methods(None).await.empty_errors(404);
}

#[tokio::test]
async fn a_token_bound_to_a_namespace_is_refused_everywhere_else() {
    let f = fixture().await;
    let svc = &f.svc;
    let bound = svc.token(Role::Admin, Some("ns1")).await;
    let before = f.snapshot().await;
    for route in f.routes() {
        // The root namespace, a sibling, and namespaces that do not exist (403, not 404).
        for namespace in [None, Some("nsb"), Some("nope"), Some("ns1/nope")] {
            svc.send(route.request().token(&bound).maybe_ns(namespace))
                .await
                .denied();
        }
        svc.send(route.request().bearer(&bound)).await.denied();
        assert_eq!(f.snapshot().await, before, "{} {}", route.verb, route.path);
    }
    svc.send(req("LIST", "/v1/nope/identity/mfa/method/duo").token(&bound))
        .await
        .denied();
    svc.send(req("LIST", "/v1/nsb/identity/mfa/method/duo").token(&bound))
        .await
        .denied();
    // An unbound token learns that the namespace does not exist.
    svc.send(svc.r("LIST", DUO).ns("nope"))
        .await
        .error(404, "namespace not found");
}

#[tokio::test]
async fn a_token_bound_to_a_namespace_works_inside_it() {
    let f = fixture().await;
    let svc = &f.svc;
    let bound = svc.token(Role::Admin, Some("ns1")).await;
    let ns1 = |verb: &str, path: String| req(verb, path).token(&bound).ns("ns1");

    assert_eq!(
        svc.send(ns1("LIST", DUO.into())).await.keys(),
        sorted(&[&f.method, &f.ns_method])
    );
    assert_eq!(
        svc.send(req("LIST", "/v1/ns1/identity/mfa/method/duo").token(&bound))
            .await
            .keys(),
        sorted(&[&f.method, &f.ns_method])
    );
    assert_eq!(
        svc.send(ns1("LIST", ANY_METHOD.into())).await.keys(),
        sorted(&[&f.method, &f.ns_method])
    );
    svc.send(ns1("GET", format!("{DUO}/{}", f.ns_method)))
        .await
        .ok();
    svc.send(ns1("GET", format!("{ANY_METHOD}/{}", f.method)))
        .await
        .ok();
    let created = svc
        .send(ns1("POST", DUO.into()).json(&duo(json!({}))))
        .await
        .ok()["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        svc.read_method(None, &created).await.ok()["namespace_path"],
        "ns1/"
    );
    svc.send(ns1("POST", format!("{DUO}/{created}")).json(&duo(json!({"api_hostname": HOST2}))))
        .await
        .no_content();
    svc.send(ns1("GET", AUTH.into())).await.status(200);
    svc.send(ns1("POST", format!("{AUTH}/other")).json(&json!({"type": "trusted"})))
        .await
        .no_content();
    svc.send(ns1("DELETE", format!("{AUTH}/other")))
        .await
        .no_content();
    assert_eq!(svc.send(ns1("LIST", ENF.into())).await.keys(), vec!["e1"]);
    svc.send(ns1("GET", format!("{ENF}/e1"))).await.ok();
    svc.send(
        ns1("POST", format!("{ENF}/e2"))
            .json(&json!({"mfa_method_ids": [created], "auth_method_types": ["trusted"]})),
    )
    .await
    .no_content();
    svc.send(ns1("DELETE", format!("{ENF}/e2")))
        .await
        .no_content();
    svc.send(ns1("DELETE", format!("{DUO}/{created}")))
        .await
        .no_content();
    svc.send(ns1("LIST", NAMESPACES.into()))
        .await
        .empty_errors(404);
    svc.send(ns1("GET", format!("{NAMESPACES}/child")))
        .await
        .empty_errors(404);
    // Step-up methods are root-only: refused as such, not as a permission problem.
    svc.send(ns1("GET", format!("{STEPUP}/sudo")))
        .await
        .one_error(400);
    // A bound reader reads but does not write.
    let reader = svc.token(Role::Reader, Some("ns1")).await;
    svc.send(req("LIST", DUO).token(&reader).ns("ns1"))
        .await
        .status(200);
    svc.send(
        req("POST", DUO)
            .token(&reader)
            .ns("ns1")
            .json(&duo(json!({}))),
    )
    .await
    .denied();
}

#[tokio::test]
async fn overlong_or_odd_hosts_and_method_names_are_refused_in_vaults_format_and_store_nothing() {
    let svc = Service::start().await;
    let long_host = "a".repeat(100_000);
    for body in [
        duo(json!({"api_hostname": long_host})),
        duo(json!({"api_hostname": format!("{}.duosecurity.com", "a".repeat(250))})),
        duo(json!({"api_hostname": "api-x duosecurity.com"})),
        duo(json!({"method_name": "a/b"})),
        duo(json!({"method_name": "a\nb"})),
        duo(json!({"method_name": ".."})),
        duo(json!({"method_name": "n".repeat(129)})),
    ] {
        let error = svc
            .send(svc.r("POST", DUO).json(&body))
            .await
            .one_error(400);
        assert!(error.len() < 200, "the value is not echoed: {error:.80}");
    }
    svc.list_methods(None).await.empty_errors(404);
    let accessor = svc.mount_trusted(None).await;
    let error = svc
        .send(svc.r("POST", format!("{STEPUP}/stepup")).json(&duo(
            json!({"api_hostname": long_host, "mount_accessor": accessor}),
        )))
        .await
        .one_error(400);
    assert!(error.starts_with("api_hostname:"), "{error:.80}");
}
