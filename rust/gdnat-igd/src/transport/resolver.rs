//! Host resolution for the HTTP client: IP literals in place, host names on a counted helper
//! thread that the request waits for until its connect deadline or its cancel.
//!
//! Every router URL names an IP address in practice (a LOCATION must name the host that
//! answered SSDP), so the common path starts no thread and makes no system call. A link-local
//! IPv6 host keeps its zone as the scope id.

use std::net::{IpAddr, SocketAddr, SocketAddrV6, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Instant;

use gdnat_io::{WaitError, Waiter, WakeOutcome};

use crate::helper_threads;
use crate::proto::url::HttpUrl;

/// Why a host gave no address.
#[derive(Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// The lookup failed or found nothing (the reason as text).
    NotFound(String),
    /// The deadline passed before the lookup ended.
    TimedOut,
    /// The waiter's token was cancelled.
    Cancelled,
}

/// The addresses of `url`'s host and port: an IP literal at once; a name through the system's
/// resolver on a helper thread, waited for with `waiter` until `deadline`.
pub fn resolve(url: &HttpUrl, deadline: Instant, waiter: &Waiter) -> Result<Vec<SocketAddr>, ResolveError> {
    if let Some(ip) = url.host_ip() {
        return literal_address(ip, url.zone.as_deref(), url.port).map(|address| vec![address]);
    }
    waiter.check().map_err(|_| ResolveError::Cancelled)?;
    let (sender, receiver) = mpsc::sync_channel(1);
    let wake = waiter.waker();
    let target = (url.host.clone(), url.port);
    helper_threads::spawn("gdnat-resolve", move || {
        let found = target.to_socket_addrs().map(Iterator::collect::<Vec<_>>).map_err(|e| e.to_string());
        let _ = sender.send(found);
        wake.wake();
    })
    .map_err(|e| ResolveError::NotFound(format!("no thread for the lookup: {e}")))?;
    loop {
        if let Ok(found) = receiver.try_recv() {
            return match found {
                Ok(addresses) if !addresses.is_empty() => Ok(addresses),
                Ok(_) => Err(ResolveError::NotFound(format!("{} has no address", url.host))),
                Err(reason) => Err(ResolveError::NotFound(reason)),
            };
        }
        match waiter.sleep_until(deadline) {
            Ok(WakeOutcome::TimedOut) => return Err(ResolveError::TimedOut),
            Ok(_) => {}
            Err(WaitError::Cancelled) => return Err(ResolveError::Cancelled),
            Err(WaitError::Io(e)) => return Err(ResolveError::NotFound(format!("waiting for the lookup failed: {e}"))),
        }
    }
}

/// The socket address of an IP literal host and `port`. A link-local IPv6 host's zone (an
/// interface index or name, `%XX`-escaped as RFC 6874 writes it) becomes the scope id; a zone
/// that names no interface is an error.
fn literal_address(ip: IpAddr, zone: Option<&str>, port: u16) -> Result<SocketAddr, ResolveError> {
    match (ip, zone) {
        (IpAddr::V6(ip), Some(zone)) => {
            let zone = zone.strip_prefix("25").filter(|z| !z.is_empty()).unwrap_or(zone);
            let scope = percent_decoded(zone).and_then(|name| scope_id(&name));
            let scope = scope.ok_or_else(|| ResolveError::NotFound(format!("no interface {zone:?} for the zone of {ip}")))?;
            Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
        }
        (ip, _) => Ok(SocketAddr::new(ip, port)),
    }
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
    use gdnat_io::CancelToken;
    use std::time::Duration;

    fn addresses(text: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        resolve(&HttpUrl::parse(text).unwrap(), Instant::now() + Duration::from_secs(5), &waiter)
    }

    fn one(text: &str) -> Option<SocketAddr> {
        addresses(text).ok().and_then(|list| list.first().copied())
    }

    #[test]
    fn ip_literals_are_resolved_in_place() {
        assert_eq!(one("http://10.77.0.1:5000/ctl/IPConn"), Some("10.77.0.1:5000".parse().unwrap()));
        assert_eq!(one("http://192.168.1.1/rootDesc.xml"), Some("192.168.1.1:80".parse().unwrap()));
        assert_eq!(one("http://[fe80::1]:2869/desc"), Some("[fe80::1]:2869".parse().unwrap()));
        let before = helper_threads::running();
        assert_eq!(addresses("http://127.0.0.7:81/x"), Ok(vec!["127.0.0.7:81".parse().unwrap()]));
        assert!(helper_threads::running() <= before, "a literal starts no lookup thread");
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
        assert_eq!(one("http://[fe80::1%252]:5000/rootDesc.xml"), expect(2));
        assert_eq!(one("http://[fe80::1%2517]:5000/x"), expect(17));
        let (loopback_name, loopback_index) = loopback_interface();
        let zoned = format!("http://[fe80::1%25{}]:5000/x", loopback_name.replace(' ', "%20"));
        assert_eq!(one(&zoned), expect(loopback_index), "{loopback_name} is interface {loopback_index}");
        #[cfg(target_os = "linux")]
        assert_eq!(scope_id("lo"), Some(1), "lo is interface 1 in every Linux namespace");
        assert!(
            matches!(addresses("http://[fe80::1%25no-such-if0]:5000/x"), Err(ResolveError::NotFound(r)) if r.contains("no-such-if0"))
        );
        assert_eq!(one("http://[fe80::1]:5000/x"), Some("[fe80::1]:5000".parse().unwrap()));
        assert_eq!(percent_decoded("Loopback%20Pseudo-Interface%201").as_deref(), Some("Loopback Pseudo-Interface 1"));
        assert_eq!(percent_decoded("bad%2"), None);
        assert_eq!(percent_decoded("bad%zz"), None);
        assert_eq!(scope_id(".."), None);
        assert_eq!(scope_id("../../x"), None);
    }

    #[test]
    fn names_go_to_the_system_resolver_on_a_counted_thread() {
        let resolved = addresses("http://localhost:5000/x").expect("localhost resolves");
        assert!(!resolved.is_empty() && resolved.iter().all(|a| a.port() == 5000 && a.ip().is_loopback()), "{resolved:?}");
        assert!(matches!(addresses("http://no-such-host.invalid/x"), Err(ResolveError::NotFound(_))));
    }

    #[test]
    fn a_cancelled_lookup_ends_at_once() {
        let cancel = CancelToken::new();
        cancel.cancel();
        let waiter = Waiter::new(&cancel).unwrap();
        let url = HttpUrl::parse("http://localhost/x").unwrap();
        assert_eq!(resolve(&url, Instant::now() + Duration::from_secs(5), &waiter), Err(ResolveError::Cancelled));
    }
}
