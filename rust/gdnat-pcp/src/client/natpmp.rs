//! The blocking NAT-PMP client (RFC 6886).

use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use gdnat_io::udp::Retransmit;
use gdnat_io::CancelToken;

use super::{ClientOptions, Endpoint};
use crate::epoch::{EpochCheck, EpochRule, EpochTracker};
use crate::error::{NatPmpDeleteError, NatPmpExternalAddressError, NatPmpMapError};
use crate::wire::natpmp::{self, Body, ResultCode};
use crate::wire::Protocol;

/// The gateway's external address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExternalAddress {
    /// The address (never 0.0.0.0: that is [`NatPmpExternalAddressError::NoExternalAddress`]).
    pub address: Ipv4Addr,
    /// The gateway's epoch.
    pub epoch: u32,
    /// What the epoch says about the gateway's state.
    pub epoch_check: EpochCheck,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// A mapping the gateway granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatPmpMapping {
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on our host.
    pub internal_port: u16,
    /// The port on the gateway's external address.
    pub external_port: u16,
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
pub struct NatPmpDeleted {
    /// What the epoch says about the gateway's state.
    pub epoch_check: EpochCheck,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// A NAT-PMP client for one gateway. Retransmits 250 ms, doubling, at most 9 sends, within
/// [`ClientOptions::call_timeout`] per call.
#[derive(Debug)]
pub struct NatPmpClient {
    endpoint: Endpoint,
    epoch: EpochTracker,
}

impl NatPmpClient {
    /// A client bound to our address towards `options.server`; `cancel` ends any call at once.
    pub fn new(options: &ClientOptions, cancel: &CancelToken) -> io::Result<Self> {
        Ok(Self { endpoint: Endpoint::open(options, cancel)?, epoch: EpochTracker::new(EpochRule::NatPmp) })
    }

    /// The epoch tracker (the last epoch seen and when).
    pub fn epoch(&self) -> &EpochTracker {
        &self.epoch
    }

    /// One exchange; a successful map answer for another internal port than `internal_port`
    /// is not ours and is dropped like any stray datagram (a refusal's fields are undefined).
    fn request(&mut self, payload: &[u8], opcode: u8, internal_port: Option<u16>) -> Result<(natpmp::Answer, EpochCheck, Duration), gdnat_io::udp::ExchangeError> {
        let ours = |answer: &natpmp::Answer| match (answer.body, internal_port) {
            (Body::Map { internal_port: echoed, .. }, Some(port)) => echoed == port || answer.result != ResultCode::Success,
            _ => true,
        };
        let (answer, meta) =
            self.endpoint.exchange(payload, Retransmit::nat_pmp, natpmp::MAX_ANSWER_LEN, &mut |data| natpmp::parse_answer(data, opcode).ok().filter(ours))?;
        let check = self.epoch.observe(answer.epoch, Instant::now());
        Ok((answer, check, meta.elapsed))
    }

    /// Asks for the gateway's external address.
    pub fn external_address(&mut self) -> Result<ExternalAddress, NatPmpExternalAddressError> {
        let (answer, epoch_check, elapsed) = self.request(&natpmp::encode_external_address_request(), natpmp::OPCODE_EXTERNAL_ADDRESS, None)?;
        match (answer.result, answer.body) {
            (ResultCode::Success, Body::ExternalAddress(address)) if !address.is_unspecified() => {
                Ok(ExternalAddress { address, epoch: answer.epoch, epoch_check, elapsed })
            }
            (ResultCode::Success, _) => Err(NatPmpExternalAddressError::NoExternalAddress),
            (result, _) => Err(NatPmpExternalAddressError::Refused { result }),
        }
    }

    /// Maps `internal_port` for `lifetime` seconds (at least 1; 0 would delete, see
    /// [`NatPmpClient::delete`]), asking for `suggested_external_port` (0: any). Sending the
    /// same request again renews the mapping.
    pub fn map(&mut self, protocol: Protocol, internal_port: u16, suggested_external_port: u16, lifetime: u32) -> Result<NatPmpMapping, NatPmpMapError> {
        let request = natpmp::encode_map_request(protocol, internal_port, suggested_external_port, lifetime.max(1));
        let (answer, epoch_check, elapsed) = self.request(&request, natpmp::map_opcode(protocol), Some(internal_port))?;
        if answer.result != ResultCode::Success {
            return Err(NatPmpMapError::Refused { result: answer.result });
        }
        let Body::Map { external_port, lifetime, .. } = answer.body else {
            return Err(NatPmpMapError::InvalidAnswer { what: "no mapping fields" });
        };
        if external_port == 0 {
            return Err(NatPmpMapError::InvalidAnswer { what: "external port 0" });
        }
        if lifetime == 0 {
            return Err(NatPmpMapError::InvalidAnswer { what: "lifetime 0" });
        }
        Ok(NatPmpMapping { protocol, internal_port, external_port, lifetime, epoch: answer.epoch, epoch_check, elapsed })
    }

    /// Deletes our mapping of `internal_port` (RFC 6886 §3.4: lifetime 0, external port 0).
    pub fn delete(&mut self, protocol: Protocol, internal_port: u16) -> Result<NatPmpDeleted, NatPmpDeleteError> {
        let request = natpmp::encode_map_request(protocol, internal_port, 0, 0);
        let (answer, epoch_check, elapsed) = self.request(&request, natpmp::map_opcode(protocol), Some(internal_port))?;
        if answer.result != ResultCode::Success {
            return Err(NatPmpDeleteError::Refused { result: answer.result });
        }
        Ok(NatPmpDeleted { epoch_check, elapsed })
    }
}
