//! Request signing: canonical strings for signature versions 1, 2, 4 and 5, the HMAC, and the
//! `Authorization` header.
//!
//! | version | canonical lines (joined by `\n`) | HMAC |
//! |---|---|---|
//! | 1 | METHOD, host, path, params | SHA-1 or SHA-512 |
//! | 2 | date, METHOD, host, path, params | SHA-1 or SHA-512 (SHA-512 by default) |
//! | 4 | date, METHOD, host, path, params, sha512(body) | SHA-512 |
//! | 5 | date, METHOD, host, path, params, sha512(body), sha512(x-duo headers) | SHA-512 |
//!
//! METHOD is upper-cased and host lower-cased; the path is used as given. Under v4/v5 the JSON
//! body is hashed exactly as sent. [`prepare_request`] lays a whole request out the way
//! `duo_client` 5.7 does (query with a trailing `?` when empty, `quote_plus` encoding, JSON bodies
//! for POST/PUT/PATCH under v4/v5), so a request it builds verifies against the same server code
//! that accepts the official client.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::Sha512;

use crate::canon::{canon_json, canon_params, form_urlencode, sha512_hex, x_duo_headers_hash};
use crate::params::Params;

/// A Duo signature version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigVersion {
    /// Legacy: no date line.
    V1,
    /// Date line added; form-encoded bodies. The Node client's and duo_unix's default.
    V2,
    /// Adds the body hash; JSON bodies.
    V4,
    /// Adds the X-Duo header hash; `duo_client`'s default.
    V5,
}

impl SigVersion {
    /// The version number as Duo's clients write it.
    pub fn number(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
            Self::V4 => 4,
            Self::V5 => 5,
        }
    }

    /// Parses 1, 2, 4 or 5.
    pub fn from_number(n: u8) -> Option<Self> {
        match n {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            4 => Some(Self::V4),
            5 => Some(Self::V5),
            _ => None,
        }
    }

    /// Whether bodies of POST/PUT/PATCH are JSON (v4, v5) rather than form-encoded (v1, v2).
    pub fn uses_json_body(self) -> bool {
        matches!(self, Self::V4 | Self::V5)
    }
}

/// The HMAC's hash function. v4 and v5 always use SHA-512, whatever is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Digest {
    /// HMAC-SHA1 (40 hex characters).
    Sha1,
    /// HMAC-SHA512 (128 hex characters).
    #[default]
    Sha512,
}

/// Everything a signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignRequest<'a> {
    /// Signature version.
    pub version: SigVersion,
    /// HMAC digest for v1/v2 (ignored for v4/v5).
    pub digest: Digest,
    /// HTTP method (any case).
    pub method: &'a str,
    /// The API hostname as signed (any case; a port is part of it only if the caller put it there).
    pub host: &'a str,
    /// The request path, already percent-encoded.
    pub path: &'a str,
    /// The exact `Date` / `X-Duo-Date` header string (unused by v1).
    pub date: &'a str,
    /// Signed parameters: the query, plus the form body under v1/v2.
    pub params: &'a Params,
    /// The body bytes as sent (v4/v5 only; empty for GET/DELETE).
    pub body: &'a [u8],
    /// Headers for the v5 X-Duo hash; only names starting with `x-duo-` count.
    pub x_duo_headers: &'a [(&'a str, &'a str)],
}

impl SignRequest<'_> {
    /// The canonical string that is HMAC'd.
    pub fn canonical(&self) -> String {
        self.canonical_with(&canon_params(self.params))
    }

    /// The canonical string with a given parameter line (the verifier tries more than one order).
    pub fn canonical_with(&self, params_line: &str) -> String {
        let method = self.method.to_ascii_uppercase();
        let host = self.host.to_ascii_lowercase();
        let mut lines: Vec<&str> = Vec::with_capacity(7);
        if self.version != SigVersion::V1 {
            lines.push(self.date);
        }
        lines.extend([method.as_str(), host.as_str(), self.path, params_line]);
        let body_hash;
        let headers_hash;
        if matches!(self.version, SigVersion::V4 | SigVersion::V5) {
            body_hash = sha512_hex(self.body);
            lines.push(&body_hash);
        }
        if self.version == SigVersion::V5 {
            headers_hash = x_duo_headers_hash(self.x_duo_headers.iter().copied());
            lines.push(&headers_hash);
        }
        lines.join("\n")
    }

    /// The effective digest: SHA-512 for v4/v5, the requested one otherwise.
    pub fn effective_digest(&self) -> Digest {
        match self.version {
            SigVersion::V4 | SigVersion::V5 => Digest::Sha512,
            _ => self.digest,
        }
    }

    /// The lower-case hex HMAC of the canonical string keyed by `skey`.
    pub fn hex_signature(&self, skey: &[u8]) -> String {
        hmac_hex(self.effective_digest(), skey, self.canonical().as_bytes())
    }

    /// The `Authorization` header value: `Basic base64(ikey:hexsig)`.
    pub fn authorization(&self, ikey: &str, skey: &[u8]) -> String {
        authorization_header(ikey, &self.hex_signature(skey))
    }
}

/// Lower-case hex HMAC of `message` with `key`.
pub fn hmac_hex(digest: Digest, key: &[u8], message: &[u8]) -> String {
    match digest {
        Digest::Sha1 => {
            let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts any key length");
            mac.update(message);
            hex::encode(mac.finalize().into_bytes())
        }
        Digest::Sha512 => {
            let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC accepts any key length");
            mac.update(message);
            hex::encode(mac.finalize().into_bytes())
        }
    }
}

/// `Basic base64(ikey:hex_signature)`.
pub fn authorization_header(ikey: &str, hex_signature: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{ikey}:{hex_signature}"));
    format!("Basic {token}")
}

/// A request laid out for the wire, ready for any HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// Upper-case method.
    pub method: String,
    /// Path plus query exactly as `duo_client` puts it on the request line (`/path?` when a
    /// GET has no parameters).
    pub path_and_query: String,
    /// The body bytes (empty for GET/DELETE).
    pub body: Vec<u8>,
    /// `Content-Type` for the body, when there is one.
    pub content_type: Option<&'static str>,
    /// The `Date` header value.
    pub date: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// Builds a signed request the way `duo_client` 5.7 does for `api_call(method, path, params)`.
///
/// `params` is a JSON object. Under v4/v5 POST/PUT/PATCH it is sent as [`canon_json`] and the
/// parameter line is empty; otherwise it is normalised into strings ([`Params::from_json_object`])
/// and sent as a `quote_plus` query (GET/DELETE) or form body (v1/v2 POST/PUT/PATCH).
#[allow(clippy::too_many_arguments)]
pub fn prepare_request(
    version: SigVersion,
    digest: Digest,
    method: &str,
    host: &str,
    path: &str,
    params: &serde_json::Map<String, Value>,
    date: &str,
    ikey: &str,
    skey: &[u8],
) -> PreparedRequest {
    let method = method.to_ascii_uppercase();
    let has_body = matches!(method.as_str(), "POST" | "PUT" | "PATCH");
    let (signed_params, body, content_type, path_and_query) = if has_body {
        if version.uses_json_body() {
            let body = canon_json(&Value::Object(params.clone())).into_bytes();
            (
                Params::new(),
                body,
                Some("application/json"),
                path.to_string(),
            )
        } else {
            let form = Params::from_json_object(params);
            let body = form_urlencode(&form).into_bytes();
            (
                form,
                body,
                Some("application/x-www-form-urlencoded"),
                path.to_string(),
            )
        }
    } else {
        let query = Params::from_json_object(params);
        let path_and_query = format!("{path}?{}", form_urlencode(&query));
        (query, Vec::new(), None, path_and_query)
    };
    let signed_body: &[u8] = if version.uses_json_body() { &body } else { b"" };
    let request = SignRequest {
        version,
        digest,
        method: &method,
        host,
        path,
        date,
        params: &signed_params,
        body: signed_body,
        x_duo_headers: &[],
    };
    let authorization = request.authorization(ikey, skey);
    PreparedRequest {
        method,
        path_and_query,
        body,
        content_type,
        date: date.to_string(),
        authorization,
    }
}
