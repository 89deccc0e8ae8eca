//! The enforcement engine: runs Duo's Auth API for one login and returns a [`Decision`] with
//! its [`Reason`]. It knows no dialect: callers describe the Duo endpoint ([`DuoTarget`]), the
//! login ([`Attempt`]) and the rules ([`Policy`]).
//!
//! Two policies:
//! - [`Policy::FailClosed`] (Vault login MFA and step-up; `docs/vault-dialect.md` §5.4): `check`,
//!   `preauth` (`allow` succeeds without a push; `deny`/`enroll` fail), async `auth` (the
//!   passcode when one is given, else a push to `device=auto` with `pushinfo`), then
//!   `auth_status` until allow/deny or the push deadline. Every error denies; `detail` carries
//!   Vault's error texts.
//! - [`Policy::Unix`] (ONTAP profiles; `docs/ontap-dialect.md` §3–4, duo_unix): `is_enabled=false`
//!   skips Duo; when groups exist only their members, minus `excluded_users`, are asked;
//!   `ping` then `preauth`, where connection errors, timeouts, 5xx, 401 and malformed answers
//!   apply `fail_mode` (safe allows, secure denies) and other 4xx deny; errors once the auth
//!   phase has begun always deny; up to `max_prompts` attempts, and only plain failures (a
//!   deny, a wrong passcode, a push nobody answered, a FAIL envelope) consume one. A passcode
//!   is tried once: an API call cannot re-enter it, and resending a wrong code only moves the
//!   user towards lockout. An SMS choice is not retried either: it ends in deny with reason
//!   [`Reason::SmsSent`], and the caller asks again with one of the new passcodes.
//!
//! # The Unix policy speaks duo_unix's text-prompt protocol
//!
//! Like `login_duo`/`pam_duo`, preauth sends `text_prompt=1` and `failmode=open|closed`
//! (`fail_mode` safe/secure), and auth sends `factor=prompt` with the user's choice, as a
//! terminal user would type it:
//!
//! | credential | `prompt` sent |
//! |---|---|
//! | passcode | the passcode |
//! | [`Credential::Push`] with `auto_push`, or factor `auto` on device `auto` | preauth's `prompt.factors.default` |
//! | [`Credential::Push`] without `auto_push` | push on device `auto`, as below |
//! | factor `push`/`phone`/`sms` (or `auto` on a named device) | `push1`, `phone2`, `sms1`, …: the factor, and the device's position among the user's devices (preauth's `devices`, type `phone`) with that capability |
//!
//! [`Device::Auto`] is the first device with the capability (for factor `auto`: push, else
//! phone); [`Device::Id`] a `DP…` id from preauth's devices; [`Device::Index`] (`phone2`) the
//! second phone in that list. A device the user does not have, or one that cannot take the
//! factor, denies with [`Reason::Error`] before `auth` is sent.
//!
//! # Verified Duo Push
//!
//! With a progress channel ([`decide_reporting`]; the native API's asynchronous checks), the
//! Unix policy also sends `client_supports_verified_push=1`; pushes then are
//! `verified_push1`, … and `auth` carries preauth's `txid`. While the push waits, every new
//! waiting answer (Duo's `status`, `status_msg` and `verification_code`) is sent as a
//! [`Progress`], so the caller can show the code the user must type into Duo Mobile. Without
//! a channel (synchronous checks, Vault logins) nobody could show the code, so Verified Push
//! is not offered. [`Policy::FailClosed`] keeps Vault's behaviour: a push to device `auto`
//! or a passcode; it reports waiting progress too, but never asks for Verified Push.
//!
//! 429s: each call rides them out with duo-client's retry ([`Limits::rate_limit_attempts`]
//! attempts): Duo's exponential schedule, or, when a 429 carries `Retry-After` (the Auth API
//! sends it), exactly that wait, capped at 32 s (duo-client's
//! [`ClientConfig::max_retry_after`] default, the longest wait of Duo's own schedule).
//!
//! Time: every Duo call has the client's timeout; the whole push wait is bounded by
//! [`Limits::push_timeout`]; the whole decision (every call, 429 waits and retries included)
//! by [`Limits::check_deadline`]. When that passes, the decision is deny with
//! [`Reason::Timeout`], except under the Unix policy before the auth phase has begun (no
//! `auth` sent yet: ping and preauth were still being ridden out), where `fail_mode` applies
//! as for any other trouble reaching Duo. Waits use tokio's clock, so tests run them with a
//! paused clock.
//! Nothing here logs or returns a passcode or secret.
//!
//! Modules: [`limiter`] (attempt rate limits per user and per source).

pub mod limiter;

use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    /// Where the Duo calls of the decision being made are counted ([`with_call_metrics`]).
    static CALL_METRICS: std::sync::Arc<crate::metrics::Metrics>;
}

/// Runs `decision` (a [`decide`] or [`decide_reporting`] future) with each Duo call it makes
/// counted and timed in `metrics` (`duogate_duo_calls_total`,
/// `duogate_duo_call_duration_seconds`). The engine keeps no service state of its own: the
/// metrics are scoped over the decision's future, so the engine's signatures stay as they are,
/// and a decision run without this scope is simply not measured.
pub async fn with_call_metrics<F: std::future::Future>(
    metrics: std::sync::Arc<crate::metrics::Metrics>,
    decision: F,
) -> F::Output {
    CALL_METRICS.scope(metrics, decision).await
}

/// One Duo call to `endpoint` (the Duo path, e.g. `/auth/v2/preauth`), measured when a
/// [`with_call_metrics`] scope is active.
async fn duo_call<T>(
    endpoint: &'static str,
    call: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, ClientError> {
    let started = std::time::Instant::now();
    let result = call.await;
    let _ = CALL_METRICS.try_with(|metrics| {
        metrics.observe_duo_call(endpoint, call_outcome(&result), started.elapsed());
    });
    result
}

/// The `outcome` label of a Duo call.
fn call_outcome<T>(result: &Result<T, ClientError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(ClientError::Duo { status: 429, .. }) => "rate_limited",
        Err(ClientError::Duo { .. }) => "fail",
        Err(ClientError::Timeout { .. }) => "timeout",
        Err(ClientError::Transport { .. } | ClientError::Tls { .. }) => "unreachable",
        Err(ClientError::Malformed { .. }) => "malformed",
        Err(ClientError::Config(_)) => "config",
        Err(_) => "error",
    }
}

use std::time::Duration;

use secrecy::SecretString;

use duo_client::auth::{AuthOutcome, AuthRequest, PreauthRequest, Subject};
use duo_client::{ApiHost, ClientConfig, ClientError, DuoClient, TlsMode};

/// Where Duo is and how to sign for it.
#[derive(Debug, Clone)]
pub struct DuoTarget {
    /// The Auth API host (or a loopback URL in tests).
    pub api_host: String,
    /// Integration key.
    pub ikey: String,
    /// Secret key.
    pub skey: SecretString,
    /// Whether a plain-http endpoint may be used (loopback only; tests and `--dev`).
    pub allow_plain_http: bool,
    /// An explicit CONNECT proxy.
    pub proxy: Option<String>,
}

/// What the user presents.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A push to the default device (Vault: `[""]` or `[]`); the Unix policy's `auto_push`
    /// makes it Duo's default factor.
    Push,
    /// A passcode.
    Passcode(String),
    /// An out-of-band factor on a device the caller chose (see the module documentation).
    Choice(FactorChoice),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Push => f.write_str("Push"),
            Self::Passcode(_) => f.write_str("Passcode([REDACTED])"),
            Self::Choice(choice) => f.debug_tuple("Choice").field(choice).finish(),
        }
    }
}

/// An out-of-band factor and the device for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorChoice {
    /// The factor.
    pub factor: Factor,
    /// The device.
    pub device: Device,
}

/// An out-of-band factor, as Duo's Auth API names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// Duo's default factor (on a named device: push if it can, else a call).
    Auto,
    /// Duo Push.
    Push,
    /// A phone call.
    Phone,
    /// New SMS passcodes (the attempt then ends in deny, [`Reason::SmsSent`]).
    Sms,
}

impl Factor {
    /// `auto`, `push`, `phone` or `sms`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Self::Auto),
            "push" => Some(Self::Push),
            "phone" => Some(Self::Phone),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }

    /// The capability a device needs (none for `auto`, which takes push or phone).
    fn capability(self) -> Option<&'static str> {
        match self {
            Self::Auto => None,
            Self::Push => Some("push"),
            Self::Phone => Some("phone"),
            Self::Sms => Some("sms"),
        }
    }
}

/// Which of the user's devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    /// The first device that can take the factor.
    Auto,
    /// A Duo phone id (`DP` and 18 letters or digits).
    Id(String),
    /// `phoneN`: the N-th phone (from 1) in preauth's device list.
    Index(usize),
}

impl Device {
    /// `auto`, a phone id (`DP…`, 20 characters) or `phone1`…`phone99`.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "auto" {
            return Some(Self::Auto);
        }
        if let Some(rest) = text.strip_prefix("DP")
            && rest.len() == 18
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Some(Self::Id(text.to_string()));
        }
        let number = text.strip_prefix("phone")?;
        let index: usize = number.parse().ok()?;
        (index.to_string() == number && (1..=99).contains(&index)).then_some(Self::Index(index))
    }
}

/// News about a login that is still waiting: Duo's latest waiting answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// Duo's `status` (`pushed`, `calling`, `answered`, …).
    pub status: String,
    /// Duo's message for the user.
    pub status_msg: String,
    /// Verified Duo Push: the code the user must type into Duo Mobile.
    pub verification_code: Option<String>,
}

/// Where [`decide_reporting`] sends [`Progress`].
pub type ProgressSender = tokio::sync::mpsc::UnboundedSender<Progress>;

/// One login to decide.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The Duo username.
    pub username: String,
    /// The user's address, sent as `ipaddr`.
    pub ipaddr: Option<String>,
    /// What the user presents.
    pub credential: Credential,
    /// URL-encoded pairs shown in the push.
    pub pushinfo: Option<String>,
    /// The user's groups (for [`UnixPolicy::groups`]).
    pub groups: Vec<String>,
}

/// `fail_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// Allow when Duo cannot be used.
    Safe,
    /// Deny when Duo cannot be used.
    Secure,
}

/// A Duo group of an ONTAP profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRule {
    /// Group name.
    pub name: String,
    /// Members who skip Duo.
    pub excluded_users: Vec<String>,
}

/// duo_unix's rules, as an ONTAP profile sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixPolicy {
    /// `false` skips Duo for everyone.
    pub is_enabled: bool,
    /// What Duo trouble before the auth phase means.
    pub fail_mode: FailMode,
    /// Send Duo's default factor instead of a push or passcode.
    pub auto_push: bool,
    /// Attempts, 1–3.
    pub max_prompts: u8,
    /// When not empty, only members are asked.
    pub groups: Vec<GroupRule>,
}

/// Which rules apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Vault's: every problem denies.
    FailClosed,
    /// duo_unix's (ONTAP profiles).
    Unix(UnixPolicy),
}

/// Time bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Timeout of each Duo call.
    pub call_timeout: Duration,
    /// How long a push may wait for an answer, in all.
    pub push_timeout: Duration,
    /// Pause between `auth_status` polls that answer `waiting` at once.
    pub poll_interval: Duration,
    /// Attempts per call while Duo answers 429 (duo_client's schedule: 7, waiting 1, 2, 4 … 32
    /// s between them, or what a `Retry-After` asks for, up to 32 s); when they run out the call
    /// fails.
    pub rate_limit_attempts: u32,
    /// The most one whole decision may take (see the module documentation); at least
    /// `push_timeout`, or pushes are cut short.
    pub check_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(10),
            push_timeout: Duration::from_secs(75),
            poll_interval: Duration::from_secs(1),
            rate_limit_attempts: 7,
            check_deadline: Duration::from_secs(90),
        }
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Let the user in.
    Allow,
    /// Keep the user out.
    Deny,
}

impl Outcome {
    /// `allow` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// Why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The user approved (or a passcode was right).
    Approved,
    /// Duo said `allow` at preauth (bypass status).
    Bypass,
    /// The user or Duo denied.
    Denied,
    /// The user reported fraud.
    Fraud,
    /// Duo has the user locked out.
    LockedOut,
    /// The user must enroll first.
    NotEnrolled,
    /// Nobody answered the push in time.
    Timeout,
    /// Duo could not be used; `fail_mode=safe` allowed.
    FailSafe,
    /// Duo could not be used; `fail_mode=secure` denied.
    FailSecure,
    /// Duo answered something that ends the login (errors, other 4xx, auth-phase trouble).
    Error,
    /// The profile is disabled.
    Disabled,
    /// The user is in a Duo group's `excluded_users`.
    Excluded,
    /// Groups exist and the user is in none of them.
    NotInGroup,
    /// Too many attempts for this user or source.
    RateLimited,
    /// The user chose SMS: Duo sent new passcodes, and the attempt ends (ask again with one).
    SmsSent,
}

impl Reason {
    /// The snake_case spelling used in APIs and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Bypass => "bypass",
            Self::Denied => "denied",
            Self::Fraud => "fraud",
            Self::LockedOut => "locked_out",
            Self::NotEnrolled => "not_enrolled",
            Self::Timeout => "timeout",
            Self::FailSafe => "fail_safe",
            Self::FailSecure => "fail_secure",
            Self::Error => "error",
            Self::Disabled => "disabled",
            Self::Excluded => "excluded",
            Self::NotInGroup => "not_in_group",
            Self::RateLimited => "rate_limited",
            Self::SmsSent => "sms_sent",
        }
    }
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// Duo's message for the user, when it gave one.
    pub status_msg: String,
    /// What went wrong, in Vault's words for [`Policy::FailClosed`]; empty on success.
    pub detail: String,
    /// How many attempts were made (Unix policy).
    pub attempts: u8,
}

impl Decision {
    fn new(outcome: Outcome, reason: Reason, status_msg: &str, detail: String) -> Self {
        Self {
            outcome,
            reason,
            status_msg: status_msg.to_string(),
            detail,
            attempts: 0,
        }
    }

    fn allow(reason: Reason, status_msg: &str) -> Self {
        Self::new(Outcome::Allow, reason, status_msg, String::new())
    }

    fn deny(reason: Reason, status_msg: &str, detail: String) -> Self {
        Self::new(Outcome::Deny, reason, status_msg, detail)
    }
}

/// How a Duo error counts for duo_unix's fail_mode (`docs/ontap-dialect.md` §3.5–3.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorClass {
    /// Connection trouble, timeout, 5xx, 401, malformed answers: fail_mode applies (before the
    /// auth phase).
    Unusable,
    /// A FAIL envelope with HTTP 200: a failed attempt.
    Fail,
    /// Any other 4xx (including a final 429): the login ends.
    Abort,
}

fn classify(error: &ClientError) -> ErrorClass {
    match error {
        ClientError::Config(_)
        | ClientError::Transport { .. }
        | ClientError::Tls { .. }
        | ClientError::Timeout { .. }
        | ClientError::Malformed { .. } => ErrorClass::Unusable,
        ClientError::Duo { status, .. } => match status {
            200 => ErrorClass::Fail,
            401 | 500..=599 => ErrorClass::Unusable,
            _ => ErrorClass::Abort,
        },
        // A kind of error this engine does not know yet: Duo could not be used.
        _ => ErrorClass::Unusable,
    }
}

/// The client for a target, or the reason it cannot be built.
pub fn client_for(target: &DuoTarget, limits: &Limits) -> Result<DuoClient, String> {
    let host = ApiHost::parse(&target.api_host).map_err(|e| e.to_string())?;
    if host.is_plain_http() && !target.allow_plain_http {
        return Err("plain http Duo endpoints are not allowed on this server".into());
    }
    let mut config = ClientConfig::new(host, target.ikey.clone(), target.skey.clone());
    config.timeout = limits.call_timeout;
    config.max_attempts = limits.rate_limit_attempts.max(1);
    config.proxy = target.proxy.clone();
    config.tls = TlsMode::default();
    DuoClient::new(config).map_err(|e| e.to_string())
}

/// What a reachability probe asks Duo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The signed `/auth/v2/check`: reachable, and the keys are right.
    Check,
    /// The unsigned `/auth/v2/ping`: reachable.
    Ping,
}

/// Asks Duo once (a 429 is reported, not retried), within `limits.call_timeout`: `OK`, or the
/// error's text (which never holds the secret key).
pub async fn probe(target: &DuoTarget, limits: &Limits, probe: Probe) -> String {
    let once = Limits {
        rate_limit_attempts: 1,
        ..*limits
    };
    let client = match client_for(target, &once) {
        Ok(client) => client,
        Err(text) => return format!("configuration: {text}"),
    };
    let answer = match probe {
        Probe::Check => client.auth().check().await.map(|_| ()),
        Probe::Ping => client.auth().ping().await.map(|_| ()),
    };
    match answer {
        Ok(()) => "OK".to_string(),
        Err(error) => error.to_string(),
    }
}

/// Vault's text for a FAIL envelope.
fn fail_texts(error: &ClientError) -> (String, String) {
    match error {
        ClientError::Duo { fail, .. } => (
            fail.message.clone(),
            fail.message_detail.clone().unwrap_or_default(),
        ),
        other => (other.to_string(), String::new()),
    }
}

/// Decides one login.
pub async fn decide(
    target: &DuoTarget,
    attempt: &Attempt,
    policy: &Policy,
    limits: &Limits,
) -> Decision {
    decide_reporting(target, attempt, policy, limits, None).await
}

/// Decides one login, sending news while it waits to `progress` (which, for the Unix policy,
/// also offers Verified Duo Push; see the module documentation).
pub async fn decide_reporting(
    target: &DuoTarget,
    attempt: &Attempt,
    policy: &Policy,
    limits: &Limits,
    progress: Option<&ProgressSender>,
) -> Decision {
    let auth_begun = AtomicBool::new(false);
    let deciding = async {
        match policy {
            Policy::FailClosed => {
                decide_fail_closed(target, attempt, limits, progress, &auth_begun).await
            }
            Policy::Unix(unix) => {
                decide_unix(target, attempt, unix, limits, progress, &auth_begun).await
            }
        }
    };
    match tokio::time::timeout(limits.check_deadline, deciding).await {
        Ok(decision) => decision,
        Err(_) => past_check_deadline(policy, limits, auth_begun.load(Ordering::SeqCst)),
    }
}

/// The decision when [`Limits::check_deadline`] passes (see the module documentation).
fn past_check_deadline(policy: &Policy, limits: &Limits, auth_begun: bool) -> Decision {
    let detail = format!(
        "duo authentication failed: \"no decision within the check deadline of {} s\"",
        limits.check_deadline.as_secs()
    );
    match policy {
        Policy::Unix(unix) if !auth_begun => fail_mode_decision(unix.fail_mode, detail),
        _ => Decision::deny(Reason::Timeout, "", detail),
    }
}

async fn decide_fail_closed(
    target: &DuoTarget,
    attempt: &Attempt,
    limits: &Limits,
    progress: Option<&ProgressSender>,
    auth_begun: &AtomicBool,
) -> Decision {
    let client = match client_for(target, limits) {
        Ok(client) => client,
        Err(text) => return Decision::deny(Reason::Error, "", text),
    };
    let auth = client.auth();
    if let Err(error) = duo_call("/auth/v2/check", auth.check()).await {
        let detail = match &error {
            ClientError::Duo { .. } => {
                let (message, detail) = fail_texts(&error);
                format!(
                    "check against Duo failed; message (if given): {message:?}; message detail (if given): {detail:?}"
                )
            }
            other => other.to_string(),
        };
        return Decision::deny(Reason::Error, "", detail);
    }
    let request = PreauthRequest {
        ipaddr: attempt.ipaddr.clone(),
        ..PreauthRequest::new(subject(attempt))
    };
    let preauth = match preauth(&client, request).await {
        Ok(preauth) => preauth,
        Err(error) => return Decision::deny(Reason::Error, "", error.to_string()),
    };
    let enroll = format!(
        "{:?} - {:?}",
        preauth.status_msg,
        preauth.enroll_portal_url.clone().unwrap_or_default()
    );
    match after_preauth(&preauth, enroll) {
        AfterPreauth::Authenticate => {}
        AfterPreauth::Decided(decision) => return decision,
        AfterPreauth::Unknown(result) => {
            return Decision::deny(
                Reason::Error,
                &preauth.status_msg,
                format!("invalid response from Duo preauth: {result:?}"),
            );
        }
    }
    let request = match vault_auth_request(attempt) {
        Ok(request) => request,
        Err(detail) => return Decision::deny(Reason::Error, "", detail),
    };
    match run_auth(&client, request, limits, progress, None, auth_begun).await {
        AuthPhase::Decided(decision) => decision,
        AuthPhase::Failed(error) => {
            let detail = match &error {
                ClientError::Duo { .. } => {
                    let (message, detail) = fail_texts(&error);
                    format!("failed to authenticate with Duo: {message:?} - {detail:?}")
                }
                other => other.to_string(),
            };
            Decision::deny(Reason::Error, "", detail)
        }
    }
}

fn subject(attempt: &Attempt) -> Subject {
    Subject::Username(attempt.username.clone())
}

async fn preauth(
    client: &DuoClient,
    request: PreauthRequest,
) -> Result<duo_proto::models::PreauthResponse, ClientError> {
    duo_call("/auth/v2/preauth", client.auth().preauth(&request)).await
}

/// What preauth's `result` means, for both policies.
enum AfterPreauth {
    /// `auth`: go on to the second factor.
    Authenticate,
    /// `allow` (bypass), `deny` or `enroll`.
    Decided(Decision),
    /// Anything else.
    Unknown(String),
}

fn after_preauth(
    preauth: &duo_proto::models::PreauthResponse,
    enroll_detail: String,
) -> AfterPreauth {
    let status_msg = &preauth.status_msg;
    match preauth.result.as_str() {
        "auth" => AfterPreauth::Authenticate,
        "allow" => AfterPreauth::Decided(Decision::allow(Reason::Bypass, status_msg)),
        "deny" => AfterPreauth::Decided(Decision::deny(
            preauth_deny_reason(status_msg),
            status_msg,
            status_msg.clone(),
        )),
        "enroll" => AfterPreauth::Decided(Decision::deny(
            Reason::NotEnrolled,
            status_msg,
            enroll_detail,
        )),
        other => AfterPreauth::Unknown(other.to_string()),
    }
}

fn preauth_deny_reason(status_msg: &str) -> Reason {
    if status_msg.to_ascii_lowercase().contains("locked") {
        Reason::LockedOut
    } else {
        Reason::Denied
    }
}

/// Vault's auth: a passcode, or a push to device `auto`.
fn vault_auth_request(attempt: &Attempt) -> Result<AuthRequest, String> {
    let mut request = match &attempt.credential {
        Credential::Passcode(code) => AuthRequest::passcode(subject(attempt), code.clone()),
        Credential::Push
        | Credential::Choice(FactorChoice {
            factor: Factor::Auto | Factor::Push,
            device: Device::Auto,
        }) => AuthRequest::push(subject(attempt)),
        Credential::Choice(_) => {
            return Err("a Vault method takes a push to device auto or a passcode".into());
        }
    };
    if !matches!(attempt.credential, Credential::Passcode(_)) {
        request.pushinfo = attempt.pushinfo.clone().filter(|p| !p.is_empty());
    }
    request.ipaddr = attempt.ipaddr.clone();
    request.asynchronous = true;
    Ok(request)
}

/// duo_unix's auth: `factor=prompt` with the menu name (or passcode) the user would type.
fn unix_auth_request(
    attempt: &Attempt,
    policy: &UnixPolicy,
    preauth: &duo_proto::models::PreauthResponse,
) -> Result<AuthRequest, String> {
    let default = || {
        preauth
            .prompt
            .as_ref()
            .and_then(|p| p.factors.get("default"))
            .cloned()
            .ok_or_else(|| "Duo offered no default factor".to_string())
    };
    let choice = match &attempt.credential {
        Credential::Passcode(code) => code.clone(),
        Credential::Push if policy.auto_push => default()?,
        Credential::Push => menu_name(preauth, Factor::Push, &Device::Auto)?,
        Credential::Choice(FactorChoice {
            factor: Factor::Auto,
            device: Device::Auto,
        }) => default()?,
        Credential::Choice(choice) => menu_name(preauth, choice.factor, &choice.device)?,
    };
    let is_passcode = matches!(attempt.credential, Credential::Passcode(_));
    let verified_push = !is_passcode && choice.starts_with("verified_push");
    let mut request = AuthRequest::prompt(subject(attempt), choice);
    if !is_passcode {
        request.pushinfo = attempt.pushinfo.clone().filter(|p| !p.is_empty());
    }
    if verified_push {
        request.txid = preauth.txid.clone();
    }
    request.ipaddr = attempt.ipaddr.clone();
    request.asynchronous = true;
    Ok(request)
}

/// The menu name (`push1`, `verified_push1`, `phone2`, `sms1`) of `factor` on `device`, from
/// preauth's devices: the factor, and the device's position among the phones that can take it.
fn menu_name(
    preauth: &duo_proto::models::PreauthResponse,
    factor: Factor,
    device: &Device,
) -> Result<String, String> {
    let phones: Vec<&duo_proto::models::AuthDevice> = preauth
        .devices
        .iter()
        .filter(|d| d.kind == "phone")
        .collect();
    let can = |d: &duo_proto::models::AuthDevice, capability: &str| {
        d.capabilities.iter().any(|c| c == capability)
    };
    let fits = |d: &duo_proto::models::AuthDevice| match factor.capability() {
        Some(capability) => can(d, capability),
        None => can(d, "push") || can(d, "phone"),
    };
    let chosen = match device {
        Device::Auto => phones
            .iter()
            .copied()
            .find(|d| fits(d))
            .ok_or_else(|| format!("the user has no device for {factor:?}"))?,
        Device::Id(id) => phones
            .iter()
            .copied()
            .find(|d| &d.device == id)
            .ok_or_else(|| format!("device {id}: not one of the user's phones"))?,
        Device::Index(n) => phones
            .get(n - 1)
            .copied()
            .ok_or_else(|| format!("device phone{n}: the user has {} phone(s)", phones.len()))?,
    };
    let capability = match factor.capability() {
        Some(capability) => capability,
        None if can(chosen, "push") => "push",
        None => "phone",
    };
    if !can(chosen, capability) {
        return Err(format!(
            "device {}: cannot take {capability}",
            chosen.device
        ));
    }
    let position = phones
        .iter()
        .filter(|d| can(d, capability))
        .position(|d| d.device == chosen.device)
        .map_or(1, |i| i + 1);
    let name = match capability {
        "push" if preauth.txid.is_some() => "verified_push",
        other => other,
    };
    Ok(format!("{name}{position}"))
}

enum AuthPhase {
    Decided(Decision),
    Failed(ClientError),
}

/// `auth` (async) then `auth_status` until a decision or the push deadline, sending each new
/// waiting answer to `progress`.
async fn run_auth(
    client: &DuoClient,
    request: AuthRequest,
    limits: &Limits,
    progress: Option<&ProgressSender>,
    verification_code: Option<String>,
    auth_begun: &AtomicBool,
) -> AuthPhase {
    let auth = client.auth();
    auth_begun.store(true, Ordering::SeqCst);
    let txid = match duo_call("/auth/v2/auth", auth.auth(&request)).await {
        Ok(AuthOutcome::Pending(pending)) => pending.txid,
        Ok(AuthOutcome::Decided(answer)) => return AuthPhase::Decided(decision_of(&answer)),
        Err(error) => return AuthPhase::Failed(error),
    };
    if txid.is_empty() {
        return AuthPhase::Decided(Decision::deny(
            Reason::Error,
            "",
            "failed to get transaction ID for Duo authentication".into(),
        ));
    }
    let deadline = tokio::time::Instant::now() + limits.push_timeout;
    let mut reported: Option<Progress> = None;
    loop {
        let polled = tokio::time::timeout_at(
            deadline,
            duo_call("/auth/v2/auth_status", auth.auth_status(&txid)),
        )
        .await;
        let status = match polled {
            Err(_) => {
                return AuthPhase::Decided(Decision::deny(
                    Reason::Timeout,
                    "",
                    "duo authentication failed: \"no answer to the push in time\"".into(),
                ));
            }
            Ok(Err(error)) => return AuthPhase::Failed(error),
            Ok(Ok(status)) => status,
        };
        match status.result.as_str() {
            "allow" | "deny" => return AuthPhase::Decided(decision_of(&status)),
            _ => {
                if let Some(progress) = progress {
                    let news = Progress {
                        status: status.status.clone(),
                        status_msg: status.status_msg.clone(),
                        verification_code: status
                            .verification_code
                            .clone()
                            .or_else(|| verification_code.clone()),
                    };
                    if reported.as_ref() != Some(&news) {
                        // A caller that stopped listening does not stop the login.
                        let _ = progress.send(news.clone());
                        reported = Some(news);
                    }
                }
                // Duo long-polls; this pause only matters when it answers `waiting` at once.
                let _ = tokio::time::timeout_at(deadline, tokio::time::sleep(limits.poll_interval))
                    .await;
            }
        }
    }
}

fn decision_of(answer: &duo_proto::models::AuthResponse) -> Decision {
    if answer.result == "allow" {
        let reason = if answer.status == "bypass" {
            Reason::Bypass
        } else {
            Reason::Approved
        };
        return Decision::allow(reason, &answer.status_msg);
    }
    let reason = match answer.status.as_str() {
        "sent" => Reason::SmsSent,
        "fraud" => Reason::Fraud,
        "timeout" => Reason::Timeout,
        "locked_out" => Reason::LockedOut,
        _ => Reason::Denied,
    };
    Decision::deny(
        reason,
        &answer.status_msg,
        format!("duo authentication failed: {:?}", answer.status_msg),
    )
}

fn fail_mode_decision(mode: FailMode, detail: String) -> Decision {
    match mode {
        FailMode::Safe => Decision::new(Outcome::Allow, Reason::FailSafe, "", detail),
        FailMode::Secure => Decision::deny(Reason::FailSecure, "", detail),
    }
}

/// Whether groups exclude the user from Duo (`Some(decision)`) or not.
fn group_decision(policy: &UnixPolicy, attempt: &Attempt) -> Option<Decision> {
    if policy.groups.is_empty() {
        return None;
    }
    let member_of: Vec<&GroupRule> = policy
        .groups
        .iter()
        .filter(|g| attempt.groups.contains(&g.name))
        .collect();
    if member_of.is_empty() {
        return Some(Decision::allow(Reason::NotInGroup, ""));
    }
    if member_of
        .iter()
        .any(|g| g.excluded_users.contains(&attempt.username))
    {
        return Some(Decision::allow(Reason::Excluded, ""));
    }
    None
}

async fn decide_unix(
    target: &DuoTarget,
    attempt: &Attempt,
    policy: &UnixPolicy,
    limits: &Limits,
    progress: Option<&ProgressSender>,
    auth_begun: &AtomicBool,
) -> Decision {
    if !policy.is_enabled {
        return Decision::allow(Reason::Disabled, "");
    }
    if let Some(decision) = group_decision(policy, attempt) {
        return decision;
    }
    let client = match client_for(target, limits) {
        Ok(client) => client,
        Err(text) => return fail_mode_decision(policy.fail_mode, format!("configuration: {text}")),
    };
    let prompts = policy.max_prompts.clamp(1, 3);
    let mut last = Decision::deny(Reason::Denied, "", String::new());
    for attempt_number in 1..=prompts {
        let mut decision =
            unix_attempt(&client, attempt, policy, limits, progress, auth_begun).await;
        decision.attempts = attempt_number;
        let plain_failure = decision.outcome == Outcome::Deny
            && matches!(decision.reason, Reason::Denied | Reason::Timeout);
        let retry = plain_failure && !matches!(attempt.credential, Credential::Passcode(_));
        last = decision;
        if !retry {
            break;
        }
    }
    last
}

/// One duo_unix attempt: ping, preauth, auth.
async fn unix_attempt(
    client: &DuoClient,
    attempt: &Attempt,
    policy: &UnixPolicy,
    limits: &Limits,
    progress: Option<&ProgressSender>,
    auth_begun: &AtomicBool,
) -> Decision {
    let auth = client.auth();
    let before_auth = |error: ClientError| match classify(&error) {
        ErrorClass::Unusable => fail_mode_decision(policy.fail_mode, error.to_string()),
        ErrorClass::Fail => Decision::deny(Reason::Denied, "", error.to_string()),
        ErrorClass::Abort => Decision::deny(Reason::Error, "", error.to_string()),
    };
    if let Err(error) = duo_call("/auth/v2/ping", auth.ping()).await {
        return before_auth(error);
    }
    let request = PreauthRequest {
        ipaddr: attempt.ipaddr.clone(),
        text_prompt: true,
        client_supports_verified_push: progress.is_some(),
        failmode: Some(
            match policy.fail_mode {
                FailMode::Safe => "open",
                FailMode::Secure => "closed",
            }
            .into(),
        ),
        ..PreauthRequest::new(subject(attempt))
    };
    let preauth = match preauth(client, request).await {
        Ok(preauth) => preauth,
        Err(error) => return before_auth(error),
    };
    match after_preauth(&preauth, "User enrollment required".into()) {
        AfterPreauth::Authenticate => {}
        AfterPreauth::Decided(decision) => return decision,
        AfterPreauth::Unknown(result) => {
            return fail_mode_decision(
                policy.fail_mode,
                format!("JSON invalid 'result': {result}"),
            );
        }
    }
    let request = match unix_auth_request(attempt, policy, &preauth) {
        Ok(request) => request,
        Err(detail) => return Decision::deny(Reason::Error, &preauth.status_msg, detail),
    };
    let code = request.txid.as_ref().and(preauth.verification_code.clone());
    match run_auth(client, request, limits, progress, code, auth_begun).await {
        AuthPhase::Decided(decision) => decision,
        AuthPhase::Failed(error) => match classify(&error) {
            ErrorClass::Fail => Decision::deny(Reason::Denied, "", error.to_string()),
            _ => Decision::deny(Reason::Error, "", format!("Error in Duo login: {error}")),
        },
    }
}
