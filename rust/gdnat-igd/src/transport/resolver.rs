//! Host resolution for the HTTP client without a thread per request.
//!
//! ureq's default resolver starts a thread for every lookup when the request has a timeout,
//! even when the host is an IP address, which every router URL is in practice (a LOCATION
//! must name the host that answered SSDP). That thread cost about 0.1 ms per SOAP call, which
//! made `add_port_mapping` 1.2 times as slow as the engine's on the test bed. This resolver
//! answers IP literals at once and leaves host names to ureq's own resolver.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// IP literals resolved in place; host names by ureq's [`DefaultResolver`].
#[derive(Debug, Default)]
pub struct LiteralResolver {
    names: DefaultResolver,
}

impl Resolver for LiteralResolver {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match literal_address(uri) {
            Some(address) => {
                let mut addresses = self.empty();
                addresses.push(address);
                Ok(addresses)
            }
            None => self.names.resolve(uri, config, timeout),
        }
    }
}

/// The socket address of an `http://` URI whose host is an IPv4 or bracketed IPv6 literal. A
/// link-local IPv6 host keeps its zone (RFC 6874 `[fe80::1%25eth0]`, as
/// [`crate::proto::url::HttpUrl::authority`] writes it) as the scope id; a zone that names no
/// interface gives no address (and ureq's resolver then fails the request).
fn literal_address(uri: &Uri) -> Option<SocketAddr> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?;
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Some((address, zone)) = host.split_once('%') {
        let ip: Ipv6Addr = address.parse().ok()?;
        let zone = zone.strip_prefix("25").filter(|z| !z.is_empty()).unwrap_or(zone);
        return Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope_id(zone)?)));
    }
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// The scope id of an IPv6 zone: an interface index as written, or (on Linux) the index of the
/// interface of that name.
pub fn scope_id(zone: &str) -> Option<u32> {
    if let Ok(index) = zone.parse::<u32>() {
        return Some(index);
    }
    interface_index(zone)
}

#[cfg(target_os = "linux")]
fn interface_index(name: &str) -> Option<u32> {
    let valid = !name.is_empty() && name.len() < 16 && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !valid {
        return None;
    }
    std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex")).ok()?.trim().parse().ok()
}

#[cfg(not(target_os = "linux"))]
fn interface_index(_name: &str) -> Option<u32> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().unwrap()
    }

    #[test]
    fn ip_literals_are_resolved_in_place() {
        assert_eq!(literal_address(&uri("http://10.77.0.1:5000/ctl/IPConn")), Some("10.77.0.1:5000".parse().unwrap()));
        assert_eq!(literal_address(&uri("http://192.168.1.1/rootDesc.xml")), Some("192.168.1.1:80".parse().unwrap()));
        assert_eq!(literal_address(&uri("http://[fe80::1]:2869/desc")), Some("[fe80::1]:2869".parse().unwrap()));
        assert_eq!(literal_address(&uri("http://router.local:5000/")), None);
        assert_eq!(literal_address(&uri("https://10.0.0.1/")), None);
    }

    #[test]
    fn link_local_zones_become_scope_ids() {
        let expect = |scope| Some(SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 5000, 0, scope)));
        assert_eq!(literal_address(&uri("http://[fe80::1%252]:5000/rootDesc.xml")), expect(2));
        assert_eq!(literal_address(&uri("http://[fe80::1%2517]:5000/x")), expect(17));
        assert_eq!(literal_address(&uri("http://[fe80::1%25lo]:5000/x")), expect(1), "lo is interface 1 in every namespace");
        assert_eq!(literal_address(&uri("http://[fe80::1%25no-such-if0]:5000/x")), None);
        assert_eq!(literal_address(&uri("http://[fe80::1]:5000/x")), Some("[fe80::1]:5000".parse().unwrap()));
        assert_eq!(scope_id(".."), None);
        assert_eq!(scope_id("../../x"), None);
    }

    #[test]
    fn names_still_go_to_the_default_resolver() {
        let resolver = LiteralResolver::default();
        let config = Config::default();
        let resolved = resolver.resolve(&uri("http://localhost:5000/x"), &config, NextTimeout::default()).unwrap();
        assert!(resolved.iter().all(|a| a.port() == 5000 && a.ip().is_loopback()), "{resolved:?}");
        let literal = resolver.resolve(&uri("http://127.0.0.9:81/x"), &config, NextTimeout::default()).unwrap();
        assert_eq!(literal.iter().copied().collect::<Vec<_>>(), vec!["127.0.0.9:81".parse::<SocketAddr>().unwrap()]);
    }
}
