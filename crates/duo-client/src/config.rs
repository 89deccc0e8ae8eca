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
#[derive(Debug, Clone)]
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
    /// An explicit HTTP CONNECT proxy URL. The environment is never read.
    pub proxy: Option<String>,
    /// Timeout of each HTTP exchange (default 30 s).
    pub timeout: Duration,
    /// Attempts when Duo answers 429 (default 7, like `duo_client`).
    pub max_attempts: u32,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl ClientConfig {
    /// A configuration with the defaults: v5, pinned TLS, no proxy, 30 s timeout, 7 attempts.
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
            user_agent: format!("duogate/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}
