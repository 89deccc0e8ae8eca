//! The Admin API endpoints behind the connector's nine actions, plus user create/delete,
//! phone dissociation and single-object reads.
//!
//! | route | answer |
//! |---|---|
//! | `GET /admin/v1/users` | paged users; `username` (also an alias), `email`, `username_list`, `user_id_list` filter |
//! | `POST /admin/v1/users` | creates a user (`username` required) |
//! | `GET`, `POST`, `DELETE /admin/v1/users/{user_id}` | one user; update; delete (`""`) |
//! | `GET`, `POST /admin/v1/users/{user_id}/phones` | the user's phones (paged); associate `phone_id` (`""`) |
//! | `DELETE /admin/v1/users/{user_id}/phones/{phone_id}` | dissociate (`""`) |
//! | `GET /admin/v1/phones` | paged phones with their `users`; `number` / `extension` filter |
//! | `GET /admin/v1/phones/{phone_id}` | one phone with its `users` |
//! | `GET /admin/v1/admins`, `GET`, `POST /admin/v1/admins/{admin_id}` | paged admins; one; modify |
//! | `GET /admin/v1/bypass_codes` | paged bypass codes (never the code itself) |
//!
//! Validation follows Duo's documented rules (`docs/duo-wire.md` §4): user `status` is `active`,
//! `disabled` or `bypass`; `aliases` (URL-encoded pairs, up to `alias8`) excludes
//! `alias1`..`alias4`, and an empty value clears an alias; usernames and aliases stay unique
//! across users; an admin's `status` is `Active` or `Disabled` and its `role` one of Duo's role
//! names, both case-sensitive; `phone` cannot be empty; `password` is ignored (Duo deprecated
//! it). Every change is validated on a copy first, so a refused request changes nothing.
//! Filtered lists carry paging metadata over the filtered result.
//!
//! Object limits (`docs/duo-wire.md` §4: 100 phones per user, 100 users per phone) refuse an
//! association with 400/40002 `Invalid request parameters` and a `message_detail` naming the
//! limit. Duo documents the limits but not the answer; 40002 with a detail is what Duo answers
//! for every other request it refuses on its content, so that is the emulator's choice.

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
use crate::state::{Data, UserRecord};

/// Duo's administrator roles (case-sensitive).
pub const ADMIN_ROLES: [&str; 9] = [
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

/// One page of `items` (already validated `limit`/`offset`) with its metadata.
fn page<T>(items: &[T], (limit, offset): (usize, usize), show: impl Fn(&T) -> Value) -> Answer {
    let (range, metadata) = page_bounds(items.len(), limit, offset);
    let shown = items[range].iter().map(show).collect();
    Answer::Ok(Value::Array(shown), Some(metadata))
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
            if !shared.data().remove_user(id) {
                return Err(not_found());
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "users", id, "phones"], &Method::GET) => {
            let paging = paging(params, &path)?;
            let data = shared.data();
            let record = data.user(id).ok_or_else(not_found)?;
            let phones: Vec<_> = data.phones_of(record).collect();
            Ok(page(&phones, paging, |p| to_value(&Data::bare_phone(p))))
        }
        (["admin", "v1", "users", id, "phones"], &Method::POST) => {
            let phone_id = required(params, "phone_id")?;
            let mut data = shared.data();
            check_association_limits(&data, id, phone_id)?;
            if !data.associate(id, phone_id) {
                return Err(not_found());
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _, "phones"], _) => Err(method_not_allowed()),
        (["admin", "v1", "users", id, "phones", phone_id], &Method::DELETE) => {
            if !shared.data().dissociate(id, phone_id) {
                return Err(not_found());
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _, "phones", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones"], &Method::GET) => list_phones(shared, params, &path),
        (["admin", "v1", "phones"], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones", id], &Method::GET) => {
            let data = shared.data();
            let phone = data.phone(id).ok_or_else(not_found)?;
            Ok(Answer::Ok(to_value(&data.full_phone(phone)), None))
        }
        (["admin", "v1", "phones", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "admins"], &Method::GET) => {
            let paging = paging(params, &path)?;
            let data = shared.data();
            Ok(page(&data.admins, paging, to_value))
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
            let paging = paging(params, &path)?;
            let data = shared.data();
            Ok(page(&data.bypass_codes, paging, |c| {
                to_value(&data.full_bypass_code(c))
            }))
        }
        (["admin", "v1", "bypass_codes"], _) => Err(method_not_allowed()),
        _ => Err(not_found()),
    }
}

/// Duo's object limit: phones per user.
pub const MAX_PHONES_PER_USER: usize = 100;
/// Duo's object limit: users per phone.
pub const MAX_USERS_PER_PHONE: usize = 100;

/// Refuses an association that would pass Duo's object limits (100 phones per user, 100 users
/// per phone) with 400/40002 naming the limit. Re-associating an associated pair is not refused.
fn check_association_limits(data: &Data, user_id: &str, phone_id: &str) -> Result<(), DuoFail> {
    let Some(record) = data.user(user_id) else {
        return Err(not_found());
    };
    if record.phone_ids.iter().any(|p| p == phone_id) {
        return Ok(());
    }
    if record.phone_ids.len() >= MAX_PHONES_PER_USER {
        return Err(invalid(format!(
            "object limit reached: a user can have at most {MAX_PHONES_PER_USER} phones"
        )));
    }
    if data.phone_user_count(phone_id) >= MAX_USERS_PER_PHONE {
        return Err(invalid(format!(
            "object limit reached: a phone can have at most {MAX_USERS_PER_PHONE} users"
        )));
    }
    Ok(())
}

/// A query value holding a JSON array of strings (`username_list`, `user_id_list`).
fn string_list(params: &Params, name: &str) -> Result<Option<Vec<String>>, DuoFail> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    serde_json::from_str::<Vec<String>>(text)
        .map(Some)
        .map_err(|_| invalid(name))
}

fn list_users(shared: &Arc<Shared>, params: &Params, path: &str) -> ApiResult {
    let paging = paging(params, path)?;
    let data = shared.data();
    let show = |r: &&UserRecord| to_value(&data.full_user(r));
    if let Some(name) = params.get("username") {
        let found: Vec<&UserRecord> = data.user_by_name(name).into_iter().collect();
        return Ok(page(&found, paging, show));
    }
    if let Some(names) = string_list(params, "username_list")? {
        let found: Vec<&UserRecord> = names.iter().filter_map(|n| data.user_by_name(n)).collect();
        return Ok(page(&found, paging, show));
    }
    if let Some(ids) = string_list(params, "user_id_list")? {
        let found: Vec<&UserRecord> = ids.iter().filter_map(|id| data.user(id)).collect();
        return Ok(page(&found, paging, show));
    }
    if let Some(email) = params.get("email") {
        let found: Vec<&UserRecord> = data
            .users()
            .iter()
            .filter(|r| r.user.email.eq_ignore_ascii_case(email))
            .collect();
        return Ok(page(&found, paging, show));
    }
    Ok(page(data.users(), paging, |r| to_value(&data.full_user(r))))
}

fn list_phones(shared: &Arc<Shared>, params: &Params, path: &str) -> ApiResult {
    let paging = paging(params, path)?;
    let data = shared.data();
    let number = params.get("number");
    let extension = params.get("extension");
    if number.is_some() || extension.is_some() {
        let found: Vec<_> = data
            .phones()
            .iter()
            .filter(|p| number.is_none_or(|n| p.number == n))
            .filter(|p| extension.is_none_or(|e| p.extension == e))
            .collect();
        return Ok(page(&found, paging, |p| to_value(&data.full_phone(p))));
    }
    Ok(page(data.phones(), paging, |p| {
        to_value(&data.full_phone(p))
    }))
}

/// Refuses a username or alias another user already has.
fn check_unique(data: &Data, user: &User) -> Result<(), DuoFail> {
    if data.name_taken(&user.username, Some(&user.user_id)) {
        return Err(invalid("username already exists"));
    }
    let clash = user
        .aliases
        .values()
        .any(|alias| alias == &user.username || data.name_taken(alias, Some(&user.user_id)));
    if clash {
        return Err(invalid("aliases must be unique"));
    }
    Ok(())
}

fn create_user(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let username = required(params, "username")?.to_string();
    let mut user = User {
        user_id: duo_id(&mut rand::rng(), "DU"),
        username,
        status: "active".into(),
        created: shared.now_secs(),
        ..User::default()
    };
    apply_user_fields(&mut user, params)?;
    let mut data = shared.data();
    check_unique(&data, &user)?;
    let user_id = user.user_id.clone();
    data.insert_user(UserRecord::new(user));
    let record = data.user(&user_id).ok_or_else(not_found)?;
    Ok(Answer::Ok(to_value(&data.full_user(record)), None))
}

fn update_user(shared: &Arc<Shared>, user_id: &str, params: &Params) -> ApiResult {
    let mut data = shared.data();
    // Validate and apply to a copy: a refused update changes nothing.
    let mut user = data.user(user_id).ok_or_else(not_found)?.user.clone();
    apply_user_fields(&mut user, params)?;
    check_unique(&data, &user)?;
    data.set_user(user);
    let record = data.user(user_id).ok_or_else(not_found)?;
    Ok(Answer::Ok(to_value(&data.full_user(record)), None))
}

/// The `aliases` parameter: URL-encoded pairs (`alias1=a&alias2=b`), or, leniently, a JSON
/// object of strings (what a JSON body may carry).
fn alias_pairs(text: &str) -> Result<Params, DuoFail> {
    if text.trim_start().starts_with('{') {
        let object: std::collections::BTreeMap<String, String> =
            serde_json::from_str(text).map_err(|_| invalid("aliases"))?;
        return Ok(Params::from_pairs(object));
    }
    Ok(form_urldecode(text))
}

fn apply_user_fields(user: &mut User, params: &Params) -> Result<(), DuoFail> {
    if let Some(status) = params.get("status") {
        if !matches!(status, "active" | "disabled" | "bypass") {
            return Err(invalid("status"));
        }
        user.status = status.to_string();
    }
    if params.get("username") == Some("") {
        return Err(invalid("username"));
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
        let pairs = alias_pairs(aliases)?;
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
    // Validate and apply to a copy: a refused change changes nothing.
    let mut admin = data.admins[index].clone();
    if let Some(name) = params.get("name") {
        if name.is_empty() {
            return Err(invalid("name"));
        }
        admin.name = name.to_string();
    }
    if let Some(phone) = params.get("phone") {
        let digits: String = phone.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let valid = digits.trim_start_matches('+').len() >= 2
            && digits
                .strip_prefix('+')
                .unwrap_or(&digits)
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
    if let Some(restricted) = flag(params, "restricted_by_admin_units")? {
        if restricted && admin.role == "Owner" {
            return Err(invalid(
                "restricted_by_admin_units: an Owner cannot be restricted",
            ));
        }
        admin.restricted_by_admin_units = restricted;
    }
    data.admins[index] = admin.clone();
    Ok(Answer::Ok(to_value(&admin), None))
}
