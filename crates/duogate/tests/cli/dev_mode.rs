//! `duogate serve --dev` behaves like `vault server -dev`: fresh every start unless
//! `--data-dir`, which keeps everything (the emulator's keys, port and data included); the port
//! is bound before any state is touched; `--dev-root-token-id` replaces the previous dev root
//! token; `--config` is honoured.

use std::path::Path;

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::serve::{Server, http_exchange};

fn dev_server(data_dir: Option<&Path>, extra: &[&str]) -> Server {
    let mut args = vec!["serve", "--dev", "--listen", "127.0.0.1:0"];
    if let Some(dir) = data_dir {
        args.extend(["--data-dir", dir.to_str().unwrap()]);
    }
    args.extend(extra);
    Server::start(&args, &[])
}

fn root_token(server: &Server) -> String {
    server.line["root_token"].as_str().unwrap().to_string()
}

/// The emulator's `host:port` from the JSON line.
fn emulator_addr(server: &Server) -> String {
    server.line["emulator"]["url"]
        .as_str()
        .unwrap()
        .strip_prefix("http://")
        .unwrap()
        .to_string()
}

/// Creates the Vault Duo method `corp` against the dev server's own emulator.
fn create_corp_method(server: &Server) {
    let emulator = &server.line["emulator"];
    let (status, created) = server.request(
        "POST",
        "/v1/identity/mfa/method/duo",
        Some(&root_token(server)),
        Some(
            json!({"method_name": "corp", "api_hostname": emulator["url"],
                    "integration_key": emulator["auth_ikey"], "secret_key": emulator["auth_skey"]}),
        ),
    );
    assert_eq!(status, 200, "{created}");
}

fn check(server: &Server, token: &str, body: Value) -> (u16, Value) {
    server.request("POST", "/v1/duogate/check", Some(token), Some(body))
}

/// Every file of a folder with its bytes, but the lock and SQLite's `-shm` (the WAL index, which
/// the running server's reads update; it holds no data).
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name != "lock" && !name.ends_with("-shm")
        })
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_second_dev_server_on_a_busy_port_exits_2_and_leaves_the_first_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = dev_server(Some(&data), &[]);
    let token = root_token(&first);
    let password = first.line["admin_password"].as_str().unwrap().to_string();
    let before = snapshot(&data);

    // The same port: refused before anything is touched.
    let listen = first.line["listen"].as_str().unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--dev", "--listen", listen, "--data-dir"])
        .arg(&data)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains(format!(
            "cannot listen on {listen}"
        )));
    // Another port, the same folder: refused too (the folder is locked).
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicate::str::contains("in use by another"));
    let after = snapshot(&data);
    let changed: Vec<_> = after
        .iter()
        .filter(|file| !before.contains(file))
        .map(|(name, _)| name)
        .collect();
    assert!(
        changed.is_empty() && after.len() == before.len(),
        "no file of the data folder changed (no token, password or connection written): {changed:?}"
    );

    let (status, _) = first.request_basic(
        "GET",
        "/api/security/authentication/duo/profiles",
        "admin",
        &password,
    );
    assert_eq!(status, 200, "the first server's admin password still works");
    assert_eq!(
        first
            .request("GET", "/v1/duogate/tenants", Some(&token), None)
            .0,
        200
    );
    let (status, result) = first.request(
        "POST",
        "/v1/duogate/connections/emulator/actions/retrieve_users",
        Some(&token),
        Some(json!({"limit": 1})),
    );
    assert_eq!(
        (status, result["status_code"].clone()),
        (200, json!(200)),
        "the emulator connection still reaches the first server's emulator: {result}"
    );
}

#[test]
fn a_method_made_against_the_emulator_still_allows_after_a_restart_with_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = dev_server(Some(&data), &[]);
    create_corp_method(&first);
    // A change through the emulator's control API: kept across a clean restart.
    let (status, user) = http_exchange(
        &emulator_addr(&first),
        "POST",
        "/_emulator/users",
        "",
        Some(json!({"username": "pat", "answer": "deny", "passcodes": ["424242"]})),
    );
    assert_eq!(status, 200, "{user}");
    let emulator_url = first.line["emulator"]["url"].clone();
    assert!(first.terminate().success());

    let second = dev_server(Some(&data), &[]);
    assert_eq!(
        second.line["emulator"]["url"], emulator_url,
        "the emulator listens on its old port again"
    );
    let token = root_token(&second);
    let (status, decision) = check(
        &second,
        &token,
        json!({"method": "corp", "username": "asmith0001"}),
    );
    assert_eq!(
        (status, decision["result"].clone()),
        (200, json!("allow")),
        "a seeded user approves the push: {decision}"
    );
    let (status, decision) = check(
        &second,
        &token,
        json!({"method": "corp", "username": "pat", "passcode": "424242"}),
    );
    assert_eq!(
        (status, decision["result"].clone()),
        (200, json!("allow")),
        "the user added through the control API kept its passcode: {decision}"
    );
    let (status, decision) = check(
        &second,
        &token,
        json!({"method": "corp", "username": "pat"}),
    );
    assert_eq!(
        (status, decision["result"].clone()),
        (200, json!("deny")),
        "and its scripted answer: {decision}"
    );
}

#[test]
fn restarting_with_dev_root_token_id_leaves_exactly_one_dev_root_token() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = dev_server(Some(&data), &[]);
    let generated = root_token(&first);
    let (status, created) = first.request(
        "POST",
        "/v1/duogate/tokens",
        Some(&generated),
        Some(json!({"role": "admin"})),
    );
    assert_eq!(status, 201, "{created}");
    let api_token = created["token"].as_str().unwrap().to_string();
    assert!(first.terminate().success());

    for start in ["second", "third"] {
        let server = dev_server(Some(&data), &["--dev-root-token-id", "dev-root"]);
        assert_eq!(server.line["root_token"], "dev-root", "{start} start");
        let status_with = |token: &str| {
            server
                .request("GET", "/v1/duogate/tenants", Some(token), None)
                .0
        };
        assert_eq!(status_with("dev-root"), 200, "{start}: the chosen id works");
        assert_eq!(
            status_with(&generated),
            401,
            "{start}: the earlier generated root token was replaced"
        );
        assert_eq!(
            status_with(&api_token),
            200,
            "{start}: tokens made through the API are kept"
        );
        assert!(server.terminate().success());
    }
    // Back to a generated one: the chosen id is replaced in turn.
    let last = dev_server(Some(&data), &[]);
    assert_eq!(
        last.request("GET", "/v1/duogate/tenants", Some("dev-root"), None)
            .0,
        401
    );

    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--dev", "--dev-root-token-id", "has space"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--dev-root-token-id"));
}

#[test]
fn plain_dev_starts_share_nothing_and_remove_their_folder_on_exit() {
    let first = dev_server(None, &[]);
    let folder = std::path::PathBuf::from(first.line["data_dir"].as_str().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&folder).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the temporary folder is private");
    }
    create_corp_method(&first);
    let (status, _) = check(
        &first,
        &root_token(&first),
        json!({"method": "corp", "username": "asmith0001"}),
    );
    assert_eq!(status, 200);
    assert!(first.terminate().success());
    assert!(
        !folder.exists(),
        "{} is removed on a clean exit",
        folder.display()
    );

    let second = dev_server(None, &[]);
    assert_ne!(
        second.line["data_dir"].as_str().unwrap(),
        folder.to_str().unwrap()
    );
    let (status, answer) = check(
        &second,
        &root_token(&second),
        json!({"method": "corp", "username": "asmith0001"}),
    );
    assert_eq!(
        status, 404,
        "the first start's method is not there: {answer}"
    );
}

#[test]
fn dev_mode_honours_config_and_refuses_what_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("duogate.toml");
    let dev_with_config = || {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
        cmd.env_remove("DUOGATE_DATABASE_URL")
            .env_remove("DUOGATE_SEAL_KEY")
            .env_remove("DUOGATE_SEAL_KEY_FILE")
            .args(["serve", "--dev", "--config"])
            .arg(&config);
        cmd
    };
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n[enforcement]\nattempts_per_user = 0\n",
    )
    .unwrap();
    dev_with_config()
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "enforcement.attempts_per_user = 0 is out of range",
        ));
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://x.db\"\n",
    )
    .unwrap();
    dev_with_config()
        .assert()
        .code(2)
        .stderr(predicate::str::contains("database_url"));

    // `listen` and `[enforcement]` from the file are used: one attempt per user and minute.
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\n[enforcement]\nattempts_per_user = 1\n",
    )
    .unwrap();
    let server = Server::start(
        &["serve", "--dev", "--config", config.to_str().unwrap()],
        &[],
    );
    assert!(
        !server.line["listen"].as_str().unwrap().ends_with(":8200"),
        "listen comes from the file"
    );
    create_corp_method(&server);
    let token = root_token(&server);
    let body = json!({"method": "corp", "username": "asmith0001"});
    assert_eq!(check(&server, &token, body.clone()).1["result"], "allow");
    let (_, limited) = check(&server, &token, body);
    assert_eq!(
        (limited["result"].clone(), limited["reason"].clone()),
        (json!("deny"), json!("rate_limited")),
        "the second attempt within the minute is over the configured limit: {limited}"
    );
}

#[test]
fn when_the_emulators_old_port_is_taken_its_methods_are_re_pointed_to_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = dev_server(Some(&data), &[]);
    create_corp_method(&first);
    let old_addr = emulator_addr(&first);
    assert!(first.terminate().success());

    let _squatter = std::net::TcpListener::bind(&old_addr).unwrap();
    let second = dev_server(Some(&data), &[]);
    assert_ne!(emulator_addr(&second), old_addr, "a new port was taken");
    let token = root_token(&second);
    let (status, decision) = check(
        &second,
        &token,
        json!({"method": "corp", "username": "asmith0001"}),
    );
    assert_eq!(
        (status, decision["result"].clone()),
        (200, json!("allow")),
        "the method follows the emulator to its new port: {decision}"
    );
    let (status, result) = second.request(
        "POST",
        "/v1/duogate/connections/emulator/actions/retrieve_users",
        Some(&token),
        Some(json!({"limit": 1})),
    );
    assert_eq!((status, result["status_code"].clone()), (200, json!(200)));
}

#[test]
fn stderr_shows_ready_to_paste_exports_and_curl_with_the_real_values() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr");
    let server = Server::start_with_stderr(
        &["serve", "--dev", "--listen", "127.0.0.1:0"],
        &[],
        std::fs::File::create(&log).unwrap(),
    );
    let (listen, token) = (
        server.line["listen"].as_str().unwrap().to_string(),
        root_token(&server),
    );
    // The banner is written before the service serves; a request that is answered proves it
    // is complete.
    assert_eq!(
        server.request("GET", "/v1/duogate/health", None, None).0,
        200
    );
    let text = std::fs::read_to_string(&log).unwrap();
    for line in [
        format!("export VAULT_ADDR=http://{listen} VAULT_TOKEN={token}"),
        format!("export DUOGATE_ADDR=http://{listen} DUOGATE_TOKEN={token}"),
        format!("curl -s -H 'X-Vault-Token: {token}'"),
        format!("http://{listen}/v1/duogate/connections/emulator/actions/retrieve_users"),
    ] {
        assert!(text.contains(&line), "stderr lacks {line:?}:\n{text}");
    }
    let (_, log_part) = text
        .split_once("==> duogate dev server started; log data will stream in below:")
        .expect("the banner ends with the started line");
    assert!(
        !log_part.contains(&token),
        "the log after the banner shows no token"
    );
}

#[test]
fn a_kept_database_whose_seal_key_is_missing_is_refused_and_no_new_key_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    drop(dev_server(Some(&data), &[]));
    std::fs::remove_file(data.join("seal.key")).unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("seal key").and(predicate::str::contains("missing")));
    assert!(!data.join("seal.key").exists(), "no new key was generated");
}
