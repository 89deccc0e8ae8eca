//! `check`: run the second factor for a username against a Vault method (`"method": id or
//! name`, in `?tenant=`; in the root tenant also a step-up method's name, whose
//! `username_format` is applied by simple substitution) or a tenant's ONTAP profile (`"profile": "cluster"`, a tenant path or
//! its UUID). Synchronous by default; with `"async": true` it answers 202 with a `txid` that
//! `GET check/{txid}` answers (`result: waiting` until decided).
//!
//! # Factor and device
//!
//! `factor` is `auto`, `push`, `phone`, `sms` or `passcode` (with `passcode`), and `device`
//! is `auto`, a phone id (`DP` and 18 capitals or digits) or `phone1`…`phone99` (the N-th
//! phone in Duo's preauth list), as Duo's Auth API and duo_unix's menu name them. Anything else
//! is 400 naming the field. Without `factor` a `passcode` is a passcode and otherwise the
//! profile's default applies (a push, or Duo's default factor with `auto_push`); a `device`
//! alone means factor `auto` on that device. An ONTAP profile runs the choice as duo_unix's
//! text prompt (`crates/duogate-server/src/engine/mod.rs`); an SMS choice ends in deny with
//! reason `sms_sent`. A **Vault method keeps Vault's behaviour** (a push to device `auto`, or a
//! passcode): it refuses `factor` `phone`/`sms` and any `device` but `auto` with 400, before
//! asking Duo (`auto` and `push` both push).
//!
//! # Asynchronous checks, and Verified Duo Push
//!
//! Asynchronous checks are kept in the store for 10 minutes, so with PostgreSQL any instance
//! answers `GET check/{txid}`; the instance that started the check decides it. A check belongs
//! to the tenant of its method or profile: a caller bound to another tenant gets the same 404
//! as for an unknown txid. A check also stores its decision deadline (the engine's
//! `check_deadline` from its start): when that has passed by [`OVERDUE_GRACE_SECS`] and the
//! check is still waiting (the instance deciding it died), whichever instance answers
//! `GET check/{txid}` records and answers the final `{"result": "deny", "reason": "timeout"}`
//! (not `error`: nobody decided within the time allowed, as with an unanswered push), so it
//! ends the same on every instance; a decision arriving later is dropped. That ending is
//! audited (`mfa.decision`, target the txid, `"overdue": true`) by the instance that wrote it. While it waits,
//! `GET check/{txid}` shows the latest news from Duo: `{"result": "waiting", "reason":
//! "waiting", "status": "pushed", "status_msg": …, "txid"}`, plus `verification_code` for a
//! Verified Duo Push, which an asynchronous check against an ONTAP profile asks for (the
//! caller shows the code; the user types it into Duo Mobile). Synchronous checks never ask for
//! Verified Push: nobody could see the code. Every decision is
//! audited (`mfa.decision`, with the reason, never the passcode). Attempts are rate limited
//! per user of an integration and per `ipaddr` (the address the caller states for its user;
//! the caller's own address is not the user's), across instances with PostgreSQL; a refused
//! attempt is `deny`/`rate_limited` without asking Duo. `username` is at most 256 bytes (400
//! otherwise).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use duogate_store::mfa_requests::CheckJob;
use duogate_store::tokens::Role;

use super::extract::{NativeBody, NativePath, NativeQuery};
use super::{ApiError, TenantQuery, acting_tenant, caller, parse_body};
use crate::access::Caller;
use crate::engine::limiter::MAX_USERNAME_BYTES;
use crate::engine::{
    Attempt, Credential, Decision, Device, Factor, FactorChoice, Policy, Progress,
};
use crate::state::AppState;
use crate::targets::{self, Enforced, TargetError};

/// How long an asynchronous check stays readable.
const CHECK_TTL_SECS: i64 = 600;

/// How long past its decision deadline a waiting asynchronous check is ended as timed out
/// (room for the deciding instance to write a decision it just made).
const OVERDUE_GRACE_SECS: i64 = 10;

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
    let device = match input.device.as_deref() {
        None => None,
        Some(text) => Some(Device::parse(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "device: {text:?} is not auto, a phone id (DP…) or phone1…phone99"
            ))
        })?),
    };
    let factor = match input.factor.as_deref() {
        None | Some("passcode") => None,
        Some(text) => Some(Factor::parse(text).ok_or_else(|| {
            ApiError::invalid(format!(
                "factor: {text:?} is not one of auto, push, phone, sms, passcode"
            ))
        })?),
    };
    let passcode_factor = input.factor.as_deref() == Some("passcode");
    match (&input.passcode, factor) {
        (Some(_), Some(_)) => Err(ApiError::invalid("passcode: only with factor \"passcode\"")),
        (Some(_), None) if device.is_some() => {
            Err(ApiError::invalid("device: not with a passcode"))
        }
        (Some(code), None) if !code.trim().is_empty() => {
            Ok(Credential::Passcode(code.trim().to_string()))
        }
        (Some(_), None) => Err(ApiError::invalid("passcode: must not be empty")),
        (None, None) if passcode_factor => Err(ApiError::invalid(
            "passcode: required with factor \"passcode\"",
        )),
        (None, None) => Ok(match device {
            None => Credential::Push,
            Some(device) => Credential::Choice(FactorChoice {
                factor: Factor::Auto,
                device,
            }),
        }),
        (None, Some(factor)) => Ok(Credential::Choice(FactorChoice {
            factor,
            device: device.unwrap_or(Device::Auto),
        })),
    }
}

/// A Vault method keeps Vault's behaviour: a push to device `auto`, or a passcode.
fn vault_allows(credential: &Credential) -> Result<(), ApiError> {
    match credential {
        Credential::Choice(FactorChoice {
            factor: Factor::Phone | Factor::Sms,
            ..
        }) => Err(ApiError::invalid(
            "factor: a Vault method takes push, auto or passcode",
        )),
        Credential::Choice(FactorChoice { device, .. }) if *device != Device::Auto => Err(
            ApiError::invalid("device: a Vault method pushes to device \"auto\" only"),
        ),
        _ => Ok(()),
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
    NativeQuery(query): NativeQuery<TenantQuery>,
    NativeBody(body): NativeBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let caller = caller(&state, &headers, Role::Mfa).await?;
    let input: CheckInput = parse_body(&body)?;
    if input.username.trim().is_empty() {
        return Err(ApiError::invalid("username: must not be empty"));
    }
    if input.username.len() > MAX_USERNAME_BYTES {
        return Err(ApiError::invalid(format!(
            "username: longer than {MAX_USERNAME_BYTES} bytes"
        )));
    }
    let credential = credential(&input)?;
    let enforced = resolve(&state, &caller, &query, &input).await?;
    if enforced.policy == Policy::FailClosed {
        vault_allows(&credential)?;
    }
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
    let decide_within = i64::try_from(state.limits.check_deadline.as_secs())
        .unwrap_or(CHECK_TTL_SECS)
        .saturating_add(1);
    let txid = state
        .store
        .create_check_job(
            &enforced.integration.tenant_id,
            decide_within,
            CHECK_TTL_SECS,
        )
        .await?;
    let task_state = state.clone();
    let task_txid = txid.clone();
    tokio::spawn(async move {
        let (progress, mut news) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let recorder = {
            let state = task_state.clone();
            let txid = task_txid.clone();
            tokio::spawn(async move {
                while let Some(progress) = news.recv().await {
                    let body = progress_json(&progress, &txid);
                    if let Err(error) = state.store.record_check_progress(&txid, &body).await {
                        tracing::error!(%error, "could not record an asynchronous check's progress");
                    }
                }
            })
        };
        let decision = enforced
            .decide_reporting(&task_state, &caller, &attempt, Some(progress))
            .await;
        // The channel is closed: the recorder ends once it has written the last news, so the
        // decision is written after it.
        if let Err(error) = recorder.await {
            tracing::error!(%error, "the progress recorder of an asynchronous check failed");
        }
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

/// A waiting check with Duo's latest news.
fn progress_json(progress: &Progress, txid: &str) -> Value {
    let mut body = waiting(txid);
    body["status"] = json!(progress.status);
    body["status_msg"] = json!(progress.status_msg);
    if let Some(code) = &progress.verification_code {
        body["verification_code"] = json!(code);
    }
    body
}

pub(super) async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    NativePath(txid): NativePath<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = caller(&state, &headers, Role::Mfa).await?;
    let not_found = || ApiError::not_found(format!("no check {txid:?}"));
    let entry = match state.store.check_job_entry(&txid).await {
        Ok(entry) => entry,
        Err(duogate_store::StoreError::NotFound) => return Err(not_found()),
        Err(other) => return Err(other.into()),
    };
    // Jobs stored before their tenant was recorded are for unbound callers only.
    let readable = match &entry.tenant_id {
        Some(tenant) => caller.may_use_tenant(tenant),
        None => caller.tenant_id.is_none(),
    };
    if !readable {
        return Err(not_found());
    }
    let job = match entry.job {
        CheckJob::Decided(body) => return Ok(Json(body)),
        waiting_job if entry.decide_by.is_none() => waiting_job,
        waiting_job => {
            let timed_out = overdue_json(&txid);
            if state
                .store
                .end_overdue_check_job(&txid, OVERDUE_GRACE_SECS, &timed_out)
                .await?
            {
                tracing::warn!(
                    txid = %txid,
                    "an asynchronous check was not decided by its deadline; ended as deny/timeout"
                );
                // Audited like every decision (the job does not keep the username: the
                // target is the txid).
                caller
                    .audit(
                        &state.store,
                        "mfa.decision",
                        &txid,
                        json!({"result": "deny", "reason": "timeout", "overdue": true}),
                    )
                    .await?;
                return Ok(Json(timed_out));
            }
            // Not overdue, or another instance just ended or decided it: read it again.
            match state.store.check_job(&txid).await {
                Ok(job) => job,
                Err(duogate_store::StoreError::NotFound) => waiting_job,
                Err(other) => return Err(other.into()),
            }
        }
    };
    match job {
        CheckJob::Waiting => Ok(Json(waiting(&txid))),
        CheckJob::Progress(body) | CheckJob::Decided(body) => Ok(Json(body)),
    }
}

/// The final answer of a check nobody decided by its deadline.
fn overdue_json(txid: &str) -> Value {
    json!({
        "result": "deny",
        "reason": "timeout",
        "status_msg": "",
        "detail": "no decision by the check's deadline",
        "txid": txid,
    })
}
