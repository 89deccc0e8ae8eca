//! `duogate serve`: `--dev` (the README's first command) and the configured form.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use predicates::prelude::*;
use serde_json::{Value, json};

/// A `duogate serve`/`emulate` process and its JSON line; killed (SIGKILL) when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) line: Value,
}

impl Server {
    pub(crate) fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::start_with_stderr(args, envs, Stdio::null())
    }

    /// [`Server::start`] with stderr going to `stderr` (a file, to read later).
    pub(crate) fn start_with_stderr(
        args: &[&str],
        envs: &[(&str, &str)],
        stderr: impl Into<Stdio>,
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_duogate"));
        command.args(args).stdout(Stdio::piped()).stderr(stderr);
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let line =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("first line {line:?}: {e}"));
        Self { child, line }
    }

    /// One HTTP/1.1 exchange: (status, JSON body).
    pub(crate) fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let auth = token
            .map(|t| format!("X-Vault-Token: {t}\r\n"))
            .unwrap_or_default();
        self.exchange(method, path, &auth, body)
    }

    /// [`Server::request`] with HTTP Basic credentials.
    pub(crate) fn request_basic(
        &self,
        method: &str,
        path: &str,
        user: &str,
        password: &str,
    ) -> (u16, Value) {
        use base64::Engine as _;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.exchange(
            method,
            path,
            &format!("Authorization: Basic {credentials}\r\n"),
            None,
        )
    }

    /// Stops the process with SIGTERM (a clean exit) and returns how it ended.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        self.child.wait().unwrap()
    }

    fn exchange(&self, method: &str, path: &str, auth: &str, body: Option<Value>) -> (u16, Value) {
        // `serve` names its address in `listen`, `emulate` in `url`.
        let addr = self.line["listen"]
            .as_str()
            .or_else(|| self.line["url"].as_str()?.strip_prefix("http://"))
            .unwrap();
        http_exchange(addr, method, path, auth, body)
    }
}

/// One HTTP/1.1 exchange with `addr` (`host:port`): (status, JSON body). `auth` is a header
/// line with its CRLF, or empty.
pub(crate) fn http_exchange(
    addr: &str,
    method: &str,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(rest).unwrap_or(Value::Null))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_dev_runs_the_service_with_a_root_token_and_the_emulator_as_a_connection() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let server = Server::start(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
        ],
        &[],
    );
    let listen = server.line["listen"].as_str().unwrap().to_string();
    assert!(
        listen.starts_with("127.0.0.1:") && !listen.ends_with(":0"),
        "{listen}"
    );
    let token = server.line["root_token"].as_str().unwrap().to_string();
    assert!(server.line["emulator"]["admin_skey"].is_string());
    let (status, result) = server.request(
        "POST",
        "/v1/duogate/connections/emulator/actions/retrieve_users",
        Some(&token),
        Some(json!({"limit": 3})),
    );
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["json_body"].as_array().unwrap().len(), 3);
    assert_eq!(
        server.request("GET", "/v1/duogate/audit", None, None).0,
        401
    );

    // The seal key is private to its owner and survives restarts.
    let key_file = std::path::Path::new(data).join("seal.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let key = std::fs::read_to_string(&key_file).unwrap();
    drop(server);
    let again = Server::start(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key);
    let token = again.line["root_token"].as_str().unwrap();
    let (status, result) = again.request(
        "POST",
        "/v1/duogate/connections/emulator/actions/retrieve_users",
        Some(token),
        Some(json!({})),
    );
    assert_eq!(
        (status, result["status_code"].clone()),
        (200, json!(200)),
        "the connection still reaches the emulator"
    );
}

#[test]
fn serve_with_a_database_url_and_seal_key_answers_health() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let key = "11".repeat(32);
    let server = Server::start(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("DUOGATE_SEAL_KEY", key.as_str())],
    );
    let (status, health) = server.request("GET", "/v1/duogate/health", None, None);
    assert_eq!((status, health["database"].clone()), (200, json!("sqlite")));
}

#[test]
fn serve_without_database_or_seal_key_says_what_is_missing() {
    let emu = crate::TestEmulator::start("users=1");
    emu.duogate()
        .args(["serve"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--database-url").and(predicate::str::contains("--dev")));
    emu.duogate()
        .args(["serve", "--database-url", "sqlite::memory:"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("seal key"));
    emu.duogate()
        .args(["serve", "--database-url", "mysql://x/y"])
        .env("DUOGATE_SEAL_KEY", "22".repeat(32))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unsupported database URL"));
}

fn duogate_against(server: &Server, token: &str) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
    cmd.env_clear()
        .env(
            "DUOGATE_ADDR",
            format!("http://{}", server.line["listen"].as_str().unwrap()),
        )
        .env("DUOGATE_TOKEN", token);
    cmd
}

#[test]
fn token_and_tenant_commands_drive_a_running_service() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let root = server.line["root_token"].as_str().unwrap().to_string();
    duogate_against(&server, &root)
        .args(["tenant", "create", "eng"])
        .assert()
        .success();
    let listed = duogate_against(&server, &root)
        .args(["tenant", "list"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["tenants"].as_array().unwrap().len(), 2);
    let created = duogate_against(&server, &root)
        .args([
            "token", "create", "--role", "reader", "--tenant", "eng", "--ttl", "600",
        ])
        .output()
        .unwrap();
    assert!(created.status.success());
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let reader = created["token"].as_str().unwrap();
    duogate_against(&server, reader)
        .args(["tenant", "create", "ops"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("forbidden"));
    duogate_against(&server, &root)
        .args(["token", "revoke", created["accessor"].as_str().unwrap()])
        .assert()
        .success();
    duogate_against(&server, reader)
        .args(["tenant", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unauthenticated"));
    duogate_against(&server, &root)
        .args(["tenant", "delete", "eng"])
        .assert()
        .success();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .env_clear()
        .args([
            "tenant",
            "list",
            "--addr",
            "http://127.0.0.1:1",
            "--token",
            "x",
        ])
        .assert()
        .code(3);
}

#[test]
fn seal_rotate_reseals_so_only_the_new_key_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dev = Server::start(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let root = dev.line["root_token"].as_str().unwrap().to_string();
    drop(dev);
    let url = format!("sqlite://{}?mode=rwc", data.join("duogate.db").display());
    let new_key = dir.path().join("new.key");
    let rotated = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .env_clear()
        .args([
            "seal",
            "rotate",
            "--database-url",
            &url,
            "--old-seal-key-file",
        ])
        .arg(data.join("seal.key"))
        .arg("--seal-key-file")
        .arg(&new_key)
        .output()
        .unwrap();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&rotated.stdout).unwrap()["resealed"],
        1
    );
    // The service now runs on the new key alone, and the sealed skey still opens: reading the
    // connection works and no root token is minted (one exists).
    let server = Server::start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
            "--allow-plain-http-duo",
        ],
        &[("DUOGATE_SEAL_KEY_FILE", new_key.to_str().unwrap())],
    );
    assert!(server.line.get("root_token").is_none());
    let (status, connection) =
        server.request("GET", "/v1/duogate/connections/emulator", Some(&root), None);
    assert_eq!(status, 200, "{connection}");
    let (status, action) = server.request(
        "POST",
        "/v1/duogate/connections/emulator/actions/retrieve_users",
        Some(&root),
        Some(json!({})),
    );
    // The dev emulator is gone, so Duo is unreachable (502), but the skey was opened to try.
    assert_eq!(status, 502, "{action}");
}

#[test]
fn first_start_mints_a_root_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let key = "33".repeat(32);
    let first = Server::start(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("DUOGATE_SEAL_KEY", key.as_str())],
    );
    let token = first.line["root_token"]
        .as_str()
        .expect("first start shows a root token")
        .to_string();
    assert_eq!(
        first
            .request("GET", "/v1/duogate/tenants", Some(&token), None)
            .0,
        200
    );
    drop(first);
    let second = Server::start(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("DUOGATE_SEAL_KEY", key.as_str())],
    );
    assert!(second.line.get("root_token").is_none());
}

/// A fresh PostgreSQL database on the server `TEST_POSTGRES_URL` names, dropped on drop.
pub(crate) struct FreshPostgres {
    base: String,
    name: String,
    pub(crate) url: String,
}

impl FreshPostgres {
    /// A database named after this process and `purpose` (tests run in parallel).
    pub(crate) fn create(base: &str, purpose: &str) -> Self {
        let name = format!("duogate_cli_{purpose}_{}", std::process::id());
        let run = |sql: &str| {
            let status = Command::new("psql")
                .args([base, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
                .status()
                .expect("psql runs");
            assert!(status.success(), "psql {sql}");
        };
        run(&format!("DROP DATABASE IF EXISTS {name}"));
        run(&format!("CREATE DATABASE {name}"));
        let (prefix, _) = base.rsplit_once('/').expect("URL with a database");
        Self {
            base: base.to_string(),
            url: format!("{prefix}/{name}"),
            name,
        }
    }
}

impl Drop for FreshPostgres {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.base,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .status();
    }
}

#[test]
fn a_login_on_one_instance_validates_on_another_through_postgresql() {
    let Ok(base) = std::env::var("TEST_POSTGRES_URL") else {
        // scripts/test.sh always sets it (and fails under CI when there is no PostgreSQL).
        eprintln!("TEST_POSTGRES_URL is not set: skipped");
        return;
    };
    let db = FreshPostgres::create(&base, "login");
    let emulator = Server::start(&["emulate", "--listen", "127.0.0.1:0", "--print-keys"], &[]);
    let emulator_url = emulator.line["url"].as_str().unwrap().to_string();
    let (status, _) = emulator.request(
        "POST",
        "/_emulator/users",
        None,
        Some(json!({"username": "pat", "answer": "approve"})),
    );
    assert_eq!(status, 200);
    let key = "44".repeat(32);
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &db.url,
        "--allow-plain-http-duo",
    ];
    let one = Server::start(&args, &[("DUOGATE_SEAL_KEY", key.as_str())]);
    let root = one.line["root_token"].as_str().unwrap().to_string();
    let two = Server::start(&args, &[("DUOGATE_SEAL_KEY", key.as_str())]);
    let admin = |method, path: &str, body: Value| {
        let (status, answer) = one.request(method, path, Some(&root), Some(body));
        assert!(
            status == 200 || status == 201 || status == 204,
            "{path}: {status} {answer}"
        );
        answer
    };
    admin("POST", "/v1/sys/auth/app", json!({"type": "trusted"}));
    let method = admin(
        "POST",
        "/v1/identity/mfa/method/duo",
        json!({"method_name": "corp", "api_hostname": emulator_url,
               "integration_key": emulator.line["auth_ikey"], "secret_key": emulator.line["auth_skey"]}),
    )["data"]["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    admin(
        "POST",
        "/v1/identity/mfa/login-enforcement/all",
        json!({"mfa_method_ids": [method], "auth_method_types": ["trusted"]}),
    );
    let mfa = admin("POST", "/v1/duogate/tokens", json!({"role": "mfa"}))["token"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, login) = one.request(
        "POST",
        "/v1/auth/app/login",
        Some(&mfa),
        Some(json!({"username": "pat", "entity_name": "pat"})),
    );
    assert_eq!(status, 200, "{login}");
    let request_id = login["auth"]["mfa_requirement"]["mfa_request_id"].clone();
    let (status, done) = two.request(
        "POST",
        "/v1/sys/mfa/validate",
        None,
        Some(json!({"mfa_request_id": request_id, "mfa_payload": {"corp": []}})),
    );
    assert_eq!(status, 200, "validated on the other instance: {done}");
    let token = done["auth"]["client_token"].as_str().unwrap().to_string();
    let (status, me) = one.request("GET", "/v1/auth/token/lookup-self", Some(&token), None);
    assert_eq!(
        (status, me["data"]["display_name"].clone()),
        (200, json!("app-pat"))
    );
    // Consumed once, whichever instance is asked next.
    let (status, again) = one.request(
        "POST",
        "/v1/sys/mfa/validate",
        None,
        Some(json!({"mfa_request_id": request_id, "mfa_payload": {"corp": []}})),
    );
    assert_eq!(
        (status, again),
        (400, json!({"errors": ["invalid request ID"]}))
    );
    drop(one);
    drop(two);
}

#[test]
fn sigterm_and_sigint_stop_the_service_cleanly() {
    for signal in ["-TERM", "-INT"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("dev");
        let mut server = Server::start(
            &[
                "serve",
                "--dev",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(
            server.request("GET", "/v1/duogate/health", None, None).0,
            200
        );
        let pid = server.child.id().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let status = loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{signal}: still running"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(status.success(), "{signal}: {status:?}");
    }
}

#[test]
fn enforcement_settings_come_from_the_config_file_and_bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let key_file = dir.path().join("seal.key");
    std::fs::write(&key_file, "55".repeat(32)).unwrap();
    let config = dir.path().join("duogate.toml");
    let write = |enforcement: &str| {
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"{db}\"\nseal_key_file = \"{}\"\n\n[enforcement]\n{enforcement}\n",
                key_file.display()
            ),
        )
        .unwrap();
    };
    write("push_timeout_secs = 1");
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "enforcement.push_timeout_secs = 1 is out of range 5..=600",
        ));
    write("push_timeout_secs = 60\ncheck_deadline_secs = 30");
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "enforcement.check_deadline_secs = 30 is out of range 60..=3600",
        ));
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ndatabase_url = \"{db}\"\nseal_key_file = \"{}\"\nheader_read_timeout_secs = 0\n",
            key_file.display()
        ),
    )
    .unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "header_read_timeout_secs = 0 is out of range 1..=300",
        ));
    write("push_taimout_secs = 60");
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("push_taimout_secs"));
    write(
        "duo_timeout_secs = 5\npush_timeout_secs = 30\ncheck_deadline_secs = 45\nattempts_per_user = 3\nattempts_per_source = 50\nstatus_refresh_secs = 0",
    );
    let server = Server::start(&["serve", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(
        server.request("GET", "/v1/duogate/health", None, None).0,
        200
    );
}

#[test]
fn health_exits_zero_for_a_healthy_service_and_three_when_nothing_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    // No token is needed: probes have none.
    let output = duogate_against(&server, "")
        .env_remove("DUOGATE_TOKEN")
        .arg("health")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(body["status"], "ok");
    // A port where nothing listens: a transport error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
    cmd.env_clear()
        .args(["health", "--addr", &addr])
        .assert()
        .code(3);
}

#[test]
fn a_bad_trusted_proxy_cidr_exits_2_naming_the_key_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("db.sqlite");
    let key_file = dir.path().join("seal.key");
    std::fs::write(&key_file, "55".repeat(32)).unwrap();
    let config = dir.path().join("duogate.toml");
    let write = |extra: &str| {
        std::fs::write(
            &config,
            format!(
                "listen = \"127.0.0.1:0\"\ndatabase_url = \"sqlite://{}?mode=rwc\"\nseal_key_file = \"{}\"\n{extra}\n",
                db_file.display(),
                key_file.display()
            ),
        )
        .unwrap();
    };
    write("trusted_proxies = [\"10.0.0.0/8\", \"192.0.2.0/33\"]");
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("trusted_proxies[1]"))
        .stderr(predicate::str::contains("192.0.2.0/33"));
    assert!(!db_file.exists(), "nothing was created");
    write("trusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"x-real-ip\"");
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("forwarded_header"));
    write("trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nforwarded_header = \"forwarded\"");
    let server = Server::start(&["serve", "--config", config.to_str().unwrap()], &[]);
    assert_eq!(
        server.request("GET", "/v1/duogate/health", None, None).0,
        200
    );
}

#[test]
fn a_clean_shutdown_leaves_every_write_in_the_sqlite_file_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let key = "22".repeat(32);
    let server = Server::start(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("DUOGATE_SEAL_KEY", key.as_str())],
    );
    let root = server.line["root_token"].as_str().unwrap().to_string();
    let (status, body) = server.request(
        "POST",
        "/v1/identity/mfa/method/duo",
        Some(&root),
        Some(json!({"method_name": "kept", "api_hostname": "api-deadbeef.duosecurity.com", "integration_key": "DIXXXXXXXXXXXXXXXXXX", "secret_key": "s".repeat(40)})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success());
    let wal = dir.path().join("db.sqlite-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL still holds {} bytes",
        std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0)
    );
    // The database file alone, copied elsewhere, has the method.
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.sqlite");
    std::fs::copy(&db, &copy).unwrap();
    let keyring = duogate_store::Keyring::new(
        duogate_store::SealKey::parse(&secrecy::SecretString::from(key)).unwrap(),
    );
    let names: Vec<String> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = duogate_store::Store::connect(&format!("sqlite://{}", copy.display()), keyring)
            .await
            .unwrap();
        let methods = store
            .list_integrations_of_kind(duogate_store::integrations::IntegrationKind::VaultMethod)
            .await
            .unwrap();
        store.close().await;
        methods.into_iter().map(|m| m.name).collect()
    });
    assert_eq!(names, ["kept"]);
}
