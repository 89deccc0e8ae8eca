//! TLS on both ends: `serve` with a certificate (HTTPS, ALPN, SIGHUP reload, the loopback rule),
//! `serve --dev --dev-tls`, and `emulate --tls` reached by the connector with `--ca-file`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

/// A CA and a server certificate for `127.0.0.1` signed by it, as PEM files in a folder.
struct TestPki {
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
}

impl TestPki {
    /// A new CA named `name`, and its server certificate, written as `NAME-ca.pem`,
    /// `NAME-cert.pem`, `NAME-key.pem` in `dir`.
    fn new(dir: &Path, name: &str) -> Self {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("test CA {name}"));
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let pki = Self {
            ca_file: dir.join(format!("{name}-ca.pem")),
            cert_file: dir.join(format!("{name}-cert.pem")),
            key_file: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&pki.ca_file, ca_cert.pem()).unwrap();
        std::fs::write(&pki.cert_file, cert.pem() + &ca_cert.pem()).unwrap();
        std::fs::write(&pki.key_file, key.serialize_pem()).unwrap();
        pki
    }

    /// Copies this pair over `cert_file` and `key_file`.
    fn install(&self, cert_file: &Path, key_file: &Path) {
        std::fs::copy(&self.cert_file, cert_file).unwrap();
        std::fs::copy(&self.key_file, key_file).unwrap();
    }
}

/// A `duogate` child whose first stdout line is JSON; stderr goes to a file; killed on drop.
struct Process {
    child: Child,
    line: Value,
    stderr_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Process {
    fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stderr_file = dir.path().join("stderr.txt");
        let mut command = Command::new(env!("CARGO_BIN_EXE_duogate"));
        command
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_file).unwrap());
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let line = serde_json::from_str(&line).unwrap_or_else(|e| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "first line {line:?}: {e}\nstderr:\n{}",
                std::fs::read_to_string(&stderr_file).unwrap_or_default()
            )
        });
        Self {
            child,
            line,
            stderr_file,
            _dir: dir,
        }
    }

    /// `serve` on a fresh SQLite database with a fixed seal key.
    fn serve(dir: &Path, extra: &[&str]) -> Self {
        let url = format!("sqlite://{}?mode=rwc", dir.join("db.sqlite").display());
        let mut args = vec!["serve", "--database-url", &url];
        args.extend_from_slice(extra);
        let key = "33".repeat(32);
        Self::start(&args, &[("DUOGATE_SEAL_KEY", key.as_str())])
    }

    fn url(&self) -> String {
        self.line["url"].as_str().expect("url").to_string()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }

    fn hang_up(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client trusting only `ca_file`.
fn client_trusting(ca_file: &Path) -> reqwest::ClientBuilder {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca_file).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(30))
}

async fn health(client: &reqwest::Client, url: &str) -> Result<reqwest::Response, reqwest::Error> {
    client
        .get(format!("{url}/v1/duogate/health"))
        .send()
        .await?
        .error_for_status()
}

/// Polls `done` up to 400 times, 50 ms apart (20 s at most); panics with `what` otherwise.
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}");
}

#[tokio::test]
async fn serve_with_a_certificate_answers_https_by_alpn_to_clients_trusting_its_ca_only() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "one");
    let server = Process::serve(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert-file",
            pki.cert_file.to_str().unwrap(),
            "--tls-key-file",
            pki.key_file.to_str().unwrap(),
        ],
    );
    let url = server.url();
    let listen = server.line["listen"].as_str().unwrap();
    assert_eq!(url, format!("https://{listen}"));

    let h2 = client_trusting(&pki.ca_file).build().unwrap();
    let answer = health(&h2, &url).await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["database"], "sqlite");

    let http1 = client_trusting(&pki.ca_file).http1_only().build().unwrap();
    let answer = health(&http1, &url).await.unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_11);

    let stranger = TestPki::new(dir.path(), "stranger");
    let untrusting = client_trusting(&stranger.ca_file).build().unwrap();
    assert!(
        health(&untrusting, &url).await.is_err(),
        "another CA's client is refused"
    );

    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    assert!(
        health(&plain, &format!("http://{listen}")).await.is_err(),
        "plain HTTP on the TLS port gets no answer"
    );
    server.hang_up();
    assert!(
        health(&h2, &url).await.is_ok(),
        "still serving after SIGHUP"
    );
}

#[tokio::test]
async fn sighup_reloads_the_certificate_for_new_connections_while_open_ones_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let old = TestPki::new(dir.path(), "old");
    let new = TestPki::new(dir.path(), "new");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    old.install(&cert_file, &key_file);
    // The pair comes from --config, as in Vault's listener stanza.
    let config = dir.path().join("duogate.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\ntls_cert_file = {:?}\ntls_key_file = {:?}\n",
            cert_file.to_str().unwrap(),
            key_file.to_str().unwrap()
        ),
    )
    .unwrap();
    let server = Process::serve(dir.path(), &["--config", config.to_str().unwrap()]);
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // One HTTP/1.1 keep-alive connection, opened before the reload.
    let kept = client_trusting(&old.ca_file)
        .http1_only()
        .pool_max_idle_per_host(1)
        .build()
        .unwrap();
    health(&kept, &url).await.unwrap();

    new.install(&cert_file, &key_file);
    server.hang_up();
    eventually("a new connection trusting the new CA succeeds", || async {
        let fresh = client_trusting(&new.ca_file).build().unwrap();
        health(&fresh, &url).await.is_ok()
    })
    .await;
    let fresh_old = client_trusting(&old.ca_file).build().unwrap();
    assert!(
        health(&fresh_old, &url).await.is_err(),
        "new connections see the new certificate"
    );
    // Only the connection opened before the reload can still satisfy an old-CA client.
    health(&kept, &url)
        .await
        .expect("the connection opened before SIGHUP keeps working");
}

#[tokio::test]
async fn a_bad_certificate_on_sighup_is_refused_with_an_error_and_the_old_one_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "good");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    pki.install(&cert_file, &key_file);
    let server = Process::serve(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert-file",
            cert_file.to_str().unwrap(),
            "--tls-key-file",
            key_file.to_str().unwrap(),
        ],
    );
    let url = server.url();
    let secret_line = "Z2FyYmFnZSBrZXkgbWF0ZXJpYWw";
    std::fs::write(
        &key_file,
        format!("-----BEGIN PRIVATE KEY-----\n{secret_line}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    server.hang_up();
    eventually("the refused reload is logged", || async {
        server.stderr().contains("refused")
    })
    .await;
    let stderr = server.stderr();
    assert!(
        stderr.contains("ERROR") && stderr.contains("key.pem"),
        "{stderr}"
    );
    assert!(
        !stderr.contains(secret_line),
        "the key file is never quoted:\n{stderr}"
    );
    let fresh = client_trusting(&pki.ca_file).build().unwrap();
    health(&fresh, &url)
        .await
        .expect("new connections still get the previous certificate");
}

#[test]
fn serve_refuses_plain_http_on_a_non_loopback_address_unless_tls_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("db.sqlite").display()
    );
    let key = "44".repeat(32);
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--listen", "0.0.0.0:0", "--database-url", &url])
        .env("DUOGATE_SEAL_KEY", &key)
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tls-disable").and(predicate::str::contains("0.0.0.0")));
    assert!(
        !dir.path().join("db.sqlite").exists(),
        "the refusal comes before the database is touched"
    );
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(["serve", "--dev", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("dev"))
        .timeout(Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--tls-disable"));

    let server = Process::serve(dir.path(), &["--listen", "0.0.0.0:0", "--tls-disable"]);
    assert!(
        server.url().starts_with("http://0.0.0.0:"),
        "{}",
        server.line
    );
    drop(server);

    let config = dir.path().join("duogate.toml");
    std::fs::write(&config, "listen = \"0.0.0.0:0\"\ntls_disable = true\n").unwrap();
    let server = Process::serve(dir.path(), &["--config", config.to_str().unwrap()]);
    assert!(
        server.url().starts_with("http://0.0.0.0:"),
        "{}",
        server.line
    );
}

#[tokio::test]
async fn serve_dev_tls_prints_an_https_url_and_a_ca_file_that_health_checks_trust() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = || {
        Process::start(
            &[
                "serve",
                "--dev",
                "--dev-tls",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().unwrap(),
            ],
            &[],
        )
    };
    let server = start();
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{}", server.line);
    let ca_file = PathBuf::from(server.line["ca_file"].as_str().expect("ca_file"));
    assert!(
        ca_file.is_absolute() && ca_file.starts_with(&data),
        "{ca_file:?}"
    );
    let client = client_trusting(&ca_file).build().unwrap();
    let answer = client
        .get(format!("{url}/v1/sys/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["initialized"], true);
    // `localhost` is one of the certificate's names too.
    let port = url.rsplit(':').next().unwrap();
    health(&client, &format!("https://localhost:{port}"))
        .await
        .unwrap();

    // A restart on the same data folder keeps the CA its clients trust.
    let ca = std::fs::read(&ca_file).unwrap();
    drop(server);
    let again = start();
    assert_eq!(std::fs::read(&ca_file).unwrap(), ca);
    health(&client_trusting(&ca_file).build().unwrap(), &again.url())
        .await
        .unwrap();
}

#[test]
fn emulate_tls_serves_the_connector_with_its_ca_file_and_refuses_it_without() {
    let emulator = Process::start(
        &[
            "emulate",
            "--tls",
            "--listen",
            "127.0.0.1:0",
            "--print-keys",
            "--seed",
            "users=3",
        ],
        &[],
    );
    let url = emulator.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{}", emulator.line);
    let ca_file = emulator.line["ca_file"].as_str().expect("ca_file");
    assert!(Path::new(ca_file).is_absolute());
    let home = tempfile::tempdir().unwrap();
    let duogate = || {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
        cmd.env_clear()
            .env("HOME", home.path())
            .env("DUO_IKEY", emulator.line["admin_ikey"].as_str().unwrap())
            .env("DUO_SKEY", emulator.line["admin_skey"].as_str().unwrap())
            .timeout(Duration::from_secs(60));
        cmd
    };
    let output = duogate()
        .args([
            "users",
            "list",
            "--output",
            "json",
            "--api-host",
            &url,
            "--ca-file",
            ca_file,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let users = crate::emulator::stdout_json(&output);
    assert_eq!(users.as_array().map(Vec::len), Some(3));

    duogate()
        .args(["users", "list", "--api-host", &url])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("TLS"));
}

#[test]
fn emulate_serves_a_given_certificate_pair() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path(), "given");
    let emulator = Process::start(
        &[
            "emulate",
            "--listen",
            "127.0.0.1:0",
            "--print-keys",
            "--seed",
            "users=2",
            "--tls-cert-file",
            pki.cert_file.to_str().unwrap(),
            "--tls-key-file",
            pki.key_file.to_str().unwrap(),
        ],
        &[],
    );
    let url = emulator.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{}", emulator.line);
    assert!(emulator.line.get("ca_file").is_none(), "{}", emulator.line);
    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .env_clear()
        .env("HOME", dir.path())
        .env("DUO_IKEY", emulator.line["admin_ikey"].as_str().unwrap())
        .env("DUO_SKEY", emulator.line["admin_skey"].as_str().unwrap())
        .args([
            "users",
            "list",
            "--output",
            "json",
            "--api-host",
            &url,
            "--ca-file",
        ])
        .arg(&pki.ca_file)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        crate::emulator::stdout_json(&output)
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[test]
fn admin_commands_reach_a_dev_tls_service_trusting_its_ca_file_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Process::start(
        &[
            "serve",
            "--dev",
            "--dev-tls",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    let ca_file = server.line["ca_file"]
        .as_str()
        .expect("ca_file")
        .to_string();
    let root = server.line["root_token"].as_str().unwrap().to_string();
    let tenant = |extra: &[(&str, &str)]| {
        let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"));
        cmd.env_clear()
            .env("DUOGATE_ADDR", server.url())
            .env("DUOGATE_TOKEN", &root)
            .args(["tenant", "list"])
            .timeout(Duration::from_secs(60));
        for (key, value) in extra {
            cmd.env(key, value);
        }
        cmd
    };
    let output = tenant(&[("DUOGATE_CACERT", &ca_file)]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(listed["tenants"].is_array(), "{listed}");
    // Without the CA the dev certificate is not trusted: a transport error, exit 3.
    tenant(&[]).assert().code(3);
}
