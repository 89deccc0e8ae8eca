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
        .preauth(&PreauthRequest::new(alice.clone()))
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

#[tokio::test]
async fn unknown_ids_are_duo_404s_with_exit_code_1() {
    let (url, emulator) = start("users=1").await;
    let client = admin_client(&url, &emulator, SigVersion::V5);
    // The id is percent-encoded into one path segment; it cannot reach another endpoint.
    for id in ["DUNOSUCHUSER00000000", "../admins"] {
        match client.admin().user(id).await.unwrap_err() {
            ref error @ ClientError::Duo {
                status, ref fail, ..
            } => {
                assert_eq!((status, fail.code), (404, 40401), "{id}: {error}");
                assert_eq!(error.exit_code(), 1);
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn paging_against_the_emulator_clamps_to_300_users_and_counts() {
    let (url, emulator) = start("users=650,phones=7,bypass_codes=3").await;
    let client = admin_client(&url, &emulator, SigVersion::V5);
    let pages: Vec<_> = client
        .pages("/admin/v1/users", Map::new(), Some(1000))
        .collect()
        .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|page| page.as_ref().unwrap().items.len())
        .collect();
    assert_eq!(sizes, vec![300, 300, 50]);
    let first = pages[0].as_ref().unwrap();
    assert_eq!(first.metadata.total_objects, Some(650));
    assert_eq!(first.metadata.next_offset, Some(300));
    let admin = client.admin();
    let (phones, metadata) = admin.list_phones(Some(3), Some(0)).await.unwrap();
    assert_eq!(phones.len(), 3);
    assert_eq!(metadata.next_offset, Some(3));
    let (codes, metadata) = admin.list_bypass_codes(Some(10), None).await.unwrap();
    assert_eq!(codes.len(), 3);
    assert_eq!(metadata.next_offset, None);
    let ids: std::collections::HashSet<String> = admin
        .users()
        .map(|user| user.unwrap().user_id)
        .collect()
        .await;
    assert_eq!(ids.len(), 650, "every user once");
}

#[tokio::test]
async fn auth_parameters_reach_duo_as_sent() {
    let (url, emulator) = start("").await;
    let control = reqwest::Client::new();
    control
        .post(format!("{url}/_emulator/users"))
        .json(&json!({"username": "bob", "answer": "approve"}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let client = auth_client(&url, &emulator);
    let mut push = AuthRequest::push(Subject::Username("bob".into()));
    push.pushinfo = Some("from=login%20portal&domain=example.com".into());
    push.ipaddr = Some("192.0.2.7".into());
    push.hostname = Some("workstation-1".into());
    push.kind = Some("Acme login".into());
    push.display_username = Some("Bob B.".into());
    let AuthOutcome::Decided(decided) = client.auth().auth(&push).await.unwrap() else {
        panic!("a synchronous auth is decided")
    };
    assert_eq!(
        (decided.result.as_str(), decided.status.as_str()),
        ("allow", "allow")
    );
    let transactions: serde_json::Value = control
        .get(format!("{url}/_emulator/transactions"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = &transactions[0];
    assert_eq!(sent["factor"], "push");
    assert_eq!(sent["device"], "auto");
    assert_eq!(sent["pushinfo"], "from=login%20portal&domain=example.com");
    assert_eq!(sent["ipaddr"], "192.0.2.7");
    assert_eq!(sent["type"], "Acme login");
    assert_eq!(sent["display_username"], "Bob B.");
    assert_eq!(sent["async"], false);
    // An unknown user is sent to enrollment.
    let pre = client
        .auth()
        .preauth(&PreauthRequest::new(Subject::Username("nobody".into())))
        .await
        .unwrap();
    assert_eq!(pre.result, "enroll");
}

#[tokio::test]
async fn users_are_found_by_name_created_enrolled_aliased_and_deleted() {
    use duo_client::admin::is_user_id;
    let (url, emulator) = start("users=3").await;
    for (version, name) in [(SigVersion::V5, "npatel"), (SigVersion::V2, "jsmith")] {
        let client = admin_client(&url, &emulator, version);
        let admin = client.admin();
        let created = admin
            .create_user(
                name,
                &UserUpdate {
                    realname: Some("New Person".into()),
                    alias1: Some(format!("{name}-1")),
                    ..UserUpdate::default()
                },
            )
            .await
            .unwrap();
        assert!(is_user_id(&created.user_id), "{}", created.user_id);
        assert_eq!(
            admin.users_by_name(name).await.unwrap()[0].user_id,
            created.user_id
        );
        let by_alias = admin
            .find_user(&format!("{name}-1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_alias.user_id, created.user_id);
        let by_id = admin.find_user(&created.user_id).await.unwrap().unwrap();
        assert_eq!(by_id.username, name);

        let added = admin
            .add_alias(&created.user_id, "second alias")
            .await
            .unwrap();
        assert_eq!(added.alias2.as_deref(), Some("second alias"));
        let again = admin
            .add_alias(&created.user_id, "second alias")
            .await
            .unwrap();
        assert_eq!(
            again.aliases.len(),
            2,
            "adding an alias twice changes nothing"
        );
        let removed = admin
            .remove_alias(&created.user_id, &format!("{name}-1"))
            .await
            .unwrap();
        assert_eq!(removed.alias1, None);
        assert_eq!(removed.alias2.as_deref(), Some("second alias"));
        assert!(matches!(
            admin.remove_alias(&created.user_id, "never had it").await,
            Err(ClientError::Config(_))
        ));

        admin.delete_user(&created.user_id).await.unwrap();
        assert!(admin.find_user(&created.user_id).await.unwrap().is_none());
        assert_eq!(
            admin
                .delete_user(&created.user_id)
                .await
                .unwrap_err()
                .duo_code(),
            Some(40401)
        );
    }
    let client = admin_client(&url, &emulator, SigVersion::V5);
    client
        .admin()
        .enroll_user("enrollee", "enrollee@example.com", Some(0))
        .await
        .unwrap();
    let enrolled = client.admin().users_by_name("enrollee").await.unwrap();
    assert_eq!(enrolled[0].email, "enrollee@example.com");
    let refused = client
        .admin()
        .enroll_user("enrollee", "enrollee@example.com", None)
        .await
        .unwrap_err();
    assert_eq!(refused.duo_code(), Some(40002));
    assert!(
        refused.to_string().contains("username already exists"),
        "{refused}"
    );
}

#[tokio::test]
async fn bypass_codes_are_generated_listed_and_deleted() {
    use duo_client::admin::BypassCodeRequest;
    use secrecy::ExposeSecret as _;
    let (url, emulator) = start("users=2").await;
    for version in [SigVersion::V5, SigVersion::V2] {
        let client = admin_client(&url, &emulator, version);
        let admin = client.admin();
        let (users, _) = admin.list_users(None, None).await.unwrap();
        let user_id = &users[0].user_id;
        let codes = admin
            .generate_bypass_codes(
                user_id,
                &BypassCodeRequest {
                    count: Some(3),
                    reuse_count: Some(2),
                    ..BypassCodeRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(codes.0.len(), 3);
        let shown = format!("{codes:?}");
        assert!(!shown.contains(codes.0[0].expose_secret()), "{shown}");
        let chosen = admin
            .generate_bypass_codes(
                user_id,
                &BypassCodeRequest {
                    codes: Some(vec!["11111111".into(), "22222222".into()]),
                    preserve_existing: Some(true),
                    valid_secs: Some(600),
                    ..BypassCodeRequest::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(chosen.0[1].expose_secret(), "22222222");
        let listed = admin.user_bypass_codes(user_id).await.unwrap();
        assert_eq!(listed.len(), 5, "{version:?}");
        assert_eq!(listed[0].reuse_count, Some(2));
        assert!(listed[4].expiration.is_some());
        admin
            .delete_bypass_code(&listed[0].bypass_code_id)
            .await
            .unwrap();
        assert_eq!(admin.user_bypass_codes(user_id).await.unwrap().len(), 4);
        let gone = admin
            .delete_bypass_code(&listed[0].bypass_code_id)
            .await
            .unwrap_err();
        assert_eq!(gone.duo_code(), Some(40401));
        // Replacing (no preserve_existing) leaves just the new ones for the next round.
        admin
            .generate_bypass_codes(
                user_id,
                &BypassCodeRequest {
                    count: Some(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(admin.user_bypass_codes(user_id).await.unwrap().len(), 1);
        admin
            .generate_bypass_codes(
                user_id,
                &BypassCodeRequest {
                    count: Some(1),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let refused = admin
            .generate_bypass_codes(
                user_id,
                &BypassCodeRequest {
                    count: Some(11),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("count"), "{refused}");
    }
}

#[tokio::test]
async fn phones_are_created_modified_dissociated_deleted_and_activated() {
    use duo_client::admin::PhoneFields;
    let (url, emulator) = start("users=1").await;
    for version in [SigVersion::V5, SigVersion::V2] {
        let client = admin_client(&url, &emulator, version);
        let admin = client.admin();
        let phone = admin
            .create_phone(&PhoneFields {
                number: Some("+4420 7946 0000".into()),
                kind: Some("mobile".into()),
                platform: Some("generic smartphone".into()),
                predelay: Some(1),
                ..PhoneFields::default()
            })
            .await
            .unwrap();
        assert_eq!(phone.number, "+442079460000");
        assert_eq!(phone.platform, "Generic Smartphone");
        let renamed = admin
            .modify_phone(
                &phone.phone_id,
                &PhoneFields {
                    name: Some("spare".into()),
                    ..PhoneFields::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(renamed.name, "spare");
        let link = admin
            .activation_url(&phone.phone_id, Some(120), true)
            .await
            .unwrap();
        assert_eq!(link["valid_secs"], 120);
        let (users, _) = admin.list_users(None, None).await.unwrap();
        let user = &users[0].user_id;
        admin.associate_phone(user, &phone.phone_id).await.unwrap();
        admin.dissociate_phone(user, &phone.phone_id).await.unwrap();
        assert!(admin.user_phones(user).await.unwrap().is_empty());
        admin.delete_phone(&phone.phone_id).await.unwrap();
        assert_eq!(
            admin
                .delete_phone(&phone.phone_id)
                .await
                .unwrap_err()
                .duo_code(),
            Some(40401)
        );
    }
}

#[tokio::test]
async fn groups_are_created_modified_joined_and_deleted() {
    use duo_client::admin::GroupFields;
    let (url, emulator) = start("users=1").await;
    for (version, name) in [(SigVersion::V5, "five"), (SigVersion::V2, "two")] {
        let client = admin_client(&url, &emulator, version);
        let admin = client.admin();
        let group = admin
            .create_group(&GroupFields {
                name: Some(name.into()),
                status: Some("disabled".into()),
                ..GroupFields::default()
            })
            .await
            .unwrap();
        assert_eq!(group.status, "Disabled");
        let changed = admin
            .modify_group(
                &group.group_id,
                &GroupFields {
                    desc: Some("d".into()),
                    ..GroupFields::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.desc, "d");
        let (users, _) = admin.list_users(None, None).await.unwrap();
        let user = &users[0].user_id;
        admin
            .add_user_to_group(user, &group.group_id)
            .await
            .unwrap();
        assert_eq!(admin.group_users(&group.group_id).await.unwrap().len(), 1);
        assert_eq!(admin.user_groups(user).await.unwrap()[0].name, name);
        admin
            .remove_user_from_group(user, &group.group_id)
            .await
            .unwrap();
        assert!(admin.user_groups(user).await.unwrap().is_empty());
        admin.delete_group(&group.group_id).await.unwrap();
        let all: Vec<_> = admin.groups().collect().await;
        assert!(all.is_empty(), "{version:?}");
    }
}

#[tokio::test]
async fn request_approval_polls_until_decided_or_gives_up() {
    let (url, emulator) = start("").await;
    let control = reqwest::Client::new();
    for (name, answer) in [
        ("yes", "approve"),
        ("fraud", "fraud"),
        ("silent", "timeout"),
    ] {
        control
            .post(format!("{url}/_emulator/users"))
            .json(&json!({"username": name, "answer": answer, "phones": 1}))
            .send()
            .await
            .unwrap();
    }
    let client = auth_client(&url, &emulator);
    let auth = client.auth();
    let wait = std::time::Duration::from_secs(30);
    let (txid, allowed) = auth
        .request_approval(&AuthRequest::push(Subject::Username("yes".into())), wait)
        .await
        .unwrap();
    assert!(!txid.is_empty());
    assert_eq!(
        (allowed.result.as_str(), allowed.status.as_str()),
        ("allow", "allow")
    );
    let (_, fraud) = auth
        .request_approval(&AuthRequest::push(Subject::Username("fraud".into())), wait)
        .await
        .unwrap();
    assert_eq!(
        (fraud.result.as_str(), fraud.status.as_str()),
        ("deny", "fraud")
    );
    let gave_up = auth
        .request_approval(
            &AuthRequest::push(Subject::Username("silent".into())),
            std::time::Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(gave_up, ClientError::Timeout { .. }),
        "{gave_up:?}"
    );
}
