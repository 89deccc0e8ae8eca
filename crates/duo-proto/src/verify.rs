//! Verifying a signed request, as Duo's service does (`docs/duo-wire.md` §1.9).
//!
//! The checks run in this order, and the first that fails decides the answer:
//!
//! 1. `Authorization: Basic base64(ikey:hexsig)` present and well-formed, else 40101.
//! 2. The ikey is known, else 40102.
//! 3. The date: `X-Duo-Date` if present, else `Date`; absent or unreadable gives 40104.
//! 4. The signature. Its length picks the candidates: 40 hex characters are HMAC-SHA1 under v2
//!    or v1; 128 are HMAC-SHA512 under v5, v4, v2 or v1. Each candidate is built from the
//!    *decoded* query (and, for v1/v2, the decoded form body) re-canonicalised, because clients
//!    put `quote_plus` text on the wire but sign `%20` text. v4/v5 hash the body bytes as received
//!    and v5 hashes every received `x-duo-*` header. Parameters are tried in the RFC 5849 order
//!    and, leniently, in the raw-key order Node and Go produce (`docs/duo-wire.md` §1.8). The
//!    host line is the configured API hostname if there is one, else the `Host` header with and
//!    without its port (`duo_client` with `port=` signs the bare host). Comparison is in constant
//!    time. No match gives 40103.
//! 5. The date is within the allowed skew of the server's clock, else 40105 (a code of our
//!    choosing: Duo's window and code for this case are not public).

use base64::Engine as _;
use jiff::Timestamp;
use subtle::ConstantTimeEq;

use crate::canon::{canon_params, canon_params_raw_order};
use crate::date::parse_date;
use crate::envelope::{DuoFail, FailCode};
use crate::params::Params;
use crate::sign::{Digest, SigVersion, SignRequest, hmac_hex};

/// A received request, decoded far enough to verify it.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The path as received (still percent-encoded), without the query.
    pub path: &'a str,
    /// The API hostname the server is configured with; when `None` the `Host` header is used.
    pub configured_host: Option<&'a str>,
    /// The decoded query string.
    pub query: &'a Params,
    /// The decoded form body, when the body is `application/x-www-form-urlencoded`.
    pub form: Option<&'a Params>,
    /// The body bytes as received.
    pub body: &'a [u8],
    /// Every request header as `(name, value)`; names in any case.
    pub headers: &'a [(&'a str, &'a str)],
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The integration key that signed.
    pub ikey: String,
    /// The signature version that matched.
    pub version: SigVersion,
    /// The HMAC digest that matched.
    pub digest: Digest,
    /// The request's date.
    pub date: Timestamp,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No usable `Authorization` header.
    #[error("missing request credentials")]
    MissingCredentials,
    /// The ikey is not one this server knows.
    #[error("unknown integration key")]
    UnknownIntegrationKey,
    /// No date header, or one that cannot be read.
    #[error("missing or unreadable request timestamp")]
    MissingTimestamp,
    /// No candidate canonical string matches the signature.
    #[error("invalid signature")]
    InvalidSignature,
    /// The date is further from the server's clock than allowed.
    #[error("request timestamp is {skew_secs} s from server time (max {max_secs} s)")]
    SkewedTimestamp {
        /// Absolute difference in seconds.
        skew_secs: i64,
        /// The allowed difference in seconds.
        max_secs: i64,
    },
}

impl VerifyError {
    /// The FAIL envelope Duo answers with.
    pub fn to_fail(&self) -> DuoFail {
        match self {
            Self::MissingCredentials => DuoFail::new(FailCode::MissingCredentials),
            Self::UnknownIntegrationKey => DuoFail::new(FailCode::InvalidIntegrationKey),
            Self::MissingTimestamp => DuoFail::new(FailCode::MissingTimestamp),
            Self::InvalidSignature => DuoFail::new(FailCode::InvalidSignature),
            Self::SkewedTimestamp { .. } => DuoFail::new(FailCode::SkewedTimestamp),
        }
    }
}

fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// Splits `Authorization: Basic base64(ikey:sig)` into ikey and lower-cased signature.
pub fn parse_authorization(value: &str) -> Option<(String, String)> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (ikey, sig) = decoded.split_once(':')?;
    if ikey.is_empty() || sig.is_empty() {
        return None;
    }
    Some((ikey.to_string(), sig.to_ascii_lowercase()))
}

/// Verifies `request`. `skey_for` returns the secret key of an ikey; `now` and `max_skew_secs`
/// bound the date.
pub fn verify<K: AsRef<[u8]>>(
    request: &VerifyRequest<'_>,
    skey_for: impl FnOnce(&str) -> Option<K>,
    now: Timestamp,
    max_skew_secs: i64,
) -> Result<Verified, VerifyError> {
    let (ikey, signature) = header(request.headers, "authorization")
        .and_then(parse_authorization)
        .ok_or(VerifyError::MissingCredentials)?;
    let skey = skey_for(&ikey).ok_or(VerifyError::UnknownIntegrationKey)?;
    let date_text = header(request.headers, "x-duo-date")
        .or_else(|| header(request.headers, "date"))
        .ok_or(VerifyError::MissingTimestamp)?;
    let date = parse_date(date_text).ok_or(VerifyError::MissingTimestamp)?;

    let (version, digest) = match_signature(request, skey.as_ref(), date_text, &signature)
        .ok_or(VerifyError::InvalidSignature)?;

    let skew_secs = (now.as_second() - date.as_second()).abs();
    if skew_secs > max_skew_secs {
        return Err(VerifyError::SkewedTimestamp {
            skew_secs,
            max_secs: max_skew_secs,
        });
    }
    Ok(Verified {
        ikey,
        version,
        digest,
        date,
    })
}

fn host_candidates(request: &VerifyRequest<'_>) -> Vec<String> {
    if let Some(host) = request.configured_host {
        return vec![host.to_ascii_lowercase()];
    }
    let Some(host) = header(request.headers, "host") else {
        return Vec::new();
    };
    let host = host.trim().to_ascii_lowercase();
    let mut hosts = vec![host.clone()];
    // Strip a port, but not the colons of a bare IPv6 literal.
    if let Some((bare, port)) = host.rsplit_once(':')
        && port.chars().all(|c| c.is_ascii_digit())
        && (!bare.contains(':') || bare.ends_with(']'))
    {
        hosts.push(bare.to_string());
    }
    hosts
}

fn match_signature(
    request: &VerifyRequest<'_>,
    skey: &[u8],
    date: &str,
    signature: &str,
) -> Option<(SigVersion, Digest)> {
    let candidates: &[(SigVersion, Digest)] = match signature.len() {
        40 => &[
            (SigVersion::V2, Digest::Sha1),
            (SigVersion::V1, Digest::Sha1),
        ],
        128 => &[
            (SigVersion::V5, Digest::Sha512),
            (SigVersion::V4, Digest::Sha512),
            (SigVersion::V2, Digest::Sha512),
            (SigVersion::V1, Digest::Sha512),
        ],
        _ => return None,
    };
    let mut form_params = request.query.clone();
    if let Some(form) = request.form {
        form_params.extend(form);
    }
    let x_duo: Vec<(&str, &str)> = request
        .headers
        .iter()
        .filter(|(name, _)| name.to_ascii_lowercase().starts_with("x-duo-"))
        .copied()
        .collect();
    let hosts = host_candidates(request);
    let mut matched = None;
    for &(version, digest) in candidates {
        let params = if version.uses_json_body() {
            request.query
        } else {
            &form_params
        };
        let param_lines = {
            let strict = canon_params(params);
            let lenient = canon_params_raw_order(params);
            if strict == lenient {
                vec![strict]
            } else {
                vec![strict, lenient]
            }
        };
        for host in &hosts {
            let sign = SignRequest {
                version,
                digest,
                method: request.method,
                host,
                path: request.path,
                date,
                params,
                body: if version.uses_json_body() {
                    request.body
                } else {
                    b""
                },
                x_duo_headers: &x_duo,
            };
            for line in &param_lines {
                let expected = hmac_hex(digest, skey, sign.canonical_with(line).as_bytes());
                // Every candidate is computed and compared, so timing does not reveal which
                // candidate (if any) matched.
                if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) && matched.is_none()
                {
                    matched = Some((version, digest));
                }
            }
        }
    }
    matched
}
