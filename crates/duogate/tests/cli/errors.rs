//! Exit codes, help, and keeping the secret key secret.

use predicates::prelude::*;

use crate::TestEmulator;

#[test]
fn unreachable_duo_is_a_transport_error() {
    let emu = TestEmulator::start("users=1");
    emu.duogate()
        .env("DUO_API_HOST", "http://127.0.0.1:1")
        .args(["users", "list", "--timeout", "5"])
        .assert()
        .code(3);
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let emu = TestEmulator::start("users=1");
    emu.duogate()
        .env("DUO_API_HOST", "http://api-xxxxxxxx.duosecurity.com")
        .args(["users", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("plain http"));
}

#[test]
fn missing_connection_settings_say_what_to_set() {
    let emu = TestEmulator::start("users=1");
    emu.duogate()
        .env_remove("DUO_SKEY")
        .args(["users", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("DUO_SKEY"));
}

#[test]
fn wrong_skey_is_duos_40103_and_the_skey_is_never_printed() {
    let emu = TestEmulator::start("users=1");
    let wrong = "WRONGwrongWRONGwrongWRONGwrongWRONGwrong";
    let output = emu
        .duogate()
        .env("DUO_SKEY", wrong)
        .args(["-vv", "users", "list"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("40103"), "{stderr}");
    assert!(!stderr.contains(wrong) && !String::from_utf8_lossy(&output.stdout).contains(wrong));

    let right = emu.admin_skey();
    let output = emu
        .duogate()
        .args(["-vv", "users", "list", "-o", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(!String::from_utf8_lossy(&output.stderr).contains(&right));
    assert!(!String::from_utf8_lossy(&output.stdout).contains(&right));
}

#[test]
fn skey_file_and_config_profiles_work() {
    let emu = TestEmulator::start("users=2");
    let dir = tempfile::tempdir().unwrap();
    let skey_file = dir.path().join("skey");
    std::fs::write(&skey_file, format!("{}\n", emu.admin_skey())).unwrap();
    emu.duogate()
        .env_remove("DUO_SKEY")
        .env("DUO_SKEY_FILE", &skey_file)
        .args(["users", "list", "-o", "json"])
        .assert()
        .success();

    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[profiles.emu]\napi_host = {:?}\nikey = {:?}\nskey_file = {:?}\n",
            emu.url,
            emu.keys["admin_ikey"].as_str().unwrap(),
            skey_file
        ),
    )
    .unwrap();
    emu.duogate()
        .env_remove("DUO_SKEY")
        .env_remove("DUO_IKEY")
        .env_remove("DUO_API_HOST")
        .args(["users", "list", "-o", "json", "--config"])
        .arg(&config)
        .args(["--profile", "emu"])
        .assert()
        .success();
    emu.duogate()
        .args(["users", "list", "--config"])
        .arg(&config)
        .args(["--profile", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no profile \"nope\""));
}

#[test]
fn help_lists_actions_and_completions_are_generated() {
    let emu = TestEmulator::start("users=1");
    emu.duogate()
        .args(["action", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("associate_phone_with_user")
                .and(predicate::str::contains("update_user")),
        );
    emu.duogate()
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("duogate"));
    emu.duogate()
        .args(["users", "list", "--limit", "x"])
        .assert()
        .code(2);
}
