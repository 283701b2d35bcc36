//! Host resolution for the HTTP client without a thread per request.
//!
//! ureq's default resolver starts a thread for every lookup when the request has a timeout,
//! even when the host is an IP address, which every router URL is in practice (a LOCATION
//! must name the host that answered SSDP). That thread cost about 0.1 ms per SOAP call, which
//! made `add_port_mapping` 1.2 times as slow as the engine's on the test bed. This resolver
//! answers IP literals at once and leaves host names to ureq's own resolver.

use std::net::{IpAddr, SocketAddr};

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

/// The socket address of an `http://` URI whose host is an IPv4 or bracketed IPv6 literal.
fn literal_address(uri: &Uri) -> Option<SocketAddr> {
    if uri.scheme_str() != Some("http") {
        return None;
    }
    let authority = uri.authority()?;
    let host = authority.host();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    Some(SocketAddr::new(ip, authority.port_u16().unwrap_or(80)))
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
    fn names_still_go_to_the_default_resolver() {
        let resolver = LiteralResolver::default();
        let config = Config::default();
        let resolved = resolver.resolve(&uri("http://localhost:5000/x"), &config, NextTimeout::default()).unwrap();
        assert!(resolved.iter().all(|a| a.port() == 5000 && a.ip().is_loopback()), "{resolved:?}");
        let literal = resolver.resolve(&uri("http://127.0.0.9:81/x"), &config, NextTimeout::default()).unwrap();
        assert_eq!(literal.iter().copied().collect::<Vec<_>>(), vec!["127.0.0.9:81".parse::<SocketAddr>().unwrap()]);
    }
}
