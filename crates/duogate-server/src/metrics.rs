//! `/metrics`: Prometheus metrics through `prometheus-client` (an explicit registry, typed label
//! sets, no global recorder and no exporter server), served from our own router in the
//! OpenMetrics text format.
//!
//! | metric | type | labels | where it is measured |
//! |---|---|---|---|
//! | `duogate_http_requests_total` | counter | `dialect, route, method, status` | every response ([`crate::access_log`]) |
//! | `duogate_http_request_duration_seconds` | histogram | `dialect, route` | the same, from request to response head |
//! | `duogate_mfa_decisions_total` | counter | `policy, outcome, reason` | [`crate::targets::Enforced::decide_reporting`], whichever dialect asked |
//! | `duogate_duo_calls_total` | counter | `endpoint, outcome` | each Auth API call the engine makes for a decision |
//! | `duogate_duo_call_duration_seconds` | histogram | `endpoint` | the same |
//! | `duogate_limiter_refusals_total` | counter | `scope` | attempts the rate limiter refused |
//! | `duogate_store_query_duration_seconds` | histogram | `operation` | the store's request-path operations ([`duogate_store::Store::with_operation_observer`]) |
//! | `duogate_actions_total` | counter | `action, status_code` | connector actions run, by Duo's HTTP status |
//! | `duogate_build_info` | info (= 1) | `version` | |
//!
//! Labels come from closed sets: `dialect` is `vault`, `ontap`, `native`, `metrics` or `none`;
//! `route` is a route *template* (`/v1/duogate/connections/{name}`, `/api/svm/svms`) or, for the
//! Vault dialect, the logical route it dispatched to (`identity/mfa/method/duo/{id}`), never a
//! raw path; `method` is a known HTTP method or `other`; `endpoint` is a Duo path such as
//! `/auth/v2/preauth`; `policy` is `fail_closed` (Vault methods) or `duo_unix` (ONTAP
//! profiles); `outcome` and `reason` are the engine's words; `operation` names a store
//! function. No label carries a name, an id, a username or a secret.
//!
//! Duo calls are counted by outcome: `ok`, `fail` (a FAIL envelope), `rate_limited` (a final
//! 429), `timeout`, `unreachable` (connection or TLS trouble), `malformed`, `config`, `error`;
//! an `auth_status` poll cut short by the push deadline is not counted. Reachability probes
//! (ONTAP `status`) are not decisions and are not counted. The limiter's `scope` is `attempt`:
//! the limiter answers yes or no without saying whether the user's or the source's limit
//! refused.
//!
//! A store operation's time is taken around the whole store function (acquiring a pooled
//! connection, the statements, and for `verify_account` the password hash check), from the
//! handler's point of view: a coarse timer per operation, not per SQL statement.
//!
//! # Access
//!
//! Without `metrics_token` in the service's configuration `/metrics` is open (like Vault's
//! `unauthenticated_metrics_access`); put it behind the network boundary you trust. With one,
//! a request must carry it as `Authorization: Bearer TOKEN` (Prometheus's
//! `authorization.credentials`) or `X-Vault-Token`; the comparison is in constant time (of the
//! SHA-256 digests, so the length does not leak either), and anything else is 401.

use std::time::Duration;

use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use secrecy::ExposeSecret as _;

use crate::state::AppState;

/// Which API a request spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// The Vault dialect (`/v1/…`).
    Vault,
    /// The ONTAP dialect (`/api/…`).
    Ontap,
    /// The native API (`/v1/duogate/…`).
    Native,
    /// `/metrics` itself.
    Metrics,
    /// No route matched.
    None,
}

impl Dialect {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vault => "vault",
            Self::Ontap => "ontap",
            Self::Native => "native",
            Self::Metrics => "metrics",
            Self::None => "none",
        }
    }

    /// The dialect of a matched route template.
    pub fn of_template(template: &str) -> Self {
        if template == "/v1/duogate" || template.starts_with("/v1/duogate/") {
            Self::Native
        } else if template == "/api" || template.starts_with("/api/") {
            Self::Ontap
        } else if template == "/metrics" {
            Self::Metrics
        } else if template == "/v1" || template.starts_with("/v1/") {
            Self::Vault
        } else {
            Self::None
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    dialect: &'static str,
    route: String,
    method: &'static str,
    status: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    dialect: &'static str,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    policy: &'static str,
    outcome: &'static str,
    reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DuoCallLabels {
    endpoint: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    scope: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: String,
    status_code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// HTTP latencies: 1 ms to about 33 s.
fn request_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Duo calls: 5 ms to about 82 s (a push waits up to `push_timeout_secs`).
fn duo_call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Store operations: 100 µs to about 3.3 s.
fn store_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The service's metrics and their registry. Cheap to share behind an `Arc`.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_request_duration: HistogramFamily<RouteLabels>,
    mfa_decisions: Family<DecisionLabels, Counter>,
    duo_calls: Family<DuoCallLabels, Counter>,
    duo_call_duration: HistogramFamily<EndpointLabels>,
    limiter_refusals: Family<ScopeLabels, Counter>,
    store_query_duration: HistogramFamily<OperationLabels>,
    actions: Family<ActionLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "duogate_http_requests",
            "HTTP requests by dialect, route template, method and status",
            http_requests.clone(),
        );
        let http_request_duration: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(request_histogram);
        registry.register(
            "duogate_http_request_duration_seconds",
            "Time from request to response head, by dialect and route template",
            http_request_duration.clone(),
        );
        let mfa_decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "duogate_mfa_decisions",
            "Second-factor decisions by policy, outcome and reason",
            mfa_decisions.clone(),
        );
        let duo_calls = Family::<DuoCallLabels, Counter>::default();
        registry.register(
            "duogate_duo_calls",
            "Duo Auth API calls made for decisions, by endpoint and outcome",
            duo_calls.clone(),
        );
        let duo_call_duration: HistogramFamily<EndpointLabels> =
            Family::new_with_constructor(duo_call_histogram);
        registry.register(
            "duogate_duo_call_duration_seconds",
            "Duration of Duo Auth API calls made for decisions, by endpoint",
            duo_call_duration.clone(),
        );
        let limiter_refusals = Family::<ScopeLabels, Counter>::default();
        registry.register(
            "duogate_limiter_refusals",
            "Attempts refused by the attempt rate limiter",
            limiter_refusals.clone(),
        );
        let store_query_duration: HistogramFamily<OperationLabels> =
            Family::new_with_constructor(store_histogram);
        registry.register(
            "duogate_store_query_duration_seconds",
            "Duration of store operations on the request path, by operation",
            store_query_duration.clone(),
        );
        let actions = Family::<ActionLabels, Counter>::default();
        registry.register(
            "duogate_actions",
            "Connector actions run, by Duo's HTTP status",
            actions.clone(),
        );
        registry.register(
            "duogate_build",
            "The running duogate's version",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        Self {
            registry,
            http_requests,
            http_request_duration,
            mfa_decisions,
            duo_calls,
            duo_call_duration,
            limiter_refusals,
            store_query_duration,
            actions,
        }
    }
}

/// A bounded `method` label: the known verbs (and Vault's `LIST`), else `other`.
fn method_label(method: &Method) -> &'static str {
    match method.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        "LIST" => "LIST",
        _ => "other",
    }
}

impl Metrics {
    /// Counts one HTTP request and observes its latency. `route` must be a template or a
    /// logical route, never a raw path.
    pub fn observe_request(
        &self,
        dialect: Dialect,
        route: &str,
        method: &Method,
        status: u16,
        latency: Duration,
    ) {
        self.http_requests
            .get_or_create(&RequestLabels {
                dialect: dialect.as_str(),
                route: route.to_string(),
                method: method_label(method),
                status: status.to_string(),
            })
            .inc();
        self.http_request_duration
            .get_or_create(&RouteLabels {
                dialect: dialect.as_str(),
                route: route.to_string(),
            })
            .observe(latency.as_secs_f64());
    }

    /// Counts one MFA decision.
    pub fn count_decision(
        &self,
        policy: &'static str,
        outcome: &'static str,
        reason: &'static str,
    ) {
        self.mfa_decisions
            .get_or_create(&DecisionLabels {
                policy,
                outcome,
                reason,
            })
            .inc();
    }

    /// Counts one Duo call and observes its duration.
    pub fn observe_duo_call(&self, endpoint: &'static str, outcome: &'static str, took: Duration) {
        self.duo_calls
            .get_or_create(&DuoCallLabels { endpoint, outcome })
            .inc();
        self.duo_call_duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(took.as_secs_f64());
    }

    /// Counts one attempt the rate limiter refused.
    pub fn count_limiter_refusal(&self, scope: &'static str) {
        self.limiter_refusals
            .get_or_create(&ScopeLabels { scope })
            .inc();
    }

    /// Observes one store operation.
    pub fn observe_store_operation(&self, operation: &'static str, took: Duration) {
        self.store_query_duration
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// Counts one connector action by Duo's HTTP status.
    pub fn count_action(&self, action: &str, status_code: u16) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.to_string(),
                status_code: status_code.to_string(),
            })
            .inc();
    }

    /// The exposition text (OpenMetrics, ending in `# EOF`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Whether `headers` carry the configured metrics token (always, when none is configured).
fn may_read_metrics(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    use sha2::{Digest as _, Sha256};
    use subtle::ConstantTimeEq as _;
    let Some(expected) = &state.settings.metrics_token else {
        return true;
    };
    let Some(presented) = crate::access::presented_token(headers) else {
        return false;
    };
    let expected = Sha256::digest(expected.expose_secret().as_bytes());
    let presented = Sha256::digest(presented.expose_secret().as_bytes());
    expected.ct_eq(&presented).into()
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if !may_read_metrics(&state, &headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a valid metrics token is required\n",
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_prometheus_names() {
        let metrics = Metrics::default();
        let method = Method::GET;
        metrics.observe_request(
            Dialect::Native,
            "/v1/duogate/health",
            &method,
            200,
            Duration::from_millis(3),
        );
        metrics.observe_request(
            Dialect::Native,
            "/v1/duogate/health",
            &method,
            200,
            Duration::from_millis(3),
        );
        metrics.count_action("retrieve_users", 429);
        metrics.count_decision("fail_closed", "allow", "approved");
        metrics.observe_duo_call("/auth/v2/preauth", "ok", Duration::from_millis(10));
        metrics.count_limiter_refusal("user");
        metrics.observe_store_operation("token_by_secret", Duration::from_micros(300));
        let text = metrics.render();
        for expected in [
            "duogate_http_requests_total{dialect=\"native\",route=\"/v1/duogate/health\",method=\"GET\",status=\"200\"} 2\n",
            "duogate_http_request_duration_seconds_count{dialect=\"native\",route=\"/v1/duogate/health\"} 2\n",
            "duogate_actions_total{action=\"retrieve_users\",status_code=\"429\"} 1\n",
            "duogate_mfa_decisions_total{policy=\"fail_closed\",outcome=\"allow\",reason=\"approved\"} 1\n",
            "duogate_duo_calls_total{endpoint=\"/auth/v2/preauth\",outcome=\"ok\"} 1\n",
            "duogate_duo_call_duration_seconds_count{endpoint=\"/auth/v2/preauth\"} 1\n",
            "duogate_limiter_refusals_total{scope=\"user\"} 1\n",
            "duogate_store_query_duration_seconds_count{operation=\"token_by_secret\"} 1\n",
            "duogate_build_info{version=\"",
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(method_label(&Method::from_bytes(b"LIST").unwrap()), "LIST");
    }
}
