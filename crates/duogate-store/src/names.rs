//! The rules for names the store keeps, checked on every write so that every dialect (and
//! the CLI) refuses the same names, each in its own error envelope (they all turn
//! [`StoreError::Invalid`] into a 400):
//!
//! - **Object names** (connections, Vault methods, step-up methods and login enforcements):
//!   1 to [`MAX_OBJECT_NAME_CHARS`] characters, none of them `/` or a control character
//!   (NUL, newline, tab, …), not only spaces, and not `.` or `..` (they are URL path
//!   segments). ONTAP group names (Active Directory names such as `DOMAIN\Storage Admins`
//!   or `a/b`, percent-encoded in URLs) and Vault auth mount paths (`app/`) may hold `/`:
//!   for them only the length (at most [`MAX_GROUP_NAME_CHARS`]) and control characters are
//!   checked.
//! - **Account names**: 1 to [`MAX_ACCOUNT_NAME_CHARS`] characters of `A-Z a-z 0-9 - _ . @`,
//!   not made of dots alone (`.`, `..`), and not a Windows device name (`CON`, `PRN`, `AUX`,
//!   `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, in any case, alone or before a `.`), as they may
//!   end up in file names of exported configurations.
//!
//! Errors name the field and never echo the value.

use crate::error::StoreError;

/// The longest object name.
pub const MAX_OBJECT_NAME_CHARS: usize = 128;

/// The longest ONTAP group name or auth mount path.
pub const MAX_GROUP_NAME_CHARS: usize = 256;

/// The longest account name.
pub const MAX_ACCOUNT_NAME_CHARS: usize = 64;

/// Checks an object name (see the module documentation).
pub fn check_object_name(name: &str) -> Result<(), StoreError> {
    check_name(name, MAX_OBJECT_NAME_CHARS, false)
}

/// Checks an ONTAP group name or auth mount path (see the module documentation).
pub fn check_group_name(name: &str) -> Result<(), StoreError> {
    check_name(name, MAX_GROUP_NAME_CHARS, true)
}

fn check_name(name: &str, max_chars: usize, slash_allowed: bool) -> Result<(), StoreError> {
    let invalid = |why: &str| Err(StoreError::Invalid(format!("name: {why}")));
    if name.trim().is_empty() {
        return invalid("must not be empty");
    }
    if name.chars().count() > max_chars {
        return invalid(&format!("at most {max_chars} characters"));
    }
    if name.chars().any(char::is_control) {
        return invalid("must not hold control characters");
    }
    if !slash_allowed && name.contains('/') {
        return invalid("must not hold '/'");
    }
    if name == "." || name == ".." {
        return invalid("must not be \".\" or \"..\"");
    }
    Ok(())
}

/// Whether `name` is a valid account name (see the module documentation).
pub fn is_valid_account_name(name: &str) -> bool {
    const DEVICES: [&str; 4] = ["con", "prn", "aux", "nul"];
    let charset = (1..=MAX_ACCOUNT_NAME_CHARS).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if !charset || name.chars().all(|c| c == '.') {
        return false;
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let numbered_device = |prefix: &str| {
        stem.strip_prefix(prefix)
            .is_some_and(|n| n.len() == 1 && matches!(n.as_bytes()[0], b'1'..=b'9'))
    };
    !(DEVICES.contains(&stem.as_str()) || numbered_device("com") || numbered_device("lpt"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_refuse_paths_controls_and_length() {
        for bad in [
            "",
            " ",
            ".",
            "..",
            "../x",
            "a/b",
            "a\0b",
            "a\nb",
            &"n".repeat(129),
        ] {
            assert!(check_object_name(bad).is_err(), "{bad:.20?}");
        }
        for good in ["corp", "Duo Admin (EU)", "a.b", "...x", &"n".repeat(128)] {
            assert!(check_object_name(good).is_ok(), "{good:.20?}");
        }
        assert!(check_group_name("DOMAIN\\a/b+c").is_ok());
        assert!(check_group_name("a\nb").is_err());
        assert!(check_group_name(&"n".repeat(257)).is_err());
    }

    #[test]
    fn account_names_refuse_dots_and_device_names() {
        for bad in [
            ".", "..", "CON", "con", "Nul.txt", "COM1", "lpt9", "a b", "",
        ] {
            assert!(!is_valid_account_name(bad), "{bad}");
        }
        for good in [
            "admin",
            "ontap-1",
            "jo.smith@example.com",
            "console",
            "com10",
        ] {
            assert!(is_valid_account_name(good), "{good}");
        }
    }
}
