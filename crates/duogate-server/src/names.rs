//! Length and character rules for the host and id fields every dialect accepts, checked
//! before anything else reads them; each dialect wraps the text in its own error.
//!
//! - **Hosts** (`api_hostname` of Vault methods and step-up methods, `api_host` of native
//!   connections and ONTAP profiles, ONTAP's `http_proxy`): an optional `http://` or
//!   `https://`, then a host of at most [`MAX_HOST_CHARS`] characters of `A-Z a-z 0-9 . -`
//!   (or a bracketed IPv6 literal), an optional `:port` (1–5 digits) and an optional `/`.
//!   Whatever else is wrong (a path, user information, plain http where it is not allowed)
//!   is left to the field's own parser, whose messages name it. The input is never echoed by
//!   these checks, so a 100,000-character value costs one short message.
//! - **Duo ids in action inputs** (`user_id`, `phone_id`, `admin_id`, any `…_id`): at most
//!   [`MAX_DUO_ID_CHARS`] characters (Duo's are 20), refused with 400 before Duo is asked.
//!
//! Object names (connections, methods, groups) and account names follow the store's rules
//! (`duogate_store::names`), which every write goes through.

/// The longest host name (RFC 1035's limit for a full domain name).
pub const MAX_HOST_CHARS: usize = 253;

/// The longest Duo object id accepted in an action input (Duo's ids are 20 characters).
pub const MAX_DUO_ID_CHARS: usize = 64;

/// The longest whole host field: a scheme, the host, a port and a trailing `/`.
const MAX_HOST_FIELD_CHARS: usize = "https://".len() + MAX_HOST_CHARS + ":65535/".len();

/// Checks a host field (see the module documentation); the error is a sentence without the
/// field's name or value.
pub fn check_host(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text.chars().count() > MAX_HOST_FIELD_CHARS {
        return Err(format!(
            "too long: a host name has at most {MAX_HOST_CHARS} characters"
        ));
    }
    let rest = match text.split_once("://") {
        Some((_, rest)) => rest,
        None => text,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // User information, paths, queries: the field's own parser explains those.
    if rest.contains(['@', '/', '?', '#']) {
        return Ok(());
    }
    let (host, port) = if let Some(literal) = rest.strip_prefix('[') {
        let (inside, after) = literal
            .split_once(']')
            .ok_or_else(|| "an IPv6 address must end with ']'".to_string())?;
        if inside.is_empty()
            || !inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.'))
        {
            return Err("not an IPv6 address between '[' and ']'".into());
        }
        match after {
            "" => ("", None),
            port => match port.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return Err("only a :port may follow an IPv6 address".into()),
            },
        }
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.chars().count() > MAX_HOST_CHARS {
        return Err(format!(
            "too long: a host name has at most {MAX_HOST_CHARS} characters"
        ));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    {
        return Err("a host name holds only letters, digits, '.' and '-'".into());
    }
    if let Some(port) = port
        && !((1..=5).contains(&port.len()) && port.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("the port must be 1 to 5 digits".into());
    }
    Ok(())
}

/// Checks the Duo ids of an action's input: every string field whose name ends in `_id`
/// (and every string of such a list) has at most [`MAX_DUO_ID_CHARS`] characters. The error
/// names the field.
pub fn check_duo_ids(input: &serde_json::Value) -> Result<(), String> {
    let Some(fields) = input.as_object() else {
        return Ok(());
    };
    for (name, value) in fields {
        if !name.ends_with("_id") && !name.ends_with("_ids") {
            continue;
        }
        let too_long = |v: &serde_json::Value| {
            v.as_str()
                .is_some_and(|s| s.chars().count() > MAX_DUO_ID_CHARS)
        };
        let bad = match value {
            serde_json::Value::Array(items) => items.iter().any(too_long),
            other => too_long(other),
        };
        if bad {
            return Err(format!(
                "{name}: a Duo id has at most {MAX_DUO_ID_CHARS} characters"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todays_host_forms_are_accepted() {
        for host in [
            "api-xxxxxxxx.duosecurity.com",
            "api-xxxxxxxx.duosecurity.com:443",
            "https://api-xxxxxxxx.duosecurity.com/",
            "http://127.0.0.1:8443",
            "http://[::1]:8443",
            "localhost:8443",
        ] {
            assert_eq!(check_host(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn long_hosts_and_strange_characters_are_refused() {
        let long = "a".repeat(254);
        for host in [
            long.as_str(),
            &"a".repeat(100_000),
            "exa mple.com",
            "example.com\0",
            "ex\nample.com",
            "example.com:44a",
            "example.com:123456",
            "[zz]:443",
        ] {
            assert!(check_host(host).is_err(), "{host:.40}");
        }
        assert_eq!(check_host(&"a".repeat(253)), Ok(()));
    }

    #[test]
    fn long_duo_ids_are_refused_naming_the_field() {
        let input = serde_json::json!({"user_id": "D".repeat(65), "limit": 3});
        assert!(check_duo_ids(&input).unwrap_err().starts_with("user_id:"));
        let fine = serde_json::json!({"user_id": "DU0123456789ABCDEFGH"});
        assert_eq!(check_duo_ids(&fine), Ok(()));
    }
}
