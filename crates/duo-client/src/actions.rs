//! Swimlane-shaped connector actions: Duo Admin API actions by name.
//!
//! A SOAR playbook names an action and passes a flat JSON object of inputs; it gets back
//! `{"status_code": 200, "reason": "OK", "json_body": …}` where `json_body` is Duo's `response`
//! on success and Duo's whole FAIL envelope otherwise. This module holds the catalogue
//! ([`ACTIONS`]), turns inputs into a Duo call ([`plan`]) and a raw answer into the result
//! ([`ActionResult::from_response`]). Planning does no I/O, so a bad input is refused before
//! anything is sent, and the CLI and the HTTP service share one definition.
//!
//! Inputs use snake_case keys; keys written with spaces or dashes (`"user id"`, `"User-Id"`)
//! are accepted too. `null` means "not given". Unknown keys are refused, naming the key and the
//! keys the action takes, because a typo silently ignored would change nothing in Duo while the
//! playbook believes it did. `password` on `modify_administrator` is accepted (old playbooks send
//! it) but never sent: Duo deprecated it; the plan carries a warning instead.
//!
//! Beyond the nine actions of the connector this mirrors, the catalogue has
//! `retrieve_user_by_username` (Duo's answer: a list of 0 or 1 users), `create_user`,
//! `delete_user`, `enroll_user`, `retrieve_authentication_logs` (one page; `next_offset` is the
//! previous page's two-value cursor, sent as repeated keys as Duo wants), `retrieve_telephony_logs`
//! and `retrieve_activity_logs` (the same window and paging; their `next_offset` is the previous
//! page's `"ts_ms,id"` string, sent as one value), `retrieve_administrator_logs`,
//! the phone actions (`create_phone`, `modify_phone`, `delete_phone`,
//! `dissociate_phone_from_user`, `create_activation_url`, `send_sms_activation`), the group actions
//! (`retrieve_groups`, `create_group`, `modify_group`, `delete_group`, `retrieve_group_users`,
//! `add_user_to_group`, `remove_user_from_group`),
//! `generate_bypass_codes` (whose `json_body` holds the codes,
//! shown this once), `retrieve_bypass_codes_by_user_id` and `delete_bypass_code`. Values Duo
//! would refuse are refused here first when the rule is documented: user `status` is one of
//! `active`, `disabled`, `bypass`; an e-mail has an `@`; `count` of bypass codes is 1 to 10 and
//! excludes `codes` (at most 10). [`catalogue_help`] and [`catalogue_markdown`] render the
//! catalogue for `duogate action --help` and the README.

use serde_json::{Map, Value, json};

use duo_proto::canon::path_segment;

/// The type an input must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A non-empty string (an id).
    Id,
    /// A string (may be empty: Duo clears some fields with an empty value).
    Text,
    /// A non-negative integer, as a JSON number or a string of digits.
    Count,
    /// `true`/`false`, as a JSON boolean or the strings `"true"`/`"false"`.
    Flag,
    /// Aliases: a URL-encoded string (`alias1=a&alias2=b`) or an object `{"alias1": "a"}`.
    Aliases,
    /// A string that is one of these values (case-sensitive, as Duo wants it).
    OneOf(&'static [&'static str]),
    /// An e-mail address: a string with an `@`.
    Email,
    /// An integer between the two bounds (inclusive), as a JSON number or a string of digits.
    Between(u64, u64),
    /// Bypass codes: a list of strings or one comma-separated string; at most 10.
    Codes,
    /// A list of strings, or one comma-separated string; sent as repeated keys.
    List,
    /// `true`/`false` (also `1`/`0`, as numbers or strings), sent as `"1"`/`"0"`.
    Binary,
}

impl InputKind {
    /// How the kind is described in help: `string`, `integer`, `one of: a, b`, …
    pub fn describe(&self) -> String {
        match self {
            Self::Id => "string (non-empty)".into(),
            Self::Text => "string".into(),
            Self::Count => "integer ≥ 0".into(),
            Self::Flag => "true or false".into(),
            Self::Aliases => "\"alias1=a&alias2=b\" or {\"alias1\": \"a\"}".into(),
            Self::OneOf(values) => format!("one of {}", values.join(", ")),
            Self::Email => "e-mail address".into(),
            Self::Between(low, high) => format!("integer {low} to {high}"),
            Self::Codes => "list of codes, or \"c1,c2\" (at most 10)".into(),
            Self::List => "list of strings, or \"a,b\"".into(),
            Self::Binary => "true or false (sent as 1 or 0)".into(),
        }
    }
}

const USER_STATUS: InputKind = InputKind::OneOf(&["active", "disabled", "bypass"]);

/// One input of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    /// snake_case name.
    pub name: &'static str,
    /// Expected type.
    pub kind: InputKind,
    /// Whether the action refuses to run without it.
    pub required: bool,
    /// Whether it goes in the path rather than the parameters.
    pub in_path: bool,
}

const fn input(name: &'static str, kind: InputKind, required: bool) -> Input {
    Input {
        name,
        kind,
        required,
        in_path: false,
    }
}

const fn path_id(name: &'static str) -> Input {
    Input {
        name,
        kind: InputKind::Id,
        required: true,
        in_path: true,
    }
}

/// One action of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// Action name, e.g. `retrieve_users`.
    pub name: &'static str,
    /// One-line description.
    pub summary: &'static str,
    /// HTTP method of the Duo call.
    pub method: &'static str,
    /// Path template; `{user_id}`-style placeholders are filled from path inputs.
    pub path: &'static str,
    /// Accepted inputs.
    pub inputs: &'static [Input],
}

/// Inputs of the telephony and activity logs (v2): a window in Unix ms, a page size, an order
/// and the previous page's `metadata.next_offset` (one `"ts_ms,id"` string, sent as one value).
const V2_ITEM_LOG: [Input; 5] = [
    input("mintime", InputKind::Count, true),
    input("maxtime", InputKind::Count, true),
    input("limit", InputKind::Between(1, 1000), false),
    input("sort", InputKind::OneOf(&["ts:asc", "ts:desc"]), false),
    input("next_offset", InputKind::List, false),
];

const PAGING: [Input; 2] = [
    input("limit", InputKind::Count, false),
    input("offset", InputKind::Count, false),
];

/// Every action, sorted by name: the nine of the connector this mirrors, and the user and
/// bypass-code actions SOAR playbooks need besides.
pub const ACTIONS: &[Action] = &[
    Action {
        name: "add_user_to_group",
        summary: "Add a user to a group",
        method: "POST",
        path: "/admin/v1/users/{user_id}/groups",
        inputs: &[path_id("user_id"), input("group_id", InputKind::Id, true)],
    },
    Action {
        name: "associate_phone_with_user",
        summary: "Associate a phone with a user",
        method: "POST",
        path: "/admin/v1/users/{user_id}/phones",
        inputs: &[path_id("user_id"), input("phone_id", InputKind::Id, true)],
    },
    Action {
        name: "create_activation_url",
        summary: "A Duo Mobile activation link for a smartphone",
        method: "POST",
        path: "/admin/v1/phones/{phone_id}/activation_url",
        inputs: &[
            path_id("phone_id"),
            input("valid_secs", InputKind::Count, false),
            input("install", InputKind::Binary, false),
        ],
    },
    Action {
        name: "create_group",
        summary: "Create a group",
        method: "POST",
        path: "/admin/v1/groups",
        inputs: &[
            input("name", InputKind::Id, true),
            input("desc", InputKind::Text, false),
            input("status", USER_STATUS, false),
        ],
    },
    Action {
        name: "create_phone",
        summary: "Create a phone",
        method: "POST",
        path: "/admin/v1/phones",
        inputs: &[
            input("number", InputKind::Text, false),
            input("extension", InputKind::Text, false),
            input("name", InputKind::Text, false),
            input("type", InputKind::Text, false),
            input("platform", InputKind::Text, false),
            input("predelay", InputKind::Count, false),
            input("postdelay", InputKind::Count, false),
        ],
    },
    Action {
        name: "create_user",
        summary: "Create a user",
        method: "POST",
        path: "/admin/v1/users",
        inputs: &[
            input("username", InputKind::Id, true),
            input("realname", InputKind::Text, false),
            input("status", USER_STATUS, false),
            input("notes", InputKind::Text, false),
            input("email", InputKind::Text, false),
            input("firstname", InputKind::Text, false),
            input("lastname", InputKind::Text, false),
            input("alias1", InputKind::Text, false),
            input("alias2", InputKind::Text, false),
            input("alias3", InputKind::Text, false),
            input("alias4", InputKind::Text, false),
            input("aliases", InputKind::Aliases, false),
        ],
    },
    Action {
        name: "delete_bypass_code",
        summary: "Delete one bypass code",
        method: "DELETE",
        path: "/admin/v1/bypass_codes/{bypass_code_id}",
        inputs: &[path_id("bypass_code_id")],
    },
    Action {
        name: "delete_group",
        summary: "Delete a group",
        method: "DELETE",
        path: "/admin/v1/groups/{group_id}",
        inputs: &[path_id("group_id")],
    },
    Action {
        name: "delete_phone",
        summary: "Delete a phone (it leaves its users)",
        method: "DELETE",
        path: "/admin/v1/phones/{phone_id}",
        inputs: &[path_id("phone_id")],
    },
    Action {
        name: "delete_user",
        summary: "Delete a user",
        method: "DELETE",
        path: "/admin/v1/users/{user_id}",
        inputs: &[path_id("user_id")],
    },
    Action {
        name: "dissociate_phone_from_user",
        summary: "Remove a phone from a user (the phone stays)",
        method: "DELETE",
        path: "/admin/v1/users/{user_id}/phones/{phone_id}",
        inputs: &[path_id("user_id"), path_id("phone_id")],
    },
    Action {
        name: "enroll_user",
        summary: "Create a user and e-mail them an enrollment link",
        method: "POST",
        path: "/admin/v1/users/enroll",
        inputs: &[
            input("username", InputKind::Id, true),
            input("email", InputKind::Email, true),
            input("valid_secs", InputKind::Count, false),
        ],
    },
    Action {
        name: "generate_bypass_codes",
        summary: "Generate bypass codes for a user (returned this once)",
        method: "POST",
        path: "/admin/v1/users/{user_id}/bypass_codes",
        inputs: &[
            path_id("user_id"),
            input("count", InputKind::Between(1, 10), false),
            input("codes", InputKind::Codes, false),
            input("valid_secs", InputKind::Count, false),
            input("reuse_count", InputKind::Count, false),
            input("preserve_existing", InputKind::Flag, false),
        ],
    },
    Action {
        name: "modify_administrator",
        summary: "Change an administrator's name, phone, status or password-change flag",
        method: "POST",
        path: "/admin/v1/admins/{admin_id}",
        inputs: &[
            path_id("admin_id"),
            input("name", InputKind::Text, false),
            input("phone", InputKind::Text, false),
            input("password", InputKind::Text, false),
            input("password_change_required", InputKind::Flag, false),
            input("status", InputKind::Text, false),
        ],
    },
    Action {
        name: "modify_group",
        summary: "Change a group's name, description or status",
        method: "POST",
        path: "/admin/v1/groups/{group_id}",
        inputs: &[
            path_id("group_id"),
            input("name", InputKind::Id, false),
            input("desc", InputKind::Text, false),
            input("status", USER_STATUS, false),
        ],
    },
    Action {
        name: "modify_phone",
        summary: "Change a phone's number, name, type, platform or delays",
        method: "POST",
        path: "/admin/v1/phones/{phone_id}",
        inputs: &[
            path_id("phone_id"),
            input("number", InputKind::Text, false),
            input("extension", InputKind::Text, false),
            input("name", InputKind::Text, false),
            input("type", InputKind::Text, false),
            input("platform", InputKind::Text, false),
            input("predelay", InputKind::Count, false),
            input("postdelay", InputKind::Count, false),
        ],
    },
    Action {
        name: "remove_user_from_group",
        summary: "Remove a user from a group",
        method: "DELETE",
        path: "/admin/v1/users/{user_id}/groups/{group_id}",
        inputs: &[path_id("user_id"), path_id("group_id")],
    },
    Action {
        name: "retrieve_activity_logs",
        summary: "One page of the activity log (v2) between mintime and maxtime (Unix ms)",
        method: "GET",
        path: "/admin/v2/logs/activity",
        inputs: &V2_ITEM_LOG,
    },
    Action {
        name: "retrieve_administrator_logs",
        summary: "Administrator log entries from mintime (Unix seconds) on, oldest first, at most 1000",
        method: "GET",
        path: "/admin/v1/logs/administrator",
        inputs: &[input("mintime", InputKind::Count, false)],
    },
    Action {
        name: "retrieve_administrators",
        summary: "List administrators (one page)",
        method: "GET",
        path: "/admin/v1/admins",
        inputs: &PAGING,
    },
    Action {
        name: "retrieve_authentication_logs",
        summary: "One page of the authentication log (v2) between mintime and maxtime (Unix ms)",
        method: "GET",
        path: "/admin/v2/logs/authentication",
        inputs: &[
            input("mintime", InputKind::Count, true),
            input("maxtime", InputKind::Count, true),
            input("limit", InputKind::Between(1, 1000), false),
            input("sort", InputKind::OneOf(&["ts:asc", "ts:desc"]), false),
            input("next_offset", InputKind::List, false),
            input("users", InputKind::List, false),
            input("applications", InputKind::List, false),
            input("results", InputKind::List, false),
        ],
    },
    Action {
        name: "retrieve_bypass_codes",
        summary: "List bypass codes' metadata (one page; codes are never returned)",
        method: "GET",
        path: "/admin/v1/bypass_codes",
        inputs: &PAGING,
    },
    Action {
        name: "retrieve_bypass_codes_by_user_id",
        summary: "List a user's bypass codes' metadata (one page)",
        method: "GET",
        path: "/admin/v1/users/{user_id}/bypass_codes",
        inputs: &[
            path_id("user_id"),
            input("limit", InputKind::Count, false),
            input("offset", InputKind::Count, false),
        ],
    },
    Action {
        name: "retrieve_group_users",
        summary: "List a group's members (one page)",
        method: "GET",
        path: "/admin/v2/groups/{group_id}/users",
        inputs: &[
            path_id("group_id"),
            input("limit", InputKind::Count, false),
            input("offset", InputKind::Count, false),
        ],
    },
    Action {
        name: "retrieve_groups",
        summary: "List groups (one page)",
        method: "GET",
        path: "/admin/v1/groups",
        inputs: &PAGING,
    },
    Action {
        name: "retrieve_phones",
        summary: "List phones (one page)",
        method: "GET",
        path: "/admin/v1/phones",
        inputs: &PAGING,
    },
    Action {
        name: "retrieve_phones_by_user_id",
        summary: "List a user's phones",
        method: "GET",
        path: "/admin/v1/users/{user_id}/phones",
        inputs: &[path_id("user_id")],
    },
    Action {
        name: "retrieve_telephony_logs",
        summary: "One page of the telephony log (v2) between mintime and maxtime (Unix ms)",
        method: "GET",
        path: "/admin/v2/logs/telephony",
        inputs: &V2_ITEM_LOG,
    },
    Action {
        name: "retrieve_user_by_user_id",
        summary: "Get one user",
        method: "GET",
        path: "/admin/v1/users/{user_id}",
        inputs: &[path_id("user_id")],
    },
    Action {
        name: "retrieve_user_by_username",
        summary: "Find a user by username or alias (a list of 0 or 1 users)",
        method: "GET",
        path: "/admin/v1/users",
        inputs: &[input("username", InputKind::Id, true)],
    },
    Action {
        name: "retrieve_users",
        summary: "List users (one page)",
        method: "GET",
        path: "/admin/v1/users",
        inputs: &PAGING,
    },
    Action {
        name: "send_sms_activation",
        summary: "Text a Duo Mobile activation link to a mobile phone",
        method: "POST",
        path: "/admin/v1/phones/{phone_id}/send_sms_activation",
        inputs: &[
            path_id("phone_id"),
            input("valid_secs", InputKind::Count, false),
            input("install", InputKind::Binary, false),
            input("installation_msg", InputKind::Text, false),
            input("activation_msg", InputKind::Text, false),
        ],
    },
    Action {
        name: "update_user",
        summary: "Change a user's profile, status or aliases",
        method: "POST",
        path: "/admin/v1/users/{user_id}",
        inputs: &[
            path_id("user_id"),
            input("username", InputKind::Text, false),
            input("realname", InputKind::Text, false),
            input("status", USER_STATUS, false),
            input("notes", InputKind::Text, false),
            input("email", InputKind::Text, false),
            input("firstname", InputKind::Text, false),
            input("lastname", InputKind::Text, false),
            input("alias1", InputKind::Text, false),
            input("alias2", InputKind::Text, false),
            input("alias3", InputKind::Text, false),
            input("alias4", InputKind::Text, false),
            input("aliases", InputKind::Aliases, false),
        ],
    },
];

/// Looks an action up by name.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// Why inputs were refused. Nothing has been sent when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionInputError {
    /// No action has this name.
    #[error("unknown action {name:?}; actions are: {known}")]
    UnknownAction {
        /// The name given.
        name: String,
        /// Comma-separated list of valid names.
        known: String,
    },
    /// The input is not a JSON object.
    #[error("input must be a JSON object, got {got}")]
    NotAnObject {
        /// What was given (a JSON type name).
        got: &'static str,
    },
    /// A required input is absent or null.
    #[error("missing required input {field:?} for action {action}")]
    Missing {
        /// snake_case field name.
        field: &'static str,
        /// Action name.
        action: &'static str,
    },
    /// An input has the wrong type or an invalid value.
    #[error("input {field:?} {problem}")]
    Invalid {
        /// snake_case field name.
        field: String,
        /// What is wrong, e.g. "must be a non-negative integer, got \"ten\"".
        problem: String,
    },
    /// An input the action does not take.
    #[error("unknown input {field:?} for action {action}; it takes: {known}")]
    UnknownInput {
        /// The key as given.
        field: String,
        /// Action name.
        action: &'static str,
        /// Comma-separated list of valid inputs.
        known: String,
    },
}

/// A Duo call ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionCall {
    /// The action.
    pub action: &'static Action,
    /// HTTP method.
    pub method: &'static str,
    /// Path with ids filled in (percent-encoded).
    pub path: String,
    /// Parameters (query for GET, body for POST).
    pub params: Map<String, Value>,
    /// Warnings for the operator (e.g. a deprecated input that was dropped).
    pub warnings: Vec<String>,
}

/// Normalises an input key: lower-case, spaces and dashes become underscores.
pub fn normalise_key(key: &str) -> String {
    key.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid(field: &str, problem: String) -> ActionInputError {
    ActionInputError::Invalid {
        field: field.to_string(),
        problem,
    }
}

/// Checks one value against its kind and returns what is sent.
fn coerce(spec: &Input, value: &Value) -> Result<Value, ActionInputError> {
    match (spec.kind, value) {
        (InputKind::Id, Value::String(s)) if !s.trim().is_empty() => Ok(json!(s.trim())),
        (InputKind::Id, Value::String(_)) => Err(invalid(spec.name, "must not be empty".into())),
        (InputKind::Id, other) => Err(invalid(
            spec.name,
            format!("must be a string id, got {}", type_name(other)),
        )),
        (InputKind::Text, Value::String(s)) => Ok(json!(s)),
        (InputKind::Text, other) => Err(invalid(
            spec.name,
            format!("must be a string, got {}", type_name(other)),
        )),
        (InputKind::Count, Value::Number(n)) => match n.as_u64() {
            Some(n) => Ok(json!(n.to_string())),
            None => Err(invalid(
                spec.name,
                format!("must be a non-negative integer, got {n}"),
            )),
        },
        (InputKind::Count, Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(n) => Ok(json!(n.to_string())),
            Err(_) => Err(invalid(
                spec.name,
                format!("must be a non-negative integer, got {s:?}"),
            )),
        },
        (InputKind::Count, other) => Err(invalid(
            spec.name,
            format!("must be a non-negative integer, got {}", type_name(other)),
        )),
        (InputKind::Flag, Value::Bool(b)) => Ok(json!(b)),
        (InputKind::Flag, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(json!(true)),
            "false" => Ok(json!(false)),
            _ => Err(invalid(
                spec.name,
                format!("must be true or false, got {s:?}"),
            )),
        },
        (InputKind::Flag, other) => Err(invalid(
            spec.name,
            format!("must be true or false, got {}", type_name(other)),
        )),
        (InputKind::Aliases, Value::String(s)) => Ok(json!(s)),
        (InputKind::Aliases, Value::Object(map)) => {
            let mut pairs = duo_proto::Params::new();
            for (k, v) in map {
                let Value::String(v) = v else {
                    return Err(invalid(
                        spec.name,
                        format!("value of {k:?} must be a string, got {}", type_name(v)),
                    ));
                };
                pairs.push(k.clone(), v.clone());
            }
            Ok(json!(duo_proto::canon::form_urlencode(&pairs)))
        }
        (InputKind::OneOf(values), Value::String(s)) if values.contains(&s.as_str()) => {
            Ok(json!(s))
        }
        (InputKind::OneOf(values), Value::String(s)) => Err(invalid(
            spec.name,
            format!("must be one of {}, got {s:?}", values.join(", ")),
        )),
        (InputKind::OneOf(values), other) => Err(invalid(
            spec.name,
            format!(
                "must be one of {}, got {}",
                values.join(", "),
                type_name(other)
            ),
        )),
        (InputKind::Email, Value::String(s)) if s.trim().contains('@') => Ok(json!(s.trim())),
        (InputKind::Email, Value::String(s)) => Err(invalid(
            spec.name,
            format!("must be an e-mail address, got {s:?}"),
        )),
        (InputKind::Email, other) => Err(invalid(
            spec.name,
            format!("must be an e-mail address, got {}", type_name(other)),
        )),
        (InputKind::Between(low, high), value) => {
            let count = coerce(
                &Input {
                    kind: InputKind::Count,
                    ..*spec
                },
                value,
            )?;
            let n: u64 = count.as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            if (low..=high).contains(&n) {
                Ok(count)
            } else {
                Err(invalid(
                    spec.name,
                    format!("must be between {low} and {high}, got {n}"),
                ))
            }
        }
        (InputKind::Codes, value) => {
            let codes: Vec<String> = match value {
                Value::String(s) => s.split(',').map(|c| c.trim().to_string()).collect(),
                Value::Array(items) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.trim().to_string()),
                        other => Err(invalid(
                            spec.name,
                            format!("must hold strings, got {}", type_name(other)),
                        )),
                    })
                    .collect::<Result<_, _>>()?,
                other => {
                    return Err(invalid(
                        spec.name,
                        format!(
                            "must be a list of codes or a comma-separated string, got {}",
                            type_name(other)
                        ),
                    ));
                }
            };
            if codes.is_empty() || codes.iter().any(String::is_empty) {
                return Err(invalid(spec.name, "must not hold an empty code".into()));
            }
            if codes.len() > 10 {
                return Err(invalid(
                    spec.name,
                    format!("holds {} codes; Duo takes at most 10", codes.len()),
                ));
            }
            Ok(json!(codes.join(",")))
        }
        (InputKind::Binary, value) => {
            let on = match value {
                Value::Bool(b) => Some(*b),
                Value::Number(n) => match n.as_u64() {
                    Some(1) => Some(true),
                    Some(0) => Some(false),
                    _ => None,
                },
                Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => None,
                },
                _ => None,
            };
            match on {
                Some(on) => Ok(json!(if on { "1" } else { "0" })),
                None => Err(invalid(
                    spec.name,
                    format!("must be true or false, got {value}"),
                )),
            }
        }
        (InputKind::List, Value::String(s)) => Ok(json!(
            s.split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        )),
        (InputKind::List, Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(json!(s)),
                Value::Number(n) => Ok(json!(n.to_string())),
                other => Err(invalid(
                    spec.name,
                    format!("must hold strings, got {}", type_name(other)),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (InputKind::List, other) => Err(invalid(
            spec.name,
            format!(
                "must be a list of strings or a comma-separated string, got {}",
                type_name(other)
            ),
        )),
        (InputKind::Aliases, other) => Err(invalid(
            spec.name,
            format!(
                "must be URL-encoded pairs (\"alias1=a&alias2=b\") or an object, got {}",
                type_name(other)
            ),
        )),
    }
}

/// Validates `input` for the action `name` and builds the Duo call.
pub fn plan(name: &str, input: &Value) -> Result<ActionCall, ActionInputError> {
    let action = find(name).ok_or_else(|| ActionInputError::UnknownAction {
        name: name.to_string(),
        known: ACTIONS
            .iter()
            .map(|a| a.name)
            .collect::<Vec<_>>()
            .join(", "),
    })?;
    let given = match input {
        Value::Object(map) => map,
        Value::Null => &Map::new(),
        other => {
            return Err(ActionInputError::NotAnObject {
                got: type_name(other),
            });
        }
    };
    let known = || {
        action
            .inputs
            .iter()
            .map(|i| i.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut values: Map<String, Value> = Map::new();
    for (key, value) in given {
        let normalised = normalise_key(key);
        if !action.inputs.iter().any(|i| i.name == normalised) {
            return Err(ActionInputError::UnknownInput {
                field: key.clone(),
                action: action.name,
                known: known(),
            });
        }
        if values.contains_key(&normalised) {
            return Err(invalid(
                &normalised,
                "is given twice (under different spellings)".into(),
            ));
        }
        if !value.is_null() {
            values.insert(normalised, value.clone());
        }
    }
    let mut path = action.path.to_string();
    let mut params = Map::new();
    let mut warnings = Vec::new();
    for spec in action.inputs {
        let Some(value) = values.get(spec.name) else {
            if spec.required {
                return Err(ActionInputError::Missing {
                    field: spec.name,
                    action: action.name,
                });
            }
            continue;
        };
        let coerced = coerce(spec, value)?;
        if spec.in_path {
            let id = coerced.as_str().unwrap_or_default();
            path = path.replace(&format!("{{{}}}", spec.name), &path_segment(id));
        } else if spec.name == "password" {
            warnings.push(
                "input \"password\" is deprecated by Duo and was not sent; administrators set \
                 their own passwords"
                    .to_string(),
            );
        } else {
            params.insert(spec.name.to_string(), coerced);
        }
    }
    if params.contains_key("aliases")
        && ["alias1", "alias2", "alias3", "alias4"]
            .iter()
            .any(|a| params.contains_key(*a))
    {
        return Err(invalid(
            "aliases",
            "cannot be combined with alias1..alias4 (Duo treats them as exclusive)".into(),
        ));
    }
    let number = |key: &str| {
        params
            .get(key)
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<u64>().ok())
    };
    if let (Some(min), Some(max)) = (number("mintime"), number("maxtime"))
        && max < min
    {
        return Err(invalid(
            "maxtime",
            format!("must not be before mintime ({max} < {min})"),
        ));
    }
    if let Some(next) = params.get("next_offset").and_then(Value::as_array)
        && next.len() != 2
    {
        return Err(invalid(
            "next_offset",
            "must be the two values of the previous page's metadata.next_offset".into(),
        ));
    }
    if !action.path.ends_with("/logs/authentication")
        && let Some(next) = params.get("next_offset").and_then(Value::as_array)
    {
        // The telephony and activity logs name a page with one "ts_ms,id" string.
        let joined: Vec<&str> = next.iter().filter_map(Value::as_str).collect();
        let joined = joined.join(",");
        params.insert("next_offset".into(), json!(joined));
    }
    for (field, placeholder) in [
        ("activation_msg", "<acturl>"),
        ("installation_msg", "<insturl>"),
    ] {
        if let Some(text) = params.get(field).and_then(Value::as_str)
            && !text.contains(placeholder)
        {
            return Err(invalid(
                field,
                format!("must hold {placeholder}, where Duo puts the link"),
            ));
        }
    }
    if params.contains_key("count") && params.contains_key("codes") {
        return Err(invalid(
            "codes",
            "cannot be combined with count (Duo treats them as exclusive)".into(),
        ));
    }
    Ok(ActionCall {
        action,
        method: action.method,
        path,
        params,
        warnings,
    })
}

fn input_names(action: &Action) -> String {
    action
        .inputs
        .iter()
        .map(|i| {
            if i.required {
                format!("{}*", i.name)
            } else {
                i.name.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The catalogue as `duogate action --help` shows it: one action a line with its inputs
/// (`*` marks the required ones).
pub fn catalogue_help() -> String {
    let width = ACTIONS.iter().map(|a| a.name.len()).max().unwrap_or(0);
    let mut text = String::from(
        "Actions and their inputs (* required; keys may also be written with spaces, e.g. \"user id\"):\n",
    );
    for action in ACTIONS {
        text.push_str(&format!(
            "  {:<width$}  {}\n",
            action.name,
            input_names(action)
        ));
    }
    text
}

/// One action's inputs as `duogate action NAME --help` shows them.
pub fn action_help(action: &Action) -> String {
    let mut text = format!(
        "{}: {}\nDuo call: {} {}\n\nInputs (* required):\n",
        action.name, action.summary, action.method, action.path
    );
    let width = action
        .inputs
        .iter()
        .map(|i| i.name.len())
        .max()
        .unwrap_or(0)
        + 1;
    for input in action.inputs {
        let name = if input.required {
            format!("{}*", input.name)
        } else {
            input.name.to_string()
        };
        text.push_str(&format!("  {name:<width$}  {}\n", input.kind.describe()));
    }
    if action.inputs.is_empty() {
        text.push_str("  (none)\n");
    }
    text
}

/// The catalogue as a Markdown table (the README's section between its markers).
pub fn catalogue_markdown() -> String {
    let mut text = String::from("| action | Duo call | inputs (* required) |\n|---|---|---|\n");
    for action in ACTIONS {
        let inputs = action
            .inputs
            .iter()
            .map(|i| {
                let star = if i.required { "*" } else { "" };
                format!("`{}`{star}", i.name)
            })
            .collect::<Vec<_>>()
            .join(", ");
        text.push_str(&format!(
            "| `{}` | `{} {}` | {} |\n",
            action.name, action.method, action.path, inputs
        ));
    }
    text
}

/// The Swimlane-shaped result of one action.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActionResult {
    /// Duo's HTTP status.
    pub status_code: u16,
    /// Duo's HTTP reason phrase.
    pub reason: String,
    /// Duo's `response` on success; the whole FAIL envelope (or the raw text) otherwise.
    pub json_body: Value,
}

impl ActionResult {
    /// Builds the result from Duo's raw answer.
    pub fn from_response(status_code: u16, reason: &str, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let json_body = match parsed {
            Some(Value::Object(mut map))
                if status_code == 200 && map.get("stat") == Some(&json!("OK")) =>
            {
                map.remove("response").unwrap_or(Value::Null)
            }
            Some(other) => other,
            None => Value::String(String::from_utf8_lossy(body).into_owned()),
        };
        Self {
            status_code,
            reason: reason.to_string(),
            json_body,
        }
    }

    /// Whether Duo accepted the call.
    pub fn is_success(&self) -> bool {
        self.status_code == 200
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_and_path_inputs_fill_the_path() {
        assert_eq!(ACTIONS.len(), 33);
        assert!(ACTIONS.windows(2).all(|w| w[0].name < w[1].name));
        for action in ACTIONS {
            for spec in action.inputs.iter().filter(|i| i.in_path) {
                assert!(action.path.contains(&format!("{{{}}}", spec.name)));
            }
        }
    }

    #[test]
    fn keys_with_spaces_are_accepted() {
        let call = plan(
            "associate_phone_with_user",
            &json!({"user id": "DU1", "Phone-ID": "DP1"}),
        )
        .unwrap();
        assert_eq!(call.path, "/admin/v1/users/DU1/phones");
        assert_eq!(
            call.params,
            json!({"phone_id": "DP1"}).as_object().cloned().unwrap()
        );
    }

    #[test]
    fn missing_required_input_names_the_field() {
        let err = plan("associate_phone_with_user", &json!({"user_id": "DU1"})).unwrap_err();
        assert_eq!(
            err,
            ActionInputError::Missing {
                field: "phone_id",
                action: "associate_phone_with_user"
            }
        );
        assert!(err.to_string().contains("phone_id"));
        let null = plan("retrieve_user_by_user_id", &json!({"user_id": null})).unwrap_err();
        assert!(matches!(
            null,
            ActionInputError::Missing {
                field: "user_id",
                ..
            }
        ));
    }

    #[test]
    fn wrong_types_name_the_field() {
        for (action, input, field) in [
            ("retrieve_users", json!({"limit": "ten"}), "limit"),
            ("retrieve_users", json!({"offset": -1}), "offset"),
            ("retrieve_user_by_user_id", json!({"user_id": 5}), "user_id"),
            (
                "retrieve_user_by_user_id",
                json!({"user_id": "  "}),
                "user_id",
            ),
            (
                "update_user",
                json!({"user_id": "DU1", "email": 3}),
                "email",
            ),
            (
                "modify_administrator",
                json!({"admin_id": "DE1", "password_change_required": "yes"}),
                "password_change_required",
            ),
        ] {
            match plan(action, &input) {
                Err(ActionInputError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{action} {input}: expected Invalid({field}), got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_inputs_and_actions_are_refused() {
        assert!(matches!(
            plan("retrieve_users", &json!({"limt": 5})),
            Err(ActionInputError::UnknownInput { .. })
        ));
        assert!(matches!(
            plan("delete_everything", &json!({})),
            Err(ActionInputError::UnknownAction { .. })
        ));
        assert!(matches!(
            plan("retrieve_users", &json!([1])),
            Err(ActionInputError::NotAnObject { got: "an array" })
        ));
    }

    #[test]
    fn password_is_accepted_but_never_sent() {
        let call = plan(
            "modify_administrator",
            &json!({"admin_id": "DE1", "password": "hunter2", "password_change_required": "true"}),
        )
        .unwrap();
        assert!(!call.params.contains_key("password"));
        assert_eq!(call.params["password_change_required"], json!(true));
        assert_eq!(call.warnings.len(), 1);
        assert!(!call.warnings[0].contains("hunter2"));
    }

    #[test]
    fn counts_are_sent_as_strings_and_aliases_objects_are_encoded() {
        let call = plan("retrieve_users", &json!({"limit": 10, "offset": "20"})).unwrap();
        assert_eq!(call.params["limit"], json!("10"));
        assert_eq!(call.params["offset"], json!("20"));
        let call = plan(
            "update_user",
            &json!({"user_id": "DU1", "aliases": {"alias1": "a b", "alias2": "c"}}),
        )
        .unwrap();
        assert_eq!(call.params["aliases"], json!("alias1=a+b&alias2=c"));
        assert!(matches!(
            plan(
                "update_user",
                &json!({"user_id": "DU1", "aliases": "alias1=x", "alias2": "y"})
            ),
            Err(ActionInputError::Invalid { .. })
        ));
    }

    #[test]
    fn path_ids_are_percent_encoded() {
        let call = plan("retrieve_user_by_user_id", &json!({"user_id": "../admins"})).unwrap();
        assert_eq!(call.path, "/admin/v1/users/..%2Fadmins");
    }

    #[test]
    fn results_unwrap_ok_envelopes_and_keep_fail_envelopes() {
        let ok = ActionResult::from_response(200, "OK", br#"{"stat": "OK", "response": [1]}"#);
        assert_eq!(ok.json_body, json!([1]));
        let fail = ActionResult::from_response(
            404,
            "Not Found",
            br#"{"code": 40401, "message": "Resource not found", "stat": "FAIL"}"#,
        );
        assert_eq!(fail.json_body["code"], json!(40401));
        assert!(!fail.is_success());
        let text = ActionResult::from_response(502, "Bad Gateway", b"<html>");
        assert_eq!(text.json_body, json!("<html>"));
    }

    #[test]
    fn new_user_and_bypass_code_actions_validate_before_sending() {
        for (action, input, field) in [
            ("create_user", json!({}), "username"),
            (
                "create_user",
                json!({"username": "a", "status": "Active"}),
                "status",
            ),
            (
                "enroll_user",
                json!({"username": "a", "email": "nobody"}),
                "email",
            ),
            ("enroll_user", json!({"username": "a"}), "email"),
            (
                "retrieve_user_by_username",
                json!({"username": ""}),
                "username",
            ),
            (
                "generate_bypass_codes",
                json!({"user_id": "DU1", "count": 11}),
                "count",
            ),
            (
                "generate_bypass_codes",
                json!({"user_id": "DU1", "count": 0}),
                "count",
            ),
            (
                "generate_bypass_codes",
                json!({"user_id": "DU1", "codes": [1]}),
                "codes",
            ),
            (
                "generate_bypass_codes",
                json!({"user_id": "DU1", "count": 2, "codes": "1,2"}),
                "codes",
            ),
            ("delete_bypass_code", json!({}), "bypass_code_id"),
        ] {
            let err = plan(action, &input).unwrap_err();
            assert!(err.to_string().contains(field), "{action} {input}: {err}");
        }
        let call = plan(
            "generate_bypass_codes",
            &json!({"user_id": "DU1", "codes": ["111", " 222"], "reuse_count": 0, "preserve_existing": "true"}),
        )
        .unwrap();
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, "/admin/v1/users/DU1/bypass_codes");
        assert_eq!(call.params["codes"], json!("111,222"));
        assert_eq!(call.params["reuse_count"], json!("0"));
        assert_eq!(call.params["preserve_existing"], json!(true));
        let delete = plan("delete_user", &json!({"user_id": "DU1"})).unwrap();
        assert_eq!(
            (delete.method, delete.path.as_str()),
            ("DELETE", "/admin/v1/users/DU1")
        );
        let find = plan(
            "retrieve_user_by_username",
            &json!({"username": "jo smith"}),
        )
        .unwrap();
        assert_eq!(find.params["username"], json!("jo smith"));
    }

    #[test]
    fn help_and_markdown_name_every_action_and_input() {
        let help = catalogue_help();
        let markdown = catalogue_markdown();
        for action in ACTIONS {
            assert!(help.contains(action.name) && markdown.contains(action.name));
            let one = action_help(action);
            for input in action.inputs {
                assert!(one.contains(input.name), "{}: {}", action.name, input.name);
            }
        }
        assert!(action_help(find("create_user").unwrap()).contains("username*"));
    }

    #[test]
    fn log_actions_send_lists_as_repeated_values_and_check_the_window() {
        let call = plan(
            "retrieve_authentication_logs",
            &json!({"mintime": 1000, "maxtime": "2000", "next_offset": ["1500", "tx-1"], "results": "denied,fraud"}),
        )
        .unwrap();
        assert_eq!(call.params["next_offset"], json!(["1500", "tx-1"]));
        assert_eq!(call.params["results"], json!(["denied", "fraud"]));
        for (input, field) in [
            (json!({"maxtime": 5}), "mintime"),
            (json!({"mintime": 5, "maxtime": 4}), "maxtime"),
            (json!({"mintime": 1, "maxtime": 2, "limit": 1001}), "limit"),
            (json!({"mintime": 1, "maxtime": 2, "sort": "asc"}), "sort"),
            (
                json!({"mintime": 1, "maxtime": 2, "next_offset": "x"}),
                "next_offset",
            ),
        ] {
            let err = plan("retrieve_authentication_logs", &input).unwrap_err();
            assert!(err.to_string().contains(field), "{input}: {err}");
        }
        let admin = plan(
            "retrieve_administrator_logs",
            &json!({"mintime": "1700000000"}),
        )
        .unwrap();
        assert_eq!(admin.params["mintime"], json!("1700000000"));
    }

    #[test]
    fn sms_activation_sends_install_as_one_or_zero_and_needs_the_link_placeholders() {
        let call = plan(
            "send_sms_activation",
            &json!({"phone_id": "DP1", "install": true, "valid_secs": 60,
                    "activation_msg": "Go: <acturl>", "installation_msg": "Get: <insturl>"}),
        )
        .unwrap();
        assert_eq!(
            (call.method, call.path.as_str()),
            ("POST", "/admin/v1/phones/DP1/send_sms_activation")
        );
        assert_eq!(call.params["install"], json!("1"));
        assert_eq!(call.params["valid_secs"], json!("60"));
        for (input, field) in [
            (json!({}), "phone_id"),
            (json!({"phone_id": "DP1", "install": "maybe"}), "install"),
            (json!({"phone_id": "DP1", "valid_secs": -5}), "valid_secs"),
            (
                json!({"phone_id": "DP1", "activation_msg": "no link"}),
                "activation_msg",
            ),
            (
                json!({"phone_id": "DP1", "installation_msg": "no"}),
                "installation_msg",
            ),
        ] {
            let err = plan("send_sms_activation", &input).unwrap_err();
            assert!(err.to_string().contains(field), "{input}: {err}");
        }
    }

    #[test]
    fn telephony_and_activity_log_actions_check_the_window_and_send_one_cursor() {
        for name in ["retrieve_telephony_logs", "retrieve_activity_logs"] {
            let call = plan(
                name,
                &json!({"mintime": 1000, "maxtime": 2000, "limit": 5, "next_offset": "1500,id-1"}),
            )
            .unwrap();
            assert_eq!(call.method, "GET");
            assert_eq!(call.params["next_offset"], json!("1500,id-1"));
            assert_eq!(call.params["limit"], json!("5"));
            let listed = plan(
                name,
                &json!({"mintime": 1, "maxtime": 2, "next_offset": ["1500", "id-1"]}),
            )
            .unwrap();
            assert_eq!(listed.params["next_offset"], json!("1500,id-1"));
            for (input, field) in [
                (json!({"maxtime": 5}), "mintime"),
                (json!({"mintime": 5}), "maxtime"),
                (json!({"mintime": 5, "maxtime": 4}), "maxtime"),
                (json!({"mintime": 1, "maxtime": 2, "limit": 0}), "limit"),
                (
                    json!({"mintime": 1, "maxtime": 2, "next_offset": "x"}),
                    "next_offset",
                ),
                (json!({"mintime": 1, "maxtime": 2, "users": "a"}), "users"),
            ] {
                let err = plan(name, &input).unwrap_err();
                assert!(err.to_string().contains(field), "{name} {input}: {err}");
            }
        }
    }

    #[test]
    fn phone_actions_fill_both_ids_and_send_install_as_one_or_zero() {
        let call = plan(
            "dissociate_phone_from_user",
            &json!({"user_id": "DU1", "phone_id": "DP/2"}),
        )
        .unwrap();
        assert_eq!(
            (call.method, call.path.as_str()),
            ("DELETE", "/admin/v1/users/DU1/phones/DP%2F2")
        );
        let link = plan(
            "create_activation_url",
            &json!({"phone_id": "DP1", "install": true, "valid_secs": 60}),
        )
        .unwrap();
        assert_eq!(link.params["install"], json!("1"));
        assert!(
            plan(
                "create_activation_url",
                &json!({"phone_id": "DP1", "install": "maybe"})
            )
            .unwrap_err()
            .to_string()
            .contains("install")
        );
        assert!(
            plan("create_phone", &json!({"predelay": "soon"}))
                .unwrap_err()
                .to_string()
                .contains("predelay")
        );
    }
}
