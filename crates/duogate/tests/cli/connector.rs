//! The connector commands against the emulator: listing, paging, reading and writing.

use std::collections::HashSet;

use serde_json::json;

use crate::TestEmulator;
use crate::emulator::stdout_json;

#[test]
fn users_list_all_streams_ten_thousand_users_as_json_and_csv() {
    let emu = TestEmulator::start("users=10000");
    let output = emu.json(&["users", "list", "--all", "--output", "json"]);
    let users = output;
    let users = users.as_array().expect("an array");
    assert_eq!(users.len(), 10_000);
    let ids: HashSet<&str> = users
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 10_000, "every user exactly once");
    // 300 per page (the users endpoint's maximum): 34 pages.
    let pages = emu
        .request_log()
        .iter()
        .filter(|r| r["path"] == "/admin/v1/users")
        .count();
    assert_eq!(pages, 34);

    let csv = emu
        .duogate()
        .args([
            "users",
            "list",
            "--all",
            "--output",
            "csv",
            "--page-size",
            "1000",
        ])
        .output()
        .unwrap();
    assert!(csv.status.success());
    let text = String::from_utf8(csv.stdout).unwrap();
    assert_eq!(text.lines().count(), 10_001, "header plus one row per user");
    assert!(text.starts_with("user_id,username,realname"));
}

#[test]
fn one_page_listing_says_how_to_get_more() {
    let emu = TestEmulator::start("users=12");
    let output = emu
        .duogate()
        .args([
            "users", "list", "--limit", "5", "--offset", "5", "-o", "json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(stdout_json(&output).as_array().unwrap().len(), 5);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("of 12 users"), "{stderr}");
    assert!(stderr.contains("--offset 10"), "{stderr}");
}

#[test]
fn table_output_has_headers_and_one_row_per_user() {
    let emu = TestEmulator::start("users=3");
    let output = emu
        .duogate()
        .args(["users", "list", "-o", "table"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("USER_ID"));
    assert!(lines[1].starts_with("DU"));
}

fn first_id(emu: &TestEmulator, command: &str, field: &str) -> String {
    let output = emu.json(&[command, "list", "-o", "json"]);
    output[0][field].as_str().unwrap().to_string()
}

#[test]
fn users_update_changes_the_user_and_get_shows_it() {
    let emu = TestEmulator::start("users=3");
    let id = first_id(&emu, "users", "user_id");
    let output = emu.json(&[
        "users",
        "update",
        &id,
        "--realname",
        "Jörg Müller",
        "--status",
        "disabled",
        "-o",
        "json",
    ]);
    assert_eq!(output["realname"], "Jörg Müller");
    let got = emu
        .duogate()
        .args(["users", "get", &id, "-o", "json"])
        .output()
        .unwrap();
    let user = stdout_json(&got);
    assert_eq!(user["realname"], "Jörg Müller");
    assert_eq!(user["status"], "disabled");
}

#[test]
fn users_update_with_nothing_to_change_is_a_usage_error() {
    let emu = TestEmulator::start("users=1");
    let before = emu.requests_logged();
    emu.duogate()
        .args(["users", "update", "DU0000000000000000000"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("nothing to update"));
    assert_eq!(emu.requests_logged(), before);
}

#[test]
fn phones_associate_then_list_by_user_shows_the_phone() {
    let emu = TestEmulator::start("users=2,phones=3");
    let user = first_id(&emu, "users", "user_id");
    let (status, phone) = emu.control("POST", "/_emulator/phones", Some(&json!({})));
    assert!(status < 300, "{phone}");
    let phone_id = phone["phone_id"].as_str().expect("phone_id").to_string();
    emu.duogate()
        .args(["phones", "associate", &user, &phone_id])
        .assert()
        .success();
    let output = emu
        .duogate()
        .args(["phones", "list", "--user", &user, "-o", "json"])
        .output()
        .unwrap();
    let phones = stdout_json(&output);
    assert!(
        phones
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["phone_id"] == phone_id.as_str()),
        "{phones}"
    );
}

#[test]
fn admins_modify_warns_about_password_and_never_sends_it() {
    let emu = TestEmulator::start("admins=2");
    let admin = first_id(&emu, "admins", "admin_id");
    let output = emu
        .duogate()
        .args([
            "admins",
            "modify",
            &admin,
            "--name",
            "Jo Smith",
            "--password",
            "s3cr3t-pw",
            "--password-change-required",
            "true",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let admin = stdout_json(&output);
    assert_eq!(admin["name"], "Jo Smith");
    assert_eq!(admin["password_change_required"], true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("deprecated"), "{stderr}");
    assert!(!stderr.contains("s3cr3t-pw"));
    assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cr3t-pw"));
}

#[test]
fn bypass_codes_list_never_shows_codes() {
    let emu = TestEmulator::start("users=5,bypass_codes=7");
    let output = emu
        .duogate()
        .args(["bypass-codes", "list", "--all", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let codes = stdout_json(&output);
    let codes = codes.as_array().unwrap();
    assert_eq!(codes.len(), 7);
    for code in codes {
        assert!(
            code.get("code").is_none() && code.get("codes").is_none(),
            "{code}"
        );
        assert!(code["bypass_code_id"].as_str().unwrap().starts_with("DB"));
    }
}

#[test]
fn rate_limit_storm_is_ridden_out_with_backoff() {
    let emu = TestEmulator::start("users=300");
    let (status, _) = emu.control(
        "POST",
        "/_emulator/faults",
        Some(&json!({"kind": "rate_limit", "every": 2, "paths": ["/admin/v1/users"]})),
    );
    assert!(status < 300);
    let output = emu.json(&["users", "list", "--all", "--page-size", "100", "-o", "json"]);
    assert_eq!(output.as_array().unwrap().len(), 300);
    let limited = emu
        .request_log()
        .iter()
        .filter(|r| r["status"] == 429)
        .count();
    assert!(limited >= 2, "the storm must have hit: {limited} 429s");
}

#[test]
fn v2_signatures_work_too() {
    let emu = TestEmulator::start("users=2");
    emu.json(&["users", "list", "--sig-version", "2", "-o", "json"]);
    let log = emu.request_log();
    assert_eq!(log.last().unwrap()["sig_version"], json!(2));
}

#[test]
fn users_get_finds_by_id_username_or_alias() {
    let emu = TestEmulator::start("users=3");
    let users = emu.json(&["users", "list", "-o", "json"]);
    let (id, name) = (
        users[1]["user_id"].as_str().unwrap(),
        users[1]["username"].as_str().unwrap(),
    );
    emu.json(&["users", "update", id, "--alias1", "jo-alias", "-o", "json"]);
    for key in [id, name, "jo-alias"] {
        let user = emu.json(&["users", "get", key, "-o", "json"]);
        assert_eq!(user["user_id"], id, "{key}");
    }
    emu.duogate()
        .args(["users", "get", "nobody-here"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("40401"))
        .stderr(predicates::str::contains("nobody-here"));
}

#[test]
fn users_list_filters_by_username_and_email() {
    let emu = TestEmulator::start("users=5");
    let users = emu.json(&["users", "list", "-o", "json"]);
    let by_name = emu.json(&[
        "users",
        "list",
        "--username",
        users[3]["username"].as_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(by_name.as_array().unwrap().len(), 1);
    assert_eq!(by_name[0]["user_id"], users[3]["user_id"]);
    let by_email = emu.json(&[
        "users",
        "list",
        "--email",
        users[2]["email"].as_str().unwrap(),
        "--all",
        "-o",
        "json",
    ]);
    assert_eq!(by_email[0]["user_id"], users[2]["user_id"]);
    let none = emu.json(&["users", "list", "--username", "ghost", "-o", "json"]);
    assert_eq!(none, json!([]));
}

#[test]
fn users_create_alias_and_delete_round_trip() {
    let emu = TestEmulator::start("users=1");
    let created = emu.json(&[
        "users",
        "create",
        "nadia",
        "--realname",
        "Nadia P",
        "--email",
        "n@example.com",
        "-o",
        "json",
    ]);
    let id = created["user_id"].as_str().unwrap().to_string();
    assert_eq!(created["realname"], "Nadia P");
    let aliased = emu.json(&["users", "add-alias", "nadia", "np", "-o", "json"]);
    assert_eq!(aliased["aliases"], json!({"alias1": "np"}));
    let second = emu.json(&["users", "add-alias", &id, "nadia.p", "-o", "json"]);
    assert_eq!(
        second["aliases"],
        json!({"alias1": "np", "alias2": "nadia.p"})
    );
    let removed = emu.json(&["users", "remove-alias", "np", "np", "-o", "json"]);
    assert_eq!(removed["aliases"], json!({"alias2": "nadia.p"}));
    let before = emu.requests_logged();
    emu.duogate()
        .args(["users", "remove-alias", &id, "never"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no alias"));
    assert_eq!(
        emu.request_log()[before..]
            .iter()
            .filter(|r| r["method"] == "POST")
            .count(),
        0,
        "nothing was changed"
    );
    let deleted = emu.json(&["users", "delete", "nadia.p", "-o", "json"]);
    assert_eq!(
        deleted,
        json!({"deleted": true, "user_id": id, "username": "nadia"})
    );
    emu.duogate().args(["users", "get", &id]).assert().code(1);
    emu.duogate()
        .args(["users", "create", "x", "--status", "asleep"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("status"));
}

#[test]
fn users_enroll_creates_the_user_and_duo_sends_the_email() {
    let emu = TestEmulator::start("users=1");
    let answer = emu.json(&[
        "users",
        "enroll",
        "newbie",
        "--email",
        "newbie@example.com",
        "--valid-secs",
        "600",
        "-o",
        "json",
    ]);
    assert_eq!(
        answer,
        json!({"enrolled": true, "username": "newbie", "email": "newbie@example.com"})
    );
    let (_, emails) = emu.control("GET", "/_emulator/emails", None);
    assert_eq!(emails[0]["email"], "newbie@example.com");
    assert_eq!(emails[0]["username"], "newbie");
    let before = emu.requests_logged();
    emu.duogate()
        .args(["users", "enroll", "other", "--email", "no-at-sign"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("email"));
    assert_eq!(emu.requests_logged(), before, "refused before sending");
    emu.duogate()
        .args(["users", "enroll", "newbie", "--email", "n@example.com"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("username already exists"));
}

#[test]
fn generated_bypass_codes_go_to_stdout_once_and_never_to_logs() {
    let emu = TestEmulator::start("users=2");
    let user = first_id(&emu, "users", "user_id");
    let output = emu
        .duogate()
        .args([
            "-vv",
            "bypass-codes",
            "generate",
            &user,
            "--count",
            "4",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let generated = stdout_json(&output);
    let codes: Vec<String> = generated["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 4);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("duo call"), "-vv logs the calls: {stderr}");
    for code in &codes {
        assert!(
            !stderr.contains(code.as_str()),
            "a code reached stderr: {stderr}"
        );
    }
    let listed = emu.json(&["bypass-codes", "list", "--user", &user, "-o", "json"]);
    assert_eq!(listed.as_array().unwrap().len(), 4);
    for code in &codes {
        assert!(!listed.to_string().contains(code.as_str()));
    }
    let table = emu
        .duogate()
        .args([
            "bypass-codes",
            "generate",
            &user,
            "--codes",
            "12345678,87654321",
            "--preserve-existing",
            "-o",
            "table",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&table.stdout),
        "12345678\n87654321\n"
    );
    let id = listed[0]["bypass_code_id"].as_str().unwrap();
    let deleted = emu.json(&["bypass-codes", "delete", id, "-o", "json"]);
    assert_eq!(deleted, json!({"deleted": true, "bypass_code_id": id}));
    let left = emu.json(&["bypass-codes", "list", "--user", &user, "-o", "json"]);
    assert_eq!(
        left.as_array().unwrap().len(),
        5,
        "4 + 2 preserved - 1 deleted"
    );
    emu.duogate()
        .args(["bypass-codes", "generate", &user, "--count", "11"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("count"));
}

#[test]
fn fields_choose_what_every_output_format_shows() {
    let emu = TestEmulator::start("users=3,bypass_codes=2");
    let csv = emu
        .duogate()
        .args(["users", "list", "--fields", "username,user_id", "-o", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(csv.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("username,user_id"));
    assert!(lines.next().unwrap().contains(",DU"));
    let json = emu.json(&[
        "users",
        "list",
        "--fields",
        "username,email",
        "--all",
        "-o",
        "json",
    ]);
    let keys: Vec<&String> = json[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["email", "username"]);
    let table = emu
        .duogate()
        .args([
            "bypass-codes",
            "list",
            "--fields",
            "bypass_code_id,user.username",
            "-o",
            "table",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.starts_with("BYPASS_CODE_ID"), "{text}");
    assert!(text.lines().next().unwrap().contains("USER.USERNAME"));
    assert_eq!(text.lines().count(), 3);
    let id = json[0]["username"].as_str().unwrap();
    let one = emu.json(&[
        "users",
        "get",
        id,
        "--fields",
        "username,phones",
        "-o",
        "json",
    ]);
    assert_eq!(one.as_object().unwrap().len(), 2);
    emu.duogate()
        .args(["users", "list", "--fields", "username,,email"])
        .assert()
        .code(2);
}

#[test]
fn phones_are_created_modified_dissociated_and_deleted() {
    let emu = TestEmulator::start("users=1,phones=1");
    let user = first_id(&emu, "users", "user_id");
    let created = emu.json(&[
        "phones",
        "create",
        "--number",
        "+15557654321",
        "--type",
        "mobile",
        "--platform",
        "apple ios",
        "--name",
        "work",
        "-o",
        "json",
    ]);
    let phone = created["phone_id"].as_str().unwrap().to_string();
    assert_eq!(created["platform"], "Apple iOS");
    let modified = emu.json(&[
        "phones", "modify", &phone, "--name", "personal", "-o", "json",
    ]);
    assert_eq!(modified["name"], "personal");
    emu.duogate()
        .args(["phones", "associate", &user, &phone])
        .assert()
        .success();
    let link = emu.json(&[
        "phones",
        "activation-url",
        &phone,
        "--install",
        "--valid-secs",
        "600",
        "-o",
        "json",
    ]);
    assert_eq!(link["valid_secs"], 600);
    assert!(link["installation_url"].is_string());
    let gone = emu.json(&["phones", "dissociate", &user, &phone, "-o", "json"]);
    assert_eq!(gone["dissociated"], true);
    let listed = emu.json(&["phones", "list", "--user", &user, "-o", "json"]);
    assert!(!listed.to_string().contains(&phone));
    let deleted = emu.json(&["phones", "delete", &phone, "-o", "json"]);
    assert_eq!(deleted, json!({"deleted": true, "phone_id": phone}));
    let before = emu.requests_logged();
    emu.duogate()
        .args(["phones", "modify", &phone])
        .assert()
        .code(2);
    emu.duogate()
        .args(["phones", "create", "--type", "pager"])
        .assert()
        .code(2);
    assert_eq!(emu.requests_logged(), before);
    emu.duogate()
        .args(["phones", "create", "--platform", "nokia"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("(platform)"));
}

#[test]
fn an_activation_sms_is_sent_to_a_mobile_and_bad_messages_are_refused_before_sending() {
    let emu = TestEmulator::start("users=1");
    let created = emu.json(&[
        "phones",
        "create",
        "--number",
        "+15557654321",
        "--type",
        "mobile",
        "--platform",
        "google android",
        "-o",
        "json",
    ]);
    let phone = created["phone_id"].as_str().unwrap().to_string();
    let sent = emu.json(&[
        "phones",
        "send-sms-activation",
        &phone,
        "--install",
        "--valid-secs",
        "600",
        "--activation-msg",
        "Activate: <acturl>",
        "-o",
        "json",
    ]);
    assert_eq!(sent["valid_secs"], 600);
    assert!(
        sent["activation_msg"]
            .as_str()
            .unwrap()
            .starts_with("Activate: ")
    );
    assert!(sent["installation_msg"].is_string());
    let (_, recorded) = emu.control("GET", "/_emulator/sms", None);
    assert_eq!(recorded[0]["phone_id"], phone.as_str());
    assert_eq!(recorded[0]["messages"].as_array().unwrap().len(), 2);

    let before = emu.requests_logged();
    emu.duogate()
        .args([
            "phones",
            "send-sms-activation",
            &phone,
            "--activation-msg",
            "no link here",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("activation_msg"));
    emu.duogate()
        .args(["phones", "send-sms-activation", ""])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("phone_id"));
    assert_eq!(emu.requests_logged(), before);

    let landline = emu.json(&[
        "phones",
        "create",
        "--number",
        "+15550000000",
        "--type",
        "landline",
        "-o",
        "json",
    ]);
    emu.duogate()
        .args([
            "phones",
            "send-sms-activation",
            landline["phone_id"].as_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("(type)"));
    let (_, recorded) = emu.control("GET", "/_emulator/sms", None);
    assert_eq!(recorded.as_array().unwrap().len(), 1);
}

#[test]
fn groups_are_created_joined_listed_and_deleted() {
    let emu = TestEmulator::start("users=2");
    let user = first_id(&emu, "users", "user_id");
    let group = emu.json(&[
        "groups",
        "create",
        "Contractors",
        "--status",
        "bypass",
        "-o",
        "json",
    ]);
    let id = group["group_id"].as_str().unwrap().to_string();
    assert_eq!(group["status"], "Bypass");
    let renamed = emu.json(&["groups", "modify", &id, "--desc", "outside", "-o", "json"]);
    assert_eq!(renamed["desc"], "outside");
    emu.json(&["groups", "add-user", &user, &id, "-o", "json"]);
    let members = emu.json(&["groups", "members", &id, "-o", "json"]);
    assert_eq!(members[0]["user_id"], user.as_str());
    let shown = emu.json(&["users", "get", &user, "-o", "json"]);
    assert_eq!(shown["groups"][0]["name"], "Contractors");
    let csv = emu
        .duogate()
        .args(["groups", "list", "-o", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("group_id,name,status"), "{text}");
    assert!(text.contains("Contractors"));
    emu.json(&["groups", "remove-user", &user, &id, "-o", "json"]);
    assert_eq!(
        emu.json(&["groups", "members", &id, "-o", "json"]),
        json!([])
    );
    assert_eq!(
        emu.json(&["groups", "delete", &id, "-o", "json"]),
        json!({"deleted": true, "group_id": id})
    );
    emu.duogate()
        .args(["groups", "modify", &id])
        .assert()
        .code(2);
    emu.duogate()
        .args(["groups", "create", "x", "--status", "Active"])
        .assert()
        .code(2);
}

#[test]
fn request_approval_pushes_and_waits_for_the_users_answer() {
    let emu = TestEmulator::start("users=1");
    for (name, answer) in [("approver", "approve"), ("denier", "deny")] {
        let (status, body) = emu.control(
            "POST",
            "/_emulator/users",
            Some(&json!({"username": name, "answer": answer, "phones": 1})),
        );
        assert!(status < 300, "{body}");
    }
    let auth = |user: &str| {
        emu.duogate()
            .env("DUO_IKEY", emu.keys["auth_ikey"].as_str().unwrap())
            .env("DUO_SKEY", emu.keys["auth_skey"].as_str().unwrap())
            .args([
                "request-approval",
                user,
                "--pushinfo",
                "ticket=INC-42",
                "-o",
                "json",
            ])
            .output()
            .unwrap()
    };
    let allowed = auth("approver");
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let answer = stdout_json(&allowed);
    assert_eq!(
        (answer["result"].clone(), answer["status"].clone()),
        (json!("allow"), json!("allow"))
    );
    let (_, transactions) = emu.control("GET", "/_emulator/transactions", None);
    let tx = transactions
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["txid"] == answer["txid"])
        .expect("the push was recorded");
    assert_eq!(tx["async"], true);
    assert_eq!(tx["pushinfo"], "ticket=INC-42");
    let denied = auth("denier");
    assert_eq!(denied.status.code(), Some(1));
    assert_eq!(stdout_json(&denied)["result"], "deny");
    assert!(String::from_utf8_lossy(&denied.stderr).contains("not approved"));
    let unknown = auth("nobody");
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("40002"));
}
