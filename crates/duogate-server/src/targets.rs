//! How stored integrations become engine inputs: a Vault method (login MFA or step-up) or an
//! ONTAP profile (with its tenant's Duo groups) gives a [`DuoTarget`] and a [`Policy`]. The
//! secret is opened here, for the call only.
//!
//! Vault methods are read from their stored JSON (`{api_hostname, integration_key, push_info,
//! username_format, …}`); ONTAP profiles and groups through the ONTAP dialect's stored types,
//! which also say what they mean to the engine.

use serde_json::Value;

use duogate_store::StoreError;
use duogate_store::integrations::{Integration, IntegrationKind};
use duogate_store::tenants::Tenant;

use crate::access::Caller;
use crate::engine::limiter::MAX_USERNAME_BYTES;
use crate::engine::{Attempt, Decision, DuoTarget, Outcome, Policy, ProgressSender, Reason};
use crate::ontap::groups::GroupConfig;
use crate::ontap::profiles::ProfileConfig;
use crate::state::AppState;

/// An integration ready for the engine.
#[derive(Debug, Clone)]
pub struct Enforced {
    /// The integration.
    pub integration: Integration,
    /// Where Duo is.
    pub target: DuoTarget,
    /// The rules.
    pub policy: Policy,
    /// `pushinfo` for pushes.
    pub pushinfo: Option<String>,
}

impl Enforced {
    /// Decides one attempt: the username's length ([`MAX_USERNAME_BYTES`]) and the rate limits
    /// first (a refused attempt never reaches Duo), then
    /// the engine; every decision goes to the audit log (`mfa.decision`, with its reason,
    /// never a passcode), whichever dialect asked, and is counted in
    /// `duogate_mfa_decisions_total{policy, outcome, reason}` (policy `fail_closed` for Vault
    /// methods, `duo_unix` for ONTAP profiles); the engine's Duo calls are measured
    /// ([`crate::engine::with_call_metrics`]), refusals counted in
    /// `duogate_limiter_refusals_total`.
    pub async fn decide(&self, state: &AppState, caller: &Caller, attempt: &Attempt) -> Decision {
        self.decide_reporting(state, caller, attempt, None).await
    }

    /// [`Enforced::decide`], sending news while the login waits to `progress` (see
    /// [`crate::engine::decide_reporting`]); the channel closes when the decision is made.
    pub async fn decide_reporting(
        &self,
        state: &AppState,
        caller: &Caller,
        attempt: &Attempt,
        progress: Option<ProgressSender>,
    ) -> Decision {
        let admitted = if attempt.username.len() > MAX_USERNAME_BYTES {
            Err(format!(
                "username: longer than {MAX_USERNAME_BYTES} bytes; not sent to Duo"
            ))
        } else {
            state
                .limiter
                .admit(
                    &self.integration.id,
                    &attempt.username,
                    attempt.ipaddr.as_deref(),
                )
                .await
                .map_err(|error| {
                    tracing::error!(%error, "cannot count an attempt; denied");
                    "the attempt could not be counted; try again later".to_string()
                })
        };
        // The limiter answers yes or no; which of its limits refused is not told.
        let refused = matches!(admitted, Ok(false));
        let decision = match admitted {
            Err(detail) => Decision {
                outcome: Outcome::Deny,
                reason: Reason::Error,
                status_msg: String::new(),
                detail,
                attempts: 0,
            },
            Ok(true) => {
                crate::engine::with_call_metrics(
                    state.metrics.clone(),
                    crate::engine::decide_reporting(
                        &self.target,
                        attempt,
                        &self.policy,
                        &state.limits,
                        progress.as_ref(),
                    ),
                )
                .await
            }
            Ok(false) => Decision {
                outcome: Outcome::Deny,
                reason: Reason::RateLimited,
                status_msg: "Too many attempts; try again later.".into(),
                detail: "too many attempts; try again later".into(),
                attempts: 0,
            },
        };
        drop(progress);
        if refused {
            state.metrics.count_limiter_refusal("attempt");
        }
        state.metrics.count_decision(
            match self.policy {
                Policy::FailClosed => "fail_closed",
                Policy::Unix(_) => "duo_unix",
            },
            decision.outcome.as_str(),
            decision.reason.as_str(),
        );
        let detail = serde_json::json!({
            "integration": self.integration.id,
            "kind": self.integration.kind.as_str(),
            "result": decision.outcome.as_str(),
            "reason": decision.reason.as_str(),
            "ipaddr": attempt.ipaddr,
            "attempts": decision.attempts,
        });
        let audited = caller
            .audit(&state.store, "mfa.decision", &attempt.username, detail)
            .await;
        if let Err(error) = audited {
            tracing::error!(%error, "could not audit an MFA decision");
        }
        decision
    }
}

/// Why an integration cannot be enforced.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No such integration.
    #[error("not found")]
    NotFound,
    /// The store failed (or the secret cannot be opened).
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn text(config: &Value, field: &str) -> String {
    config[field].as_str().unwrap_or("").to_string()
}

async fn secret(
    state: &AppState,
    integration: &Integration,
) -> Result<secrecy::SecretString, TargetError> {
    state
        .store
        .integration_secret(&integration.id)
        .await?
        .ok_or(TargetError::NotFound)
}

/// A Vault login-MFA or step-up method: fail closed.
pub async fn vault_method(
    state: &AppState,
    integration: Integration,
) -> Result<Enforced, TargetError> {
    let config = integration.config.clone();
    let target = DuoTarget {
        api_host: text(&config, "api_hostname"),
        ikey: text(&config, "integration_key"),
        skey: secret(state, &integration).await?,
        allow_plain_http: state.settings.allow_plain_http_duo,
        proxy: None,
    };
    let pushinfo = Some(text(&config, "push_info")).filter(|p| !p.is_empty());
    Ok(Enforced {
        integration,
        target,
        policy: Policy::FailClosed,
        pushinfo,
    })
}

/// A Vault method of `tenant` by id or `method_name`, else (in the root tenant) a step-up
/// method by name.
pub async fn vault_method_named(
    state: &AppState,
    tenant: &Tenant,
    key: &str,
) -> Result<Enforced, TargetError> {
    match state.store.integration(key).await {
        Ok(found) if found.kind == IntegrationKind::VaultMethod && found.tenant_id == tenant.id => {
            return vault_method(state, found).await;
        }
        Ok(_) | Err(StoreError::NotFound) => {}
        Err(other) => return Err(other.into()),
    }
    for kind in [IntegrationKind::VaultMethod, IntegrationKind::StepUpMethod] {
        if kind == IntegrationKind::StepUpMethod && !tenant.path.as_str().is_empty() {
            continue;
        }
        match state.store.integration_named(&tenant.id, kind, key).await {
            Ok(found) => return vault_method(state, found).await,
            Err(StoreError::NotFound) => {}
            Err(other) => return Err(other.into()),
        }
    }
    Err(TargetError::NotFound)
}

/// The Duo username for a check of `username` against `enforced`: a step-up method's
/// `username_format` by simple substitution (the username is the alias and entity name);
/// as given for everything else (a check has no entity to render identity templates with).
pub fn check_username(enforced: &Enforced, username: &str) -> String {
    if enforced.integration.kind != IntegrationKind::StepUpMethod {
        return username.to_string();
    }
    let format = enforced.integration.config["username_format"]
        .as_str()
        .unwrap_or("");
    let identity = crate::username_format::Identity {
        alias_name: username.to_string(),
        entity_name: username.to_string(),
        ..Default::default()
    };
    crate::username_format::render_simple(format, &identity)
}

/// The tenant an ONTAP profile key names: `cluster` (the root), a tenant path, or its UUID.
pub async fn profile_tenant(state: &AppState, key: &str) -> Result<Tenant, TargetError> {
    let tenants = state.store.list_tenants().await?;
    tenants
        .into_iter()
        .find(|t| {
            t.id == key
                || (key == "cluster" && t.path.as_str().is_empty())
                || (!t.path.as_str().is_empty()
                    && t.path.as_str().trim_end_matches('/') == key.trim_end_matches('/'))
        })
        .ok_or(TargetError::NotFound)
}

/// A tenant's ONTAP profile with its Duo groups: duo_unix's rules, read through the ONTAP
/// dialect's own stored types.
pub async fn ontap_profile(state: &AppState, tenant: &Tenant) -> Result<Enforced, TargetError> {
    let profiles = state
        .store
        .list_integrations(&tenant.id, IntegrationKind::OntapProfile)
        .await?;
    let integration = profiles.into_iter().next().ok_or(TargetError::NotFound)?;
    let unreadable =
        |e: serde_json::Error| StoreError::Invalid(format!("stored ONTAP configuration: {e}"));
    let config: ProfileConfig =
        serde_json::from_value(integration.config.clone()).map_err(unreadable)?;
    let mut groups = Vec::new();
    for group in state
        .store
        .list_integrations(&tenant.id, IntegrationKind::OntapGroup)
        .await?
    {
        let stored: GroupConfig = serde_json::from_value(group.config).map_err(unreadable)?;
        groups.push(stored.rule(&group.name));
    }
    let target = config.target(
        secret(state, &integration).await?,
        state.settings.allow_plain_http_duo,
    );
    Ok(Enforced {
        policy: config.policy(groups),
        pushinfo: config.pushinfo(),
        integration,
        target,
    })
}
