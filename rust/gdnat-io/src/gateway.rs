//! The gateway to talk to: the next hop of the default route, for the interface the caller
//! chooses or the system's default interface. The lookup is `netdev`'s on Linux (netlink) and
//! Windows (IP Helper); why a crate and not our own code is written in `docs/nat-pmp-pcp.md`.
//! On macOS it is the system's `route -n get` ([`macos_route`]): netdev always links the
//! SystemConfiguration, CoreFoundation and Foundation frameworks there, which the macOS build
//! (cross-linked by zig, with no Apple SDK) cannot link. It lives in this leaf crate because two protocol clients need it:
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
#[cfg(not(target_os = "macos"))]
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

/// The IPv4 default gateway of `interface` (a name as `ifconfig` shows it, e.g. `en0`), or of
/// the system's default route when `None`, from `route -n get` (see [`macos_route`]).
#[cfg(target_os = "macos")]
pub fn default_gateway(interface: Option<&str>) -> Result<DefaultGateway, GatewayError> {
    let interfaces = if_addrs::get_if_addrs().unwrap_or_default();
    if let Some(name) = interface {
        if !interfaces.iter().any(|i| i.name == name) {
            return Err(GatewayError::NoSuchInterface(name.to_owned()));
        }
    }
    let text = macos_route::run_route_get(interface).ok_or(GatewayError::NoDefaultInterface)?;
    let route = macos_route::parse_route_get(&text);
    let (address, name) = match (route.gateway, route.interface) {
        (Some(address), Some(name)) => (address, name),
        (_, name) => return Err(GatewayError::NoGateway(name.or(interface.map(str::to_owned)).unwrap_or_default())),
    };
    let local_address = interfaces.iter().find_map(|i| match i.ip() {
        IpAddr::V4(ip) if i.name == name => Some(ip),
        _ => None,
    });
    Ok(DefaultGateway { address, interface: name, local_address })
}

/// The macOS lookup: `/sbin/route -n get [-ifscope IF] default` and the parsing of its answer
/// (a pure function, tested on every platform).
pub mod macos_route {
    use std::net::Ipv4Addr;

    /// What `route -n get` says of the default route.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct RouteGet {
        /// The `gateway:` line, when it is an IPv4 address (a point-to-point route names a
        /// link, `link#5`, and has none).
        pub gateway: Option<Ipv4Addr>,
        /// The `interface:` line.
        pub interface: Option<String>,
    }

    /// Reads the `gateway:` and `interface:` lines of `route -n get`'s output.
    pub fn parse_route_get(text: &str) -> RouteGet {
        let mut route = RouteGet::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else { continue };
            let value = value.trim();
            match key.trim() {
                "gateway" => route.gateway = value.parse().ok(),
                "interface" if !value.is_empty() && value.len() < 64 => route.interface = Some(value.to_owned()),
                _ => {}
            }
        }
        route
    }

    /// How long `route` may take before it is killed.
    #[cfg(target_os = "macos")]
    const ROUTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

    /// The output of `route` (at most 64 KiB), or `None` when it failed, found no route or took
    /// longer than [`ROUTE_TIMEOUT`]. A reader thread collects the output; the caller waits on
    /// it with a deadline, and a `route` that overruns it is killed.
    #[cfg(target_os = "macos")]
    pub fn run_route_get(interface: Option<&str>) -> Option<String> {
        use std::io::Read;
        use std::process::{Command, Stdio};
        let mut command = Command::new("/sbin/route");
        command.arg("-n").arg("get");
        if let Some(name) = interface {
            command.arg("-ifscope").arg(name);
        }
        let mut child = command.arg("default").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
        let mut stdout = child.stdout.take()?;
        let (done, output) = std::sync::mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let mut text = String::new();
            let read = (&mut stdout).take(64 * 1024).read_to_string(&mut text);
            let _ = done.send(read.map(|_| text));
        });
        let text = output.recv_timeout(ROUTE_TIMEOUT);
        if text.is_err() {
            let _ = child.kill();
        }
        let succeeded = child.wait().is_ok_and(|status| status.success());
        text.ok()?.ok().filter(|_| succeeded)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_default_route_of_a_home_network_is_read() {
            let text = "   route to: default\ndestination: default\n       mask: default\n    gateway: 192.168.1.1\n  interface: en0\n      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING>\n recvpipe  sendpipe  ssthresh  rtt,msec    rttvar  hopcount      mtu     expire\n       0         0         0         0         0         0      1500         0\n";
            assert_eq!(parse_route_get(text), RouteGet { gateway: Some(Ipv4Addr::new(192, 168, 1, 1)), interface: Some("en0".into()) });
        }

        #[test]
        fn a_point_to_point_route_has_no_gateway_address() {
            let text = "   route to: default\ndestination: default\n    gateway: link#14\n  interface: utun3\n";
            assert_eq!(parse_route_get(text), RouteGet { gateway: None, interface: Some("utun3".into()) });
        }

        #[test]
        fn no_route_and_garbage_give_nothing() {
            assert_eq!(parse_route_get(""), RouteGet::default());
            assert_eq!(parse_route_get("route: writing to routing socket: not in table\n"), RouteGet::default());
            assert_eq!(parse_route_get("gateway: 999.1.1.1\ninterface: \n"), RouteGet::default());
        }
    }
}

impl DefaultGateway {
    /// The gateway as an [`IpAddr`].
    pub fn ip(&self) -> IpAddr {
        IpAddr::V4(self.address)
    }
}
