//! Scenario configuration: what the simulated gateway is and how it misbehaves.
//!
//! Every knob is a plain public field with a documented default, so a test can start from
//! [`crate::scenario`] or from [`DeviceConfig::router`] and change only what it needs.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// Default `SERVER` / `Server:` header, shaped like the one of miniupnpd 2.3.1.
pub const DEFAULT_SERVER_HEADER: &str = "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1";

/// Default public WAN address reported by `GetExternalIPAddress` (only a string in SOAP).
pub const DEFAULT_PUBLIC_IP: &str = "1.2.3.4";

/// Default upper bound of a [`FaultKind::Hang`]: the connection is closed after this even if the
/// gateway is not stopped, so no thread lives forever.
pub const DEFAULT_MAX_HANG: Duration = Duration::from_secs(30);

/// The whole simulated network presence: one SSDP responder plus one HTTP server per device.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address the SSDP socket and (by default) every HTTP server bind to.
    pub bind: IpAddr,
    /// SSDP UDP port: 1900 for real discovery, 0 for an ephemeral port (tests).
    pub ssdp_port: u16,
    /// If set, the SSDP socket binds the wildcard address on `ssdp_port` and joins
    /// 239.255.255.250 on this interface address, so multicast M-SEARCHes are answered too.
    pub multicast_if: Option<Ipv4Addr>,
    /// The devices answering on the network, in order (index = device number in the API).
    pub devices: Vec<DeviceConfig>,
    /// Upper bound of a [`FaultKind::Hang`] (default [`DEFAULT_MAX_HANG`]).
    pub max_hang: Duration,
}

impl SimConfig {
    /// A configuration on `bind` with an ephemeral SSDP port, no multicast and the given devices.
    pub fn new(bind: IpAddr, devices: Vec<DeviceConfig>) -> Self {
        SimConfig {
            bind,
            ssdp_port: 0,
            multicast_if: None,
            devices,
            max_hang: DEFAULT_MAX_HANG,
        }
    }
}

/// One UPnP root device: its identity, HTTP server, SSDP answers and faults.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    /// What the device is (router or non-IGD device).
    pub kind: DeviceKind,
    /// TCP port of the device's HTTP server (0 = ephemeral).
    pub http_port: u16,
    /// Host written into the SSDP `LOCATION` (and absolute URLs of the description) instead of
    /// the bind address. When it parses as an IP address the HTTP server listens there (and
    /// only there), so a client that ignores `LOCATION` and uses the SSDP source fails.
    pub location_host: Option<String>,
    /// Path of the description document (default `/rootDesc.xml`).
    pub description_path: String,
    /// UUID (without `uuid:`) of the root device; embedded devices derive theirs from it.
    pub uuid: String,
    /// Delay before the SSDP answers to an M-SEARCH are sent.
    pub ssdp_delay: Duration,
    /// Send SSDP answers from a second socket (another source port) instead of the one that
    /// received the M-SEARCH.
    pub ssdp_from_odd_port: bool,
    /// Delay before every HTTP answer of this device.
    pub http_delay: Duration,
    /// Faults injected on the description GET or on given SOAP actions (first match wins,
    /// except [`FaultKind::Delay`] which adds up and never stops the later rules).
    pub faults: Vec<FaultRule>,
    /// Value of the `SERVER` header in SSDP and HTTP answers.
    pub server_header: String,
}

impl DeviceConfig {
    /// A router device with the given router settings and default everything else.
    pub fn router(router: RouterConfig) -> Self {
        DeviceConfig {
            kind: DeviceKind::Router(router),
            http_port: 0,
            location_host: None,
            description_path: "/rootDesc.xml".to_string(),
            uuid: "3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b".to_string(),
            ssdp_delay: Duration::ZERO,
            ssdp_from_odd_port: false,
            http_delay: Duration::ZERO,
            faults: Vec::new(),
            server_header: DEFAULT_SERVER_HEADER.to_string(),
        }
    }

    /// A network printer (`urn:schemas-upnp-org:device:Printer:1`), not an IGD: it answers
    /// `ssdp:all` and `upnp:rootdevice` and serves a non-IGD description.
    pub fn printer() -> Self {
        DeviceConfig {
            kind: DeviceKind::Printer,
            description_path: "/printer.xml".to_string(),
            uuid: "7a1f2e10-5b6c-4d8e-9f00-0011223344aa".to_string(),
            server_header: "PrinterOS/1.0 UPnP/1.0 SimPrinter/1.0".to_string(),
            ..DeviceConfig::router(RouterConfig::default())
        }
    }

    /// The router settings, if this device is a router.
    pub fn router_config(&self) -> Option<&RouterConfig> {
        match &self.kind {
            DeviceKind::Router(r) => Some(r),
            DeviceKind::Printer => None,
        }
    }

    /// Mutable router settings, if this device is a router.
    pub fn router_config_mut(&mut self) -> Option<&mut RouterConfig> {
        match &mut self.kind {
            DeviceKind::Router(r) => Some(r),
            DeviceKind::Printer => None,
        }
    }

    /// Adds a fault rule (builder style).
    pub fn with_fault(mut self, target: FaultTarget, kind: FaultKind) -> Self {
        self.faults.push(FaultRule { target, kind });
        self
    }
}

/// What a device is.
#[derive(Debug, Clone)]
pub enum DeviceKind {
    /// An Internet Gateway Device with a WAN connection service.
    Router(RouterConfig),
    /// A printer: a UPnP root device that is not an IGD (has no WAN connection service).
    Printer,
}

/// Which WAN connection service the router exposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionKind {
    /// `WANIPConnection` (version 1 on IGD:1, version 2 on IGD:2).
    WanIp,
    /// `WANPPPConnection:1` only (a PPP-only device, no WANIPConnection).
    WanPpp,
}

/// How the description writes the control URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlStyle {
    /// `<controlURL>/ctl/IPConn</controlURL>` (absolute path, as miniupnpd does).
    AbsolutePath,
    /// `<URLBase>http://host:port/</URLBase>` and `<controlURL>ctl/IPConn</controlURL>`
    /// (relative URL resolved against URLBase, as some IGD:1 routers do).
    RelativeWithUrlBase,
    /// `<controlURL>http://host:port/ctl/IPConn</controlURL>` (full URL).
    AbsoluteUrl,
}

/// Router behaviour: IGD version, WAN connection state and the mapping-table rules.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// 1 (InternetGatewayDevice:1, WANIPConnection:1) or 2 (IGD:2, WANIPConnection:2 with
    /// AddAnyPortMapping). Any other value is treated as 2.
    pub igd_version: u8,
    /// WANIPConnection or WANPPPConnection (PPP-only device).
    pub connection: ConnectionKind,
    /// `GetStatusInfo` answers "Connected" when true, "Disconnected" otherwise.
    pub connected: bool,
    /// Value of `NewExternalIPAddress` (public like "1.2.3.4", reserved like "10.0.0.5" for a
    /// double NAT, or empty).
    pub external_ip: String,
    /// miniupnpd's secure mode: NewInternalClient must equal the requester's source address
    /// (else 718), and only the owner may delete a mapping (else 606). Default on.
    pub secure_mode: bool,
    /// Only permanent leases: AddPortMapping with NewLeaseDuration != 0 fails with
    /// [`RouterConfig::finite_lease_error`].
    pub permanent_lease_only: bool,
    /// The UPnP error a finite lease gets when `permanent_lease_only` is on: 725
    /// OnlyPermanentLeasesSupported (default), or 402 Invalid Args as an ARRIS NVG578LX answers
    /// (tailscale/tailscale#15223).
    pub finite_lease_error: u16,
    /// External ports (TCP and UDP) already mapped to another LAN host (192.168.1.99) when the
    /// router starts; asking for one with AddPortMapping is a conflict, AddAnyPortMapping skips
    /// them. Default none.
    pub taken_ports: Vec<u16>,
    /// The UPnP error of a conflict on AddPortMapping: 718 ConflictInMappingEntry (default),
    /// or 501 ActionFailed / 729 ConflictWithOtherMechanisms as some routers answer.
    pub conflict_error: u16,
    /// Every AddPortMapping is a conflict (a router whose table is full of other hosts'
    /// forwards); AddAnyPortMapping is not affected. Default false.
    pub every_port_taken: bool,
    /// NewProtocol must be exactly "TCP" or "UDP"; any other spelling ("tcp", "Udp") fails
    /// with 402 Invalid Args, as some TP-Link firmwares do. When false the protocol is
    /// matched case-insensitively (and still stored upper-case). Default false.
    pub strict_protocol_case: bool,
    /// DeletePortMapping of a missing entry answers success (miniupnpd 2.3.1 does) instead of
    /// the standard 714 NoSuchEntryInArray. Default false (714).
    pub delete_missing_ok: bool,
    /// How control URLs are written in the description.
    pub url_style: UrlStyle,
    /// Prefix every element of the description with this namespace prefix
    /// (`<ns0:root xmlns:ns0="urn:schemas-upnp-org:device-1-0">`); `None` = default namespace.
    pub namespace_prefix: Option<String>,
    /// Value of `friendlyName` of the root device.
    pub friendly_name: String,
}

impl Default for RouterConfig {
    /// IGD:2 with WANIPConnection:2, connected, public address [`DEFAULT_PUBLIC_IP`], secure
    /// mode on, miniupnpd-like description.
    fn default() -> Self {
        RouterConfig {
            igd_version: 2,
            connection: ConnectionKind::WanIp,
            connected: true,
            external_ip: DEFAULT_PUBLIC_IP.to_string(),
            secure_mode: true,
            permanent_lease_only: false,
            finite_lease_error: 725,
            taken_ports: Vec::new(),
            conflict_error: 718,
            every_port_taken: false,
            strict_protocol_case: false,
            delete_missing_ok: false,
            url_style: UrlStyle::AbsolutePath,
            namespace_prefix: None,
            friendly_name: "gdnat simulated router".to_string(),
        }
    }
}

/// A fault: where it applies and what happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The request the fault applies to.
    pub target: FaultTarget,
    /// What the gateway does instead of (or before) answering normally.
    pub kind: FaultKind,
}

/// The request a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultTarget {
    /// The GET of the device description.
    Description,
    /// A SOAP action by name (e.g. "AddPortMapping"), matched exactly.
    Action(String),
    /// Every SOAP action of the device (but not the description).
    AnyAction,
    /// Every HTTP request of the device.
    Any,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// `HTTP/1.1 500 Internal Server Error` with `Content-Length: 0` and no body.
    Http500Empty,
    /// `HTTP/1.1 200 OK` with `Content-Length: 0` and no body (an empty answer).
    EmptyOk,
    /// `200 OK` with a body that is not well-formed XML (correct Content-Length).
    MalformedXml,
    /// The headers announce the full Content-Length but only half the body is sent, then the
    /// connection is closed.
    Truncated,
    /// A well-formed answer padded to [`OVERSIZED_BODY_LEN`] bytes.
    Oversized,
    /// The connection is accepted and the request read, but nothing is ever answered; the
    /// connection is closed at stop or after [`SimConfig::max_hang`].
    Hang,
    /// Wait this long, then go on with the next matching rule or the normal answer.
    Delay(Duration),
    /// The normal answer, written one byte every this long (a link that trickles); the
    /// connection is closed at stop or after [`SimConfig::max_hang`], whichever comes first.
    Trickle(Duration),
    /// A SOAP fault (HTTP 500) with this UPnP error code and description (only for actions).
    UpnpError(u16, String),
}

/// Size of the body sent by [`FaultKind::Oversized`] (2 MiB).
pub const OVERSIZED_BODY_LEN: usize = 2 * 1024 * 1024;
