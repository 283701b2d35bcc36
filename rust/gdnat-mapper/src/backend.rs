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
    /// The granted lifetime in seconds; 0 for a permanent UPnP mapping (the router accepts
    /// no finite lease), which the keeper checks every `MapRequest::lifetime` seconds and
    /// deletes on stop.
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
    /// Removes a mapping an earlier run of this host left behind (`stale`, from its record:
    /// a crash left it on another external port than the one asked now), before the first
    /// map. Only ever this host's own mapping with `description`: PCP deletes by the recorded
    /// nonce (the gateway binds it to our address and internal port), NAT-PMP by our address
    /// and internal port; UPnP first reads the entry and deletes it only when it forwards to
    /// this host's address and the stale internal port and carries `description`. `Ok(true)`
    /// when the gateway confirmed the deletion (PCP and NAT-PMP confirm one that was gone
    /// already too), `Ok(false)` when UPnP found no entry or one that is not ours (left alone).
    fn remove_stale(&mut self, stale: &Granted, description: &str) -> Result<bool, MapperError> {
        let _ = description;
        self.delete(stale).map(|()| true)
    }
    /// Whether the keeper must read the external address between renewals
    /// ([`Backend::current_external_address`]) to notice a change: true for UPnP, whose
    /// renewal (one AddPortMapping) does not carry the address; PCP and NAT-PMP answers do.
    fn watches_external_address(&self) -> bool {
        false
    }
    /// Reads the gateway's external address now, for the keeper's watch between renewals.
    /// The next renewal reports the address read here. Only called when
    /// [`Backend::watches_external_address`] is true.
    fn current_external_address(&mut self) -> Result<IpAddr, MapperError> {
        Err(MapperError::new(ErrorKind::Io, format!("{} answers carry the external address; there is nothing to watch", self.method().as_str())))
    }
}

/// PCP or NAT-PMP through [`PortMapClient`].
#[derive(Debug)]
pub struct PmpBackend {
    client: PortMapClient,
    method: Method,
    first_nonce: Option<Nonce>,
}

impl PmpBackend {
    /// Wraps a client; `method` is what it was made for (PCP with fallback, or NAT-PMP).
    pub fn new(client: PortMapClient, method: Method) -> Self {
        Self { client, method, first_nonce: None }
    }

    /// Makes the first PCP mapping use `nonce` (the one a previous run of this host recorded):
    /// the gateway then takes the request as a renewal of that run's mapping (same internal
    /// port, same protocol) instead of refusing it as another client's (NOT_AUTHORIZED), so a
    /// game that crashed ends with exactly one mapping. Ignored by NAT-PMP (no nonce: the
    /// gateway keys its mapping by host and internal port already).
    pub fn with_nonce(mut self, nonce: Nonce) -> Self {
        self.first_nonce = Some(nonce);
        self
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
        if let Some(nonce) = self.first_nonce.take().filter(|_| self.method == Method::Pcp) {
            let mapping = self.client.pcp().map_with_nonce(&params, nonce).map_err(|e| from_map_error(&e.into()))?;
            return Ok(Granted {
                method: Method::Pcp,
                protocol: mapping.protocol,
                internal_port: mapping.internal_port,
                external_address: mapping.external_address,
                external_port: mapping.external_port,
                lifetime: mapping.lifetime,
                nonce: Some(mapping.nonce),
                gateway_restarted: mapping.epoch_check.is_reset(),
            });
        }
        self.client.map(&params).map(|mapping| Self::granted(&mapping)).map_err(|e| from_map_error(&e))
    }

    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        self.client.renew(&Self::mapping(granted), request.lifetime).map(|mapping| Self::granted(&mapping)).map_err(|e| from_map_error(&e))
    }

    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError> {
        self.client.delete(&Self::mapping(granted)).map(|_| ()).map_err(|e| MapperError::new(ErrorKind::Refused, e.to_string()))
    }
}

/// How many random high external ports [`UpnpBackend`] tries after the asked one conflicts
/// on a router without AddAnyPortMapping (libplum tries 4, libtorrent 10, Tailscale 1).
pub const RANDOM_PORT_TRIES: usize = 8;
/// The range the random external ports come from: the IANA dynamic ports, never below 1024.
pub const RANDOM_PORT_RANGE: std::ops::RangeInclusive<u16> = 49152..=65535;

/// The UPnP errors a router gives a finite lease it does not support: 725
/// OnlyPermanentLeasesSupported, and 402 Invalid Args (ARRIS NVG578LX, tailscale#15223).
pub const PERMANENT_LEASE_CODES: [i32; 2] = [725, 402];
/// The UPnP errors a router gives an external port it cannot map: 718 ConflictInMappingEntry,
/// 501 ActionFailed (some routers' answer to a conflict, handled so by libtorrent) and 729
/// ConflictWithOtherMechanisms (libplum).
pub const PORT_CONFLICT_CODES: [i32; 3] = [718, 501, 729];

/// Why one AddPortMapping/AddAnyPortMapping did not make a mapping.
enum AddFailure {
    /// The port is taken (one of [`PORT_CONFLICT_CODES`]); the message names the answer.
    Conflict(String),
    /// Anything else: the error to report.
    Other(MapperError),
}

fn upnp_code(fault: Option<&gdnat_igd::error::Fault>) -> Option<i32> {
    fault.map(|f| f.code.code())
}

/// An external address a rule may point at: an IP address that is not 0.0.0.0/::, loopback,
/// multicast or broadcast.
pub fn sane_external_address(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.trim().parse().ok()?;
    let bad = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || matches!(ip, IpAddr::V4(v4) if v4.is_broadcast());
    (!bad).then_some(ip)
}

/// UPnP IGD through a validated [`Gateway`], with the router quirks handled:
///
/// - the external address is read (and must be [`sane_external_address`]) before any rule is
///   made: on every map, and in each lease period before its renewal, by the keeper's watch
///   between renewals ([`Backend::current_external_address`]); a renewal whose period had no
///   sane reading (the watch failed, or there was none) reads it first itself, so a renewal
///   is one AddPortMapping when the watch confirmed the address, two requests otherwise;
/// - a finite lease refused with 725 or 402 is asked again with lease 0 (permanent), and from
///   then on every add uses lease 0; a permanent mapping is checked at each renewal by
///   reading its entry (GetSpecificPortMappingEntry), not added again, and the keeper deletes
///   it on stop like any other;
/// - an external port refused with 718, 501 or 729 is replaced by the router's choice
///   (AddAnyPortMapping, IGD v2) or by up to [`RANDOM_PORT_TRIES`] random ports from
///   [`RANDOM_PORT_RANGE`]; an external port below 1024 is only ever the one asked for;
/// - the protocol is always sent upper-case (`TCP`/`UDP`) and the internal port is always the
///   request's.
#[derive(Debug)]
pub struct UpnpBackend {
    gateway: Gateway,
    permanent_only: bool,
    jitter: crate::schedule::Jitter,
    /// A sane external address read since the last rule was made (by a map or the watch); the
    /// next renewal uses it instead of asking again, and clears it.
    confirmed_address: Option<IpAddr>,
}

impl UpnpBackend {
    /// Wraps a gateway found by discovery or from a description URL.
    pub fn new(gateway: Gateway) -> Self {
        Self { gateway, permanent_only: false, jitter: crate::schedule::Jitter::from_os(), confirmed_address: None }
    }

    /// Seeds the random external ports (tests).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.jitter = crate::schedule::Jitter::with_seed(seed);
        self
    }

    /// The router refused a finite lease: every mapping is now made permanent (lease 0).
    pub fn permanent_only(&self) -> bool {
        self.permanent_only
    }

    fn igd_protocol(protocol: Protocol) -> gdnat_igd::Protocol {
        match protocol {
            Protocol::Udp => gdnat_igd::Protocol::Udp,
            Protocol::Tcp => gdnat_igd::Protocol::Tcp,
        }
    }

    /// The external address, read now; an error when it is missing or not sane.
    fn external_address(&self) -> Result<IpAddr, MapperError> {
        let address = self.gateway.get_external_ip().map_err(|e| MapperError::new(ErrorKind::Refused, format!("external address: {e}")))?;
        sane_external_address(&address)
            .ok_or_else(|| MapperError::new(ErrorKind::Refused, format!("the gateway reports no usable external address ({address:?}); no rule was made")))
    }

    fn mapping(&self, request: &MapRequest, external_port: u16, lease: u32) -> PortMappingRequest {
        PortMappingRequest {
            remote_host: String::new(),
            external_port,
            protocol: Self::igd_protocol(request.protocol),
            internal_port: request.internal_port,
            internal_client: self.gateway.local_addr.clone(),
            description: request.description.clone(),
            lease_seconds: lease,
        }
    }

    fn lease(&self, request: &MapRequest) -> u32 {
        if self.permanent_only {
            0
        } else {
            request.lifetime
        }
    }

    /// AddPortMapping on `external_port`; a finite lease refused with 725/402 is asked again
    /// with lease 0. Only called after the external address was read and found sane.
    fn add_port(&mut self, request: &MapRequest, external_port: u16) -> Result<(), AddFailure> {
        let lease = self.lease(request);
        let error = match self.gateway.add_port_mapping(&self.mapping(request, external_port, lease)) {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let code = upnp_code(error.fault());
        if lease != 0 && code.is_some_and(|c| PERMANENT_LEASE_CODES.contains(&c)) {
            self.permanent_only = true;
            return self.add_port(request, external_port);
        }
        if code.is_some_and(|c| PORT_CONFLICT_CODES.contains(&c)) {
            return Err(AddFailure::Conflict(format!("port {external_port}: {error}")));
        }
        Err(AddFailure::Other(MapperError::new(ErrorKind::Refused, error.to_string())))
    }

    /// AddAnyPortMapping (IGD v2 only): the router's port, or `None` when it has no such
    /// action, refuses, or picks a port below 1024 that was not asked for (then deleted).
    fn add_any_port(&mut self, request: &MapRequest, wanted: u16) -> Option<u16> {
        if !self.gateway.service_type.ends_with(":2") {
            return None;
        }
        let mut result = self.gateway.add_any_port_mapping(&self.mapping(request, wanted, self.lease(request)));
        if let Err(error) = &result {
            if !self.permanent_only && upnp_code(error.fault()).is_some_and(|c| PERMANENT_LEASE_CODES.contains(&c)) {
                self.permanent_only = true;
                result = self.gateway.add_any_port_mapping(&self.mapping(request, wanted, 0));
            }
        }
        let port = result.ok()?;
        if port == 0 || (port < 1024 && port != wanted) {
            if port != 0 {
                let _ = self.gateway.delete_port_mapping(port, Self::igd_protocol(request.protocol));
            }
            return None;
        }
        Some(port)
    }

    fn granted(&self, request: &MapRequest, external_address: IpAddr, external_port: u16) -> Granted {
        Granted {
            method: Method::Upnp,
            protocol: request.protocol,
            internal_port: request.internal_port,
            external_address,
            external_port,
            lifetime: self.lease(request),
            nonce: None,
            gateway_restarted: false,
        }
    }

    /// Maps on the asked port, else on the router's choice, else on random high ports.
    fn map_any(&mut self, request: &MapRequest, external_address: IpAddr) -> Result<Granted, MapperError> {
        let wanted = request.wanted_external_port();
        let first = match self.add_port(request, wanted) {
            Ok(()) => return Ok(self.granted(request, external_address, wanted)),
            Err(AddFailure::Other(error)) => return Err(error),
            Err(AddFailure::Conflict(message)) => message,
        };
        if let Some(port) = self.add_any_port(request, wanted) {
            return Ok(self.granted(request, external_address, port));
        }
        let span = u64::from(RANDOM_PORT_RANGE.end() - RANDOM_PORT_RANGE.start()) + 1;
        let mut last = first.clone();
        for _ in 0..RANDOM_PORT_TRIES {
            let port = RANDOM_PORT_RANGE.start() + (self.jitter.next_u64() % span) as u16;
            if port == wanted {
                continue;
            }
            match self.add_port(request, port) {
                Ok(()) => return Ok(self.granted(request, external_address, port)),
                Err(AddFailure::Other(error)) => return Err(error),
                Err(AddFailure::Conflict(message)) => last = message,
            }
        }
        Err(MapperError::new(
            ErrorKind::Refused,
            format!("no external port: {first}; AddAnyPortMapping not available or refused; {RANDOM_PORT_TRIES} random ports refused, the last {last}"),
        ))
    }

    /// The address confirmed in this lease period, else one read now.
    fn address_for_renewal(&mut self) -> Result<IpAddr, MapperError> {
        match self.confirmed_address.take() {
            Some(address) => Ok(address),
            None => self.external_address(),
        }
    }

    /// A permanent mapping's check: its entry must still be ours. Missing: added again (lease
    /// 0, same port) and reported as `gateway_restarted` (the router lost it).
    fn check_permanent(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        let external_address = self.address_for_renewal()?;
        let protocol = Self::igd_protocol(granted.protocol);
        match self.gateway.get_specific_port_mapping_entry(granted.external_port, protocol) {
            Ok(entry) if entry.internal_port == request.internal_port && entry.internal_client == self.gateway.local_addr => {
                Ok(self.granted(request, external_address, granted.external_port))
            }
            Ok(entry) => Err(MapperError::new(
                ErrorKind::Refused,
                format!("the entry of external port {} now forwards to {}:{}, not to us", granted.external_port, entry.internal_client, entry.internal_port),
            )),
            Err(error) if upnp_code(error.fault()) == Some(714) => match self.add_port(request, granted.external_port) {
                Ok(()) => Ok(Granted { gateway_restarted: true, ..self.granted(request, external_address, granted.external_port) }),
                Err(AddFailure::Conflict(message)) => Err(MapperError::new(ErrorKind::Refused, message)),
                Err(AddFailure::Other(error)) => Err(error),
            },
            Err(error) => Err(MapperError::new(ErrorKind::Refused, format!("checking the permanent mapping: {error}"))),
        }
    }
}

impl Backend for UpnpBackend {
    fn method(&self) -> Method {
        Method::Upnp
    }

    fn map(&mut self, request: &MapRequest) -> Result<Granted, MapperError> {
        request.validate()?;
        // The external address is read first: a gateway without a sane one gets no rule, so
        // no permanent rule can leak from the lease-0 retry either.
        let external_address = self.external_address()?;
        let granted = self.map_any(request, external_address)?;
        self.confirmed_address = Some(external_address);
        Ok(granted)
    }

    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        request.validate()?;
        if granted.lifetime == 0 {
            return self.check_permanent(granted, request);
        }
        let external_address = self.address_for_renewal()?;
        match self.add_port(request, granted.external_port) {
            Ok(()) => Ok(self.granted(request, external_address, granted.external_port)),
            Err(AddFailure::Conflict(message)) => Err(MapperError::new(ErrorKind::Refused, message)),
            Err(AddFailure::Other(error)) => Err(error),
        }
    }

    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError> {
        self.gateway.delete_port_mapping(granted.external_port, Self::igd_protocol(granted.protocol)).map_err(|e| MapperError::new(ErrorKind::Refused, e.to_string()))
    }

    fn watches_external_address(&self) -> bool {
        true
    }

    fn current_external_address(&mut self) -> Result<IpAddr, MapperError> {
        self.confirmed_address = None;
        let address = self.external_address()?;
        self.confirmed_address = Some(address);
        Ok(address)
    }

    fn remove_stale(&mut self, stale: &Granted, description: &str) -> Result<bool, MapperError> {
        let protocol = Self::igd_protocol(stale.protocol);
        match self.gateway.get_specific_port_mapping_entry(stale.external_port, protocol) {
            Ok(entry) if entry.internal_client == self.gateway.local_addr && entry.internal_port == stale.internal_port && entry.description == description => {
                self.delete(stale).map(|()| true)
            }
            Ok(_) => Ok(false),
            Err(error) if upnp_code(error.fault()) == Some(714) => Ok(false),
            Err(error) => Err(MapperError::new(ErrorKind::Refused, format!("reading the entry of external port {}: {error}", stale.external_port))),
        }
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
    fn remove_stale(&mut self, stale: &Granted, description: &str) -> Result<bool, MapperError> {
        (**self).remove_stale(stale, description)
    }
    fn watches_external_address(&self) -> bool {
        (**self).watches_external_address()
    }
    fn current_external_address(&mut self) -> Result<IpAddr, MapperError> {
        (**self).current_external_address()
    }
}
