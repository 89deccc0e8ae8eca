//! The control API under `/_emulator/`: unsigned, and only for loopback peers.
//!
//! | route | what |
//! |---|---|
//! | `POST /_emulator/users` | create or replace a user with a scripted answer, passcodes, phones, Verified Push code (`"verified_push": "correct"` or `"wrong"`) |
//! | `POST /_emulator/phones`, `/admins`, `/bypass_codes` | create one object |
//! | `POST /_emulator/enrollments/activate` | finish an enrollment (`{"user_id"}`) |
//! | `GET /_emulator/emails` | enrollment e-mails `POST /admin/v1/users/enroll` would have sent |
//! | `GET /_emulator/sms` | activation SMS `POST /admin/v1/phones/{phone_id}/send_sms_activation` would have sent |
//! | `POST /_emulator/logs/authentication` | records an authentication log entry at a chosen time (`{"username", "timestamp_ms", "result"?, "factor"?, "reason"?}`) |
//! | `POST /_emulator/logs/administrator` | records an administrator log entry at a chosen time (`{"action", "object", "timestamp_ms", "description"?}`) |
//! | `GET`, `POST`, `DELETE /_emulator/faults` | list, add, clear faults |
//! | `GET`, `DELETE /_emulator/requests` | the request log |
//! | `GET /_emulator/transactions` | auth transactions (with pushinfo, factor, menu choice, device, failmode, verification code…) |
//! | `POST /_emulator/transactions/answer` | the user answers now: `{"username", "answer": "approve"\|"deny"\|"fraud"\|"timeout"}` decides their waiting transactions; answers `{"answered": [txids]}` |
//! | `POST /_emulator/keys/rotate` | new secret keys and client secret; answers the `--print-keys` shape |
//! | `GET /_emulator/state` | everything, in the state-file shape ([`crate::state::StateFile`]) |
//! | `POST /_emulator/oauth/decide` | runs a Universal Prompt authorize URL headlessly (`{"url", "answer"?}`), answers the redirect ([`crate::universal_prompt`]) |
//! | `POST /_emulator/reset` | empties data, faults, rate-limit counters, Universal Prompt codes and the request log |
//!
//! Errors are `{"error": "…"}` with status 400 (or 403 for a non-loopback peer, 404 for an
//! unknown user).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use duo_proto::models::{Admin, BypassCode, User};

use crate::admin_api::ADMIN_ROLES;
use crate::config::{KeySet, duo_id, keys_json, new_skey};
use crate::faults::{Fault, FaultSpec};
use crate::shared::Shared;
use crate::state::{Answer, BypassRecord, Data, UserRecord, VerifiedPush, push_phone};

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// Refuses peers that are not loopback (requests without a known peer are in-process).
pub async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    match peer {
        Some(addr) if !addr.ip().is_loopback() => error(
            StatusCode::FORBIDDEN,
            "the control API answers loopback clients only",
        ),
        _ => next.run(request).await,
    }
}

/// The control routes.
pub fn router() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route("/_emulator/users", post(put_user))
        .route("/_emulator/phones", post(create_phone))
        .route("/_emulator/admins", post(create_admin))
        .route("/_emulator/bypass_codes", post(create_bypass_code))
        .route("/_emulator/enrollments/activate", post(activate_enrollment))
        .route("/_emulator/emails", get(list_emails))
        .route("/_emulator/sms", get(list_sms))
        .route(
            "/_emulator/logs/authentication",
            post(crate::logs::inject_authentication),
        )
        .route(
            "/_emulator/logs/administrator",
            post(crate::logs::inject_administrator),
        )
        .route(
            "/_emulator/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route(
            "/_emulator/requests",
            get(list_requests).delete(clear_requests),
        )
        .route("/_emulator/transactions", get(list_transactions))
        .route("/_emulator/transactions/answer", post(answer_transactions))
        .route("/_emulator/keys/rotate", post(rotate_keys))
        .route("/_emulator/state", get(dump_state))
        .route("/_emulator/reset", post(reset))
        .route(
            "/_emulator/oauth/decide",
            post(crate::universal_prompt::decide_control),
        )
        .route_layer(axum::middleware::from_fn(loopback_only))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let text = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(text).map_err(|e| format!("invalid body: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserInput {
    username: String,
    #[serde(default)]
    answer: Option<String>,
    #[serde(default)]
    passcodes: Option<Vec<String>>,
    #[serde(default)]
    phones: Option<usize>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    realname: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    verified_push: Option<String>,
}

async fn put_user(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let input: UserInput = match parse(&body) {
        Ok(input) => input,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if input.username.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "\"username\" must not be empty");
    }
    let answer = match input.answer.as_deref() {
        None => None,
        Some(text) => match Answer::parse(text) {
            Some(answer) => Some(answer),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("\"answer\" {text:?} is not one of {}", Answer::NAMES),
                );
            }
        },
    };
    let verified_push = match input.verified_push.as_deref() {
        None => None,
        Some(text) => match VerifiedPush::parse(text) {
            Some(verified_push) => Some(verified_push),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "\"verified_push\" {text:?} is not one of {}",
                        VerifiedPush::NAMES
                    ),
                );
            }
        },
    };
    if let Some(status) = &input.status
        && !matches!(status.as_str(), "active" | "disabled" | "bypass")
    {
        return error(
            StatusCode::BAD_REQUEST,
            "\"status\" must be active, disabled or bypass",
        );
    }
    let mut rng = rand::rng();
    let mut data = shared.data();
    let existing = data.user_by_name(&input.username).cloned();
    let is_new = existing.is_none();
    let mut record = existing.unwrap_or_else(|| {
        UserRecord::new(User {
            user_id: duo_id(&mut rng, "DU"),
            username: input.username.clone(),
            email: format!("{}@example.com", input.username),
            realname: input.username.clone(),
            status: "active".into(),
            is_enrolled: true,
            created: shared.now_secs(),
            ..User::default()
        })
    });
    if let Some(answer) = answer {
        record.answer = answer;
    }
    if let Some(passcodes) = input.passcodes {
        record.passcodes = passcodes;
    }
    if let Some(verified_push) = verified_push {
        record.verified_push = verified_push;
    }
    if let Some(status) = input.status {
        record.user.status = status;
    }
    if let Some(realname) = input.realname {
        record.user.realname = realname;
    }
    if let Some(email) = input.email {
        record.user.email = email;
    }
    let user_id = record.user.user_id.clone();
    // New users get one push-capable phone unless told otherwise; "phones" replaces them.
    let wanted_phones = input.phones.unwrap_or(usize::from(is_new));
    if input.phones.is_some() {
        data.detach_phones(&user_id);
        record.phone_ids.clear();
    }
    data.insert_user(record);
    for _ in 0..wanted_phones {
        let number = format!("+1555{:07}", 8_000_000 + data.phones().len());
        let phone = push_phone(&mut rng, number, true);
        let phone_id = phone.phone_id.clone();
        data.insert_phone(phone);
        data.associate(&user_id, &phone_id);
    }
    let Some(record) = data.user(&user_id) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "the user vanished");
    };
    let mut value = serde_json::to_value(data.full_user(record)).unwrap_or(Value::Null);
    value["answer"] = json!(record.answer);
    value["verified_push"] = json!(record.verified_push);
    (StatusCode::OK, Json(value)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PhoneInput {
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    capabilities: Option<Vec<String>>,
    #[serde(default)]
    user_id: Option<String>,
}

async fn create_phone(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let input: PhoneInput = match parse(&body) {
        Ok(input) => input,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let mut data = shared.data();
    if let Some(user_id) = &input.user_id
        && data.user(user_id).is_none()
    {
        return error(StatusCode::NOT_FOUND, format!("no user {user_id}"));
    }
    let number = input
        .number
        .unwrap_or_else(|| format!("+1555{:07}", 7_000_000 + data.phones().len()));
    let mut phone = push_phone(&mut rand::rng(), number, true);
    if let Some(name) = input.name {
        phone.name = name;
    }
    if let Some(platform) = input.platform {
        phone.platform = platform;
    }
    if let Some(capabilities) = input.capabilities {
        phone.capabilities = capabilities;
    }
    let phone_id = phone.phone_id.clone();
    data.insert_phone(phone);
    if let Some(user_id) = &input.user_id {
        data.associate(user_id, &phone_id);
    }
    let full = data.phone(&phone_id).map(|p| data.full_phone(p));
    (StatusCode::OK, Json(full)).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AdminInput {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

async fn create_admin(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let input: AdminInput = match parse(&body) {
        Ok(input) => input,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if let Some(role) = &input.role
        && !ADMIN_ROLES.contains(&role.as_str())
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("\"role\" {role:?} is not one of {}", ADMIN_ROLES.join(", ")),
        );
    }
    if let Some(status) = &input.status
        && !matches!(
            status.as_str(),
            "Active" | "Disabled" | "Expired" | "Pending Activation"
        )
    {
        return error(
            StatusCode::BAD_REQUEST,
            "\"status\" must be Active, Disabled, Expired or Pending Activation",
        );
    }
    let mut data = shared.data();
    let n = data.admins.len() + 1;
    let admin = Admin {
        admin_id: duo_id(&mut rand::rng(), "DE"),
        name: input.name.unwrap_or_else(|| format!("Admin {n}")),
        email: input
            .email
            .unwrap_or_else(|| format!("admin{n}@example.com")),
        phone: input
            .phone
            .unwrap_or_else(|| format!("+1555{:07}", 6_000_000 + n)),
        role: input.role.unwrap_or_else(|| "Administrator".into()),
        status: input.status.unwrap_or_else(|| "Active".into()),
        created: shared.now_secs(),
        ..Admin::default()
    };
    data.admins.push(admin.clone());
    (StatusCode::OK, Json(admin)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BypassInput {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    reuse_count: Option<i64>,
    #[serde(default)]
    expiration: Option<i64>,
}

async fn create_bypass_code(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    let input: BypassInput = match parse(&body) {
        Ok(input) => input,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let mut data = shared.data();
    let user_id = match (&input.user_id, &input.username) {
        (Some(id), _) => data.user(id).map(|r| r.user.user_id.clone()),
        (None, Some(name)) => data.user_by_name(name).map(|r| r.user.user_id.clone()),
        (None, None) => {
            return error(StatusCode::BAD_REQUEST, "give \"user_id\" or \"username\"");
        }
    };
    let Some(user_id) = user_id else {
        return error(StatusCode::NOT_FOUND, "no such user");
    };
    let record = BypassRecord {
        code: BypassCode {
            bypass_code_id: duo_id(&mut rand::rng(), "DB"),
            admin_email: "admin@example.com".into(),
            created: shared.now_secs(),
            expiration: input.expiration,
            reuse_count: input.reuse_count,
            user: None,
        },
        user_id,
    };
    let full = data.full_bypass_code(&record);
    data.bypass_codes.push(record);
    (StatusCode::OK, Json(full)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivateInput {
    user_id: String,
}

async fn activate_enrollment(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    let input: ActivateInput = match parse(&body) {
        Ok(input) => input,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let mut data = shared.data();
    let Some(enrollment) = data.enrollments.get_mut(&input.user_id) else {
        return error(StatusCode::NOT_FOUND, "no enrollment for that user");
    };
    enrollment.activated = true;
    let phone = push_phone(
        &mut rand::rng(),
        format!("+1555{:07}", 5_000_000 + data.phones().len()),
        true,
    );
    let phone_id = phone.phone_id.clone();
    data.insert_phone(phone);
    data.associate(&input.user_id, &phone_id);
    if let Some(record) = data.user(&input.user_id) {
        let user = User {
            is_enrolled: true,
            ..record.user.clone()
        };
        data.set_user(user);
    }
    (
        StatusCode::OK,
        Json(json!({"user_id": input.user_id, "activated": true})),
    )
        .into_response()
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.faults().clone()).into_response()
}

async fn add_fault(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let spec: FaultSpec = match parse(&body) {
        Ok(spec) => spec,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    if let Err(message) = spec.validate() {
        return error(StatusCode::BAD_REQUEST, message);
    }
    let fault = Fault {
        spec,
        seen: 0,
        applied: 0,
    };
    shared.faults().push(fault.clone());
    (StatusCode::CREATED, Json(fault)).into_response()
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults().clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_requests(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.logged_requests()).into_response()
}

async fn clear_requests(State(shared): State<Arc<Shared>>) -> Response {
    shared.clear_log();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_transactions(State(shared): State<Arc<Shared>>) -> Response {
    let now = tokio::time::Instant::now();
    let data = shared.data();
    let transactions: Vec<Value> = data.transactions().map(|t| t.view_at(now)).collect();
    Json(transactions).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerInput {
    username: String,
    answer: String,
}

async fn answer_transactions(
    State(shared): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> Response {
    let input: AnswerInput = match parse(&body) {
        Ok(input) => input,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let answer = match Answer::parse(&input.answer) {
        Some(answer @ (Answer::Approve | Answer::Deny | Answer::Fraud | Answer::Timeout)) => answer,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "\"answer\" must be approve, deny, fraud or timeout",
            );
        }
    };
    let now = tokio::time::Instant::now();
    let mut answered = Vec::new();
    {
        let mut data = shared.data();
        let Some(record) = data.user_by_name(&input.username).cloned() else {
            return error(StatusCode::NOT_FOUND, "no such user");
        };
        for tx in data.transactions_mut() {
            if tx.username == record.user.username && !tx.is_decided(now) {
                let wrong_code =
                    tx.verification_code.is_some() && record.verified_push == VerifiedPush::Wrong;
                tx.decide_now(now, crate::auth_api::scripted_outcome(answer, wrong_code));
                answered.push(tx.txid.clone());
            }
        }
    }
    answered.sort();
    shared.notify_transactions_changed();
    Json(json!({"answered": answered})).into_response()
}

async fn rotate_keys(State(shared): State<Arc<Shared>>) -> Response {
    let old = shared.keys();
    let mut rng = rand::rng();
    let keys = KeySet {
        admin_skey: new_skey(&mut rng),
        auth_skey: new_skey(&mut rng),
        oidc_client_secret: new_skey(&mut rng),
        ..old
    };
    shared.set_keys(keys.clone());
    Json(keys_json(&shared.public_url(), &keys)).into_response()
}

async fn dump_state(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.data().snapshot()).into_response()
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    *shared.data() = Data::default();
    shared.faults().clear();
    shared.rate_limiter().clear();
    shared.prompt().clear();
    shared.clear_log();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_emails(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!(shared.data().enrollment_emails)).into_response()
}

async fn list_sms(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!(shared.data().activation_sms)).into_response()
}
