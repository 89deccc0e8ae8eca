//! A Vault request parsed at the edge: the operation (HTTP verb, `LIST`, `?list=`), the
//! namespace (`X-Vault-Namespace` joined with a path prefix), the API path, and the request
//! data (a JSON or form body for writes; query parameters for reads, lists and deletes), with
//! Vault's weak typing for the fields handlers read.

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::{Map, Value};

use super::response::VaultError;

/// What the request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// `GET` (and `HEAD`).
    Read,
    /// `POST` or `PUT`.
    Update,
    /// `DELETE`.
    Delete,
    /// `LIST`, or `GET` with a true `list` query parameter.
    List,
    /// `PATCH`.
    Patch,
}

impl Operation {
    /// Whether this operation writes.
    pub(crate) fn writes(self) -> bool {
        matches!(self, Self::Update | Self::Delete | Self::Patch)
    }
}

/// The first segments of paths this server routes; anything before them in a path is a
/// namespace prefix.
const MOUNTS: [&str; 3] = ["sys", "identity", "auth"];

/// The URL path split into namespace prefix and API path (`identity/mfa/method/duo/…`),
/// without leading or trailing slashes; `trailing_slash` tells whether the URL ended in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SplitPath {
    pub(crate) namespace_prefix: String,
    pub(crate) api_path: String,
    pub(crate) trailing_slash: bool,
}

/// Splits the part after `/v1/`.
pub(crate) fn split_path(rest: &str) -> SplitPath {
    let trailing_slash = rest.ends_with('/');
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let start = segments
        .iter()
        .position(|s| MOUNTS.contains(s))
        .unwrap_or(0);
    SplitPath {
        namespace_prefix: segments[..start].join("/"),
        api_path: segments[start..].join("/"),
        trailing_slash,
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The operation for a verb and its query (`list` is removed from the query when it decides).
pub(crate) fn operation(
    method: &Method,
    query: &mut Map<String, Value>,
) -> Result<Operation, VaultError> {
    let operation = match method.as_str() {
        // Only GET reads `list` from the query, and only when it is not empty.
        "GET" | "HEAD" => {
            let flag = match query.get("list").and_then(Value::as_str) {
                None | Some("") => false,
                Some(text) => parse_go_bool(text).ok_or_else(VaultError::bad_request_empty)?,
            };
            query.remove("list");
            if flag {
                Operation::List
            } else {
                Operation::Read
            }
        }
        "POST" | "PUT" => Operation::Update,
        "DELETE" => Operation::Delete,
        "LIST" => Operation::List,
        "PATCH" => Operation::Patch,
        _ => return Err(VaultError::unknown_verb()),
    };
    Ok(operation)
}

/// Query parameters as request data (the last value of a repeated key wins).
pub(crate) fn query_data(query: Option<&str>) -> Map<String, Value> {
    let mut data = Map::new();
    if let Some(query) = query {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            data.insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }
    data
}

/// A write's body: JSON, or a form when that content type is sent and the body does not look
/// like JSON; empty is `{}`.
pub(crate) fn body_data(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Value>, VaultError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Ok(Map::new());
    }
    let is_form = content_type
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"))
        && !matches!(trimmed.first(), Some(b'{') | Some(b'['));
    if is_form {
        return Ok(url::form_urlencoded::parse(trimmed)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect());
    }
    match serde_json::from_slice::<Value>(trimmed) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(VaultError::invalid(
            "failed to parse JSON input: the body must be a JSON object",
        )),
        Err(e) => Err(VaultError::invalid(format!(
            "failed to parse JSON input: {e}"
        ))),
    }
}

/// Reads fields from request data with Vault's weak typing, and remembers which fields the
/// endpoint knows so the rest can be named in a warning.
#[derive(Debug)]
pub(crate) struct Fields<'a> {
    data: &'a Map<String, Value>,
    known: BTreeSet<&'static str>,
}

/// Vault's text for a value its weak typing cannot convert (OpenBao 2.7's wording; the suffix
/// comes from Go's mapstructure and varies between versions).
fn conversion_error(field: &str, what: &str) -> VaultError {
    let detail = match what {
        "bool" => "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax".to_string(),
        other => format!("'' expected type '{other}', got unconvertible type"),
    };
    VaultError::invalid(format!(
        "Field validation failed: error converting input for field {field:?}: {detail}"
    ))
}

impl<'a> Fields<'a> {
    /// Fields over `data`.
    pub(crate) fn new(data: &'a Map<String, Value>) -> Self {
        Self {
            data,
            known: BTreeSet::new(),
        }
    }

    /// Whether the request carries `field` (with any value but `null`).
    pub(crate) fn has(&mut self, field: &'static str) -> bool {
        self.known.insert(field);
        self.data.get(field).is_some_and(|v| !v.is_null())
    }

    /// A string field: strings as they are, numbers and booleans as Go prints them.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<Option<String>, VaultError> {
        self.known.insert(field);
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(if *b { "1" } else { "0" }.into())),
            Some(_) => Err(conversion_error(field, "string")),
        }
    }

    /// A boolean field: booleans, numbers (non-zero is true) and `ParseBool` strings.
    pub(crate) fn boolean(&mut self, field: &'static str) -> Result<Option<bool>, VaultError> {
        self.known.insert(field);
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(false)),
            Some(Value::String(s)) => parse_go_bool(s)
                .map(Some)
                .ok_or_else(|| conversion_error(field, "bool")),
            Some(_) => Err(conversion_error(field, "bool")),
        }
    }

    /// A list of strings: an array of strings (or numbers), or a bare string as a one-element
    /// list (a form body's comma-separated value is split).
    pub(crate) fn string_list(
        &mut self,
        field: &'static str,
    ) -> Result<Option<Vec<String>>, VaultError> {
        self.known.insert(field);
        match self.data.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(conversion_error(field, "[]string")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(conversion_error(field, "[]string")),
        }
    }

    /// The warning Vault gives for fields the endpoint does not know, if any were sent.
    pub(crate) fn unknown_fields_warning(&self) -> Option<String> {
        let unknown: Vec<&str> = self
            .data
            .keys()
            .map(String::as_str)
            .filter(|k| !self.known.contains(k))
            .collect();
        (!unknown.is_empty()).then(|| {
            format!(
                "Endpoint ignored these unrecognized parameters: [{}]",
                unknown.join(" ")
            )
        })
    }
}

/// Whether `text` is a lowercase UUID (the only form Vault's method routes match).
pub(crate) fn is_lowercase_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(b),
        })
}

/// Whether `name` matches Vault's enforcement-name pattern `\w(([\w-.]+)?\w)?`.
pub(crate) fn is_enforcement_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => false,
        [only] => word(*only),
        [first, middle @ .., last] => {
            word(*first) && word(*last) && middle.iter().all(|c| word(*c) || *c == '-' || *c == '.')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespace_prefixes_are_split_from_the_api_path() {
        let split = split_path("ns1/ns2/identity/mfa/method/duo/");
        assert_eq!(split.namespace_prefix, "ns1/ns2");
        assert_eq!(split.api_path, "identity/mfa/method/duo");
        assert!(split.trailing_slash);
        let plain = split_path("sys/health");
        assert_eq!(
            (plain.namespace_prefix.as_str(), plain.api_path.as_str()),
            ("", "sys/health")
        );
    }

    #[test]
    fn list_flags_parse_like_go_and_anything_else_is_refused() {
        for (flag, expected) in [
            ("True", Operation::List),
            ("1", Operation::List),
            ("false", Operation::Read),
        ] {
            let mut query = Map::new();
            query.insert("list".into(), json!(flag));
            assert_eq!(
                operation(&Method::GET, &mut query).unwrap(),
                expected,
                "{flag}"
            );
            assert!(query.is_empty());
        }
        let mut bad = Map::new();
        bad.insert("list".into(), json!("yes"));
        assert_eq!(
            operation(&Method::GET, &mut bad).unwrap_err(),
            VaultError::bad_request_empty()
        );
        let list = Method::from_bytes(b"LIST").unwrap();
        assert_eq!(operation(&list, &mut Map::new()).unwrap(), Operation::List);
        let foo = Method::from_bytes(b"FOO").unwrap();
        assert_eq!(
            operation(&foo, &mut Map::new()).unwrap_err(),
            VaultError::unknown_verb()
        );
    }

    #[test]
    fn weak_typing_accepts_what_vault_accepts() {
        let data = json!({"b1": "t", "b2": 0, "s": 42, "l": "one", "bad": {"x": 1}, "extra": 1});
        let data = data.as_object().unwrap();
        let mut fields = Fields::new(data);
        assert_eq!(fields.boolean("b1").unwrap(), Some(true));
        assert_eq!(fields.boolean("b2").unwrap(), Some(false));
        assert_eq!(fields.string("s").unwrap().as_deref(), Some("42"));
        assert_eq!(
            fields.string_list("l").unwrap(),
            Some(vec!["one".to_string()])
        );
        let error = fields.boolean("bad").unwrap_err();
        assert!(
            error.errors[0]
                .starts_with("Field validation failed: error converting input for field \"bad\"")
        );
        assert_eq!(
            fields.unknown_fields_warning().unwrap(),
            "Endpoint ignored these unrecognized parameters: [extra]"
        );
    }

    #[test]
    fn bodies_are_json_or_forms() {
        assert_eq!(body_data(None, b"").unwrap(), Map::new());
        let form = body_data(Some("application/x-www-form-urlencoded"), b"a=1&b=x+y").unwrap();
        assert_eq!(form["b"], "x y");
        let json = body_data(Some("application/x-www-form-urlencoded"), br#"{"a":1}"#).unwrap();
        assert_eq!(json["a"], 1);
        assert!(
            body_data(None, b"{nope").unwrap_err().errors[0]
                .starts_with("failed to parse JSON input")
        );
    }

    #[test]
    fn only_lowercase_uuids_and_vault_names_route() {
        assert!(is_lowercase_uuid("6705fafd-0fd0-3453-4593-949196b29527"));
        assert!(!is_lowercase_uuid("6705FAFD-0fd0-3453-4593-949196b29527"));
        assert!(!is_lowercase_uuid("not-a-uuid"));
        for good in ["e", "e1", "a.b-c_d"] {
            assert!(is_enforcement_name(good), "{good}");
        }
        for bad in ["", "-a", "a.", "a b"] {
            assert!(!is_enforcement_name(bad), "{bad}");
        }
    }
}
