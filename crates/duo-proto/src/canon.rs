//! Canonical forms that signatures and Duo's own answers depend on.
//!
//! - [`canon_params`]: RFC 5849 §3.4.1.3.2 as `duo_client` implements it: percent-encode every
//!   byte but `A-Z a-z 0-9 - _ . ~` (upper-case hex, space is `%20`), sort by encoded key and then
//!   encoded value, join `k=v` with `&`.
//! - [`canon_params_raw_order`]: the order the Node and Go clients produce for the divergent cases
//!   of `docs/duo-wire.md` §1.8 (sorted by raw key, values in the order given). The emulator
//!   accepts it as well, leniently.
//! - [`canon_json`]: `json.dumps(obj, sort_keys=True, separators=(',', ':'))`, the body
//!   `duo_client` signs and sends under v4/v5.
//! - [`duo_json`]: `json.dumps(obj, sort_keys=True)`, the way Duo's service serialises its
//!   answers (`{"code": 40101, "message": "…", "stat": "FAIL"}`).
//! - [`sha512_hex`], [`x_duo_headers_hash`]: lines 6 and 7 of the v5 canonical string.
//! - [`form_urlencode`]: Python's `urlencode(params, doseq=True)` (`quote_plus`) for the wire.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode, utf8_percent_encode};
use serde_json::Value;
use sha2::{Digest as _, Sha512};

use crate::params::Params;

/// Everything but `A-Z a-z 0-9 - _ . ~` is escaped (Python `quote(x, safe='~')`).
const CANON_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `text` as Duo's canonical parameter string does.
pub fn canon_encode(text: &str) -> String {
    utf8_percent_encode(text, CANON_ESCAPE).to_string()
}

/// The canonical parameter string (line 5 of the v2/v4/v5 canonical string).
pub fn canon_params(params: &Params) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (canon_encode(k), canon_encode(v)))
        .collect();
    encoded.sort();
    join_pairs(&encoded)
}

/// The parameter string sorted by raw (unencoded) key with values in the order given, as the
/// Node and Go clients build it. Equal to [`canon_params`] for every ordinary Duo parameter.
pub fn canon_params_raw_order(params: &Params) -> String {
    let mut pairs: Vec<(&str, &str)> = params.iter().collect();
    // A stable sort keeps repeated keys' values in their given order.
    pairs.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let encoded: Vec<(String, String)> = pairs
        .into_iter()
        .map(|(k, v)| (canon_encode(k), canon_encode(v)))
        .collect();
    join_pairs(&encoded)
}

fn join_pairs(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Everything but `A-Z a-z 0-9 - _ . ~` is escaped; space is handled separately as `+`.
const FORM_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b' ');

/// Python's `quote_plus` of one key or value.
pub fn quote_plus(text: &str) -> String {
    utf8_percent_encode(text, FORM_ESCAPE)
        .to_string()
        .replace(' ', "+")
}

/// `urllib.parse.urlencode(params, doseq=True)`: the query string or form body `duo_client`
/// sends, in the parameters' own order.
pub fn form_urlencode(params: &Params) -> String {
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&quote_plus(k));
        out.push('=');
        out.push_str(&quote_plus(v));
    }
    out
}

/// Decodes an `application/x-www-form-urlencoded` string (or a query string): `+` is a space,
/// `%XX` a byte; invalid UTF-8 is replaced. Empty segments are skipped; a segment without `=` is
/// a key with an empty value, as Python's `parse_qsl(keep_blank_values=True)` reads it.
pub fn form_urldecode(text: &str) -> Params {
    let mut params = Params::new();
    for segment in text.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
        params.push(decode_component(k), decode_component(v));
    }
    params
}

fn decode_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// Percent-encodes one path segment the way `duo_client` does with `quote_plus` (ids never need
/// it in practice, but a hostile id must not change the path).
pub fn path_segment(text: &str) -> String {
    percent_encode(text.as_bytes(), CANON_ESCAPE).to_string()
}

/// Lower-case hex SHA-512 of `bytes`.
pub fn sha512_hex(bytes: &[u8]) -> String {
    hex::encode(Sha512::digest(bytes))
}

/// The v5 X-Duo header hash: names lower-cased, sorted, `name\0value\0name\0value…`, SHA-512 hex.
/// Only headers whose name starts with `x-duo-` (any case) are included.
pub fn x_duo_headers_hash<'a>(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut lowered: Vec<(String, &str)> = headers
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .filter(|(name, _)| name.starts_with("x-duo-"))
        .collect();
    lowered.sort();
    let mut preimage = Vec::new();
    for (i, (name, value)) in lowered.iter().enumerate() {
        if i > 0 {
            preimage.push(0);
        }
        preimage.extend_from_slice(name.as_bytes());
        preimage.push(0);
        preimage.extend_from_slice(value.as_bytes());
    }
    sha512_hex(&preimage)
}

/// `json.dumps(value, sort_keys=True, separators=(',', ':'))` with Python's default
/// `ensure_ascii=True`: the JSON body `duo_client` signs and sends under v4 and v5.
pub fn canon_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(&mut out, value, ",", ":");
    out
}

/// `json.dumps(value, sort_keys=True)`: Python's default separators (`", "`, `": "`) and
/// `ensure_ascii=True`. Duo's service answers in this form, so the emulator does too.
pub fn duo_json(value: &Value) -> String {
    let mut out = String::new();
    write_python_json(&mut out, value, ", ", ": ");
    out
}

fn write_python_json(out: &mut String, value: &Value, item_sep: &str, key_sep: &str) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_python_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write_python_json(out, item, item_sep, key_sep);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write_python_string(out, key);
                out.push_str(key_sep);
                write_python_json(out, &map[key.as_str()], item_sep, key_sep);
            }
            out.push('}');
        }
    }
}

fn write_python_string(out: &mut String, text: &str) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_json_escapes_non_ascii_as_lowercase_utf16_units() {
        assert_eq!(
            canon_json(&json!({"r": "Jörg 😀\u{7f}"})),
            r#"{"r":"J\u00f6rg \ud83d\ude00\u007f"}"#
        );
    }

    #[test]
    fn duo_json_uses_python_default_separators_and_sorted_keys() {
        let body = json!({"stat": "FAIL", "message": "Missing request credentials", "code": 40101});
        assert_eq!(
            duo_json(&body),
            r#"{"code": 40101, "message": "Missing request credentials", "stat": "FAIL"}"#
        );
    }

    #[test]
    fn form_encoding_round_trips_through_decoding() {
        let params = Params::new().with("username", "a b/c~d@e").with("k", "é&=");
        let wire = form_urlencode(&params);
        assert_eq!(wire, "username=a+b%2Fc~d%40e&k=%C3%A9%26%3D");
        assert_eq!(form_urldecode(&wire), params);
    }

    #[test]
    fn x_duo_hash_ignores_other_headers() {
        let with_other = x_duo_headers_hash([("X-Duo-A", "1"), ("Content-Type", "x")]);
        assert_eq!(with_other, x_duo_headers_hash([("x-duo-a", "1")]));
        assert_eq!(x_duo_headers_hash([]), sha512_hex(b""));
    }
}
