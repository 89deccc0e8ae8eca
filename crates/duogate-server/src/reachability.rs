//! Whether the stored Duo endpoints answer, for `GET /v1/duogate/status`: probed in the
//! background, read from the last result.
//!
//! - **Probes run on a schedule**, every `ServiceSettings::status_refresh` (the ONTAP
//!   profiles' refresh period; first at start-up), by [`spawn_refresher`]; never because a
//!   reader asked. `GET status` answers the last result with its `checked_at` (Unix seconds)
//!   and `age_secs`; before the first probe has finished, `reachability` is empty and
//!   `checked_at` is `null`.
//! - **A forced refresh** (`GET status?refresh=true`, admin only) probes now. Refreshes are
//!   serialised, and one that waited for another uses that one's result when it finished after
//!   the wait began: concurrent forced refreshes cost one probe round.
//! - **Bounded fan-out.** Integrations pointing at the same endpoint with the same keys (same
//!   host, integration key and secret fingerprint, and the same probe: signed `/auth/v2/check`
//!   for Auth API integrations, unsigned `/auth/v2/ping` for Admin API connections) share one
//!   probe; at most [`PROBE_CONCURRENCY`] probes run at once, each once (a 429 is reported, not
//!   retried) and within [`PROBE_TIMEOUT`]. So a round costs one call per distinct endpoint and
//!   lasts about `endpoints / 8 × 10 s` at worst, whatever the number of methods.
//! - Each instance keeps its own result (probing is read-only, so instances need not agree).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio::time::Instant;

use duogate_store::StoreError;
use duogate_store::integrations::{Integration, IntegrationKind};

use crate::engine::{DuoTarget, Limits, Probe};
use crate::state::AppState;

/// Most probes in flight at once.
pub const PROBE_CONCURRENCY: usize = 8;

/// Longest a probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// One round of probes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When the round finished, Unix seconds.
    pub checked_at: i64,
    /// When the round finished, on tokio's clock.
    pub finished: Instant,
    /// `{id, kind, tenant, name, status}` for every stored Duo endpoint.
    pub entries: Vec<Value>,
    /// How many probes the round made (distinct endpoints).
    pub probes: usize,
}

/// The last round, and the lock that serialises rounds.
#[derive(Debug, Default)]
pub struct Reachability {
    latest: RwLock<Option<Arc<Snapshot>>>,
    round: tokio::sync::Mutex<()>,
}

impl Reachability {
    /// The last finished round, if any.
    pub fn latest(&self) -> Option<Arc<Snapshot>> {
        self.latest
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Probes every stored endpoint now, unless a round that finished after this call began
    /// already did (then its result is answered).
    pub async fn refresh(&self, state: &AppState) -> Result<Arc<Snapshot>, StoreError> {
        let asked = Instant::now();
        let _round = self.round.lock().await;
        if let Some(latest) = self.latest()
            && latest.finished >= asked
        {
            return Ok(latest);
        }
        let snapshot = Arc::new(probe_all(state).await?);
        *self.latest.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
        Ok(snapshot)
    }
}

/// What makes two integrations the same probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Endpoint {
    host: String,
    ikey: String,
    fingerprint: Option<String>,
    signed: bool,
}

fn text(config: &Value, field: &str) -> String {
    config[field].as_str().unwrap_or("").to_string()
}

/// The endpoint an integration names; `None` for kinds that are not Duo endpoints.
fn endpoint_of(integration: &Integration) -> Option<Endpoint> {
    let config = &integration.config;
    let (host, ikey, signed) = match integration.kind {
        IntegrationKind::VaultMethod | IntegrationKind::StepUpMethod => (
            text(config, "api_hostname"),
            text(config, "integration_key"),
            true,
        ),
        IntegrationKind::OntapProfile => (
            text(config, "api_host"),
            text(config, "integration_key"),
            true,
        ),
        IntegrationKind::Connection => (text(config, "api_host"), String::new(), false),
        _ => return None,
    };
    Some(Endpoint {
        host,
        ikey: if signed { ikey } else { String::new() },
        fingerprint: signed
            .then(|| integration.secret_fingerprint.clone())
            .flatten(),
        signed,
    })
}

/// One probe of `endpoint`, with the secret of `integration` (one that names it).
async fn probe_endpoint(
    state: &AppState,
    endpoint: &Endpoint,
    integration: &Integration,
) -> String {
    let skey = if endpoint.signed {
        match state.store.integration_secret(&integration.id).await {
            Ok(Some(skey)) => skey,
            Ok(None) => return "cannot open the secret key: none is stored".into(),
            Err(error) => return format!("cannot open the secret key: {error}"),
        }
    } else {
        secrecy::SecretString::from(String::new())
    };
    let target = DuoTarget {
        api_host: endpoint.host.clone(),
        ikey: endpoint.ikey.clone(),
        skey,
        allow_plain_http: state.settings.allow_plain_http_duo,
        proxy: None,
    };
    let limits = Limits {
        call_timeout: state.limits.call_timeout.min(PROBE_TIMEOUT),
        ..state.limits
    };
    let probe = if endpoint.signed {
        Probe::Check
    } else {
        Probe::Ping
    };
    match tokio::time::timeout(PROBE_TIMEOUT, crate::engine::probe(&target, &limits, probe)).await {
        Ok(status) => status,
        Err(_) => format!("Duo did not answer within {}s", PROBE_TIMEOUT.as_secs()),
    }
}

/// Probes every distinct stored endpoint, [`PROBE_CONCURRENCY`] at a time.
async fn probe_all(state: &AppState) -> Result<Snapshot, StoreError> {
    let tenants = state.store.list_tenants().await?;
    let mut stored = Vec::new();
    for kind in [
        IntegrationKind::VaultMethod,
        IntegrationKind::StepUpMethod,
        IntegrationKind::OntapProfile,
        IntegrationKind::Connection,
    ] {
        stored.extend(state.store.list_integrations_of_kind(kind).await?);
    }
    let mut distinct: HashMap<Endpoint, Integration> = HashMap::new();
    for integration in &stored {
        if let Some(endpoint) = endpoint_of(integration) {
            distinct
                .entry(endpoint)
                .or_insert_with(|| integration.clone());
        }
    }
    let probes = distinct.len();
    let statuses: HashMap<Endpoint, String> = futures_util::stream::iter(distinct)
        .map(|(endpoint, integration)| {
            let state = state.clone();
            async move {
                let status = probe_endpoint(&state, &endpoint, &integration).await;
                (endpoint, status)
            }
        })
        .buffer_unordered(PROBE_CONCURRENCY)
        .collect()
        .await;
    let entries = stored
        .iter()
        .filter_map(|integration| {
            let tenant = tenants.iter().find(|t| t.id == integration.tenant_id)?;
            let status = statuses.get(&endpoint_of(integration)?)?;
            Some(json!({
                "id": integration.id,
                "kind": integration.kind.as_str(),
                "tenant": tenant.path.as_str(),
                "name": integration.name,
                "status": status,
            }))
        })
        .collect();
    Ok(Snapshot {
        checked_at: jiff::Timestamp::now().as_second(),
        finished: Instant::now(),
        entries,
        probes,
    })
}

/// Starts the background task that probes every `status_refresh` (first at once). Returns at
/// once; without a period, or outside a tokio runtime, it starts nothing (`GET
/// status?refresh=true` still probes).
pub fn spawn_refresher(state: &AppState) {
    let Some(period) = state.settings.status_refresh.filter(|p| !p.is_zero()) else {
        return;
    };
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let state = state.clone();
    runtime.spawn(async move {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = state.reachability.refresh(&state).await {
                tracing::warn!(%error, "probing the stored Duo endpoints failed");
            }
        }
    });
}
