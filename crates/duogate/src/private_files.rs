//! Files and folders only their owner may read: the seal key, the dev data folder, the dev
//! state file (emulator secret keys), a root token file.
//!
//! The mode is set when creating and then set again explicitly, so the umask cannot leave a file
//! more open (or less usable) than 0600, or a folder other than 0700. Existing files and folders
//! are never re-moded here.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::Path;

/// Creates `path` (it must not exist) with mode 0600.
pub fn create_new_private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Replaces `path` with `contents` atomically (a 0600 sibling `.tmp` file renamed over it), so
/// a crash leaves the old file or the new one, never half of one.
pub fn replace_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    match std::fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut file = create_new_private_file(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// Creates the folder `path` and its missing parents, the new ones with mode 0700. An existing
/// folder is left as it is.
pub fn create_private_dir_all(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_files_are_0600_and_existing_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        create_new_private_file(&path).unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        assert_eq!(
            create_new_private_file(&path).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
    }

    #[test]
    fn replacing_a_file_leaves_only_the_new_contents_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        replace_private_file(&path, b"one").unwrap();
        replace_private_file(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join("state.json.tmp").exists());
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn new_folders_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b");
        create_private_dir_all(&path).unwrap();
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o700);
    }
}
