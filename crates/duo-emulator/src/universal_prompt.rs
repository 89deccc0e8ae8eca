//! The Universal Prompt: Duo's OIDC flow for Web SDK v4 applications (`duo_universal` and its
//! siblings), shaped after what Duo's own SDKs send and check.
//!
//! | route | what |
//! |---|---|
//! | `GET`, `POST /oauth/v1/health_check` | `client_id` + `client_assertion` → `{"stat": "OK", "response": {"timestamp"}}` |
//! | `GET /oauth/v1/authorize` | `response_type=code`, `client_id`, `request` (a JWT), optional `nonce` → the prompt |
//! | `POST /oauth/v1/token` | `grant_type=authorization_code`, `code`, `redirect_uri`, `client_id`, `client_assertion_type`, `client_assertion` → `{"id_token", "access_token", "expires_in", "token_type"}` |
//! | `POST /_emulator/oauth/decide` | control API: `{"url": <authorize URL>, "answer"?}` → the redirect, as JSON |
//!
//! Parameters are read from the query and from a form body alike (the Python SDK posts the
//! token request's parameters in the query string, the others in the body).
//!
//! # Client assertions
//!
//! `health_check` and `token` authenticate the application with a client-assertion JWT signed
//! HS512 with the client secret: `iss` and `sub` are the client id, `aud` is the endpoint's
//! URL (`https://HOST/oauth/v1/token`), `exp` lies in the next five minutes and `jti` is used
//! once. `HOST` is the configured hostname or the request's `Host` (with or without its port);
//! only `https://` audiences are accepted, as Duo serves nothing else. Times use the emulator's
//! clock ([`crate::EmulatorConfig::clock`]): an `exp` more than `max_skew_secs` in the past, or
//! more than five minutes plus `max_skew_secs` ahead, or an `iat` more than `max_skew_secs`
//! ahead is refused (a skewed client clock). A `jti` is spent only when the request succeeds:
//! refused requests change nothing.
//!
//! # The prompt and its decision
//!
//! `authorize` checks the `request` JWT (HS512 with the client secret; `iss` and `client_id`
//! the client id, `aud` `https://HOST`, `exp` as above, `response_type` `code`, `scope`
//! containing `openid`, an `http(s)` `redirect_uri`, a `state` of 16 to 1024 characters, a
//! `duo_uname`). The user's decision is taken at once from their scripted answer
//! (`POST /_emulator/users {"username", "answer"}`), so no browser is needed:
//!
//! | script / user status | `auth_result` (`result`, `status`) | `auth_context.reason` |
//! |---|---|---|
//! | `approve` | `allow`, `allow` | `user_approved` |
//! | `bypass`, or status `bypass` | `allow`, `bypass` | `bypass_user` |
//! | `deny` | `deny`, `deny` | `user_denied` |
//! | `fraud` | `deny`, `fraud` | `user_marked_fraud` |
//! | `timeout` | `deny`, `timeout` (at once: nobody waits) | `no_response` |
//! | `locked_out` | `deny`, `locked_out` | `locked_out` |
//! | `not_enrolled`, or an unknown user | `deny`, `deny` | `deny_unenrolled_user` |
//! | status `disabled` | `deny`, `deny` | `user_disabled` |
//!
//! Denials are redirected too, with a code whose `id_token` says `deny`, so an application sees
//! the denial where it reads the result. The redirect is `redirect_uri?duo_code=CODE&state=STATE`
//! (`code=` instead when the request JWT's `use_duo_code_attribute` is not true).
//!
//! How a headless test gets the redirect:
//! - `GET /oauth/v1/authorize?…` with an `Accept` that does not mention `text/html` (what
//!   `requests`, `curl` and `reqwest` send by default) answers `302 Found` with the redirect in
//!   `Location`; don't follow it.
//! - `POST /_emulator/oauth/decide {"url": "<the create_auth_url result>", "answer": "deny"}`
//!   (loopback only, like every control route) runs the same checks and answers
//!   `{"location", "redirect_uri", "code", "state", "result"}`; `answer` (optional, one of the
//!   script names) overrides the user's script for this prompt only.
//!
//! A browser (`Accept: text/html…`) gets a minimal page naming the user and the decision, with
//! a link to the redirect.
//!
//! # Codes and tokens
//!
//! A code is good for one exchange within [`CODE_LIFETIME_SECS`] of its issue, with the same
//! client and the same `redirect_uri` as the authorize request; anything else is
//! `invalid_grant`. The `id_token` is HS512 with the client secret: `iss` is the token
//! endpoint's URL exactly as the client's assertion named it (`https://HOST/oauth/v1/token`,
//! which is what the SDKs check), `aud` the client id, `sub` and `preferred_username` the
//! username, `iat`, `exp` (`iat` + [`TOKEN_LIFETIME_SECS`]), `auth_time`, `nonce` (when the
//! authorize request had one), `auth_result` and an `auth_context` with the fields Duo's
//! authentication log carries (`txid`, `user`, `application`, `auth_device`, `factor`,
//! `reason`, `result`, `timestamp`, …). `access_token` is an opaque random string. Duo
//! documents neither lifetime; 60 s for a code and an hour for tokens are the emulator's
//! choices.
//!
//! # Errors and faults
//!
//! `authorize` and `token` refuse with HTTP 400 and OAuth's `{"error", "error_description"}`
//! (`invalid_request`, `invalid_client`, `invalid_grant`, `unsupported_grant_type`,
//! `unsupported_response_type`); `health_check` with HTTP 400 and Duo's
//! `{"stat": "FAIL", "code": 40002, "message": "invalid_client", "message_detail", "timestamp"}`.
//! Faults ([`crate::faults`]) apply to these paths too. Served over a socket, a `down` fault
//! drops the connection without an answer, as for the Admin and Auth APIs; the router alone
//! (in-process, no socket) answers 503 instead; `rate_limit` answers 429
//! without `Retry-After`. Client secrets never appear in logs or answers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use duo_proto::Params;
use duo_proto::canon::{duo_json, form_urldecode, quote_plus};

use crate::config::random_token;
use crate::faults::plan;
use crate::pipeline::fault_response;
use crate::shared::{LogEntry, Shared};
use crate::state::Answer as Script;

/// The health check path.
pub const HEALTH_CHECK_PATH: &str = "/oauth/v1/health_check";
/// The authorize path.
pub const AUTHORIZE_PATH: &str = "/oauth/v1/authorize";
/// The token path.
pub const TOKEN_PATH: &str = "/oauth/v1/token";
/// `client_assertion_type` for a JWT client assertion (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a code may wait for its exchange.
pub const CODE_LIFETIME_SECS: i64 = 60;
/// The longest lifetime of a client assertion or request JWT (Duo's SDKs cap theirs at this).
pub const MAX_JWT_LIFETIME_SECS: i64 = 300;
/// `exp` − `iat` of an `id_token`, and the `expires_in` of its access token.
pub const TOKEN_LIFETIME_SECS: i64 = 3600;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The decision a prompt reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PromptDecision {
    /// `allow` or `deny`.
    result: &'static str,
    /// `allow`, `bypass`, `deny`, `fraud`, `timeout`, `locked_out`.
    status: &'static str,
    /// The message for the user.
    status_msg: &'static str,
    /// The authentication log's `reason`.
    reason: &'static str,
    /// The authentication log's `result`.
    log_result: &'static str,
    /// The authentication log's `factor` (`None` when no factor was used).
    factor: Option<&'static str>,
}

/// An issued code, waiting for its exchange.
#[derive(Debug, Clone)]
struct Grant {
    client_id: String,
    redirect_uri: String,
    username: String,
    nonce: Option<String>,
    issued_at: i64,
    used: bool,
    decision: PromptDecision,
    txid: String,
    user_key: Option<String>,
    email: String,
    device: Option<(String, String)>,
}

/// Universal Prompt state: issued codes and spent assertion ids. Emptied by
/// `POST /_emulator/reset`.
#[derive(Debug, Default)]
pub struct PromptState {
    codes: HashMap<String, Grant>,
    /// `jti` → its assertion's `exp`, kept until that has passed.
    spent_jtis: HashMap<String, i64>,
}

impl PromptState {
    /// Forgets every code and spent assertion id.
    pub fn clear(&mut self) {
        self.codes.clear();
        self.spent_jtis.clear();
    }

    /// Drops what can no longer matter at `now` (expired codes, ids of expired assertions).
    fn prune(&mut self, now: i64, max_skew: i64) {
        self.codes
            .retain(|_, grant| now - grant.issued_at <= CODE_LIFETIME_SECS * 10);
        self.spent_jtis.retain(|_, exp| *exp + max_skew >= now);
    }
}

/// A refusal, as OAuth words it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    error: &'static str,
    description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        error,
        description: description.into(),
    }
}

/// The Universal Prompt routes (the control route is in [`crate::control`]).
pub fn router() -> axum::Router<Arc<Shared>> {
    axum::Router::new()
        .route(HEALTH_CHECK_PATH, get(endpoint).post(endpoint))
        .route(AUTHORIZE_PATH, get(endpoint))
        .route(TOKEN_PATH, axum::routing::post(endpoint))
}

/// One Universal Prompt request: faults, the endpoint, the request log.
async fn endpoint(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut entry = LogEntry {
        method: method.to_string(),
        path: path.clone(),
        sig_version: None,
        ikey: None,
        status: 200,
        outcome: "ok".into(),
    };
    let fault_plan = {
        let mut faults = shared.faults();
        plan(&mut faults, &path)
    };
    if fault_plan.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault_plan.delay_ms)).await;
    }
    let response = match fault_plan.answer {
        Some(answer) => {
            entry.outcome = format!("fault:{}", answer.name());
            fault_response(answer, false)
        }
        None => {
            let mut params = form_urldecode(uri.query().unwrap_or(""));
            params.extend(&form_urldecode(std::str::from_utf8(&body).unwrap_or("")));
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let request = PromptRequest {
                params: &params,
                host: &host,
            };
            match path.as_str() {
                HEALTH_CHECK_PATH => health_check(&shared, &request, &mut entry),
                AUTHORIZE_PATH => authorize_endpoint(&shared, &request, &headers, &mut entry),
                _ => token(&shared, &request, &mut entry),
            }
        }
    };
    entry.status = response.status().as_u16();
    tracing::debug!(
        method = %entry.method,
        path = %entry.path,
        status = entry.status,
        outcome = %entry.outcome,
        "universal prompt request"
    );
    shared.log(entry);
    response
}

/// What the endpoints read from a request.
struct PromptRequest<'a> {
    params: &'a Params,
    /// The `Host` the client reached (the authority of the URL, for the control route).
    host: &'a str,
}

impl PromptRequest<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).filter(|v| !v.is_empty())
    }
}

/// The `https://HOST{path}` audiences a JWT may name for this request.
fn audiences(shared: &Shared, host: &str, path: &str) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    if let Some(configured) = &shared.config.hostname {
        hosts.push(configured.clone());
    }
    if !host.is_empty() {
        hosts.push(host.to_string());
        // `name:port` or `[v6]:port`: the host without its port is accepted too.
        if let Some((bare, port)) = host.rsplit_once(':')
            && !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
            && (bare.starts_with('[') || !bare.contains(':'))
        {
            hosts.push(bare.to_string());
        }
    }
    hosts
        .into_iter()
        .map(|h| format!("https://{h}{path}"))
        .collect()
}

/// The verified claims of an HS512 JWT signed with `secret` (no time or audience checks yet).
fn decode_hs512(token: &str, secret: &str, what: &str) -> Result<Map<String, Value>, String> {
    let key = DecodingKey::from_secret(secret.as_bytes()).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::HS512);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.leeway = 0;
    jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| format!("Invalid {what}: {e}"))
}

fn claim_str<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// A NumericDate claim (`duo_universal` sends fractional seconds).
fn claim_time(claims: &Map<String, Value>, name: &str) -> Option<f64> {
    claims.get(name).and_then(Value::as_f64)
}

/// `exp` (required) and `iat` (optional) against the emulator's clock and skew window.
fn check_times(
    claims: &Map<String, Value>,
    now: i64,
    max_skew: i64,
    what: &str,
) -> Result<f64, String> {
    let now = now as f64;
    let skew = max_skew as f64;
    let exp = claim_time(claims, "exp").ok_or_else(|| format!("Invalid {what}: no `exp` claim"))?;
    if exp < now - skew {
        return Err(format!(
            "Invalid {what}: it has expired (`exp` is in the past)"
        ));
    }
    if exp > now + MAX_JWT_LIFETIME_SECS as f64 + skew {
        return Err(format!(
            "Invalid {what}: `exp` is more than {MAX_JWT_LIFETIME_SECS} seconds away"
        ));
    }
    if let Some(iat) = claim_time(claims, "iat")
        && iat > now + skew
    {
        return Err(format!("Invalid {what}: `iat` is in the future"));
    }
    Ok(exp)
}

/// The matched audience, if `aud` (a string or a list) names one of `expected`.
fn matched_audience(claims: &Map<String, Value>, expected: &[String]) -> Option<String> {
    let named: Vec<&str> = match claims.get("aud") {
        Some(Value::String(aud)) => vec![aud.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    named
        .into_iter()
        .find(|aud| expected.iter().any(|e| e == aud))
        .map(str::to_string)
}

/// A verified client assertion: the client, the audience it named and its `jti` (to spend on
/// success).
struct Assertion {
    client_id: String,
    audience: String,
    jti: String,
    exp: f64,
}

/// Checks `client_id` and `client_assertion` for the endpoint at `path`.
fn verify_client(
    shared: &Shared,
    request: &PromptRequest<'_>,
    path: &str,
    entry: &mut LogEntry,
) -> Result<Assertion, Refusal> {
    let keys = shared.keys();
    let client_id = request
        .param("client_id")
        .ok_or_else(|| refuse("invalid_client", "Missing client_id"))?;
    if client_id != keys.oidc_client_id {
        return Err(refuse("invalid_client", "Invalid client_id"));
    }
    let token = request
        .param("client_assertion")
        .ok_or_else(|| refuse("invalid_client", "Missing client_assertion"))?;
    let claims = decode_hs512(token, &keys.oidc_client_secret, "Client assertion")
        .map_err(|e| refuse("invalid_client", e))?;
    for name in ["iss", "sub"] {
        if claim_str(&claims, name) != Some(client_id) {
            return Err(refuse(
                "invalid_client",
                format!(
                    "Invalid Client assertion: The `{name}` claim must match the supplied client_id"
                ),
            ));
        }
    }
    let expected = audiences(shared, request.host, path);
    let audience = matched_audience(&claims, &expected).ok_or_else(|| {
        refuse(
            "invalid_client",
            format!(
                "Invalid Client assertion: The `aud` claim must be {}",
                expected
                    .first()
                    .map_or("this endpoint's URL", String::as_str)
            ),
        )
    })?;
    let exp = check_times(
        &claims,
        shared.now_secs(),
        shared.config.max_skew_secs,
        "Client assertion",
    )
    .map_err(|e| refuse("invalid_client", e))?;
    let jti = claim_str(&claims, "jti")
        .filter(|j| !j.is_empty())
        .ok_or_else(|| refuse("invalid_client", "Invalid Client assertion: no `jti` claim"))?;
    if shared.prompt().spent_jtis.contains_key(jti) {
        return Err(refuse(
            "invalid_client",
            "Invalid Client assertion: The `jti` claim was already used",
        ));
    }
    entry.ikey = Some(client_id.to_string());
    Ok(Assertion {
        client_id: client_id.to_string(),
        audience,
        jti: jti.to_string(),
        exp,
    })
}

/// Spends a succeeding request's assertion id, under the same lock as the rest of the request's
/// changes; refuses it if a concurrent request spent it first.
fn spend(prompt: &mut PromptState, assertion: &Assertion) -> Result<(), Refusal> {
    if prompt.spent_jtis.contains_key(&assertion.jti) {
        return Err(refuse(
            "invalid_client",
            "Invalid Client assertion: The `jti` claim was already used",
        ));
    }
    prompt
        .spent_jtis
        .insert(assertion.jti.clone(), assertion.exp.ceil() as i64);
    Ok(())
}

fn oauth_error(refusal: &Refusal, entry: &mut LogEntry) -> Response {
    entry.outcome = format!("fail:{}", refusal.error);
    tracing::debug!(error = refusal.error, description = %refusal.description, "universal prompt refused");
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": refusal.error, "error_description": refusal.description})),
    )
        .into_response()
}

fn duo_json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        duo_json(value),
    )
        .into_response()
}

fn health_check(shared: &Shared, request: &PromptRequest<'_>, entry: &mut LogEntry) -> Response {
    let now = shared.now_secs();
    let verified = verify_client(shared, request, HEALTH_CHECK_PATH, entry).and_then(|assertion| {
        let mut prompt = shared.prompt();
        prompt.prune(now, shared.config.max_skew_secs);
        spend(&mut prompt, &assertion)
    });
    match verified {
        Ok(()) => duo_json_response(
            StatusCode::OK,
            &json!({"stat": "OK", "response": {"timestamp": now}}),
        ),
        Err(refusal) => {
            entry.outcome = format!("fail:{}", refusal.error);
            duo_json_response(
                StatusCode::BAD_REQUEST,
                &json!({
                    "stat": "FAIL",
                    "code": 40002,
                    "message": refusal.error,
                    "message_detail": refusal.description,
                    "timestamp": now,
                }),
            )
        }
    }
}

/// An issued code and where the user goes with it.
#[derive(Debug, Clone)]
struct Redirect {
    location: String,
    redirect_uri: String,
    code: String,
    state: String,
    username: String,
    decision: PromptDecision,
}

/// What the prompt learnt: the decision, and the user's details for `auth_context`.
struct PromptOutcome {
    decision: PromptDecision,
    email: String,
    user_key: Option<String>,
    /// The device used (id, name), when a factor was.
    device: Option<(String, String)>,
}

/// The decision for `username` from their script (or `answer`, overriding it).
fn decide(shared: &Shared, username: &str, answer: Option<Script>) -> PromptOutcome {
    let data = shared.data();
    let record = data.user_by_name(username);
    let script = answer.or(record.map(|r| r.answer));
    let status = record.map(|r| r.user.status.as_str()).unwrap_or("");
    let decision = |result, status, status_msg, reason, log_result, factor| PromptDecision {
        result,
        status,
        status_msg,
        reason,
        log_result,
        factor,
    };
    let push = Some("duo_push");
    let chosen = match (record.is_some(), status, script) {
        (false, _, _) | (_, _, Some(Script::NotEnrolled)) => decision(
            "deny",
            "deny",
            "Enroll an authentication device to proceed",
            "deny_unenrolled_user",
            "denied",
            None,
        ),
        (true, "disabled", _) => decision(
            "deny",
            "deny",
            "Your account is disabled.",
            "user_disabled",
            "denied",
            None,
        ),
        (true, "bypass", _) | (_, _, Some(Script::Bypass)) => decision(
            "allow",
            "bypass",
            "Allowing access (bypass).",
            "bypass_user",
            "success",
            None,
        ),
        (_, _, Some(Script::Deny)) => decision(
            "deny",
            "deny",
            "Login request denied.",
            "user_denied",
            "denied",
            push,
        ),
        (_, _, Some(Script::Fraud)) => decision(
            "deny",
            "fraud",
            "Login request reported as fraudulent.",
            "user_marked_fraud",
            "fraud",
            push,
        ),
        (_, _, Some(Script::Timeout)) => decision(
            "deny",
            "timeout",
            "Login timed out.",
            "no_response",
            "denied",
            push,
        ),
        (_, _, Some(Script::LockedOut)) => decision(
            "deny",
            "locked_out",
            "Your account is locked out. Contact your administrator.",
            "locked_out",
            "denied",
            None,
        ),
        (_, _, Some(Script::Approve) | None) => decision(
            "allow",
            "allow",
            "Login Successful",
            "user_approved",
            "success",
            push,
        ),
    };
    let user_key = record.map(|r| r.user.user_id.clone());
    let email = record.map(|r| r.user.email.clone()).unwrap_or_default();
    let device = record.and_then(|r| {
        data.phones_of(r)
            .next()
            .map(|p| (p.phone_id.clone(), format!("{} ({})", p.model, p.number)))
    });
    PromptOutcome {
        device: device.filter(|_| chosen.factor.is_some()),
        decision: chosen,
        email,
        user_key,
    }
}

/// Checks an authorize request and issues its code.
fn authorize(
    shared: &Shared,
    request: &PromptRequest<'_>,
    answer: Option<Script>,
    entry: &mut LogEntry,
) -> Result<Redirect, Refusal> {
    let keys = shared.keys();
    match request.param("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err(refuse(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
        None => return Err(refuse("invalid_request", "Missing response_type")),
    }
    let client_id = request
        .param("client_id")
        .ok_or_else(|| refuse("invalid_request", "Missing client_id"))?;
    if client_id != keys.oidc_client_id {
        return Err(refuse("invalid_client", "Invalid client_id"));
    }
    let token = request
        .param("request")
        .ok_or_else(|| refuse("invalid_request", "Missing request"))?;
    let claims = decode_hs512(token, &keys.oidc_client_secret, "request JWT")
        .map_err(|e| refuse("invalid_request", e))?;
    if claim_str(&claims, "iss") != Some(client_id) {
        return Err(refuse(
            "invalid_request",
            "Invalid request JWT: The `iss` claim must match the supplied client_id",
        ));
    }
    if claims.contains_key("client_id") && claim_str(&claims, "client_id") != Some(client_id) {
        return Err(refuse(
            "invalid_request",
            "Invalid request JWT: The `client_id` claim must match the supplied client_id",
        ));
    }
    let expected = audiences(shared, request.host, "");
    if matched_audience(&claims, &expected).is_none() {
        return Err(refuse(
            "invalid_request",
            format!(
                "Invalid request JWT: The `aud` claim must be {}",
                expected
                    .first()
                    .map_or("the API host's URL", String::as_str)
            ),
        ));
    }
    check_times(
        &claims,
        shared.now_secs(),
        shared.config.max_skew_secs,
        "request JWT",
    )
    .map_err(|e| refuse("invalid_request", e))?;
    if let Some(kind) = claims.get("response_type")
        && kind.as_str() != Some("code")
    {
        return Err(refuse(
            "unsupported_response_type",
            "Invalid request JWT: response_type must be code",
        ));
    }
    let scope = claim_str(&claims, "scope").unwrap_or("");
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(refuse(
            "invalid_scope",
            "Invalid request JWT: scope must include openid",
        ));
    }
    let redirect_uri = claim_str(&claims, "redirect_uri")
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
        .ok_or_else(|| {
            refuse(
                "invalid_request",
                "Invalid request JWT: redirect_uri must be an http(s) URL",
            )
        })?;
    let state = claim_str(&claims, "state")
        .filter(|s| (16..=1024).contains(&s.chars().count()))
        .ok_or_else(|| {
            refuse(
                "invalid_request",
                "Invalid request JWT: state must be 16 to 1024 characters",
            )
        })?;
    let username = claim_str(&claims, "duo_uname")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| refuse("invalid_request", "Invalid request JWT: missing duo_uname"))?;
    let nonce = claim_str(&claims, "nonce")
        .or_else(|| request.param("nonce"))
        .map(str::to_string);
    let use_duo_code = claims
        .get("use_duo_code_attribute")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    entry.ikey = Some(client_id.to_string());

    let PromptOutcome {
        decision,
        email,
        user_key,
        device,
    } = decide(shared, username, answer);
    let mut rng = rand::rng();
    let code = random_token(&mut rng, "", 32, ALPHANUMERIC);
    let now = shared.now_secs();
    let grant = Grant {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        username: username.to_string(),
        nonce,
        issued_at: now,
        used: false,
        decision: decision.clone(),
        txid: uuid::Uuid::new_v4().to_string(),
        user_key,
        email,
        device,
    };
    {
        let mut prompt = shared.prompt();
        prompt.prune(now, shared.config.max_skew_secs);
        prompt.codes.insert(code.clone(), grant);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let code_name = if use_duo_code { "duo_code" } else { "code" };
    let location = format!(
        "{redirect_uri}{separator}{code_name}={}&state={}",
        quote_plus(&code),
        quote_plus(state)
    );
    Ok(Redirect {
        location,
        redirect_uri: redirect_uri.to_string(),
        code,
        state: state.to_string(),
        username: username.to_string(),
        decision,
    })
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn authorize_endpoint(
    shared: &Shared,
    request: &PromptRequest<'_>,
    headers: &HeaderMap,
    entry: &mut LogEntry,
) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    match authorize(shared, request, None, entry) {
        Ok(redirect) if wants_html => {
            let page = format!(
                "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Duo (emulated)</title></head>\n\
                 <body><h1>Duo Universal Prompt (emulated)</h1>\n\
                 <p>User: <b>{user}</b></p>\n<p>Decision: <b>{result}</b> ({status}): {msg}</p>\n\
                 <p><a id=\"continue\" href=\"{href}\">Continue to the application</a></p>\n</body></html>\n",
                user = html_escape(&redirect.username),
                result = redirect.decision.result,
                status = redirect.decision.status,
                msg = html_escape(redirect.decision.status_msg),
                href = html_escape(&redirect.location),
            );
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page,
            )
                .into_response()
        }
        Ok(redirect) => {
            (StatusCode::FOUND, [(header::LOCATION, redirect.location)]).into_response()
        }
        Err(refusal) => oauth_error(&refusal, entry),
    }
}

fn token(shared: &Shared, request: &PromptRequest<'_>, entry: &mut LogEntry) -> Response {
    match exchange(shared, request, entry) {
        Ok(body) => duo_json_response(StatusCode::OK, &body),
        Err(refusal) => oauth_error(&refusal, entry),
    }
}

/// Checks a token request and exchanges its code.
fn exchange(
    shared: &Shared,
    request: &PromptRequest<'_>,
    entry: &mut LogEntry,
) -> Result<Value, Refusal> {
    match request.param("grant_type") {
        Some("authorization_code") => {}
        Some(other) => {
            return Err(refuse(
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use authorization_code"),
            ));
        }
        None => return Err(refuse("invalid_request", "Missing grant_type")),
    }
    if request.param("client_assertion_type") != Some(CLIENT_ASSERTION_TYPE) {
        return Err(refuse(
            "invalid_request",
            format!("client_assertion_type must be {CLIENT_ASSERTION_TYPE}"),
        ));
    }
    let assertion = verify_client(shared, request, TOKEN_PATH, entry)?;
    let code = request
        .param("code")
        .ok_or_else(|| refuse("invalid_request", "Missing code"))?;
    let redirect_uri = request
        .param("redirect_uri")
        .ok_or_else(|| refuse("invalid_request", "Missing redirect_uri"))?;
    let invalid_grant = || {
        refuse(
            "invalid_grant",
            "The provided authorization grant or refresh token is invalid, expired, revoked, does not match the redirection URI.",
        )
    };
    let now = shared.now_secs();
    let grant = {
        let mut prompt = shared.prompt();
        let grant = prompt.codes.get(code).ok_or_else(invalid_grant)?;
        if grant.used
            || now - grant.issued_at > CODE_LIFETIME_SECS
            || grant.client_id != assertion.client_id
            || grant.redirect_uri != redirect_uri
        {
            return Err(invalid_grant());
        }
        let mut grant = grant.clone();
        spend(&mut prompt, &assertion)?;
        grant.used = true;
        prompt.codes.insert(code.to_string(), grant.clone());
        grant
    };
    let keys = shared.keys();
    let claims = id_token_claims(&grant, &assertion.audience, now);
    let id_token = sign_hs512(&claims, &keys.oidc_client_secret)
        .map_err(|e| refuse("server_error", format!("signing the id_token failed: {e}")))?;
    Ok(json!({
        "id_token": id_token,
        "access_token": random_token(&mut rand::rng(), "", 40, ALPHANUMERIC),
        "expires_in": TOKEN_LIFETIME_SECS,
        "token_type": "Bearer",
    }))
}

/// Signs `claims` as an HS512 JWT with `secret`.
fn sign_hs512(claims: &Value, secret: &str) -> Result<String, jsonwebtoken::errors::Error> {
    let key = EncodingKey::from_secret(secret.as_bytes())?;
    jsonwebtoken::encode(&Header::new(Algorithm::HS512), claims, &key)
}

/// The `id_token`'s claims (see the module documentation).
fn id_token_claims(grant: &Grant, issuer: &str, now: i64) -> Value {
    let location = json!({"city": null, "country": null, "state": null});
    let isotimestamp = jiff::Timestamp::from_second(grant.issued_at)
        .map(|t| format!("{}+00:00", t.strftime("%Y-%m-%dT%H:%M:%S")))
        .unwrap_or_default();
    let auth_device = match &grant.device {
        Some((key, name)) => json!({"ip": null, "key": key, "location": location, "name": name}),
        None => json!({"ip": null, "key": null, "location": location, "name": null}),
    };
    let mut claims = json!({
        "iss": issuer,
        "aud": grant.client_id,
        "sub": grant.username,
        "preferred_username": grant.username,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECS,
        "auth_time": grant.issued_at,
        "auth_result": {
            "result": grant.decision.result,
            "status": grant.decision.status,
            "status_msg": grant.decision.status_msg,
        },
        "auth_context": {
            "access_device": {
                "browser": null,
                "browser_version": null,
                "hostname": null,
                "ip": null,
                "location": location,
                "os": null,
                "os_version": null,
            },
            "alias": "",
            "application": {"key": grant.client_id, "name": "Web SDK"},
            "auth_device": auth_device,
            "email": grant.email,
            "event_type": "authentication",
            "factor": grant.decision.factor,
            "isotimestamp": isotimestamp,
            "ood_software": null,
            "reason": grant.decision.reason,
            "result": grant.decision.log_result,
            "timestamp": grant.issued_at,
            "trusted_endpoint_status": "unknown",
            "txid": grant.txid,
            "user": {"groups": [], "key": grant.user_key, "name": grant.username},
        },
    });
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    claims
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideInput {
    url: String,
    #[serde(default)]
    answer: Option<String>,
}

/// `POST /_emulator/oauth/decide`: runs an authorize URL headlessly and answers the redirect.
pub async fn decide_control(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let control_error = |message: String| {
        (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
    };
    let input: DecideInput = match serde_json::from_slice(&body) {
        Ok(input) => input,
        Err(e) => return control_error(format!("invalid body: {e}")),
    };
    let answer = match input.answer.as_deref() {
        None => None,
        Some(text) => match Script::parse(text) {
            Some(answer) => Some(answer),
            None => {
                return control_error(format!(
                    "\"answer\" {text:?} is not one of {}",
                    Script::NAMES
                ));
            }
        },
    };
    let uri: Uri = match input.url.parse() {
        Ok(uri) => uri,
        Err(e) => return control_error(format!("\"url\" is not a URL: {e}")),
    };
    if uri.path() != AUTHORIZE_PATH {
        return control_error(format!("\"url\" must be an {AUTHORIZE_PATH} URL"));
    }
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_default();
    let params = form_urldecode(uri.query().unwrap_or(""));
    let request = PromptRequest {
        params: &params,
        host: &host,
    };
    let mut entry = LogEntry {
        method: "POST".into(),
        path: "/_emulator/oauth/decide".into(),
        sig_version: None,
        ikey: None,
        status: 200,
        outcome: "ok".into(),
    };
    match authorize(&shared, &request, answer, &mut entry) {
        Ok(redirect) => Json(json!({
            "location": redirect.location,
            "redirect_uri": redirect.redirect_uri,
            "code": redirect.code,
            "state": redirect.state,
            "result": redirect.decision.result,
        }))
        .into_response(),
        Err(refusal) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": format!("{}: {}", refusal.error, refusal.description),
            })),
        )
            .into_response(),
    }
}
