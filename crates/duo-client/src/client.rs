//! [`DuoClient`]: signed calls, Duo's envelopes, and paging streams.
//!
//! A call goes through these steps:
//!
//! 1. `duo_proto::sign::prepare_request` lays the parameters (a JSON object) out exactly as
//!    `duo_client` does: a `quote_plus` query for GET/DELETE (`/path?` when empty), a JSON body
//!    under v5 or a form body under v2 for POST. It signs them with the `Date` of the injected
//!    [`Clock`].
//! 2. The request goes out on the client's one `reqwest::Client`. That client carries the TLS
//!    mode, the explicit proxy (or none at all: the environment is never read), the timeout and
//!    the `User-Agent`. It follows no redirects.
//! 3. A 429 is retried on [`DuoBackoff`]'s schedule, or after the wait its `Retry-After` asks
//!    for (capped by [`ClientConfig::max_retry_after`]). [`DuoClient::call_raw`] returns whatever
//!    came last, [`DuoClient::call`] reads Duo's envelope, and [`DuoClient::pages`] and
//!    [`DuoClient::items`] follow `metadata.next_offset`.
//!
//! Tracing gets one `debug` event per attempt (method, path, status or error, attempt) and an
//! `info` event per 429 wait. Parameters and the `Authorization` header are never logged.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use secrecy::ExposeSecret as _;
use serde_json::{Map, Value};

use duo_proto::envelope::{Envelope, EnvelopeError};
use duo_proto::paging::{PagingMetadata, limits_for};
use duo_proto::sign::prepare_request;

use crate::backoff::DuoBackoff;
use crate::clock::{Clock, SystemClock};
use crate::config::{ClientConfig, TlsMode};
use crate::error::ClientError;

/// Duo's answer as it came: any status, the raw body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// HTTP status.
    pub status: u16,
    /// HTTP reason phrase.
    pub reason: String,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The `Content-Type` header, if any (`image/png` for `/auth/v2/logo`).
    pub content_type: Option<String>,
    /// How many attempts it took (more than 1 after 429s).
    pub attempts: u32,
    /// The wait a 429 asked for with `Retry-After` / `X-Retry-After`, already capped by
    /// [`ClientConfig::max_retry_after`]; `None` when it named none.
    pub retry_after: Option<Duration>,
}

/// A successful (`stat: OK`) answer.
#[derive(Debug, Clone)]
pub struct DuoResponse {
    /// The `response` value.
    pub response: Value,
    /// Offset-paging metadata, for lists: `total_objects`, `next_offset`, `prev_offset`, each
    /// read from a number or a string of digits (anything else is `None`).
    pub metadata: Option<PagingMetadata>,
    /// The top-level `metadata` object exactly as Duo sent it (cursor-paged endpoints put
    /// other shapes there, e.g. a two-element `next_offset`).
    pub raw_metadata: Option<Value>,
}

/// One page of an offset-paged list.
#[derive(Debug, Clone)]
pub struct Page {
    /// The objects of this page.
    pub items: Vec<Value>,
    /// Duo's paging block (with defaults when Duo sent none).
    pub metadata: PagingMetadata,
}

/// A Duo API client. Cheap to clone; clones share one connection pool.
#[derive(Clone)]
pub struct DuoClient {
    config: Arc<ClientConfig>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    rng_seed: Option<u64>,
}

impl std::fmt::Debug for DuoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuoClient")
            .field("api_host", &self.config.api_host)
            .field("ikey", &self.config.ikey)
            .finish_non_exhaustive()
    }
}

fn build_http(config: &ClientConfig) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .user_agent(config.user_agent.clone())
        .redirect(reqwest::redirect::Policy::none());
    builder = match &config.proxy {
        Some(url) => builder.proxy(reqwest::Proxy::all(url).map_err(|e| {
            let url = crate::config::redact_url_password(url);
            ClientError::Config(format!("the proxy {url:?} is not a valid URL: {e}"))
        })?),
        None => builder.no_proxy(),
    };
    if !config.api_host.is_plain_http() {
        builder = match &config.tls {
            TlsMode::PinnedDuo => {
                let (roots, _) = crate::tls::duo_root_store();
                builder.tls_backend_preconfigured(crate::tls::client_config(roots)?)
            }
            TlsMode::Insecure => builder.tls_danger_accept_invalid_certs(true),
            TlsMode::CustomCa(pem) => {
                let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                    ClientError::Config(format!("the CA file is not a PEM bundle: {e}"))
                })?;
                if certs.is_empty() {
                    return Err(ClientError::Config(
                        "the CA file holds no certificate".into(),
                    ));
                }
                builder.tls_certs_only(certs)
            }
            TlsMode::SystemRoots => builder,
        };
    }
    builder
        .build()
        .map_err(|e| ClientError::Config(format!("HTTP client setup: {e}")))
}

impl DuoClient {
    /// Builds a client. Fails on an unusable configuration (bad proxy URL, bad CA file).
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let http = build_http(&config)?;
        Ok(Self {
            config: Arc::new(config),
            http,
            clock: Arc::new(SystemClock),
            rng_seed: None,
        })
    }

    /// Uses `clock` for the `Date` header.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the backoff jitter (tests).
    pub fn with_rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    async fn send_once(
        &self,
        method: &str,
        path: &str,
        params: &Map<String, Value>,
    ) -> Result<RawResponse, ClientError> {
        let config = &self.config;
        let date = duo_proto::date::format_date(self.clock.now());
        let prepared = prepare_request(
            config.sig_version,
            config.digest,
            method,
            config.api_host.signed_host(),
            path,
            params,
            &date,
            &config.ikey,
            config.skey.expose_secret().as_bytes(),
        );
        let url = format!("{}{}", config.api_host.base_url(), prepared.path_and_query);
        let method = reqwest::Method::from_bytes(prepared.method.as_bytes())
            .map_err(|_| ClientError::Config(format!("invalid HTTP method {method:?}")))?;
        let mut request = self
            .http
            .request(method, &url)
            .header("Date", &prepared.date)
            .header("Authorization", &prepared.authorization);
        if let Some(content_type) = prepared.content_type {
            request = request
                .header("Content-Type", content_type)
                .body(prepared.body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::from_reqwest(&e, config.timeout))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = (status.as_u16() == 429)
            .then(|| {
                crate::backoff::retry_after(
                    header("retry-after").as_deref(),
                    header("x-retry-after").as_deref(),
                    self.clock.now(),
                    config.max_retry_after,
                )
            })
            .flatten();
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::from_reqwest(&e, config.timeout))?;
        Ok(RawResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            body: body.to_vec(),
            content_type,
            attempts: 1,
            retry_after,
        })
    }

    /// Sends a signed request, retrying 429s on Duo's schedule, and returns the answer whatever
    /// its status. `Err` only when no answer came (transport, TLS, timeout).
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        params: &Map<String, Value>,
    ) -> Result<RawResponse, ClientError> {
        let mut backoff = DuoBackoff::new(self.rng_seed);
        let mut attempts = 1;
        loop {
            // Parameters are never logged (they can hold passcodes), nor the Authorization.
            let mut raw = match self.send_once(method, path, params).await {
                Ok(raw) => raw,
                Err(error) => {
                    tracing::debug!(method, path, attempt = attempts, %error, "duo call failed");
                    return Err(error);
                }
            };
            tracing::debug!(
                method,
                path,
                status = raw.status,
                attempt = attempts,
                "duo call"
            );
            // Retry-After replaces the schedule's wait but still uses up one of its steps.
            let wait = match raw.status {
                429 if attempts < self.config.max_attempts => backoff
                    .next()
                    .map(|scheduled| raw.retry_after.unwrap_or(scheduled)),
                _ => None,
            };
            let Some(wait) = wait else {
                raw.attempts = attempts;
                return Ok(raw);
            };
            tracing::info!(
                path,
                wait_ms = wait.as_millis() as u64,
                retry_after = raw.retry_after.is_some(),
                "Duo answered 429; backing off"
            );
            tokio::time::sleep(wait).await;
            attempts += 1;
        }
    }

    /// Sends a signed request (with 429 backoff) and reads Duo's envelope: `stat: OK` gives
    /// the [`DuoResponse`]; a FAIL envelope gives [`ClientError::Duo`] with the HTTP status and
    /// reason (after 7 × 429, code 42901); a body that is not an envelope gives
    /// [`ClientError::Malformed`].
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        params: &Map<String, Value>,
    ) -> Result<DuoResponse, ClientError> {
        let raw = self.call_raw(method, path, params).await?;
        interpret(raw)
    }

    /// Offset paging over a list endpoint: one item per page. `page_size` is clamped to the
    /// endpoint's maximum (its default when `None`). Stops at the first error.
    pub fn pages<'a>(
        &'a self,
        path: &'a str,
        params: Map<String, Value>,
        page_size: Option<u32>,
    ) -> impl Stream<Item = Result<Page, ClientError>> + 'a {
        let limits = limits_for(path);
        let limit = page_size.unwrap_or(limits.max).clamp(1, limits.max);
        futures_util::stream::try_unfold(Some(0u64), move |offset| {
            let mut params = params.clone();
            async move {
                let Some(offset) = offset else {
                    return Ok(None);
                };
                params.insert("limit".into(), Value::String(limit.to_string()));
                params.insert("offset".into(), Value::String(offset.to_string()));
                let answer = self.call("GET", path, &params).await?;
                let items = match answer.response {
                    Value::Array(items) => items,
                    other => {
                        return Err(ClientError::Malformed {
                            status: 200,
                            message: format!("expected a list, got {}", kind_of(&other)),
                        });
                    }
                };
                let metadata = answer.metadata.unwrap_or_default();
                // Guard against a server that repeats an offset: that would loop forever.
                let next = metadata.next_offset.filter(|next| *next > offset);
                Ok(Some((Page { items, metadata }, next)))
            }
        })
    }

    /// Every object of a list endpoint, page after page.
    pub fn items<'a>(
        &'a self,
        path: &'a str,
        params: Map<String, Value>,
        page_size: Option<u32>,
    ) -> impl Stream<Item = Result<Value, ClientError>> + 'a {
        use futures_util::StreamExt as _;
        self.pages(path, params, page_size).flat_map(|page| {
            let items: Vec<Result<Value, ClientError>> = match page {
                Ok(page) => page.items.into_iter().map(Ok).collect(),
                Err(e) => vec![Err(e)],
            };
            futures_util::stream::iter(items)
        })
    }

    /// Typed Admin API calls.
    pub fn admin(&self) -> crate::admin::AdminApi<'_> {
        crate::admin::AdminApi::new(self)
    }

    /// Typed Auth API calls.
    pub fn auth(&self) -> crate::auth::AuthApi<'_> {
        crate::auth::AuthApi::new(self)
    }

    /// The configured timeout.
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads offset-paging metadata leniently: numbers or strings of digits; other shapes are
/// `None` (so a cursor endpoint's list-valued `next_offset` does not fail the call).
fn paging_metadata(value: &Value) -> Option<PagingMetadata> {
    let object = value.as_object()?;
    let number = |key: &str| match object.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    Some(PagingMetadata {
        total_objects: number("total_objects"),
        next_offset: number("next_offset"),
        prev_offset: number("prev_offset"),
    })
}

/// Reads a raw answer as Duo's envelope: `stat: OK` with HTTP 200 is a [`DuoResponse`], a FAIL
/// envelope is [`ClientError::Duo`] (whatever the status), anything else is
/// [`ClientError::Malformed`].
pub fn interpret(raw: RawResponse) -> Result<DuoResponse, ClientError> {
    let snippet = || {
        let text = String::from_utf8_lossy(&raw.body);
        let mut cut: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            cut.push('…');
        }
        cut
    };
    match Envelope::parse(&raw.body) {
        Ok(Envelope::Ok { response, metadata }) if raw.status == 200 => Ok(DuoResponse {
            response,
            metadata: metadata.as_ref().and_then(paging_metadata),
            raw_metadata: metadata,
        }),
        Ok(Envelope::Ok { .. }) => Err(ClientError::Malformed {
            status: raw.status,
            message: "stat OK with a non-200 status".into(),
        }),
        Ok(Envelope::Fail(fail)) => Err(ClientError::Duo {
            status: raw.status,
            reason: raw.reason.clone(),
            fail,
        }),
        Err(EnvelopeError::NotJson(_)) => Err(ClientError::Malformed {
            status: raw.status,
            message: format!("not JSON: {}", snippet()),
        }),
        Err(EnvelopeError::NotEnvelope(why)) => Err(ClientError::Malformed {
            status: raw.status,
            message: format!("not a Duo envelope ({why}): {}", snippet()),
        }),
    }
}
