//! `check`: run the second factor for a username against a Vault method (`"method": id or
//! name`, in `?tenant=`; in the root tenant also a step-up method's name, whose
//! `username_format` is applied by simple substitution) or a tenant's ONTAP profile (`"profile": "cluster"`, a tenant path or
//! its UUID). Synchronous by default; with `"async": true` it answers 202 with a `txid` that
//! `GET check/{txid}` answers (`result: waiting` until decided).
//!
//! Asynchronous checks are kept in the store for 10 minutes, so with PostgreSQL any instance
//! answers `GET check/{txid}`; the instance that started the check decides it. Every decision is
//! audited (`mfa.decision`, with the reason, never the passcode). Attempts are rate limited
//! per user of an integration and per `ipaddr`; a refused attempt is `deny`/`rate_limited`
//! without asking Duo.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use duogate_store::mfa_requests::CheckJob;
use duogate_store::tokens::Role;

use super::{ApiError, TenantQuery, acting_tenant, caller, parse_body};
use crate::access::Caller;
use crate::engine::{Attempt, Credential, Decision};
use crate::state::AppState;
use crate::targets::{self, Enforced, TargetError};

/// How long an asynchronous check stays readable.
const CHECK_TTL_SECS: i64 = 600;

/// A check request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckInput {
    method: Option<String>,
    profile: Option<String>,
    username: String,
    passcode: Option<String>,
    factor: Option<String>,
    device: Option<String>,
    ipaddr: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default, rename = "async")]
    asynchronous: bool,
}

fn decision_json(decision: &Decision, txid: Option<&str>) -> Value {
    let mut body = json!({
        "result": decision.outcome.as_str(),
        "reason": decision.reason.as_str(),
        "status_msg": decision.status_msg,
    });
    if !decision.detail.is_empty() {
        body["detail"] = json!(decision.detail);
    }
    if let Some(txid) = txid {
        body["txid"] = json!(txid);
    }
    body
}

fn credential(input: &CheckInput) -> Result<Credential, ApiError> {
    match (input.factor.as_deref(), &input.passcode) {
        (None | Some("passcode"), Some(code)) if !code.trim().is_empty() => {
            Ok(Credential::Passcode(code.trim().to_string()))
        }
        (Some("passcode"), _) => Err(ApiError::invalid(
            "passcode: required with factor \"passcode\"",
        )),
        (None | Some("push") | Some("auto"), None) => Ok(Credential::Push),
        (Some(other), None) => Err(ApiError::invalid(format!(
            "factor: {other:?} is not one of push, auto, passcode"
        ))),
        (Some(_), Some(_)) => Err(ApiError::invalid("passcode: only with factor \"passcode\"")),
        (None, Some(_)) => Err(ApiError::invalid("passcode: must not be empty")),
    }
}

/// A target, or 404 naming `what`.
fn answer<T>(result: Result<T, TargetError>, what: &str) -> Result<T, ApiError> {
    match result {
        Ok(found) => Ok(found),
        Err(TargetError::NotFound) => Err(ApiError::not_found(format!("no {what}"))),
        Err(TargetError::Store(e)) => Err(ApiError::from(e)),
    }
}

async fn resolve(
    state: &AppState,
    caller: &Caller,
    query: &TenantQuery,
    input: &CheckInput,
) -> Result<Enforced, ApiError> {
    // A missing target, and one in a tenant the caller may not use, answer alike.
    match (&input.method, &input.profile) {
        (Some(method), None) => {
            let tenant = acting_tenant(state, caller, query).await?;
            let found = targets::vault_method_named(state, &tenant, method).await;
            answer(found, &format!("method {method:?}"))
        }
        (None, Some(profile)) => {
            let what = format!("profile {profile:?}");
            let tenant = answer(targets::profile_tenant(state, profile).await, &what)?;
            if !caller.may_use_tenant(&tenant.id) {
                return answer(Err(TargetError::NotFound), &what);
            }
            answer(targets::ontap_profile(state, &tenant).await, &what)
        }
        _ => Err(ApiError::invalid("method or profile: give exactly one")),
    }
}

pub(super) async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<TenantQuery>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller(&state, &headers, Role::Mfa).await?;
    let input: CheckInput = parse_body(&body)?;
    if input.username.trim().is_empty() {
        return Err(ApiError::invalid("username: must not be empty"));
    }
    if input.device.as_deref().is_some_and(|d| d != "auto") {
        return Err(ApiError::invalid("device: only \"auto\" is supported"));
    }
    let credential = credential(&input)?;
    let enforced = resolve(&state, &caller, &query, &input).await?;
    let attempt = Attempt {
        username: targets::check_username(&enforced, input.username.trim()),
        ipaddr: input.ipaddr.clone(),
        credential,
        pushinfo: enforced.pushinfo.clone(),
        groups: input.groups.clone(),
    };
    if !input.asynchronous {
        let decision = enforced.decide(&state, &caller, &attempt).await;
        return Ok((StatusCode::OK, Json(decision_json(&decision, None))));
    }
    let txid = state.store.create_check_job(CHECK_TTL_SECS).await?;
    let task_state = state.clone();
    let task_txid = txid.clone();
    tokio::spawn(async move {
        let decision = enforced.decide(&task_state, &caller, &attempt).await;
        let body = decision_json(&decision, Some(&task_txid));
        if let Err(error) = task_state.store.finish_check_job(&task_txid, &body).await {
            tracing::error!(%error, "could not record an asynchronous check's decision");
        }
    });
    Ok((StatusCode::ACCEPTED, Json(waiting(&txid))))
}

fn waiting(txid: &str) -> Value {
    json!({"result": "waiting", "reason": "waiting", "status_msg": "", "txid": txid})
}

pub(super) async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(txid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller(&state, &headers, Role::Mfa).await?;
    match state.store.check_job(&txid).await {
        Ok(CheckJob::Waiting) => Ok(Json(waiting(&txid))),
        Ok(CheckJob::Decided(body)) => Ok(Json(body)),
        Err(duogate_store::StoreError::NotFound) => {
            Err(ApiError::not_found(format!("no check {txid:?}")))
        }
        Err(other) => Err(other.into()),
    }
}
