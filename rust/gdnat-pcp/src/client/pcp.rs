//! The blocking PCP client (RFC 6887): MAP and ANNOUNCE.

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use gdnat_io::udp::{ExchangeError, Retransmit};
use gdnat_io::CancelToken;

use super::{ClientOptions, Endpoint};
use crate::epoch::{EpochCheck, EpochRule, EpochTracker};
use crate::error::{PcpAnnounceError, PcpDeleteError, PcpMapError};
use crate::wire::pcp::{self, MapRequest, Nonce, ResultCode};
use crate::wire::Protocol;

/// What to map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapParams {
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on our host.
    pub internal_port: u16,
    /// The external port we would like (0: any).
    pub suggested_external_port: u16,
    /// The external address we would like (`None`: any).
    pub suggested_external_address: Option<IpAddr>,
    /// Requested lifetime in seconds (at least 1; the gateway may grant less or more).
    pub lifetime: u32,
}

/// A mapping the gateway granted. Keep it: renewing and deleting need its nonce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpMapping {
    /// The mapping's nonce.
    pub nonce: Nonce,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on our host.
    pub internal_port: u16,
    /// The port on the gateway's external address.
    pub external_port: u16,
    /// The gateway's external address.
    pub external_address: IpAddr,
    /// The granted lifetime in seconds.
    pub lifetime: u32,
    /// The gateway's epoch.
    pub epoch: u32,
    /// What the epoch says about the gateway's state.
    pub epoch_check: EpochCheck,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// A deletion the gateway confirmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcpDeleted {
    /// What the epoch says about the gateway's state.
    pub epoch_check: EpochCheck,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// The answer to ANNOUNCE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announced {
    /// The gateway's epoch.
    pub epoch: u32,
    /// What the epoch says about the gateway's state.
    pub epoch_check: EpochCheck,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// A PCP client for one gateway. Retransmits 1 s, doubling, ± 10 % jitter, within
/// [`ClientOptions::call_timeout`] per call.
#[derive(Debug)]
pub struct PcpClient {
    endpoint: Endpoint,
    epoch: EpochTracker,
}

impl PcpClient {
    /// A client bound to our address towards `options.server`; `cancel` ends any call at once.
    pub fn new(options: &ClientOptions, cancel: &CancelToken) -> io::Result<Self> {
        Ok(Self { endpoint: Endpoint::open(options, cancel)?, epoch: EpochTracker::new(EpochRule::Pcp) })
    }

    /// The address this client sends as the PCP client address.
    pub fn client_address(&self) -> IpAddr {
        self.endpoint.local_ip()
    }

    /// The epoch tracker (the last epoch seen and when).
    pub fn epoch(&self) -> &EpochTracker {
        &self.epoch
    }

    fn send_map(&mut self, request: &MapRequest) -> Result<(pcp::Answer, EpochCheck, Duration), ExchangeError> {
        let payload = request.encode();
        let (answer, meta) =
            self.endpoint.exchange(&payload, Retransmit::pcp, pcp::MAX_MESSAGE_LEN, &mut |data| pcp::parse_map_answer(data, request).ok())?;
        let check = if answer.version == pcp::VERSION { self.epoch.observe(answer.epoch, Instant::now()) } else { EpochCheck::First };
        Ok((answer, check, meta.elapsed))
    }

    /// A new mapping with a fresh random nonce.
    pub fn map(&mut self, params: &MapParams) -> Result<PcpMapping, PcpMapError> {
        let nonce = Nonce::random().map_err(PcpMapError::Nonce)?;
        self.map_with_nonce(params, nonce)
    }

    /// A mapping with a given nonce: renews it if the gateway has it, creates it otherwise
    /// (used after a restart of our side, with the nonce of a record).
    pub fn map_with_nonce(&mut self, params: &MapParams, nonce: Nonce) -> Result<PcpMapping, PcpMapError> {
        let client = self.endpoint.local_ip();
        let request = MapRequest {
            client,
            nonce,
            protocol: params.protocol,
            internal_port: params.internal_port,
            suggested_external_port: params.suggested_external_port,
            suggested_external_address: params.suggested_external_address.unwrap_or_else(|| pcp::unspecified_like(client)),
            lifetime: params.lifetime.max(1),
        };
        let (answer, epoch_check, elapsed) = self.send_map(&request)?;
        if answer.wants_another_version() {
            return Err(PcpMapError::UnsupportedVersion { server_version: answer.version });
        }
        if answer.result != ResultCode::Success {
            return Err(PcpMapError::Refused { result: answer.result, lifetime: answer.lifetime });
        }
        let Some(map) = answer.map else {
            return Err(PcpMapError::InvalidAnswer { what: "no MAP fields" });
        };
        if map.external_port == 0 {
            return Err(PcpMapError::InvalidAnswer { what: "external port 0" });
        }
        if map.external_address.is_unspecified() {
            return Err(PcpMapError::InvalidAnswer { what: "an unspecified external address" });
        }
        if answer.lifetime == 0 {
            return Err(PcpMapError::InvalidAnswer { what: "lifetime 0" });
        }
        Ok(PcpMapping {
            nonce,
            protocol: params.protocol,
            internal_port: params.internal_port,
            external_port: map.external_port,
            external_address: map.external_address,
            lifetime: answer.lifetime,
            epoch: answer.epoch,
            epoch_check,
            elapsed,
        })
    }

    /// Renews `mapping` for `lifetime` seconds: the same nonce, protocol and internal port,
    /// asking for the same external port and address (RFC 6887 §11.2.1).
    pub fn renew(&mut self, mapping: &PcpMapping, lifetime: u32) -> Result<PcpMapping, PcpMapError> {
        let params = MapParams {
            protocol: mapping.protocol,
            internal_port: mapping.internal_port,
            suggested_external_port: mapping.external_port,
            suggested_external_address: Some(mapping.external_address),
            lifetime,
        };
        self.map_with_nonce(&params, mapping.nonce)
    }

    /// Deletes `mapping` (lifetime 0 with its nonce, RFC 6887 §15).
    pub fn delete(&mut self, mapping: &PcpMapping) -> Result<PcpDeleted, PcpDeleteError> {
        self.delete_with_nonce(mapping.nonce, mapping.protocol, mapping.internal_port, mapping.external_port)
    }

    /// Deletes the mapping of `internal_port` made with `nonce` (from a record).
    pub fn delete_with_nonce(&mut self, nonce: Nonce, protocol: Protocol, internal_port: u16, external_port: u16) -> Result<PcpDeleted, PcpDeleteError> {
        let client = self.endpoint.local_ip();
        let request = MapRequest {
            client,
            nonce,
            protocol,
            internal_port,
            suggested_external_port: external_port,
            suggested_external_address: pcp::unspecified_like(client),
            lifetime: 0,
        };
        let (answer, epoch_check, elapsed) = self.send_map(&request)?;
        if answer.wants_another_version() {
            return Err(PcpDeleteError::UnsupportedVersion { server_version: answer.version });
        }
        if answer.result != ResultCode::Success {
            return Err(PcpDeleteError::Refused { result: answer.result });
        }
        Ok(PcpDeleted { epoch_check, elapsed })
    }

    /// Sends ANNOUNCE (RFC 6887 §14.1): learns the gateway's epoch; a cheap probe of PCP.
    pub fn announce(&mut self) -> Result<Announced, PcpAnnounceError> {
        let payload = pcp::encode_announce_request(self.endpoint.local_ip());
        let (answer, meta) = self
            .endpoint
            .exchange(&payload, Retransmit::pcp, pcp::MAX_MESSAGE_LEN, &mut |data| pcp::parse_answer(data, pcp::OPCODE_ANNOUNCE).ok())?;
        if answer.wants_another_version() {
            return Err(PcpAnnounceError::UnsupportedVersion { server_version: answer.version });
        }
        let epoch_check = self.epoch.observe(answer.epoch, Instant::now());
        if answer.result != ResultCode::Success {
            return Err(PcpAnnounceError::Refused { result: answer.result });
        }
        Ok(Announced { epoch: answer.epoch, epoch_check, elapsed: meta.elapsed })
    }
}
