//! A `duogate emulate` child process for one test, and a tiny HTTP client for its control API.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running emulator; killed on drop.
pub struct TestEmulator {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// The `--print-keys` line.
    pub keys: Value,
    home: tempfile::TempDir,
}

impl TestEmulator {
    /// Starts `duogate emulate --seed SEED`.
    pub fn start(seed: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_duogate"))
            .args([
                "emulate",
                "--listen",
                "127.0.0.1:0",
                "--print-keys",
                "--seed",
                seed,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start duogate emulate");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the keys line");
        let keys: Value = serde_json::from_str(&line).expect("the first line is JSON");
        let url = keys["url"].as_str().expect("url").to_string();
        Self {
            child,
            url,
            keys,
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The admin secret key.
    pub fn admin_skey(&self) -> String {
        self.keys["admin_skey"].as_str().unwrap().to_string()
    }

    /// `duogate` with this emulator's Admin API connection in the environment and no config.
    pub fn duogate(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
        cmd.env_clear()
            .env("HOME", self.home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DUO_API_HOST", &self.url)
            .env("DUO_IKEY", self.keys["admin_ikey"].as_str().unwrap())
            .env("DUO_SKEY", self.admin_skey())
            .timeout(std::time::Duration::from_secs(120));
        cmd
    }

    /// Runs `duogate ARGS`, asserts success, and parses stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        let output = self.duogate().args(args).output().expect("run duogate");
        assert!(
            output.status.success(),
            "duogate {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout_json(&output)
    }

    /// A control API call: `method path [json body]` → (status, parsed body or text).
    pub fn control(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let addr = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connect to the emulator");
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        let text = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Number of entries in the request log.
    pub fn requests_logged(&self) -> usize {
        let (_, log) = self.control("GET", "/_emulator/requests", None);
        log.as_array()
            .map(Vec::len)
            .expect("the request log is an array")
    }

    /// The request log.
    pub fn request_log(&self) -> Vec<Value> {
        let (_, log) = self.control("GET", "/_emulator/requests", None);
        log.as_array()
            .cloned()
            .expect("the request log is an array")
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for TestEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses a command's stdout as JSON.
pub fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}
