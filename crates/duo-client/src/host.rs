//! The API endpoint, parsed once at the edge.
//!
//! | input | scheme | signed host |
//! |---|---|---|
//! | `api-xxxx.duosecurity.com` | https, port 443 | `api-xxxx.duosecurity.com` |
//! | `https://host:8443` | https, port 8443 | `host:8443` (the port is part of the host string, as `duo_client` signs it) |
//! | `http://127.0.0.1:8443` | plain http | `127.0.0.1` (like `duo_client` with `ca_certs='HTTP', port=`) |
//!
//! Plain http is refused for anything but loopback (`localhost`, `127.0.0.0/8`, `[::1]`):
//! a secret-bearing API must not be spoken in clear over a network.

use crate::error::ClientError;

/// A parsed Duo API endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiHost {
    base_url: String,
    signed_host: String,
    plain_http: bool,
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    bare.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

impl ApiHost {
    /// Parses a hostname or URL.
    pub fn parse(input: &str) -> Result<Self, ClientError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ClientError::Config("the API host is empty".into()));
        }
        let (scheme, rest) = match input.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("https".to_string(), input),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('#') {
            return Err(ClientError::Config(format!(
                "{input:?} has a path or query; give only the host (and port)"
            )));
        }
        if rest.contains('@') {
            return Err(ClientError::Config(format!(
                "{input:?} has user information; Duo credentials go in ikey/skey"
            )));
        }
        let url = url::Url::parse(&format!("{scheme}://{rest}"))
            .map_err(|e| ClientError::Config(format!("{input:?} is not a valid host: {e}")))?;
        let host = url
            .host_str()
            .ok_or_else(|| ClientError::Config(format!("{input:?} has no host")))?
            .to_ascii_lowercase();
        match scheme.as_str() {
            "https" => {
                let signed_host = match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.clone(),
                };
                Ok(Self {
                    base_url: format!("https://{signed_host}"),
                    signed_host,
                    plain_http: false,
                })
            }
            "http" => {
                if !is_loopback(&host) {
                    return Err(ClientError::Config(format!(
                        "plain http is only allowed for local endpoints (localhost, \
                         127.0.0.0/8, ::1), not {host}"
                    )));
                }
                let port = url.port().unwrap_or(80);
                Ok(Self {
                    base_url: format!("http://{host}:{port}"),
                    signed_host: host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_string(),
                    plain_http: true,
                })
            }
            other => Err(ClientError::Config(format!(
                "unsupported scheme {other:?} in {input:?}; use https:// (or http:// for a local emulator)"
            ))),
        }
    }

    /// `scheme://host[:port]` without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The host line of the canonical string.
    pub fn signed_host(&self) -> &str {
        &self.signed_host
    }

    /// Whether this is a plain-http (loopback) endpoint.
    pub fn is_plain_http(&self) -> bool {
        self.plain_http
    }
}

impl std::fmt::Display for ApiHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_are_https_and_signed_as_given() {
        let host = ApiHost::parse("API-xxxx.duosecurity.com").unwrap();
        assert_eq!(host.base_url(), "https://api-xxxx.duosecurity.com");
        assert_eq!(host.signed_host(), "api-xxxx.duosecurity.com");
        let with_port = ApiHost::parse("https://duo.example.com:8443/").unwrap();
        assert_eq!(with_port.signed_host(), "duo.example.com:8443");
    }

    #[test]
    fn plain_http_only_for_loopback_and_signs_the_bare_host() {
        let local = ApiHost::parse("http://127.0.0.1:9000").unwrap();
        assert!(local.is_plain_http());
        assert_eq!(local.base_url(), "http://127.0.0.1:9000");
        assert_eq!(local.signed_host(), "127.0.0.1");
        assert!(ApiHost::parse("http://localhost:1").is_ok());
        assert!(ApiHost::parse("http://[::1]:1").is_ok());
        let err = ApiHost::parse("http://api-xxxx.duosecurity.com").unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(ApiHost::parse("http://10.0.0.1:80").is_err());
    }

    #[test]
    fn junk_is_refused_with_a_reason() {
        for bad in [
            "",
            "ftp://x",
            "https://h/path",
            "https://u:p@h",
            "h?x=1",
            "http://",
        ] {
            assert!(
                matches!(ApiHost::parse(bad), Err(ClientError::Config(_))),
                "{bad:?}"
            );
        }
    }
}
