//! Seal status over HTTP: `sys/seal-status` and `sys/leader` in Vault's shape, without a token,
//! and `sys/health` and `/v1/duogate/health` turning unhealthy when the database holds rows
//! sealed under a key this instance was not given (another instance seals with a newer key).

mod support;

use secrecy::SecretString;
use serde_json::json;

use duogate_server::{AppState, ServiceSettings};
use duogate_store::integrations::{IntegrationKind, NewIntegration};
use duogate_store::{Keyring, SealKey, Store};

async fn instance(url: &str, keyring: Keyring) -> AppState {
    let store = Store::connect(url, keyring).await.unwrap();
    AppState::new(store, ServiceSettings::default())
}

async fn seal_a_secret(state: &AppState, name: &str) {
    let root = state.store.root_tenant().await.unwrap();
    state
        .store
        .create_integration(NewIntegration {
            tenant_id: root.id,
            kind: IntegrationKind::Connection,
            name: name.into(),
            config: json!({}),
            secret: Some(SecretString::from("a-duo-skey".to_string())),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn seal_status_leader_and_init_answer_in_vaults_shape_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let state = instance(&url, Keyring::new(SealKey::generate())).await;
    for headers in [vec![], vec![("x-vault-token", "hvs.not-a-token")]] {
        let (status, body) =
            support::send(&state, "GET", "/v1/sys/seal-status", &headers, None).await;
        assert_eq!(status, 200, "{body}");
        for (field, value) in [
            ("type", json!("shamir")),
            ("initialized", json!(true)),
            ("sealed", json!(false)),
            ("t", json!(1)),
            ("n", json!(1)),
            ("progress", json!(0)),
            ("nonce", json!("")),
            ("migration", json!(false)),
            ("recovery_seal", json!(false)),
            ("storage_type", json!("sqlite")),
            ("cluster_name", json!("duogate")),
            ("cluster_id", json!(state.cluster_id())),
        ] {
            assert_eq!(body[field], value, "{field}: {body}");
        }
        for field in ["version", "build_date"] {
            assert!(body[field].is_string(), "{field}: {body}");
        }
        assert!(body.get("data").is_none(), "a bare object: {body}");
        let (status, leader) = support::send(&state, "GET", "/v1/sys/leader", &headers, None).await;
        assert_eq!((status, leader), (200, json!({"ha_enabled": false})));
        let (status, init) = support::send(&state, "GET", "/v1/sys/init", &headers, None).await;
        assert_eq!((status, init), (200, json!({"initialized": true})));
    }
    let (status, _) =
        support::send(&state, "POST", "/v1/sys/seal-status", &[], Some(json!({}))).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn health_reports_rows_sealed_under_a_key_this_instance_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let old = SealKey::generate();
    let new = SealKey::generate();
    let on_old = instance(&url, Keyring::new(old.clone())).await;
    seal_a_secret(&on_old, "under-old").await;

    let (status, health) = support::send(&on_old, "GET", "/v1/duogate/health", &[], None).await;
    assert_eq!(status, 200, "{health}");
    assert_eq!(
        health,
        json!({"status": "ok", "database": "sqlite",
               "seal": {"key_id": old.id_hex(), "missing_key_ids": []}})
    );
    let (status, vault_health) = support::send(&on_old, "GET", "/v1/sys/health", &[], None).await;
    assert_eq!(
        (status, vault_health["sealed"].clone()),
        (200, json!(false))
    );

    // Another instance is restarted with [new, old] and seals a secret under the new key.
    let on_both = instance(&url, Keyring::new(new.clone()).with_older(old)).await;
    seal_a_secret(&on_both, "under-new").await;

    let (status, health) = support::send(&on_old, "GET", "/v1/duogate/health", &[], None).await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(health["status"], "seal_key_missing");
    assert_eq!(health["seal"]["missing_key_ids"], json!([new.id_hex()]));
    let (status, vault_health) = support::send(&on_old, "GET", "/v1/sys/health", &[], None).await;
    assert_eq!((status, vault_health["sealed"].clone()), (503, json!(true)));
    let (status, seal) = support::send(&on_old, "GET", "/v1/sys/seal-status", &[], None).await;
    assert_eq!((status, seal["sealed"].clone()), (200, json!(true)));

    // The instance that has both keys is healthy.
    let (status, health) = support::send(&on_both, "GET", "/v1/duogate/health", &[], None).await;
    assert_eq!((status, health["status"].clone()), (200, json!("ok")));
    assert_eq!(health["seal"]["key_id"], new.id_hex());
    let (status, _) = support::send(&on_both, "GET", "/v1/sys/health", &[], None).await;
    assert_eq!(status, 200);
}
