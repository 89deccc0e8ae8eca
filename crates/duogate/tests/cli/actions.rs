//! `duogate action`: every Swimlane-shaped action, and its bad-input handling.

use serde_json::{Value, json};

use crate::TestEmulator;
use crate::emulator::stdout_json;

fn run(emu: &TestEmulator, name: &str, input: Value) -> Value {
    let output = emu
        .duogate()
        .args(["action", name, "--input", &input.to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let result = stdout_json(&output);
    assert_eq!(result["status_code"], 200, "{name}: {result}");
    assert_eq!(result["reason"], "OK");
    result["json_body"].clone()
}

#[test]
fn all_nine_actions_run_against_the_emulator() {
    let emu = TestEmulator::start("users=4,phones=4,admins=2,bypass_codes=3");
    let users = run(&emu, "retrieve_users", json!({"limit": 2, "offset": 1}));
    assert_eq!(users.as_array().unwrap().len(), 2);
    let user_id = users[0]["user_id"].as_str().unwrap().to_string();

    let user = run(
        &emu,
        "retrieve_user_by_user_id",
        json!({"user id": user_id}),
    );
    assert_eq!(user["user_id"], user_id.as_str());

    let phones = run(&emu, "retrieve_phones", json!({}));
    let phone_id = phones[3]["phone_id"].as_str().unwrap().to_string();
    assert_eq!(
        run(
            &emu,
            "associate_phone_with_user",
            json!({"user_id": user_id, "phone_id": phone_id})
        ),
        json!("")
    );
    let user_phones = run(
        &emu,
        "retrieve_phones_by_user_id",
        json!({"user_id": user_id}),
    );
    assert!(
        user_phones
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["phone_id"] == phone_id.as_str())
    );

    let updated = run(
        &emu,
        "update_user",
        json!({"user_id": user_id, "email": "new@example.com", "aliases": {"alias1": "jdoe"}}),
    );
    assert_eq!(updated["email"], "new@example.com");
    assert_eq!(updated["alias1"], "jdoe");

    let admins = run(&emu, "retrieve_administrators", json!({"limit": "1"}));
    assert_eq!(admins.as_array().unwrap().len(), 1);
    let admin_id = admins[0]["admin_id"].as_str().unwrap().to_string();
    let admin = run(
        &emu,
        "modify_administrator",
        json!({"admin_id": admin_id, "status": "Disabled", "password_change_required": "false"}),
    );
    assert_eq!(admin["status"], "Disabled");

    let codes = run(&emu, "retrieve_bypass_codes", json!({}));
    assert_eq!(codes.as_array().unwrap().len(), 3);
}

#[test]
fn duo_errors_keep_the_fail_envelope_and_exit_1() {
    let emu = TestEmulator::start("users=1");
    let output = emu
        .duogate()
        .args([
            "action",
            "retrieve_user_by_user_id",
            "--input",
            r#"{"user_id":"DUNOSUCHUSER00000000"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let result = stdout_json(&output);
    assert_eq!(result["status_code"], 404);
    assert_eq!(result["json_body"]["stat"], "FAIL");
    assert_eq!(result["json_body"]["code"], 40401);
    assert!(String::from_utf8_lossy(&output.stderr).contains("40401"));
}

#[test]
fn bad_inputs_name_the_field_and_send_nothing() {
    let emu = TestEmulator::start("users=1");
    let before = emu.requests_logged();
    for (name, input, needle) in [
        (
            "associate_phone_with_user",
            r#"{"user_id":"DU1"}"#,
            "phone_id",
        ),
        ("retrieve_users", r#"{"limit":"ten"}"#, "limit"),
        ("retrieve_users", r#"{"offset":-3}"#, "offset"),
        ("retrieve_user_by_user_id", r#"{"user_id":42}"#, "user_id"),
        (
            "update_user",
            r#"{"user_id":"DU1","status":true}"#,
            "status",
        ),
        (
            "modify_administrator",
            r#"{"admin_id":"DE1","password_change_required":"maybe"}"#,
            "password_change_required",
        ),
        ("retrieve_users", r#"{"limt":5}"#, "limt"),
        ("retrieve_users", r#"[1,2]"#, "JSON object"),
        ("retrieve_users", r#"{"limit": 5"#, "not valid JSON"),
        ("no_such_action", r#"{}"#, "unknown action"),
    ] {
        emu.duogate()
            .args(["action", name, "--input", input])
            .assert()
            .code(2)
            .stderr(predicates::str::contains(needle));
    }
    assert_eq!(emu.requests_logged(), before, "nothing may reach Duo");
}

#[test]
fn input_comes_from_a_file_or_stdin() {
    let emu = TestEmulator::start("users=3");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.json");
    std::fs::write(&file, r#"{"limit": 1}"#).unwrap();
    let output = emu
        .duogate()
        .args([
            "action",
            "retrieve_users",
            "--input",
            &format!("@{}", file.display()),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        stdout_json(&output)["json_body"].as_array().unwrap().len(),
        1
    );

    let output = emu
        .duogate()
        .args(["action", "retrieve_users", "--input", "-"])
        .write_stdin(r#"{"limit": 2}"#)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        stdout_json(&output)["json_body"].as_array().unwrap().len(),
        2
    );

    emu.duogate()
        .args([
            "action",
            "retrieve_users",
            "--input",
            "@/nonexistent/input.json",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("cannot read --input file"));
}

#[test]
fn user_and_bypass_code_actions_run_against_the_emulator() {
    let emu = TestEmulator::start("users=2");
    let created = run(
        &emu,
        "create_user",
        json!({"username": "soar-user", "realname": "Soar User", "status": "disabled"}),
    );
    let user_id = created["user_id"].as_str().unwrap().to_string();
    assert_eq!(created["status"], "disabled");
    let found = run(
        &emu,
        "retrieve_user_by_username",
        json!({"username": "soar-user"}),
    );
    assert_eq!(found[0]["user_id"], user_id.as_str());
    assert_eq!(
        run(
            &emu,
            "retrieve_user_by_username",
            json!({"username": "nobody"})
        ),
        json!([])
    );
    let codes = run(
        &emu,
        "generate_bypass_codes",
        json!({"user_id": user_id, "count": 2, "reuse_count": "3"}),
    );
    assert_eq!(codes.as_array().unwrap().len(), 2);
    let listed = run(
        &emu,
        "retrieve_bypass_codes_by_user_id",
        json!({"user id": user_id}),
    );
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["reuse_count"], 3);
    let code_id = listed[0]["bypass_code_id"].as_str().unwrap();
    assert_eq!(
        run(
            &emu,
            "delete_bypass_code",
            json!({"bypass_code_id": code_id})
        ),
        json!("")
    );
    assert_eq!(
        run(
            &emu,
            "enroll_user",
            json!({"username": "enrollee", "email": "e@example.com", "valid_secs": 0})
        ),
        json!("")
    );
    assert_eq!(
        run(&emu, "delete_user", json!({"user_id": user_id})),
        json!("")
    );
    let output = emu
        .duogate()
        .args([
            "action",
            "delete_user",
            "--input",
            &json!({"user_id": user_id}).to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout_json(&output)["json_body"]["code"], 40401);
}

#[test]
fn duo_refusals_show_the_message_detail() {
    let emu = TestEmulator::start("users=1");
    let users = run(&emu, "retrieve_users", json!({}));
    let taken = users[0]["username"].as_str().unwrap();
    emu.duogate()
        .args([
            "action",
            "create_user",
            "--input",
            &json!({"username": taken}).to_string(),
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "40002 Invalid request parameters (username already exists)",
        ));
}

#[test]
fn new_actions_refuse_bad_inputs_naming_the_field_before_sending() {
    let emu = TestEmulator::start("users=1");
    let before = emu.requests_logged();
    for (name, input, needle) in [
        ("create_user", r#"{"realname":"x"}"#, "username"),
        ("create_user", r#"{"username":"x","status":"on"}"#, "status"),
        ("enroll_user", r#"{"username":"x","email":"x"}"#, "email"),
        (
            "enroll_user",
            r#"{"username":"x","email":"x@y","valid_secs":"soon"}"#,
            "valid_secs",
        ),
        ("delete_user", r#"{}"#, "user_id"),
        ("retrieve_user_by_username", r#"{"username":7}"#, "username"),
        (
            "generate_bypass_codes",
            r#"{"user_id":"DU1","count":20}"#,
            "count",
        ),
        (
            "generate_bypass_codes",
            r#"{"user_id":"DU1","count":1,"codes":"1"}"#,
            "codes",
        ),
        (
            "generate_bypass_codes",
            r#"{"user_id":"DU1","preserve_existing":"kinda"}"#,
            "preserve_existing",
        ),
        (
            "retrieve_bypass_codes_by_user_id",
            r#"{"user_id":"DU1","limit":-1}"#,
            "limit",
        ),
        (
            "delete_bypass_code",
            r#"{"bypass_code_id":""}"#,
            "bypass_code_id",
        ),
    ] {
        emu.duogate()
            .args(["action", name, "--input", input])
            .assert()
            .code(2)
            .stderr(predicates::str::contains(needle));
    }
    assert_eq!(emu.requests_logged(), before, "nothing may reach Duo");
}

#[test]
fn action_help_shows_one_actions_inputs_or_the_catalogue() {
    let emu = TestEmulator::start("users=1");
    let one = emu
        .duogate()
        .args(["action", "generate_bypass_codes", "--help"])
        .output()
        .unwrap();
    assert!(one.status.success());
    let text = String::from_utf8_lossy(&one.stdout);
    for needle in [
        "user_id*",
        "count",
        "integer 1 to 10",
        "preserve_existing",
        "POST /admin/v1/users/{user_id}/bypass_codes",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let all = emu.duogate().args(["action", "--help"]).output().unwrap();
    assert!(all.status.success());
    let text = String::from_utf8_lossy(&all.stdout);
    for action in duo_client::actions::ACTIONS {
        assert!(text.contains(action.name), "{}: {text}", action.name);
    }
    emu.duogate()
        .args(["action", "no_such_action", "--help"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown action"));
}

#[test]
fn the_readme_lists_exactly_the_catalogue() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- actions:begin -->\n", "<!-- actions:end -->");
    let start = readme
        .find(begin)
        .expect("README has the actions:begin marker")
        + begin.len();
    let stop = readme.find(end).expect("README has the actions:end marker");
    let rendered = duo_client::actions::catalogue_markdown();
    assert_eq!(
        &readme[start..stop],
        rendered,
        "the README's action table is stale; paste this between the markers:\n{rendered}"
    );
}

#[test]
fn log_actions_return_duos_log_answers() {
    let emu = TestEmulator::start("users=1");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (status, _) = emu.control(
        "POST",
        "/_emulator/logs/authentication",
        Some(&json!({"username": "alice", "timestamp_ms": now - 600_000})),
    );
    assert_eq!(status, 201);
    let page = run(
        &emu,
        "retrieve_authentication_logs",
        json!({"mintime": now - 3_600_000, "maxtime": now, "limit": 10, "sort": "ts:asc"}),
    );
    assert_eq!(page["authlogs"][0]["user"]["name"], "alice");
    assert_eq!(page["metadata"]["total_objects"], 1);
    let admin = run(
        &emu,
        "retrieve_administrator_logs",
        json!({"mintime": now / 1000 - 600}),
    );
    assert!(admin.is_array());
    emu.duogate()
        .args([
            "action",
            "retrieve_authentication_logs",
            "--input",
            &json!({"mintime": now, "maxtime": now - 1}).to_string(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("maxtime"));
}

#[test]
fn telephony_and_activity_log_actions_return_duos_item_pages() {
    let emu = TestEmulator::start("users=1");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    for name in ["retrieve_telephony_logs", "retrieve_activity_logs"] {
        let page = run(
            &emu,
            name,
            json!({"mintime": now - 3_600_000, "maxtime": now, "limit": 10, "sort": "ts:asc"}),
        );
        assert!(page["items"].is_array(), "{name}: {page}");
        assert_eq!(
            page["metadata"]["total_objects"]["relation"], "eq",
            "{name}"
        );
        let next = run(
            &emu,
            name,
            json!({"mintime": now - 3_600_000, "maxtime": now, "next_offset": format!("{now},x")}),
        );
        assert!(next["items"].is_array(), "{name}: {next}");
        let before = emu.requests_logged();
        emu.duogate()
            .args([
                "action",
                name,
                "--input",
                &json!({"mintime": now, "maxtime": now, "limit": 1001}).to_string(),
            ])
            .assert()
            .code(2)
            .stderr(predicates::str::contains("limit"));
        assert_eq!(emu.requests_logged(), before, "nothing may reach Duo");
    }
}

#[test]
fn send_sms_activation_action_texts_a_mobile_and_refuses_a_bad_message_before_sending() {
    let emu = TestEmulator::start("users=1");
    let phone = run(
        &emu,
        "create_phone",
        json!({"number": "5551230000", "type": "mobile", "platform": "apple ios"}),
    );
    let phone_id = phone["phone_id"].as_str().unwrap();
    let sent = run(
        &emu,
        "send_sms_activation",
        json!({"phone_id": phone_id, "valid_secs": 120, "install": 1}),
    );
    assert_eq!(sent["valid_secs"], 120);
    assert!(
        sent["activation_msg"]
            .as_str()
            .unwrap()
            .contains("/activate/")
    );
    assert!(sent["installation_msg"].is_string());
    let before = emu.requests_logged();
    emu.duogate()
        .args([
            "action",
            "send_sms_activation",
            "--input",
            &json!({"phone_id": phone_id, "installation_msg": "no link"}).to_string(),
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("installation_msg"));
    assert_eq!(emu.requests_logged(), before, "nothing may reach Duo");
}

#[test]
fn phone_actions_run_against_the_emulator() {
    let emu = TestEmulator::start("users=1");
    let users = run(&emu, "retrieve_users", json!({}));
    let user_id = users[0]["user_id"].as_str().unwrap();
    let phone = run(
        &emu,
        "create_phone",
        json!({"number": "5551230000", "type": "mobile", "platform": "google android"}),
    );
    let phone_id = phone["phone_id"].as_str().unwrap();
    assert_eq!(phone["number"], "+15551230000");
    let changed = run(
        &emu,
        "modify_phone",
        json!({"phone_id": phone_id, "postdelay": 3}),
    );
    assert_eq!(changed["postdelay"], "3");
    run(
        &emu,
        "associate_phone_with_user",
        json!({"user_id": user_id, "phone_id": phone_id}),
    );
    let link = run(
        &emu,
        "create_activation_url",
        json!({"phone_id": phone_id, "install": 0}),
    );
    assert!(link.get("installation_url").is_none());
    assert_eq!(
        run(
            &emu,
            "dissociate_phone_from_user",
            json!({"user_id": user_id, "phone_id": phone_id})
        ),
        json!("")
    );
    assert_eq!(
        run(&emu, "delete_phone", json!({"phone_id": phone_id})),
        json!("")
    );
}

#[test]
fn group_actions_run_against_the_emulator() {
    let emu = TestEmulator::start("users=1");
    let users = run(&emu, "retrieve_users", json!({}));
    let user_id = users[0]["user_id"].as_str().unwrap();
    let group = run(
        &emu,
        "create_group",
        json!({"name": "SOAR", "status": "active"}),
    );
    let group_id = group["group_id"].as_str().unwrap();
    assert_eq!(
        run(
            &emu,
            "modify_group",
            json!({"group_id": group_id, "desc": "playbooks"})
        )["desc"],
        "playbooks"
    );
    assert_eq!(
        run(&emu, "retrieve_groups", json!({"limit": 5}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    run(
        &emu,
        "add_user_to_group",
        json!({"user_id": user_id, "group_id": group_id}),
    );
    let members = run(&emu, "retrieve_group_users", json!({"group_id": group_id}));
    assert_eq!(members[0]["user_id"], user_id);
    run(
        &emu,
        "remove_user_from_group",
        json!({"user_id": user_id, "group_id": group_id}),
    );
    assert_eq!(
        run(&emu, "delete_group", json!({"group_id": group_id})),
        json!("")
    );
    emu.duogate()
        .args([
            "action",
            "create_group",
            "--input",
            r#"{"name":"x","status":"on"}"#,
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("status"));
}
