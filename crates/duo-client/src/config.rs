//! Client configuration, embeddable in a host application's own settings.

use std::time::Duration;

use secrecy::SecretString;

use duo_proto::{Digest, SigVersion};

use crate::host::ApiHost;

/// Which TLS certificates to trust.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum TlsMode {
    /// Duo's CA set only (the official clients' default).
    #[default]
    PinnedDuo,
    /// No verification at all (testing only).
    Insecure,
    /// Only the certificates in this PEM bundle.
    CustomCa(Vec<u8>),
    /// The operating system's trust store.
    SystemRoots,
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PinnedDuo => f.write_str("PinnedDuo"),
            Self::Insecure => f.write_str("Insecure"),
            Self::CustomCa(pem) => write!(f, "CustomCa({} bytes)", pem.len()),
            Self::SystemRoots => f.write_str("SystemRoots"),
        }
    }
}

/// Everything a [`crate::DuoClient`] needs.
///
/// `Debug` shows neither the secret key nor a password in the proxy URL.
#[derive(Clone)]
pub struct ClientConfig {
    /// The endpoint.
    pub api_host: ApiHost,
    /// Integration key.
    pub ikey: String,
    /// Secret key (redacted in `Debug`).
    pub skey: SecretString,
    /// Signature version (default v5, like `duo_client`).
    pub sig_version: SigVersion,
    /// HMAC digest for v2 (v5 always uses SHA-512).
    pub digest: Digest,
    /// Certificate trust.
    pub tls: TlsMode,
    /// An explicit proxy URL (`http://[user:password@]proxy:port`); https requests go through
    /// it with `CONNECT`. The environment (`HTTPS_PROXY`…) is never read.
    pub proxy: Option<String>,
    /// Timeout of each HTTP exchange, connecting included (default 30 s). The 429 backoff sleeps
    /// between attempts are not part of it.
    pub timeout: Duration,
    /// Attempts when Duo answers 429 (default 7, like `duo_client`). Duo's schedule ends after
    /// the 32 s wait, so values above 7 behave like 7; 1 turns retrying off.
    pub max_attempts: u32,
    /// The longest wait a 429's `Retry-After` can ask for (default 32 s, the longest wait of
    /// Duo's own schedule); a longer one is cut to this. See [`crate::backoff`].
    pub max_retry_after: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("api_host", &self.api_host)
            .field("ikey", &self.ikey)
            .field("skey", &"[REDACTED]")
            .field("sig_version", &self.sig_version)
            .field("digest", &self.digest)
            .field("tls", &self.tls)
            .field("proxy", &self.proxy.as_deref().map(redact_url_password))
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("max_retry_after", &self.max_retry_after)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// `url` with any password replaced by `REDACTED`, for messages and `Debug`.
pub(crate) fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Cannot fail: a URL that has a password can have it replaced.
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        Ok(parsed) if parsed.has_host() || !url.contains('@') => url.to_string(),
        // Not a URL with a host: keep only what follows the last `@`, where credentials end.
        _ => match url.rsplit_once('@') {
            Some((_, host)) => format!("REDACTED@{host}"),
            None => url.to_string(),
        },
    }
}

impl ClientConfig {
    /// A configuration with the defaults: v5, pinned TLS, no proxy, 30 s timeout, 7 attempts,
    /// `Retry-After` honoured up to 32 s.
    pub fn new(api_host: ApiHost, ikey: impl Into<String>, skey: SecretString) -> Self {
        Self {
            api_host,
            ikey: ikey.into(),
            skey,
            sig_version: SigVersion::V5,
            digest: Digest::Sha512,
            tls: TlsMode::PinnedDuo,
            proxy: None,
            timeout: Duration::from_secs(30),
            max_attempts: 7,
            max_retry_after: crate::backoff::MAX_WAIT,
            user_agent: format!("duogate/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_are_redacted() {
        assert_eq!(
            redact_url_password("http://u:hunter2@proxy:3128"),
            "http://u:REDACTED@proxy:3128/"
        );
        assert_eq!(
            redact_url_password("http://proxy:3128"),
            "http://proxy:3128"
        );
        assert_eq!(redact_url_password("u:hunter2@ proxy"), "REDACTED@ proxy");
    }
}
