//! The access log, request ids and request metrics: one `tower-http` stack around every route.
//!
//! - **Request ids** (`tower-http` `request-id`): a request's `x-request-id` is kept when it
//!   looks like an id (1 to 64 characters of `A-Z a-z 0-9 . _ -`; anything else is replaced,
//!   so a client cannot write arbitrary text into the log), otherwise a UUID is made. The id
//!   is echoed in the `x-request-id` response header on every answer, errors included.
//! - **The request span** (`tower-http` `trace`): an info span `request` with `method`,
//!   `request_id`, and, filled in as they become known, `caller` (`token:ACCESSOR` or
//!   `account:NAME`, from [`crate::access`]; never a token or password), `tenant` (the id of the
//!   tenant the request acts in, or of the caller's binding), `dialect` and `route`. Every event
//!   logged while the request runs carries these fields.
//! - **The access line**: one info event `response` per request, inside that span, with
//!   `status` and `latency_ms` (in text: `INFO request{method=GET request_id=… caller=…
//!   tenant=… dialect=vault route=identity/mfa/method/duo/{id}}: response status=200
//!   latency_ms=1.2`). `route` is the matched route *template* for the ONTAP and
//!   native dialects and the *logical* route the Vault dialect dispatched to (it says so with a
//!   [`RouteLabel`] response extension). No query string, body, header value, token or secret
//!   is ever logged; the path itself is not logged either (it can hold names).
//! - **Metrics**: the same hook counts `duogate_http_requests_total` and observes
//!   `duogate_http_request_duration_seconds` ([`crate::metrics`]).
//!
//! The span and the line have the target `duogate_server::access_log`, so
//! `RUST_LOG=info,duogate_server::access_log=warn` silences the access log alone.
//!
//! The latency is measured from the request's arrival at the route to the response head (a
//! streamed body's tail is not included).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Response};
use axum::middleware::Next;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use tracing::field::Empty;

use crate::metrics::{Dialect, Metrics};

/// The header that carries the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Which route answered, as a response extension: set by the Vault dialect (its logical
/// route), otherwise filled in from the matched route template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLabel {
    /// The dialect.
    pub dialect: Dialect,
    /// A route template or logical route, never a raw path.
    pub route: Cow<'static, str>,
}

impl RouteLabel {
    /// A Vault logical route such as `identity/mfa/method/duo/{id}`.
    pub fn vault(route: &'static str) -> Self {
        Self {
            dialect: Dialect::Vault,
            route: Cow::Borrowed(route),
        }
    }
}

/// The request's method, as a response extension (for the metrics label).
#[derive(Debug, Clone)]
struct RequestMethod(axum::http::Method);

/// Whether a client's `x-request-id` may be kept as it is.
fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Drops a client's `x-request-id` that does not look like an id (a new one is made).
async fn drop_unfit_request_id(mut request: Request) -> Request {
    let unfit = request
        .headers()
        .get_all(REQUEST_ID_HEADER)
        .iter()
        .enumerate()
        .any(|(index, value)| index > 0 || !acceptable_request_id(value));
    if unfit {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

/// Puts a [`RouteLabel`] from the matched route template on the response, unless the handler
/// (the Vault dialect) already named its route, and the request's method.
async fn label_route(request: Request, next: Next) -> axum::response::Response {
    let method = RequestMethod(request.method().clone());
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string());
    let mut response = next.run(request).await;
    if response.extensions().get::<RouteLabel>().is_none() {
        let label = match template {
            Some(template) => RouteLabel {
                dialect: Dialect::of_template(&template),
                route: Cow::Owned(template),
            },
            None => RouteLabel {
                dialect: Dialect::None,
                route: Cow::Borrowed("unmatched"),
            },
        };
        response.extensions_mut().insert(label);
    }
    response.extensions_mut().insert(method);
    response
}

/// Makes the `request` span.
#[derive(Debug, Clone, Copy)]
struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &axum::http::Request<B>) -> Span {
        let request_id = request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info_span!(
            "request",
            method = %request.method(),
            request_id,
            dialect = Empty,
            route = Empty,
            caller = Empty,
            tenant = Empty,
        )
    }
}

/// Writes the access line and counts the request.
#[derive(Debug, Clone)]
struct AccessLine {
    metrics: Arc<Metrics>,
}

impl<B> OnResponse<B> for AccessLine {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let unmatched = RouteLabel {
            dialect: Dialect::None,
            route: Cow::Borrowed("unmatched"),
        };
        let label = response
            .extensions()
            .get::<RouteLabel>()
            .unwrap_or(&unmatched);
        span.record("dialect", label.dialect.as_str());
        span.record("route", label.route.as_ref());
        let status = response.status().as_u16();
        let latency_ms = (latency.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        tracing::info!(status, latency_ms, "response");
        let method = response
            .extensions()
            .get::<RequestMethod>()
            .map_or(axum::http::Method::GET, |m| m.0.clone());
        self.metrics
            .observe_request(label.dialect, &label.route, &method, status, latency);
    }
}

/// Records the authenticated caller on the current request span (`token:ACCESSOR` or
/// `account:NAME`; never a secret) and the tenant it is bound to, if any.
pub fn record_caller(caller: &crate::access::Caller) {
    let span = Span::current();
    span.record("caller", caller.principal.as_str());
    if let Some(tenant) = &caller.tenant_id {
        span.record("tenant", tenant.as_str());
    }
}

/// Records the tenant a request acts in on the current request span.
pub fn record_tenant(tenant_id: &str) {
    Span::current().record("tenant", tenant_id);
}

/// Wraps every route of `router` in the request-id, trace and metrics stack.
pub fn instrument<S>(router: axum::Router<S>, metrics: Arc<Metrics>) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let trace = TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(AccessLine { metrics })
        .on_body_chunk(())
        .on_eos(())
        .on_failure(());
    router.layer(axum::middleware::from_fn(label_route)).layer(
        tower::ServiceBuilder::new()
            .layer(axum::middleware::map_request(drop_unfit_request_id))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(trace)
            .layer(PropagateRequestIdLayer::x_request_id()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_id_shaped_request_ids_are_kept() {
        for good in ["abc", "3f1c-22.x_Y", &"a".repeat(64)] {
            assert!(
                acceptable_request_id(&HeaderValue::from_str(good).unwrap()),
                "{good}"
            );
        }
        for bad in ["", "has space", "dg.token=1", &"a".repeat(65), "a\"b"] {
            assert!(
                !acceptable_request_id(&HeaderValue::from_str(bad).unwrap()),
                "{bad}"
            );
        }
    }
}
