//! Duo's pinned CA set.
//!
//! `duo_client` ships `ca_certs.pem` with 15 roots and trusts nothing else by default
//! (`docs/duo-wire.md` §3). We trust the same roots, taken by subject from the Mozilla set compiled
//! into `webpki-roots`, so nothing is downloaded or copied: a root that Mozilla does not carry
//! is simply absent. [`DUO_ROOT_NAMES`] lists the 15 common names; with `webpki-roots` 1.0.10,
//! 12 are present and [`ABSENT_FROM_MOZILLA`] lists the 3 that are not (DigiCert High Assurance
//! EV Root CA, GTS Root R2, IdenTrust Commercial Root TLS ECC CA 2). Duo's API
//! endpoints are expected to chain to a root that is present (the Amazon and Starfield roots cover
//! AWS-issued certificates), but that has not been checked against a live endpoint here. An
//! operator whose endpoint chains to one of the three can pass its PEM as a custom CA file
//! ([`crate::TlsMode::CustomCa`], `--ca-file`), which trusts exactly that file.
//!
//! The rustls configuration offers no ALPN protocol, so pinned connections speak HTTP/1.1, as
//! `duo_client` does.

use std::sync::Arc;

use rustls::RootCertStore;

use crate::error::ClientError;

/// Common names of the roots in `duo_client` 5.7.0's `ca_certs.pem` (updated 2025-03).
pub const DUO_ROOT_NAMES: [&str; 15] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
    "Starfield Root Certificate Authority - G2",
    "DigiCert High Assurance EV Root CA",
    "DigiCert TLS ECC P384 Root G5",
    "DigiCert TLS RSA4096 Root G5",
    "GlobalSign Root R46",
    "GlobalSign Root E46",
    "GTS Root R2",
    "GTS Root R4",
    "IdenTrust Commercial Root CA 1",
    "IdenTrust Commercial Root TLS ECC CA 2",
];

/// The Duo roots `webpki-roots` 1.0.10 does not carry.
pub const ABSENT_FROM_MOZILLA: [&str; 3] = [
    "DigiCert High Assurance EV Root CA",
    "GTS Root R2",
    "IdenTrust Commercial Root TLS ECC CA 2",
];

fn subject_has_common_name(subject: &[u8], name: &str) -> bool {
    // The common name is stored verbatim (PrintableString or UTF8String) in the subject's DER,
    // preceded by its one-byte length: matching length + bytes avoids "CA 1" matching "CA 10".
    let bytes = name.as_bytes();
    let Ok(len) = u8::try_from(bytes.len()) else {
        return false;
    };
    subject
        .windows(bytes.len() + 1)
        .any(|w| w[0] == len && &w[1..] == bytes)
}

/// The pinned roots: which of [`DUO_ROOT_NAMES`] were found, and the store.
pub fn duo_root_store() -> (RootCertStore, Vec<&'static str>) {
    let mut store = RootCertStore::empty();
    let mut found = Vec::new();
    for anchor in webpki_roots::TLS_SERVER_ROOTS {
        if let Some(name) = DUO_ROOT_NAMES
            .iter()
            .find(|name| subject_has_common_name(anchor.subject.as_ref(), name))
        {
            store.roots.push(anchor.clone());
            found.push(*name);
        }
    }
    (store, found)
}

/// A rustls client configuration that trusts exactly `roots`, with the aws-lc-rs provider.
pub fn client_config(roots: RootCertStore) -> Result<rustls::ClientConfig, ClientError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Config(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_store_holds_duos_roots_and_nothing_else() {
        let (store, found) = duo_root_store();
        let missing: Vec<&str> = DUO_ROOT_NAMES
            .iter()
            .copied()
            .filter(|n| !found.contains(n))
            .collect();
        assert!(
            found.len() >= 12,
            "only {} of Duo's 15 roots are in webpki-roots; missing: {missing:?}",
            found.len()
        );
        // A change here means webpki-roots changed: update ABSENT_FROM_MOZILLA and the docs.
        assert_eq!(
            missing, ABSENT_FROM_MOZILLA,
            "Duo roots missing from webpki-roots: {missing:?}"
        );
        // One anchor per name, nothing else.
        assert_eq!(store.roots.len(), found.len());
        let mut unique = found.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), found.len(), "a name matched twice: {found:?}");
    }

    #[test]
    fn common_names_match_whole_strings_only() {
        let subject = [&[16u8][..], b"Amazon Root CA 1"].concat();
        assert!(subject_has_common_name(&subject, "Amazon Root CA 1"));
        let longer = [&[17u8][..], b"Amazon Root CA 10"].concat();
        assert!(!subject_has_common_name(&longer, "Amazon Root CA 1"));
    }
}
