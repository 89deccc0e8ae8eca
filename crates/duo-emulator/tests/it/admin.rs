//! Admin API endpoints: paging, reads, and writes that refuse bad input without changing
//! anything.

use serde_json::{Value, json};

use crate::support::{admin, emulator, ok, send, signed_with};

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

async fn first_user_id(emu: &duo_emulator::Emulator, index: usize) -> String {
    ok(emu, admin("GET", "/admin/v1/users", json!({}))).await[index]["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn users_are_created_read_and_deleted() {
    let emu = emulator("users=1");
    let created = ok(
        &emu,
        admin(
            "POST",
            "/admin/v1/users",
            json!({"username": "npatel", "realname": "Nadia Patel", "email": "np@example.com", "alias1": "nadia"}),
        ),
    )
    .await;
    let id = created["user_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("DU") && id.len() == 20, "{id}");
    assert_eq!(created["username"], "npatel");
    assert_eq!(created["status"], "active");
    assert_eq!(created["aliases"], json!({"alias1": "nadia"}));
    assert_eq!(created["phones"], json!([]));
    let path = format!("/admin/v1/users/{id}");
    assert_eq!(ok(&emu, admin("GET", &path, json!({}))).await, created);
    let by_alias = ok(
        &emu,
        admin("GET", "/admin/v1/users", json!({"username": "nadia"})),
    )
    .await;
    assert_eq!(by_alias[0]["user_id"], id.as_str());

    let duplicate = send(
        &emu,
        admin("POST", "/admin/v1/users", json!({"username": "npatel"})),
    )
    .await;
    assert_eq!(
        (duplicate.status, duplicate.body["message_detail"].clone()),
        (400, json!("username already exists"))
    );
    let nameless = send(&emu, admin("POST", "/admin/v1/users", json!({}))).await;
    assert_eq!(nameless.body["message_detail"], "username");

    assert_eq!(ok(&emu, admin("DELETE", &path, json!({}))).await, json!(""));
    assert_eq!(send(&emu, admin("GET", &path, json!({}))).await.status, 404);
    assert_eq!(
        send(&emu, admin("DELETE", &path, json!({}))).await.body["code"],
        40401
    );
    let left = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(left.body["metadata"]["total_objects"], 1);
}

#[tokio::test]
async fn user_lists_filter_by_email_and_name_lists_with_metadata() {
    let emu = emulator("users=5");
    let users = ok(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    let by_email = send(
        &emu,
        admin(
            "GET",
            "/admin/v1/users",
            json!({"email": users[2]["email"]}),
        ),
    )
    .await;
    assert_eq!(by_email.body["response"][0]["user_id"], users[2]["user_id"]);
    assert_eq!(
        by_email.body["metadata"],
        json!({"next_offset": null, "prev_offset": null, "total_objects": 1})
    );
    let names = json!([users[0]["username"], "ghost", users[3]["username"]]).to_string();
    let listed = ok(
        &emu,
        admin("GET", "/admin/v1/users", json!({"username_list": names})),
    )
    .await;
    let ids: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|u| &u["user_id"])
        .collect();
    assert_eq!(ids, [&users[0]["user_id"], &users[3]["user_id"]]);
    let by_ids = ok(
        &emu,
        admin(
            "GET",
            "/admin/v1/users",
            json!({"user_id_list": json!([users[4]["user_id"]]).to_string()}),
        ),
    )
    .await;
    assert_eq!(by_ids[0]["username"], users[4]["username"]);
    let bad = send(
        &emu,
        admin("GET", "/admin/v1/users", json!({"user_id_list": "DU1,DU2"})),
    )
    .await;
    assert_eq!(bad.body["message_detail"], "user_id_list");
}

#[tokio::test]
async fn paging_parameters_must_be_non_negative_integers() {
    let emu = emulator("users=3,admins=3");
    for (params, detail) in [
        (json!({"offset": "-1"}), "offset"),
        (json!({"limit": "1.5"}), "limit"),
        (json!({"limit": "-10"}), "limit"),
        (json!({"limit": "0"}), "limit"),
    ] {
        for path in ["/admin/v1/users", "/admin/v1/admins", "/admin/v1/phones"] {
            let reply = send(&emu, admin("GET", path, params.clone())).await;
            assert_eq!(
                (
                    reply.status,
                    reply.body["code"].clone(),
                    reply.body["message_detail"].clone()
                ),
                (400, json!(40002), json!(detail)),
                "{path} {params}"
            );
        }
    }
    let admins = send(&emu, admin("GET", "/admin/v1/admins", json!({}))).await;
    assert_eq!(
        admins.body["metadata"],
        json!({"next_offset": null, "prev_offset": null, "total_objects": 3})
    );
    let past_the_end = send(
        &emu,
        admin(
            "GET",
            "/admin/v1/users",
            json!({"offset": "10", "limit": "2"}),
        ),
    )
    .await;
    assert_eq!(past_the_end.body["response"], json!([]));
    assert_eq!(past_the_end.body["metadata"]["next_offset"], Value::Null);
}

#[tokio::test]
async fn phones_page_to_500_filter_by_number_and_carry_their_users() {
    let emu = emulator("users=3,phones=600");
    let first = send(
        &emu,
        admin("GET", "/admin/v1/phones", json!({"limit": "1000"})),
    )
    .await;
    assert_eq!(first.body["response"].as_array().unwrap().len(), 500);
    assert_eq!(
        first.body["metadata"],
        json!({"next_offset": 500, "prev_offset": null, "total_objects": 600})
    );
    let phone = &first.body["response"][1];
    assert_eq!(phone["number"], "+15550000002");
    assert_eq!(
        phone["capabilities"],
        json!(["auto", "push", "sms", "phone", "mobile_otp"])
    );
    assert_eq!(phone["users"][0]["username"], "bsmith0002");
    let found = send(
        &emu,
        admin("GET", "/admin/v1/phones", json!({"number": "+15550000002"})),
    )
    .await;
    assert_eq!(found.body["response"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["response"][0]["phone_id"], phone["phone_id"]);
    assert_eq!(found.body["metadata"]["total_objects"], 1);
    let embedded = &found.body["response"][0]["users"][0];
    assert!(embedded.get("phones").is_none() && embedded.get("groups").is_none());
    let none = ok(
        &emu,
        admin(
            "GET",
            "/admin/v1/phones",
            json!({"number": "+15550000002", "extension": "99"}),
        ),
    )
    .await;
    assert_eq!(none, json!([]));
    assert_eq!(
        send(
            &emu,
            admin("GET", "/admin/v1/phones/DPNOSUCHPHONE0000000", json!({}))
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn a_users_phones_page_and_can_be_dissociated() {
    let emu = emulator("users=1,phones=3");
    let user = first_user_id(&emu, 0).await;
    let path = format!("/admin/v1/users/{user}/phones");
    let page = send(&emu, admin("GET", &path, json!({"limit": "2"}))).await;
    assert_eq!(page.body["response"].as_array().unwrap().len(), 2);
    assert_eq!(
        page.body["metadata"],
        json!({"next_offset": 2, "prev_offset": null, "total_objects": 3})
    );
    let rest = send(
        &emu,
        admin("GET", &path, json!({"limit": "2", "offset": "2"})),
    )
    .await;
    assert_eq!(rest.body["response"].as_array().unwrap().len(), 1);
    assert_eq!(rest.body["metadata"]["prev_offset"], 0);
    let phone = page.body["response"][0]["phone_id"].as_str().unwrap();
    assert_eq!(
        ok(&emu, admin("DELETE", &format!("{path}/{phone}"), json!({}))).await,
        json!("")
    );
    assert_eq!(
        ok(&emu, admin("GET", &path, json!({})))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let alone = ok(
        &emu,
        admin("GET", &format!("/admin/v1/phones/{phone}"), json!({})),
    )
    .await;
    assert_eq!(alone["users"], json!([]));
    assert_eq!(
        send(
            &emu,
            admin(
                "GET",
                "/admin/v1/users/DUNOSUCHUSER00000000/phones",
                json!({})
            )
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn usernames_and_aliases_stay_unique_across_users() {
    let emu = emulator("users=2");
    let (a, b) = (first_user_id(&emu, 0).await, first_user_id(&emu, 1).await);
    ok(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{a}"),
            json!({"alias1": "shared"}),
        ),
    )
    .await;
    let path_b = format!("/admin/v1/users/{b}");
    let before = ok(&emu, admin("GET", &path_b, json!({}))).await;
    let clash = send(&emu, admin("POST", &path_b, json!({"alias3": "shared"}))).await;
    assert_eq!(clash.body["message_detail"], "aliases must be unique");
    let taken = send(&emu, admin("POST", &path_b, json!({"username": "shared"}))).await;
    assert_eq!(taken.body["message_detail"], "username already exists");
    let empty = send(&emu, admin("POST", &path_b, json!({"username": ""}))).await;
    assert_eq!(empty.body["message_detail"], "username");
    assert_eq!(ok(&emu, admin("GET", &path_b, json!({}))).await, before);
}

#[tokio::test]
async fn v2_form_bodies_update_users_like_v5_json_bodies() {
    let emu = emulator("users=1");
    let id = first_user_id(&emu, 0).await;
    let k = crate::support::keys();
    let request = signed_with(
        duo_proto::SigVersion::V2,
        "POST",
        &format!("/admin/v1/users/{id}"),
        json!({"realname": "Zoë Ünal", "status": "disabled", "notes": "a b&c=d"}),
        &k.admin_ikey,
        &k.admin_skey,
        &crate::support::date(),
    );
    assert_eq!(
        request.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    let updated = ok(&emu, request).await;
    assert_eq!(updated["realname"], "Zoë Ünal");
    assert_eq!(updated["status"], "disabled");
    assert_eq!(updated["notes"], "a b&c=d");
}

#[tokio::test]
async fn admins_are_read_one_by_one_and_modified() {
    let emu = emulator("admins=3");
    let admins = ok(&emu, admin("GET", "/admin/v1/admins", json!({}))).await;
    let id = admins[0]["admin_id"].as_str().unwrap();
    assert!(id.starts_with("DE") && id.len() == 20);
    let path = format!("/admin/v1/admins/{id}");
    assert_eq!(ok(&emu, admin("GET", &path, json!({}))).await, admins[0]);
    let changed = ok(
        &emu,
        admin(
            "POST",
            &path,
            json!({"role": "Help Desk", "status": "Disabled", "password_change_required": "true", "phone": "+44 20 7946 0000"}),
        ),
    )
    .await;
    assert_eq!(changed["role"], "Help Desk");
    assert_eq!(changed["status"], "Disabled");
    assert_eq!(changed["password_change_required"], true);
    assert_eq!(changed["phone"], "+442079460000");
    assert!(changed.get("password").is_none());
    assert_eq!(ok(&emu, admin("GET", &path, json!({}))).await, changed);
    assert_eq!(
        send(
            &emu,
            admin("GET", "/admin/v1/admins/DENOSUCHADMIN0000000", json!({}))
        )
        .await
        .body["code"],
        40401
    );
    assert_eq!(
        send(
            &emu,
            admin(
                "POST",
                "/admin/v1/admins/DENOSUCHADMIN0000000",
                json!({"name": "x"})
            )
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn bypass_codes_page_with_metadata() {
    let emu = emulator("users=3,bypass_codes=7");
    let page = send(
        &emu,
        admin("GET", "/admin/v1/bypass_codes", json!({"limit": "5"})),
    )
    .await;
    assert_eq!(page.body["response"].as_array().unwrap().len(), 5);
    assert_eq!(
        page.body["metadata"],
        json!({"next_offset": 5, "prev_offset": null, "total_objects": 7})
    );
    let code = &page.body["response"][0];
    assert!(code["bypass_code_id"].as_str().unwrap().starts_with("DB"));
    assert!(code["expiration"].is_i64() && code["reuse_count"].is_i64());
    assert!(code["user"].get("phones").is_none());
}

#[tokio::test]
async fn a_hundred_thousand_users_page_from_anywhere() {
    let emu = emulator("users=100000");
    let tail = send(
        &emu,
        admin(
            "GET",
            "/admin/v1/users",
            json!({"offset": "99900", "limit": "300"}),
        ),
    )
    .await;
    let users = tail.body["response"].as_array().unwrap();
    assert_eq!(users.len(), 100);
    assert!(users[99]["username"].as_str().unwrap().ends_with("100000"));
    assert_eq!(tail.body["metadata"]["next_offset"], Value::Null);
    assert_eq!(tail.body["metadata"]["prev_offset"], 99600);
    let name = users[50]["username"].as_str().unwrap();
    let found = ok(
        &emu,
        admin("GET", "/admin/v1/users", json!({"username": name})),
    )
    .await;
    assert_eq!(found[0]["user_id"], users[50]["user_id"]);
}

#[tokio::test]
async fn enrolling_creates_the_user_and_records_the_email() {
    let emu = emulator("users=1");
    let answer = ok(
        &emu,
        admin(
            "POST",
            "/admin/v1/users/enroll",
            json!({"username": "newbie", "email": "newbie@example.com", "valid_secs": "3600"}),
        ),
    )
    .await;
    assert_eq!(answer, json!(""));
    let found = ok(
        &emu,
        admin("GET", "/admin/v1/users", json!({"username": "newbie"})),
    )
    .await;
    assert_eq!(found[0]["email"], "newbie@example.com");
    assert_eq!(found[0]["status"], "active");
    assert_eq!(found[0]["is_enrolled"], false);
    let emails = crate::support::ok_control(&emu, "GET", "/_emulator/emails").await;
    let now = crate::support::now().as_second();
    assert_eq!(
        emails,
        json!([{"user_id": found[0]["user_id"], "username": "newbie", "email": "newbie@example.com",
                "sent": now, "expiration": now + 3600}])
    );
}

#[tokio::test]
async fn a_refused_enrollment_names_the_parameter_and_changes_nothing() {
    let emu = emulator("users=1");
    let existing = first_user_id(&emu, 0).await;
    let taken = ok(
        &emu,
        admin("GET", &format!("/admin/v1/users/{existing}"), json!({})),
    )
    .await["username"]
        .clone();
    for (params, detail) in [
        (json!({"email": "a@example.com"}), "username"),
        (json!({"username": "x"}), "email"),
        (json!({"username": "x", "email": "not-an-address"}), "email"),
        (
            json!({"username": "x", "email": "a@example.com", "valid_secs": "-5"}),
            "valid_secs",
        ),
        (
            json!({"username": taken, "email": "a@example.com"}),
            "username already exists",
        ),
    ] {
        let reply = send(
            &emu,
            admin("POST", "/admin/v1/users/enroll", params.clone()),
        )
        .await;
        assert_eq!(
            (
                reply.status,
                reply.body["code"].clone(),
                reply.body["message_detail"].clone()
            ),
            (400, json!(40002), json!(detail)),
            "{params}"
        );
    }
    let users = send(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    assert_eq!(users.body["metadata"]["total_objects"], 1);
    assert_eq!(
        crate::support::ok_control(&emu, "GET", "/_emulator/emails").await,
        json!([])
    );
}

#[tokio::test]
async fn generated_bypass_codes_replace_the_users_codes_unless_preserved() {
    let emu = emulator("users=2,bypass_codes=4");
    let user = first_user_id(&emu, 0).await;
    let path = format!("/admin/v1/users/{user}/bypass_codes");
    let seeded = ok(&emu, admin("GET", &path, json!({}))).await;
    assert_eq!(
        seeded.as_array().unwrap().len(),
        2,
        "4 codes round-robin over 2 users"
    );

    let codes = ok(&emu, admin("POST", &path, json!({}))).await;
    let codes = codes.as_array().unwrap();
    assert_eq!(codes.len(), 10, "Duo's default count");
    for code in codes {
        let code = code.as_str().unwrap();
        assert!(
            code.len() == 9 && code.chars().all(|c| c.is_ascii_digit()),
            "{code}"
        );
    }
    let listed = ok(&emu, admin("GET", &path, json!({}))).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        10,
        "the seeded codes were replaced"
    );
    let one = &listed[0];
    assert_eq!(one["user"]["user_id"], user.as_str());
    assert_eq!(one["reuse_count"], 1);
    assert_eq!(one["expiration"], Value::Null);
    assert!(one.get("code").is_none() && !listed.to_string().contains(codes[0].as_str().unwrap()));

    let chosen = ok(
        &emu,
        admin(
            "POST",
            &path,
            json!({"codes": "1234567,7654321", "valid_secs": "60", "reuse_count": "0", "preserve_existing": true}),
        ),
    )
    .await;
    assert_eq!(chosen, json!(["1234567", "7654321"]));
    let page = send(
        &emu,
        admin("GET", &path, json!({"limit": "5", "offset": "10"})),
    )
    .await;
    assert_eq!(
        page.body["metadata"],
        json!({"next_offset": null, "prev_offset": 5, "total_objects": 12})
    );
    let newest = &page.body["response"][1];
    assert_eq!(newest["reuse_count"], Value::Null, "0 uses means unlimited");
    assert_eq!(newest["expiration"], crate::support::now().as_second() + 60);
    let all = ok(&emu, admin("GET", "/admin/v1/bypass_codes", json!({}))).await;
    assert_eq!(
        all.as_array().unwrap().len(),
        14,
        "the other user's two codes stay"
    );
}

#[tokio::test]
async fn refused_bypass_code_requests_name_the_parameter_and_change_nothing() {
    let emu = emulator("users=1,bypass_codes=3");
    let user = first_user_id(&emu, 0).await;
    let path = format!("/admin/v1/users/{user}/bypass_codes");
    for (params, detail) in [
        (json!({"count": "11"}), "count"),
        (json!({"count": "0"}), "count"),
        (json!({"count": "two"}), "count"),
        (
            json!({"count": "2", "codes": "1,2"}),
            "codes: cannot be combined with count",
        ),
        (json!({"codes": "1,,2"}), "codes"),
        (json!({"codes": "1,1"}), "codes"),
        (json!({"codes": "1,2,3,4,5,6,7,8,9,10,11"}), "codes"),
        (json!({"valid_secs": "-1"}), "valid_secs"),
        (json!({"reuse_count": "x"}), "reuse_count"),
        (json!({"preserve_existing": "maybe"}), "preserve_existing"),
    ] {
        let reply = send(&emu, admin("POST", &path, params.clone())).await;
        assert_eq!(
            (
                reply.status,
                reply.body["code"].clone(),
                reply.body["message_detail"].clone()
            ),
            (400, json!(40002), json!(detail)),
            "{params}"
        );
    }
    assert_eq!(
        ok(&emu, admin("GET", &path, json!({})))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for method in ["GET", "POST"] {
        let unknown = send(
            &emu,
            admin(
                method,
                "/admin/v1/users/DUNOSUCHUSER00000000/bypass_codes",
                json!({}),
            ),
        )
        .await;
        assert_eq!(
            (unknown.status, unknown.body["code"].clone()),
            (404, json!(40401))
        );
    }
}

#[tokio::test]
async fn a_user_holds_at_most_a_hundred_bypass_codes() {
    let emu = emulator("users=1");
    let user = first_user_id(&emu, 0).await;
    let path = format!("/admin/v1/users/{user}/bypass_codes");
    for _ in 0..10 {
        ok(
            &emu,
            admin("POST", &path, json!({"preserve_existing": "true"})),
        )
        .await;
    }
    let over = send(
        &emu,
        admin(
            "POST",
            &path,
            json!({"count": "1", "preserve_existing": "true"}),
        ),
    )
    .await;
    assert_eq!(over.body["code"], 40002);
    assert!(
        over.body["message_detail"]
            .as_str()
            .unwrap()
            .contains("100")
    );
    let replaced = ok(&emu, admin("POST", &path, json!({"count": "1"}))).await;
    assert_eq!(
        replaced.as_array().unwrap().len(),
        1,
        "without preserve_existing the old ones go"
    );
}

#[tokio::test]
async fn bypass_codes_are_read_and_deleted_by_id() {
    let emu = emulator("users=1,bypass_codes=2");
    let codes = ok(&emu, admin("GET", "/admin/v1/bypass_codes", json!({}))).await;
    let id = codes[0]["bypass_code_id"].as_str().unwrap();
    let path = format!("/admin/v1/bypass_codes/{id}");
    assert_eq!(ok(&emu, admin("GET", &path, json!({}))).await, codes[0]);
    assert_eq!(ok(&emu, admin("DELETE", &path, json!({}))).await, json!(""));
    for method in ["GET", "DELETE"] {
        let gone = send(&emu, admin(method, &path, json!({}))).await;
        assert_eq!(
            (gone.status, gone.body["code"].clone()),
            (404, json!(40401))
        );
    }
    let left = send(&emu, admin("GET", "/admin/v1/bypass_codes", json!({}))).await;
    assert_eq!(left.body["metadata"]["total_objects"], 1);
    assert_eq!(send(&emu, admin("PUT", &path, json!({}))).await.status, 405);
}

#[tokio::test]
async fn phones_are_created_modified_and_deleted_with_duos_spellings() {
    let emu = emulator("users=1,phones=1");
    let created = ok(
        &emu,
        admin(
            "POST",
            "/admin/v1/phones",
            json!({"number": "734-555-1212", "name": "desk", "type": "MOBILE", "platform": "apple ios", "predelay": "2"}),
        ),
    )
    .await;
    let id = created["phone_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("DP") && id.len() == 20);
    assert_eq!(created["number"], "+17345551212");
    assert_eq!(created["type"], "Mobile");
    assert_eq!(created["platform"], "Apple iOS");
    assert_eq!(created["predelay"], "2");
    assert_eq!(created["activated"], false);
    assert_eq!(created["capabilities"], json!(["phone", "sms"]));
    assert_eq!(created["users"], json!([]));
    let path = format!("/admin/v1/phones/{id}");
    let changed = ok(
        &emu,
        admin("POST", &path, json!({"name": "cell", "extension": "12"})),
    )
    .await;
    assert_eq!(
        (changed["name"].clone(), changed["extension"].clone()),
        (json!("cell"), json!("12"))
    );
    let before = ok(&emu, admin("GET", &path, json!({}))).await;
    for (params, detail) in [
        (json!({"name": "x", "type": "pager"}), "type"),
        (json!({"name": "x", "platform": "nokia"}), "platform"),
        (json!({"name": "x", "number": "call me"}), "number"),
        (json!({"name": "x", "predelay": "-1"}), "predelay"),
        (json!({"name": "x", "extension": "12a"}), "extension"),
    ] {
        let reply = send(&emu, admin("POST", &path, params.clone())).await;
        assert_eq!(
            (
                reply.status,
                reply.body["code"].clone(),
                reply.body["message_detail"].clone()
            ),
            (400, json!(40002), json!(detail)),
            "{params}"
        );
    }
    assert_eq!(ok(&emu, admin("GET", &path, json!({}))).await, before);

    let user = first_user_id(&emu, 0).await;
    ok(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{user}/phones"),
            json!({"phone_id": id}),
        ),
    )
    .await;
    assert_eq!(ok(&emu, admin("DELETE", &path, json!({}))).await, json!(""));
    let phones = ok(
        &emu,
        admin("GET", &format!("/admin/v1/users/{user}/phones"), json!({})),
    )
    .await;
    assert_eq!(
        phones.as_array().unwrap().len(),
        1,
        "the deleted phone left its user"
    );
    for method in ["GET", "POST", "DELETE"] {
        assert_eq!(
            send(&emu, admin(method, &path, json!({}))).await.status,
            404,
            "{method}"
        );
    }
    let all = send(&emu, admin("GET", "/admin/v1/phones", json!({}))).await;
    assert_eq!(all.body["metadata"]["total_objects"], 1);
}

#[tokio::test]
async fn activation_links_need_a_smartphone() {
    let emu = emulator("phones=1");
    let seeded = ok(&emu, admin("GET", "/admin/v1/phones", json!({}))).await[0]["phone_id"]
        .as_str()
        .unwrap()
        .to_string();
    let link = ok(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/phones/{seeded}/activation_url"),
            json!({"valid_secs": "3600", "install": "1"}),
        ),
    )
    .await;
    assert_eq!(link["valid_secs"], 3600);
    assert!(
        link["activation_url"]
            .as_str()
            .unwrap()
            .contains("/activate/")
    );
    assert!(
        link["activation_barcode"]
            .as_str()
            .unwrap()
            .contains("duo%3A%2F%2F")
    );
    assert!(link.get("installation_url").is_some());
    let landline = ok(
        &emu,
        admin(
            "POST",
            "/admin/v1/phones",
            json!({"number": "+15551234567", "type": "landline"}),
        ),
    )
    .await["phone_id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/phones/{landline}/activation_url"),
            json!({}),
        ),
    )
    .await;
    assert_eq!(refused.body["message_detail"], "platform");
    let bad = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/phones/{seeded}/activation_url"),
            json!({"install": "yes"}),
        ),
    )
    .await;
    assert_eq!(bad.body["message_detail"], "install");
    let missing = send(
        &emu,
        admin(
            "POST",
            "/admin/v1/phones/DPNOSUCHPHONE0000000/activation_url",
            json!({}),
        ),
    )
    .await;
    assert_eq!(missing.body["code"], 40401);
}

#[tokio::test]
async fn an_activation_sms_goes_to_a_mobile_and_is_recorded() {
    let emu = emulator("");
    let mobile = ok(
        &emu,
        admin(
            "POST",
            "/admin/v1/phones",
            json!({"number": "+15550001111", "type": "mobile", "platform": "google android"}),
        ),
    )
    .await["phone_id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/admin/v1/phones/{mobile}/send_sms_activation");
    let sent = ok(
        &emu,
        admin(
            "POST",
            &path,
            json!({"valid_secs": "3600", "install": "1",
                   "installation_msg": "Get the app: <insturl>",
                   "activation_msg": "Activate: <acturl>"}),
        ),
    )
    .await;
    assert_eq!(sent["valid_secs"], 3600);
    let activation = sent["activation_msg"].as_str().unwrap();
    assert!(activation.starts_with("Activate: ") && activation.contains("/activate/"));
    assert!(
        sent["installation_msg"]
            .as_str()
            .unwrap()
            .starts_with("Get the app: ")
    );
    assert!(
        sent["activation_barcode"]
            .as_str()
            .unwrap()
            .contains("duo%3A%2F%2F")
    );
    let recorded = crate::support::ok_control(&emu, "GET", "/_emulator/sms").await;
    let now = crate::support::now().as_second();
    assert_eq!(recorded[0]["phone_id"], mobile.as_str());
    assert_eq!(recorded[0]["number"], "+15550001111");
    assert_eq!(
        recorded[0]["messages"],
        json!([sent["installation_msg"], sent["activation_msg"]])
    );
    assert_eq!(recorded[0]["expiration"], now + 3600);
    let plain = ok(&emu, admin("POST", &path, json!({}))).await;
    assert!(plain.get("installation_msg").is_none());
    assert!(
        plain["activation_msg"]
            .as_str()
            .unwrap()
            .starts_with("To activate the Duo Mobile app")
    );
    assert_eq!(plain["valid_secs"], 86400);
}

#[tokio::test]
async fn a_refused_activation_sms_names_the_parameter_and_sends_nothing() {
    let emu = emulator("");
    let create = |body: Value| {
        let emu = &emu;
        async move {
            ok(emu, admin("POST", "/admin/v1/phones", body)).await["phone_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let mobile =
        create(json!({"number": "+15550001111", "type": "mobile", "platform": "apple ios"})).await;
    let landline = create(json!({"number": "+15550002222", "type": "landline"})).await;
    let no_number = create(json!({"type": "mobile", "platform": "apple ios"})).await;
    let cases = [
        (landline.as_str(), json!({}), "type"),
        (no_number.as_str(), json!({}), "number"),
        (mobile.as_str(), json!({"install": "yes"}), "install"),
        (mobile.as_str(), json!({"valid_secs": "-1"}), "valid_secs"),
        (
            mobile.as_str(),
            json!({"activation_msg": "no link"}),
            "activation_msg",
        ),
        (
            mobile.as_str(),
            json!({"install": "1", "installation_msg": "no link"}),
            "installation_msg",
        ),
    ];
    for (phone, body, detail) in cases {
        let refused = send(
            &emu,
            admin(
                "POST",
                &format!("/admin/v1/phones/{phone}/send_sms_activation"),
                body.clone(),
            ),
        )
        .await;
        assert_eq!(refused.status, 400, "{body}");
        assert_eq!(refused.body["code"], 40002, "{body}");
        assert_eq!(refused.body["message_detail"], detail, "{body}");
    }
    let missing = send(
        &emu,
        admin(
            "POST",
            "/admin/v1/phones/DPNOSUCHPHONE0000000/send_sms_activation",
            json!({}),
        ),
    )
    .await;
    assert_eq!(missing.body["code"], 40401);
    let wrong_method = send(
        &emu,
        admin(
            "GET",
            &format!("/admin/v1/phones/{mobile}/send_sms_activation"),
            json!({}),
        ),
    )
    .await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(
        crate::support::ok_control(&emu, "GET", "/_emulator/sms").await,
        json!([])
    );
}

#[tokio::test]
async fn groups_are_created_modified_joined_left_and_deleted() {
    let emu = emulator("users=2");
    let group = ok(
        &emu,
        admin(
            "POST",
            "/admin/v1/groups",
            json!({"name": "Contractors", "desc": "outside staff", "status": "bypass", "sms_enabled": "0"}),
        ),
    )
    .await;
    let id = group["group_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("DG") && id.len() == 20);
    assert_eq!(group["status"], "Bypass");
    assert_eq!(group["sms_enabled"], false);
    assert_eq!(group["push_enabled"], true);
    let v2 = ok(
        &emu,
        admin("GET", &format!("/admin/v2/groups/{id}"), json!({})),
    )
    .await;
    assert_eq!(v2, group);
    let path = format!("/admin/v1/groups/{id}");
    for (params, detail) in [
        (json!({"desc": "x", "status": "Active"}), "status"),
        (json!({"desc": "x", "name": ""}), "name"),
        (
            json!({"desc": "x", "push_enabled": "maybe"}),
            "push_enabled",
        ),
    ] {
        let reply = send(&emu, admin("POST", &path, params.clone())).await;
        assert_eq!(reply.body["message_detail"], detail, "{params}");
    }
    let dup = send(
        &emu,
        admin("POST", "/admin/v1/groups", json!({"name": "Contractors"})),
    )
    .await;
    assert_eq!(dup.body["message_detail"], "name already exists");
    let renamed = ok(&emu, admin("POST", &path, json!({"name": "Vendors"}))).await;
    assert_eq!(
        (renamed["name"].clone(), renamed["desc"].clone()),
        (json!("Vendors"), json!("outside staff"))
    );

    let (a, b) = (first_user_id(&emu, 0).await, first_user_id(&emu, 1).await);
    for user in [&a, &b, &a] {
        let joined = ok(
            &emu,
            admin(
                "POST",
                &format!("/admin/v1/users/{user}/groups"),
                json!({"group_id": id}),
            ),
        )
        .await;
        assert_eq!(joined, json!(""));
    }
    let members = send(
        &emu,
        admin(
            "GET",
            &format!("/admin/v2/groups/{id}/users"),
            json!({"limit": "1"}),
        ),
    )
    .await;
    assert_eq!(
        members.body["response"],
        json!([{"user_id": a, "username": members.body["response"][0]["username"]}])
    );
    assert_eq!(
        members.body["metadata"]["total_objects"], 2,
        "joining twice changes nothing"
    );
    let user = ok(
        &emu,
        admin("GET", &format!("/admin/v1/users/{a}"), json!({})),
    )
    .await;
    assert_eq!(user["groups"][0]["name"], "Vendors");
    let groups_of_b = ok(
        &emu,
        admin("GET", &format!("/admin/v1/users/{b}/groups"), json!({})),
    )
    .await;
    assert_eq!(groups_of_b[0]["group_id"], id.as_str());
    assert_eq!(
        ok(
            &emu,
            admin(
                "DELETE",
                &format!("/admin/v1/users/{b}/groups/{id}"),
                json!({})
            )
        )
        .await,
        json!("")
    );
    assert_eq!(
        ok(
            &emu,
            admin("GET", &format!("/admin/v1/users/{b}/groups"), json!({}))
        )
        .await,
        json!([])
    );
    let unknown = send(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{a}/groups"),
            json!({"group_id": "DGNOSUCHGROUP0000000"}),
        ),
    )
    .await;
    assert_eq!(unknown.body["code"], 40401);
    let missing = send(
        &emu,
        admin("POST", &format!("/admin/v1/users/{a}/groups"), json!({})),
    )
    .await;
    assert_eq!(missing.body["message_detail"], "group_id");

    assert_eq!(ok(&emu, admin("DELETE", &path, json!({}))).await, json!(""));
    let user = ok(
        &emu,
        admin("GET", &format!("/admin/v1/users/{a}"), json!({})),
    )
    .await;
    assert_eq!(user["groups"], json!([]));
    assert_eq!(
        send(
            &emu,
            admin("GET", &format!("/admin/v2/groups/{id}/users"), json!({}))
        )
        .await
        .status,
        404
    );
    let listed = send(&emu, admin("GET", "/admin/v1/groups", json!({}))).await;
    assert_eq!(listed.body["metadata"]["total_objects"], 0);
}

#[tokio::test]
async fn generated_bypass_codes_log_in_until_their_uses_run_out() {
    let emu = emulator("users=1,phones=1");
    let users = ok(&emu, admin("GET", "/admin/v1/users", json!({}))).await;
    let (id, name) = (
        users[0]["user_id"].as_str().unwrap(),
        users[0]["username"].as_str().unwrap(),
    );
    let codes = ok(
        &emu,
        admin(
            "POST",
            &format!("/admin/v1/users/{id}/bypass_codes"),
            json!({"codes": "13579246,24681357", "reuse_count": "2"}),
        ),
    )
    .await;
    assert_eq!(codes, json!(["13579246", "24681357"]));
    let login = |code: &str| {
        crate::support::auth(
            "POST",
            "/auth/v2/auth",
            json!({"username": name, "factor": "passcode", "passcode": code}),
        )
    };
    for expected in ["allow", "allow", "deny"] {
        let answer = ok(&emu, login("13579246")).await;
        assert_eq!(answer["result"], expected);
    }
    let left = ok(
        &emu,
        admin(
            "GET",
            &format!("/admin/v1/users/{id}/bypass_codes"),
            json!({}),
        ),
    )
    .await;
    assert_eq!(
        left.as_array().unwrap().len(),
        1,
        "the used-up code is gone"
    );
    assert_eq!(left[0]["reuse_count"], 2);
    assert_eq!(ok(&emu, login("99999999")).await["result"], "deny");
}
