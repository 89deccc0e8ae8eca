//! Admin API endpoints: paging, reads, and writes that refuse bad input without changing
//! anything.

use serde_json::{Value, json};

use crate::support::{admin, emulator, send};

#[tokio::test]
async fn users_page_with_default_and_maximum_limits() {
    let emu = emulator("users=650");
    let first = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(first.body["response"].as_array().unwrap().len(), 100);
    assert_eq!(
        first.body["metadata"],
        json!({"next_offset": 100, "prev_offset": null, "total_objects": 650})
    );
    let big = send(
        &emu,
        admin(
            "GET",
            "/admin/v1/users",
            json!({"limit": "1000", "offset": "600"}),
        ),
    )
    .await;
    assert_eq!(big.body["response"].as_array().unwrap().len(), 50);
    assert_eq!(big.body["metadata"]["next_offset"], Value::Null);
    assert_eq!(big.body["metadata"]["prev_offset"], 300);
    let clamped = send(
        &emu,
        admin("GET", "/admin/v1/users", json!({"limit": "1000"})),
    )
    .await;
    assert_eq!(clamped.body["response"].as_array().unwrap().len(), 300);
    let bad = send(
        &emu,
        admin("GET", "/admin/v1/users", json!({"limit": "lots"})),
    )
    .await;
    assert_eq!(
        (
            bad.status,
            bad.body["code"].clone(),
            bad.body["message_detail"].clone()
        ),
        (400, json!(40002), json!("limit"))
    );
}

#[tokio::test]
async fn username_lookup_matches_aliases() {
    let emu = emulator("users=3");
    let users = send(&emu, admin("GET", "/admin/v1/users", json!({})))
        .await
        .body["response"]
        .clone();
    let id = users[1]["user_id"].as_str().unwrap();
    let update = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{id}"),
            json!({"alias2": "jdoe"}),
        ),
    )
    .await;
    assert_eq!(update.status, 200, "{:?}", update.body);
    let found = send(
        &emu,
        admin("GET", "/admin/v1/users", json!({"username": "jdoe"})),
    )
    .await;
    assert_eq!(found.body["response"][0]["user_id"], id);
    let none = send(
        &emu,
        admin("GET", "/admin/v1/users", json!({"username": "nobody"})),
    )
    .await;
    assert_eq!(none.body["response"], json!([]));
}

#[tokio::test]
async fn a_refused_user_update_changes_nothing() {
    let emu = emulator("users=2");
    let users = send(&emu, admin("GET", "/admin/v1/users", json!({})))
        .await
        .body["response"]
        .clone();
    let id = users[0]["user_id"].as_str().unwrap();
    let path = format!("/admin/v1/users/{id}");
    let before = send(&emu, admin("GET", &path, json!({}))).await.body;
    for (params, detail) in [
        (json!({"realname": "X", "status": "asleep"}), "status"),
        (
            json!({"realname": "X", "aliases": "alias1=a", "alias2": "b"}),
            "aliases cannot be combined with alias1-alias4",
        ),
        (
            json!({"realname": "X", "username": users[1]["username"]}),
            "username already exists",
        ),
        (
            json!({"realname": "X", "aliases": "alias9=z"}),
            "aliases: unknown alias \"alias9\"",
        ),
    ] {
        let reply = send(&emu, admin("POST", &path, params.clone())).await;
        assert_eq!(reply.status, 400, "{params}");
        assert_eq!(reply.body["message_detail"], detail, "{params}");
    }
    assert_eq!(
        send(&emu, admin("GET", &path, json!({}))).await.body,
        before
    );
}

#[tokio::test]
async fn aliases_pairs_set_and_clear_aliases() {
    let emu = emulator("users=1");
    let id = send(&emu, admin("GET", "/admin/v1/users", json!({})))
        .await
        .body["response"][0]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/admin/v1/users/{id}");
    let set = send(
        &emu,
        admin("POST", &path, json!({"aliases": "alias1=a&alias5=e"})),
    )
    .await
    .body["response"]
        .clone();
    assert_eq!(set["alias1"], "a");
    assert_eq!(set["aliases"], json!({"alias1": "a", "alias5": "e"}));
    let cleared = send(&emu, admin("POST", &path, json!({"aliases": "alias1="})))
        .await
        .body["response"]
        .clone();
    assert_eq!(cleared["alias1"], Value::Null);
    assert_eq!(cleared["aliases"], json!({"alias5": "e"}));
}

#[tokio::test]
async fn phones_associate_idempotently_and_list_their_users() {
    let emu = emulator("users=2,phones=2");
    let users = send(&emu, admin("GET", "/admin/v1/users", json!({})))
        .await
        .body["response"]
        .clone();
    let phones = send(&emu, admin("GET", "/admin/v1/phones", json!({})))
        .await
        .body["response"]
        .clone();
    let (user, phone) = (
        users[0]["user_id"].as_str().unwrap(),
        phones[1]["phone_id"].as_str().unwrap(),
    );
    let path = format!("/admin/v1/users/{user}/phones");
    for _ in 0..2 {
        let reply = send(&emu, admin("POST", &path, json!({"phone_id": phone}))).await;
        assert_eq!(reply.body, json!({"response": "", "stat": "OK"}));
    }
    let listed = send(&emu, admin("GET", &path, json!({}))).await.body["response"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(
        listed[0].get("users").is_none(),
        "phones inside a user have no users"
    );
    let one = send(
        &emu,
        admin("GET", &format!("/admin/v1/phones/{phone}"), json!({})),
    )
    .await
    .body["response"]
        .clone();
    assert_eq!(one["users"].as_array().unwrap().len(), 2);
    assert!(one["users"][0].get("phones").is_none());
    let missing = send(&emu, admin("POST", &path, json!({}))).await;
    assert_eq!(missing.body["message_detail"], "phone_id");
    let unknown = send(
        &emu,
        admin("POST", &path, json!({"phone_id": "DPNOSUCHPHONE0000000"})),
    )
    .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn admins_are_validated_case_sensitively_and_password_is_ignored() {
    let emu = emulator("admins=2");
    let admins = send(&emu, admin("GET", "/admin/v1/admins", json!({})))
        .await
        .body["response"]
        .clone();
    let id = admins[0]["admin_id"].as_str().unwrap();
    let path = format!("/admin/v1/admins/{id}");
    let ok = send(&emu, admin("POST", &path, json!({"name": "Jo", "password_change_required": true, "password": "x", "phone": "734-555-1212"}))).await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["response"]["password_change_required"], true);
    assert_eq!(ok.body["response"]["phone"], "+17345551212");
    for (params, detail) in [
        (json!({"status": "active"}), "status"),
        (json!({"role": "administrator"}), "role"),
        (json!({"phone": ""}), "phone"),
        (
            json!({"password_change_required": "perhaps"}),
            "password_change_required",
        ),
    ] {
        let reply = send(&emu, admin("POST", &path, params.clone())).await;
        assert_eq!(reply.body["message_detail"], detail, "{params}");
    }
    let owner = admins[1]["admin_id"].as_str().unwrap();
    let refused = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/admins/{owner}"),
            json!({"status": "Disabled"}),
        ),
    )
    .await;
    assert_eq!(refused.status, 400);
}

#[tokio::test]
async fn bypass_codes_carry_their_user_but_never_a_code() {
    let emu = emulator("users=2,bypass_codes=3");
    let codes = send(&emu, admin("GET", "/admin/v1/bypass_codes", json!({})))
        .await
        .body["response"]
        .clone();
    assert_eq!(codes.as_array().unwrap().len(), 3);
    for code in codes.as_array().unwrap() {
        assert!(code["user"]["user_id"].as_str().unwrap().starts_with("DU"));
        assert!(code.get("code").is_none() && code.get("codes").is_none());
    }
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let emu = emulator("users=1");
    assert_eq!(
        send(&emu, admin("GET", "/admin/v1/nothing", json!({})))
            .await
            .body["code"],
        40401
    );
    assert_eq!(
        send(&emu, admin("DELETE", "/admin/v1/phones", json!({})))
            .await
            .status,
        405
    );
}
