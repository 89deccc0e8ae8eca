//! What every request handler shares.

use std::sync::Arc;

use duogate_store::Store;

/// Service settings that handlers need.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Whether stored Duo endpoints may be plain `http://` (loopback only; tests and `--dev`).
    pub allow_plain_http_duo: bool,
    /// How often stored ONTAP profiles re-check Duo (`/auth/v2/check`) for their `status`, and
    /// how often `GET status` probes every stored Duo endpoint in the background; `None`: ONTAP
    /// statuses only on write, and `GET status` only on an admin's `?refresh=true`.
    pub status_refresh: Option<std::time::Duration>,
    /// The bearer token `/metrics` requires; `None`: open.
    pub metrics_token: Option<secrecy::SecretString>,
    /// At most this many TCP connections are served at once (more wait); `None`: no limit.
    pub max_connections: Option<usize>,
    /// How long shutdown waits for requests in flight before cutting their connections.
    pub shutdown_timeout: std::time::Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            allow_plain_http_duo: false,
            status_refresh: None,
            metrics_token: None,
            max_connections: None,
            shutdown_timeout: crate::listener::DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// The state handed to every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Store,
    /// Settings.
    pub settings: Arc<ServiceSettings>,
    /// What `/metrics` shows.
    pub metrics: Arc<crate::metrics::Metrics>,
    cluster_id: Arc<str>,
    /// Time bounds for Duo calls and pushes.
    pub limits: crate::engine::Limits,
    /// Attempt rate limits (in the database with PostgreSQL, in memory with SQLite).
    pub limiter: Arc<crate::engine::limiter::AttemptLimiter>,
    /// Basic-auth verification: the cache of successes and the failure throttle.
    pub basic_auth: Arc<crate::basic_auth::BasicAuth>,
    /// Whose forwarding headers are believed for the client's address.
    pub proxy_trust: Arc<crate::client_address::ProxyTrust>,
    /// The last reachability probe of the stored Duo endpoints (`GET status`).
    pub reachability: Arc<crate::reachability::Reachability>,
    /// How long an HTTP/1 client may take to send a request's head ([`crate::run`]).
    pub header_read_timeout: std::time::Duration,
}

impl AppState {
    /// State over `store` with `settings` and fresh metrics (which time the store's
    /// request-path operations).
    pub fn new(store: Store, settings: ServiceSettings) -> Self {
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let observed = metrics.clone();
        let store = store.with_operation_observer(Arc::new(move |operation, took| {
            observed.observe_store_operation(operation, took);
        }));
        Self {
            settings: Arc::new(settings),
            metrics,
            cluster_id: uuid::Uuid::new_v4().to_string().into(),
            limits: crate::engine::Limits::default(),
            limiter: Arc::new(crate::engine::limiter::AttemptLimiter::for_store(
                crate::engine::limiter::RateLimits::default(),
                &store,
            )),
            basic_auth: Arc::default(),
            proxy_trust: Arc::default(),
            reachability: Arc::default(),
            header_read_timeout: crate::listener::DEFAULT_HEADER_READ_TIMEOUT,
            store,
        }
    }

    /// The same state with other engine time bounds and rate limits.
    pub fn with_engine(
        mut self,
        limits: crate::engine::Limits,
        rate_limits: crate::engine::limiter::RateLimits,
    ) -> Self {
        self.limits = limits;
        self.limiter = Arc::new(
            crate::engine::limiter::AttemptLimiter::for_store(rate_limits, &self.store)
                .with_clock(self.limiter.clock()),
        );
        self
    }

    /// The same state believing forwarding headers from these proxies.
    pub fn with_proxy_trust(mut self, trust: crate::client_address::ProxyTrust) -> Self {
        self.proxy_trust = Arc::new(trust);
        self
    }

    /// The same state giving HTTP/1 clients `timeout` to send a request's head.
    pub fn with_header_read_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The same state with attempt windows on `clock` (tests).
    pub fn with_window_clock(mut self, clock: crate::engine::limiter::WindowClock) -> Self {
        let rate_limits = self.limiter.limits();
        self.limiter = Arc::new(
            crate::engine::limiter::AttemptLimiter::for_store(rate_limits, &self.store)
                .with_clock(clock),
        );
        self
    }

    /// This process's id, as `sys/health` reports it.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }
}
