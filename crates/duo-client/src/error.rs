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
        // The query may carry request parameters: name the endpoint without it.
        let (full_url, bare_url) = match error.url() {
            Some(url) => {
                let mut bare = url.clone();
                bare.set_query(None);
                (url.to_string(), bare.to_string())
            }
            None => (String::new(), String::new()),
        };
        // Walk the causes: a rustls error shows up inside the io::Error of a failed connect.
        let mut message = String::new();
        let mut tls = false;
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = cause {
            tls |= wraps_rustls_error(e);
            let mut text = e.to_string();
            if !full_url.is_empty() {
                text = text.replace(&full_url, &bare_url);
            }
            if !message.contains(&text) {
                if !message.is_empty() {
                    message.push_str(": ");
                }
                message.push_str(&text);
            }
            cause = e.source();
        }
        // Fallback for wrappers that hide the rustls type behind their own error.
        tls |= ["certificate", "handshake"]
            .iter()
            .any(|word| message.contains(word));
        if tls {
            Self::Tls { message }
        } else {
            Self::Transport { message }
        }
    }
}

/// Whether `error` is a rustls error or an `io::Error` wrapping one, however deep.
/// (`io::Error::source` skips the error it wraps, so the walk goes through `get_ref`.)
fn wraps_rustls_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = error;
    loop {
        if current.is::<rustls::Error>() {
            return true;
        }
        match current
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => current = inner,
            None => return false,
        }
    }
}
