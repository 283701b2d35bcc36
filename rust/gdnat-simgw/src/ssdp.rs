//! The SSDP responder: answers M-SEARCH for every configured device, unicast to the
//! requester, after each device's delay, optionally from another source port.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use crate::description::{match_search, SsdpTarget};
use crate::server::{Device, RecordedRequest, Shared};

/// The SSDP multicast group.
pub const SSDP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// Largest datagram read (longer ones are cut and most likely ignored).
const MAX_DATAGRAM: usize = 2048;
/// Most answers waiting for their delay; more are dropped.
const MAX_PENDING: usize = 1024;

/// Opens the SSDP socket: `bind:port`, or the wildcard address joined to the group on
/// `multicast_if` when multicast is wanted.
pub fn open_socket(
    bind: IpAddr,
    port: u16,
    multicast_if: Option<Ipv4Addr>,
) -> std::io::Result<UdpSocket> {
    let local = match multicast_if {
        Some(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        None => SocketAddr::new(bind, port),
    };
    let socket = Socket::new(Domain::for_address(local), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&local.into())?;
    if let Some(iface) = multicast_if {
        socket.join_multicast_v4(&SSDP_GROUP, &iface)?;
        socket.set_multicast_if_v4(&iface)?;
        socket.set_multicast_loop_v4(true)?;
    }
    socket.set_read_timeout(Some(Duration::from_millis(20)))?;
    Ok(socket.into())
}

/// Opens the second socket used for answers "from an odd source port".
pub fn open_odd_socket(bind: IpAddr) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(SocketAddr::new(bind, 0))
}

/// The ST of an M-SEARCH datagram, or `None` if it is not an M-SEARCH.
pub fn parse_msearch(datagram: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(datagram);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let first = lines.next()?;
    let mut words = first.split_whitespace();
    if words.next()? != "M-SEARCH" || words.next()? != "*" || !words.next()?.starts_with("HTTP/1.")
    {
        return None;
    }
    lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("ST"))
        .map(|(_, v)| v.trim().to_string())
        .filter(|st| !st.is_empty())
}

/// The answer datagram for one target, like miniupnpd's.
pub fn build_answer(target: &SsdpTarget, location: &str, server: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {}\r\nUSN: {}\r\nEXT:\r\nSERVER: {}\r\nLOCATION: {}\r\nOPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: 1\r\nBOOTID.UPNP.ORG: 1\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n",
        target.st, target.usn, server, location
    )
}

struct Pending {
    due: Instant,
    to: SocketAddr,
    data: String,
    odd: bool,
}

/// Runs the responder until stop.
pub fn run(
    socket: UdpSocket,
    odd: Option<UdpSocket>,
    devices: Vec<Arc<Device>>,
    shared: Arc<Shared>,
) {
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut buf = [0u8; MAX_DATAGRAM];
    while !shared.stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        // Send what is due (the queue is small; keep it simple).
        let mut i = 0;
        while i < pending.len() {
            if pending[i].due <= now {
                if let Some(p) = pending.remove(i) {
                    let sock = if p.odd {
                        odd.as_ref().unwrap_or(&socket)
                    } else {
                        &socket
                    };
                    let _ = sock.send_to(p.data.as_bytes(), p.to);
                }
            } else {
                i += 1;
            }
        }
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let Some(st) = parse_msearch(&buf[..n]) else {
            continue;
        };
        shared.record(RecordedRequest {
            device: None,
            method: "M-SEARCH".into(),
            path: "*".into(),
            soap_action: None,
            body: String::from_utf8_lossy(&buf[..n]).into_owned(),
            peer: from,
        });
        for d in &devices {
            for t in match_search(&d.config, &st) {
                if pending.len() >= MAX_PENDING {
                    break;
                }
                pending.push_back(Pending {
                    due: now + d.config.ssdp_delay,
                    to: from,
                    data: build_answer(&t, &d.location(), &d.config.server_header),
                    odd: d.config.ssdp_from_odd_port,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_msearch() {
        let m = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\n\r\n";
        assert_eq!(
            parse_msearch(m).as_deref(),
            Some("urn:schemas-upnp-org:device:InternetGatewayDevice:1")
        );
        assert_eq!(
            parse_msearch(b"M-SEARCH * HTTP/1.1\nst:ssdp:all\n\n").as_deref(),
            Some("ssdp:all")
        );
        assert_eq!(
            parse_msearch(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n"),
            None
        );
        assert_eq!(parse_msearch(b"M-SEARCH * HTTP/1.1\r\nMX: 1\r\n\r\n"), None);
        assert_eq!(parse_msearch(b""), None);
        assert_eq!(parse_msearch(&[0xff, 0x00, 0x13, b':']), None);
        assert_eq!(parse_msearch(b"M-SEARCH"), None);
    }

    #[test]
    fn answer_has_fixture_headers() {
        let t = SsdpTarget {
            st: "upnp:rootdevice".into(),
            usn: "uuid:x::upnp:rootdevice".into(),
        };
        let a = build_answer(&t, "http://127.0.0.1:5000/rootDesc.xml", "S/1");
        for h in [
            "HTTP/1.1 200 OK\r\n",
            "CACHE-CONTROL: max-age=120\r\n",
            "ST: upnp:rootdevice\r\n",
            "USN: uuid:x::upnp:rootdevice\r\n",
            "EXT:\r\n",
            "SERVER: S/1\r\n",
            "LOCATION: http://127.0.0.1:5000/rootDesc.xml\r\n",
        ] {
            assert!(a.contains(h), "{h}");
        }
        assert!(a.ends_with("\r\n\r\n"));
    }
}
