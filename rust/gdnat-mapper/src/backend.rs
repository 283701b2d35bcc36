//! One trait over the three protocols, so the keeper and the worker do not care which one the
//! gateway speaks: [`PmpBackend`] (PCP or NAT-PMP, `gdnat-pcp`) and [`UpnpBackend`]
//! (`gdnat-igd`). Tests implement it with fakes.

use std::fmt;
use std::net::IpAddr;

use gdnat_igd::{Gateway, PortMappingRequest};
use gdnat_pcp::{MapParams, Nonce, PortMapClient, Protocol};

/// The protocol a mapping is made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// PCP (RFC 6887).
    Pcp,
    /// NAT-PMP (RFC 6886).
    NatPmp,
    /// UPnP IGD.
    Upnp,
}

impl Method {
    /// `"PCP"`, `"NAT-PMP"` or `"UPnP"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pcp => "PCP",
            Self::NatPmp => "NAT-PMP",
            Self::Upnp => "UPnP",
        }
    }

    /// Parses `pcp`, `natpmp`/`nat-pmp`, `upnp` in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "pcp" => Some(Self::Pcp),
            "natpmp" | "nat-pmp" | "pmp" => Some(Self::NatPmp),
            "upnp" => Some(Self::Upnp),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapRequest {
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on this host; it never changes across renewals.
    pub internal_port: u16,
    /// The external port asked for (0: the internal port).
    pub external_port: u16,
    /// The lease asked for, in seconds (finite; at least 1).
    pub lifetime: u32,
    /// The description (UPnP only).
    pub description: String,
}

impl MapRequest {
    /// The external port to ask for.
    pub fn wanted_external_port(&self) -> u16 {
        if self.external_port == 0 {
            self.internal_port
        } else {
            self.external_port
        }
    }

    /// Checks the values before anything is sent.
    pub fn validate(&self) -> Result<(), MapperError> {
        if self.internal_port == 0 {
            return Err(MapperError::new(ErrorKind::InvalidArgument, "internal port 0: give a port in 1..=65535"));
        }
        if self.lifetime == 0 {
            return Err(MapperError::new(ErrorKind::InvalidArgument, "lifetime 0: a finite lease of at least 1 s is renewed, 0 would mean delete"));
        }
        Ok(())
    }
}

/// A mapping the gateway granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Granted {
    /// The protocol that made it.
    pub method: Method,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on this host.
    pub internal_port: u16,
    /// The external address.
    pub external_address: IpAddr,
    /// The external port.
    pub external_port: u16,
    /// The granted lifetime in seconds.
    pub lifetime: u32,
    /// The PCP nonce (renew and delete need it).
    pub nonce: Option<Nonce>,
    /// The gateway's epoch says it restarted since its previous answer (PCP, NAT-PMP).
    pub gateway_restarted: bool,
}

/// What kind of failure (for a result code in the binding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A bad request (port 0, lifetime 0).
    InvalidArgument,
    /// No gateway was found, or it speaks none of the protocols allowed.
    NoGateway,
    /// The gateway refused (its answer is in the message).
    Refused,
    /// No answer within the bound.
    NoAnswer,
    /// The call was cancelled.
    Cancelled,
    /// A socket or HTTP failure.
    Io,
}

/// A failure of the mapper, with the protocol layer's message (which names the router's answer).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MapperError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message, naming the router's answer where there was one.
    pub message: String,
}

impl MapperError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

fn from_map_error(error: &gdnat_pcp::MapError) -> MapperError {
    use gdnat_pcp::MapError;
    let (cancelled, timeout) = match error {
        MapError::Pcp(e) => (e.is_cancelled(), e.is_timeout()),
        MapError::NatPmp(e) => (e.is_cancelled(), e.is_timeout()),
        MapError::NatPmpExternalAddress(e) => (e.is_cancelled(), e.is_timeout()),
    };
    let kind = if cancelled {
        ErrorKind::Cancelled
    } else if timeout {
        ErrorKind::NoAnswer
    } else if matches!(error, MapError::Pcp(gdnat_pcp::PcpMapError::Exchange(_)) | MapError::NatPmp(gdnat_pcp::NatPmpMapError::Exchange(_))) {
        ErrorKind::Io
    } else {
        ErrorKind::Refused
    };
    MapperError::new(kind, error.to_string())
}

/// Map, renew and delete with one protocol.
pub trait Backend {
    /// The protocol.
    fn method(&self) -> Method;
    /// Creates the mapping.
    fn map(&mut self, request: &MapRequest) -> Result<Granted, MapperError>;
    /// Renews `granted` for `request.lifetime`, asking for the same external port (and the
    /// same internal port, always).
    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError>;
    /// Deletes `granted`.
    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError>;
}

/// PCP or NAT-PMP through [`PortMapClient`].
#[derive(Debug)]
pub struct PmpBackend {
    client: PortMapClient,
    method: Method,
}

impl PmpBackend {
    /// Wraps a client; `method` is what it was made for (PCP with fallback, or NAT-PMP).
    pub fn new(client: PortMapClient, method: Method) -> Self {
        Self { client, method }
    }

    fn granted(mapping: &gdnat_pcp::Mapping) -> Granted {
        Granted {
            method: match mapping.method {
                gdnat_pcp::Method::Pcp => Method::Pcp,
                gdnat_pcp::Method::NatPmp => Method::NatPmp,
            },
            protocol: mapping.protocol,
            internal_port: mapping.internal_port,
            external_address: mapping.external_address,
            external_port: mapping.external_port,
            lifetime: mapping.lifetime,
            nonce: mapping.nonce,
            gateway_restarted: mapping.epoch_check.is_reset(),
        }
    }

    fn mapping(granted: &Granted) -> gdnat_pcp::Mapping {
        gdnat_pcp::Mapping {
            method: if granted.method == Method::Pcp { gdnat_pcp::Method::Pcp } else { gdnat_pcp::Method::NatPmp },
            protocol: granted.protocol,
            internal_port: granted.internal_port,
            external_port: granted.external_port,
            external_address: granted.external_address,
            lifetime: granted.lifetime,
            nonce: granted.nonce,
            epoch_check: gdnat_pcp::EpochCheck::Continuous,
            elapsed: std::time::Duration::ZERO,
        }
    }
}

impl Backend for PmpBackend {
    fn method(&self) -> Method {
        match self.client.method() {
            Some(gdnat_pcp::Method::NatPmp) => Method::NatPmp,
            Some(gdnat_pcp::Method::Pcp) => Method::Pcp,
            None => self.method,
        }
    }

    fn map(&mut self, request: &MapRequest) -> Result<Granted, MapperError> {
        request.validate()?;
        let params = MapParams {
            protocol: request.protocol,
            internal_port: request.internal_port,
            suggested_external_port: request.wanted_external_port(),
            suggested_external_address: None,
            lifetime: request.lifetime,
        };
        self.client.map(&params).map(|mapping| Self::granted(&mapping)).map_err(|e| from_map_error(&e))
    }

    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        self.client.renew(&Self::mapping(granted), request.lifetime).map(|mapping| Self::granted(&mapping)).map_err(|e| from_map_error(&e))
    }

    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError> {
        self.client.delete(&Self::mapping(granted)).map(|_| ()).map_err(|e| MapperError::new(ErrorKind::Refused, e.to_string()))
    }
}

/// UPnP IGD through a validated [`Gateway`]. A renewal is AddPortMapping again with the same
/// ports (the router extends the lease of its own client's mapping).
#[derive(Debug)]
pub struct UpnpBackend {
    gateway: Gateway,
}

impl UpnpBackend {
    /// Wraps a gateway found by discovery or from a description URL.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway }
    }

    fn add(&mut self, request: &MapRequest, external_port: u16) -> Result<Granted, MapperError> {
        request.validate()?;
        // The external address is read first: a gateway without one must not get a rule.
        let address = self.gateway.get_external_ip().map_err(|e| MapperError::new(ErrorKind::Refused, format!("external address: {e}")))?;
        let external_address: IpAddr = address
            .parse()
            .ok()
            .filter(|ip: &IpAddr| !ip.is_unspecified() && !ip.is_loopback())
            .ok_or_else(|| MapperError::new(ErrorKind::Refused, format!("the gateway reports no usable external address ({address:?})")))?;
        let mapping = PortMappingRequest {
            remote_host: String::new(),
            external_port,
            protocol: match request.protocol {
                Protocol::Udp => gdnat_igd::Protocol::Udp,
                Protocol::Tcp => gdnat_igd::Protocol::Tcp,
            },
            internal_port: request.internal_port,
            internal_client: self.gateway.local_addr.clone(),
            description: request.description.clone(),
            lease_seconds: request.lifetime,
        };
        self.gateway.add_port_mapping(&mapping).map_err(|e| MapperError::new(ErrorKind::Refused, e.to_string()))?;
        Ok(Granted {
            method: Method::Upnp,
            protocol: request.protocol,
            internal_port: request.internal_port,
            external_address,
            external_port,
            lifetime: request.lifetime,
            nonce: None,
            gateway_restarted: false,
        })
    }
}

impl Backend for UpnpBackend {
    fn method(&self) -> Method {
        Method::Upnp
    }

    fn map(&mut self, request: &MapRequest) -> Result<Granted, MapperError> {
        self.add(request, request.wanted_external_port())
    }

    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        self.add(request, granted.external_port)
    }

    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError> {
        let protocol = match granted.protocol {
            Protocol::Udp => gdnat_igd::Protocol::Udp,
            Protocol::Tcp => gdnat_igd::Protocol::Tcp,
        };
        self.gateway.delete_port_mapping(granted.external_port, protocol).map_err(|e| MapperError::new(ErrorKind::Refused, e.to_string()))
    }
}

impl Backend for Box<dyn Backend + Send> {
    fn method(&self) -> Method {
        (**self).method()
    }
    fn map(&mut self, request: &MapRequest) -> Result<Granted, MapperError> {
        (**self).map(request)
    }
    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        (**self).renew(granted, request)
    }
    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError> {
        (**self).delete(granted)
    }
}
