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
