//! The client's one error type.

use std::time::Duration;

use duo_proto::DuoFail;

/// Everything that can go wrong with a call. Messages never contain the secret key.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The configuration is unusable (bad host, unreadable CA file, bad proxy URL…).
    #[error("configuration: {0}")]
    Config(String),
    /// Duo answered with a FAIL envelope.
    #[error("Duo refused the request: {status} {fail}")]
    Duo {
        /// HTTP status.
        status: u16,
        /// HTTP reason phrase.
        reason: String,
        /// Duo's failure.
        fail: DuoFail,
    },
    /// The connection failed (refused, reset, DNS, proxy).
    #[error("cannot reach Duo: {message}")]
    Transport {
        /// What failed.
        message: String,
    },
    /// The TLS handshake failed (untrusted certificate, wrong host name…).
    #[error("TLS error talking to Duo: {message}")]
    Tls {
        /// What failed.
        message: String,
    },
    /// No complete answer within the timeout.
    #[error("Duo did not answer within {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: Duration,
    },
    /// An answer that is not a Duo envelope.
    #[error("unexpected answer from Duo (HTTP {status}): {message}")]
    Malformed {
        /// HTTP status.
        status: u16,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// The CLI exit code: 1 when Duo refused, 2 for configuration errors, 3 for transport
    /// problems (unreachable, TLS, timeout, malformed answers).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Duo { .. } => 1,
            Self::Config(_) => 2,
            Self::Transport { .. }
            | Self::Tls { .. }
            | Self::Timeout { .. }
            | Self::Malformed { .. } => 3,
        }
    }

    /// The Duo error code, when Duo refused.
    pub fn duo_code(&self) -> Option<u32> {
        match self {
            Self::Duo { fail, .. } => Some(fail.code),
            _ => None,
        }
    }

    /// Classifies a reqwest error; `timeout` is the configured timeout.
    pub(crate) fn from_reqwest(error: &reqwest::Error, timeout: Duration) -> Self {
        if error.is_timeout() {
            return Self::Timeout { after: timeout };
        }
        // Walk the source chain: rustls errors show up as the cause of a connect error.
        let mut chain = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(error);
        let mut tls = false;
        while let Some(e) = source {
            let text = e.to_string();
            if text.contains("certificate") || text.contains("tls") || text.contains("TLS") {
                tls = true;
            }
            if !chain.contains(&text) {
                if !chain.is_empty() {
                    chain.push_str(": ");
                }
                chain.push_str(&text);
            }
            source = e.source();
        }
        // reqwest puts the URL in its message; it holds no secret (the signature is a header).
        if tls {
            Self::Tls { message: chain }
        } else {
            Self::Transport { message: chain }
        }
    }
}
