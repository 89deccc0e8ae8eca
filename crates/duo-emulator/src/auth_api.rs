//! The Auth API: ping, check, logo, enroll, enroll_status, preauth, auth, auth_status.
//!
//! Users answer as scripted ([`crate::state::Answer`]):
//!
//! | script / user status | preauth | auth (push, phone, auto) |
//! |---|---|---|
//! | `approve` | `auth` with devices | allow/`allow` after `answer_delay` |
//! | `deny` | `auth` | deny/`deny` after `answer_delay` |
//! | `fraud` | `auth` | deny/`fraud` after `answer_delay` |
//! | `timeout` | `auth` | waiting/`pushed` until `push_timeout`, then deny/`timeout` |
//! | `bypass`, or status `bypass` | `allow` | allow/`bypass` at once |
//! | `not_enrolled` | `enroll` with `enroll_portal_url` | deny/`deny` |
//! | `locked_out` | `deny` | deny/`locked_out` at once |
//! | status `disabled` | `deny` | deny/`deny` at once |
//! | unknown user | `enroll` | 40002 naming `username`/`user_id` |
//!
//! Every auth call is recorded as a transaction (see `GET /_emulator/transactions`).
//! `passcode` allows exactly the user's scripted passcodes; `sms` answers deny/`sent`.
//! `push`, `phone`, `sms` and `auto` need a `device` (an id or `auto`) with that capability,
//! else 40002 `device` or `no capable device`. With `async=1` auth answers `{"txid"}` at once;
//! otherwise it waits for the decision. `auth_status` long-polls up to `long_poll`.

use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::envelope::{DuoFail, FailCode};
use duo_proto::models::{AsyncAuth, AuthDevice, EnrollResponse, PreauthResponse, ServerTime, User};

use crate::config::{duo_id, random_token};
use crate::pipeline::{Answer, ApiResult};
use crate::request_params::{invalid, required};
use crate::shared::Shared;
use crate::state::{Answer as Script, Data, Enrollment, Transaction, UserRecord};

fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The longest enrollment `valid_secs` accepted (a year; Duo documents no maximum).
const MAX_VALID_SECS: i64 = 365 * 86_400;

/// `at + wait`, or a century from `at` when that overflows (a huge configured timeout).
fn later(at: tokio::time::Instant, wait: std::time::Duration) -> tokio::time::Instant {
    at.checked_add(wait)
        .unwrap_or_else(|| at + std::time::Duration::from_secs(100 * 365 * 86_400))
}

/// The device preauth lists for a user who has passcodes (a token-type device).
const PASSCODE_DEVICE: &str = "DHPASSCODES000000000";

/// The logo: a valid 1×1 transparent PNG (signature, IHDR, IDAT, IEND with correct CRCs).
pub const LOGO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60, 0x00, 0x02, 0x00,
    0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44,
    0xae, 0x42, 0x60, 0x82,
];

const MSG_ALLOW: &str = "Success. Logging you in...";
const MSG_DENY: &str = "Login request denied.";
const MSG_TIMEOUT: &str = "Login timed out.";
const MSG_FRAUD: &str = "Login request reported as fraudulent.";
const MSG_ENROLL: &str = "Enroll an authentication device to proceed";
const MSG_BAD_PASSCODE: &str = "Incorrect passcode. Please try again.";
const MSG_SMS: &str = "New SMS passcodes sent.";
const MSG_LOCKED: &str = "Your account is locked out. Contact your administrator.";
const MSG_DISABLED: &str = "Your account is disabled.";
const MSG_BYPASS: &str = "Allowing access (bypass).";

/// `GET /auth/v2/ping` (unsigned).
pub fn ping(shared: &Arc<Shared>) -> Answer {
    let time = ServerTime {
        time: shared.now_secs(),
    };
    Answer::Ok(to_value(&time), None)
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
            .trim()
            .parse()
            .ok()
            .filter(|s| (1..=MAX_VALID_SECS).contains(s))
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
    if data.name_taken(&username, None) {
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
    let expiration = now.saturating_add(valid_secs);
    data.insert_user(UserRecord::new(User {
        user_id: user_id.clone(),
        username: username.clone(),
        status: "active".into(),
        created: now,
        ..User::default()
    }));
    let activation_code = format!("duo://{code}");
    data.enrollments.insert(
        user_id.clone(),
        Enrollment {
            activation_code: activation_code.clone(),
            expiration,
            activated: false,
        },
    );
    let url = shared.public_url();
    let response = EnrollResponse {
        activation_barcode: format!("{url}/frame/qr?value={code}"),
        activation_code,
        activation_url: format!("{url}/activate/{code}"),
        expiration,
        user_id,
        username,
    };
    Ok(Answer::Ok(to_value(&response), None))
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

/// Finds the subject of a preauth/auth: exactly one of `user_id` and `username` (which also
/// matches aliases). `Ok(None)` when no such user exists.
fn subject<'a>(data: &'a Data, params: &Params) -> Result<Option<&'a UserRecord>, DuoFail> {
    match (params.get("user_id"), params.get("username")) {
        (Some(id), None) => Ok(data.user(id)),
        (None, Some(name)) => Ok(data.user_by_name(name)),
        _ => Err(invalid("exactly one of user_id and username is required")),
    }
}

/// `XXX-XXX-1234`: the last four digits of a number.
fn masked(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let last4: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("XXX-XXX-{last4}")
}

fn preauth(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let data = shared.data();
    let record = subject(&data, params)?;
    let url = shared.public_url();
    let enroll = || PreauthResponse {
        result: "enroll".into(),
        status_msg: MSG_ENROLL.into(),
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
            let mut devices: Vec<AuthDevice> = data
                .phones_of(r)
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
                    device: PASSCODE_DEVICE.into(),
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
    Ok(Answer::Ok(to_value(&response), None))
}

/// `result`, `status`, `status_msg` once a push/call/auto for a user with `script` is decided.
fn outcome(script: Script) -> (&'static str, &'static str, &'static str) {
    match script {
        Script::Approve => ("allow", "allow", MSG_ALLOW),
        Script::Deny | Script::NotEnrolled => ("deny", "deny", MSG_DENY),
        Script::Timeout => ("deny", "timeout", MSG_TIMEOUT),
        Script::Fraud => ("deny", "fraud", MSG_FRAUD),
        Script::Bypass => ("allow", "bypass", MSG_BYPASS),
        Script::LockedOut => ("deny", "locked_out", MSG_LOCKED),
    }
}

/// The factors `/auth/v2/auth` knows.
const FACTORS: [&str; 5] = ["auto", "push", "passcode", "phone", "sms"];

async fn auth(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let factor = required(params, "factor")?.to_string();
    if !FACTORS.contains(&factor.as_str()) {
        return Err(invalid("factor"));
    }
    let asynchronous = matches!(params.get("async"), Some("1" | "true"));
    let now = tokio::time::Instant::now();
    let transaction = {
        let data = shared.data();
        let record = subject(&data, params)?.ok_or_else(|| {
            invalid(if params.contains_key("user_id") {
                "user_id"
            } else {
                "username"
            })
        })?;
        let immediately = |(result, status, msg): (&str, &str, &str)| {
            (result.to_string(), status.to_string(), msg.to_string(), now)
        };
        let (result, status, status_msg, decided_at) = if factor == "passcode" {
            let passcode = required(params, "passcode")?;
            if record.user.status == "disabled" {
                immediately(("deny", "deny", MSG_DISABLED))
            } else if record.passcodes.iter().any(|p| p == passcode) {
                immediately(("allow", "allow", MSG_ALLOW))
            } else {
                immediately(("deny", "deny", MSG_BAD_PASSCODE))
            }
        } else {
            let device = required(params, "device")?;
            if record.user.status == "disabled" {
                immediately(("deny", "deny", MSG_DISABLED))
            } else if record.user.status == "bypass" || record.answer == Script::Bypass {
                immediately(("allow", "bypass", MSG_BYPASS))
            } else if record.answer == Script::LockedOut {
                immediately(("deny", "locked_out", MSG_LOCKED))
            } else {
                let capable = data.phones_of(record).any(|p| {
                    (device == "auto" || p.phone_id == device) && p.capabilities.contains(&factor)
                });
                if !capable {
                    return Err(invalid("no capable device"));
                }
                if factor == "sms" {
                    immediately(("deny", "sent", MSG_SMS))
                } else {
                    let wait = match record.answer {
                        Script::Timeout => shared.config.push_timeout,
                        _ => shared.config.answer_delay,
                    };
                    let (result, status, msg) = outcome(record.answer);
                    (result.into(), status.into(), msg.into(), later(now, wait))
                }
            }
        };
        let text = |name: &str| params.get(name).map(String::from);
        Transaction {
            txid: uuid::Uuid::new_v4().to_string(),
            username: record.user.username.clone(),
            factor: factor.clone(),
            device: text("device"),
            kind: text("type"),
            pushinfo: text("pushinfo"),
            ipaddr: text("ipaddr"),
            hostname: text("hostname"),
            display_username: text("display_username"),
            asynchronous,
            created: shared.now_secs(),
            result,
            status,
            status_msg,
            decided_at,
        }
    };
    let txid = transaction.txid.clone();
    let decided_at = transaction.decided_at;
    let decision = transaction.final_decision();
    tracing::debug!(%txid, factor = %transaction.factor, status = %decision.status, "auth transaction");
    shared.data().insert_transaction(transaction);
    if asynchronous {
        return Ok(Answer::Ok(to_value(&AsyncAuth { txid }), None));
    }
    tokio::time::sleep_until(decided_at).await;
    Ok(Answer::Ok(to_value(&decision), None))
}

async fn auth_status(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let txid = required(params, "txid")?;
    let decided_at = shared
        .data()
        .transaction(txid)
        .map(|tx| tx.decided_at)
        .ok_or_else(|| invalid("txid"))?;
    // Long poll: answer as soon as the decision is reached, or after `long_poll` at most.
    let deadline = later(tokio::time::Instant::now(), shared.config.long_poll);
    tokio::time::sleep_until(decided_at.min(deadline)).await;
    let now = tokio::time::Instant::now();
    let data = shared.data();
    let tx = data.transaction(txid).ok_or_else(|| invalid("txid"))?;
    Ok(Answer::Ok(to_value(&tx.decision_at(now)), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CRC-32 (IEEE), bit by bit: enough to check a 68-byte file.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffff_u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn the_logo_is_a_well_formed_png() {
        assert_eq!(&LOGO_PNG[..8], b"\x89PNG\r\n\x1a\n");
        let mut rest = &LOGO_PNG[8..];
        let mut kinds = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let (kind_and_data, after) = rest[4..].split_at(4 + len);
            let crc = u32::from_be_bytes(after[..4].try_into().unwrap());
            assert_eq!(crc32(kind_and_data), crc, "chunk CRC");
            kinds.push(String::from_utf8_lossy(&kind_and_data[..4]).into_owned());
            rest = &after[4..];
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
    }

    #[test]
    fn numbers_are_masked_to_their_last_four_digits() {
        assert_eq!(masked("+15555550123"), "XXX-XXX-0123");
        assert_eq!(masked("12"), "XXX-XXX-12");
    }
}
