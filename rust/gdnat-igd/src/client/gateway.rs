//! A WAN connection service on a router, and the port-mapping operations on it.

use super::{HttpLimits, PortMappingEntry, PortMappingRequest, Protocol, StatusInfo};
use crate::error::{
    AddAnyPortMappingError, AddPortMappingError, DeletePortMappingError, GetExternalIpError,
    GetGenericPortMappingEntryError, GetSpecificPortMappingEntryError, GetStatusInfoError,
};

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

    /// AddPortMapping.
    pub fn add_port_mapping(&self, _request: &PortMappingRequest) -> Result<(), AddPortMappingError> {
        todo!()
    }

    /// AddAnyPortMapping (IGD v2): the router picks a free external port near the requested
    /// one and returns it.
    pub fn add_any_port_mapping(&self, _request: &PortMappingRequest) -> Result<u16, AddAnyPortMappingError> {
        todo!()
    }

    /// DeletePortMapping with the wildcard remote host.
    pub fn delete_port_mapping(&self, _external_port: u16, _protocol: Protocol) -> Result<(), DeletePortMappingError> {
        todo!()
    }

    /// GetExternalIPAddress. The address is returned as the router wrote it (trimmed), which
    /// may be empty when the router has no WAN address.
    pub fn get_external_ip(&self) -> Result<String, GetExternalIpError> {
        todo!()
    }

    /// GetStatusInfo.
    pub fn get_status_info(&self) -> Result<StatusInfo, GetStatusInfoError> {
        todo!()
    }

    /// GetSpecificPortMappingEntry with the wildcard remote host.
    pub fn get_specific_port_mapping_entry(
        &self,
        _external_port: u16,
        _protocol: Protocol,
    ) -> Result<PortMappingEntry, GetSpecificPortMappingEntryError> {
        todo!()
    }

    /// GetGenericPortMappingEntry: the row at `index` of the router's table.
    pub fn get_generic_port_mapping_entry(&self, _index: u32) -> Result<PortMappingEntry, GetGenericPortMappingEntryError> {
        todo!()
    }
}
