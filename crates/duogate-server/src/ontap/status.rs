//! A profile's `status`: whether its Duo answers `/auth/v2/check` with its keys.
//!
//! Wire choices (`docs/ontap-dialect.md` §1.2 leaves the values open):
//! - `OK` when Duo answers the check; otherwise the Duo client's error text, e.g.
//!   `Duo refused the request: 401 40103 Invalid signature in request credentials` for a wrong
//!   secret key, `cannot reach Duo: …` when nothing answers, `Duo did not answer within 10s`.
//!   The text never holds the secret key (the client's errors never do).
//! - Checked on every POST and PATCH, before the write and with the values being written, so
//!   the stored row and its status always agree; a Duo that cannot be reached never fails the
//!   write, it is recorded in `status`. One attempt with a 10 s timeout (a 429 is reported,
//!   not retried), through the profile's `http_proxy` when it has one.
//! - Re-checked in the background every `ServiceSettings::status_refresh` (first at start-up).
//!   A refresh writes only when the status changed, and only if the profile was not rewritten
//!   while it was being checked (a write checks for itself), so a refresh never undoes a PATCH.

use std::time::Duration;

use futures_util::StreamExt as _;

use duogate_store::StoreError;
use duogate_store::integrations::{Integration, IntegrationKind};

use super::profiles::ProfileConfig;
use crate::engine::{DuoTarget, Limits, Probe, probe};
use crate::state::AppState;

/// How long one check may take.
pub(crate) const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How many profiles a refresh checks at once.
const REFRESH_CONCURRENCY: usize = 4;

/// Runs `/auth/v2/check` against `target` and answers the `status` text.
pub(crate) async fn check(state: &AppState, target: &DuoTarget) -> String {
    let limits = Limits {
        call_timeout: CHECK_TIMEOUT,
        ..state.limits
    };
    probe(target, &limits, Probe::Check).await
}

/// Re-checks every stored profile's Duo now and stores the statuses that changed; answers how
/// many changed. (The background task calls this every `status_refresh`.)
pub async fn refresh_statuses(state: &AppState) -> Result<usize, StoreError> {
    let profiles = state
        .store
        .list_integrations_of_kind(IntegrationKind::OntapProfile)
        .await?;
    let changed = futures_util::stream::iter(profiles)
        .map(|profile| refresh_one(state, profile))
        .buffer_unordered(REFRESH_CONCURRENCY)
        .filter(|changed| std::future::ready(*changed))
        .count()
        .await;
    Ok(changed)
}

/// Checks one profile; true when its stored status changed.
async fn refresh_one(state: &AppState, profile: Integration) -> bool {
    let Ok(mut config) = serde_json::from_value::<ProfileConfig>(profile.config.clone()) else {
        tracing::warn!(owner = %profile.tenant_id, "stored ONTAP profile is unreadable; not checked");
        return false;
    };
    let secret = match state.store.integration_secret(&profile.id).await {
        Ok(Some(secret)) => secret,
        Ok(None) | Err(StoreError::NotFound) => return false,
        Err(e) => {
            tracing::warn!(owner = %profile.tenant_id, error = %e, "cannot open an ONTAP profile's secret key");
            return false;
        }
    };
    let status = check(
        state,
        &config.target(secret, state.settings.allow_plain_http_duo),
    )
    .await;
    if status == config.status {
        return false;
    }
    // A write while we were checking has checked for itself: keep its status.
    match state.store.integration(&profile.id).await {
        Ok(current)
            if current.config == profile.config
                && current.secret_fingerprint == profile.secret_fingerprint => {}
        _ => return false,
    }
    config.status = status;
    let Ok(value) = serde_json::to_value(&config) else {
        return false;
    };
    match state
        .store
        .update_integration(&profile.id, value, None)
        .await
    {
        Ok(_) => {
            tracing::info!(owner = %profile.tenant_id, status = %config.status, "ONTAP profile status changed");
            true
        }
        Err(e) => {
            tracing::warn!(owner = %profile.tenant_id, error = %e, "cannot store an ONTAP profile's status");
            false
        }
    }
}

/// Starts the background task that re-checks every profile's Duo for its `status`, when
/// `state.settings.status_refresh` is set (and not zero). Returns at once; outside a tokio
/// runtime it logs a warning and starts nothing.
pub fn spawn_status_refresher(state: &AppState) {
    let Some(period) = state.settings.status_refresh else {
        return;
    };
    if period.is_zero() {
        tracing::warn!("status_refresh is zero: ONTAP profile statuses are checked only on write");
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime: ONTAP profile statuses are checked only on write");
        return;
    };
    let state = state.clone();
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = refresh_statuses(&state).await {
                tracing::warn!(error = %e, "refreshing ONTAP profile statuses failed");
            }
        }
    });
}
