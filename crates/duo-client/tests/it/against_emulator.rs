//! The typed Admin and Auth calls against the emulator, signed v5 and v2.

use futures_util::StreamExt as _;
use serde_json::{Map, json};

use duo_client::admin::{AdminUpdate, UserUpdate};
use duo_client::auth::{AuthOutcome, AuthRequest, PreauthRequest, Subject};
use duo_client::{ClientError, DuoClient};
use duo_emulator::{Emulator, EmulatorConfig};
use duo_proto::SigVersion;

async fn start(seed: &str) -> (String, Emulator) {
    let emulator = Emulator::new(EmulatorConfig {
        seed: seed.parse().unwrap(),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(emulator.clone().serve(listener, std::future::pending()));
    (url, emulator)
}

fn admin_client(url: &str, emulator: &Emulator, version: SigVersion) -> DuoClient {
    let keys = emulator.keys();
    let mut config = duo_client::ClientConfig::new(
        duo_client::ApiHost::parse(url).unwrap(),
        keys.admin_ikey,
        keys.admin_skey.into(),
    );
    config.sig_version = version;
    DuoClient::new(config).unwrap()
}

fn auth_client(url: &str, emulator: &Emulator) -> DuoClient {
    let keys = emulator.keys();
    DuoClient::new(duo_client::ClientConfig::new(
        duo_client::ApiHost::parse(url).unwrap(),
        keys.auth_ikey,
        keys.auth_skey.into(),
    ))
    .unwrap()
}

#[tokio::test]
async fn typed_admin_calls_work_with_v5_and_v2() {
    let (url, emulator) = start("users=320,phones=10,admins=2,bypass_codes=4").await;
    for version in [SigVersion::V5, SigVersion::V2] {
        let client = admin_client(&url, &emulator, version);
        let admin = client.admin();
        let (page, metadata) = admin.list_users(Some(10), Some(5)).await.unwrap();
        assert_eq!(page.len(), 10);
        assert_eq!(metadata.total_objects, Some(320));
        let all: Vec<_> = admin.users().collect().await;
        assert_eq!(all.len(), 320, "{version:?}");
        let user = &page[0];
        let updated = admin
            .update_user(
                &user.user_id,
                &UserUpdate {
                    realname: Some("Zoë Q".into()),
                    ..UserUpdate::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.realname, "Zoë Q");
        assert_eq!(admin.user(&user.user_id).await.unwrap().realname, "Zoë Q");
        let phones: Vec<_> = admin.phones().collect().await;
        let phone = phones[9].as_ref().unwrap();
        admin
            .associate_phone(&user.user_id, &phone.phone_id)
            .await
            .unwrap();
        let user_phones = admin.user_phones(&user.user_id).await.unwrap();
        assert!(user_phones.iter().any(|p| p.phone_id == phone.phone_id));
        let (admins, _) = admin.list_admins(None, None).await.unwrap();
        let modified = admin
            .modify_admin(
                &admins[0].admin_id,
                &AdminUpdate {
                    name: Some("Ana".into()),
                    password_change_required: Some(true),
                    ..AdminUpdate::default()
                },
            )
            .await
            .unwrap();
        assert!(modified.password_change_required);
        let codes: Vec<_> = admin.bypass_codes().collect().await;
        assert_eq!(codes.len(), 4);
    }
}

#[tokio::test]
async fn typed_auth_calls_follow_the_scripted_user() {
    let (url, emulator) = start("").await;
    let control = reqwest::Client::new();
    control
        .post(format!("{url}/_emulator/users"))
        .json(&json!({"username": "alice", "answer": "approve", "passcodes": ["424242"]}))
        .send()
        .await
        .unwrap();
    let client = auth_client(&url, &emulator);
    let auth = client.auth();
    assert!(auth.ping().await.unwrap().time > 0);
    assert!(auth.check().await.unwrap().time > 0);
    assert!(auth.logo().await.unwrap().starts_with(b"\x89PNG"));
    let alice = Subject::Username("alice".into());
    let pre = auth
        .preauth(&PreauthRequest {
            subject: alice.clone(),
            ipaddr: None,
            hostname: None,
        })
        .await
        .unwrap();
    assert_eq!(pre.result, "auth");
    let mut push = AuthRequest::push(alice.clone());
    push.asynchronous = true;
    let AuthOutcome::Pending(tx) = auth.auth(&push).await.unwrap() else {
        panic!("async gives a txid")
    };
    let status = auth.auth_status(&tx.txid).await.unwrap();
    assert_eq!(status.result, "allow");
    let AuthOutcome::Decided(decided) = auth
        .auth(&AuthRequest::passcode(alice, "000000"))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(decided.result, "deny");
    let enrolled = auth.enroll(Some("newbie"), Some(600)).await.unwrap();
    assert_eq!(
        auth.enroll_status(&enrolled.user_id, &enrolled.activation_code)
            .await
            .unwrap(),
        "waiting"
    );
}

#[tokio::test]
async fn a_wrong_key_is_40103_and_admin_keys_cannot_use_the_auth_api() {
    let (url, emulator) = start("users=1").await;
    let keys = emulator.keys();
    let wrong = DuoClient::new(duo_client::ClientConfig::new(
        duo_client::ApiHost::parse(&url).unwrap(),
        keys.admin_ikey.clone(),
        "wrong".to_string().into(),
    ))
    .unwrap();
    let error = wrong
        .call("GET", "/admin/v1/users", &Map::new())
        .await
        .unwrap_err();
    assert_eq!(error.duo_code(), Some(40103));
    let admin = admin_client(&url, &emulator, SigVersion::V5);
    match admin.auth().check().await.unwrap_err() {
        ClientError::Duo {
            status: 403, fail, ..
        } => assert_eq!(fail.code, 40301),
        other => panic!("{other:?}"),
    }
}
