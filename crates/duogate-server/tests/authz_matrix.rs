//! The authorization matrix, generated from the dialects' route tables (`native::ROUTES`,
//! `ontap::ROUTES`, `vault::ROUTES`): every row × {no credentials, a bad token, reader, mfa,
//! a `login` token from a Vault trusted-mount login, an admin token bound to another tenant,
//! an unbound admin, Basic accounts (admin and reader)}. A caller whose role does not suffice
//! gets the dialect's refusal (Vault 403 `permission denied`, ONTAP 401, or 403 code 6 for a
//! known caller without the role, native 401 without
//! a valid credential and 403 with one) and the stored state stays as it was. The tables are
//! compared with the routers' source, so a route cannot be added without its row.

mod support;

use base64::Engine as _;
use secrecy::SecretString;
use serde_json::{Value, json};

use duogate_server::routes::{Access, RouteSpec};
use duogate_server::{AppState, ServiceSettings, native, ontap, vault};
use duogate_store::tenants::TenantPath;
use duogate_store::tokens::Role;

const ID: &str = "0f8e2c4e-3b51-4f1d-9a57-8a5b3f0e2d11";
const ACCOUNT_PASSWORD: &str = "matrix-account-password";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Native,
    Ontap,
    Vault,
}

/// Every route of the three dialects, with its dialect.
fn all_routes() -> Vec<(Dialect, RouteSpec)> {
    let mut rows = Vec::new();
    rows.extend(native::ROUTES.iter().map(|r| (Dialect::Native, *r)));
    rows.extend(ontap::ROUTES.iter().map(|r| (Dialect::Ontap, *r)));
    rows.extend(vault::ROUTES.iter().map(|r| (Dialect::Vault, *r)));
    rows
}

/// The kinds of caller of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Nobody,
    BadToken,
    Reader,
    Mfa,
    Login,
    BoundAdmin,
    Admin,
    BasicAdmin,
    BasicReader,
}

const EVERYONE: [Who; 9] = [
    Who::Nobody,
    Who::BadToken,
    Who::Reader,
    Who::Mfa,
    Who::Login,
    Who::BoundAdmin,
    Who::Admin,
    Who::BasicAdmin,
    Who::BasicReader,
];

/// A service with a root tenant holding a tenant `victim`, an account `victim-acct`, a Vault
/// namespace `nsv` and trusted mount `plain`, and every kind of credential.
struct Fixture {
    state: AppState,
    root_tenant: String,
    root: String,
    reader: String,
    mfa: String,
    login: String,
    bound_admin: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Self {
        let (store, root, dir) = support::store_with_root().await;
        let root_tenant = store.root_tenant().await.unwrap().id;
        let other = store
            .create_tenant(&TenantPath::parse("other").unwrap())
            .await
            .unwrap();
        store
            .create_tenant(&TenantPath::parse("victim").unwrap())
            .await
            .unwrap();
        let token = |role, tenant: Option<String>| {
            let store = store.clone();
            async move {
                let (secret, _) = store
                    .create_token(role, tenant.as_deref(), None)
                    .await
                    .unwrap();
                secrecy::ExposeSecret::expose_secret(&secret).to_string()
            }
        };
        let reader = token(Role::Reader, None).await;
        let mfa = token(Role::Mfa, None).await;
        let bound_admin = token(Role::Admin, Some(other.id.clone())).await;
        for (name, role) in [
            ("acct-admin", Role::Admin),
            ("acct-reader", Role::Reader),
            ("victim-acct", Role::Reader),
        ] {
            store
                .create_account(name, &SecretString::from(ACCOUNT_PASSWORD), role, None)
                .await
                .unwrap();
        }
        let state = AppState::new(
            store,
            ServiceSettings {
                status_refresh: None,
                ..ServiceSettings::default()
            },
        );
        let auth = [("x-vault-token", root.as_str())];
        let (status, body) =
            support::send(&state, "POST", "/v1/sys/namespaces/nsv", &auth, None).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = support::send(
            &state,
            "POST",
            "/v1/sys/auth/plain",
            &auth,
            Some(json!({"type": "trusted"})),
        )
        .await;
        assert_eq!(status, 204, "{body}");
        let (status, body) = support::send(
            &state,
            "POST",
            "/v1/auth/plain/login",
            &[("x-vault-token", mfa.as_str())],
            Some(json!({"username": "dave"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let login = body["auth"]["client_token"].as_str().unwrap().to_string();
        Self {
            state,
            root_tenant,
            root,
            reader,
            mfa,
            login,
            bound_admin,
            _dir: dir,
        }
    }

    /// The headers `who` sends to `dialect`.
    fn headers(&self, who: Who, dialect: Dialect) -> Vec<(String, String)> {
        let token = |secret: &str| match dialect {
            Dialect::Vault => ("x-vault-token".to_string(), secret.to_string()),
            _ => ("authorization".to_string(), format!("Bearer {secret}")),
        };
        let basic = |user: &str| {
            let encoded = base64::engine::general_purpose::STANDARD
                .encode(format!("{user}:{ACCOUNT_PASSWORD}"));
            ("authorization".to_string(), format!("Basic {encoded}"))
        };
        match who {
            Who::Nobody => vec![],
            Who::BadToken => vec![token("dg.not-a-token")],
            Who::Reader => vec![token(&self.reader)],
            Who::Mfa => vec![token(&self.mfa)],
            Who::Login => vec![token(&self.login)],
            Who::BoundAdmin => vec![token(&self.bound_admin)],
            Who::Admin => vec![token(&self.root)],
            Who::BasicAdmin => vec![basic("acct-admin")],
            Who::BasicReader => vec![basic("acct-reader")],
        }
    }

    /// The request path of `row`, its placeholders filled with the fixture's names.
    fn path(&self, dialect: Dialect, row: &RouteSpec) -> String {
        let filled = row
            .path
            .replace("{*path}", "victim")
            .replace("{name}/actions/{action}", "emulator/actions/retrieve_users")
            .replace("{accessor}", "nope")
            .replace("{txid}", "nope")
            .replace("{owner_uuid}", &self.root_tenant)
            .replace("{uuid}", &self.root_tenant)
            .replace("{mount}", "plain")
            .replace("{path}", "plain")
            .replace("{id}", ID);
        let filled = match (dialect, row.path) {
            (Dialect::Native, p) if p.starts_with("/accounts/") => {
                filled.replace("{name}", "victim-acct")
            }
            (Dialect::Vault, p) if p.starts_with("sys/namespaces/") => {
                filled.replace("{name}", "nsv")
            }
            (Dialect::Vault, p) if p.starts_with("identity/mfa/login-enforcement/") => {
                filled.replace("{name}", "e1")
            }
            _ => filled.replace("{name}", "corp"),
        };
        match dialect {
            Dialect::Native => format!("/v1/duogate{filled}"),
            Dialect::Ontap => format!("/api{filled}"),
            Dialect::Vault => format!("/v1/{filled}"),
        }
    }

    async fn send(&self, dialect: Dialect, row: &RouteSpec, who: Who) -> (u16, Value) {
        let headers = self.headers(who, dialect);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let body = matches!(row.method, "POST" | "PUT" | "PATCH").then(|| json!({}));
        support::send(
            &self.state,
            row.method,
            &self.path(dialect, row),
            &headers,
            body,
        )
        .await
    }

    /// What an admin sees of the stored state, across the dialects.
    async fn snapshot(&self) -> Vec<Value> {
        let auth = [("x-vault-token", self.root.as_str())];
        let bearer = format!("Bearer {}", self.root);
        let bearer = [("authorization", bearer.as_str())];
        let mut seen = Vec::new();
        for (method, path, headers) in [
            ("GET", "/v1/duogate/tenants", &bearer[..]),
            ("GET", "/v1/duogate/accounts", &bearer[..]),
            ("GET", "/v1/duogate/connections/corp", &bearer[..]),
            ("LIST", "/v1/sys/namespaces", &auth[..]),
            ("GET", "/v1/sys/auth", &auth[..]),
            ("LIST", "/v1/identity/mfa/method", &auth[..]),
            ("LIST", "/v1/identity/mfa/login-enforcement", &auth[..]),
            ("GET", "/v1/sys/mfa/method/duo/corp", &auth[..]),
            (
                "GET",
                "/api/security/authentication/duo/profiles?fields=*",
                &bearer[..],
            ),
            (
                "GET",
                "/api/security/authentication/duo/groups?fields=*",
                &bearer[..],
            ),
        ] {
            let (status, mut body) = support::send(&self.state, method, path, headers, None).await;
            strip_volatile(&mut body);
            seen.push(json!({"path": path, "status": status, "body": body}));
        }
        seen
    }
}

/// Removes the fields that differ between two identical reads (request ids, timestamps).
fn strip_volatile(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for key in ["request_id", "lease_id", "last_checked", "checked_at"] {
                map.remove(key);
            }
            map.values_mut().for_each(strip_volatile);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_volatile),
        _ => {}
    }
}

/// The role `who` acts with, when it presents a valid credential the dialect accepts.
fn role_of(who: Who) -> Option<Role> {
    match who {
        Who::Nobody | Who::BadToken => None,
        Who::Reader | Who::BasicReader => Some(Role::Reader),
        Who::Mfa => Some(Role::Mfa),
        Who::Login => Some(Role::Login),
        Who::BoundAdmin | Who::Admin | Who::BasicAdmin => Some(Role::Admin),
    }
}

/// Whether `who`'s role is enough for `row` (tenant binding aside).
fn role_suffices(who: Who, row: &RouteSpec) -> bool {
    match (row.access, role_of(who)) {
        (Access::Open, _) => true,
        (_, None) => false,
        (Access::AnyToken, _) => !matches!(who, Who::BasicAdmin | Who::BasicReader),
        (Access::Needs(needed), Some(role)) => role == Role::Admin || role == needed,
    }
}

/// The dialect's refusal: Vault 403 `permission denied`, ONTAP 401 (403 code 6 for a known
/// caller without the role, as ONTAP does), native 401/403.
fn is_refusal(dialect: Dialect, status: u16, body: &Value) -> bool {
    match dialect {
        Dialect::Vault => status == 403 && body["errors"] == json!(["permission denied"]),
        Dialect::Ontap => status == 401 || (status == 403 && body["error"]["code"] == "6"),
        Dialect::Native => status == 401 || status == 403,
    }
}

#[tokio::test]
async fn every_route_refuses_every_caller_whose_role_does_not_suffice_and_changes_nothing() {
    let mut refused = 0;
    for who in EVERYONE {
        // A fresh service per caller: the allowed requests of one caller change the state the
        // next caller's refusals are compared with.
        let f = Fixture::start().await;
        let mut before = f.snapshot().await;
        for (dialect, row) in all_routes() {
            let (status, body) = f.send(dialect, &row, who).await;
            let label = format!(
                "{who:?} {dialect:?} {} {}",
                row.method,
                f.path(dialect, &row)
            );
            if role_suffices(who, &row) {
                before = f.snapshot().await;
                continue;
            }
            assert!(
                is_refusal(dialect, status, &body),
                "{label}: {status} {body}"
            );
            assert_eq!(f.snapshot().await, before, "{label} changed the state");
            refused += 1;
        }
    }
    println!("refused requests checked: {refused}");
    assert!(refused > 0);
}

#[tokio::test]
async fn no_credentials_and_bad_tokens_get_the_unauthenticated_answer_of_each_dialect() {
    let f = Fixture::start().await;
    for who in [Who::Nobody, Who::BadToken] {
        for (dialect, row) in all_routes() {
            if row.access == Access::Open {
                continue;
            }
            let (status, body) = f.send(dialect, &row, who).await;
            let expected = match dialect {
                Dialect::Vault => 403,
                Dialect::Ontap | Dialect::Native => 401,
            };
            assert_eq!(status, expected, "{who:?} {dialect:?} {row:?}: {body}");
        }
    }
}

#[tokio::test]
async fn an_unbound_admin_token_is_never_refused_on_any_route() {
    for (dialect, row) in all_routes() {
        // Fresh each time: the admin's deletes would remove what later rows name.
        let f = Fixture::start().await;
        let (status, body) = f.send(dialect, &row, Who::Admin).await;
        assert!(
            !is_refusal(dialect, status, &body) && status != 401,
            "{dialect:?} {} {}: {status} {body}",
            row.method,
            f.path(dialect, &row)
        );
    }
}

#[tokio::test]
async fn an_admin_token_bound_to_another_tenant_changes_nothing_in_the_root_tenant() {
    let f = Fixture::start().await;
    let before = f.snapshot().await;
    for (dialect, row) in all_routes() {
        let (status, body) = f.send(dialect, &row, Who::BoundAdmin).await;
        assert!(
            !(200..300).contains(&status)
                || row.method == "GET"
                || row.method == "LIST"
                || row.access == Access::Open,
            "{dialect:?} {} {}: {status} {body}",
            row.method,
            f.path(dialect, &row)
        );
        assert_eq!(f.snapshot().await, before, "{dialect:?} {row:?}");
    }
}

#[tokio::test]
async fn paths_without_a_row_are_not_found_in_every_dialect() {
    let f = Fixture::start().await;
    for (path, method) in [
        ("/v1/duogate/nope", "GET"),
        ("/v1/duogate/tenants/", "GET"),
        ("/v1/duogate/connections", "GET"),
        ("/api/nope", "GET"),
        ("/api/security/authentication/duo", "GET"),
        ("/v1/secret/data/x", "GET"),
        ("/v1/nope", "GET"),
    ] {
        let root = format!("Bearer {}", f.root);
        let (status, body) = support::send(
            &f.state,
            method,
            path,
            &[
                ("authorization", root.as_str()),
                ("x-vault-token", f.root.as_str()),
            ],
            None,
        )
        .await;
        assert_eq!(status, 404, "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn methods_without_a_row_are_refused_on_native_and_ontap_paths() {
    let f = Fixture::start().await;
    for (dialect, table) in [
        (Dialect::Native, native::ROUTES),
        (Dialect::Ontap, ontap::ROUTES),
    ] {
        for row in table {
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                if table
                    .iter()
                    .any(|r| r.path == row.path && r.method == method)
                {
                    continue;
                }
                let probe = RouteSpec { method, ..*row };
                let (status, body) = f.send(dialect, &probe, Who::Admin).await;
                assert_eq!(status, 405, "{dialect:?} {method} {}: {body}", row.path);
            }
        }
    }
}

/// The string literals that follow `marker` in `source`.
fn literals_after(source: &str, marker: &str) -> Vec<String> {
    source
        .split(marker)
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start();
            let rest = rest.strip_prefix('"')?;
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

fn table_paths(table: &[RouteSpec]) -> std::collections::BTreeSet<String> {
    table.iter().map(|r| r.path.to_string()).collect()
}

#[test]
fn the_native_and_ontap_tables_name_every_route_of_their_routers() {
    let native_src = include_str!("../src/native/mod.rs");
    let router = &native_src[native_src.find("pub fn router").unwrap()..];
    let mut routed: std::collections::BTreeSet<String> =
        literals_after(router, ".route(").into_iter().collect();
    // The empty-path guard, which only answers 404.
    assert!(routed.remove("/tenants/"));
    assert_eq!(routed, table_paths(native::ROUTES));

    let ontap_src = include_str!("../src/ontap/mod.rs");
    let router = &ontap_src[ontap_src.find("pub fn router").unwrap()..];
    let routed: std::collections::BTreeSet<String> =
        literals_after(router, ".route(").into_iter().collect();
    assert_eq!(routed, table_paths(ontap::ROUTES));
}

#[test]
fn the_vault_table_names_every_logical_route() {
    let source = include_str!("../src/vault/mod.rs");
    let start = source.find("pub fn logical_route").unwrap();
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let mut templates: std::collections::BTreeSet<String> =
        literals_after(body, "=>").into_iter().collect();
    assert!(templates.remove("unsupported"));
    assert_eq!(templates, table_paths(vault::ROUTES));
    // And each row's path dispatches to its own template.
    for row in vault::ROUTES {
        let segments: Vec<&str> = row.path.split('/').collect();
        assert_eq!(vault::logical_route(&segments), row.path, "{row:?}");
    }
}
