//! One Admin or Auth API request, end to end: faults, signature, integration type, rate limits,
//! parameters, the endpoint, the request log, and Duo's serialisation of the answer.
//!
//! 429s follow Duo: the Auth API sends `Retry-After` (whole seconds), the Admin API does not.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use duo_proto::Params;
use duo_proto::canon::{duo_json, form_urldecode};
use duo_proto::envelope::{DuoFail, Envelope, FailCode};
use duo_proto::paging::PagingMetadata;
use duo_proto::verify::{VerifyRequest, verify};

use crate::faults::{FaultAnswer, plan};
use crate::rate_limits::RateRequest;
use crate::shared::{LogEntry, Shared};
use crate::{admin_api, auth_api};

/// What an endpoint answers.
#[derive(Debug)]
pub enum Answer {
    /// `{"stat": "OK", "response": …}` with optional paging metadata.
    Ok(Value, Option<PagingMetadata>),
    /// A raw body (the logo).
    Raw(&'static str, Vec<u8>),
}

/// An endpoint's result.
pub type ApiResult = Result<Answer, DuoFail>;

/// A FAIL response.
pub fn fail_response(fail: &DuoFail) -> Response {
    let status = StatusCode::from_u16(fail.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, fail.to_body())
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn answer_response(answer: Answer) -> Response {
    match answer {
        Answer::Ok(response, metadata) => {
            let metadata = metadata.map(|m| serde_json::to_value(m).unwrap_or(Value::Null));
            json_response(
                StatusCode::OK,
                Envelope::ok_body(&response, metadata.as_ref()),
            )
        }
        Answer::Raw(content_type, bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, content_type)],
            bytes,
        )
            .into_response(),
    }
}

/// 429 / 42901, with `Retry-After` when `retry_after_secs` is given (the Auth API sends one,
/// the Admin API does not).
pub fn too_many_requests(retry_after_secs: Option<u64>) -> Response {
    let mut response = fail_response(&DuoFail::new(FailCode::TooManyRequests));
    if let Some(secs) = retry_after_secs {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
    }
    response
}

/// What a fault answers instead of the API. `sends_retry_after` is whether this API puts
/// `Retry-After` on its 429s (only the Auth API does).
pub fn fault_response(answer: FaultAnswer, sends_retry_after: bool) -> Response {
    match answer {
        FaultAnswer::Down => {
            // Only reached in-process: over a socket the connection is closed before routing.
            (StatusCode::SERVICE_UNAVAILABLE, "emulated outage").into_response()
        }
        FaultAnswer::Status(status) => fail_response(&DuoFail {
            code: u32::from(status) * 100 + 1,
            message: StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error")
                .to_string(),
            message_detail: Some("injected by the emulator".into()),
        }),
        FaultAnswer::RateLimit { retry_after_secs } => {
            too_many_requests(sends_retry_after.then_some(retry_after_secs))
        }
        FaultAnswer::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>502 Bad Gateway (emulated)</body></html>",
        )
            .into_response(),
        FaultAnswer::BadStat => json_response(
            StatusCode::OK,
            duo_json(&json!({"stat": "MAINTENANCE", "response": null})),
        ),
    }
}

/// The decoded parameters of a request: the query, plus a form or JSON body. A body is JSON
/// when its Content-Type says so (`duo_client` writes `Content-type: application/json`), or,
/// leniently, when it is not declared form-encoded and starts with `{`. JSON values may be
/// strings, numbers or booleans (`true` reads as `"true"`).
fn request_params(query: &Params, headers: &HeaderMap, body: &[u8]) -> Result<Params, DuoFail> {
    let mut params = query.clone();
    if body.is_empty() {
        return Ok(params);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let looks_like_json = !content_type.starts_with("application/x-www-form-urlencoded")
        && body.trim_ascii_start().starts_with(b"{");
    if content_type.starts_with("application/json") || looks_like_json {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => params.extend(&Params::from_json_object(&map)),
            _ => {
                return Err(DuoFail::with_detail(
                    FailCode::InvalidParameters,
                    "the JSON body must be an object",
                ));
            }
        }
    } else {
        let text = std::str::from_utf8(body).map_err(|_| {
            DuoFail::with_detail(FailCode::InvalidParameters, "the body is not UTF-8")
        })?;
        params.extend(&form_urldecode(text));
    }
    Ok(params)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The axum fallback: every Admin and Auth API path.
pub async fn handle(
    shared: Arc<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut entry = LogEntry {
        method: method.to_string(),
        path: path.clone(),
        sig_version: None,
        ikey: None,
        status: 200,
        outcome: "ok".into(),
    };
    let mut params = std::collections::BTreeMap::new();
    let response = run(
        &shared,
        &method,
        &uri,
        &headers,
        &body,
        &mut entry,
        &mut params,
    )
    .await;
    entry.status = response.status().as_u16();
    tracing::debug!(
        method = %entry.method,
        path = %entry.path,
        status = entry.status,
        outcome = %entry.outcome,
        "duo api request"
    );
    shared.log_with_params(entry, params);
    response
}

async fn run(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    entry: &mut LogEntry,
    logged: &mut std::collections::BTreeMap<String, String>,
) -> Response {
    let path = uri.path();
    let is_admin = path.starts_with("/admin/");
    if !is_admin && !path.starts_with("/auth/") {
        entry.outcome = "fail:40401".into();
        return fail_response(&DuoFail::new(FailCode::NotFound));
    }

    let fault_plan = {
        let mut faults = shared.faults();
        plan(&mut faults, path)
    };
    if fault_plan.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault_plan.delay_ms)).await;
    }
    if let Some(answer) = fault_plan.answer {
        entry.outcome = format!("fault:{}", answer.name());
        return fault_response(answer, !is_admin);
    }

    let query = form_urldecode(uri.query().unwrap_or(""));
    if path == "/auth/v2/ping" {
        return match *method {
            Method::GET => answer_response(auth_api::ping(shared)),
            _ => {
                entry.outcome = "fail:40501".into();
                fail_response(&DuoFail::new(FailCode::MethodNotAllowed))
            }
        };
    }

    // Signature, exactly as docs/duo-wire.md §1.9 describes (duo_proto::verify).
    let header_pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
        .collect();
    let form = is_form(headers).then(|| form_urldecode(std::str::from_utf8(body).unwrap_or("")));
    let keys = shared.keys();
    let request = VerifyRequest {
        method: method.as_str(),
        path,
        configured_host: shared.config.hostname.as_deref(),
        query: &query,
        form: form.as_ref(),
        body,
        headers: &header_pairs,
    };
    let now = (shared.config.clock)();
    let verified = verify(
        &request,
        |ikey| {
            if ikey == keys.admin_ikey {
                Some(keys.admin_skey.clone())
            } else if ikey == keys.auth_ikey {
                Some(keys.auth_skey.clone())
            } else {
                None
            }
        },
        now,
        shared.config.max_skew_secs,
    );
    let verified = match verified {
        Ok(verified) => verified,
        Err(error) => {
            let fail = error.to_fail();
            entry.outcome = format!("fail:{}", fail.code);
            tracing::debug!(path, %error, "signature refused");
            return fail_response(&fail);
        }
    };
    entry.sig_version = Some(verified.version.number());
    entry.ikey = Some(verified.ikey.clone());
    let right_integration = if is_admin {
        verified.ikey == keys.admin_ikey
    } else {
        verified.ikey == keys.auth_ikey
    };
    if !right_integration {
        let fail = DuoFail::with_detail(
            FailCode::AccessForbidden,
            "Wrong integration type for this API.",
        );
        entry.outcome = format!("fail:{}", fail.code);
        return fail_response(&fail);
    }

    // Duo's budgets (crate::rate_limits), after the signature so a forged request spends none.
    let rate_request = RateRequest {
        method: method.as_str(),
        path,
        paged: query.get("limit").is_some() || query.get("offset").is_some(),
    };
    let admitted = shared
        .rate_limiter()
        .admit(&rate_request, tokio::time::Instant::now());
    if let Err(refusal) = admitted {
        entry.outcome = "fail:42901".into();
        tracing::debug!(path, rule = %refusal.rule, "rate limited");
        return too_many_requests((!is_admin).then_some(refusal.retry_after_secs));
    }

    let result = match request_params(&query, headers, body) {
        Ok(params) => {
            let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            if is_admin {
                admin_api::dispatch(shared, method, &segments, &params)
            } else {
                *logged = auth_api::logged_params(&params);
                auth_api::dispatch(shared, method, &segments, &params).await
            }
        }
        Err(fail) => Err(fail),
    };
    match result {
        Ok(answer) => answer_response(answer),
        Err(fail) => {
            entry.outcome = format!("fail:{}", fail.code);
            fail_response(&fail)
        }
    }
}

/// Turns an axum request into a pipeline call (used as the router's fallback).
pub async fn fallback(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(shared, method, uri, headers, body).await
}
