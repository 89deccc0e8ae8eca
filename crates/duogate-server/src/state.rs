//! What every request handler shares.

use std::sync::Arc;

use duogate_store::Store;

/// Service settings that handlers need.
#[derive(Debug, Clone, Default)]
pub struct ServiceSettings {
    /// Whether stored Duo endpoints may be plain `http://` (loopback only; tests and `--dev`).
    pub allow_plain_http_duo: bool,
    /// How often stored ONTAP profiles re-check Duo (`/auth/v2/check`) for their `status`;
    /// `None`: only on write.
    pub status_refresh: Option<std::time::Duration>,
}

/// The state handed to every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Settings.
    pub settings: Arc<ServiceSettings>,
    /// Counters behind `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    cluster_id: Arc<str>,
    /// Time bounds for Duo calls and pushes.
    pub limits: crate::engine::Limits,
    /// Attempt rate limits.
    pub limiter: Arc<crate::engine::limiter::AttemptLimiter>,
}

impl AppState {
    /// State over `store` with `settings` and fresh counters.
    pub fn new(store: Store, settings: ServiceSettings) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
            metrics: Arc::default(),
            cluster_id: uuid::Uuid::new_v4().to_string().into(),
            limits: crate::engine::Limits::default(),
            limiter: Arc::new(crate::engine::limiter::AttemptLimiter::new(
                crate::engine::limiter::RateLimits::default(),
            )),
        }
    }

    /// The same state with other engine time bounds and rate limits.
    pub fn with_engine(
        mut self,
        limits: crate::engine::Limits,
        rate_limits: crate::engine::limiter::RateLimits,
    ) -> Self {
        self.limits = limits;
        self.limiter = Arc::new(crate::engine::limiter::AttemptLimiter::new(rate_limits));
        self
    }

    /// This process's id, as `sys/health` reports it.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }
}
