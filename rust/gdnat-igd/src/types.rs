//! Plain data shared by several layers: the transports read [`LocalPort`] and [`HttpLimits`],
//! the result codes read [`DeviceStatus`]. A leaf: it depends on no other module of the crate,
//! so no layer has to reach up into [`crate::client`] for them. Re-exported from `client` and
//! the crate root under their old paths.

use std::time::Duration;

/// Source port of the SSDP socket, as the engine's `discover_local_port` sets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LocalPort {
    /// Let the system pick (`discover_local_port` 0, or any value outside 1..=65535).
    #[default]
    Ephemeral,
    /// Port 1900 (`discover_local_port` 1).
    Ssdp,
    /// That port (`discover_local_port` 2..=65535).
    Port(u16),
}

impl LocalPort {
    /// The engine's reading of `discover_local_port`.
    pub fn from_engine(value: i64) -> Self {
        match value {
            1 => Self::Ssdp,
            2..=65535 => Self::Port(value as u16),
            _ => Self::Ephemeral,
        }
    }
}

/// Time and size bounds of one HTTP exchange with a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HttpLimits {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// The whole exchange, from connect to the last body byte.
    pub total_timeout: Duration,
    /// Largest body read; more is `RequestError::BodyTooLarge`.
    pub max_body: usize,
    /// Largest SOAP request body sent; more is `RequestError::RequestTooLarge` and nothing is
    /// sent. 2048 matches the engine's miniupnpc.
    pub max_soap_request: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(2000),
            total_timeout: Duration::from_millis(4000),
            max_body: 256 * 1024,
            max_soap_request: 2048,
        }
    }
}

/// What validation found a discovered device to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceStatus {
    /// An IGD that reports Connected/Up and a public WAN address.
    ConnectedPublic,
    /// An IGD that reports Connected/Up with a private, reserved, empty or unobtainable WAN
    /// address: double NAT or CGNAT. Still usable for mapping on its own segment.
    ConnectedPrivate,
    /// An IGD whose connection services all report not connected.
    NotConnected,
    /// The description was fetched but has no WANIPConnection/WANPPPConnection service.
    NotIgd,
    /// The description could not be fetched (connect failure, timeout, non-200 status, too large).
    HttpError,
    /// The description answer was 200 with an empty body.
    EmptyAnswer,
}

impl DeviceStatus {
    /// Whether port mapping can be attempted on this device.
    pub fn is_connected(self) -> bool {
        matches!(self, Self::ConnectedPublic | Self::ConnectedPrivate)
    }
}
