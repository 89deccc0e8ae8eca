//! Starting the configured service is clear: `sqlite://FILE` creates FILE, an unreachable
//! PostgreSQL fails fast naming where and why, `--root-token-file` hands the first root token to
//! a service manager.

use predicates::prelude::*;

use crate::serve::Server;

const SEAL_KEY: &str = "6666666666666666666666666666666666666666666666666666666666666666";

#[test]
fn a_sqlite_url_to_a_new_file_creates_it_private() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new.db");
    let url = format!("sqlite://{}", file.display());
    let server = Server::start(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &url],
        &[("DUOGATE_SEAL_KEY", SEAL_KEY)],
    );
    assert_eq!(
        server.request("GET", "/v1/duogate/health", None, None).0,
        200
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn an_unreachable_postgres_fails_within_seconds_naming_where_and_why_but_no_password() {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            "postgres://duogate:hunter2secret@127.0.0.1:1/duogate",
        ])
        .env("DUOGATE_SEAL_KEY", SEAL_KEY)
        // A bound, not a measurement: connecting gives up after 5 s (plus one last attempt).
        .timeout(std::time::Duration::from_secs(15))
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("127.0.0.1:1")
                .and(predicate::str::contains("refused"))
                .and(predicate::str::contains("hunter2secret").not()),
        );
}

#[test]
fn root_token_file_receives_the_first_root_token_instead_of_the_json_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let token_file = dir.path().join("root-token");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
        "--root-token-file",
        token_file.to_str().unwrap(),
    ];
    let first = Server::start(&args, &[("DUOGATE_SEAL_KEY", SEAL_KEY)]);
    assert!(first.line.get("root_token").is_none(), "{}", first.line);
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        first
            .request("GET", "/v1/duogate/tenants", Some(token), None)
            .0,
        200
    );
    drop(first);
    // A restart with the same flags: a token exists, the file is left as it is.
    let again = Server::start(&args, &[("DUOGATE_SEAL_KEY", SEAL_KEY)]);
    assert!(again.line.get("root_token").is_none());
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    drop(again);

    // A first start whose file already exists is refused before any token is made.
    let other_url = format!("sqlite://{}", dir.path().join("other.sqlite").display());
    let mut refused = args;
    refused[4] = &other_url;
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_duogate"))
        .args(refused)
        .env("DUOGATE_SEAL_KEY", SEAL_KEY)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--root-token-file"));
    let unminted = Server::start(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &other_url,
        ],
        &[("DUOGATE_SEAL_KEY", SEAL_KEY)],
    );
    assert!(
        unminted.line["root_token"].is_string(),
        "no token was made by the refused start"
    );
}
