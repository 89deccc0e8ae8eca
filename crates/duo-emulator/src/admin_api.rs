//! The Admin API endpoints behind the connector's nine actions, plus user create/delete,
//! phone dissociation and single-object reads.
//!
//! | route | answer |
//! |---|---|
//! | `GET /admin/v1/users` | paged users; `username` (also an alias), `email`, `username_list`, `user_id_list` filter |
//! | `POST /admin/v1/users` | creates a user (`username` required) |
//! | `POST /admin/v1/users/enroll` | creates the user and records the enrollment e-mail (`""`) |
//! | `GET`, `POST`, `DELETE /admin/v1/users/{user_id}` | one user; update; delete (`""`) |
//! | `GET`, `POST /admin/v1/users/{user_id}/phones` | the user's phones (paged); associate `phone_id` (`""`) |
//! | `DELETE /admin/v1/users/{user_id}/phones/{phone_id}` | dissociate (`""`) |
//! | `GET /admin/v1/phones` | paged phones with their `users`; `number` / `extension` filter |
//! | `POST /admin/v1/phones` | creates a phone (every parameter optional) |
//! | `GET`, `POST`, `DELETE /admin/v1/phones/{phone_id}` | one phone with its `users`; modify; delete (`""`, and gone from its users) |
//! | `POST /admin/v1/phones/{phone_id}/activation_url` | a Duo Mobile activation link (`valid_secs`, default 86400; `install=1` adds `installation_url`) |
//! | `POST /admin/v1/phones/{phone_id}/send_sms_activation` | texts the activation link (recorded, `GET /_emulator/sms`); answers `activation_barcode`, `activation_msg`, `installation_msg` (with `install=1`), `valid_secs`; a phone that is not a mobile with a number is refused (40002) |
//! | `GET /admin/v1/admins`, `GET`, `POST /admin/v1/admins/{admin_id}` | paged admins; one; modify |
//! | `GET /admin/v1/bypass_codes` | paged bypass codes (never the code itself) |
//! | `GET`, `POST /admin/v1/groups` | paged groups; create (`name` required, unique) |
//! | `GET /admin/v1/groups/{group_id}`, `GET /admin/v2/groups/{group_id}`, `POST`, `DELETE /admin/v1/groups/{group_id}` | one group; modify; delete (`""`) |
//! | `GET /admin/v2/groups/{group_id}/users` | the members (paged; `user_id`, `username`) |
//! | `GET`, `POST /admin/v1/users/{user_id}/groups`, `DELETE …/groups/{group_id}` | a user's groups (paged); add to a group (`group_id`; `""`); remove (`""`) |
//! | `GET`, `POST /admin/v1/users/{user_id}/bypass_codes` | the user's bypass codes (paged); generate codes (the list of codes, shown once) |
//! | `GET`, `DELETE /admin/v1/bypass_codes/{bypass_code_id}` | one bypass code; delete (`""`) |
//!
//! The log endpoints (`/admin/v2/logs/authentication`, `/admin/v1/logs/administrator`,
//! `/admin/v2/logs/telephony`, `/admin/v2/logs/activity`) are in [`crate::logs`]; every change
//! made here that succeeds is recorded there.
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
//!
//! **Enrollment** (`POST /admin/v1/users/enroll`): `username` and `email` are required (40002
//! naming the one missing or invalid; an e-mail needs an `@`), `valid_secs` is a non-negative
//! integer (default 2592000, 30 days; `0` never expires). Duo creates the user and e-mails an
//! enrollment link; the emulator creates the user (`active`, not enrolled) and records the
//! e-mail it would have sent ([`crate::state::EnrollmentEmail`], listed by `GET
//! /_emulator/emails`). A username or alias already in use is refused with `username already
//! exists` (Duo documents "user already exists" as a 400). The answer is `""`.
//!
//! **Phones**: `number` is read as Duo does for administrators (dashes and spaces dropped; no
//! leading `+` means US `+1`; at least 2 digits); `type` is `mobile`, `landline` or `unknown` and
//! `platform` one of Duo's platform names (`google android`, `apple ios`, `windows phone`,
//! `rim blackberry`, `java j2me`, `palm webos`, `symbian os`, `windows mobile`, `generic
//! smartphone`, `unknown`), case-insensitive, answered in Duo's display spelling (`Mobile`,
//! `Apple iOS`); `predelay`/`postdelay` are non-negative integers. A new phone is not activated;
//! it can take calls (and SMS when `Mobile`). An activation link needs a smartphone platform
//! (40002 `platform` otherwise); `install` is `0` or `1`.
//!
//! **Groups**: `status` is `active`, `bypass` or `disabled` in requests and `Active`, `Bypass`,
//! `Disabled` in answers; `push_enabled`, `sms_enabled`, `voice_enabled`, `mobile_otp_enabled`
//! are flags (`1`/`0`, `true`/`false`; deprecated by Duo, kept on v1 objects); names are
//! unique (`name already exists`). Adding a user to a group twice changes nothing. A user's
//! `groups` lists the groups it belongs to.
//!
//! **Bypass codes** (`POST /admin/v1/users/{user_id}/bypass_codes`): `count` (1 to 10, default
//! 10) random nine-digit codes, or `codes` (a comma-separated list of at most 10 codes of 1 to
//! 32 letters or digits; exclusive with `count`); `valid_secs` (default 0: never expires);
//! `reuse_count` (default 1; 0 means unlimited, shown as `null`); `preserve_existing` (default
//! false: the user's other codes are deleted first). A user holds at most 100 codes. The answer
//! is the list of codes; the emulator, like Duo, never shows a code again and never logs one,
//! and the Auth API accepts it as a passcode of its user (see [`crate::auth_api`]). `admin_email` of an API-made code is empty (what Duo
//! puts there for an Admin API integration is not public). An unknown user is 40401 before
//! anything else is checked.

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::canon::form_urldecode;
use duo_proto::envelope::{DuoFail, FailCode};
use duo_proto::models::{BypassCode, Group, Phone, User};

use crate::config::duo_id;
use crate::logs;
use crate::pipeline::{Answer, ApiResult};
use crate::request_params::{flag, invalid, page_bounds, paging, required};
use crate::shared::Shared;
use crate::state::{BypassRecord, Data, EnrollmentEmail, UserRecord};

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

/// Routes `/admin/...`; a change that succeeds is recorded in the administrator and
/// activity logs ([`crate::logs`]).
pub fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    params: &Params,
) -> ApiResult {
    match (segments, method) {
        (["admin", "v2", "logs", "authentication"], &Method::GET) => {
            return logs::authentication(shared, params);
        }
        (["admin", "v1", "logs", "administrator"], &Method::GET) => {
            return logs::administrator(shared, params);
        }
        (["admin", "v2", "logs", "telephony"], &Method::GET) => {
            return logs::items(shared, params, true);
        }
        (["admin", "v2", "logs", "activity"], &Method::GET) => {
            return logs::items(shared, params, false);
        }
        (["admin", _, "logs", _], _) => return Err(method_not_allowed()),
        _ => {}
    }
    let result = route(shared, method, segments, params);
    if *method != Method::GET
        && let Ok(Answer::Ok(answer, _)) = &result
    {
        record_change(shared, method, segments, params, answer);
    }
    result
}

/// The parameters of a change as the log describes them: never a password or a code.
fn described(params: &Params) -> Value {
    let mut object = serde_json::Map::new();
    for (key, value) in params.iter() {
        if !matches!(key, "password" | "codes") {
            object.insert(key.to_string(), json!(value));
        }
    }
    Value::Object(object)
}

/// Records a successful Admin API change in the administrator and activity logs.
fn record_change(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    params: &Params,
    answer: &Value,
) {
    let mut data = shared.data();
    let username_of = |data: &Data, id: &str| {
        data.user(id)
            .map(|r| r.user.username.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let (action, object, kind, description) = match (segments, method) {
        (["admin", "v1", "users"], &Method::POST) => (
            "user_create",
            params.get("username").unwrap_or_default().to_string(),
            "user",
            described(params),
        ),
        (["admin", "v1", "users", "enroll"], &Method::POST) => (
            "user_create",
            params.get("username").unwrap_or_default().to_string(),
            "user",
            json!({"email": params.get("email"), "enrollment_email": true}),
        ),
        (["admin", "v1", "users", id], &Method::POST) => (
            "user_update",
            username_of(&data, id),
            "user",
            described(params),
        ),
        (["admin", "v1", "users", id], &Method::DELETE) => (
            "user_delete",
            id.to_string(),
            "user",
            json!({"user_id": id}),
        ),
        (["admin", "v1", "users", id, "phones"], &Method::POST) => (
            "user_update",
            username_of(&data, id),
            "user",
            json!({"phone_added": params.get("phone_id")}),
        ),
        (["admin", "v1", "users", id, "phones", phone_id], &Method::DELETE) => (
            "user_update",
            username_of(&data, id),
            "user",
            json!({"phone_removed": phone_id}),
        ),
        (["admin", "v1", "users", id, "bypass_codes"], &Method::POST) => {
            let mut description = described(params);
            description["count"] = json!(answer.as_array().map_or(0, Vec::len));
            ("bypass_create", username_of(&data, id), "user", description)
        }
        (["admin", "v1", "bypass_codes", id], &Method::DELETE) => (
            "bypass_delete",
            id.to_string(),
            "bypass_code",
            json!({"bypass_code_id": id}),
        ),
        (["admin", "v1", "groups"], &Method::POST) => (
            "group_create",
            params.get("name").unwrap_or_default().to_string(),
            "group",
            described(params),
        ),
        (["admin", "v1", "groups", id], &Method::POST) => {
            ("group_update", id.to_string(), "group", described(params))
        }
        (["admin", "v1", "groups", id], &Method::DELETE) => (
            "group_delete",
            id.to_string(),
            "group",
            json!({"group_id": id}),
        ),
        (["admin", "v1", "users", id, "groups"], &Method::POST) => (
            "user_update",
            username_of(&data, id),
            "user",
            json!({"group_added": params.get("group_id")}),
        ),
        (["admin", "v1", "users", id, "groups", group_id], &Method::DELETE) => (
            "user_update",
            username_of(&data, id),
            "user",
            json!({"group_removed": group_id}),
        ),
        (["admin", "v1", "phones"], &Method::POST) => (
            "phone_create",
            answer["phone_id"].as_str().unwrap_or_default().to_string(),
            "phone",
            described(params),
        ),
        (["admin", "v1", "phones", id], &Method::POST) => {
            ("phone_update", id.to_string(), "phone", described(params))
        }
        (["admin", "v1", "phones", id], &Method::DELETE) => (
            "phone_delete",
            id.to_string(),
            "phone",
            json!({"phone_id": id}),
        ),
        (["admin", "v1", "admins", id], &Method::POST) => {
            let name = data
                .admins
                .iter()
                .find(|a| a.admin_id == *id)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| id.to_string());
            ("admin_update", name, "admin", described(params))
        }
        _ => return,
    };
    let now = (shared.config.clock)().as_millisecond();
    data.logs
        .record_admin_change(now, action, &object, kind, &description);
}

fn route(shared: &Arc<Shared>, method: &Method, segments: &[&str], params: &Params) -> ApiResult {
    let path = format!("/{}", segments.join("/"));
    match (segments, method) {
        (["admin", "v1", "users"], &Method::GET) => list_users(shared, params, &path),
        (["admin", "v1", "users"], &Method::POST) => create_user(shared, params),
        (["admin", "v1", "users"], _) => Err(method_not_allowed()),
        (["admin", "v1", "users", "enroll"], &Method::POST) => enroll_user(shared, params),
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
        (["admin", "v1", "users", id, "bypass_codes"], &Method::GET) => {
            let paging = paging(params, &path)?;
            let data = shared.data();
            data.user(id).ok_or_else(not_found)?;
            let codes: Vec<_> = data
                .bypass_codes
                .iter()
                .filter(|c| c.user_id == *id)
                .collect();
            Ok(page(&codes, paging, |c| {
                to_value(&data.full_bypass_code(c))
            }))
        }
        (["admin", "v1", "users", id, "bypass_codes"], &Method::POST) => {
            generate_bypass_codes(shared, id, params)
        }
        (["admin", "v1", "users", _, "bypass_codes"], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones"], &Method::GET) => list_phones(shared, params, &path),
        (["admin", "v1", "phones"], &Method::POST) => {
            let mut phone = Phone {
                phone_id: duo_id(&mut rand::rng(), "DP"),
                kind: "Unknown".into(),
                platform: "Unknown".into(),
                ..Phone::default()
            };
            apply_phone_fields(&mut phone, params)?;
            let mut data = shared.data();
            data.insert_phone(phone.clone());
            Ok(Answer::Ok(to_value(&data.full_phone(&phone)), None))
        }
        (["admin", "v1", "phones"], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones", id], &Method::POST) => {
            let mut data = shared.data();
            let mut phone = data.phone(id).ok_or_else(not_found)?.clone();
            apply_phone_fields(&mut phone, params)?;
            data.insert_phone(phone.clone());
            Ok(Answer::Ok(to_value(&data.full_phone(&phone)), None))
        }
        (["admin", "v1", "phones", id], &Method::DELETE) => {
            if !shared.data().remove_phone(id) {
                return Err(not_found());
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "phones", id, "activation_url"], &Method::POST) => {
            activation_url(shared, id, params)
        }
        (["admin", "v1", "phones", _, "activation_url"], _) => Err(method_not_allowed()),
        (["admin", "v1", "phones", id, "send_sms_activation"], &Method::POST) => {
            send_sms_activation(shared, id, params)
        }
        (["admin", "v1", "phones", _, "send_sms_activation"], _) => Err(method_not_allowed()),
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
        (["admin", "v1", "groups"], &Method::GET) => {
            let paging = paging(params, &path)?;
            let data = shared.data();
            Ok(page(&data.groups, paging, to_value))
        }
        (["admin", "v1", "groups"], &Method::POST) => {
            let name = required(params, "name")?;
            let mut group = Group {
                group_id: duo_id(&mut rand::rng(), "DG"),
                name: name.to_string(),
                status: "Active".into(),
                push_enabled: true,
                sms_enabled: true,
                voice_enabled: true,
                mobile_otp_enabled: true,
                ..Group::default()
            };
            apply_group_fields(&mut group, params)?;
            let mut data = shared.data();
            if data.groups.iter().any(|g| g.name == group.name) {
                return Err(invalid("name already exists"));
            }
            data.groups.push(group.clone());
            Ok(Answer::Ok(to_value(&group), None))
        }
        (["admin", "v1", "groups"], _) => Err(method_not_allowed()),
        (["admin", "v1" | "v2", "groups", id], &Method::GET) => {
            let data = shared.data();
            let group = data
                .groups
                .iter()
                .find(|g| g.group_id == *id)
                .ok_or_else(not_found)?;
            Ok(Answer::Ok(to_value(group), None))
        }
        (["admin", "v1", "groups", id], &Method::POST) => {
            let mut data = shared.data();
            let index = data
                .groups
                .iter()
                .position(|g| g.group_id == *id)
                .ok_or_else(not_found)?;
            let mut group = data.groups[index].clone();
            apply_group_fields(&mut group, params)?;
            if data
                .groups
                .iter()
                .any(|g| g.name == group.name && g.group_id != group.group_id)
            {
                return Err(invalid("name already exists"));
            }
            data.groups[index] = group.clone();
            Ok(Answer::Ok(to_value(&group), None))
        }
        (["admin", "v1", "groups", id], &Method::DELETE) => {
            let mut data = shared.data();
            let before = data.groups.len();
            data.groups.retain(|g| g.group_id != *id);
            if data.groups.len() == before {
                return Err(not_found());
            }
            data.group_members.remove(*id);
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", _, "groups", _], _) => Err(method_not_allowed()),
        (["admin", "v2", "groups", id, "users"], &Method::GET) => {
            let paging = paging(params, &path)?;
            let data = shared.data();
            if !data.groups.iter().any(|g| g.group_id == *id) {
                return Err(not_found());
            }
            let members: Vec<&UserRecord> = data
                .group_members
                .get(*id)
                .map(|ids| ids.iter().filter_map(|u| data.user(u)).collect())
                .unwrap_or_default();
            Ok(page(
                &members,
                paging,
                |r| json!({"user_id": r.user.user_id, "username": r.user.username}),
            ))
        }
        (["admin", "v1", "users", id, "groups"], &Method::GET) => {
            let paging = paging(params, &path)?;
            let data = shared.data();
            data.user(id).ok_or_else(not_found)?;
            Ok(page(&data.groups_of(id), paging, to_value))
        }
        (["admin", "v1", "users", id, "groups"], &Method::POST) => {
            let group_id = required(params, "group_id")?;
            let mut data = shared.data();
            data.user(id).ok_or_else(not_found)?;
            if !data.groups.iter().any(|g| g.group_id == group_id) {
                return Err(not_found());
            }
            let members = data.group_members.entry(group_id.to_string()).or_default();
            if !members.iter().any(|m| m == id) {
                members.push(id.to_string());
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _, "groups"], _) => Err(method_not_allowed()),
        (["admin", "v1", "users", id, "groups", group_id], &Method::DELETE) => {
            let mut data = shared.data();
            data.user(id).ok_or_else(not_found)?;
            if !data.groups.iter().any(|g| g.group_id == *group_id) {
                return Err(not_found());
            }
            if let Some(members) = data.group_members.get_mut(*group_id) {
                members.retain(|m| m != id);
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "users", _, "groups", _], _) => Err(method_not_allowed()),
        (["admin", "v1", "bypass_codes", id], &Method::GET) => {
            let data = shared.data();
            let code = data
                .bypass_codes
                .iter()
                .find(|c| c.code.bypass_code_id == *id)
                .ok_or_else(not_found)?;
            Ok(Answer::Ok(to_value(&data.full_bypass_code(code)), None))
        }
        (["admin", "v1", "bypass_codes", id], &Method::DELETE) => {
            let mut data = shared.data();
            let before = data.bypass_codes.len();
            data.bypass_codes.retain(|c| c.code.bypass_code_id != *id);
            if data.bypass_codes.len() == before {
                return Err(not_found());
            }
            Ok(Answer::Ok(json!(""), None))
        }
        (["admin", "v1", "bypass_codes", _], _) => Err(method_not_allowed()),
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

/// Duo's phone platforms: what a request says (lower-case) and how Duo shows it.
pub const PHONE_PLATFORMS: [(&str, &str); 10] = [
    ("google android", "Google Android"),
    ("apple ios", "Apple iOS"),
    ("windows phone", "Windows Phone"),
    ("rim blackberry", "RIM BlackBerry"),
    ("java j2me", "Java J2ME"),
    ("palm webos", "Palm WebOS"),
    ("symbian os", "Symbian OS"),
    ("windows mobile", "Windows Mobile"),
    ("generic smartphone", "Generic Smartphone"),
    ("unknown", "Unknown"),
];

/// A phone number as Duo stores it (see the module documentation), or `None` when invalid.
fn e164(number: &str) -> Option<String> {
    let digits: String = number.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    let bare = digits.strip_prefix('+').unwrap_or(&digits);
    if bare.len() < 2 || !bare.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(if digits.starts_with('+') {
        digits
    } else {
        format!("+1{digits}")
    })
}

/// Applies phone parameters to a copy; refuses (naming the parameter) before any change.
fn apply_phone_fields(phone: &mut Phone, params: &Params) -> Result<(), DuoFail> {
    if let Some(number) = params.get("number") {
        phone.number = if number.is_empty() {
            String::new()
        } else {
            e164(number).ok_or_else(|| invalid("number"))?
        };
    }
    if let Some(extension) = params.get("extension") {
        if !extension.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid("extension"));
        }
        phone.extension = extension.to_string();
    }
    if let Some(name) = params.get("name") {
        phone.name = name.to_string();
    }
    if let Some(kind) = params.get("type") {
        phone.kind = match kind.to_ascii_lowercase().as_str() {
            "mobile" => "Mobile",
            "landline" => "Landline",
            "unknown" => "Unknown",
            _ => return Err(invalid("type")),
        }
        .to_string();
    }
    if let Some(platform) = params.get("platform") {
        let wanted = platform.to_ascii_lowercase();
        phone.platform = PHONE_PLATFORMS
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, shown)| (*shown).to_string())
            .ok_or_else(|| invalid("platform"))?;
    }
    for (name, field) in [
        ("predelay", &mut phone.predelay),
        ("postdelay", &mut phone.postdelay),
    ] {
        if let Some(value) = params.get(name) {
            value.parse::<u32>().map_err(|_| invalid(name))?;
            *field = Some(value.to_string());
        }
    }
    if !phone.activated {
        phone.capabilities = if phone.kind == "Mobile" {
            vec!["phone".into(), "sms".into()]
        } else {
            vec!["phone".into()]
        };
    }
    Ok(())
}

/// Applies group parameters to a copy; refuses (naming the parameter) before any change.
fn apply_group_fields(group: &mut Group, params: &Params) -> Result<(), DuoFail> {
    if let Some(name) = params.get("name") {
        if name.is_empty() {
            return Err(invalid("name"));
        }
        group.name = name.to_string();
    }
    if let Some(desc) = params.get("desc") {
        group.desc = desc.to_string();
    }
    if let Some(status) = params.get("status") {
        group.status = match status {
            "active" => "Active",
            "bypass" => "Bypass",
            "disabled" => "Disabled",
            _ => return Err(invalid("status")),
        }
        .to_string();
    }
    for (name, field) in [
        ("push_enabled", &mut group.push_enabled),
        ("sms_enabled", &mut group.sms_enabled),
        ("voice_enabled", &mut group.voice_enabled),
        ("mobile_otp_enabled", &mut group.mobile_otp_enabled),
    ] {
        if let Some(on) = flag(params, name)? {
            *field = on;
        }
    }
    Ok(())
}

/// Default lifetime of an activation link: one day.
pub const ACTIVATION_VALID_SECS: u64 = 86_400;

fn activation_url(shared: &Arc<Shared>, phone_id: &str, params: &Params) -> ApiResult {
    let data = shared.data();
    let phone = data.phone(phone_id).ok_or_else(not_found)?;
    let valid_secs = count_param(params, "valid_secs")?.unwrap_or(ACTIVATION_VALID_SECS);
    let install = match params.get("install") {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(invalid("install")),
    };
    if matches!(phone.platform.as_str(), "Unknown" | "") || phone.kind == "Landline" {
        return Err(invalid("platform"));
    }
    let code = crate::config::random_token(
        &mut rand::rng(),
        "",
        20,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    let url = shared.public_url();
    let mut answer = json!({
        "activation_barcode": format!("{url}/frame/qr?value=duo%3A%2F%2F{code}"),
        "activation_url": format!("{url}/activate/{code}"),
        "valid_secs": valid_secs,
    });
    if install {
        answer["installation_url"] = json!(format!("{url}/install/{phone_id}"));
    }
    Ok(Answer::Ok(answer, None))
}

/// Duo's default activation SMS; `<acturl>` is replaced by the link.
pub const DEFAULT_ACTIVATION_MSG: &str =
    "To activate the Duo Mobile app, click this link: <acturl>";
/// Duo's default installation SMS; `<insturl>` is replaced by the store link.
pub const DEFAULT_INSTALLATION_MSG: &str =
    "Welcome to Duo! To install the Duo Mobile app, click this link: <insturl>";

fn send_sms_activation(shared: &Arc<Shared>, phone_id: &str, params: &Params) -> ApiResult {
    let now = shared.now_secs();
    let mut data = shared.data();
    let phone = data.phone(phone_id).ok_or_else(not_found)?;
    let valid_secs = count_param(params, "valid_secs")?.unwrap_or(ACTIVATION_VALID_SECS);
    let install = match params.get("install") {
        None | Some("0") => false,
        Some("1") => true,
        Some(_) => return Err(invalid("install")),
    };
    let activation_msg = params
        .get("activation_msg")
        .unwrap_or(DEFAULT_ACTIVATION_MSG)
        .to_string();
    if !activation_msg.contains("<acturl>") {
        return Err(invalid("activation_msg"));
    }
    let installation_msg = params
        .get("installation_msg")
        .unwrap_or(DEFAULT_INSTALLATION_MSG)
        .to_string();
    if !installation_msg.contains("<insturl>") {
        return Err(invalid("installation_msg"));
    }
    if !phone.kind.eq_ignore_ascii_case("mobile") {
        return Err(invalid("type"));
    }
    if matches!(phone.platform.as_str(), "Unknown" | "") {
        return Err(invalid("platform"));
    }
    if phone.number.is_empty() {
        return Err(invalid("number"));
    }
    let number = phone.number.clone();
    let code = crate::config::random_token(
        &mut rand::rng(),
        "",
        20,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    let url = shared.public_url();
    let activation_msg = activation_msg.replace("<acturl>", &format!("{url}/activate/{code}"));
    let installation_msg =
        installation_msg.replace("<insturl>", &format!("{url}/install/{phone_id}"));
    let mut answer = json!({
        "activation_barcode": format!("{url}/frame/qr?value=duo%3A%2F%2F{code}"),
        "activation_msg": activation_msg,
        "valid_secs": valid_secs,
    });
    let mut messages = Vec::new();
    if install {
        answer["installation_msg"] = json!(installation_msg);
        messages.push(installation_msg);
    }
    messages.push(activation_msg);
    data.activation_sms.push(crate::state::ActivationSms {
        phone_id: phone_id.to_string(),
        number,
        messages,
        sent: now,
        expiration: now.saturating_add(valid_secs as i64),
    });
    Ok(Answer::Ok(answer, None))
}

/// Default lifetime of an enrollment link: 30 days.
pub const ENROLL_VALID_SECS: u64 = 2_592_000;

/// A non-negative integer parameter, or `None` when absent.
fn count_param(params: &Params, name: &str) -> Result<Option<u64>, DuoFail> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| invalid(name)),
    }
}

fn enroll_user(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let username = required(params, "username")?.to_string();
    let email = required(params, "email")?.to_string();
    if !email.contains('@') {
        return Err(invalid("email"));
    }
    let valid_secs = count_param(params, "valid_secs")?.unwrap_or(ENROLL_VALID_SECS);
    let now = shared.now_secs();
    let user = User {
        user_id: duo_id(&mut rand::rng(), "DU"),
        username: username.clone(),
        email: email.clone(),
        status: "active".into(),
        created: now,
        ..User::default()
    };
    let mut data = shared.data();
    if data.name_taken(&username, None) {
        return Err(invalid("username already exists"));
    }
    let user_id = user.user_id.clone();
    data.insert_user(UserRecord::new(user));
    data.enrollment_emails.push(EnrollmentEmail {
        user_id,
        username,
        email,
        sent: now,
        expiration: (valid_secs > 0).then(|| now.saturating_add(valid_secs as i64)),
    });
    Ok(Answer::Ok(json!(""), None))
}

/// Most bypass codes one request makes, and one user holds (Duo's limits).
pub const BYPASS_CODES_PER_REQUEST: usize = 10;
/// Most bypass codes one user holds.
pub const BYPASS_CODES_PER_USER: usize = 100;

fn generate_bypass_codes(shared: &Arc<Shared>, user_id: &str, params: &Params) -> ApiResult {
    let mut data = shared.data();
    data.user(user_id).ok_or_else(not_found)?;
    let count = count_param(params, "count")?;
    let given = params.get("codes");
    let codes: Vec<String> = match (count, given) {
        (Some(_), Some(_)) => {
            return Err(invalid("codes: cannot be combined with count"));
        }
        (_, Some(list)) => {
            let codes: Vec<String> = list.split(',').map(|c| c.trim().to_string()).collect();
            let valid = |c: &String| {
                (1..=32).contains(&c.len()) && c.chars().all(|ch| ch.is_ascii_alphanumeric())
            };
            if codes.len() > BYPASS_CODES_PER_REQUEST || !codes.iter().all(valid) {
                return Err(invalid("codes"));
            }
            let mut seen = std::collections::HashSet::new();
            if !codes.iter().all(|c| seen.insert(c.as_str())) {
                return Err(invalid("codes"));
            }
            codes
        }
        (count, None) => {
            let count = count.unwrap_or(BYPASS_CODES_PER_REQUEST as u64) as usize;
            if !(1..=BYPASS_CODES_PER_REQUEST).contains(&count) {
                return Err(invalid("count"));
            }
            let mut rng = rand::rng();
            (0..count)
                .map(|_| {
                    format!(
                        "{:09}",
                        rand::Rng::random_range(&mut rng, 0..1_000_000_000u32)
                    )
                })
                .collect()
        }
    };
    let valid_secs = count_param(params, "valid_secs")?.unwrap_or(0);
    let reuse_count = count_param(params, "reuse_count")?.unwrap_or(1);
    let preserve = flag(params, "preserve_existing")?.unwrap_or(false);
    let kept = if preserve {
        data.bypass_codes
            .iter()
            .filter(|c| c.user_id == user_id)
            .count()
    } else {
        0
    };
    if kept + codes.len() > BYPASS_CODES_PER_USER {
        return Err(invalid("too many bypass codes for this user (at most 100)"));
    }
    if !preserve {
        data.bypass_codes.retain(|c| c.user_id != user_id);
    }
    let now = shared.now_secs();
    let mut rng = rand::rng();
    for code in &codes {
        let bypass_code_id = duo_id(&mut rng, "DB");
        data.keep_bypass_secret(&bypass_code_id, code);
        data.bypass_codes.push(BypassRecord {
            code: BypassCode {
                bypass_code_id,
                admin_email: String::new(),
                created: now,
                expiration: (valid_secs > 0).then(|| now.saturating_add(valid_secs as i64)),
                reuse_count: (reuse_count > 0).then_some(reuse_count as i64),
                user: None,
            },
            user_id: user_id.to_string(),
        });
    }
    Ok(Answer::Ok(json!(codes), None))
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
