//! A URL prepared for HTTP exchanges: parsed once, with its gate key and, for an IP-literal
//! host, the address to connect to. Each thread keeps the last one it used, because a game's
//! calls go to one control URL again and again, and parsing it anew (with its gate key and
//! address) on every call was about a tenth of a call's instructions (docs/benchmarks.md).

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::proto::url::HttpUrl;

/// A parsed URL and what every exchange with it needs.
#[derive(Debug)]
pub(crate) struct Endpoint {
    /// The URL as the caller gave it (the cache key).
    text: String,
    /// The URL, parsed.
    pub(crate) url: HttpUrl,
    /// `host:port`, the key of the router's gate ([`super::gate`]).
    pub(crate) gate_key: String,
    /// The address to connect to, when the host is an IP literal without a zone (a zone names
    /// an interface, whose index is looked up on every exchange: interfaces come and go).
    pub(crate) literal: Option<SocketAddr>,
}

thread_local! {
    /// The endpoint this thread used last.
    static LAST: RefCell<Option<Rc<Endpoint>>> = const { RefCell::new(None) };
}

/// The endpoint of `url`: this thread's last one when `url` is the same text, else `url`
/// parsed (the reason as text when it is not an `http://` URL we can use).
pub(crate) fn prepare(url: &str) -> Result<Rc<Endpoint>, String> {
    let cached = LAST.try_with(|last| last.borrow().as_ref().filter(|endpoint| endpoint.text == url).cloned());
    if let Ok(Some(endpoint)) = cached {
        return Ok(endpoint);
    }
    let parsed = HttpUrl::parse(url)?;
    let literal = match parsed.zone {
        None => parsed.host_ip().map(|ip| SocketAddr::new(ip, parsed.port)),
        Some(_) => None,
    };
    let endpoint = Rc::new(Endpoint { text: url.to_string(), gate_key: parsed.authority(), literal, url: parsed });
    let _ = LAST.try_with(|last| *last.borrow_mut() = Some(Rc::clone(&endpoint)));
    Ok(endpoint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_url_is_parsed_once_per_thread() {
        let first = prepare("http://10.77.0.1:5000/ctl/IPConn").unwrap();
        let again = prepare("http://10.77.0.1:5000/ctl/IPConn").unwrap();
        assert!(Rc::ptr_eq(&first, &again));
        assert_eq!(first.gate_key, "10.77.0.1:5000");
        assert_eq!(first.literal, Some("10.77.0.1:5000".parse().unwrap()));
        assert_eq!(first.url.path, "/ctl/IPConn");
        let other = prepare("http://10.77.0.1:5000/ctl/Other").unwrap();
        assert!(!Rc::ptr_eq(&first, &other), "another URL is parsed anew");
        assert_eq!(other.url.path, "/ctl/Other");
    }

    #[test]
    fn names_and_zones_are_resolved_at_each_exchange() {
        assert_eq!(prepare("http://router.lan:5000/x").unwrap().literal, None);
        assert_eq!(prepare("http://[fe80::1%25eth0]:5000/x").unwrap().literal, None);
        assert_eq!(prepare("http://[fe80::1]:5000/x").unwrap().literal, Some("[fe80::1]:5000".parse().unwrap()));
    }

    #[test]
    fn a_bad_url_is_refused_every_time() {
        assert!(prepare("https://10.0.0.1/").is_err());
        assert!(prepare("https://10.0.0.1/").is_err());
    }
}
