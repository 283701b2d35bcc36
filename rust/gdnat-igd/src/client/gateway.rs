//! A WAN connection service on a router, and the port-mapping operations on it.

use super::soap_call::{self, CallError};
use super::{HttpLimits, PortMappingEntry, PortMappingRequest, Protocol, StatusInfo};
use crate::cancel::CancelToken;
use crate::error::{
    AddAnyPortMappingError, AddPortMappingError, DeletePortMappingError, GetExternalIpError,
    GetGenericPortMappingEntryError, GetSpecificPortMappingEntryError, GetStatusInfoError, RequestError,
};
use crate::proto::address::check_external_address;
use crate::proto::decimal::Decimal;
use crate::proto::soap::{actions, value_of};

/// Most characters of an unusable external address kept in the error (untrusted text).
const MAX_SHOWN_ADDRESS: usize = 64;

/// A WANIPConnection or WANPPPConnection service: where to send SOAP, in which service
/// namespace, and the LAN address the router sees us at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gateway {
    /// Absolute control URL (`http://host:port/path`).
    pub control_url: String,
    /// Service type, for example `urn:schemas-upnp-org:service:WANIPConnection:2`.
    pub service_type: String,
    /// Our local address on the socket that reached the router (`NewInternalClient`).
    pub local_addr: String,
    /// Bounds of every SOAP exchange.
    pub limits: HttpLimits,
}

impl Gateway {
    /// A gateway from its three strings, with default limits. Nothing is checked here; a bad
    /// URL fails each operation with `RequestError::InvalidUrl` before anything is sent.
    pub fn new(control_url: impl Into<String>, service_type: impl Into<String>, local_addr: impl Into<String>) -> Self {
        Self {
            control_url: control_url.into(),
            service_type: service_type.into(),
            local_addr: local_addr.into(),
            limits: HttpLimits::default(),
        }
    }

    /// This gateway's operations, each ended at once with `RequestError::Cancelled` when
    /// `cancel` (or an ancestor of it) is cancelled, wherever the exchange is blocked:
    /// connecting, sending or waiting for the answer.
    pub fn with_cancel<'a>(&'a self, cancel: &'a CancelToken) -> CancellableGateway<'a> {
        CancellableGateway { gateway: self, cancel }
    }

    /// AddPortMapping.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn add_port_mapping(&self, request: &PortMappingRequest) -> Result<(), AddPortMappingError> {
        self.with_cancel(&CancelToken::new()).add_port_mapping(request)
    }

    /// AddAnyPortMapping (IGD v2): the router picks a free external port near the requested
    /// one and returns it.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn add_any_port_mapping(&self, request: &PortMappingRequest) -> Result<u16, AddAnyPortMappingError> {
        self.with_cancel(&CancelToken::new()).add_any_port_mapping(request)
    }

    /// DeletePortMapping with the wildcard remote host.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn delete_port_mapping(&self, external_port: u16, protocol: Protocol) -> Result<(), DeletePortMappingError> {
        self.with_cancel(&CancelToken::new()).delete_port_mapping(external_port, protocol)
    }

    /// GetExternalIPAddress. The address is returned as the router wrote it (trimmed), which
    /// may be empty when the router has no WAN address.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn get_external_ip(&self) -> Result<String, GetExternalIpError> {
        self.with_cancel(&CancelToken::new()).get_external_ip()
    }

    /// GetStatusInfo.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn get_status_info(&self) -> Result<StatusInfo, GetStatusInfoError> {
        self.with_cancel(&CancelToken::new()).get_status_info()
    }

    /// GetSpecificPortMappingEntry with the wildcard remote host.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn get_specific_port_mapping_entry(&self, external_port: u16, protocol: Protocol) -> Result<PortMappingEntry, GetSpecificPortMappingEntryError> {
        self.with_cancel(&CancelToken::new()).get_specific_port_mapping_entry(external_port, protocol)
    }

    /// GetGenericPortMappingEntry: the row at `index` of the router's table.
    ///
    /// Not cancellable: see [`with_cancel`](Self::with_cancel).
    pub fn get_generic_port_mapping_entry(&self, index: u32) -> Result<PortMappingEntry, GetGenericPortMappingEntryError> {
        self.with_cancel(&CancelToken::new()).get_generic_port_mapping_entry(index)
    }
}

/// The operations of a [`Gateway`] under a [`CancelToken`] ([`Gateway::with_cancel`]).
#[derive(Clone, Copy, Debug)]
pub struct CancellableGateway<'a> {
    gateway: &'a Gateway,
    cancel: &'a CancelToken,
}

impl CancellableGateway<'_> {
    fn call(&self, action: &str, args: &[(&str, &str)]) -> Result<Vec<(String, String)>, CallError> {
        soap_call::call(&self.gateway.control_url, &self.gateway.service_type, action, args, &self.gateway.limits, self.cancel)
    }

    /// AddPortMapping.
    pub fn add_port_mapping(&self, request: &PortMappingRequest) -> Result<(), AddPortMappingError> {
        let numbers = MappingNumbers::of(request);
        self.call(actions::ADD_PORT_MAPPING, &mapping_args(request, &numbers)).map_err(CallError::into_op::<AddPortMappingError>)?;
        Ok(())
    }

    /// AddAnyPortMapping (IGD v2): the router picks a free external port near the requested
    /// one and returns it.
    pub fn add_any_port_mapping(&self, request: &PortMappingRequest) -> Result<u16, AddAnyPortMappingError> {
        let numbers = MappingNumbers::of(request);
        let answer =
            self.call(actions::ADD_ANY_PORT_MAPPING, &mapping_args(request, &numbers)).map_err(CallError::into_op::<AddAnyPortMappingError>)?;
        let fields = Fields { values: &answer, url: &self.gateway.control_url };
        Ok(fields.port("NewReservedPort")?)
    }

    /// DeletePortMapping with the wildcard remote host.
    pub fn delete_port_mapping(&self, external_port: u16, protocol: Protocol) -> Result<(), DeletePortMappingError> {
        let port = Decimal::of(external_port.into());
        let args = key_args(port.as_str(), protocol);
        self.call(actions::DELETE_PORT_MAPPING, &args).map_err(CallError::into_op::<DeletePortMappingError>)?;
        Ok(())
    }

    /// GetExternalIPAddress. The address is returned as the router wrote it (trimmed), which
    /// may be empty when the router has no WAN address. Text that is no IP address, `0.0.0.0`,
    /// `::` or a loopback address is [`RequestError::InvalidExternalAddress`].
    pub fn get_external_ip(&self) -> Result<String, GetExternalIpError> {
        let answer = self.call(actions::GET_EXTERNAL_IP_ADDRESS, &[]).map_err(CallError::into_op::<GetExternalIpError>)?;
        let fields = Fields { values: &answer, url: &self.gateway.control_url };
        let address = fields.required("NewExternalIPAddress")?.trim().to_string();
        match check_external_address(&address) {
            Ok(_) => Ok(address),
            Err(problem) => Err(RequestError::InvalidExternalAddress {
                url: self.gateway.control_url.clone(),
                value: address.chars().take(MAX_SHOWN_ADDRESS).collect(),
                reason: problem.reason(),
            }
            .into()),
        }
    }

    /// GetStatusInfo.
    pub fn get_status_info(&self) -> Result<StatusInfo, GetStatusInfoError> {
        let answer = self.call(actions::GET_STATUS_INFO, &[]).map_err(CallError::into_op::<GetStatusInfoError>)?;
        let fields = Fields { values: &answer, url: &self.gateway.control_url };
        Ok(StatusInfo {
            connection_status: fields.required("NewConnectionStatus")?.trim().to_string(),
            last_connection_error: fields.optional("NewLastConnectionError").trim().to_string(),
            uptime_seconds: fields.optional("NewUptime").trim().parse().ok(),
        })
    }

    /// GetSpecificPortMappingEntry with the wildcard remote host.
    pub fn get_specific_port_mapping_entry(
        &self,
        external_port: u16,
        protocol: Protocol,
    ) -> Result<PortMappingEntry, GetSpecificPortMappingEntryError> {
        let port = Decimal::of(external_port.into());
        let args = key_args(port.as_str(), protocol);
        let answer = self.call(actions::GET_SPECIFIC_PORT_MAPPING_ENTRY, &args).map_err(CallError::into_op::<GetSpecificPortMappingEntryError>)?;
        let fields = Fields { values: &answer, url: &self.gateway.control_url };
        Ok(PortMappingEntry {
            remote_host: String::new(),
            external_port,
            protocol: protocol.as_str().to_string(),
            internal_port: fields.port("NewInternalPort")?,
            internal_client: fields.required("NewInternalClient")?.trim().to_string(),
            enabled: fields.enabled()?,
            description: fields.optional("NewPortMappingDescription").to_string(),
            lease_seconds: fields.lease()?,
        })
    }

    /// GetGenericPortMappingEntry: the row at `index` of the router's table.
    pub fn get_generic_port_mapping_entry(&self, index: u32) -> Result<PortMappingEntry, GetGenericPortMappingEntryError> {
        let index = index.to_string();
        let args = [(actions::GENERIC_ENTRY_ARGS[0], index.as_str())];
        let answer = self.call(actions::GET_GENERIC_PORT_MAPPING_ENTRY, &args).map_err(CallError::into_op::<GetGenericPortMappingEntryError>)?;
        let fields = Fields { values: &answer, url: &self.gateway.control_url };
        Ok(PortMappingEntry {
            remote_host: fields.optional("NewRemoteHost").trim().to_string(),
            external_port: fields.port("NewExternalPort")?,
            protocol: fields.required("NewProtocol")?.trim().to_string(),
            internal_port: fields.port("NewInternalPort")?,
            internal_client: fields.required("NewInternalClient")?.trim().to_string(),
            enabled: fields.enabled()?,
            description: fields.optional("NewPortMappingDescription").to_string(),
            lease_seconds: fields.lease()?,
        })
    }
}

/// The numbers among an AddPortMapping's arguments, as text.
struct MappingNumbers {
    external_port: Decimal,
    internal_port: Decimal,
    lease_seconds: Decimal,
}

impl MappingNumbers {
    fn of(request: &PortMappingRequest) -> Self {
        Self {
            external_port: Decimal::of(request.external_port.into()),
            internal_port: Decimal::of(request.internal_port.into()),
            lease_seconds: Decimal::of(request.lease_seconds.into()),
        }
    }
}

/// The arguments of AddPortMapping and AddAnyPortMapping, in [`actions::ADD_PORT_MAPPING_ARGS`]
/// order.
fn mapping_args<'a>(request: &'a PortMappingRequest, numbers: &'a MappingNumbers) -> [(&'static str, &'a str); 8] {
    let values = [
        request.remote_host.as_str(),
        numbers.external_port.as_str(),
        request.protocol.as_str(),
        numbers.internal_port.as_str(),
        request.internal_client.as_str(),
        "1",
        request.description.as_str(),
        numbers.lease_seconds.as_str(),
    ];
    let mut args = [("", ""); 8];
    for (slot, (name, value)) in args.iter_mut().zip(actions::ADD_PORT_MAPPING_ARGS.iter().zip(values)) {
        *slot = (*name, value);
    }
    args
}

fn key_args(port: &str, protocol: Protocol) -> [(&'static str, &str); 3] {
    let names = actions::PORT_KEY_ARGS;
    [(names[0], ""), (names[1], port), (names[2], protocol.as_str())]
}

/// Out-arguments of one answer, read with typed errors.
struct Fields<'a> {
    values: &'a [(String, String)],
    url: &'a str,
}

impl Fields<'_> {
    fn optional(&self, name: &'static str) -> &str {
        value_of(self.values, name).unwrap_or_default()
    }

    fn required(&self, name: &'static str) -> Result<&str, RequestError> {
        value_of(self.values, name).ok_or_else(|| RequestError::MissingElement { url: self.url.to_string(), element: name })
    }

    fn invalid(&self, element: &'static str, value: &str) -> RequestError {
        RequestError::InvalidValue { url: self.url.to_string(), element, value: value.chars().take(64).collect() }
    }

    fn port(&self, name: &'static str) -> Result<u16, RequestError> {
        let text = self.required(name)?;
        text.trim().parse().map_err(|_| self.invalid(name, text))
    }

    fn lease(&self) -> Result<u32, RequestError> {
        const NAME: &str = "NewLeaseDuration";
        match value_of(self.values, NAME) {
            None => Ok(0),
            Some(text) => text.trim().parse().map_err(|_| self.invalid(NAME, text)),
        }
    }

    fn enabled(&self) -> Result<bool, RequestError> {
        const NAME: &str = "NewEnabled";
        match value_of(self.values, NAME).map(str::trim) {
            None => Ok(true),
            Some("1") => Ok(true),
            Some("0") => Ok(false),
            Some(text) if text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("yes") => Ok(true),
            Some(text) if text.eq_ignore_ascii_case("false") || text.eq_ignore_ascii_case("no") => Ok(false),
            Some(text) => Err(self.invalid(NAME, text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_arguments_come_in_the_order_routers_expect() {
        let request = PortMappingRequest {
            remote_host: String::new(),
            external_port: 40_000,
            protocol: Protocol::Udp,
            internal_port: 40_001,
            internal_client: "10.77.0.2".into(),
            description: "gdnat".into(),
            lease_seconds: 3600,
        };
        let numbers = MappingNumbers::of(&request);
        let args = mapping_args(&request, &numbers);
        let expected = ["", "40000", "UDP", "40001", "10.77.0.2", "1", "gdnat", "3600"];
        assert_eq!(args.map(|(name, _)| name), actions::ADD_PORT_MAPPING_ARGS);
        assert_eq!(args.map(|(_, value)| value), expected);
    }
}
