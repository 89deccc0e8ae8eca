//! The Auth API: ping, check, logo, enroll, enroll_status, preauth, auth, auth_status.
//!
//! Users answer as scripted ([`crate::state::Answer`]):
//!
//! | script / user status | preauth | auth (push, phone, auto) |
//! |---|---|---|
//! | `approve` | `auth` with devices | allow/`allow` after `answer_delay` |
//! | `deny` | `auth` | deny/`deny` after `answer_delay` |
//! | `fraud` | `auth` | deny/`fraud` after `answer_delay` |
//! | `timeout` | `auth` | waiting until `push_timeout`, then deny/`timeout` |
//! | `bypass`, or status `bypass` | `allow` | allow/`bypass` at once |
//! | `not_enrolled` | `enroll` with `enroll_portal_url` | deny/`deny` |
//! | `locked_out` | `deny` | deny/`locked_out` at once |
//! | status `disabled` | `deny` | deny/`deny` at once |
//! | unknown user | `enroll` | 40002 naming `username`/`user_id` |
//!
//! Every decision is also an authentication log entry, and every phone call or SMS a telephony
//! log entry ([`crate::logs`]).
//!
//! Every auth call is recorded as a transaction (see `GET /_emulator/transactions`, which
//! shows `factor`, the menu `choice`, `device`, `pushinfo`, `ipaddr`, `hostname`, `failmode`
//! and `verification_code`, never a passcode). The request log (`GET /_emulator/requests`)
//! shows the same parameters for every Auth API call, preauth included ([`logged_params`]).
//! `passcode` allows exactly the user's scripted passcodes and the bypass codes generated for
//! them through the Admin API (each use counts against `reuse_count`; an expired or used-up
//! code is refused like a wrong passcode). `push`, `phone`, `sms` and `auto`
//! need a `device` (an id or `auto`: the user's first device with that capability; for `auto`,
//! push or else phone), else 40002 `device` or `no capable device`. With `async=1` auth answers
//! `{"txid"}` at once; otherwise it waits for the decision.
//!
//! # Waiting, and `auth_status`
//!
//! A transaction goes through waiting stages before its decision; `auth_status` reports them:
//!
//! | factor | waiting stages (`status`: `status_msg`) | then |
//! |---|---|---|
//! | push | `pushed`: `Pushed a login request to your device...` | the script's decision |
//! | Verified Push | `pushed`: `Please enter verification code NNN into Duo Mobile...`, with `verification_code` | the script's decision; `approve` with `verified_push: wrong` denies (`Incorrect verification code entered. Login request denied.`) |
//! | phone | `calling`: `Dialing XXX-XXX-1234...`, then halfway through `answered`: `Answered. Press any key on your phone to log in.` (not for `timeout`) | the script's decision |
//! | sms | none | deny/`sent` `New SMS passcodes sent.` at once (the user then types one of the new passcodes) |
//! | passcode | none | allow, or deny `Incorrect passcode. Please try again.`, at once |
//!
//! `auth_status` answers at once when the transaction has news for its poller (the first poll,
//! a stage the last poll did not report, or the decision); otherwise it long-polls until the
//! next change, for `long_poll` at most. `POST /_emulator/transactions/answer` decides a user's
//! waiting transactions on the spot, waking synchronous `auth` calls and long polls.
//!
//! # The text prompt (duo_unix: `login_duo`, `pam_duo`, ONTAP's SSH login)
//!
//! `preauth` with `text_prompt=1` adds, for `result: auth`, a `prompt` object: `text`, the menu a
//! terminal prints verbatim, and `factors`, what its choices mean. For a user with a
//! push-capable phone ending in 1234 and a second phone (calls and SMS) ending in 5678:
//!
//! ```text
//! Duo two-factor login for alice
//!
//! Enter a passcode or select one of the following options:
//!
//!  1. Duo Push to XXX-XXX-1234
//!  2. Phone call to XXX-XXX-1234
//!  3. Phone call to XXX-XXX-5678
//!  4. SMS passcodes to XXX-XXX-1234
//!  5. SMS passcodes to XXX-XXX-5678
//!
//! Passcode or option (1-5):
//! ```
//!
//! (the last line ends with a space and no newline), with `factors` `{"default": "push1", "1":
//! "push1", "2": "phone1", "3": "phone2", "4": "sms1", "5": "sms2"}`. Options are grouped by
//! factor (pushes, calls, SMS) and a name's number counts the user's devices with that
//! capability, in association order: `phone2` is the second phone that can take calls. The
//! default is the first option. A user with no device gets `Enter a passcode: ` and no
//! factors. For `result: enroll`, `prompt` is `{"text": "Please enroll at <enroll_portal_url>"}`.
//!
//! `auth` with `factor=prompt` takes the user's choice in `prompt`: a factor name (`push1`,
//! `verified_push1`, `phone2`, `sms1`; duo_unix's mock spellings `voice1` and `smsrefresh1`
//! too), a menu number (`1` means what the menu shows), or anything else as a passcode typed at
//! the prompt. A name whose device does not exist is 40002 `prompt`. `async`, `ipaddr`,
//! `hostname`, `pushinfo` and `failmode` work as with the other factors.
//!
//! # Verified Duo Push
//!
//! `preauth` with `client_supports_verified_push=1`, for a user with a push-capable phone, adds
//! `txid`, `verification_code` (three digits) and `expiration` (five minutes), and the menu's
//! pushes become `verified_push1`, … (the default too). `auth` with `factor=prompt` and a
//! `verified_push` choice, or with `factor=push` and a `txid`, must carry that preauth's
//! `txid` (one use; the same user; not expired), else 400/40002 naming `txid`. The transaction
//! keeps that txid, and while it waits `auth_status` shows the code both in `status_msg` and as
//! `verification_code` (this emulator's spelling; the field is absent otherwise). Whether the
//! user types the right code is scripted: `POST /_emulator/users {"username", "verified_push":
//! "correct"|"wrong"}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::Method;
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::envelope::{DuoFail, FailCode};
use duo_proto::models::{
    AsyncAuth, AuthDevice, EnrollResponse, Phone, PreauthResponse, ServerTime, TextPrompt, User,
};

use crate::config::{duo_id, random_token};
use crate::logs::AuthEvent;
use crate::pipeline::{Answer, ApiResult};
use crate::request_params::{flag, invalid, required};
use crate::shared::Shared;
use crate::state::{
    Answer as Script, Data, Decision, Enrollment, MSG_PUSHED, Phase, Transaction, UserRecord,
    VerifiedPush, VerifiedPushOffer,
};

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
const MSG_ANSWERED: &str = "Answered. Press any key on your phone to log in.";
const MSG_WRONG_CODE: &str = "Incorrect verification code entered. Login request denied.";
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

/// How long a Verified Push offer from preauth stays usable, in seconds.
const OFFER_SECS: i64 = 300;

/// The factors a prompt names, and the capability each needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutOfBand {
    Push,
    VerifiedPush,
    Phone,
    Sms,
}

impl OutOfBand {
    fn capability(self) -> &'static str {
        match self {
            Self::Push | Self::VerifiedPush => "push",
            Self::Phone => "phone",
            Self::Sms => "sms",
        }
    }
}

fn can(phone: &Phone, capability: &str) -> bool {
    phone.capabilities.iter().any(|c| c == capability)
}

/// One numbered line of the text menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuOption {
    /// The factor name `auth` takes as `prompt` (`push1`, `verified_push1`, `phone2`, `sms1`).
    pub name: String,
    /// The line's text (`Duo Push to XXX-XXX-1234`).
    pub label: String,
    /// The device it uses.
    pub phone_id: String,
}

/// The menu for a user's phones (in association order): pushes, then calls, then SMS.
pub fn menu(phones: &[Phone], verified_push: bool) -> Vec<MenuOption> {
    let kinds = [
        ("push", "Duo Push to"),
        ("phone", "Phone call to"),
        ("sms", "SMS passcodes to"),
    ];
    let mut options = Vec::new();
    for (capability, label) in kinds {
        let capable = phones.iter().filter(|p| can(p, capability));
        for (index, phone) in capable.enumerate() {
            let kind = match capability {
                "push" if verified_push => "verified_push",
                other => other,
            };
            options.push(MenuOption {
                name: format!("{kind}{}", index + 1),
                label: format!("{label} {}", masked(&phone.number)),
                phone_id: phone.phone_id.clone(),
            });
        }
    }
    options
}

/// preauth's `prompt` for `username` with these options.
pub fn text_prompt(username: &str, options: &[MenuOption]) -> TextPrompt {
    let mut text = format!("Duo two-factor login for {username}\n\n");
    let mut factors = BTreeMap::new();
    if options.is_empty() {
        text.push_str("Enter a passcode: ");
        return TextPrompt { text, factors };
    }
    text.push_str("Enter a passcode or select one of the following options:\n\n");
    for (index, option) in options.iter().enumerate() {
        text.push_str(&format!(" {}. {}\n", index + 1, option.label));
        factors.insert((index + 1).to_string(), option.name.clone());
    }
    text.push_str(&format!("\nPasscode or option (1-{}): ", options.len()));
    factors.insert("default".into(), options[0].name.clone());
    TextPrompt { text, factors }
}

/// What `auth`'s `prompt` names: a menu option, or a typed passcode.
enum PromptChoice<'a> {
    Option(OutOfBand, String, &'a Phone),
    Passcode(&'a str),
}

fn prompt_choice<'a>(
    choice: &'a str,
    phones: &'a [Phone],
    verified_push: bool,
) -> Result<PromptChoice<'a>, DuoFail> {
    let named = |name: &str| -> Result<Option<(OutOfBand, usize)>, DuoFail> {
        let kind_text = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let kind = match kind_text {
            "push" => OutOfBand::Push,
            "verified_push" => OutOfBand::VerifiedPush,
            "phone" | "voice" => OutOfBand::Phone,
            "sms" | "smsrefresh" => OutOfBand::Sms,
            _ => return Ok(None),
        };
        let index: usize = name[kind_text.len()..]
            .parse()
            .map_err(|_| invalid("prompt"))?;
        Ok(Some((kind, index)))
    };
    // A menu number, written as the menu writes it (so a passcode like 000001 stays one).
    if let Ok(number) = choice.parse::<usize>()
        && number.to_string() == choice
    {
        let options = menu(phones, verified_push);
        let Some(option) = number.checked_sub(1).and_then(|i| options.get(i)) else {
            return Ok(PromptChoice::Passcode(choice));
        };
        let Some((kind, _)) = named(&option.name)? else {
            return Err(invalid("prompt"));
        };
        let phone = phones
            .iter()
            .find(|p| p.phone_id == option.phone_id)
            .ok_or_else(|| invalid("prompt"))?;
        return Ok(PromptChoice::Option(kind, option.name.clone(), phone));
    }
    let Some((kind, index)) = named(choice)? else {
        return Ok(PromptChoice::Passcode(choice));
    };
    let phone = index
        .checked_sub(1)
        .and_then(|i| phones.iter().filter(|p| can(p, kind.capability())).nth(i))
        .ok_or_else(|| invalid("prompt"))?;
    Ok(PromptChoice::Option(kind, choice.to_string(), phone))
}

/// The parameters the request log shows (never `passcode`, nor `prompt`, which may be one).
const LOGGED_PARAMS: [&str; 14] = [
    "username",
    "user_id",
    "factor",
    "device",
    "async",
    "ipaddr",
    "hostname",
    "failmode",
    "pushinfo",
    "type",
    "display_username",
    "text_prompt",
    "client_supports_verified_push",
    "txid",
];

/// An Auth API request's parameters as the request log shows them.
pub fn logged_params(params: &Params) -> BTreeMap<String, String> {
    LOGGED_PARAMS
        .iter()
        .filter_map(|name| params.get(name).map(|v| (name.to_string(), v.to_string())))
        .collect()
}

fn preauth(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let wants_prompt = flag(params, "text_prompt")?.unwrap_or(false);
    let wants_verified_push = flag(params, "client_supports_verified_push")?.unwrap_or(false);
    if params
        .get("failmode")
        .is_some_and(|mode| !matches!(mode, "open" | "closed"))
    {
        return Err(invalid("failmode"));
    }
    let mut data = shared.data();
    let record = subject(&data, params)?.cloned();
    let url = shared.public_url();
    let enroll = || {
        let portal = format!("{url}/portal?code=enroll");
        PreauthResponse {
            result: "enroll".into(),
            status_msg: MSG_ENROLL.into(),
            prompt: wants_prompt.then(|| TextPrompt {
                text: format!("Please enroll at {portal}"),
                factors: BTreeMap::new(),
            }),
            enroll_portal_url: Some(portal),
            ..PreauthResponse::default()
        }
    };
    let answer = |result: &str, msg: &str| PreauthResponse {
        result: result.into(),
        status_msg: msg.into(),
        ..PreauthResponse::default()
    };
    let response = match record.clone() {
        None => enroll(),
        Some(r) if r.user.status == "disabled" => answer("deny", MSG_DISABLED),
        Some(r) if r.user.status == "bypass" || r.answer == Script::Bypass => {
            answer("allow", MSG_BYPASS)
        }
        Some(r) if r.answer == Script::LockedOut => answer("deny", MSG_LOCKED),
        Some(r) if r.answer == Script::NotEnrolled => enroll(),
        Some(r) if r.phone_ids.is_empty() && r.passcodes.is_empty() => enroll(),
        Some(r) => {
            let phones: Vec<Phone> = data.phones_of(&r).cloned().collect();
            let mut devices: Vec<AuthDevice> = phones
                .iter()
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
            let verified_push = wants_verified_push && phones.iter().any(|p| can(p, "push"));
            let mut response = PreauthResponse {
                result: "auth".into(),
                status_msg: "Account is active".into(),
                devices,
                prompt: wants_prompt
                    .then(|| text_prompt(&r.user.username, &menu(&phones, verified_push))),
                ..PreauthResponse::default()
            };
            if verified_push {
                let mut rng = rand::rng();
                let txid = uuid::Uuid::new_v4().to_string();
                let code = random_token(&mut rng, "", 3, b"0123456789");
                let expiration = shared.now_secs().saturating_add(OFFER_SECS);
                data.insert_offer(
                    txid.clone(),
                    VerifiedPushOffer {
                        user_id: r.user.user_id.clone(),
                        code: code.clone(),
                        expiration,
                    },
                );
                response.txid = Some(txid);
                response.verification_code = Some(code);
                response.expiration = Some(expiration);
            }
            response
        }
    };
    if response.result != "auth" {
        let (result, reason) = match (response.result.as_str(), response.status_msg.as_str()) {
            ("allow", _) => ("success", "bypass_user"),
            (_, MSG_LOCKED) => ("denied", "locked_out"),
            (_, MSG_DISABLED) => ("denied", "user_disabled"),
            _ => ("denied", "deny_unenrolled_user"),
        };
        let (user_id, username, email) = match &record {
            Some(r) => (
                r.user.user_id.clone(),
                r.user.username.clone(),
                r.user.email.clone(),
            ),
            None => (
                String::new(),
                params.get("username").unwrap_or_default().to_string(),
                String::new(),
            ),
        };
        data.logs.record_auth(AuthEvent {
            ts_ms: (shared.config.clock)().as_millisecond(),
            txid: uuid::Uuid::new_v4().to_string(),
            user_id,
            username,
            email,
            application: shared.keys().auth_ikey,
            event_type: "authentication".into(),
            factor: "not_available".into(),
            result: result.into(),
            reason: reason.into(),
            ip: params.get("ipaddr").map(String::from),
            hostname: params.get("hostname").map(String::from),
            device: None,
        });
    }
    Ok(Answer::Ok(to_value(&response), None))
}

/// Records a decided transaction in the authentication log (not an SMS sending, which decides
/// nothing), as [`crate::logs`] describes.
fn log_decision(shared: &Shared, data: &mut Data, tx: &Transaction, decision: &Decision) {
    if decision.status == "sent" {
        return;
    }
    let passcode = tx.factor == "passcode" || tx.choice.as_deref() == Some("passcode");
    let immediate = matches!(decision.status.as_str(), "bypass" | "locked_out")
        || decision.status_msg == MSG_DISABLED;
    let factor = if passcode {
        "passcode"
    } else if immediate {
        "not_available"
    } else if tx.verification_code.is_some() {
        "verified_duo_push"
    } else if tx.phases.first().is_some_and(|p| p.status == "calling") {
        "phone_call"
    } else {
        "duo_push"
    };
    let (result, reason) = match decision.status.as_str() {
        "allow" if passcode => ("success", "valid_passcode"),
        "allow" => ("success", "user_approved"),
        "bypass" => ("success", "bypass_user"),
        "fraud" => ("fraud", "user_marked_fraud"),
        "timeout" => ("denied", "no_response"),
        "locked_out" => ("denied", "locked_out"),
        _ if decision.status_msg == MSG_DISABLED => ("denied", "user_disabled"),
        _ if passcode => ("denied", "invalid_passcode"),
        _ if decision.status_msg == MSG_WRONG_CODE => ("denied", "verification_code_incorrect"),
        _ => ("denied", "user_denied"),
    };
    let (user_id, email) = data
        .user_by_name(&tx.username)
        .map(|r| (r.user.user_id.clone(), r.user.email.clone()))
        .unwrap_or_default();
    let device = tx
        .device
        .as_deref()
        .and_then(|id| data.phone(id))
        .map(|p| p.number.clone());
    data.logs.record_auth(AuthEvent {
        ts_ms: (shared.config.clock)().as_millisecond(),
        txid: tx.txid.clone(),
        user_id,
        username: tx.username.clone(),
        email,
        application: shared.keys().auth_ikey,
        event_type: "authentication".into(),
        factor: factor.into(),
        result: result.into(),
        reason: reason.into(),
        ip: tx.ipaddr.clone(),
        hostname: tx.hostname.clone(),
        device,
    });
}

/// `result`, `status`, `status_msg` once a push/call/auto for a user with `script` is decided;
/// `wrong_code`: the user types the wrong Verified Push code.
pub fn scripted_outcome(
    script: Script,
    wrong_code: bool,
) -> (&'static str, &'static str, &'static str) {
    match script {
        Script::Approve if wrong_code => ("deny", "deny", MSG_WRONG_CODE),
        Script::Approve => ("allow", "allow", MSG_ALLOW),
        Script::Deny | Script::NotEnrolled => ("deny", "deny", MSG_DENY),
        Script::Timeout => ("deny", "timeout", MSG_TIMEOUT),
        Script::Fraud => ("deny", "fraud", MSG_FRAUD),
        Script::Bypass => ("allow", "bypass", MSG_BYPASS),
        Script::LockedOut => ("deny", "locked_out", MSG_LOCKED),
    }
}

/// The factors `/auth/v2/auth` knows.
const FACTORS: [&str; 6] = ["auto", "push", "passcode", "phone", "sms", "prompt"];

/// What an auth request asks for, once read.
enum Asked<'a> {
    Passcode(&'a str),
    OutOfBand(Target<'a>),
}

/// The factor and device of an out-of-band request.
enum Target<'a> {
    /// A factor on a device named by `device` (an id or `auto`).
    Named(&'static str, &'a str),
    /// A menu option: its kind and device.
    Option(OutOfBand, &'a Phone),
}

async fn auth(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let factor = required(params, "factor")?.to_string();
    if !FACTORS.contains(&factor.as_str()) {
        return Err(invalid("factor"));
    }
    let asynchronous = matches!(params.get("async"), Some("1" | "true"));
    let now = tokio::time::Instant::now();
    let transaction = {
        let mut data = shared.data();
        let record = subject(&data, params)?.cloned().ok_or_else(|| {
            invalid(if params.contains_key("user_id") {
                "user_id"
            } else {
                "username"
            })
        })?;
        let phones: Vec<Phone> = data.phones_of(&record).cloned().collect();
        let mut choice = None;
        let asked = match factor.as_str() {
            "passcode" => Asked::Passcode(required(params, "passcode")?),
            "prompt" => {
                let typed = required(params, "prompt")?;
                match prompt_choice(typed, &phones, params.contains_key("txid"))? {
                    PromptChoice::Passcode(code) => {
                        choice = Some("passcode".to_string());
                        Asked::Passcode(code)
                    }
                    PromptChoice::Option(kind, name, phone) => {
                        choice = Some(name);
                        Asked::OutOfBand(Target::Option(kind, phone))
                    }
                }
            }
            "push" => Asked::OutOfBand(Target::Named("push", required(params, "device")?)),
            "phone" => Asked::OutOfBand(Target::Named("phone", required(params, "device")?)),
            "sms" => Asked::OutOfBand(Target::Named("sms", required(params, "device")?)),
            _ => Asked::OutOfBand(Target::Named("auto", required(params, "device")?)),
        };
        let immediately = |(result, status, msg): (&str, &str, &str)| {
            (result.to_string(), status.to_string(), msg.to_string(), now)
        };
        let mut device = params.get("device").map(String::from);
        let mut offer_txid = None;
        let mut verification_code = None;
        let mut phases = Vec::new();
        let (result, status, status_msg, decided_at) = match asked {
            Asked::Passcode(passcode) => {
                if record.user.status == "disabled" {
                    immediately(("deny", "deny", MSG_DISABLED))
                } else if record.passcodes.iter().any(|p| p == passcode)
                    || data.use_bypass_code(&record.user.user_id, passcode, shared.now_secs())
                {
                    immediately(("allow", "allow", MSG_ALLOW))
                } else {
                    immediately(("deny", "deny", MSG_BAD_PASSCODE))
                }
            }
            _ if record.user.status == "disabled" => immediately(("deny", "deny", MSG_DISABLED)),
            _ if record.user.status == "bypass" || record.answer == Script::Bypass => {
                immediately(("allow", "bypass", MSG_BYPASS))
            }
            _ if record.answer == Script::LockedOut => {
                immediately(("deny", "locked_out", MSG_LOCKED))
            }
            Asked::OutOfBand(target) => {
                let (kind, phone) = match target {
                    Target::Option(kind, phone) => (kind, phone),
                    Target::Named(wanted, named) => {
                        let fits = |p: &&Phone| {
                            (named == "auto" || p.phone_id == named)
                                && match wanted {
                                    "auto" => can(p, "push") || can(p, "phone"),
                                    capability => can(p, capability),
                                }
                        };
                        let phone = phones
                            .iter()
                            .find(fits)
                            .ok_or_else(|| invalid("no capable device"))?;
                        let kind = match wanted {
                            "push" if params.contains_key("txid") => OutOfBand::VerifiedPush,
                            "push" => OutOfBand::Push,
                            "phone" => OutOfBand::Phone,
                            "sms" => OutOfBand::Sms,
                            _ if can(phone, "push") => OutOfBand::Push,
                            _ => OutOfBand::Phone,
                        };
                        (kind, phone)
                    }
                };
                device = Some(phone.phone_id.clone())
                    .filter(|_| factor == "prompt")
                    .or(device);
                if kind == OutOfBand::VerifiedPush {
                    let txid = required(params, "txid")?;
                    let offer = data
                        .offer(txid)
                        .filter(|o| {
                            o.user_id == record.user.user_id && o.expiration >= shared.now_secs()
                        })
                        .ok_or_else(|| invalid("txid"))?;
                    verification_code = Some(offer.code.clone());
                    offer_txid = Some(txid.to_string());
                }
                if kind == OutOfBand::Sms {
                    immediately(("deny", "sent", MSG_SMS))
                } else {
                    let wait = match record.answer {
                        Script::Timeout => shared.config.push_timeout,
                        _ => shared.config.answer_delay,
                    };
                    let wrong_code =
                        verification_code.is_some() && record.verified_push == VerifiedPush::Wrong;
                    let (result, status, msg) = scripted_outcome(record.answer, wrong_code);
                    let waiting = |from, status: &str, msg: String| Phase {
                        from,
                        status: status.to_string(),
                        status_msg: msg,
                    };
                    phases = match (kind, &verification_code) {
                        (OutOfBand::Phone, _) => {
                            let mut stages = vec![waiting(
                                now,
                                "calling",
                                format!("Dialing {}...", masked(&phone.number)),
                            )];
                            if record.answer != Script::Timeout {
                                stages.push(waiting(
                                    later(now, wait / 2),
                                    "answered",
                                    MSG_ANSWERED.into(),
                                ));
                            }
                            stages
                        }
                        (_, Some(code)) => vec![waiting(
                            now,
                            "pushed",
                            format!("Please enter verification code {code} into Duo Mobile..."),
                        )],
                        _ => vec![waiting(now, "pushed", MSG_PUSHED.into())],
                    };
                    (result.into(), status.into(), msg.into(), later(now, wait))
                }
            }
        };
        let text = |name: &str| params.get(name).map(String::from);
        if let Some(txid) = &offer_txid {
            data.take_offer(txid);
        }
        let transaction = Transaction {
            txid: offer_txid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            username: record.user.username.clone(),
            factor: factor.clone(),
            choice,
            device,
            kind: text("type"),
            pushinfo: text("pushinfo"),
            ipaddr: text("ipaddr"),
            hostname: text("hostname"),
            failmode: text("failmode"),
            display_username: text("display_username"),
            asynchronous,
            created: shared.now_secs(),
            result,
            status,
            status_msg,
            decided_at,
            phases,
            verification_code,
            reported: None,
        };
        tracing::debug!(txid = %transaction.txid, factor = %transaction.factor, status = %transaction.status, "auth transaction");
        let ts_ms = (shared.config.clock)().as_millisecond();
        let calling = transaction
            .phases
            .first()
            .is_some_and(|p| p.status == "calling");
        if calling || transaction.status == "sent" {
            let number = transaction
                .device
                .as_deref()
                .and_then(|id| data.phone(id))
                .or_else(|| {
                    data.user_by_name(&transaction.username)
                        .and_then(|r| r.phone_ids.first().cloned())
                        .and_then(|id| data.phone(&id))
                })
                .map(|p| p.number.clone())
                .unwrap_or_default();
            let kind = if calling { "phone" } else { "sms" };
            data.logs
                .record_telephony(ts_ms, &transaction.txid, kind, &number);
        }
        if asynchronous {
            log_decision(
                shared,
                &mut data,
                &transaction,
                &transaction.final_decision(),
            );
        }
        data.insert_transaction(transaction.clone());
        transaction
    };
    let txid = transaction.txid.clone();
    if asynchronous {
        return Ok(Answer::Ok(to_value(&AsyncAuth { txid }), None));
    }
    // Synchronous: wait for the decision (the control API may answer sooner).
    loop {
        let changed = shared.transactions_changed();
        let decided_at = shared.data().transaction(&txid).map(|tx| tx.decided_at);
        match decided_at {
            Some(at) if tokio::time::Instant::now() < at => {
                let _ = tokio::time::timeout_at(at, changed).await;
            }
            _ => break,
        }
    }
    let mut data = shared.data();
    let decision = data
        .transaction(&txid)
        .map(Transaction::final_decision)
        .unwrap_or_else(|| transaction.final_decision());
    log_decision(shared, &mut data, &transaction, &decision);
    Ok(Answer::Ok(to_value(&decision), None))
}

async fn auth_status(shared: &Arc<Shared>, params: &Params) -> ApiResult {
    let txid = required(params, "txid")?;
    let deadline = later(tokio::time::Instant::now(), shared.config.long_poll);
    let changed = shared.transactions_changed();
    let wake = {
        let data = shared.data();
        let tx = data.transaction(txid).ok_or_else(|| invalid("txid"))?;
        let now = tokio::time::Instant::now();
        let has_news = tx.reported.is_none_or(|seen| seen < tx.stage_at(now));
        (!has_news && !tx.is_decided(now)).then(|| tx.next_change_after(now).min(deadline))
    };
    // Long poll: answer at the next change, or after `long_poll` at most.
    if let Some(wake) = wake {
        let _ = tokio::time::timeout_at(wake, changed).await;
    }
    let now = tokio::time::Instant::now();
    let mut data = shared.data();
    let tx = data.transaction_mut(txid).ok_or_else(|| invalid("txid"))?;
    tx.reported = Some(tx.stage_at(now));
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
