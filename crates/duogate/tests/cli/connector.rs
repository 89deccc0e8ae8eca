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
