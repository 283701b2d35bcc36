//! Which local address reaches a host: the source address the system's routing picks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};

/// The local address of a UDP socket `connect()`ed to `host:port`. Connecting a UDP socket
/// sends no packet; it only asks the routing table, so the answer is the address of the
/// interface that reaches the router (never a Docker or VPN interface that does not).
pub fn local_addr_towards(host: IpAddr, port: u16) -> Option<IpAddr> {
    local_addr_towards_scoped(host, port, 0)
}

/// [`local_addr_towards`] for a host in an IPv6 zone: `scope_id` is the interface index a
/// link-local host is reached through (0 for none; ignored for IPv4).
pub fn local_addr_towards_scoped(host: IpAddr, port: u16, scope_id: u32) -> Option<IpAddr> {
    let wildcard: IpAddr = match host {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let target = match host {
        IpAddr::V6(ip) => SocketAddr::V6(SocketAddrV6::new(ip, port.max(1), 0, scope_id)),
        IpAddr::V4(_) => SocketAddr::new(host, port.max(1)),
    };
    let socket = UdpSocket::bind(SocketAddr::new(wildcard, 0)).ok()?;
    socket.connect(target).ok()?;
    let local = socket.local_addr().ok()?.ip();
    (!local.is_unspecified()).then_some(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_reached_from_loopback() {
        assert_eq!(local_addr_towards("127.0.0.1".parse().unwrap(), 5000), Some("127.0.0.1".parse().unwrap()));
    }
}
