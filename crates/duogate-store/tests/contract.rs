//! The store's contract: every operation, on SQLite always and on PostgreSQL when
//! `TEST_POSTGRES_URL` names a server (each test gets its own fresh database there).

use std::future::Future;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use duogate_store::audit::NewAuditEntry;
use duogate_store::integrations::{IntegrationKind, NewIntegration};
use duogate_store::seal::KeyCheckProblem;
use duogate_store::tenants::TenantPath;
use duogate_store::tokens::Role;
use duogate_store::{Keyring, SealKey, Store, StoreError};

const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";

/// A fresh database: (url, cleanup).
async fn fresh_sqlite() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("store.db").display()
    );
    (url, dir)
}

async fn fresh_postgres(base: &str) -> (String, String) {
    use sqlx::Executor as _;
    sqlx::any::install_default_drivers();
    let name = format!("duogate_contract_{}", uuid::Uuid::new_v4().simple());
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

/// Runs `body` against a store on every available engine.
async fn on_every_engine<F, Fut>(body: F)
where
    F: Fn(Store, Keyring, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let keyring = Keyring::new(SealKey::generate());
    let (url, _dir) = fresh_sqlite().await;
    let store = Store::connect(&url, keyring.clone()).await.unwrap();
    body(store, keyring.clone(), url).await;
    if let Ok(base) = std::env::var("TEST_POSTGRES_URL") {
        let (url, name) = fresh_postgres(&base).await;
        let store = Store::connect(&url, keyring.clone()).await.unwrap();
        body(store.clone(), keyring, url).await;
        store.close().await;
        drop_postgres(&base, &name).await;
    }
}

fn skey() -> SecretString {
    SecretString::from(SKEY.to_string())
}

#[tokio::test]
async fn migrations_are_idempotent_and_the_root_tenant_exists() {
    on_every_engine(|store, keyring, url| async move {
        let root = store.root_tenant().await.unwrap();
        assert_eq!(root.path, TenantPath::root());
        let again = Store::connect(&url, keyring).await.unwrap();
        assert_eq!(again.list_tenants().await.unwrap().len(), 1);
        again.close().await;
    })
    .await;
}

#[tokio::test]
async fn tenants_nest_and_refuse_duplicates_orphans_and_busy_deletes() {
    on_every_engine(|store, _, _| async move {
        let eng = TenantPath::parse("eng").unwrap();
        let ops = TenantPath::parse("eng/ops_team/").unwrap();
        store.create_tenant(&eng).await.unwrap();
        let child = store.create_tenant(&ops).await.unwrap();
        assert!(matches!(
            store.create_tenant(&eng).await,
            Err(StoreError::Conflict(_))
        ));
        let orphan = TenantPath::parse("nope/child").unwrap();
        assert!(matches!(
            store.create_tenant(&orphan).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(
            matches!(
                store.delete_tenant(&eng).await,
                Err(StoreError::Conflict(_))
            ),
            "has a child"
        );
        assert!(matches!(
            store.delete_tenant(&TenantPath::root()).await,
            Err(StoreError::Conflict(_))
        ));
        let paths: Vec<String> = store
            .list_tenants()
            .await
            .unwrap()
            .iter()
            .map(|t| t.path.as_str().to_string())
            .collect();
        assert_eq!(paths, ["", "eng/", "eng/ops_team/"]);
        // "eng_x/" must not count as a child of "eng/" ('_' is a LIKE wildcard).
        store
            .create_tenant(&TenantPath::parse("engx").unwrap())
            .await
            .unwrap();
        store.delete_tenant(&ops).await.unwrap();
        store.delete_tenant(&eng).await.unwrap();
        assert!(matches!(
            store.tenant_by_id(&child.id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn integrations_keep_secrets_sealed_and_show_only_a_fingerprint() {
    on_every_engine(|store, _, _| async move {
        let root = store.root_tenant().await.unwrap();
        let created = store
            .create_integration(NewIntegration {
                tenant_id: root.id.clone(),
                kind: IntegrationKind::OntapProfile,
                name: "cluster".into(),
                config: json!({"api_host": "api-x.duosecurity.com", "integration_key": "DIKEY", "fail_mode": "safe"}),
                secret: Some(skey()),
            })
            .await
            .unwrap();
        assert_eq!(created.config["fail_mode"], "safe");
        assert_eq!(created.secret_fingerprint.as_deref().map(str::len), Some(64));
        assert!(!format!("{created:?}").contains(SKEY));
        let opened = store.integration_secret(&created.id).await.unwrap().unwrap();
        assert_eq!(opened.expose_secret(), SKEY);
        let duplicate = store
            .create_integration(NewIntegration {
                tenant_id: root.id.clone(),
                kind: IntegrationKind::OntapProfile,
                name: "cluster".into(),
                config: json!({}),
                secret: None,
            })
            .await;
        assert!(matches!(duplicate, Err(StoreError::Conflict(_))));
        let updated = store
            .update_integration(&created.id, json!({"fail_mode": "secure"}), None)
            .await
            .unwrap();
        assert_eq!(updated.config, json!({"fail_mode": "secure"}));
        assert_eq!(updated.secret_fingerprint, created.secret_fingerprint, "secret kept");
        let listed = store.list_integrations(&root.id, IntegrationKind::OntapProfile).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(store.list_integrations(&root.id, IntegrationKind::VaultMethod).await.unwrap().is_empty());
        let named = store.integration_named(&root.id, IntegrationKind::OntapProfile, "cluster").await.unwrap();
        assert_eq!(named.id, created.id);
        store.delete_integration(&created.id).await.unwrap();
        assert!(matches!(store.integration(&created.id).await, Err(StoreError::NotFound)));
        assert!(matches!(store.delete_integration(&created.id).await, Err(StoreError::NotFound)));
        let bad_tenant = store
            .create_integration(NewIntegration {
                tenant_id: "no-such-tenant".into(),
                kind: IntegrationKind::Connection,
                name: "x".into(),
                config: json!({}),
                secret: None,
            })
            .await;
        assert!(matches!(bad_tenant, Err(StoreError::Invalid(_))));
    })
    .await;
}

#[tokio::test]
async fn the_database_file_never_holds_a_secret_in_plain_text() {
    let keyring = Keyring::new(SealKey::generate());
    let (url, dir) = fresh_sqlite().await;
    let store = Store::connect(&url, keyring).await.unwrap();
    let root = store.root_tenant().await.unwrap();
    store
        .create_integration(NewIntegration {
            tenant_id: root.id,
            kind: IntegrationKind::VaultMethod,
            name: "duo".into(),
            config: json!({"integration_key": "DIKEY"}),
            secret: Some(skey()),
        })
        .await
        .unwrap();
    let (token, _) = store.create_token(Role::Admin, None, None).await.unwrap();
    store.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"DIKEY"), "the file was read (sanity check)");
    assert!(
        !contains(SKEY.as_bytes()),
        "the skey is in the database file"
    );
    assert!(
        !contains(token.expose_secret().as_bytes()),
        "the token is in the database file"
    );
}

#[tokio::test]
async fn rotation_reseals_every_row_under_the_new_key() {
    on_every_engine(|store, old_ring, url| async move {
        let root = store.root_tenant().await.unwrap();
        let created = store
            .create_integration(NewIntegration {
                tenant_id: root.id,
                kind: IntegrationKind::Connection,
                name: "admin-api".into(),
                config: json!({}),
                secret: Some(skey()),
            })
            .await
            .unwrap();
        store.close().await;
        // The operator makes a new key current and keeps the old one for the rotation.
        let new_key = SealKey::generate();
        let rotating = Store::connect(&url, old_ring.rotated_to(new_key.clone()))
            .await
            .unwrap();
        assert_eq!(rotating.reseal_all().await.unwrap(), 1);
        assert_eq!(rotating.reseal_all().await.unwrap(), 0, "idempotent");
        rotating.close().await;
        let rotated = Store::connect(&url, Keyring::new(new_key)).await.unwrap();
        assert_eq!(
            rotated
                .integration_secret(&created.id)
                .await
                .unwrap()
                .unwrap()
                .expose_secret(),
            SKEY
        );
        rotated.close().await;
    })
    .await;
}

#[tokio::test]
async fn tokens_are_found_by_secret_until_revoked_or_expired() {
    on_every_engine(|store, _, _| async move {
        let (secret, token) = store
            .create_token(Role::Reader, None, Some(60))
            .await
            .unwrap();
        assert!(secret.expose_secret().starts_with("dg."));
        let found = store.token_by_secret(&secret).await.unwrap();
        assert_eq!(found, token);
        let wrong = SecretString::from("dg.wrong".to_string());
        assert!(matches!(
            store.token_by_secret(&wrong).await,
            Err(StoreError::NotFound)
        ));
        store.revoke_token(&token.accessor).await.unwrap();
        assert!(matches!(
            store.token_by_secret(&secret).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .create_token(Role::Mfa, Some("no-such-tenant"), None)
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.create_token(Role::Mfa, None, Some(0)).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(Role::parse("root"), Err(StoreError::Invalid(_))));
    })
    .await;
}

#[tokio::test]
async fn a_token_with_a_chosen_value_is_found_by_it_and_unique() {
    on_every_engine(|store, _, _| async move {
        let chosen = SecretString::from("dev-root".to_string());
        let token = store
            .create_token_with_secret(&chosen, Role::Admin, None, None)
            .await
            .unwrap();
        assert_eq!(store.token_by_secret(&chosen).await.unwrap(), token);
        assert!(matches!(
            store
                .create_token_with_secret(&chosen, Role::Admin, None, None)
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .create_token_with_secret(
                    &SecretString::from(String::new()),
                    Role::Admin,
                    None,
                    None
                )
                .await,
            Err(StoreError::Invalid(_))
        ));
        store.revoke_token(&token.accessor).await.unwrap();
        store
            .create_token_with_secret(&chosen, Role::Admin, None, None)
            .await
            .expect("the value is free again once revoked");
    })
    .await;
}

#[tokio::test]
async fn audit_entries_come_back_newest_first() {
    on_every_engine(|store, _, _| async move {
        for n in 0..3 {
            store
                .append_audit(NewAuditEntry {
                    actor: "system".into(),
                    action: "integration.create".into(),
                    target: format!("profile-{n}"),
                    detail: json!({"n": n}),
                })
                .await
                .unwrap();
        }
        let recent = store.recent_audit(2).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].target, "profile-2");
        assert_eq!(recent[1].detail, json!({"n": 1}));
    })
    .await;
}

#[tokio::test]
async fn unsupported_urls_are_refused_clearly() {
    let error = Store::connect("mysql://localhost/x", Keyring::new(SealKey::generate()))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::UnsupportedUrl(_)), "{error}");
}

#[tokio::test]
async fn a_sqlite_url_without_mode_creates_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("created.db");
    let store = Store::connect(
        &format!("sqlite://{}", file.display()),
        Keyring::new(SealKey::generate()),
    )
    .await
    .unwrap();
    store.close().await;
    assert!(file.exists());
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_by_host_and_port_with_the_cause() {
    let error = Store::connect(
        "postgres://duogate:hunter2@127.0.0.1:1/duogate",
        Keyring::new(SealKey::generate()),
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, StoreError::Connect { .. }), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        !message.contains("pool timed out"),
        "the cause, not the pool's timeout: {message}"
    );
}

#[tokio::test]
async fn accounts_verify_only_with_their_password() {
    on_every_engine(|store, _, _| async move {
        let password = SecretString::from("correct horse battery".to_string());
        let account = store
            .create_account("ontap-admin", &password, Role::Admin, None)
            .await
            .unwrap();
        assert_eq!(
            store
                .verify_account("ontap-admin", &password)
                .await
                .unwrap(),
            account
        );
        let wrong = SecretString::from("incorrect horse battery".to_string());
        assert!(matches!(
            store.verify_account("ontap-admin", &wrong).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.verify_account("nobody", &password).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .create_account("ontap-admin", &password, Role::Reader, None)
                .await,
            Err(StoreError::Conflict(_))
        ));
        let short = SecretString::from("short".to_string());
        assert!(matches!(
            store.create_account("x", &short, Role::Reader, None).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store
                .create_account("bad name", &password, Role::Reader, None)
                .await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(store.list_accounts().await.unwrap().len(), 1);
        store.delete_account("ontap-admin").await.unwrap();
        assert!(matches!(
            store.verify_account("ontap-admin", &password).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_new_password_changes_the_stamp_and_only_the_new_one_verifies() {
    on_every_engine(|store, _, _| async move {
        let old = SecretString::from("correct horse battery".to_string());
        let new = SecretString::from("a brand new passphrase".to_string());
        store
            .create_account("ontap", &old, Role::Reader, None)
            .await
            .unwrap();
        let before = store.account_login("ontap").await.unwrap().unwrap();
        assert_eq!(
            before.stamp(),
            store.account_login("ontap").await.unwrap().unwrap().stamp(),
            "the stamp is stable while the password is"
        );
        assert!(
            !format!("{before:?}").contains("argon2"),
            "Debug hides the hash"
        );
        store.set_account_password("ontap", &new).await.unwrap();
        let after = store.account_login("ontap").await.unwrap().unwrap();
        assert_ne!(before.stamp(), after.stamp());
        assert!(duogate_store::accounts::verify_password(Some(&after), &new));
        assert!(!duogate_store::accounts::verify_password(
            Some(&after),
            &old
        ));
        assert!(!duogate_store::accounts::verify_password(None, &new));
        assert!(store.account_login("nobody").await.unwrap().is_none());
        assert!(matches!(
            store.set_account_password("nobody", &new).await,
            Err(StoreError::NotFound)
        ));
        let short = SecretString::from("short".to_string());
        assert!(matches!(
            store.set_account_password("ontap", &short).await,
            Err(StoreError::Invalid(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn attempt_counters_admit_up_to_each_limit_and_a_refusal_counts_nothing() {
    use duogate_store::attempts::AttemptKey;
    on_every_engine(|store, _, _| async move {
        let user = |name: &'static [u8]| AttemptKey {
            scope: "user",
            key: name,
            limit: 2,
        };
        let source = AttemptKey {
            scope: "source",
            key: b"192.0.2.1",
            limit: 3,
        };
        assert!(
            store
                .count_attempt(&[user(b"alice"), source], 60)
                .await
                .unwrap()
        );
        assert!(
            store
                .count_attempt(&[user(b"alice"), source], 60)
                .await
                .unwrap()
        );
        assert!(
            !store
                .count_attempt(&[user(b"alice"), source], 60)
                .await
                .unwrap(),
            "alice is at her limit"
        );
        assert!(
            store
                .count_attempt(&[user(b"bob"), source], 60)
                .await
                .unwrap(),
            "alice's refusal did not count against the source"
        );
        assert!(
            !store
                .count_attempt(&[user(b"carol"), source], 60)
                .await
                .unwrap(),
            "the source is at its limit"
        );
        assert!(
            store.count_attempt(&[user(b"carol")], 60).await.unwrap(),
            "carol's refused attempt rolled back: her count is still 0"
        );
        assert!(store.attempts_exhausted(&[source], 60).await.unwrap());
        assert!(!store.attempts_exhausted(&[source], 120).await.unwrap());
        assert!(
            store
                .count_attempt(&[user(b"alice"), source], 120)
                .await
                .unwrap(),
            "a new window"
        );
        store
            .add_attempt(&[user(b"dave"), user(b"dave")], 120)
            .await
            .unwrap();
        assert!(
            store
                .attempts_exhausted(&[user(b"dave")], 120)
                .await
                .unwrap()
        );
        let rows = store.attempt_counter_rows().await.unwrap();
        assert_eq!(
            store.purge_attempt_windows(120).await.unwrap(),
            4,
            "window 60's rows"
        );
        assert_eq!(store.attempt_counter_rows().await.unwrap(), rows - 4);
    })
    .await;
}

#[tokio::test]
async fn attempt_counters_never_store_the_raw_key() {
    use duogate_store::attempts::AttemptKey;
    on_every_engine(|store, _, url| async move {
        let key = AttemptKey {
            scope: "login_account",
            key: b"hunter2-typed-as-a-name",
            limit: 5,
        };
        store.add_attempt(&[key], 60).await.unwrap();
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let hashes: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM attempt_counters")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        assert_eq!(hashes.len(), 1);
        assert_eq!(hashes[0].len(), 64, "a SHA-256, hex");
        assert!(!hashes[0].contains("hunter2"));
    })
    .await;
}

fn named(
    tenant_id: &str,
    kind: IntegrationKind,
    name: &str,
    config: serde_json::Value,
) -> NewIntegration {
    NewIntegration {
        tenant_id: tenant_id.to_string(),
        kind,
        name: name.into(),
        config,
        secret: None,
    }
}

#[tokio::test]
async fn a_rename_onto_a_taken_name_changes_nothing() {
    on_every_engine(|store, _, _| async move {
        let root = store.root_tenant().await.unwrap();
        let a = store
            .create_integration(named(
                &root.id,
                IntegrationKind::VaultMethod,
                "a",
                json!({"v": 1}),
            ))
            .await
            .unwrap();
        store
            .create_integration(named(
                &root.id,
                IntegrationKind::VaultMethod,
                "b",
                json!({}),
            ))
            .await
            .unwrap();
        let clash = store
            .update_integration_renamed(&a.id, Some("b"), json!({"v": 2}), Some(skey()))
            .await;
        assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
        let unchanged = store.integration(&a.id).await.unwrap();
        assert_eq!(
            (unchanged.name.as_str(), &unchanged.config),
            ("a", &json!({"v": 1}))
        );
        assert_eq!(unchanged.secret_fingerprint, None);
        let renamed = store
            .update_integration_renamed(&a.id, Some("c"), json!({"v": 3}), None)
            .await
            .unwrap();
        assert_eq!(
            (renamed.name.as_str(), &renamed.config),
            ("c", &json!({"v": 3}))
        );
    })
    .await;
}

#[tokio::test]
async fn a_referenced_integration_is_not_deleted() {
    on_every_engine(|store, _, _| async move {
        let root = store.root_tenant().await.unwrap();
        let method = store
            .create_integration(named(
                &root.id,
                IntegrationKind::VaultMethod,
                "m",
                json!({}),
            ))
            .await
            .unwrap();
        let enforcement = store
            .create_integration(named(
                &root.id,
                IntegrationKind::LoginEnforcement,
                "e",
                json!({"mfa_method_ids": [method.id]}),
            ))
            .await
            .unwrap();
        let refused = store
            .delete_integration_unreferenced(
                &method.id,
                IntegrationKind::LoginEnforcement,
                "mfa_method_ids",
            )
            .await;
        match refused {
            Err(StoreError::Referenced(by)) => assert_eq!(by, enforcement.id),
            other => panic!("{other:?}"),
        }
        assert!(store.integration(&method.id).await.is_ok());
        store.delete_integration(&enforcement.id).await.unwrap();
        store
            .delete_integration_unreferenced(
                &method.id,
                IntegrationKind::LoginEnforcement,
                "mfa_method_ids",
            )
            .await
            .unwrap();
        assert!(matches!(
            store.integration(&method.id).await,
            Err(StoreError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn deleting_a_tenant_with_contents_removes_them_but_not_while_it_has_children() {
    on_every_engine(|store, _, _| async move {
        let ns = TenantPath::parse("ns1").unwrap();
        let tenant = store.create_tenant(&ns).await.unwrap();
        let child = TenantPath::parse("ns1/sub").unwrap();
        store.create_tenant(&child).await.unwrap();
        let method = store
            .create_integration(named(
                &tenant.id,
                IntegrationKind::VaultMethod,
                "m",
                json!({}),
            ))
            .await
            .unwrap();
        assert!(matches!(
            store.delete_tenant_and_contents(&ns).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(store.integration(&method.id).await.is_ok());
        assert!(matches!(
            store.delete_tenant(&ns).await,
            Err(StoreError::Conflict(_))
        ));
        store.delete_tenant_and_contents(&child).await.unwrap();
        assert!(matches!(
            store.delete_tenant(&ns).await,
            Err(StoreError::Conflict(_))
        ));
        store.delete_tenant_and_contents(&ns).await.unwrap();
        assert!(matches!(
            store.integration(&method.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(store.tenant(&ns).await, Err(StoreError::NotFound)));
    })
    .await;
}

#[tokio::test]
async fn login_tokens_carry_their_detail() {
    on_every_engine(|store, _, _| async move {
        let detail =
            json!({"entity_id": "e1", "policies": ["default"], "meta": {"username": "alice"}});
        let (secret, token) = store
            .create_token_with_detail(Role::Login, None, Some(3600), detail.clone())
            .await
            .unwrap();
        let found = store.token_by_secret(&secret).await.unwrap();
        assert_eq!(found, token);
        assert_eq!((found.role, found.detail), (Role::Login, detail));
        let (api, _) = store.create_token(Role::Reader, None, None).await.unwrap();
        assert_eq!(
            store.token_by_secret(&api).await.unwrap().detail,
            serde_json::Value::Null
        );
    })
    .await;
}

#[tokio::test]
async fn a_pending_mfa_request_is_shared_consumed_once_and_expires() {
    on_every_engine(|store, keyring, url| async move {
        let root = store.root_tenant().await.unwrap();
        let body = json!({"enforcements": [{"name": "e1"}], "entity_id": "e1"});
        let request = store
            .create_mfa_request(&root.id, body.clone(), 300)
            .await
            .unwrap();
        // Another instance on the same database sees it.
        let other = Store::connect(&url, keyring.clone()).await.unwrap();
        let seen = other.mfa_request(&request.id).await.unwrap();
        assert_eq!(
            (seen.tenant_id.as_str(), &seen.body),
            (root.id.as_str(), &body)
        );
        other.consume_mfa_request(&request.id).await.unwrap();
        assert!(matches!(
            store.consume_mfa_request(&request.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.mfa_request(&request.id).await,
            Err(StoreError::NotFound)
        ));
        // Five minutes later a new request has expired.
        let fresh = store.create_mfa_request(&root.id, body, 300).await.unwrap();
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(301);
        let future = Store::connect_with_clock(&url, keyring, std::sync::Arc::new(move || later))
            .await
            .unwrap();
        assert!(matches!(
            future.mfa_request(&fresh.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            future.consume_mfa_request(&fresh.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(store.mfa_request(&fresh.id).await.is_ok(), "still live now");
        other.close().await;
        future.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_check_job_is_waiting_then_decided_on_every_instance_until_it_expires() {
    use duogate_store::mfa_requests::CheckJob;
    on_every_engine(|store, keyring, url| async move {
        let id = store.create_check_job("t1", 90, 600).await.unwrap();
        let other = Store::connect(&url, keyring.clone()).await.unwrap();
        assert_eq!(other.check_job(&id).await.unwrap(), CheckJob::Waiting);
        store
            .finish_check_job(&id, &json!({"result": "allow"}))
            .await
            .unwrap();
        assert_eq!(
            other.check_job(&id).await.unwrap(),
            CheckJob::Decided(json!({"result": "allow"}))
        );
        assert!(matches!(
            store.check_job("nope").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.finish_check_job("nope", &json!({})).await,
            Err(StoreError::NotFound)
        ));
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(601);
        let future = Store::connect_with_clock(&url, keyring, std::sync::Arc::new(move || later))
            .await
            .unwrap();
        assert!(matches!(
            future.check_job(&id).await,
            Err(StoreError::NotFound)
        ));
        other.close().await;
        future.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_overdue_check_job_is_ended_once_by_any_instance_and_keeps_its_tenant() {
    use duogate_store::mfa_requests::{CheckJob, CheckJobEntry};
    on_every_engine(|store, keyring, url| async move {
        let id = store.create_check_job("tenant-a", 90, 600).await.unwrap();
        let entry = store.check_job_entry(&id).await.unwrap();
        assert_eq!(entry.tenant_id.as_deref(), Some("tenant-a"));
        let decide_by = entry.decide_by.expect("a deadline");
        let timeout = json!({"result": "deny", "reason": "timeout"});
        // Not overdue yet (within the deadline plus grace): nothing changes.
        assert!(
            !store
                .end_overdue_check_job(&id, 10, &timeout)
                .await
                .unwrap()
        );
        assert_eq!(store.check_job(&id).await.unwrap(), CheckJob::Waiting);
        // 101 s later the deadline (90 s) plus grace (10 s) has passed on another instance.
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(101);
        let future =
            Store::connect_with_clock(&url, keyring.clone(), std::sync::Arc::new(move || later))
                .await
                .unwrap();
        assert!(
            future
                .end_overdue_check_job(&id, 10, &timeout)
                .await
                .unwrap()
        );
        // Once ended, a second ending and the (late) real decision change nothing.
        let other = json!({"result": "deny", "reason": "other"});
        assert!(!future.end_overdue_check_job(&id, 10, &other).await.unwrap());
        assert!(matches!(
            store
                .finish_check_job(&id, &json!({"result": "allow"}))
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store.check_job_entry(&id).await.unwrap(),
            CheckJobEntry {
                tenant_id: Some("tenant-a".into()),
                decide_by: Some(decide_by),
                job: CheckJob::Decided(timeout),
            }
        );
        future.close().await;
    })
    .await;
}

#[tokio::test]
async fn check_progress_shows_until_the_decision_and_never_replaces_it() {
    use duogate_store::mfa_requests::CheckJob;
    on_every_engine(|store, keyring, url| async move {
        let id = store.create_check_job("t1", 90, 600).await.unwrap();
        let other = Store::connect(&url, keyring).await.unwrap();
        let first = json!({"result": "waiting", "verification_code": "123"});
        assert!(store.record_check_progress(&id, &first).await.unwrap());
        assert_eq!(
            other.check_job(&id).await.unwrap(),
            CheckJob::Progress(first)
        );
        let second = json!({"result": "waiting", "status_msg": "Dialing..."});
        assert!(store.record_check_progress(&id, &second).await.unwrap());
        assert_eq!(
            other.check_job(&id).await.unwrap(),
            CheckJob::Progress(second)
        );
        store
            .finish_check_job(&id, &json!({"result": "allow"}))
            .await
            .unwrap();
        let late = json!({"result": "waiting"});
        assert!(!store.record_check_progress(&id, &late).await.unwrap());
        assert_eq!(
            other.check_job(&id).await.unwrap(),
            CheckJob::Decided(json!({"result": "allow"}))
        );
        assert!(!store.record_check_progress("nope", &late).await.unwrap());
        other.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_lineage_is_the_tenant_and_its_ancestors_root_first() {
    on_every_engine(|store, _, _| async move {
        for path in ["a", "a/b", "a/b/c", "x"] {
            store
                .create_tenant(&TenantPath::parse(path).unwrap())
                .await
                .unwrap();
        }
        let paths = |tenants: Vec<duogate_store::tenants::Tenant>| {
            tenants
                .into_iter()
                .map(|t| t.path.as_str().to_string())
                .collect::<Vec<_>>()
        };
        let lineage = store
            .lineage(&TenantPath::parse("a/b/c").unwrap())
            .await
            .unwrap();
        assert_eq!(paths(lineage), vec!["", "a/", "a/b/", "a/b/c/"]);
        let root = store.lineage(&TenantPath::root()).await.unwrap();
        assert_eq!(paths(root), vec![""]);
    })
    .await;
}

#[tokio::test]
async fn pool_settings_apply_and_timed_operations_are_reported() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    on_every_engine(|_store, keyring, url| async move {
        let seen: Arc<Mutex<Vec<&'static str>>> = Arc::default();
        let observed = seen.clone();
        // A statement timeout that does not parse (or an unknown setting) fails the connection.
        let store = Store::connect_with(
            &url,
            keyring,
            Arc::new(jiff::Timestamp::now),
            duogate_store::PoolSettings {
                max_connections: Some(1),
                statement_timeout: Some(Duration::from_millis(1500)),
            },
        )
        .await
        .unwrap()
        .with_operation_observer(Arc::new(move |operation, _| {
            observed.lock().unwrap().push(operation);
        }));
        let (secret, _) = store.create_token(Role::Reader, None, None).await.unwrap();
        store.token_by_secret(&secret).await.unwrap();
        store.tenant(&TenantPath::root()).await.unwrap();
        assert_eq!(*seen.lock().unwrap(), ["token_by_secret", "tenant"]);
        store.close().await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// The seal key check (the rule is in `duogate_store::seal`'s module doc)

/// Every table's row count, to prove a refused connect wrote nothing.
async fn row_counts(url: &str) -> Vec<(String, i64)> {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let mut counts = Vec::new();
    for table in [
        "schema_migrations",
        "tenants",
        "integrations",
        "tokens",
        "audit",
        "accounts",
        "mfa_requests",
        "check_jobs",
        "seal_checks",
    ] {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&pool)
                .await
                .unwrap();
        counts.push((table.to_string(), n));
    }
    pool.close().await;
    counts
}

/// Runs one statement on the database behind `url` (what an operator's SQL, or an older
/// duogate, would do).
async fn execute(url: &str, statement: &str) {
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn sealed_connection(store: &Store, name: &str) -> String {
    let root = store.root_tenant().await.unwrap();
    store
        .create_integration(NewIntegration {
            tenant_id: root.id,
            kind: IntegrationKind::Connection,
            name: name.into(),
            config: json!({}),
            secret: Some(skey()),
        })
        .await
        .unwrap()
        .id
}

fn refusal(result: Result<Store, StoreError>) -> (KeyCheckProblem, Vec<String>, Vec<String>) {
    match result {
        Err(StoreError::WrongSealKey {
            problem,
            expected,
            given,
        }) => (problem, expected, given),
        Err(other) => panic!("expected WrongSealKey, got {other}"),
        Ok(_) => panic!("expected WrongSealKey, the store opened"),
    }
}

#[tokio::test]
async fn a_fresh_database_records_the_current_keys_check() {
    on_every_engine(|store, keyring, _| async move {
        assert_eq!(
            store.seal_check_key_ids().await.unwrap(),
            vec![keyring.current_id()]
        );
        assert!(store.seal_health().await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn a_wrong_key_is_refused_naming_the_expected_key_and_nothing_is_written() {
    on_every_engine(|store, keyring, url| async move {
        let id = sealed_connection(&store, "admin-api").await;
        store.create_token(Role::Admin, None, None).await.unwrap();
        store.close().await;
        let before = row_counts(&url).await;
        let sqlite_file = url
            .strip_prefix("sqlite://")
            .map(|rest| rest.split('?').next().unwrap().to_string());
        let bytes_before = sqlite_file.as_ref().map(|f| std::fs::read(f).unwrap());

        let wrong = Keyring::new(SealKey::generate());
        let (problem, expected, given) = refusal(Store::connect(&url, wrong.clone()).await);
        assert_eq!(problem, KeyCheckProblem::NoKnownKey);
        assert_eq!(expected, vec![keyring.current_id()]);
        assert_eq!(given, vec![wrong.current_id()]);
        let message = Store::connect(&url, wrong.clone())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains(&keyring.current_id()) && message.contains("wrong seal key"),
            "{message}"
        );
        refusal(
            Store::connect_to_rotate(&url, wrong.clone().rotated_to(SealKey::generate())).await,
        );

        assert_eq!(
            row_counts(&url).await,
            before,
            "a refused connect wrote nothing"
        );
        if let (Some(file), Some(bytes)) = (sqlite_file, bytes_before) {
            assert!(
                std::fs::read(file).unwrap() == bytes,
                "the database file changed"
            );
        }
        let right = Store::connect(&url, keyring).await.unwrap();
        assert_eq!(
            right
                .integration_secret(&id)
                .await
                .unwrap()
                .unwrap()
                .expose_secret(),
            SKEY
        );
        right.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_database_without_secrets_still_refuses_a_key_other_than_its_own() {
    on_every_engine(|store, keyring, url| async move {
        store.close().await;
        let (problem, expected, _) =
            refusal(Store::connect(&url, Keyring::new(SealKey::generate())).await);
        assert_eq!(problem, KeyCheckProblem::NoKnownKey);
        assert_eq!(expected, vec![keyring.current_id()]);
    })
    .await;
}

#[tokio::test]
async fn new_and_old_open_during_a_rotation_then_only_the_new_key_does() {
    on_every_engine(|store, old_ring, url| async move {
        let id = sealed_connection(&store, "admin-api").await;
        store.close().await;
        let old_id = old_ring.current_id();
        let new_key = SealKey::generate();
        let new_id = new_key.id_hex();

        // Restarted with [new, old]: it opens, and records the new key's check.
        let both = Store::connect(&url, old_ring.clone().rotated_to(new_key.clone()))
            .await
            .unwrap();
        let mut checks = vec![old_id.clone(), new_id.clone()];
        checks.sort();
        assert_eq!(both.seal_check_key_ids().await.unwrap(), checks);
        // Secrets written now are sealed under the new key; an instance still on [old] sees
        // that it lacks it.
        let during = sealed_connection(&both, "written-during-rotation").await;
        let old_only = Store::connect(&url, old_ring.clone()).await;
        let (problem, expected, _) = refusal(old_only);
        assert_eq!(problem, KeyCheckProblem::RowsUnderMissingKeys);
        assert_eq!(expected, checks);

        // `seal rotate`: re-seal, then only the new key's check is left.
        assert_eq!(both.reseal_all().await.unwrap(), 1);
        assert_eq!(both.reseal_all().await.unwrap(), 0, "idempotent");
        assert_eq!(
            both.seal_check_key_ids().await.unwrap(),
            vec![new_id.clone()]
        );
        both.close().await;

        let new_only = Store::connect(&url, Keyring::new(new_key)).await.unwrap();
        for row in [&id, &during] {
            assert_eq!(
                new_only
                    .integration_secret(row)
                    .await
                    .unwrap()
                    .unwrap()
                    .expose_secret(),
                SKEY
            );
        }
        new_only.close().await;
        let (problem, expected, given) = refusal(Store::connect(&url, old_ring).await);
        assert_eq!(problem, KeyCheckProblem::NoKnownKey);
        assert_eq!((expected, given), (vec![new_id], vec![old_id]));
    })
    .await;
}

#[tokio::test]
async fn connecting_to_rotate_writes_nothing_until_the_reseal() {
    on_every_engine(|store, old_ring, url| async move {
        sealed_connection(&store, "admin-api").await;
        store.close().await;
        let before = row_counts(&url).await;
        let rotating =
            Store::connect_to_rotate(&url, old_ring.clone().rotated_to(SealKey::generate()))
                .await
                .unwrap();
        assert_eq!(row_counts(&url).await, before);
        assert_eq!(
            rotating.seal_check_key_ids().await.unwrap(),
            vec![old_ring.current_id()],
            "no check for the new key before the reseal"
        );
        rotating.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_database_from_before_key_checks_gets_its_check_on_first_start() {
    on_every_engine(|store, keyring, url| async move {
        let first = sealed_connection(&store, "first").await;
        let second = sealed_connection(&store, "second").await;
        store.close().await;
        execute(&url, "DELETE FROM seal_checks").await;

        // A wrong key: the rows' key id is missing; nothing is recorded.
        let wrong = Keyring::new(SealKey::generate());
        let (problem, expected, _) = refusal(Store::connect(&url, wrong).await);
        assert_eq!(problem, KeyCheckProblem::RowsUnderMissingKeys);
        assert_eq!(expected, vec![keyring.current_id()]);
        assert_eq!(row_counts(&url).await.last().unwrap().1, 0, "no check recorded");

        // The right key: every row opens, so its check is recorded.
        let store = Store::connect(&url, keyring.clone()).await.unwrap();
        assert_eq!(
            store.seal_check_key_ids().await.unwrap(),
            vec![keyring.current_id()]
        );
        store.close().await;

        // Without checks, a row that does not open (moved from another row) is refused.
        execute(&url, "DELETE FROM seal_checks").await;
        execute(
            &url,
            &format!(
                "UPDATE integrations SET sealed_secret = \
                 (SELECT sealed_secret FROM integrations WHERE id = '{first}') WHERE id = '{second}'"
            ),
        )
        .await;
        let (problem, _, _) = refusal(Store::connect(&url, keyring).await);
        assert_eq!(problem, KeyCheckProblem::RowDoesNotOpen);
    })
    .await;
}

#[tokio::test]
async fn seal_health_names_the_keys_of_rows_this_instance_cannot_open() {
    on_every_engine(|store, old_ring, url| async move {
        sealed_connection(&store, "under-old").await;
        let new_key = SealKey::generate();
        let rotated = Store::connect(&url, old_ring.clone().rotated_to(new_key.clone()))
            .await
            .unwrap();
        assert!(store.seal_health().await.unwrap().is_ok());
        sealed_connection(&rotated, "under-new").await;
        let health = store.seal_health().await.unwrap();
        assert_eq!(health.current_key_id, old_ring.current_id());
        assert_eq!(health.missing_key_ids, vec![new_key.id_hex()]);
        assert!(rotated.seal_health().await.unwrap().is_ok());
        rotated.close().await;
    })
    .await;
}

#[tokio::test]
async fn odd_object_and_account_names_are_refused_and_nothing_is_stored() {
    on_every_engine(|store, _keyring, _url| async move {
        let root = store.root_tenant().await.unwrap();
        let long = "n".repeat(10_000);
        for name in ["a\0b", "a\nb", "../x", ".", "..", long.as_str()] {
            let refused = store
                .create_integration(NewIntegration {
                    tenant_id: root.id.clone(),
                    kind: IntegrationKind::Connection,
                    name: name.into(),
                    config: json!({}),
                    secret: Some(skey()),
                })
                .await;
            assert!(
                matches!(refused, Err(StoreError::Invalid(_))),
                "{name:.20?}: {refused:?}"
            );
        }
        assert!(
            store
                .list_integrations_of_kind(IntegrationKind::Connection)
                .await
                .unwrap()
                .is_empty()
        );
        let password = SecretString::from("a long enough password".to_string());
        for name in [".", "..", "CON", "aux.txt", "LPT1"] {
            let refused = store
                .create_account(name, &password, Role::Reader, None)
                .await;
            assert!(
                matches!(refused, Err(StoreError::Invalid(_))),
                "{name}: {refused:?}"
            );
        }
        assert!(store.list_accounts().await.unwrap().is_empty());
    })
    .await;
}
