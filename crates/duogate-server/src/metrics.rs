//! `/metrics`: Prometheus text exposition, hand-rolled (two counter families; no exporter
//! dependency).
//!
//! - `duogate_http_requests_total{route, method, status}`: every request, labelled by the
//!   *matched route template* (`/v1/duogate/connections/{name}`), never the raw path, so names
//!   and ids cannot blow up the label space or leak through it.
//! - `duogate_actions_total{action, status_code}`: connector actions run, by Duo's answer.
//!
//! Nothing secret is ever a label. `/metrics` needs no token (like Vault's
//! `unauthenticated_metrics_access`); put it behind the network boundary you trust.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Counters behind `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    actions: Mutex<BTreeMap<(String, u16), u64>>,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one HTTP request.
    pub fn count_request(&self, route: &str, method: &str, status: u16) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        *requests
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
    }

    /// Counts one connector action by Duo's HTTP status.
    pub fn count_action(&self, action: &str, status_code: u16) {
        let mut actions = self.actions.lock().unwrap_or_else(|e| e.into_inner());
        *actions
            .entry((action.to_string(), status_code))
            .or_default() += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP duogate_http_requests_total HTTP requests by matched route, method and status.\n");
        out.push_str("# TYPE duogate_http_requests_total counter\n");
        for ((route, method, status), count) in self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "duogate_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {count}",
                escape(route),
                escape(method)
            );
        }
        out.push_str("# HELP duogate_actions_total Connector actions run, by Duo's HTTP status.\n");
        out.push_str("# TYPE duogate_actions_total counter\n");
        for ((action, status), count) in self
            .actions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "duogate_actions_total{{action=\"{}\",status_code=\"{status}\"}} {count}",
                escape(action)
            );
        }
        out
    }
}

/// Middleware: counts every request by its matched route (`unmatched` when none).
pub async fn count_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    state
        .metrics
        .count_request(&route, &method, response.status().as_u16());
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_escaped_labels() {
        let metrics = Metrics::default();
        metrics.count_request("/v1/duogate/health", "GET", 200);
        metrics.count_request("/v1/duogate/health", "GET", 200);
        metrics.count_action("retrieve_users", 429);
        metrics.count_request("a\"b", "GET", 404);
        let text = metrics.render();
        assert!(text.contains("duogate_http_requests_total{route=\"/v1/duogate/health\",method=\"GET\",status=\"200\"} 2\n"));
        assert!(
            text.contains(
                "duogate_actions_total{action=\"retrieve_users\",status_code=\"429\"} 1\n"
            )
        );
        assert!(text.contains("route=\"a\\\"b\""));
    }
}
