//! Layer 3: discovery, per-device gateway validation and port-mapping operations, as a blocking
//! API. Every call is bounded in time; none panics on any router input.

mod discovery;
mod gateway;
pub mod probe_cache;
mod soap_call;
mod validate;

pub use discovery::discover;
pub use gateway::{CancellableGateway, Gateway};
pub use validate::validate_device_at;
// Shared with the transports and the result codes, so defined in the leaf module `types`.
pub use crate::types::{DeviceStatus, HttpLimits, LocalPort};

use std::time::Duration;

/// How to discover.
#[derive(Clone, Debug)]
pub struct DiscoverOptions {
    /// The longest time to listen for SSDP answers. Discovery returns earlier once a valid
    /// gateway is known and `settle` has passed.
    pub timeout: Duration,
    /// Multicast TTL / hop limit, 0..=255.
    pub ttl: u32,
    /// An IPv4 literal, an IPv6 literal or an interface name; `None` lets the system choose.
    pub multicast_if: Option<String>,
    /// Source port of the SSDP socket.
    pub local_port: LocalPort,
    /// Search over IPv6 (FF05::C, then FF02::C) instead of IPv4.
    pub ipv6: bool,
    /// Keep only answers whose ST contains this text (case-sensitive); empty keeps all.
    /// Empty or containing `InternetGatewayDevice`, `WANIPConnection`, `WANPPPConnection` or
    /// `rootdevice` sends the IGD-oriented targets together; anything else sends `ssdp:all`.
    pub device_filter: String,
    /// The longest time to keep listening after the first valid gateway was found (while
    /// other devices' validations are still running).
    pub settle: Duration,
    /// Once a valid gateway is known and every validation has handed in, discovery stops when
    /// no SSDP answer has come for this long (at most `settle` after the gateway was found).
    pub quiet: Duration,
    /// Bounds for each description fetch and SOAP call during validation.
    pub http: HttpLimits,
    /// Where to send the M-SEARCH instead of the multicast group (tests only).
    pub target_override: Option<std::net::SocketAddr>,
    /// When the discovery was asked for, if earlier than its start (a call that waited in a
    /// queue); `None` is the start. Discoveries requested before a validation of the same
    /// device finished share its result (`probe_cache`).
    pub requested_at: Option<std::time::Instant>,
    /// Also send the M-SEARCH unicast to the IPv4 default gateway (of the interface
    /// `multicast_if` names, or the system's default route), so that a full-tunnel VPN or a
    /// Wi-Fi that filters multicast does not hide the router. Its answers are deduplicated with
    /// the multicast ones by description URL. Ignored over IPv6 and with `target_override`.
    pub search_default_gateway: bool,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(2000),
            ttl: 2,
            multicast_if: None,
            local_port: LocalPort::Ephemeral,
            ipv6: false,
            device_filter: "InternetGatewayDevice".into(),
            settle: Duration::from_millis(20),
            quiet: Duration::from_millis(5),
            http: HttpLimits::default(),
            target_override: None,
            requested_at: None,
            search_default_gateway: true,
        }
    }
}

/// One device found by discovery, with its own data (never another device's).
#[derive(Clone, Debug)]
pub struct DiscoveredDevice {
    /// SSDP LOCATION: the description URL.
    pub description_url: String,
    /// SSDP ST of the answer that was kept.
    pub service_type: String,
    /// SSDP USN.
    pub usn: String,
    /// What validation found.
    pub status: DeviceStatus,
    /// The connection service to map ports on, when `status.is_connected()`.
    pub gateway: Option<Gateway>,
    /// The WAN address GetExternalIPAddress reported, when it answered.
    pub external_ip: Option<String>,
    /// `friendlyName` of the root device, when the description had one.
    pub friendly_name: Option<String>,
    /// Why validation ended where it did, for logs (empty when all went well).
    pub detail: String,
}

/// TCP or UDP, spelled exactly as routers expect (`"TCP"`, `"UDP"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// Parses exactly `"TCP"` or `"UDP"` (case-sensitive, as the engine validates).
    pub fn parse_exact(text: &str) -> Option<Self> {
        match text {
            "TCP" => Some(Self::Tcp),
            "UDP" => Some(Self::Udp),
            _ => None,
        }
    }

    /// `"TCP"` or `"UDP"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }
}

/// Arguments of AddPortMapping / AddAnyPortMapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMappingRequest {
    /// `NewRemoteHost`; empty is the wildcard.
    pub remote_host: String,
    /// `NewExternalPort`.
    pub external_port: u16,
    /// `NewProtocol`.
    pub protocol: Protocol,
    /// `NewInternalPort`.
    pub internal_port: u16,
    /// `NewInternalClient`: the LAN address the router forwards to.
    pub internal_client: String,
    /// `NewPortMappingDescription` (XML-escaped on the wire).
    pub description: String,
    /// `NewLeaseDuration` in seconds; 0 asks for a permanent (v1) or maximal (v2) lease.
    pub lease_seconds: u32,
}

/// Out-arguments of GetStatusInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusInfo {
    /// `NewConnectionStatus`, for example `Connected`.
    pub connection_status: String,
    /// `NewLastConnectionError`.
    pub last_connection_error: String,
    /// `NewUptime` in seconds, when it parsed.
    pub uptime_seconds: Option<u64>,
}

impl StatusInfo {
    /// `Connected` or `Up`, the two values miniupnpc accepts.
    pub fn is_connected(&self) -> bool {
        matches!(self.connection_status.trim(), "Connected" | "Up")
    }
}

/// One row of the router's mapping table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMappingEntry {
    /// `NewRemoteHost` (empty for the wildcard).
    pub remote_host: String,
    /// `NewExternalPort`.
    pub external_port: u16,
    /// `NewProtocol`, as the router spelled it.
    pub protocol: String,
    /// `NewInternalPort`.
    pub internal_port: u16,
    /// `NewInternalClient`.
    pub internal_client: String,
    /// `NewEnabled`.
    pub enabled: bool,
    /// `NewPortMappingDescription`.
    pub description: String,
    /// `NewLeaseDuration`: seconds left (0 for permanent).
    pub lease_seconds: u32,
}
