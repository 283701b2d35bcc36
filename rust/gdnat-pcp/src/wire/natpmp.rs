//! NAT-PMP (RFC 6886) requests and answers.
//!
//! Requests: external address (2 bytes) and map (12 bytes; lifetime 0 deletes). Answers: the
//! 8-byte header (version 0, opcode 128 + request opcode, result code, seconds since the start
//! of the gateway's epoch) followed by the opcode's fields. An answer with a non-zero result
//! code is also taken when it carries only the header (RFC 6886 §3.5 leaves the rest undefined,
//! and "unsupported version" answers are 8 bytes long).

use std::fmt;
use std::net::Ipv4Addr;

use super::{u16_at, u32_at, Ignored, Protocol};

/// The UDP port a NAT-PMP (and PCP) server listens on.
pub const SERVER_PORT: u16 = 5351;
/// The version byte of NAT-PMP.
pub const VERSION: u8 = 0;
/// Opcode of the external-address request.
pub const OPCODE_EXTERNAL_ADDRESS: u8 = 0;
/// The response bit added to the request's opcode in every answer.
pub const RESPONSE_BIT: u8 = 0x80;
/// Length of an external-address answer.
pub const EXTERNAL_ADDRESS_ANSWER_LEN: usize = 12;
/// Length of a map answer.
pub const MAP_ANSWER_LEN: usize = 16;
/// Length of the answer header (all a refusal must carry).
pub const HEADER_LEN: usize = 8;
/// The largest answer any NAT-PMP request gets; a receive buffer one byte larger shows longer ones.
pub const MAX_ANSWER_LEN: usize = MAP_ANSWER_LEN;

/// The NAT-PMP opcode of a mapping of `protocol` (1 UDP, 2 TCP).
pub fn map_opcode(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Udp => 1,
        Protocol::Tcp => 2,
    }
}

/// The external-address request.
pub fn encode_external_address_request() -> [u8; 2] {
    [VERSION, OPCODE_EXTERNAL_ADDRESS]
}

/// A map request: `lifetime` 0 with `suggested_external_port` 0 deletes the mapping of
/// `internal_port` (RFC 6886 §3.4).
pub fn encode_map_request(protocol: Protocol, internal_port: u16, suggested_external_port: u16, lifetime: u32) -> [u8; 12] {
    let mut request = [0u8; 12];
    request[0] = VERSION;
    request[1] = map_opcode(protocol);
    request[4..6].copy_from_slice(&internal_port.to_be_bytes());
    request[6..8].copy_from_slice(&suggested_external_port.to_be_bytes());
    request[8..12].copy_from_slice(&lifetime.to_be_bytes());
    request
}

/// A NAT-PMP result code (RFC 6886 §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0: success.
    Success,
    /// 1: the gateway does not speak this version.
    UnsupportedVersion,
    /// 2: not authorized or refused (NAT-PMP switched off for this host, or the port is denied).
    NotAuthorized,
    /// 3: network failure (for example, the gateway has no external address yet).
    NetworkFailure,
    /// 4: out of resources (no more mappings).
    OutOfResources,
    /// 5: unsupported opcode.
    UnsupportedOpcode,
    /// Any other code.
    Other(u16),
}

impl ResultCode {
    /// The code of its number.
    pub fn from_number(number: u16) -> Self {
        match number {
            0 => Self::Success,
            1 => Self::UnsupportedVersion,
            2 => Self::NotAuthorized,
            3 => Self::NetworkFailure,
            4 => Self::OutOfResources,
            5 => Self::UnsupportedOpcode,
            other => Self::Other(other),
        }
    }

    /// Its number on the wire.
    pub fn number(self) -> u16 {
        match self {
            Self::Success => 0,
            Self::UnsupportedVersion => 1,
            Self::NotAuthorized => 2,
            Self::NetworkFailure => 3,
            Self::OutOfResources => 4,
            Self::UnsupportedOpcode => 5,
            Self::Other(number) => number,
        }
    }

    /// RFC 6886's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::UnsupportedVersion => "Unsupported Version",
            Self::NotAuthorized => "Not Authorized/Refused",
            Self::NetworkFailure => "Network Failure",
            Self::OutOfResources => "Out of resources",
            Self::UnsupportedOpcode => "Unsupported opcode",
            Self::Other(_) => "unknown result code",
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NAT-PMP result {} ({})", self.number(), self.name())
    }
}

/// The fields of an answer after the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// A refusal that carried only the header.
    None,
    /// The external-address answer.
    ExternalAddress(Ipv4Addr),
    /// The map answer.
    Map {
        /// The internal port (echoed).
        internal_port: u16,
        /// The external port the gateway chose.
        external_port: u16,
        /// The granted lifetime in seconds (0 after a delete).
        lifetime: u32,
    },
}

/// A parsed NAT-PMP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The opcode without the response bit (0 external address, 1 UDP, 2 TCP).
    pub opcode: u8,
    /// The result code.
    pub result: ResultCode,
    /// Seconds since the start of the gateway's epoch.
    pub epoch: u32,
    /// The fields after the header.
    pub body: Body,
}

/// Parses the answer to a request with `request_opcode` (0, 1 or 2). Anything else, of the
/// wrong size or version, is [`Ignored`].
pub fn parse_answer(data: &[u8], request_opcode: u8) -> Result<Answer, Ignored> {
    if data.len() < 2 {
        return Err(Ignored::WrongSize { len: data.len() });
    }
    if data[0] != VERSION {
        return Err(Ignored::WrongVersion { version: data[0] });
    }
    if data[1] != RESPONSE_BIT | request_opcode {
        return Err(Ignored::WrongOpcode { opcode: data[1] });
    }
    let full_len = if request_opcode == OPCODE_EXTERNAL_ADDRESS { EXTERNAL_ADDRESS_ANSWER_LEN } else { MAP_ANSWER_LEN };
    if data.len() < HEADER_LEN || data.len() > full_len {
        return Err(Ignored::WrongSize { len: data.len() });
    }
    let result = ResultCode::from_number(u16_at(data, 2));
    let epoch = u32_at(data, 4);
    if data.len() == HEADER_LEN && result != ResultCode::Success {
        return Ok(Answer { opcode: request_opcode, result, epoch, body: Body::None });
    }
    if data.len() != full_len {
        return Err(Ignored::WrongSize { len: data.len() });
    }
    let body = if request_opcode == OPCODE_EXTERNAL_ADDRESS {
        Body::ExternalAddress(Ipv4Addr::new(data[8], data[9], data[10], data[11]))
    } else {
        Body::Map { internal_port: u16_at(data, 8), external_port: u16_at(data, 10), lifetime: u32_at(data, 12) }
    };
    Ok(Answer { opcode: request_opcode, result, epoch, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::hex;

    // Every request and answer below is from the real miniupnpd 2.3.1 on the test bed
    // (tests/data/miniupnpd/natpmp/wire-natpmp-pcp.hex.txt).

    #[test]
    fn requests_match_natpmpc_on_the_wire() {
        assert_eq!(encode_external_address_request().to_vec(), hex("0000"));
        assert_eq!(encode_map_request(Protocol::Tcp, 7778, 7778, 3600).to_vec(), hex("000200001e621e6200000e10"));
        assert_eq!(encode_map_request(Protocol::Tcp, 7778, 7778, 0).to_vec(), hex("000200001e621e6200000000"));
        assert_eq!(encode_map_request(Protocol::Udp, 1, 2, 3)[1], 1);
    }

    #[test]
    fn miniupnpd_answers_parse() {
        let address = parse_answer(&hex("0080000000000009c6336401"), 0).unwrap();
        assert_eq!(address, Answer { opcode: 0, result: ResultCode::Success, epoch: 9, body: Body::ExternalAddress(Ipv4Addr::new(198, 51, 100, 1)) });
        let map = parse_answer(&hex("00820000000000091e621e6200000e10"), 2).unwrap();
        assert_eq!(map.body, Body::Map { internal_port: 7778, external_port: 7778, lifetime: 3600 });
        // miniupnpd answers a delete with external port 0 and lifetime 0.
        let unmap = parse_answer(&hex("00820000000000091e62000000000000"), 2).unwrap();
        assert_eq!(unmap.body, Body::Map { internal_port: 7778, external_port: 0, lifetime: 0 });
    }

    #[test]
    fn refusals_with_only_the_header_are_answers() {
        let refusal = parse_answer(&hex("0081000200000009"), 1).unwrap();
        assert_eq!((refusal.result, refusal.body), (ResultCode::NotAuthorized, Body::None));
        assert_eq!(parse_answer(&hex("0080000300000009"), 0).unwrap().result, ResultCode::NetworkFailure);
        // A success must carry its fields.
        assert_eq!(parse_answer(&hex("0080000000000009"), 0), Err(Ignored::WrongSize { len: 8 }));
    }

    #[test]
    fn wrong_packets_are_ignored() {
        let good = hex("00820000000000091e621e6200000e10");
        assert_eq!(parse_answer(&good[..15], 2), Err(Ignored::WrongSize { len: 15 }));
        let mut long = good.clone();
        long.push(0);
        assert_eq!(parse_answer(&long, 2), Err(Ignored::WrongSize { len: 17 }));
        assert_eq!(parse_answer(&good, 1), Err(Ignored::WrongOpcode { opcode: 0x82 }));
        assert_eq!(parse_answer(&hex("0002"), 2), Err(Ignored::WrongOpcode { opcode: 0x02 }), "our own request echoed");
        let mut pcp = good.clone();
        pcp[0] = 2;
        assert_eq!(parse_answer(&pcp, 2), Err(Ignored::WrongVersion { version: 2 }));
        assert_eq!(parse_answer(&[], 0), Err(Ignored::WrongSize { len: 0 }));
        assert_eq!(parse_answer(&[0], 0), Err(Ignored::WrongSize { len: 1 }));
        assert_eq!(parse_answer(&hex("0080000100"), 0), Err(Ignored::WrongSize { len: 5 }));
    }

    #[test]
    fn result_codes_round_trip_and_name_themselves() {
        for number in 0..8u16 {
            assert_eq!(ResultCode::from_number(number).number(), number);
        }
        assert_eq!(ResultCode::NotAuthorized.to_string(), "NAT-PMP result 2 (Not Authorized/Refused)");
    }
}
