//! Generated certificates for development and tests: `serve --dev --dev-tls` and
//! `emulate --tls`.
//!
//! [`issue`] writes four files into a folder:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the CA certificate (`CN=duogate dev CA`): what clients are told to trust |
//! | `ca-key.pem` | the CA's private key (mode 0600) |
//! | `cert.pem` | the server certificate followed by the CA certificate |
//! | `key.pem` | the server's private key (PKCS#8, mode 0600) |
//!
//! The CA is made once and kept: when `ca.pem` and `ca-key.pem` are already there, the CA key is
//! reused, `ca.pem` is left untouched, and only the server certificate is issued again. So a dev
//! server restarted on the same data folder keeps the CA its clients already trust, while the
//! server certificate always carries the names asked for. Delete both CA files to start over.
//!
//! The server certificate's names are `localhost`, `127.0.0.1` and `::1`, plus any extra name.
//! Every IP address is written twice, as an IP address and as a DNS name: RFC 6125 clients
//! (rustls, OpenSSL through Python's `ssl`, hvac, bao) match IP addresses against IP entries,
//! but the official `duo_client` checks the host it was given against DNS entries only, so
//! `duo_client.Admin(host="127.0.0.1", port=…, ca_certs=ca.pem)` needs the DNS form. Keys are
//! ECDSA P-256; validity is rcgen's default (1975 to 4096), which is fine for a CA that only a
//! developer's clients trust.

use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// The files [`issue`] wrote.
#[derive(Debug, Clone)]
pub struct DevCertificates {
    /// The CA certificate clients trust (absolute path).
    pub ca_file: PathBuf,
    /// The server certificate chain (server, then CA).
    pub cert_file: PathBuf,
    /// The server's private key.
    pub key_file: PathBuf,
}

const CA_NAME: &str = "duogate dev CA";

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, CA_NAME);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// `host` without a `:port` suffix (`[::1]:8443` → `::1`, `api.example:443` → `api.example`).
fn without_port(name: &str) -> &str {
    if name.parse::<std::net::SocketAddr>().is_ok() {
        // `IP:port` or `[IPv6]:port`: the address is before the last colon.
        let end = name.rfind(':').unwrap_or(name.len());
        return name[..end].trim_start_matches('[').trim_end_matches(']');
    }
    match name.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => host,
        _ => name,
    }
}

fn subject_alt_names(extra_names: &[String]) -> anyhow::Result<Vec<SanType>> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for name in extra_names {
        let name = without_port(name.trim()).to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    let mut sans = Vec::new();
    for name in names {
        let dns = SanType::DnsName(
            name.clone()
                .try_into()
                .with_context(|| format!("{name:?} cannot be a certificate name"))?,
        );
        if let Ok(ip) = name.parse::<IpAddr>() {
            sans.push(SanType::IpAddress(ip));
        }
        sans.push(dns);
    }
    Ok(sans)
}

/// Writes `contents` to `path` readable by its owner only, replacing any older file.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("replacing {}", path.display())),
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .with_context(|| format!("writing {}", path.display()))
}

/// The CA's key and its certificate PEM: the kept ones, or new ones written to `dir`.
fn certificate_authority(dir: &Path) -> anyhow::Result<(KeyPair, String)> {
    let ca_file = dir.join("ca.pem");
    let ca_key_file = dir.join("ca-key.pem");
    if ca_file.exists() && ca_key_file.exists() {
        let start_over = "delete ca.pem and ca-key.pem to make a new CA";
        let key_pem = zeroize::Zeroizing::new(
            std::fs::read_to_string(&ca_key_file)
                .with_context(|| format!("reading {}", ca_key_file.display()))?,
        );
        // rcgen's error is not repeated: a base64 complaint could quote a byte of the key.
        let key = KeyPair::from_pem(&key_pem).map_err(|_| {
            anyhow::anyhow!(
                "{} is not a usable PEM private key; {start_over}",
                ca_key_file.display()
            )
        })?;
        let ca_pem = std::fs::read_to_string(&ca_file)
            .with_context(|| format!("reading {}", ca_file.display()))?;
        return Ok((key, ca_pem));
    }
    let key = KeyPair::generate().context("generating the dev CA key")?;
    let ca_pem = ca_params()
        .self_signed(&key)
        .context("signing the dev CA certificate")?
        .pem();
    write_private(&ca_key_file, &key.serialize_pem())?;
    std::fs::write(&ca_file, &ca_pem).with_context(|| format!("writing {}", ca_file.display()))?;
    Ok((key, ca_pem))
}

/// Makes (or keeps) the dev CA in `dir` and issues a server certificate for `localhost`,
/// `127.0.0.1`, `::1` and `extra_names`, signed by it. Creates `dir` if needed.
pub fn issue(dir: &Path, extra_names: &[String]) -> anyhow::Result<DevCertificates> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let (ca_key, ca_pem) = certificate_authority(&dir)?;
    // The issuer is rebuilt from the same name and key, so what it signs chains to `ca.pem`
    // (the same subject, and the same key identifier: both derive from the public key).
    let issuer = Issuer::new(ca_params(), ca_key);

    let mut params = CertificateParams::default();
    params.subject_alt_names = subject_alt_names(extra_names)?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().context("generating the dev server key")?;
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the dev server certificate")?;

    let files = DevCertificates {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
    };
    write_private(&files.key_file, &key.serialize_pem())?;
    std::fs::write(&files.cert_file, format!("{}{ca_pem}", cert.pem()))
        .with_context(|| format!("writing {}", files.cert_file.display()))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::client::danger::ServerCertVerifier as _;
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    use super::*;

    fn verify(files: &DevCertificates, name: &str) -> Result<(), rustls::Error> {
        let mut roots = rustls::RootCertStore::empty();
        for ca in CertificateDer::pem_file_iter(&files.ca_file).unwrap() {
            roots.add(ca.unwrap()).unwrap();
        }
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        )
        .build()
        .unwrap();
        let chain: Vec<_> = CertificateDer::pem_file_iter(&files.cert_file)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        verifier
            .verify_server_cert(
                &chain[0],
                &chain[1..],
                &ServerName::try_from(name.to_string()).unwrap(),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    #[test]
    fn the_server_certificate_chains_to_the_ca_for_every_loopback_name_and_extra_names() {
        let dir = tempfile::tempdir().unwrap();
        let files = issue(dir.path(), &["api-test.example:8443".into()]).unwrap();
        assert!(files.ca_file.is_absolute());
        for name in ["localhost", "127.0.0.1", "::1", "api-test.example"] {
            verify(&files, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        assert!(verify(&files, "elsewhere.example").is_err());
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            CertificateDer::pem_file_iter(&files.cert_file)
                .unwrap()
                .map(Result::unwrap)
                .collect(),
            rustls::pki_types::PrivateKeyDer::from_pem_file(&files.key_file).unwrap(),
        )
        .expect("the key matches the certificate");
        #[cfg(unix)]
        for private in ["key.pem", "ca-key.pem"] {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(private))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{private}");
        }
    }

    #[test]
    fn a_second_issue_keeps_the_ca_and_its_new_certificate_still_chains_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = issue(dir.path(), &[]).unwrap();
        let ca = std::fs::read(&first.ca_file).unwrap();
        let cert = std::fs::read(&first.cert_file).unwrap();
        let second = issue(dir.path(), &["other.example".into()]).unwrap();
        assert_eq!(std::fs::read(&second.ca_file).unwrap(), ca);
        assert_ne!(std::fs::read(&second.cert_file).unwrap(), cert);
        verify(&second, "other.example").unwrap();
        verify(&second, "localhost").unwrap();
    }

    #[test]
    fn ports_are_not_part_of_certificate_names() {
        assert_eq!(without_port("api.example:443"), "api.example");
        assert_eq!(without_port("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(without_port("[::1]:8443"), "::1");
        assert_eq!(without_port("::1"), "::1");
        assert_eq!(without_port("api.example"), "api.example");
    }
}
