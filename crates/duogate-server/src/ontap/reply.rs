//! Successful and error responses as ONTAP sends them: compact JSON (so an instance body
//! starts with `{`, which `netapp-ontap` checks), `Content-Type: application/hal+json`,
//! `Cache-Control: no-cache,no-store,must-revalidate` and `X-Content-Type-Options: nosniff`.
//!
//! `Accept: application/json` (without `application/hal+json`) drops every HAL `_links`
//! object except the collection's `_links.next`, as ONTAP does; anything else (`*/*`, which
//! `netapp-ontap` sends, or no `Accept`) keeps them.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Whether HAL links are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Links {
    /// `_links` everywhere (the default).
    Hal,
    /// Plain JSON: only `_links.next` of a collection is kept.
    PlainJson,
}

impl Links {
    /// What the request's `Accept` header asks for.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        let mut plain = false;
        for value in headers.get_all(header::ACCEPT) {
            let Ok(text) = value.to_str() else { continue };
            for media in text.split(',') {
                let media = media.split(';').next().unwrap_or("").trim();
                if media.eq_ignore_ascii_case("application/hal+json") {
                    return Self::Hal;
                }
                plain |= media.eq_ignore_ascii_case("application/json");
            }
        }
        if plain { Self::PlainJson } else { Self::Hal }
    }
}

/// Removes `_links` everywhere but keeps a top-level `_links.next`.
fn strip_links(body: &mut Value) {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("_links");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let next = body.pointer("/_links/next").cloned();
    strip(body);
    if let (Some(next), Value::Object(map)) = (next, body) {
        map.insert("_links".into(), json!({ "next": next }));
    }
}

/// A JSON response with ONTAP's headers.
pub(crate) fn hal(status: StatusCode, body: &Value, links: Links) -> Response {
    let mut body = body.clone();
    if links == Links::PlainJson {
        strip_links(&mut body);
    }
    let content_type = match links {
        Links::Hal => "application/hal+json",
        Links::PlainJson => "application/json",
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache,no-store,must-revalidate"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// 200 `{}` (PATCH and DELETE).
pub(crate) fn done() -> Response {
    hal(StatusCode::OK, &json!({}), Links::Hal)
}

/// 201 with `Location: <path>` and `body` (`{}`, or the records with `return_records=true`).
pub(crate) fn created(location: &str, body: &Value, links: Links) -> Response {
    let mut response = hal(StatusCode::CREATED, body, links);
    // Locations are built from percent-encoded segments, so they are always valid values.
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_keeps_only_the_next_link() {
        let mut body = json!({
            "records": [{"owner": {"uuid": "u", "_links": {"self": {"href": "/a"}}}, "_links": {"self": {"href": "/b"}}}],
            "num_records": 1,
            "_links": {"self": {"href": "/c"}, "next": {"href": "/d"}}
        });
        strip_links(&mut body);
        assert_eq!(
            body,
            json!({"records": [{"owner": {"uuid": "u"}}], "num_records": 1, "_links": {"next": {"href": "/d"}}})
        );
    }

    #[test]
    fn accept_chooses_plain_json_only_without_hal() {
        let mut headers = HeaderMap::new();
        assert_eq!(Links::from_headers(&headers), Links::Hal);
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert_eq!(Links::from_headers(&headers), Links::Hal);
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json; q=1"),
        );
        assert_eq!(Links::from_headers(&headers), Links::PlainJson);
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, application/hal+json"),
        );
        assert_eq!(Links::from_headers(&headers), Links::Hal);
    }
}
