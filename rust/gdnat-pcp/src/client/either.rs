//! PCP with NAT-PMP fallback: one client that tries PCP first and switches to NAT-PMP for
//! good when the gateway answers PCP with version 0 or UNSUPP_VERSION (RFC 6887 §9).

use std::fmt;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use gdnat_io::CancelToken;

use super::{ClientOptions, MapParams, NatPmpClient, PcpClient};
use crate::epoch::EpochCheck;
use crate::error::{NatPmpDeleteError, NatPmpExternalAddressError, NatPmpMapError, PcpDeleteError, PcpMapError};
use crate::wire::pcp::Nonce;
use crate::wire::Protocol;

/// The protocol a mapping was made with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// PCP (RFC 6887).
    Pcp,
    /// NAT-PMP (RFC 6886).
    NatPmp,
}

impl Method {
    /// `"PCP"` or `"NAT-PMP"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pcp => "PCP",
            Self::NatPmp => "NAT-PMP",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A mapping made by either protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// The protocol that made it.
    pub method: Method,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on our host.
    pub internal_port: u16,
    /// The port on the external address.
    pub external_port: u16,
    /// The gateway's external address (NAT-PMP: from a separate external-address request).
    pub external_address: IpAddr,
    /// The granted lifetime in seconds.
    pub lifetime: u32,
    /// The PCP nonce (`None` for NAT-PMP).
    pub nonce: Option<Nonce>,
    /// What the gateway's epoch said on this answer.
    pub epoch_check: EpochCheck,
    /// The time the exchanges took.
    pub elapsed: Duration,
}

/// [`PortMapClient::map`] or [`PortMapClient::renew`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// PCP failed (and the failure was not "speak NAT-PMP").
    #[error(transparent)]
    Pcp(#[from] PcpMapError),
    /// NAT-PMP's external-address request failed.
    #[error(transparent)]
    NatPmpExternalAddress(#[from] NatPmpExternalAddressError),
    /// NAT-PMP's map request failed.
    #[error(transparent)]
    NatPmp(#[from] NatPmpMapError),
}

/// [`PortMapClient::delete`] failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    /// PCP delete failed.
    #[error(transparent)]
    Pcp(#[from] PcpDeleteError),
    /// NAT-PMP delete failed.
    #[error(transparent)]
    NatPmp(#[from] NatPmpDeleteError),
    /// A NAT-PMP mapping given to a PCP-only client or the other way round.
    #[error("the mapping was made with {0}, which this client cannot use")]
    WrongMethod(Method),
}

/// PCP first, NAT-PMP when the gateway does not speak PCP; or one of them only.
#[derive(Debug)]
pub struct PortMapClient {
    pcp: PcpClient,
    natpmp: NatPmpClient,
    method: Option<Method>,
}

impl PortMapClient {
    /// A client that starts with PCP (`only: None`) or uses one protocol only.
    pub fn new(options: &ClientOptions, cancel: &CancelToken, only: Option<Method>) -> io::Result<Self> {
        Ok(Self { pcp: PcpClient::new(options, cancel)?, natpmp: NatPmpClient::new(options, cancel)?, method: only })
    }

    /// The protocol in use once known (forced, or learned from the gateway's answers).
    pub fn method(&self) -> Option<Method> {
        self.method
    }

    /// The PCP client (ANNOUNCE, nonces).
    pub fn pcp(&mut self) -> &mut PcpClient {
        &mut self.pcp
    }

    /// The NAT-PMP client.
    pub fn natpmp(&mut self) -> &mut NatPmpClient {
        &mut self.natpmp
    }

    /// Maps with PCP, or NAT-PMP when the gateway says it does not speak PCP (that choice is
    /// kept for the next calls).
    pub fn map(&mut self, params: &MapParams) -> Result<Mapping, MapError> {
        if self.method != Some(Method::NatPmp) {
            match self.pcp.map(params) {
                Ok(mapping) => {
                    self.method = Some(Method::Pcp);
                    return Ok(from_pcp(mapping));
                }
                Err(error) if error.wants_natpmp() && self.method.is_none() => self.method = Some(Method::NatPmp),
                Err(error) => return Err(error.into()),
            }
        }
        self.natpmp_map(params)
    }

    fn natpmp_map(&mut self, params: &MapParams) -> Result<Mapping, MapError> {
        let address = self.natpmp.external_address()?;
        let mapped = self.natpmp.map(params.protocol, params.internal_port, params.suggested_external_port, params.lifetime)?;
        let epoch_check = if address.epoch_check.is_reset() { address.epoch_check } else { mapped.epoch_check };
        Ok(Mapping {
            method: Method::NatPmp,
            protocol: params.protocol,
            internal_port: params.internal_port,
            external_port: mapped.external_port,
            external_address: IpAddr::V4(address.address),
            lifetime: mapped.lifetime,
            nonce: None,
            epoch_check,
            elapsed: address.elapsed + mapped.elapsed,
        })
    }

    /// Renews `mapping` with its own protocol: the same internal port, asking for the same
    /// external port (PCP: the same nonce and external address).
    pub fn renew(&mut self, mapping: &Mapping, lifetime: u32) -> Result<Mapping, MapError> {
        match (mapping.method, mapping.nonce) {
            (Method::Pcp, Some(nonce)) => {
                let previous = super::PcpMapping {
                    nonce,
                    protocol: mapping.protocol,
                    internal_port: mapping.internal_port,
                    external_port: mapping.external_port,
                    external_address: mapping.external_address,
                    lifetime: mapping.lifetime,
                    epoch: 0,
                    epoch_check: mapping.epoch_check,
                    elapsed: mapping.elapsed,
                };
                Ok(from_pcp(self.pcp.renew(&previous, lifetime)?))
            }
            _ => self.natpmp_map(&MapParams {
                protocol: mapping.protocol,
                internal_port: mapping.internal_port,
                suggested_external_port: mapping.external_port,
                suggested_external_address: None,
                lifetime,
            }),
        }
    }

    /// Deletes `mapping` with its own protocol.
    pub fn delete(&mut self, mapping: &Mapping) -> Result<EpochCheck, DeleteError> {
        match (mapping.method, mapping.nonce) {
            (Method::Pcp, Some(nonce)) => {
                Ok(self.pcp.delete_with_nonce(nonce, mapping.protocol, mapping.internal_port, mapping.external_port)?.epoch_check)
            }
            (Method::Pcp, None) => Err(DeleteError::WrongMethod(Method::Pcp)),
            (Method::NatPmp, _) => Ok(self.natpmp.delete(mapping.protocol, mapping.internal_port)?.epoch_check),
        }
    }
}

fn from_pcp(mapping: super::PcpMapping) -> Mapping {
    Mapping {
        method: Method::Pcp,
        protocol: mapping.protocol,
        internal_port: mapping.internal_port,
        external_port: mapping.external_port,
        external_address: mapping.external_address,
        lifetime: mapping.lifetime,
        nonce: Some(mapping.nonce),
        epoch_check: mapping.epoch_check,
        elapsed: mapping.elapsed,
    }
}
