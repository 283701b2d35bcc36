//! `http://host[:port]/path` URLs as routers use them, and control-URL resolution
//! (godot-upnp-spec §7.2).

use std::net::{IpAddr, Ipv6Addr};

/// Longest zone (interface name or index) accepted after a link-local IPv6 host.
const MAX_ZONE: usize = 32;

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// The host: an IPv4 literal, an IPv6 literal without brackets and without its zone, or a
    /// name.
    pub host: String,
    /// The zone of a link-local IPv6 host (`eth0` or `2` in `[fe80::1%eth0]` or
    /// `[fe80::1%25eth0]`), when the URL names one.
    pub zone: Option<String>,
    /// The port (80 when absent).
    pub port: u16,
    /// The path with query, starting with `/` (`/` when absent).
    pub path: String,
}

impl HttpUrl {
    /// Parses `http://host[:port][/path]`. The scheme is matched case-insensitively; any other
    /// scheme, user info, an empty host or a bad port is an error (the reason as text).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let rest = strip_http(url).ok_or_else(|| "only http:// URLs are supported".to_string())?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("user info is not allowed".into());
        }
        let (host, zone, port) = split_authority(authority)?;
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the path contains white space or control characters".into());
        }
        Ok(Self { host, zone, port, path })
    }

    /// The host as an IP address, when it is a literal.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host:port` with IPv6 hosts in brackets, a zone written as RFC 6874 has it
    /// (`[fe80::1%25eth0]:5000`).
    pub fn authority(&self) -> String {
        if let Some(zone) = &self.zone {
            format!("[{}%25{zone}]:{}", self.host, self.port)
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn strip_http(url: &str) -> Option<&str> {
    let scheme = url.get(..7)?;
    scheme.eq_ignore_ascii_case("http://").then(|| &url[7..])
}

fn split_authority(authority: &str) -> Result<(String, Option<String>, u16), String> {
    let (host, zone, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        let (address, zone) = split_zone(host)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after the IPv6 host")?),
        };
        (address, zone, port)
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        // An IPv6 host needs brackets (RFC 3986); `a:b:80` is not a host and a port.
        if host.len() > 255 || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
            return Err(format!("bad host {host:?}"));
        }
        (host.to_string(), None, port)
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("bad port {p:?}"))?,
    };
    Ok((host, zone, port))
}

/// Splits a bracketed IPv6 host into its address and zone: `fe80::1%eth0` (as routers and
/// `ip` write it) or `fe80::1%25eth0` (RFC 6874). A zone is accepted on link-local addresses
/// only, as letters, digits, `-`, `_` and `.`. A `%25` is always read as RFC 6874's encoded `%`.
fn split_zone(host: &str) -> Result<(String, Option<String>), String> {
    let (address, zone) = match host.split_once('%') {
        Some((address, zone)) => {
            let zone = zone.strip_prefix("25").filter(|z| !z.is_empty()).unwrap_or(zone);
            (address, Some(zone))
        }
        None => (host, None),
    };
    let ip = address.parse::<Ipv6Addr>().map_err(|_| format!("bad IPv6 host {host:?}"))?;
    let Some(zone) = zone else { return Ok((address.to_string(), None)) };
    if zone.is_empty() || zone.len() > MAX_ZONE || !zone.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(format!("bad zone in the IPv6 host {host:?}"));
    }
    if !ip.is_unicast_link_local() {
        return Err(format!("a zone is only allowed on a link-local address, not {host:?}"));
    }
    Ok((address.to_string(), Some(zone.to_string())))
}

/// The `scheme://host[:port]` part of an absolute URL, as written.
fn origin_of(url: &str) -> Option<&str> {
    let url = url.trim();
    let start = url.find("://")? + 3;
    let end = url[start..].find(['/', '?', '#']).map(|i| start + i).unwrap_or(url.len());
    Some(&url[..end])
}

/// Resolves a control (or SCPD) URL from a description: a value starting `http://` is kept;
/// otherwise the base is `url_base` when present and non-empty, else the description URL; only
/// its `scheme://host[:port]` is kept, `/` is inserted when the value lacks it, and the value is
/// appended. The result must be a valid `http://` URL.
pub fn resolve_control_url(value: &str, url_base: Option<&str>, description_url: &str) -> Result<String, String> {
    let value = value.trim();
    let resolved = if strip_http(value).is_some() {
        value.to_string()
    } else if value.contains("://") {
        return Err(format!("control URL {value:?} is not http://"));
    } else {
        let base = url_base.map(str::trim).filter(|b| !b.is_empty()).unwrap_or(description_url);
        let origin = origin_of(base).ok_or_else(|| format!("base URL {base:?} has no scheme"))?;
        if value.starts_with('/') {
            format!("{origin}{value}")
        } else {
            format!("{origin}/{value}")
        }
    };
    HttpUrl::parse(&resolved)?;
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_ipv6_and_names() {
        let url = HttpUrl::parse("http://10.77.0.1:5000/rootDesc.xml").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("10.77.0.1", 5000, "/rootDesc.xml"));
        assert_eq!(url.host_ip(), Some("10.77.0.1".parse().unwrap()));
        let url = HttpUrl::parse("http://[fe80::1]:1900/a?b=c").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("fe80::1", 1900, "/a?b=c"));
        assert_eq!(url.authority(), "[fe80::1]:1900");
        let url = HttpUrl::parse("HTTP://router.lan").unwrap();
        assert_eq!((url.host.as_str(), url.port, url.path.as_str()), ("router.lan", 80, "/"));
        assert_eq!(url.host_ip(), None);
    }

    #[test]
    fn rejects_other_schemes_and_junk() {
        for bad in ["https://1.2.3.4/", "ftp://x/", "1.2.3.4/x", "", "http://", "http://:80/", "http://a:0/",
            "http://a:99999/", "http://a:x/", "http://[::1/", "http://[zz]/", "http://u@h/", "http://h/a b",
            "http://h h/", "file:///etc/passwd"] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    /// Found by the `url` fuzz target: a host with a colon and no brackets was taken as a name
    /// (`http://1.2.3.4:5:80/` had the host `1.2.3.4:5`), and printed back as an IPv6 literal
    /// that no longer parsed.
    #[test]
    fn a_colon_in_an_unbracketed_host_is_rejected() {
        for bad in ["http://1962.18.18.1.1:4.1.1:49152/s/path/", "http://a:b:80/", "http://fe80::1/", "http://fe80::1%eth0:5000/", "http://h%1/"] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    /// Found by the `url` fuzz target: a C1 control (U+0085, which is also Unicode white space)
    /// was allowed in a path, and lost when the printed URL was trimmed again.
    #[test]
    fn unicode_white_space_and_c1_controls_in_the_path_are_rejected() {
        for bad in ["http://[4002:db8::1]/x\u{186}\u{85}#", "http://h/a\u{85}b", "http://h/a\u{a0}b", "http://h/a\u{9b}b", "http://h/a\u{2028}b"] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(HttpUrl::parse("http://h/\u{186}").unwrap().path, "/\u{186}");
    }

    #[test]
    fn link_local_hosts_keep_their_zone() {
        for (text, zone) in [("http://[fe80::1%eth0]:5000/rootDesc.xml", "eth0"), ("http://[fe80::1%25eth0]:5000/rootDesc.xml", "eth0"),
            ("http://[fe80::1%2]:5000/rootDesc.xml", "2"), ("http://[FE80::a:b%25lan-0.1]:5000/rootDesc.xml", "lan-0.1")] {
            let url = HttpUrl::parse(text).unwrap();
            assert_eq!((url.zone.as_deref(), url.port, url.path.as_str()), (Some(zone), 5000, "/rootDesc.xml"), "{text}");
            assert_eq!(url.host_ip().map(|ip| ip.is_ipv6()), Some(true), "{text}");
            assert_eq!(url.authority(), format!("[{}%25{zone}]:5000", url.host));
            assert_eq!(HttpUrl::parse(&format!("http://{}{}", url.authority(), url.path)).unwrap(), url);
        }
        assert_eq!(HttpUrl::parse("http://[fe80::1]/").unwrap().zone, None);
        for bad in ["http://[2001:db8::1%eth0]/", "http://[fe80::1%]/", "http://[fe80::1%eth 0]/", "http://[fe80::1%e/th]/",
            "http://[::1%lo]/", "http://[10.0.0.1%eth0]/", &format!("http://[fe80::1%{}]/", "x".repeat(33))] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn resolution_keeps_the_zone_of_the_description_url() {
        assert_eq!(resolve_control_url("/ctl/IPConn", None, "http://[fe80::1%eth0]:5000/rootDesc.xml").unwrap(), "http://[fe80::1%eth0]:5000/ctl/IPConn");
    }

    #[test]
    fn resolves_relative_control_urls_against_the_description_url() {
        assert_eq!(resolve_control_url("/ctl/IPConn", None, "http://10.77.0.1:5000/rootDesc.xml").unwrap(), "http://10.77.0.1:5000/ctl/IPConn");
        assert_eq!(resolve_control_url("ctl/IPConn", None, "http://192.168.1.1:5000/rootDesc.xml").unwrap(), "http://192.168.1.1:5000/ctl/IPConn");
        assert_eq!(resolve_control_url(" ctl ", Some("  "), "http://192.168.1.1/a/b/desc.xml").unwrap(), "http://192.168.1.1/ctl");
    }

    #[test]
    fn url_base_wins_and_loses_its_path() {
        assert_eq!(resolve_control_url("ctl/IPConn", Some("http://192.168.1.1:49152/some/path/"), "http://192.168.1.1:5000/d.xml").unwrap(), "http://192.168.1.1:49152/ctl/IPConn");
        assert_eq!(resolve_control_url("/x", Some("http://[fe80::1]:80"), "http://a/").unwrap(), "http://[fe80::1]:80/x");
    }

    #[test]
    fn absolute_http_urls_are_kept_and_others_rejected() {
        assert_eq!(resolve_control_url("http://10.0.0.1:1234/ctl", Some("http://other/"), "http://a/").unwrap(), "http://10.0.0.1:1234/ctl");
        assert!(resolve_control_url("https://10.0.0.1/ctl", None, "http://a/").is_err());
        assert!(resolve_control_url("/ctl", Some("https://10.0.0.1/"), "http://a/").is_err());
        assert!(resolve_control_url("/ctl", None, "garbage").is_err());
    }
}
