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
        return Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope_id(&percent_decoded(zone)?)?)));
    }
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

/// A zone with its `%XX` escapes decoded (a Windows adapter name may hold spaces); `None` when an
/// escape is broken or the result is not UTF-8.
fn percent_decoded(zone: &str) -> Option<String> {
    let bytes = zone.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The scope id of an IPv6 zone: an interface index as written, or the index of the interface of
/// that name ([`super::interfaces::index_of_name`]: the same lookup on Linux, macOS and Windows,
/// in the calling thread's network namespace).
pub fn scope_id(zone: &str) -> Option<u32> {
    if let Ok(index) = zone.parse::<u32>() {
        return Some(index);
    }
    let valid = !zone.is_empty() && zone.len() <= 256 && !zone.chars().any(|c| c.is_control() || c == '/');
    if !valid {
        return None;
    }
    super::interfaces::index_of_name(zone)
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

    /// The name and index of the interface that holds 127.0.0.1 (`lo` on Linux, `Loopback
    /// Pseudo-Interface 1` on Windows).
    fn loopback_interface() -> (String, u32) {
        let list = if_addrs::get_if_addrs().expect("the interface list");
        let lo = list.into_iter().find(|i| i.ip() == IpAddr::from([127, 0, 0, 1])).expect("an interface with 127.0.0.1");
        (lo.name, lo.index.expect("an interface index"))
    }

    #[test]
    fn link_local_zones_become_scope_ids() {
        let expect = |scope| Some(SocketAddr::V6(SocketAddrV6::new("fe80::1".parse().unwrap(), 5000, 0, scope)));
        assert_eq!(literal_address(&uri("http://[fe80::1%252]:5000/rootDesc.xml")), expect(2));
        assert_eq!(literal_address(&uri("http://[fe80::1%2517]:5000/x")), expect(17));
        let (loopback_name, loopback_index) = loopback_interface();
        let zoned = format!("http://[fe80::1%25{}]:5000/x", loopback_name.replace(' ', "%20"));
        assert_eq!(literal_address(&uri(&zoned)), expect(loopback_index), "{loopback_name} is interface {loopback_index}");
        #[cfg(target_os = "linux")]
        assert_eq!(scope_id("lo"), Some(1), "lo is interface 1 in every Linux namespace");
        assert_eq!(literal_address(&uri("http://[fe80::1%25no-such-if0]:5000/x")), None);
        assert_eq!(literal_address(&uri("http://[fe80::1]:5000/x")), Some("[fe80::1]:5000".parse().unwrap()));
        assert_eq!(percent_decoded("Loopback%20Pseudo-Interface%201").as_deref(), Some("Loopback Pseudo-Interface 1"));
        assert_eq!(percent_decoded("bad%2"), None);
        assert_eq!(percent_decoded("bad%zz"), None);
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
