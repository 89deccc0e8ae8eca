//! The Auth API: ping, check, logo, enroll, enroll_status, preauth, auth, auth_status.
//!
//! Users answer as scripted ([`crate::state::Answer`]). A push, call or `auto` factor creates a
//! transaction decided after `answer_delay` (approve, deny, fraud) or, for `timeout`, after
//! `push_timeout` as deny/timeout. `auth_status` long-polls up to `long_poll` for the decision.
//! Passcodes are checked against the user's scripted list; `sms` always answers deny/sent.

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::envelope::{DuoFail, FailCode};
use duo_proto::models::{AuthDevice, PreauthResponse};

use crate::config::{duo_id, random_token};
use crate::pipeline::{Answer, ApiResult};
use crate::request_params::{invalid, required};
use crate::shared::Shared;
use crate::state::{Answer as Script, Enrollment, Transaction, UserRecord};

/// A 1×1 transparent PNG.
const LOGO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];

const MSG_ALLOW: &str = "Success. Logging you in...";
const MSG_DENY: &str = "Login request denied.";
const MSG_TIMEOUT: &str = "Login timed out.";
const MSG_FRAUD: &str = "Login request reported as fraudulent.";
const MSG_PUSHED: &str = "Pushed a login request to your device...";
const MSG_BAD_PASSCODE: &str = "Incorrect passcode. Please try again.";
const MSG_SMS: &str = "New SMS passcodes sent.";
const MSG_LOCKED: &str = "Your account is locked out. Contact your administrator.";
const MSG_DISABLED: &str = "Your account is disabled.";
const MSG_BYPASS: &str = "Allowing access (bypass).";

/// `GET /auth/v2/ping` (unsigned).
pub fn ping(shared: &Arc<Shared>) -> Answer {
    Answer::Ok(json!({"time": shared.now_secs()}), None)
}

/// Routes `/auth/v2/...`.
pub async fn dispatch(
    shared: &Arc<Shared>,
    method: &Method,
    segments: &[&str],
    params: &Params,
) -> ApiResult {
    match (segments, method) {
        (["auth", "v2", "check"], &Method::GET) => Ok(ping(shared)),
        (["auth", "v2", "logo"], &Method::GET) => Ok(Answer::Raw("image/png", LOGO_PNG.to_vec())),
        (["auth", "v2", "enroll"], &Method::POST) => enroll(shared, params),
        (["auth", "v2", "enroll_status"], &Method::POST) => enroll_status(shared, params),
        (["auth", "v2", "preauth"], &Method::POST) => preauth(shared, params),
        (["auth", "v2", "auth"], &Method::POST) => auth(shared, params).await,
        (["auth", "v2", "auth_status"], &Method::GET) => auth_status(shared, params).await,
        (
            [
                "auth",
                "v2",
                "check" | "logo" | "enroll" | "enroll_status" | "preauth" | "auth" | "auth_status",
            ],
            _,
        ) => Err(DuoFail::new(FailCode::MethodNotAllowed)),
        _ => Err(DuoFail::new(FailCode::NotFound)),
    }
}

fn enroll(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let valid_secs: i64 = match params.get("valid_secs") {
        None => 86_400,
        Some(text) => text
            .parse()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| invalid("valid_secs"))?,
    };
    let mut rng = rand::rng();
    let mut data = shared.data();
    let username = match params.get("username") {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => random_token(
            &mut rng,
            "user-",
            13,
            b"abcdefghijklmnopqrstuvwxyz0123456789",
        ),
    };
    if data.user_by_name(&username).is_some() {
        return Err(invalid("username already exists"));
    }
    let user_id = duo_id(&mut rng, "DU");
    let code = random_token(
        &mut rng,
        "",
        20,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    );
    let now = shared.now_secs();
    data.insert_user(UserRecord {
        user: duo_proto::models::User {
            user_id: user_id.clone(),
            username: username.clone(),
            status: "active".into(),
            created: now,
            ..Default::default()
        },
        phone_ids: Vec::new(),
        answer: Script::Approve,
        passcodes: Vec::new(),
    });
    let activation_code = format!("duo://{code}");
    data.enrollments.insert(
        user_id.clone(),
        Enrollment {
            activation_code: activation_code.clone(),
            expiration: now + valid_secs,
            activated: false,
        },
    );
    let url = shared.public_url();
    Ok(Answer::Ok(
        json!({
            "activation_barcode": format!("{url}/frame/qr?value={code}"),
            "activation_code": activation_code,
            "activation_url": format!("{url}/activate/{code}"),
            "expiration": now + valid_secs,
            "user_id": user_id,
            "username": username,
        }),
        None,
    ))
}

fn enroll_status(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let user_id = required(params, "user_id")?;
    let code = required(params, "activation_code")?;
    let data = shared.data();
    let status = match data.enrollments.get(user_id) {
        Some(e) if e.activation_code == code && e.activated => "success",
        Some(e) if e.activation_code == code && e.expiration >= shared.now_secs() => "waiting",
        _ => "invalid",
    };
    Ok(Answer::Ok(json!(status), None))
}

/// Finds the subject of a preauth/auth: exactly one of `user_id` and `username`.
fn subject<'a>(
    data: &'a crate::state::Data,
    params: &Params,
) -> Result<Option<&'a UserRecord>, DuoFail> {
    match (params.get("user_id"), params.get("username")) {
        (Some(id), None) => Ok(data.user(id)),
        (None, Some(name)) => Ok(data.user_by_name(name)),
        _ => Err(invalid("exactly one of user_id and username is required")),
    }
}

fn masked(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    let last4 = &digits[digits.len().saturating_sub(4)..];
    format!("XXX-XXX-{last4}")
}

fn preauth(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let data = shared.data();
    let record = subject(&data, params)?;
    let url = shared.public_url();
    let enroll = || PreauthResponse {
        result: "enroll".into(),
        status_msg: "Enroll an authentication device to proceed".into(),
        devices: Vec::new(),
        enroll_portal_url: Some(format!("{url}/portal?code=enroll")),
    };
    let answer = |result: &str, msg: &str| PreauthResponse {
        result: result.into(),
        status_msg: msg.into(),
        devices: Vec::new(),
        enroll_portal_url: None,
    };
    let response = match record {
        None => enroll(),
        Some(r) if r.user.status == "disabled" => answer("deny", MSG_DISABLED),
        Some(r) if r.user.status == "bypass" || r.answer == Script::Bypass => {
            answer("allow", MSG_BYPASS)
        }
        Some(r) if r.answer == Script::LockedOut => answer("deny", MSG_LOCKED),
        Some(r) if r.answer == Script::NotEnrolled => enroll(),
        Some(r) if r.phone_ids.is_empty() && r.passcodes.is_empty() => enroll(),
        Some(r) => {
            let mut devices: Vec<AuthDevice> = r
                .phone_ids
                .iter()
                .filter_map(|id| data.phone(id))
                .map(|p| AuthDevice {
                    device: p.phone_id.clone(),
                    kind: "phone".into(),
                    number: Some(masked(&p.number)),
                    name: Some(p.name.clone()),
                    display_name: Some(format!("{} ({})", p.platform, masked(&p.number))),
                    capabilities: p.capabilities.clone(),
                    sms_nextcode: None,
                })
                .collect();
            if !r.passcodes.is_empty() {
                devices.push(AuthDevice {
                    device: "DHPASSCODES000000000".into(),
                    kind: "token".into(),
                    capabilities: Vec::new(),
                    ..AuthDevice::default()
                });
            }
            PreauthResponse {
                result: "auth".into(),
                status_msg: "Account is active".into(),
                devices,
                enroll_portal_url: None,
            }
        }
    };
    Ok(Answer::Ok(
        serde_json::to_value(response).unwrap_or(Value::Null),
        None,
    ))
}

/// `result`, `status`, `status_msg` of a decided transaction.
fn outcome(script: Script, status: &str) -> (&'static str, &'static str, &'static str) {
    if status == "disabled" {
        return ("deny", "deny", MSG_DISABLED);
    }
    match script {
        Script::Approve => ("allow", "allow", MSG_ALLOW),
        Script::Deny | Script::NotEnrolled => ("deny", "deny", MSG_DENY),
        Script::Timeout => ("deny", "timeout", MSG_TIMEOUT),
        Script::Fraud => ("deny", "fraud", MSG_FRAUD),
        Script::Bypass => ("allow", "bypass", MSG_BYPASS),
        Script::LockedOut => ("deny", "locked_out", MSG_LOCKED),
    }
}

async fn auth(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let factor = required(params, "factor")?.to_string();
    let asynchronous = matches!(params.get("async"), Some("1" | "true"));
    let now = tokio::time::Instant::now();
    let transaction = {
        let data = shared.data();
        let record = subject(&data, params)?.ok_or_else(|| invalid("username"))?;
        let (result, status, status_msg, decided_at) = match factor.as_str() {
            "passcode" => {
                let passcode = required(params, "passcode")?;
                if record.passcodes.iter().any(|p| p == passcode)
                    && record.user.status != "disabled"
                {
                    ("allow", "allow", MSG_ALLOW, now)
                } else {
                    ("deny", "deny", MSG_BAD_PASSCODE, now)
                }
            }
            "push" | "phone" | "sms" | "auto" => {
                let device = required(params, "device")?;
                let capability = if factor == "auto" {
                    "auto"
                } else {
                    factor.as_str()
                };
                let capable = record
                    .phone_ids
                    .iter()
                    .filter_map(|id| data.phone(id))
                    .any(|p| {
                        (device == "auto" || p.phone_id == device)
                            && p.capabilities.iter().any(|c| c == capability)
                    });
                if !capable {
                    return Err(invalid("no capable device"));
                }
                if factor == "sms" {
                    ("deny", "sent", MSG_SMS, now)
                } else {
                    let (result, status, msg) = outcome(record.answer, &record.user.status);
                    let wait = match record.answer {
                        Script::Timeout => shared.config.push_timeout,
                        _ => shared.config.answer_delay,
                    };
                    (result, status, msg, now + wait)
                }
            }
            _ => return Err(invalid("factor")),
        };
        Transaction {
            txid: uuid::Uuid::new_v4().to_string(),
            username: record.user.username.clone(),
            factor: factor.clone(),
            device: params.get("device").map(String::from),
            kind: params.get("type").map(String::from),
            pushinfo: params.get("pushinfo").map(String::from),
            ipaddr: params.get("ipaddr").map(String::from),
            display_username: params.get("display_username").map(String::from),
            r#async: asynchronous,
            created: shared.now_secs(),
            result: result.into(),
            status: status.into(),
            status_msg: status_msg.into(),
            decided_at,
        }
    };
    let txid = transaction.txid.clone();
    let decided_at = transaction.decided_at;
    let decision = json!({
        "result": transaction.result,
        "status": transaction.status,
        "status_msg": transaction.status_msg,
    });
    shared.data().transactions.insert(txid.clone(), transaction);
    if asynchronous {
        return Ok(Answer::Ok(json!({"txid": txid}), None));
    }
    tokio::time::sleep_until(decided_at).await;
    Ok(Answer::Ok(decision, None))
}

async fn auth_status(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let txid = required(params, "txid")?;
    let (decided_at, decision) = {
        let data = shared.data();
        let tx = data.transactions.get(txid).ok_or_else(|| invalid("txid"))?;
        (
            tx.decided_at,
            json!({"result": tx.result, "status": tx.status, "status_msg": tx.status_msg}),
        )
    };
    let deadline = tokio::time::Instant::now() + shared.config.long_poll;
    if decided_at <= deadline {
        tokio::time::sleep_until(decided_at).await;
        return Ok(Answer::Ok(decision, None));
    }
    tokio::time::sleep_until(deadline).await;
    Ok(Answer::Ok(
        json!({"result": "waiting", "status": "pushed", "status_msg": MSG_PUSHED}),
        None,
    ))
}
