//! Swimlane-shaped connector actions: the nine Duo Admin API actions by name.
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
}

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

const PAGING: [Input; 2] = [
    input("limit", InputKind::Count, false),
    input("offset", InputKind::Count, false),
];

/// The nine actions, as in the connector this mirrors.
pub const ACTIONS: &[Action] = &[
    Action {
        name: "associate_phone_with_user",
        summary: "Associate a phone with a user",
        method: "POST",
        path: "/admin/v1/users/{user_id}/phones",
        inputs: &[path_id("user_id"), input("phone_id", InputKind::Id, true)],
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
        name: "retrieve_administrators",
        summary: "List administrators (one page)",
        method: "GET",
        path: "/admin/v1/admins",
        inputs: &PAGING,
    },
    Action {
        name: "retrieve_bypass_codes",
        summary: "List bypass codes' metadata (one page; codes are never returned)",
        method: "GET",
        path: "/admin/v1/bypass_codes",
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
        name: "retrieve_user_by_user_id",
        summary: "Get one user",
        method: "GET",
        path: "/admin/v1/users/{user_id}",
        inputs: &[path_id("user_id")],
    },
    Action {
        name: "retrieve_users",
        summary: "List users (one page)",
        method: "GET",
        path: "/admin/v1/users",
        inputs: &PAGING,
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
            input("status", InputKind::Text, false),
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
    Ok(ActionCall {
        action,
        method: action.method,
        path,
        params,
        warnings,
    })
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
    fn catalogue_has_the_nine_actions() {
        assert_eq!(ACTIONS.len(), 9);
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
}
