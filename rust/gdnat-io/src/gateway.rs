//! The gateway to talk to: the next hop of the default route, for the interface the caller
//! chooses or the system's default interface. The lookup is `netdev`'s (netlink on Linux, the
//! routing socket on macOS, IP Helper on Windows); why a crate and not our own code is written
//! in `docs/nat-pmp-pcp.md`. It lives in this leaf crate because two protocol clients need it:
//! NAT-PMP/PCP (`gdnat-pcp`) talks to the gateway, and UPnP discovery (`gdnat-igd`) also sends
//! its M-SEARCH to it unicast (a full-tunnel VPN or a multicast-filtering Wi-Fi hides the
//! multicast group). Neither protocol crate depends on the other.

use std::net::{IpAddr, Ipv4Addr};

/// Why no gateway was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// No interface has that name (or index).
    #[error("no network interface named {0:?}")]
    NoSuchInterface(String),
    /// The system has no default interface (no default route).
    #[error("no default route: the system has no default interface")]
    NoDefaultInterface,
    /// The interface exists but its routes have no IPv4 next hop.
    #[error("interface {0:?} has no IPv4 default gateway")]
    NoGateway(String),
}

/// A found gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefaultGateway {
    /// The next hop's IPv4 address.
    pub address: Ipv4Addr,
    /// The interface that reaches it.
    pub interface: String,
    /// Our first IPv4 address on that interface, if it has one.
    pub local_address: Option<Ipv4Addr>,
}

/// The IPv4 default gateway of `interface` (a name as `ip link` or Windows' adapter name
/// shows it), or of the system's default interface when `None`.
pub fn default_gateway(interface: Option<&str>) -> Result<DefaultGateway, GatewayError> {
    let chosen = match interface {
        Some(name) => netdev::get_interfaces()
            .into_iter()
            .find(|candidate| candidate.name == name || candidate.friendly_name.as_deref() == Some(name))
            .ok_or_else(|| GatewayError::NoSuchInterface(name.to_owned()))?,
        None => netdev::get_default_interface().map_err(|_| GatewayError::NoDefaultInterface)?,
    };
    let address = chosen
        .gateway
        .as_ref()
        .and_then(|gateway| gateway.ipv4.iter().copied().find(|ip| !ip.is_unspecified()))
        .ok_or_else(|| GatewayError::NoGateway(chosen.name.clone()))?;
    let local_address = chosen.ipv4.first().map(|net| net.addr());
    Ok(DefaultGateway { address, interface: chosen.name.clone(), local_address })
}

impl DefaultGateway {
    /// The gateway as an [`IpAddr`].
    pub fn ip(&self) -> IpAddr {
        IpAddr::V4(self.address)
    }
}
