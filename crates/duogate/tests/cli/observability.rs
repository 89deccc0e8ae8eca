//! Logs and runtime settings through the binary: `serve --dev --log-format json` writes one
//! JSON access line per request (the Vault dialect's logical route, status, latency, the request
//! id the response carried, the caller's accessor; never a token, query string or secret),
//! every stderr line after the banner parses as JSON, a log file gets no ANSI codes, and
//! shutdown is logged. `--workers` and the operational `--config` keys are parsed; values out
//! of range exit 2 naming the key; `metrics_token` guards `/metrics`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use predicates::prelude::*;
use serde_json::{Value, json};

use crate::serve::Server;

/// The last line of `serve --dev`'s banner; the log follows it.
const STARTED: &str = "==> duogate dev server started; log data will stream in below:";

/// One HTTP/1.1 exchange: (status, response head, body text). `headers` are full lines with
/// their CRLF.
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<Value>,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), rest.to_string())
}

/// A response header's value.
fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name)
            .then(|| value.trim().to_string())
    })
}

/// The access line (`"message": "response"`) whose request id is `id`.
fn access_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["message"] == "response" && line["span"]["request_id"] == id)
        .unwrap_or_else(|| panic!("no access line with request id {id}: {lines:#?}"))
}

#[test]
fn a_vault_request_logs_one_json_access_line_with_its_logical_route_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_with_stderr(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &[("RUST_LOG", "info")],
        log_file,
    );
    let addr = server.line["listen"].as_str().unwrap().to_string();
    let root = server.line["root_token"].as_str().unwrap().to_string();
    let emulator = server.line["emulator"].clone();
    let auth = format!("X-Vault-Token: {root}\r\n");
    let (status, _, created) = exchange(
        &addr,
        "POST",
        "/v1/identity/mfa/method/duo",
        &auth,
        Some(
            json!({"method_name": "corp", "api_hostname": emulator["url"],
                    "integration_key": emulator["auth_ikey"], "secret_key": emulator["auth_skey"]}),
        ),
    );
    assert_eq!(status, 200, "{created}");
    let created: Value = serde_json::from_str(&created).unwrap();
    let method_id = created["data"]["method_id"].as_str().unwrap().to_string();

    let read_path = format!("/v1/identity/mfa/method/duo/{method_id}?hush=quiet-query-value");
    let (status, head, _) = exchange(&addr, "GET", &read_path, &auth, None);
    assert_eq!(status, 200);
    let read_id = header(&head, "x-request-id").expect("x-request-id on success");
    let (status, head, _) = exchange(
        &addr,
        "GET",
        &read_path,
        "X-Vault-Token: dg.not-a-live-token\r\n",
        None,
    );
    assert_eq!(status, 403);
    let refused_id = header(&head, "x-request-id").expect("x-request-id on an error");
    assert_ne!(read_id, refused_id);

    let (status, head, _) = exchange(&addr, "GET", "/v1/duogate/tenants", &auth, None);
    assert_eq!(status, 200);
    let native_id = header(&head, "x-request-id").unwrap();

    assert!(server.terminate().success());
    let bytes = std::fs::read(&log_path).unwrap();
    assert!(!bytes.contains(&0x1b), "ANSI escape codes in a log file");
    let text = String::from_utf8(bytes).unwrap();
    let (_, log) = text
        .split_once(STARTED)
        .unwrap_or_else(|| panic!("no banner end in\n{text}"));
    let lines: Vec<Value> = log
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();

    let read = access_line(&lines, &read_id);
    assert_eq!(read["level"], "INFO", "{read}");
    assert_eq!(read["status"], 200, "{read}");
    assert!(read["latency_ms"].as_f64().is_some(), "{read}");
    let span = &read["span"];
    assert_eq!(span["route"], "identity/mfa/method/duo/{id}", "{read}");
    assert_eq!(span["dialect"], "vault", "{read}");
    assert_eq!(span["method"], "GET", "{read}");
    let caller = span["caller"]
        .as_str()
        .unwrap_or_else(|| panic!("no caller: {read}"));
    assert!(
        caller.starts_with("token:") && caller.len() > "token:".len(),
        "{read}"
    );
    assert!(span["tenant"].as_str().is_some(), "{read}");

    let refused = access_line(&lines, &refused_id);
    assert_eq!(refused["status"], 403, "{refused}");
    assert_eq!(refused["span"]["route"], "identity/mfa/method/duo/{id}");
    assert!(refused["span"]["caller"].is_null(), "{refused}");

    let native = access_line(&lines, &native_id);
    assert_eq!(native["span"]["route"], "/v1/duogate/tenants", "{native}");
    assert_eq!(native["span"]["dialect"], "native", "{native}");

    for (what, needle) in [
        ("the root token", root.as_str()),
        ("a presented token", "dg.not-a-live-token"),
        ("a query string", "quiet-query-value"),
        ("the query's key", "hush="),
        ("the method id from the path", method_id.as_str()),
        (
            "the Duo secret key",
            emulator["auth_skey"].as_str().unwrap(),
        ),
    ] {
        assert!(!log.contains(needle), "{what} reached the log:\n{log}");
    }
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|line| line["message"].as_str())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("shutting down")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&"duogate dev server stopped"),
        "{messages:?}"
    );
}

#[test]
fn workers_and_operational_config_keys_are_parsed_and_out_of_range_values_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("duogate.toml");
    let serve_dev = |extra: &[&str]| {
        let mut command = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
        command
            .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .args(extra);
        command
    };
    for (toml, named) in [
        ("workers = 0", "workers = 0 is out of range 1..=1024"),
        (
            "shutdown_timeout_secs = 9999",
            "shutdown_timeout_secs = 9999 is out of range",
        ),
        ("max_connections = 0", "max_connections = 0 is out of range"),
        (
            "[database]\nmax_connections = 0",
            "database.max_connections = 0 is out of range",
        ),
        (
            "[database]\nstatement_timeout_ms = 0",
            "database.statement_timeout_ms = 0 is out of range",
        ),
        ("metrics_token = \"has space\"", "metrics_token must be"),
        ("log_format = \"xml\"", "log_format"),
    ] {
        std::fs::write(&config, toml).unwrap();
        serve_dev(&[])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(named));
    }
    std::fs::write(&config, "").unwrap();
    serve_dev(&["--workers", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--workers"));
    serve_dev(&["--shutdown-timeout", "3601"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--shutdown-timeout"));

    std::fs::write(
        &config,
        "workers = 3\nshutdown_timeout_secs = 2\nmax_connections = 8\nmetrics_token = \"m3trics\"\n\
         log_format = \"json\"\n\n[database]\nmax_connections = 2\nstatement_timeout_ms = 5000\n",
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    let server = Server::start(
        &[
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config_arg,
            "--workers",
            "1",
        ],
        &[],
    );
    let addr = server.line["listen"].as_str().unwrap().to_string();
    assert_eq!(
        exchange(&addr, "GET", "/v1/duogate/health", "", None).0,
        200
    );
    assert_eq!(exchange(&addr, "GET", "/metrics", "", None).0, 401);
    let (status, _, text) = exchange(
        &addr,
        "GET",
        "/metrics",
        "Authorization: Bearer m3trics\r\n",
        None,
    );
    assert_eq!(status, 200);
    assert!(text.contains("duogate_http_requests_total{"), "{text}");
    assert!(server.terminate().success());
}

#[test]
fn serve_with_json_logs_writes_only_json_lines_from_start_to_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let key_file = dir.path().join("seal.key");
    std::fs::write(&key_file, "66".repeat(32)).unwrap();
    let log_path = dir.path().join("stderr.log");
    let server = Server::start_with_stderr(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db,
            "--seal-key-file",
            key_file.to_str().unwrap(),
            "--log-format",
            "json",
            "--shutdown-timeout",
            "1",
        ],
        &[("RUST_LOG", "info")],
        std::fs::File::create(&log_path).unwrap(),
    );
    let root = server.line["root_token"].as_str().unwrap().to_string();
    let addr = server.line["listen"].as_str().unwrap().to_string();
    let (status, _, _) = exchange(&addr, "GET", "/v1/sys/health", "", None);
    assert_eq!(status, 200);
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&log_path).unwrap();
    assert!(!text.contains(&root), "the root token reached the log");
    let messages: Vec<String> = text
        .lines()
        .map(|line| {
            let line: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}\n{text}"));
            line["message"].as_str().unwrap().to_string()
        })
        .collect();
    for expected in [
        "duogate starting",
        "duogate ready",
        "response",
        "duogate stopped",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected}: {messages:?}"
        );
    }
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("no admin token existed")),
        "{messages:?}"
    );
}
