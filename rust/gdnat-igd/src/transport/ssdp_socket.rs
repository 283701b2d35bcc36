//! The SSDP UDP socket (godot-upnp-spec §2.4 step B): IPv4 or IPv6, `SO_REUSEADDR`, bound to the
//! wildcard (or, for an IPv4 multicast-interface literal, to that local address, as the engine
//! does; never to the multicast group, which Windows refuses), on the chosen local port,
//! multicast TTL/hops and interface set (IPv6: by interface index), receives that end at a
//! given instant. Interfaces are looked up portably ([`super::interfaces`]).

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Instant;

use gdnat_io::{Interest, WaitError, Waiter, WakeOutcome};
use socket2::{Domain, Protocol, Socket, Type};

use crate::types::LocalPort;
use crate::error::DiscoverError;
use crate::proto::ssdp::SSDP_PORT;

use super::interfaces;

/// Largest datagram read; longer ones are cut (an SSDP answer is a few hundred bytes).
pub const MAX_DATAGRAM: usize = 2048;

/// How the socket is set up.
#[derive(Clone, Debug)]
pub struct SsdpSocketConfig<'a> {
    /// IPv6 instead of IPv4.
    pub ipv6: bool,
    /// Source port.
    pub local_port: LocalPort,
    /// Multicast TTL / hop limit.
    pub ttl: u32,
    /// An IP literal of the right family or an interface name.
    pub multicast_if: Option<&'a str>,
}

/// A bound, configured SSDP socket.
#[derive(Debug)]
pub struct SsdpSocket {
    socket: UdpSocket,
}

fn socket_error(stage: &'static str) -> impl Fn(std::io::Error) -> DiscoverError {
    move |e| DiscoverError::Socket { stage, detail: e.to_string() }
}

/// The interface index of a network interface name (looked up portably, see
/// [`super::interfaces`]), or the number itself when the text is a decimal index.
pub fn interface_index(name: &str) -> Option<u32> {
    if let Ok(index) = name.parse::<u32>() {
        return (index > 0).then_some(index);
    }
    let valid = !name.is_empty() && name.len() <= 15 && name != "." && name != ".." && !name.contains(['/', '\0']);
    if !valid {
        return None;
    }
    interfaces::index_of_name(name)
}

/// What `multicast_if` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Interface {
    /// An IPv4 address of this host (a literal, or the first address of a named interface):
    /// `IP_MULTICAST_IF`, and the socket is bound to it, as miniupnpc does.
    V4(Ipv4Addr),
    /// An IPv6 interface by index (a name, a decimal index, or the interface that holds an IPv6
    /// literal): `IPV6_MULTICAST_IF`; the socket stays bound to the unspecified address.
    V6Index(u32),
}

fn parse_interface(text: &str, ipv6: bool) -> Result<Interface, DiscoverError> {
    let invalid = || DiscoverError::InvalidInterface(text.to_string());
    match text.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if !ipv6 && !ip.is_multicast() => Ok(Interface::V4(ip)),
        Ok(IpAddr::V6(ip)) if ipv6 => interfaces::index_of_address(ip.into()).map(Interface::V6Index).ok_or_else(invalid),
        Ok(_) => Err(invalid()),
        Err(_) => match interface_index(text.trim()) {
            Some(index) if ipv6 => Ok(Interface::V6Index(index)),
            Some(index) => interfaces::ipv4_of_index(index).map(Interface::V4).ok_or_else(invalid),
            None => Err(invalid()),
        },
    }
}

impl SsdpSocket {
    /// Creates, configures and binds the socket. An unknown interface is `InvalidInterface`;
    /// any failing socket call (except setting the TTL, ignored as miniupnpc does) is `Socket`.
    pub fn open(config: &SsdpSocketConfig<'_>) -> Result<Self, DiscoverError> {
        let interface = match config.multicast_if.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => Some(parse_interface(text, config.ipv6)?),
            None => None,
        };
        let domain = if config.ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(socket_error("creating the socket"))?;
        socket.set_reuse_address(true).map_err(socket_error("setting SO_REUSEADDR"))?;
        if config.ipv6 {
            let _ = socket.set_only_v6(true);
            let _ = socket.set_multicast_hops_v6(config.ttl);
        } else {
            let _ = socket.set_multicast_ttl_v4(config.ttl);
        }
        let port = match config.local_port {
            LocalPort::Ephemeral => 0,
            LocalPort::Ssdp => SSDP_PORT,
            LocalPort::Port(port) => port,
        };
        let mut bind_ip: IpAddr = if config.ipv6 { Ipv6Addr::UNSPECIFIED.into() } else { Ipv4Addr::UNSPECIFIED.into() };
        match interface {
            Some(Interface::V4(ip)) => {
                socket.set_multicast_if_v4(&ip).map_err(socket_error("setting IP_MULTICAST_IF"))?;
                bind_ip = ip.into();
            }
            Some(Interface::V6Index(index)) => {
                socket.set_multicast_if_v6(index).map_err(socket_error("setting IPV6_MULTICAST_IF"))?;
            }
            None => {}
        }
        socket
            .bind(&SocketAddr::new(bind_ip, port).into())
            .map_err(socket_error("binding"))?;
        socket.set_nonblocking(true).map_err(socket_error("making the socket non-blocking"))?;
        Ok(Self { socket: socket.into() })
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> Result<SocketAddr, DiscoverError> {
        self.socket.local_addr().map_err(socket_error("reading the local address"))
    }

    /// Sends one datagram.
    pub fn send_to(&self, datagram: &[u8], to: SocketAddr) -> Result<(), DiscoverError> {
        self.socket.send_to(datagram, to).map(|_| ()).map_err(socket_error("sending the M-SEARCH"))
    }

    /// Waits until `until` at the latest for one datagram; `Ok(None)` when none came by then
    /// (never before it) or when a [`gdnat_io::Wake`] of `waiter` was used. The wait sleeps in
    /// the kernel on the socket with a precise deadline (no polling in steps) and ends at once
    /// with `Cancelled` when the waiter's token is cancelled.
    pub fn recv_until(
        &self,
        buffer: &mut [u8; MAX_DATAGRAM],
        until: Instant,
        waiter: &Waiter,
    ) -> Result<Option<(usize, SocketAddr)>, DiscoverError> {
        loop {
            match self.socket.recv_from(buffer) {
                Ok((len, from)) => return Ok(Some((len, from))),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset) => {}
                Err(e) => return Err(socket_error("receiving")(e)),
            }
            match waiter.wait_wakeable(&self.socket, Interest::Readable, until) {
                Ok(WakeOutcome::Ready) => {}
                Ok(WakeOutcome::TimedOut | WakeOutcome::Woken) => return Ok(None),
                Err(WaitError::Cancelled) => return Err(DiscoverError::Cancelled),
                Err(WaitError::Io(e)) => return Err(socket_error("waiting for answers")(e)),
            }
        }
    }

    /// The multicast TTL (IPv4) or hop limit (IPv6) in force.
    pub fn multicast_ttl(&self, ipv6: bool) -> Result<u32, DiscoverError> {
        let socket = socket2::SockRef::from(&self.socket);
        let ttl = if ipv6 { socket.multicast_hops_v6() } else { socket.multicast_ttl_v4() };
        ttl.map_err(socket_error("reading the multicast TTL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(multicast_if: Option<&str>, ipv6: bool) -> SsdpSocketConfig<'_> {
        SsdpSocketConfig { ipv6, local_port: LocalPort::Ephemeral, ttl: 2, multicast_if }
    }

    #[test]
    fn unknown_interface_names_are_rejected_before_any_socket() {
        for name in ["no-such-if0", "../../etc", "a/b", "0", "2001:db8::1"] {
            let err = SsdpSocket::open(&config(Some(name), false)).unwrap_err();
            assert_eq!(err, DiscoverError::InvalidInterface(name.into()));
        }
        let err = SsdpSocket::open(&config(Some("127.0.0.1"), true)).unwrap_err();
        assert_eq!(err, DiscoverError::InvalidInterface("127.0.0.1".into()));
    }

    #[test]
    fn loopback_name_resolves_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(interface_index("lo").is_some());
        }
    }

    #[test]
    fn an_interface_name_becomes_its_ipv4_address() {
        // The loopback interface's own name (whatever the system calls it) and its index both
        // pick 127.0.0.1 as the IPv4 multicast interface, and the socket is bound to it.
        let index = interfaces::index_of_address(Ipv4Addr::LOCALHOST.into()).expect("loopback has an index");
        assert_eq!(parse_interface(&index.to_string(), false), Ok(Interface::V4(Ipv4Addr::LOCALHOST)));
        let name = if_addrs::get_if_addrs().unwrap().into_iter().find(|i| i.ip() == IpAddr::from(Ipv4Addr::LOCALHOST)).unwrap().name;
        assert_eq!(parse_interface(&name, false), Ok(Interface::V4(Ipv4Addr::LOCALHOST)));
        let socket = SsdpSocket::open(&config(Some(&name), false)).unwrap();
        assert_eq!(socket.local_addr().unwrap().ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn an_ipv6_literal_picks_its_interface_by_index_and_binds_the_unspecified_address() {
        let Some(index) = interfaces::index_of_address(Ipv6Addr::LOCALHOST.into()) else {
            println!("SKIP an_ipv6_literal_picks_its_interface_by_index: ::1 is on no interface (IPv6 disabled)");
            return;
        };
        assert_eq!(parse_interface("::1", true), Ok(Interface::V6Index(index)));
        let socket = SsdpSocket::open(&config(Some("::1"), true)).unwrap();
        assert_eq!(socket.local_addr().unwrap().ip(), IpAddr::from(Ipv6Addr::UNSPECIFIED));
        assert_eq!(socket2::SockRef::from(&socket.socket).multicast_if_v6().unwrap(), index, "IPV6_MULTICAST_IF");
        // An IPv6 address that is not on this host names no interface (the engine: 28).
        let err = SsdpSocket::open(&config(Some("2001:db8::1"), true)).unwrap_err();
        assert_eq!(err, DiscoverError::InvalidInterface("2001:db8::1".into()));
    }

    #[test]
    fn the_socket_is_never_bound_to_the_multicast_group() {
        // Windows refuses a bind to the group (WSAEADDRNOTAVAIL, 10049): without an interface
        // the socket is bound to the unspecified address of its family.
        for ipv6 in [false, true] {
            if let Ok(socket) = SsdpSocket::open(&config(None, ipv6)) {
                let ip = socket.local_addr().unwrap().ip();
                assert!(ip.is_unspecified() && !ip.is_multicast(), "bound to {ip}");
            } else {
                assert!(ipv6, "the IPv4 socket must open");
            }
        }
        let err = SsdpSocket::open(&config(Some("239.255.255.250"), false)).unwrap_err();
        assert!(matches!(err, DiscoverError::Socket { .. } | DiscoverError::InvalidInterface(_)), "{err:?}");
    }

    #[test]
    fn binds_to_an_ipv4_literal_and_receives_with_a_bound() {
        let socket = SsdpSocket::open(&config(Some("127.0.0.1"), false)).unwrap();
        let local = socket.local_addr().unwrap();
        assert_eq!(local.ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
        let mut buffer = [0u8; MAX_DATAGRAM];
        let waiter = Waiter::new(&gdnat_io::CancelToken::new()).unwrap();
        let start = Instant::now();
        assert_eq!(socket.recv_until(&mut buffer, start + Duration::from_millis(5), &waiter).unwrap(), None);
        assert!(start.elapsed() >= Duration::from_millis(5), "returned before its instant without a datagram");
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"hello", local).unwrap();
        let (len, from) = socket.recv_until(&mut buffer, Instant::now() + Duration::from_millis(500), &waiter).unwrap().expect("datagram");
        assert_eq!(&buffer[..len], b"hello");
        assert_eq!(from, peer.local_addr().unwrap());
    }

    /// Failed on the old sleep loop, which had no way to see a cancel.
    #[test]
    fn a_cancel_ends_a_long_receive_wait() {
        let socket = SsdpSocket::open(&config(Some("127.0.0.1"), false)).unwrap();
        let token = gdnat_io::CancelToken::new();
        let waiter = Waiter::new(&token.child()).unwrap();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            token.cancel();
        });
        let far = Instant::now() + Duration::from_secs(30);
        let mut buffer = [0u8; MAX_DATAGRAM];
        assert_eq!(socket.recv_until(&mut buffer, far, &waiter), Err(DiscoverError::Cancelled));
        assert!(Instant::now() < far);
        canceller.join().unwrap();
    }

    #[test]
    fn local_port_choices_are_bound_as_the_engine_binds_them() {
        // 0 (and out-of-range values, see LocalPort::from_engine) is an ephemeral port; any
        // other value is that port. (1 means 1900, which may be taken: checked by the Godot
        // conformance suite inside its own namespace.)
        let mut chosen = config(Some("127.0.0.1"), false);
        let ephemeral = SsdpSocket::open(&chosen).unwrap().local_addr().unwrap().port();
        assert_ne!(ephemeral, 0);
        let free = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        chosen.local_port = LocalPort::Port(free);
        assert_eq!(SsdpSocket::open(&chosen).unwrap().local_addr().unwrap().port(), free);
        assert_eq!(LocalPort::from_engine(1), LocalPort::Ssdp);
        assert_eq!(LocalPort::from_engine(0), LocalPort::Ephemeral);
        assert_eq!(LocalPort::from_engine(-5), LocalPort::Ephemeral);
        assert_eq!(LocalPort::from_engine(65536), LocalPort::Ephemeral);
        assert_eq!(LocalPort::from_engine(40000), LocalPort::Port(40000));
    }

    #[test]
    fn the_ttl_reaches_the_socket() {
        for ttl in [0u32, 1, 2, 255] {
            let mut chosen = config(None, false);
            chosen.ttl = ttl;
            assert_eq!(SsdpSocket::open(&chosen).unwrap().multicast_ttl(false).unwrap(), ttl, "IPv4 TTL");
            chosen.ipv6 = true;
            if let Ok(socket) = SsdpSocket::open(&chosen) {
                assert_eq!(socket.multicast_ttl(true).unwrap(), ttl, "IPv6 hop limit");
            }
        }
    }
}
