//! `duogate logs`: JSON lines, windows that respect Duo's two-minute hold-back, and a follow
//! that survives SIGKILL through its checkpoint file, printing every entry exactly once.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::TestEmulator;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Records an authentication entry `ago_ms` in the past; returns its txid.
fn inject(emu: &TestEmulator, username: &str, ago_ms: i64, result: &str) -> String {
    let (status, entry) = emu.control(
        "POST",
        "/_emulator/logs/authentication",
        Some(&json!({"username": username, "timestamp_ms": now_ms() - ago_ms, "result": result})),
    );
    assert_eq!(status, 201, "{entry}");
    entry["txid"].as_str().unwrap().to_string()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn logs_auth_prints_settled_entries_of_the_window_as_json_lines() {
    let emu = TestEmulator::start("users=2");
    let old = inject(&emu, "alice", 3 * 3_600_000, "success");
    let a = inject(&emu, "alice", 20 * 60_000, "success");
    let b = inject(&emu, "bob", 10 * 60_000, "denied");
    let _held_back = inject(&emu, "carol", 30_000, "success");
    let output = emu
        .duogate()
        .args(["logs", "auth", "--since", "1h", "--poll-interval-ms", "1"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got = lines(&String::from_utf8(output.stdout).unwrap());
    let txids: Vec<&str> = got.iter().map(|e| e["txid"].as_str().unwrap()).collect();
    assert_eq!(
        txids,
        [a.as_str(), b.as_str()],
        "oldest first; not {old}, not the last two minutes"
    );
    let denied = emu
        .duogate()
        .args([
            "logs",
            "auth",
            "--since",
            "1h",
            "--result",
            "denied",
            "--poll-interval-ms",
            "1",
        ])
        .output()
        .unwrap();
    let got = lines(&String::from_utf8(denied.stdout).unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["user"]["name"], "bob");
    let chosen = emu
        .duogate()
        .args([
            "logs",
            "auth",
            "--since",
            "1h",
            "--fields",
            "txid,user.name",
            "--poll-interval-ms",
            "1",
        ])
        .output()
        .unwrap();
    let got = lines(&String::from_utf8(chosen.stdout).unwrap());
    assert_eq!(got[1], json!({"txid": b, "user.name": "bob"}));
}

#[test]
fn logs_admin_prints_entries_from_mintime_in_seconds() {
    let emu = TestEmulator::start("users=1");
    let at = now_ms() - 600_000;
    for (i, action) in ["user_create", "user_update", "user_delete"]
        .iter()
        .enumerate()
    {
        let (status, _) = emu.control(
            "POST",
            "/_emulator/logs/administrator",
            Some(&json!({"action": action, "object": "jo", "timestamp_ms": at + i as i64 * 1000})),
        );
        assert_eq!(status, 201);
    }
    let output = emu
        .duogate()
        .args([
            "logs",
            "admin",
            "--mintime",
            &((at + 1000) / 1000).to_string(),
            "--poll-interval-ms",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got = lines(&String::from_utf8(output.stdout).unwrap());
    let actions: Vec<&str> = got.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["user_update", "user_delete"]);
}

#[test]
fn logs_refuse_bad_options_before_sending() {
    let emu = TestEmulator::start("users=1");
    let before = emu.requests_logged();
    for (args, needle) in [
        (vec!["logs", "auth", "--since", "2 weeks"], "--since"),
        (
            vec!["logs", "admin", "--result", "denied"],
            "authentication log only",
        ),
        (vec!["logs", "auth", "--follow", "--until", "1h"], "--until"),
        (
            vec!["logs", "auth", "--hold-back-ms", "1000"],
            "Duo's hold-back",
        ),
    ] {
        emu.duogate()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(needle));
    }
    assert_eq!(emu.requests_logged(), before);
}

/// `duogate logs auth --follow --checkpoint FILE` with stdout going to `out`.
fn follow(emu: &TestEmulator, checkpoint: &std::path::Path, out: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_duogate"))
        .env_clear()
        .env("HOME", checkpoint.parent().unwrap())
        .env("DUO_API_HOST", &emu.url)
        .env("DUO_IKEY", emu.keys["admin_ikey"].as_str().unwrap())
        .env("DUO_SKEY", emu.admin_skey())
        .args([
            "logs",
            "auth",
            "--follow",
            "--since",
            "1h",
            "--poll-interval-ms",
            "100",
            // Emulator and test share this machine's clock: no margin for skew is needed.
            "--hold-back-ms",
            "120000",
        ])
        .arg("--checkpoint")
        .arg(checkpoint)
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for_lines(path: &std::path::Path, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let complete: String = text
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .collect();
        let got = lines(&complete);
        if got.len() >= count || Instant::now() > deadline {
            assert_eq!(got.len(), count, "{text}");
            return got;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_follow_resumes_from_its_checkpoint_and_prints_every_entry_exactly_once() {
    let emu = TestEmulator::start("users=1");
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("auth.checkpoint");
    let (first_out, second_out) = (
        dir.path().join("first.jsonl"),
        dir.path().join("second.jsonl"),
    );
    let mut expected = Vec::new();
    for minutes in [9, 8, 7] {
        expected.push(inject(&emu, "alice", minutes * 60_000, "success"));
    }
    let mut first = follow(&emu, &checkpoint, &first_out);
    wait_for_lines(&first_out, 3);
    // Entries that arrive now, timestamped just inside the hold-back: Duo shows them a
    // second later, and the follow must pick them up without a gap.
    for _ in 0..2 {
        expected.push(inject(&emu, "bob", 119_500, "denied"));
    }
    wait_for_lines(&first_out, 5);
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    for _ in 0..2 {
        expected.push(inject(&emu, "carol", 119_500, "fraud"));
    }
    let mut second = follow(&emu, &checkpoint, &second_out);
    wait_for_lines(&second_out, 2);
    // Nothing more arrives: give the follow a few polls to (not) repeat anything.
    std::thread::sleep(Duration::from_millis(600));
    second.kill().unwrap();
    second.wait().unwrap();

    let mut seen: HashMap<String, usize> = HashMap::new();
    for path in [&first_out, &second_out] {
        for entry in lines(&std::fs::read_to_string(path).unwrap()) {
            *seen
                .entry(entry["txid"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(seen.len(), expected.len(), "{seen:?}");
    for txid in &expected {
        assert_eq!(seen.get(txid), Some(&1), "{txid} in {seen:?}");
    }
    let polls = emu
        .request_log()
        .iter()
        .filter(|r| r["path"] == "/admin/v2/logs/authentication")
        .count();
    assert!(polls >= 3, "followed with several polls: {polls}");
}
