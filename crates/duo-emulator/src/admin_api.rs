//! The Admin API endpoints behind the connector's nine actions, plus user create/delete and
//! single-object reads.
//!
//! Validation follows Duo's documented rules (`duo-api.md` §4): user `status` is `active`,
//! `disabled` or `bypass`; `aliases` (URL-encoded pairs, up to `alias8`) excludes
//! `alias1`..`alias4`; usernames stay unique; an admin's `status` is `Active` or `Disabled` and
//! its `role` one of Duo's role names, both case-sensitive; `phone` cannot be empty; `password`
//! is ignored (Duo deprecated it). A refused update changes nothing.

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::canon::form_urldecode;
use duo_proto::envelope::{DuoFail, FailCode};
use duo_proto::models::User;

use crate::config::duo_id;
use crate::pipeline::{Answer, ApiResult};
use crate::request_params::{flag, invalid, page_bounds, paging, required};
use crate::shared::Shared;
use crate::state::{Answer as Script, Data, UserRecord};

const ADMIN_ROLES: [&str; 9] = [
    "Owner",
    "Administrator",
    "Application Manager",
    "User Manager",
    "Help Desk",
    "Billing",
    "Phishing Manager",
    "Read-only",
    "Security Analyst",
];

fn not_found() -> DuoFail {
    DuoFail::new(FailCode::NotFound)
}

fn method_not_allowed() -> DuoFail {
    DuoFail::new(FailCode::MethodNotAllowed)
}

fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Routes `/admin/...`.
pub fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    params: &Params,
) -> ApiResult {
    let path = format!("/{}", segments.join("/"));
    match (segments, method) {
        (["admin", "v1", "users"], &Method::GET) => list_users(shared, params, &path),
        (["admin", "v1", "users"], &Method::POST) => create_user(shared, params),
        (["admin", "v1", "users"], _) => Err(method_not_allowed()),
        (["admin", "v1", "users", id], &Method::GET) => {
            let data = shared.data();
            let record = data.user(id).ok_or_else(not_found)?;
            Ok(Answer::Ok(to_value(&data.full_user(record)), None))
        }
        (["admin", "v1", "users", id], &Method::POST) => update_user(shared, id, params),
        (["admin", "v1", "users", id], &Method::DELETE) => {
            shared.data().remove_user(id);
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "users", id, "phones"], &Method::GET) => {
            let data = shared.data();
            let record = data.user(id).ok_or_else(not_found)?;
            let (limit, offset) = paging(params, &path)?;
            let (range, metadata) = page_bounds(record.phone_ids.len(), limit, offset);
            let phones: Vec<Value> = record.phone_ids[range]
                .iter()
                .filter_map(|p| data.phone(p))
                .map(|p| to_value(&Data::bare_phone(p)))
                .collect();
            Ok(Answer::Ok(Value::Array(phones), Some(metadata)))
        }
        (["admin", "v1", "users", id, "phones"], &Method::POST) => {
            let phone_id = required(params, "phone_id")?;
            let mut data = shared.data();
            if data.user(id).is_none() || data.phone(phone_id).is_none() {
                return Err(not_found());
            }
            data.associate(id, phone_id);
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _, "phones"], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones"], &Method::GET) => list_phones(shared, params, &path),
        (["admin", "v1", "phones"], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones", id], &Method::GET) => {
            let data = shared.data();
            let phone = data.phone(id).ok_or_else(not_found)?;
            Ok(Answer::Ok(to_value(&data.full_phone(phone)), None))
        }
        (["admin", "v1", "phones", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "admins"], &Method::GET) => {
            let data = shared.data();
            let (limit, offset) = paging(params, &path)?;
            let (range, metadata) = page_bounds(data.admins.len(), limit, offset);
            Ok(Answer::Ok(to_value(&data.admins[range]), Some(metadata)))
        }
        (["admin", "v1", "admins"], _) => Err(method_not_allowed()),
        (["admin", "v1", "admins", id], &Method::GET) => {
            let data = shared.data();
            let admin = data
                .admins
                .iter()
                .find(|a| a.admin_id == *id)
                .ok_or_else(not_found)?;
            Ok(Answer::Ok(to_value(admin), None))
        }
        (["admin", "v1", "admins", id], &Method::POST) => modify_admin(shared, id, params),
        (["admin", "v1", "admins", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "bypass_codes"], &Method::GET) => {
            let data = shared.data();
            let (limit, offset) = paging(params, &path)?;
            let (range, metadata) = page_bounds(data.bypass_codes.len(), limit, offset);
            let codes: Vec<Value> = data.bypass_codes[range]
                .iter()
                .map(|c| to_value(&data.full_bypass_code(c)))
                .collect();
            Ok(Answer::Ok(Value::Array(codes), Some(metadata)))
        }
        (["admin", "v1", "bypass_codes"], _) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}

fn list_users(shared: &Arc<Shared>, params: &Params, path: &str) -> ApiResult {
    let data = shared.data();
    let (limit, offset) = paging(params, path)?;
    if let Some(name) = params.get("username") {
        let found: Vec<Value> = data
            .user_by_name(name)
            .map(|r| to_value(&data.full_user(r)))
            .into_iter()
            .collect();
        return Ok(Answer::Ok(Value::Array(found), None));
    }
    if let Some(email) = params.get("email") {
        let found: Vec<Value> = data
            .users
            .iter()
            .filter(|r| r.user.email.eq_ignore_ascii_case(email))
            .map(|r| to_value(&data.full_user(r)))
            .collect();
        return Ok(Answer::Ok(Value::Array(found), None));
    }
    let (range, metadata) = page_bounds(data.users.len(), limit, offset);
    let users: Vec<Value> = data.users[range]
        .iter()
        .map(|r| to_value(&data.full_user(r)))
        .collect();
    Ok(Answer::Ok(Value::Array(users), Some(metadata)))
}

fn list_phones(shared: &Arc<Shared>, params: &Params, path: &str) -> ApiResult {
    let data = shared.data();
    let (limit, offset) = paging(params, path)?;
    if let Some(number) = params.get("number") {
        let extension = params.get("extension").unwrap_or("");
        let found: Vec<Value> = data
            .phones
            .iter()
            .filter(|p| p.number == number && (extension.is_empty() || p.extension == extension))
            .map(|p| to_value(&data.full_phone(p)))
            .collect();
        return Ok(Answer::Ok(Value::Array(found), None));
    }
    let (range, metadata) = page_bounds(data.phones.len(), limit, offset);
    let phones: Vec<Value> = data.phones[range]
        .iter()
        .map(|p| to_value(&data.full_phone(p)))
        .collect();
    Ok(Answer::Ok(Value::Array(phones), Some(metadata)))
}

fn username_taken(data: &Data, name: &str, except: Option<&str>) -> bool {
    data.users
        .iter()
        .any(|r| r.user.username == name && Some(r.user.user_id.as_str()) != except)
}

fn create_user(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let username = required(params, "username")?.to_string();
    let mut data = shared.data();
    if username_taken(&data, &username, None) {
        return Err(invalid("username already exists"));
    }
    let mut user = User {
        user_id: duo_id(&mut rand::rng(), "DU"),
        username,
        status: "active".into(),
        created: shared.now_secs(),
        ..User::default()
    };
    apply_user_fields(&mut user, params)?;
    let record = UserRecord {
        user,
        phone_ids: Vec::new(),
        answer: Script::Approve,
        passcodes: Vec::new(),
    };
    let value = to_value(&data.full_user(&record));
    data.insert_user(record);
    Ok(Answer::Ok(value, None))
}

fn update_user(shared: &Arc<Shared>, user_id: &str, params: &Params) -> ApiResult {
    let mut data = shared.data();
    let mut user = data.user(user_id).ok_or_else(not_found)?.user.clone();
    if let Some(name) = params.get("username") {
        if name.is_empty() {
            return Err(invalid("username"));
        }
        if username_taken(&data, name, Some(user_id)) {
            return Err(invalid("username already exists"));
        }
    }
    // Validate and apply to a copy: a refused update changes nothing.
    apply_user_fields(&mut user, params)?;
    let index = data.user_index[user_id];
    data.users[index].user = user;
    let value = to_value(&data.full_user(&data.users[index]));
    Ok(Answer::Ok(value, None))
}

fn apply_user_fields(user: &mut User, params: &Params) -> Result<(), DuoFail> {
    if let Some(status) = params.get("status") {
        if !matches!(status, "active" | "disabled" | "bypass") {
            return Err(invalid("status"));
        }
        user.status = status.to_string();
    }
    for (name, field) in [
        ("username", &mut user.username),
        ("realname", &mut user.realname),
        ("notes", &mut user.notes),
        ("email", &mut user.email),
        ("firstname", &mut user.firstname),
        ("lastname", &mut user.lastname),
    ] {
        if let Some(value) = params.get(name) {
            *field = value.to_string();
        }
    }
    let numbered = ["alias1", "alias2", "alias3", "alias4"];
    let has_numbered = numbered.iter().any(|a| params.contains_key(a));
    if let Some(aliases) = params.get("aliases") {
        if has_numbered {
            return Err(invalid("aliases cannot be combined with alias1-alias4"));
        }
        let pairs = form_urldecode(aliases);
        let mut next = user.aliases.clone();
        for (key, value) in pairs.iter() {
            let valid = key
                .strip_prefix("alias")
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| (1..=8).contains(&n));
            if !valid {
                return Err(invalid(format!("aliases: unknown alias {key:?}")));
            }
            if value.is_empty() {
                next.remove(key);
            } else {
                next.insert(key.to_string(), value.to_string());
            }
        }
        user.aliases = next;
    } else {
        for name in numbered {
            if let Some(value) = params.get(name) {
                if value.is_empty() {
                    user.aliases.remove(name);
                } else {
                    user.aliases.insert(name.to_string(), value.to_string());
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    if !user.aliases.values().all(|a| seen.insert(a.as_str())) {
        return Err(invalid("aliases must be unique"));
    }
    user.alias1 = user.aliases.get("alias1").cloned();
    user.alias2 = user.aliases.get("alias2").cloned();
    user.alias3 = user.aliases.get("alias3").cloned();
    user.alias4 = user.aliases.get("alias4").cloned();
    Ok(())
}

fn modify_admin(shared: &Arc<Shared>, admin_id: &str, params: &Params) -> ApiResult {
    let mut data = shared.data();
    let index = data
        .admins
        .iter()
        .position(|a| a.admin_id == admin_id)
        .ok_or_else(not_found)?;
    let mut admin = data.admins[index].clone();
    if let Some(name) = params.get("name") {
        if name.is_empty() {
            return Err(invalid("name"));
        }
        admin.name = name.to_string();
    }
    if let Some(phone) = params.get("phone") {
        let digits: String = phone.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let valid = !digits.is_empty()
            && digits
                .trim_start_matches('+')
                .chars()
                .all(|c| c.is_ascii_digit());
        if !valid {
            return Err(invalid("phone"));
        }
        admin.phone = if digits.starts_with('+') {
            digits
        } else {
            format!("+1{digits}")
        };
    }
    if let Some(required) = flag(params, "password_change_required")? {
        admin.password_change_required = required;
    }
    if let Some(status) = params.get("status") {
        if !matches!(status, "Active" | "Disabled") {
            return Err(invalid("status"));
        }
        if status == "Disabled" && admin.role == "Owner" {
            return Err(invalid("status: an Owner cannot be disabled"));
        }
        admin.status = status.to_string();
    }
    if let Some(role) = params.get("role") {
        if !ADMIN_ROLES.contains(&role) {
            return Err(invalid("role"));
        }
        admin.role = role.to_string();
    }
    data.admins[index] = admin.clone();
    Ok(Answer::Ok(to_value(&admin), None))
}
