//! Duo's response envelopes and error codes.
//!
//! Success is `{"stat": "OK", "response": …}` with an optional top-level `metadata`; failure is
//! `{"stat": "FAIL", "code": 40103, "message": "…", "message_detail": "…"}` where the HTTP
//! status is the first three digits of `code`. [`FailCode`] names the codes Duo is known to use
//! (`docs/duo-wire.md` §4 "Error codes"); [`DuoFail`] is one failure, as sent or received.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};

use crate::canon::duo_json;

/// A Duo error code with its standard message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailCode {
    /// 40001 `Missing required request parameters`.
    MissingParameters,
    /// 40002 `Invalid request parameters` (the detail names the parameter).
    InvalidParameters,
    /// 40101 `Missing request credentials`.
    MissingCredentials,
    /// 40102 `Invalid integration key in request credentials`.
    InvalidIntegrationKey,
    /// 40103 `Invalid signature in request credentials`.
    InvalidSignature,
    /// 40104 `Missing request timestamp` (absent or unreadable date).
    MissingTimestamp,
    /// 40105 `Request timestamp is too far from server time` (our choice: Duo's exact code and
    /// text for a skewed date are not public; see `docs/duo-wire.md` §8).
    SkewedTimestamp,
    /// 40301 `Access forbidden`.
    AccessForbidden,
    /// 40401 `Resource not found`.
    NotFound,
    /// 40501 `Method not allowed`.
    MethodNotAllowed,
    /// 42901 `Too Many Requests`.
    TooManyRequests,
    /// 50001 `Internal server error`.
    Internal,
}

impl FailCode {
    /// The numeric code.
    pub fn code(self) -> u32 {
        match self {
            Self::MissingParameters => 40001,
            Self::InvalidParameters => 40002,
            Self::MissingCredentials => 40101,
            Self::InvalidIntegrationKey => 40102,
            Self::InvalidSignature => 40103,
            Self::MissingTimestamp => 40104,
            Self::SkewedTimestamp => 40105,
            Self::AccessForbidden => 40301,
            Self::NotFound => 40401,
            Self::MethodNotAllowed => 40501,
            Self::TooManyRequests => 42901,
            Self::Internal => 50001,
        }
    }

    /// Duo's standard message for the code.
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingParameters => "Missing required request parameters",
            Self::InvalidParameters => "Invalid request parameters",
            Self::MissingCredentials => "Missing request credentials",
            Self::InvalidIntegrationKey => "Invalid integration key in request credentials",
            Self::InvalidSignature => "Invalid signature in request credentials",
            Self::MissingTimestamp => "Missing request timestamp",
            Self::SkewedTimestamp => "Request timestamp is too far from server time",
            Self::AccessForbidden => "Access forbidden",
            Self::NotFound => "Resource not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::TooManyRequests => "Too Many Requests",
            Self::Internal => "Internal server error",
        }
    }
}

/// One Duo failure: the body of a FAIL envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuoFail {
    /// Five-digit code; the HTTP status is its first three digits.
    #[serde(deserialize_with = "code_from_number_or_string")]
    pub code: u32,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Optional detail (often names the offending parameter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_detail: Option<String>,
}

impl DuoFail {
    /// A failure with the code's standard message and no detail.
    pub fn new(code: FailCode) -> Self {
        Self {
            code: code.code(),
            message: code.message().to_string(),
            message_detail: None,
        }
    }

    /// A failure with a detail.
    pub fn with_detail(code: FailCode, detail: impl Into<String>) -> Self {
        Self {
            message_detail: Some(detail.into()),
            ..Self::new(code)
        }
    }

    /// The HTTP status this failure is sent with (the code's first three digits).
    pub fn http_status(&self) -> u16 {
        let status = self.code / 100;
        if (400..600).contains(&status) {
            status as u16
        } else {
            400
        }
    }

    /// The envelope as a JSON value (`stat`, `code`, `message`, and `message_detail` if any).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("stat".into(), json!("FAIL"));
        map.insert("code".into(), json!(self.code));
        map.insert("message".into(), json!(self.message));
        if let Some(detail) = &self.message_detail {
            map.insert("message_detail".into(), json!(detail));
        }
        Value::Object(map)
    }

    /// The envelope serialised as Duo does (sorted keys, Python default separators).
    pub fn to_body(&self) -> String {
        duo_json(&self.to_value())
    }
}

impl std::fmt::Display for DuoFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.message)?;
        if let Some(detail) = &self.message_detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

fn code_from_number_or_string<'de, D: Deserializer<'de>>(de: D) -> Result<u32, D::Error> {
    // Go's client learned that `code` can arrive as a string; accept both, and an empty string
    // as 0.
    match Value::deserialize(de)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| serde::de::Error::custom("code out of range")),
        Value::String(s) if s.trim().is_empty() => Ok(0),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("code is not a number")),
        _ => Err(serde::de::Error::custom("code must be a number")),
    }
}

/// A parsed Duo response envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Envelope {
    /// `stat: OK`.
    Ok {
        /// The `response` value.
        response: Value,
        /// Top-level `metadata`, if present (paging).
        metadata: Option<Value>,
    },
    /// `stat: FAIL`.
    Fail(DuoFail),
}

/// Why a body is not a Duo envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is not JSON.
    #[error("response is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not an object with a known `stat`.
    #[error("response is not a Duo envelope: {0}")]
    NotEnvelope(String),
}

impl Envelope {
    /// Parses a response body.
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Interprets a parsed JSON value.
    pub fn from_value(value: Value) -> Result<Self, EnvelopeError> {
        let Value::Object(mut map) = value else {
            return Err(EnvelopeError::NotEnvelope("not an object".into()));
        };
        match map.get("stat").and_then(Value::as_str) {
            Some("OK") => Ok(Self::Ok {
                response: map.remove("response").unwrap_or(Value::Null),
                metadata: map.remove("metadata").filter(|m| !m.is_null()),
            }),
            Some("FAIL") => serde_json::from_value(Value::Object(map))
                .map(Self::Fail)
                .map_err(|e| EnvelopeError::NotEnvelope(e.to_string())),
            Some(other) => Err(EnvelopeError::NotEnvelope(format!("stat is {other:?}"))),
            None => Err(EnvelopeError::NotEnvelope("no stat".into())),
        }
    }

    /// A success envelope serialised as Duo does.
    pub fn ok_body(response: &Value, metadata: Option<&Value>) -> String {
        let mut map = Map::new();
        map.insert("stat".into(), json!("OK"));
        map.insert("response".into(), response.clone());
        if let Some(metadata) = metadata {
            map.insert("metadata".into(), metadata.clone());
        }
        duo_json(&Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_body_matches_duos_serialisation() {
        assert_eq!(
            DuoFail::new(FailCode::InvalidSignature).to_body(),
            r#"{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}"#
        );
        let with_detail = DuoFail::with_detail(FailCode::InvalidParameters, "username");
        assert_eq!(with_detail.http_status(), 400);
        assert!(
            with_detail
                .to_body()
                .contains(r#""message_detail": "username""#)
        );
    }

    #[test]
    fn parses_ok_and_fail_envelopes() {
        let ok = Envelope::parse(br#"{"stat":"OK","response":[1],"metadata":{"total_objects":1}}"#)
            .unwrap();
        assert!(matches!(
            ok,
            Envelope::Ok {
                metadata: Some(_),
                ..
            }
        ));
        let fail =
            Envelope::parse(br#"{"stat":"FAIL","code":"42901","message":"Too Many Requests"}"#)
                .unwrap();
        assert_eq!(
            fail,
            Envelope::Fail(DuoFail::new(FailCode::TooManyRequests))
        );
        assert!(Envelope::parse(b"<html>").is_err());
        assert!(Envelope::parse(br#"{"stat":"MAYBE"}"#).is_err());
    }
}
