//! What [`crate::Store::connect`] reads from a database URL before it connects: the SQLite file
//! to create when it is missing, and a printable target for error messages.
//!
//! - `sqlite://FILE` (or `sqlite:FILE`) creates FILE when it does not exist, with mode 0600 set
//!   explicitly (whatever the umask; SQLite's `-wal` and `-shm` files take the main file's mode
//!   on Linux). A URL that says what it wants with `mode=` (`ro`, `rw`, `rwc`, `memory`) is left
//!   to SQLite, as are `:memory:` and other query parameters, which are kept as they are.
//! - The target of an error is the SQLite file, or PostgreSQL's `host:port`: never the URL,
//!   which may carry a password.

use std::path::PathBuf;

use crate::Engine;
use crate::error::StoreError;

/// The file a `sqlite:` URL opens and whether the URL leaves its creation to us (no `mode=`).
/// `None` for in-memory databases.
fn sqlite_file(url: &str) -> Option<(PathBuf, bool)> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = match rest.split_once('?') {
        Some((database, params)) => (database, Some(params)),
        None => (rest, None),
    };
    if database.is_empty() || database == ":memory:" {
        return None;
    }
    let mode = params.and_then(|params| {
        url::form_urlencoded::parse(params.as_bytes())
            .find(|(key, _)| key == "mode")
            .map(|(_, value)| value.into_owned())
    });
    if mode.as_deref() == Some("memory") {
        return None;
    }
    // sqlx percent-decodes the path the same way (a `?` or `#` in a file name).
    let path = percent_encoding::percent_decode_str(database)
        .decode_utf8()
        .ok()?
        .into_owned();
    Some((PathBuf::from(path), mode.is_none()))
}

/// Creates the SQLite file of `url` (mode 0600) when it is missing and the URL has no `mode=`.
pub(crate) fn create_missing_sqlite_file(url: &str) -> Result<(), StoreError> {
    let Some((path, ours_to_create)) = sqlite_file(url) else {
        return Ok(());
    };
    if !ours_to_create || path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let created = match options.open(&path) {
        Ok(file) => file,
        // Another process created it in between: it is theirs, and it exists.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => {
            return Err(StoreError::Connect {
                target: path.display().to_string(),
                cause: Box::new(e),
            });
        }
    };
    // The umask may have taken bits away from 0600; set exactly that.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        created
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| StoreError::Connect {
                target: path.display().to_string(),
                cause: Box::new(e),
            })?;
    }
    drop(created);
    Ok(())
}

/// Where `url` points, for messages: the SQLite file or PostgreSQL's `host:port` (never the
/// user or password).
pub(crate) fn printable_target(url: &str, engine: Engine) -> String {
    match engine {
        Engine::Sqlite => match sqlite_file(url) {
            Some((path, _)) => path.display().to_string(),
            None => "an in-memory SQLite database".into(),
        },
        Engine::Postgres => match url::Url::parse(url) {
            Ok(parsed) => match parsed.host_str() {
                Some(host) if !host.is_empty() => {
                    format!("{host}:{}", parsed.port().unwrap_or(5432))
                }
                _ => "PostgreSQL's local socket".into(),
            },
            Err(_) => "an unparsable PostgreSQL URL".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file_and_whether_we_create_it() {
        assert_eq!(
            sqlite_file("sqlite:///tmp/a.db"),
            Some((PathBuf::from("/tmp/a.db"), true))
        );
        assert_eq!(
            sqlite_file("sqlite://rel/a%3Fb.db?cache=shared"),
            Some((PathBuf::from("rel/a?b.db"), true))
        );
        assert_eq!(
            sqlite_file("sqlite:x.db?mode=ro"),
            Some((PathBuf::from("x.db"), false))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("sqlite://x.db?mode=memory"), None);
    }

    #[test]
    fn a_missing_sqlite_file_is_created_private_and_an_existing_one_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        create_missing_sqlite_file(&format!("sqlite://{}?cache=shared", path.display())).unwrap();
        assert!(path.exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"kept").unwrap();
        create_missing_sqlite_file(&format!("sqlite://{}", path.display())).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
        let untouched = dir.path().join("ro.db");
        create_missing_sqlite_file(&format!("sqlite://{}?mode=ro", untouched.display())).unwrap();
        assert!(!untouched.exists(), "mode= is SQLite's business");
    }

    #[test]
    fn postgres_targets_show_host_and_port_but_never_the_password() {
        let target = printable_target(
            "postgres://app:hunter2@db.internal/duogate",
            Engine::Postgres,
        );
        assert_eq!(target, "db.internal:5432");
        assert_eq!(
            printable_target(
                "postgresql://u:p@127.0.0.1:1/x?sslmode=disable",
                Engine::Postgres
            ),
            "127.0.0.1:1"
        );
    }
}
