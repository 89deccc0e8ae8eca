//! `duogate serve --dev`, the README's first command: for now the seeded emulator alone.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::emulator::stdout_json;

#[test]
fn serve_dev_prints_one_json_line_and_serves_the_seeded_emulator() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let started: serde_json::Value = serde_json::from_str(&line).expect("first line is JSON");
    let listen = started["listen"].as_str().unwrap();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "{listen}"
    );
    let emulator = &started["emulator"];
    assert_eq!(emulator["url"], format!("http://{listen}"));
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .env_clear()
        .env("DUO_API_HOST", emulator["url"].as_str().unwrap())
        .env("DUO_IKEY", emulator["admin_ikey"].as_str().unwrap())
        .env("DUO_SKEY", emulator["admin_skey"].as_str().unwrap())
        .args(["users", "list", "--all", "-o", "json"])
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout_json(&output).as_array().unwrap().len(), 50);
}
