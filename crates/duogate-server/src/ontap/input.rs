//! Request bodies, parsed once at the edge: [`BodyObject`] reads a JSON object field by field
//! and refuses what is left over; the newtypes here are the validated values the handlers and
//! the stored configuration use.
//!
//! Wire choices (where `docs/ontap-dialect.md` leaves room):
//! - A POST or PATCH body must be a JSON object. A DELETE body is ignored (`netapp-ontap`
//!   sends `{}`).
//! - Unknown fields: 400 `262179` `Unexpected argument "<name>".` (nested ones named
//!   dotted, e.g. `owner.colour`). Read-only fields (`fingerprint`, `status`, `_links`) are
//!   refused with 400 `2`: they are never input.
//! - Booleans: JSON `true`/`false`, or `1`/`0` (the ONTAP docs' examples write `1`).
//! - `owner` is `{"uuid"?, "name"?}` (its `_links` is ignored) or the dotted keys `owner.uuid`
//!   / `owner.name`; when both forms or both keys are given they must name the same SVM.
//! - `null` or `""` clears `http_proxy` and `comment`.
//! - Lengths: `comment` ≤ 1024 characters; group names and user names 1–256 characters without
//!   control characters; `integration_key` 1–64 ASCII letters and digits; `secret_key` 1–256
//!   printable ASCII characters without spaces (never echoed back in a message).
//! - `http_proxy` is `host:port` or `http[s]://host[:port]`; credentials in it are refused,
//!   because the value is stored and shown in clear (the secret key is the only sealed field).

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use duo_client::ApiHost;

use super::error::OntapError;

/// A JSON object body, consumed field by field.
#[derive(Debug)]
pub(crate) struct BodyObject {
    fields: Map<String, Value>,
}

impl BodyObject {
    /// Parses `bytes` as a JSON object.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, OntapError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(OntapError::bad_request(
                "The request body is empty: send a JSON object.",
            ));
        }
        // serde_json's syntax errors name a position, never the input.
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(fields)) => Ok(Self { fields }),
            Ok(_) => Err(OntapError::bad_request(
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(OntapError::bad_request(format!(
                "The request body is not valid JSON: {e}."
            ))),
        }
    }

    /// Removes and returns a field (`null` counts as present).
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        self.fields.remove(name)
    }

    /// Refuses read-only fields that were sent.
    pub(crate) fn refuse_read_only(&self, read_only: &[&str]) -> Result<(), OntapError> {
        match read_only
            .iter()
            .find(|name| self.fields.contains_key(**name))
        {
            Some(name) => Err(OntapError::invalid(
                *name,
                format!("The field \"{name}\" is read-only and cannot be set."),
            )),
            None => Ok(()),
        }
    }

    /// Refuses whatever was not taken.
    pub(crate) fn finish(self) -> Result<(), OntapError> {
        match self.fields.keys().next() {
            Some(name) => Err(OntapError::unexpected_argument(name)),
            None => Ok(()),
        }
    }

    /// Takes `owner` (object form) and `owner.uuid` / `owner.name` (dotted form).
    pub(crate) fn take_owner(&mut self) -> Result<Option<OwnerRef>, OntapError> {
        let mut uuid = self
            .take("owner.uuid")
            .map(|v| text("owner.uuid", v))
            .transpose()?;
        let mut name = self
            .take("owner.name")
            .map(|v| text("owner.name", v))
            .transpose()?;
        match self.take("owner") {
            None | Some(Value::Null) => {}
            Some(Value::Object(mut owner)) => {
                owner.remove("_links");
                for (key, slot) in [("uuid", &mut uuid), ("name", &mut name)] {
                    if let Some(value) = owner.remove(key) {
                        let target = format!("owner.{key}");
                        let value = text(&target, value)?;
                        if slot.as_ref().is_some_and(|given| *given != value) {
                            return Err(OntapError::invalid(
                                target.clone(),
                                format!("\"{target}\" is given twice with different values."),
                            ));
                        }
                        *slot = Some(value);
                    }
                }
                if let Some(extra) = owner.keys().next() {
                    return Err(OntapError::unexpected_argument(&format!("owner.{extra}")));
                }
            }
            Some(_) => {
                return Err(OntapError::invalid(
                    "owner",
                    "\"owner\" must be an object with \"uuid\" or \"name\".",
                ));
            }
        }
        Ok(match (uuid, name) {
            (None, None) => None,
            (uuid, name) => Some(OwnerRef { uuid, name }),
        })
    }
}

/// An owner (SVM) named in a body, not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OwnerRef {
    /// `owner.uuid`, as given.
    pub(crate) uuid: Option<String>,
    /// `owner.name`, as given.
    pub(crate) name: Option<String>,
}

/// A string field.
pub(crate) fn text(name: &str, value: Value) -> Result<String, OntapError> {
    match value {
        Value::String(text) => Ok(text),
        _ => Err(OntapError::invalid(
            name,
            format!("The field \"{name}\" must be a string."),
        )),
    }
}

/// A boolean field: `true`/`false` or `1`/`0`.
pub(crate) fn boolean(name: &str, value: Value) -> Result<bool, OntapError> {
    match value {
        Value::Bool(b) => Ok(b),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        _ => Err(OntapError::invalid(
            name,
            format!("The field \"{name}\" must be a boolean (true or false)."),
        )),
    }
}

/// An optional text field: `null` or `""` clears it.
pub(crate) fn clearable<T>(
    name: &str,
    value: Value,
    parse: impl FnOnce(String) -> Result<T, OntapError>,
) -> Result<Option<T>, OntapError> {
    match value {
        Value::Null => Ok(None),
        other => {
            let text = text(name, other)?;
            if text.is_empty() {
                Ok(None)
            } else {
                parse(text).map(Some)
            }
        }
    }
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// `fail_mode`: what happens when Duo cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FailMode {
    /// Allow the login.
    Safe,
    /// Deny the login.
    Secure,
}

impl FailMode {
    /// The accepted spellings.
    pub(crate) const VALUES: &'static [&'static str] = &["safe", "secure"];

    pub(crate) fn parse(value: Value) -> Result<Self, OntapError> {
        let given = text("fail_mode", value)?;
        match given.as_str() {
            "safe" => Ok(Self::Safe),
            "secure" => Ok(Self::Secure),
            _ => Err(OntapError::invalid(
                "fail_mode",
                format!("\"{given}\" is an invalid value for field \"fail_mode\" (<safe|secure>)."),
            )),
        }
    }
}

/// `max_prompts`: 1 to 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct MaxPrompts(u8);

impl MaxPrompts {
    /// ONTAP's default.
    pub(crate) const DEFAULT: Self = Self(1);

    pub(crate) fn parse(value: Value) -> Result<Self, OntapError> {
        let out_of_range = |shown: String| {
            OntapError::invalid(
                "max_prompts",
                format!(
                    "Field \"max_prompts\" cannot be {shown}: the value must be in the range 1 to 3."
                ),
            )
        };
        match &value {
            Value::Number(n) => match n.as_u64() {
                Some(k @ 1..=3) => Ok(Self(k as u8)),
                _ => Err(out_of_range(n.to_string())),
            },
            _ => Err(OntapError::invalid(
                "max_prompts",
                "The field \"max_prompts\" must be an integer from 1 to 3.",
            )),
        }
    }

    /// The number.
    pub(crate) fn get(self) -> u8 {
        self.0
    }
}

/// `api_host`: a Duo API host the client can reach (plain `http://` only where allowed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct DuoApiHost(String);

impl DuoApiHost {
    pub(crate) fn parse(value: Value, allow_plain_http: bool) -> Result<Self, OntapError> {
        let given = text("api_host", value)?;
        crate::names::check_host(&given)
            .map_err(|e| OntapError::invalid("api_host", format!("Invalid \"api_host\": {e}.")))?;
        let host = ApiHost::parse(&given)
            .map_err(|e| OntapError::invalid("api_host", format!("Invalid \"api_host\": {e}.")))?;
        if host.is_plain_http() && !allow_plain_http {
            return Err(OntapError::invalid(
                "api_host",
                "Invalid \"api_host\": plain http Duo endpoints are not allowed on this server; use https.",
            ));
        }
        Ok(Self(given.trim().to_string()))
    }

    /// As given (trimmed).
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `integration_key`: 1–64 ASCII letters and digits (Duo's are `DI` + 18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct IntegrationKey(String);

impl IntegrationKey {
    pub(crate) fn parse(value: Value) -> Result<Self, OntapError> {
        let given = text("integration_key", value)?;
        if !(1..=64).contains(&given.len()) || !given.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(OntapError::invalid(
                "integration_key",
                "Invalid \"integration_key\": use the Duo integration key (1 to 64 letters and digits).",
            ));
        }
        Ok(Self(given))
    }

    /// The key.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `secret_key`: 1–256 printable ASCII characters without spaces. Never shown.
pub(crate) fn secret_key(value: Value) -> Result<SecretString, OntapError> {
    let valid = matches!(&value, Value::String(s)
        if (1..=256).contains(&s.len()) && s.chars().all(|c| c.is_ascii_graphic()));
    match value {
        Value::String(s) if valid => Ok(SecretString::from(s)),
        _ => Err(OntapError::invalid(
            "secret_key",
            "Invalid \"secret_key\": use the Duo secret key (a string of 1 to 256 printable characters without spaces).",
        )),
    }
}

/// `http_proxy`: `host:port` or `http[s]://host[:port]`, without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct HttpProxy(String);

impl HttpProxy {
    pub(crate) fn parse(given: String) -> Result<Self, OntapError> {
        let given = given.trim().to_string();
        let bad = |why: &str| {
            OntapError::invalid("http_proxy", format!("Invalid \"http_proxy\": {why}."))
        };
        if given.contains('@') {
            return Err(bad(
                "credentials in the proxy address are not supported (they would be stored and shown in clear)",
            ));
        }
        crate::names::check_host(&given).map_err(|e| bad(&e))?;
        let url = url::Url::parse(&Self::as_url(&given))
            .map_err(|_| bad("use host:port or http://host:port"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("there is no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad("give only the host and port"));
        }
        Ok(Self(given))
    }

    fn as_url(given: &str) -> String {
        if given.contains("://") {
            given.to_string()
        } else {
            format!("http://{given}")
        }
    }

    /// As given.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// As a proxy URL for the Duo client.
    pub(crate) fn url(&self) -> String {
        Self::as_url(&self.0)
    }
}

/// `comment`: up to 1024 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Comment(String);

impl Comment {
    pub(crate) fn parse(given: String) -> Result<Self, OntapError> {
        if given.chars().count() > 1024 {
            return Err(OntapError::invalid(
                "comment",
                "Invalid \"comment\": at most 1024 characters.",
            ));
        }
        Ok(Self(given))
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name of a group or a user: 1–256 characters, no control characters.
fn account_name(field: &str, given: &str) -> Result<(), OntapError> {
    if given.trim().is_empty() || given.chars().count() > 256 || has_control(given) {
        return Err(OntapError::invalid(
            field,
            format!("Invalid \"{field}\": 1 to 256 characters, not blank, no control characters."),
        ));
    }
    Ok(())
}

/// A Duo group's `name` (an AD, LDAP or local group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupName(String);

impl GroupName {
    pub(crate) fn parse(value: Value) -> Result<Self, OntapError> {
        let given = text("name", value)?;
        account_name("name", &given)?;
        Ok(Self(given))
    }

    /// The name.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `excluded_users`: distinct user names, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct ExcludedUsers(Vec<String>);

impl ExcludedUsers {
    pub(crate) fn parse(value: Value) -> Result<Self, OntapError> {
        let items = match value {
            Value::Null => return Ok(Self::default()),
            Value::Array(items) => items,
            _ => {
                return Err(OntapError::invalid(
                    "excluded_users",
                    "The field \"excluded_users\" must be an array of user names.",
                ));
            }
        };
        let mut users: Vec<String> = Vec::with_capacity(items.len());
        for item in items {
            let user = text("excluded_users", item)?;
            account_name("excluded_users", &user)?;
            if users.contains(&user) {
                return Err(OntapError::invalid(
                    "excluded_users",
                    format!("The user \"{user}\" is listed twice in \"excluded_users\"."),
                ));
            }
            users.push(user);
        }
        Ok(Self(users))
    }

    /// The names.
    pub(crate) fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret as _;
    use serde_json::json;

    #[test]
    fn bodies_must_be_objects_and_leftovers_are_unexpected() {
        assert_eq!(BodyObject::parse(b"").unwrap_err().code, "2");
        assert_eq!(BodyObject::parse(b"[1]").unwrap_err().code, "2");
        assert_eq!(BodyObject::parse(b"{\"a\":").unwrap_err().code, "2");
        let mut body = BodyObject::parse(br#"{"comment": "x", "colour": 1}"#).unwrap();
        assert_eq!(body.take("comment"), Some(json!("x")));
        let error = body.finish().unwrap_err();
        assert_eq!(
            (error.code, error.target.as_deref()),
            ("262179", Some("colour"))
        );
    }

    #[test]
    fn owners_come_nested_or_dotted_and_must_agree() {
        let mut body =
            BodyObject::parse(br#"{"owner": {"uuid": "u", "_links": {}}, "owner.name": "vs0"}"#)
                .unwrap();
        assert_eq!(
            body.take_owner().unwrap(),
            Some(OwnerRef {
                uuid: Some("u".into()),
                name: Some("vs0".into())
            })
        );
        let mut clash =
            BodyObject::parse(br#"{"owner": {"uuid": "u"}, "owner.uuid": "v"}"#).unwrap();
        assert_eq!(clash.take_owner().unwrap_err().code, "2");
        let mut extra = BodyObject::parse(br#"{"owner": {"colour": "red"}}"#).unwrap();
        assert_eq!(
            extra.take_owner().unwrap_err().message,
            "Unexpected argument \"owner.colour\"."
        );
        let mut none = BodyObject::parse(b"{}").unwrap();
        assert_eq!(none.take_owner().unwrap(), None);
    }

    #[test]
    fn enums_ranges_and_booleans_are_checked() {
        assert_eq!(FailMode::parse(json!("secure")).unwrap(), FailMode::Secure);
        assert!(FailMode::parse(json!("Secure")).is_err());
        assert_eq!(MaxPrompts::parse(json!(3)).unwrap().get(), 3);
        for bad in [json!(0), json!(4), json!(2.5), json!("2"), json!(-1)] {
            assert!(MaxPrompts::parse(bad.clone()).is_err(), "{bad}");
        }
        assert!(boolean("b", json!(1)).unwrap());
        assert!(!boolean("b", json!(false)).unwrap());
        assert!(boolean("b", json!("true")).is_err());
        assert!(boolean("b", json!(2)).is_err());
    }

    #[test]
    fn secret_keys_are_checked_without_being_echoed() {
        let secret = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";
        assert_eq!(secret_key(json!(secret)).unwrap().expose_secret(), secret);
        let error = secret_key(json!(format!("{secret} with spaces"))).unwrap_err();
        assert!(!error.message.contains(secret));
        assert!(secret_key(json!(7)).is_err());
        assert!(secret_key(json!("")).is_err());
    }

    #[test]
    fn hosts_proxies_and_keys_are_validated() {
        assert!(DuoApiHost::parse(json!("api-x.duosecurity.com"), false).is_ok());
        assert!(DuoApiHost::parse(json!("http://127.0.0.1:9"), false).is_err());
        assert!(DuoApiHost::parse(json!("http://127.0.0.1:9"), true).is_ok());
        assert!(DuoApiHost::parse(json!("https://h/path"), true).is_err());
        assert_eq!(
            HttpProxy::parse("10.0.0.1:3128".into()).unwrap().url(),
            "http://10.0.0.1:3128"
        );
        assert!(HttpProxy::parse("proxy.example:3128".into()).is_ok());
        assert!(HttpProxy::parse("http://u:p@proxy:1".into()).is_err());
        assert!(HttpProxy::parse("socks5://proxy:1".into()).is_err());
        assert!(HttpProxy::parse("http://proxy:1/path".into()).is_err());
        assert!(IntegrationKey::parse(json!("DIXXXXXXXXXXXXXXXXXX")).is_ok());
        assert!(IntegrationKey::parse(json!("DI with space")).is_err());
    }

    #[test]
    fn excluded_users_are_distinct_names() {
        assert_eq!(
            ExcludedUsers::parse(json!(["a", "DOMAIN\\b"]))
                .unwrap()
                .as_slice(),
            ["a", "DOMAIN\\b"]
        );
        assert!(ExcludedUsers::parse(json!(["a", "a"])).is_err());
        assert!(ExcludedUsers::parse(json!(["a\n"])).is_err());
        assert!(ExcludedUsers::parse(json!("a")).is_err());
        assert_eq!(
            ExcludedUsers::parse(json!(null)).unwrap(),
            ExcludedUsers::default()
        );
    }
}
