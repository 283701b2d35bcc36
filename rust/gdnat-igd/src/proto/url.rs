//! `http://host[:port]/path` URLs as routers use them, and control-URL resolution
//! (godot-upnp-spec §7.2).

use std::net::IpAddr;

/// A parsed `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// The host: an IPv4 literal, an IPv6 literal without brackets, or a name.
    pub host: String,
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
        let (host, port) = split_authority(authority)?;
        let path = path.split('#').next().unwrap_or("/");
        let path = if path.starts_with('/') { path.to_string() } else { format!("/{path}") };
        if path.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err("the path contains spaces or control characters".into());
        }
        Ok(Self { host, port, path })
    }

    /// The host as an IP address, when it is a literal.
    pub fn host_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// `host:port` with IPv6 hosts in brackets.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
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

fn split_authority(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed [ in the host")?;
        host.parse::<std::net::Ipv6Addr>().map_err(|_| format!("bad IPv6 host {host:?}"))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after the IPv6 host")?),
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    if host.len() > 255 || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:%".contains(c)) {
        return Err(format!("bad host {host:?}"));
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("bad port {p:?}"))?,
    };
    Ok((host.to_string(), port))
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
