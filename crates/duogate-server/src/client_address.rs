//! The client's address: the TCP peer, unless the peer is a trusted proxy (`trusted_proxies`
//! in the service's configuration), in which case the address the proxies forwarded.
//!
//! Only a proxy's word is taken: behind a TLS-terminating proxy every connection comes from
//! the proxy, so without this the whole organisation would share one per-source budget, and
//! Duo would see the proxy as every user's `ipaddr`. From any other peer the forwarding
//! headers are ignored (anyone can send them).
//!
//! The forwarded chain is read from one header, [`ForwardedHeader`] (`X-Forwarded-For` by
//! default, or RFC 7239 `Forwarded: for=`): the header the proxies append to. Reading both
//! would let a client put an address in the header its proxy does not touch. Every instance
//! of the header is read in order, as one list; the client is the **right-most address that
//! is not a trusted proxy** (walking from the peer outwards, each trusted hop vouches for the
//! one before it). An entry that is not an address (`unknown`, an obfuscated `_node`) stops
//! the walk at the last trusted hop, so such requests are counted against that proxy rather
//! than against a name the client chose. Entries may carry a port (`192.0.2.1:4711`,
//! `"[2001:db8::1]:4711"`); IPv4-mapped IPv6 addresses count as IPv4.
//!
//! The address is resolved once per request by [`resolve`] (a middleware): handlers read it
//! with [`current`] (a task-local value, so credential checks deep in each dialect see it
//! without every handler passing it on), and it is used for the per-source limits, the
//! `ipaddr` sent to Duo when the caller gives none, and the audit log.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// An IP network: an address and a prefix length (`10.0.0.0/8`, `2001:db8::/32`; a bare
/// address is a network of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a CIDR does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP network (like 10.0.0.0/8, 2001:db8::/32 or 192.0.2.7)")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(text.to_string());
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Self {
            network: canonical(network),
            prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl Cidr {
    /// Whether `address` is inside this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Which header carries the forwarded chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            _ => Err(format!(
                "{text:?} is not \"x-forwarded-for\" or \"forwarded\""
            )),
        }
    }
}

/// The proxies whose forwarding headers are believed, and which header they write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyTrust {
    proxies: Vec<Cidr>,
    header: ForwardedHeader,
}

impl ProxyTrust {
    /// Trust these networks' forwarding in `header`.
    pub fn new(proxies: Vec<Cidr>, header: ForwardedHeader) -> Self {
        Self { proxies, header }
    }

    /// The trusted networks.
    pub fn proxies(&self) -> &[Cidr] {
        &self.proxies
    }

    /// Whether `address` is a trusted proxy.
    pub fn trusts(&self, address: IpAddr) -> bool {
        self.proxies.iter().any(|cidr| cidr.contains(address))
    }

    /// The client's address for a request from `peer` with `headers` (see the module
    /// documentation).
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let chain = forwarded_chain(headers, self.header);
        let mut client = peer;
        for entry in chain.iter().rev() {
            let Some(address) = entry.map(canonical) else {
                return client;
            };
            client = address;
            if !self.trusts(address) {
                return address;
            }
        }
        client
    }
}

/// The forwarded addresses, left to right; `None` for an entry that is not an address.
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    let mut chain = Vec::new();
    for value in headers.get_all(name) {
        let Ok(value) = value.to_str() else {
            chain.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = match header {
                ForwardedHeader::XForwardedFor => Some(element.trim()),
                ForwardedHeader::Forwarded => element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then_some(value.trim())
                }),
            };
            match node {
                Some(node) if !node.is_empty() => chain.push(node_address(node)),
                // An element without `for=` says nothing about the chain.
                _ if header == ForwardedHeader::Forwarded => {}
                _ => chain.push(None),
            }
        }
    }
    chain
}

/// `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`, `[2001:db8::1]:80`, each maybe quoted.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Some(rest) = node.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse().ok();
    }
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address);
    }
    node.parse::<SocketAddr>().ok().map(|s| s.ip())
}

tokio::task_local! {
    static CLIENT_ADDRESS: Option<IpAddr>;
}

/// The client address of the request being served (set by [`resolve`]); `None` outside a
/// request or when the connection's peer is unknown.
pub fn current() -> Option<IpAddr> {
    CLIENT_ADDRESS.try_with(|address| *address).ok().flatten()
}

/// Middleware: resolves the client address once and serves the request with it (see
/// [`current`]).
pub async fn resolve(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| {
            state
                .proxy_trust
                .client_address(info.0.ip(), request.headers())
        });
    CLIENT_ADDRESS.scope(address, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    fn trust(header: ForwardedHeader) -> ProxyTrust {
        ProxyTrust::new(
            vec![
                "10.0.0.0/8".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
            header,
        )
    }

    #[test]
    fn cidrs_parse_and_contain_like_networks_do() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")) && !all.contains(ip("::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "::/129",
            "10.0.0.0/-1",
            "10.0.0.0/",
            "x",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_right_most_untrusted_forwarded_address_is_the_client() {
        let trust = trust(ForwardedHeader::XForwardedFor);
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &forwarded),
            ip("203.0.113.9"),
            "the spoofable left-most entry is not believed"
        );
        let split = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "203.0.113.9:4711"),
        ]);
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &split),
            ip("203.0.113.9")
        );
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &all_trusted),
            ip("10.9.9.9")
        );
        let garbage = headers(&[("x-forwarded-for", "unknown, 10.0.0.2")]);
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &garbage),
            ip("10.0.0.2"),
            "an entry that is not an address stops at the last trusted hop"
        );
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &HeaderMap::new()),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn untrusted_peers_forwarding_is_ignored() {
        let trust = trust(ForwardedHeader::XForwardedFor);
        let forwarded = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            trust.client_address(ip("192.0.2.50"), &forwarded),
            ip("192.0.2.50")
        );
        assert_eq!(
            ProxyTrust::default().client_address(ip("10.0.0.1"), &forwarded),
            ip("10.0.0.1"),
            "no trusted proxies: nobody's forwarding counts"
        );
    }

    #[test]
    fn forwarded_for_is_read_with_quotes_ports_and_brackets_and_only_when_configured() {
        let trust = trust(ForwardedHeader::Forwarded);
        let forwarded = headers(&[(
            "forwarded",
            "for=198.51.100.1;proto=https, for=\"[2001:db8:cafe::17]:4711\";by=10.0.0.1, For=\"[2001:db9::5]:80\"",
        )]);
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &forwarded),
            ip("2001:db9::5")
        );
        let xff_only = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            trust.client_address(ip("10.0.0.1"), &xff_only),
            ip("10.0.0.1"),
            "X-Forwarded-For is not the configured header"
        );
    }
}
