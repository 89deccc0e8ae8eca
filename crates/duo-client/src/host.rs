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

/// The port written after the host in `authority` (`host:port` or `[v6]:port`), if any.
fn written_port(authority: &str) -> Option<u16> {
    let after_host = match authority.strip_prefix('[') {
        Some(v6) => &v6[v6.find(']')? + 1..],
        None => authority,
    };
    after_host.rsplit_once(':')?.1.parse().ok()
}

impl ApiHost {
    /// Parses a hostname or URL: `host`, `host:port`, `https://host[:port]`, or
    /// `http://LOOPBACK[:port]`. A trailing `/` is tolerated; a path, query, fragment or user
    /// information is refused with a message naming it.
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
        // User information first, and without echoing the input: it may hold a password.
        if rest.contains('@') {
            return Err(ClientError::Config(
                "the API host has user information (`user@` or `user:password@`); give only \
                 the host, the Duo credentials are the integration and secret keys"
                    .into(),
            ));
        }
        if let Some(at) = rest.find(['/', '?', '#']) {
            let what = match rest.as_bytes()[at] {
                b'/' => "a path",
                b'?' => "a query",
                _ => "a fragment",
            };
            return Err(ClientError::Config(format!(
                "{input:?} has {what} ({:?}); give only the host and, optionally, the port",
                &rest[at..]
            )));
        }
        if scheme != "https" && scheme != "http" {
            return Err(ClientError::Config(format!(
                "unsupported scheme {scheme:?} in {input:?}; use https:// (or http:// for a \
                 local emulator)"
            )));
        }
        let url = url::Url::parse(&format!("{scheme}://{rest}"))
            .map_err(|e| ClientError::Config(format!("{input:?} is not a valid host: {e}")))?;
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| ClientError::Config(format!("{input:?} has no host")))?
            .to_ascii_lowercase();
        // `Url` drops a port equal to the scheme's default; `duo_client` signs `host:443` when
        // told `host:443`, so the port as written is what counts.
        let port = written_port(rest);
        if scheme == "https" {
            let signed_host = match port {
                Some(port) => format!("{host}:{port}"),
                None => host,
            };
            return Ok(Self {
                base_url: format!("https://{signed_host}"),
                signed_host,
                plain_http: false,
            });
        }
        if !is_loopback(&host) {
            return Err(ClientError::Config(format!(
                "plain http is only allowed for local endpoints (localhost, 127.0.0.0/8, ::1); \
                 {host} is not one: use https"
            )));
        }
        Ok(Self {
            base_url: format!("http://{host}:{}", port.unwrap_or(80)),
            signed_host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            plain_http: true,
        })
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
    fn a_port_is_signed_as_written_even_the_default_one() {
        assert_eq!(
            ApiHost::parse("https://h.example:443")
                .unwrap()
                .signed_host(),
            "h.example:443"
        );
        assert_eq!(
            ApiHost::parse("h.example:8443").unwrap().base_url(),
            "https://h.example:8443"
        );
        let v6 = ApiHost::parse("https://[2001:db8::1]:8443").unwrap();
        assert_eq!(v6.signed_host(), "[2001:db8::1]:8443");
        let local_v6 = ApiHost::parse("http://[::1]:9000").unwrap();
        assert_eq!(local_v6.base_url(), "http://[::1]:9000");
        assert_eq!(local_v6.signed_host(), "::1");
    }

    #[test]
    fn junk_is_refused_with_a_reason() {
        for (bad, reason) in [
            ("", "empty"),
            ("ftp://x", "unsupported scheme"),
            ("https://h/path", "a path"),
            ("h?x=1", "a query"),
            ("https://h#frag", "a fragment"),
            ("https://u:p@h", "user information"),
            ("http://", "empty host"),
            ("https://bad host", "not a valid host"),
        ] {
            match ApiHost::parse(bad) {
                Err(ClientError::Config(message)) => {
                    assert!(message.contains(reason), "{bad:?}: {message}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn user_information_is_not_echoed_back() {
        let error = ApiHost::parse("https://admin:hunter2@api-x.duosecurity.com").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
