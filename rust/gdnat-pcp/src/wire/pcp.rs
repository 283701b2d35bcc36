//! PCP (RFC 6887) requests and answers: MAP (§11) and ANNOUNCE (§14.1), IPv4 and IPv6
//! addresses (IPv4 travels as an IPv4-mapped IPv6 address, §5).
//!
//! Answers are checked as RFC 6887 §8.3 asks: at least 24 and at most 1100 bytes, a multiple of
//! 4, the response bit set, the request's opcode, and for MAP the request's nonce, protocol and
//! internal port. A version-0 answer is a NAT-PMP gateway telling us it does not speak PCP
//! (RFC 6887 §9); it is parsed as [`Answer::version`] 0 so the client can fall back.
//! Options after the opcode's fields are skipped (gdnat sends none and needs none).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{u32_at, Ignored, Protocol};

/// The version byte of PCP.
pub const VERSION: u8 = 2;
/// ANNOUNCE opcode.
pub const OPCODE_ANNOUNCE: u8 = 0;
/// MAP opcode.
pub const OPCODE_MAP: u8 = 1;
/// The response bit of the opcode byte.
pub const RESPONSE_BIT: u8 = 0x80;
/// The common header.
pub const HEADER_LEN: usize = 24;
/// MAP's opcode-specific fields.
pub const MAP_FIELDS_LEN: usize = 36;
/// A MAP request or answer without options.
pub const MAP_LEN: usize = HEADER_LEN + MAP_FIELDS_LEN;
/// The largest PCP message (RFC 6887 §7).
pub const MAX_MESSAGE_LEN: usize = 1100;
/// The port clients listen on for unsolicited ANNOUNCEs (RFC 6887 §8.1).
pub const CLIENT_PORT: u16 = 5350;
/// The IPv4 group gateways multicast unsolicited ANNOUNCEs to (RFC 6887 §8.5).
pub const ANNOUNCE_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 1);

/// The 96-bit mapping nonce (RFC 6887 §11.1): chosen at random for a new mapping and sent
/// again, unchanged, to renew or delete it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 12]);

impl Nonce {
    /// A fresh nonce from the operating system's random source.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The nonce of 24 hex digits (for records and tests).
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.trim();
        if text.len() != 24 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 12];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * index..2 * index + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

/// The 16-byte form of an address: IPv6 as it is, IPv4 as `::ffff:a.b.c.d`.
pub fn address_bytes(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The address of a 16-byte field: an IPv4-mapped address becomes IPv4.
pub fn address_from_bytes(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// The "no preference" suggested external address of the client's family (RFC 6887 §11.1:
/// all zeros, IPv4-mapped for IPv4).
pub fn unspecified_like(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

fn header(opcode: u8, lifetime: u32, client: IpAddr) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[0] = VERSION;
    header[1] = opcode;
    header[4..8].copy_from_slice(&lifetime.to_be_bytes());
    header[8..24].copy_from_slice(&address_bytes(client));
    header
}

/// A MAP request (RFC 6887 §11.1). `lifetime` 0 with the mapping's nonce deletes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRequest {
    /// Our address as the gateway sees it on the LAN (the PCP client IP address).
    pub client: IpAddr,
    /// The mapping's nonce.
    pub nonce: Nonce,
    /// UDP or TCP.
    pub protocol: Protocol,
    /// The port on our host.
    pub internal_port: u16,
    /// The external port we would like (0: any).
    pub suggested_external_port: u16,
    /// The external address we would like (unspecified: any).
    pub suggested_external_address: IpAddr,
    /// Requested lifetime in seconds; 0 deletes.
    pub lifetime: u32,
}

impl MapRequest {
    /// The 60-byte datagram.
    pub fn encode(&self) -> [u8; MAP_LEN] {
        let mut request = [0u8; MAP_LEN];
        request[..HEADER_LEN].copy_from_slice(&header(OPCODE_MAP, self.lifetime, self.client));
        request[24..36].copy_from_slice(&self.nonce.0);
        request[36] = self.protocol.iana_number();
        request[40..42].copy_from_slice(&self.internal_port.to_be_bytes());
        request[42..44].copy_from_slice(&self.suggested_external_port.to_be_bytes());
        request[44..60].copy_from_slice(&address_bytes(self.suggested_external_address));
        request
    }
}

/// An ANNOUNCE request (RFC 6887 §14.1): the header with lifetime 0. Its answer carries the
/// gateway's epoch, so it also serves as a cheap "does this gateway speak PCP" probe.
pub fn encode_announce_request(client: IpAddr) -> [u8; HEADER_LEN] {
    header(OPCODE_ANNOUNCE, 0, client)
}

/// A PCP result code (RFC 6887 §7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// 0.
    Success,
    /// 1: the server does not speak this version.
    UnsuppVersion,
    /// 2: the request is not allowed (policy, a denied port, or another nonce than the mapping's).
    NotAuthorized,
    /// 3: the request could not be parsed.
    MalformedRequest,
    /// 4: unsupported opcode.
    UnsuppOpcode,
    /// 5: an unsupported mandatory option.
    UnsuppOption,
    /// 6: a malformed option.
    MalformedOption,
    /// 7: the server or its external side is failing (for example, no external address yet).
    NetworkFailure,
    /// 8: out of resources (table full, or no external address usable).
    NoResources,
    /// 9: unsupported protocol.
    UnsuppProtocol,
    /// 10: this host's quota of mappings is used up.
    UserExQuota,
    /// 11: the suggested external address or port cannot be given (PREFER_FAILURE or a
    /// changed address).
    CannotProvideExternal,
    /// 12: the client address in the header is not the packet's source (a NAT between us
    /// and the gateway).
    AddressMismatch,
    /// 13: too many remote peers (PEER).
    ExcessiveRemotePeers,
    /// Any other code.
    Other(u8),
}

impl ResultCode {
    /// The code of its number.
    pub fn from_number(number: u8) -> Self {
        match number {
            0 => Self::Success,
            1 => Self::UnsuppVersion,
            2 => Self::NotAuthorized,
            3 => Self::MalformedRequest,
            4 => Self::UnsuppOpcode,
            5 => Self::UnsuppOption,
            6 => Self::MalformedOption,
            7 => Self::NetworkFailure,
            8 => Self::NoResources,
            9 => Self::UnsuppProtocol,
            10 => Self::UserExQuota,
            11 => Self::CannotProvideExternal,
            12 => Self::AddressMismatch,
            13 => Self::ExcessiveRemotePeers,
            other => Self::Other(other),
        }
    }

    /// Its number on the wire.
    pub fn number(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::UnsuppVersion => 1,
            Self::NotAuthorized => 2,
            Self::MalformedRequest => 3,
            Self::UnsuppOpcode => 4,
            Self::UnsuppOption => 5,
            Self::MalformedOption => 6,
            Self::NetworkFailure => 7,
            Self::NoResources => 8,
            Self::UnsuppProtocol => 9,
            Self::UserExQuota => 10,
            Self::CannotProvideExternal => 11,
            Self::AddressMismatch => 12,
            Self::ExcessiveRemotePeers => 13,
            Self::Other(number) => number,
        }
    }

    /// RFC 6887's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::UnsuppVersion => "UNSUPP_VERSION",
            Self::NotAuthorized => "NOT_AUTHORIZED",
            Self::MalformedRequest => "MALFORMED_REQUEST",
            Self::UnsuppOpcode => "UNSUPP_OPCODE",
            Self::UnsuppOption => "UNSUPP_OPTION",
            Self::MalformedOption => "MALFORMED_OPTION",
            Self::NetworkFailure => "NETWORK_FAILURE",
            Self::NoResources => "NO_RESOURCES",
            Self::UnsuppProtocol => "UNSUPP_PROTOCOL",
            Self::UserExQuota => "USER_EX_QUOTA",
            Self::CannotProvideExternal => "CANNOT_PROVIDE_EXTERNAL",
            Self::AddressMismatch => "ADDRESS_MISMATCH",
            Self::ExcessiveRemotePeers => "EXCESSIVE_REMOTE_PEERS",
            Self::Other(_) => "unknown result code",
        }
    }

    /// RFC 6887 §7.4: long-term errors (the same request will fail again until something
    /// changes on the gateway) as opposed to short-term ones worth retrying later.
    pub fn is_long_term(self) -> bool {
        matches!(
            self,
            Self::UnsuppVersion
                | Self::NotAuthorized
                | Self::MalformedRequest
                | Self::UnsuppOpcode
                | Self::UnsuppOption
                | Self::MalformedOption
                | Self::UnsuppProtocol
                | Self::AddressMismatch
        )
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PCP result {} ({})", self.number(), self.name())
    }
}

/// The MAP fields of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapFields {
    /// The nonce (checked against the request by [`parse_map_answer`]).
    pub nonce: Nonce,
    /// UDP or TCP, `None` for another protocol number.
    pub protocol: Option<Protocol>,
    /// The internal port (echoed).
    pub internal_port: u16,
    /// The external port the gateway assigned.
    pub external_port: u16,
    /// The external address the gateway assigned.
    pub external_address: IpAddr,
}

/// A parsed PCP answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The version byte: 2, or 0 for a NAT-PMP gateway's "unsupported version" (whose other
    /// fields are then the NAT-PMP header's: result 1, the epoch), or 1 from a PCPv1 server.
    pub version: u8,
    /// The opcode without the response bit.
    pub opcode: u8,
    /// The result code (for version 0, the NAT-PMP result number's low byte).
    pub result: ResultCode,
    /// Granted lifetime on success; on an error, how long the error is likely to last.
    pub lifetime: u32,
    /// Seconds since the start of the gateway's epoch.
    pub epoch: u32,
    /// MAP fields, for a full MAP answer.
    pub map: Option<MapFields>,
}

impl Answer {
    /// True when the gateway says it does not speak PCP version 2: a version-0 (NAT-PMP)
    /// answer, or UNSUPP_VERSION (RFC 6887 §9): time to fall back to NAT-PMP.
    pub fn wants_another_version(&self) -> bool {
        self.version != VERSION || self.result == ResultCode::UnsuppVersion
    }
}

/// Parses any PCP answer to a request with `request_opcode`, or a NAT-PMP (version 0)
/// answer with that opcode (8 to 16 bytes). Everything else is [`Ignored`]. MAP fields are
/// read when the answer is long enough to hold them; [`parse_map_answer`] also checks them.
pub fn parse_answer(data: &[u8], request_opcode: u8) -> Result<Answer, Ignored> {
    if data.len() < 2 {
        return Err(Ignored::WrongSize { len: data.len() });
    }
    let (version, opcode) = (data[0], data[1]);
    if opcode != RESPONSE_BIT | request_opcode {
        return Err(Ignored::WrongOpcode { opcode });
    }
    if version == 0 {
        // A NAT-PMP server's refusal of an unknown version: the 8-byte NAT-PMP header.
        if !(8..=16).contains(&data.len()) {
            return Err(Ignored::WrongSize { len: data.len() });
        }
        let result = ResultCode::from_number(if data[2] == 0 { data[3] } else { u8::MAX });
        return Ok(Answer { version, opcode: request_opcode, result, lifetime: 0, epoch: u32_at(data, 4), map: None });
    }
    if data.len() < HEADER_LEN || data.len() > MAX_MESSAGE_LEN || !data.len().is_multiple_of(4) {
        return Err(Ignored::WrongSize { len: data.len() });
    }
    if version != VERSION && version != 1 {
        return Err(Ignored::WrongVersion { version });
    }
    let result = ResultCode::from_number(data[3]);
    let lifetime = u32_at(data, 4);
    let epoch = u32_at(data, 8);
    let map = (request_opcode == OPCODE_MAP && version == VERSION && data.len() >= MAP_LEN).then(|| {
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&data[24..36]);
        let mut address = [0u8; 16];
        address.copy_from_slice(&data[44..60]);
        MapFields {
            nonce: Nonce(nonce),
            protocol: Protocol::from_iana_number(data[36]),
            internal_port: u16::from_be_bytes([data[40], data[41]]),
            external_port: u16::from_be_bytes([data[42], data[43]]),
            external_address: address_from_bytes(address),
        }
    });
    Ok(Answer { version, opcode: request_opcode, result, lifetime, epoch, map })
}

/// Parses the answer to `request`: a version-2 MAP answer must echo its nonce, protocol and
/// internal port (RFC 6887 §11.3), else it is [`Ignored::NotOurMapping`]. A version-2 MAP answer
/// too short for the MAP fields is ignored, unless its result says the server could not read
/// the request (UNSUPP_VERSION, MALFORMED_REQUEST, UNSUPP_OPCODE: RFC 6887 §8.3 lets it answer
/// with the header alone). "Another version" answers pass unchecked (they have no MAP fields).
pub fn parse_map_answer(data: &[u8], request: &MapRequest) -> Result<Answer, Ignored> {
    let answer = parse_answer(data, OPCODE_MAP)?;
    if answer.version != VERSION {
        return Ok(answer);
    }
    let Some(map) = answer.map else {
        let unread = matches!(answer.result, ResultCode::UnsuppVersion | ResultCode::MalformedRequest | ResultCode::UnsuppOpcode);
        return if unread { Ok(answer) } else { Err(Ignored::WrongSize { len: data.len() }) };
    };
    if map.nonce != request.nonce || map.protocol != Some(request.protocol) || map.internal_port != request.internal_port {
        return Err(Ignored::NotOurMapping);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::hex;

    // From the real miniupnpd 2.3.1 on the test bed (tests/data/miniupnpd/pcp/*.txt).
    const MAP_REQUEST: &str = "020100000000025800000000000000000000ffff0a4d0002000102030405060708090a0b060000001e631e6300000000000000000000ffff00000000";
    const MAP_ANSWER: &str = "028100000000025800000009000000000000000000000000000102030405060708090a0b060000001e631e6300000000000000000000ffffc6336401";
    const DELETE_ANSWER: &str = "028100000000000000000009000000000000000000000000000102030405060708090a0b060000001e631e6300000000000000000000ffffc6336401";
    const DENIED_ANSWER: &str = "02810002000000000000000a0000000000000000000000000c0d0e0f1011121314151617060000000050005000000000000000000000ffffc6336401";
    const ANNOUNCE_MULTICAST: &str = "028000000000000000000000000000000000000000000000";

    fn fixture_request(lifetime: u32) -> MapRequest {
        MapRequest {
            client: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2)),
            nonce: Nonce::from_hex("000102030405060708090a0b").unwrap(),
            protocol: Protocol::Tcp,
            internal_port: 7779,
            suggested_external_port: 7779,
            suggested_external_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            lifetime,
        }
    }

    #[test]
    fn map_request_matches_the_fixture() {
        assert_eq!(fixture_request(600).encode().to_vec(), hex(MAP_REQUEST));
    }

    #[test]
    fn miniupnpd_answers_parse() {
        let answer = parse_map_answer(&hex(MAP_ANSWER), &fixture_request(600)).unwrap();
        assert_eq!((answer.version, answer.result, answer.lifetime, answer.epoch), (2, ResultCode::Success, 600, 9));
        let map = answer.map.unwrap();
        assert_eq!((map.external_port, map.external_address), (7779, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))));
        assert!(!answer.wants_another_version());
        let deleted = parse_map_answer(&hex(DELETE_ANSWER), &fixture_request(0)).unwrap();
        assert_eq!((deleted.result, deleted.lifetime), (ResultCode::Success, 0));

        let mut denied_request = fixture_request(600);
        denied_request.nonce = Nonce::from_hex("0c0d0e0f1011121314151617").unwrap();
        denied_request.internal_port = 80;
        let denied = parse_map_answer(&hex(DENIED_ANSWER), &denied_request).unwrap();
        assert_eq!((denied.result, denied.epoch), (ResultCode::NotAuthorized, 10));

        let announce = parse_answer(&hex(ANNOUNCE_MULTICAST), OPCODE_ANNOUNCE).unwrap();
        assert_eq!((announce.result, announce.epoch, announce.map), (ResultCode::Success, 0, None));
    }

    #[test]
    fn answers_for_another_mapping_are_ignored() {
        let mut other_nonce = fixture_request(600);
        other_nonce.nonce = Nonce([9; 12]);
        assert_eq!(parse_map_answer(&hex(MAP_ANSWER), &other_nonce), Err(Ignored::NotOurMapping));
        let mut other_port = fixture_request(600);
        other_port.internal_port = 7780;
        assert_eq!(parse_map_answer(&hex(MAP_ANSWER), &other_port), Err(Ignored::NotOurMapping));
        let mut udp = fixture_request(600);
        udp.protocol = Protocol::Udp;
        assert_eq!(parse_map_answer(&hex(MAP_ANSWER), &udp), Err(Ignored::NotOurMapping));
    }

    #[test]
    fn wrong_packets_are_ignored() {
        let request = fixture_request(600);
        let good = hex(MAP_ANSWER);
        assert_eq!(parse_map_answer(&good[..56], &request), Err(Ignored::WrongSize { len: 56 }), "MAP fields cut");
        assert_eq!(parse_map_answer(&good[..58], &request), Err(Ignored::WrongSize { len: 58 }), "not a multiple of 4");
        assert_eq!(parse_map_answer(&good[..20], &request), Err(Ignored::WrongSize { len: 20 }));
        assert_eq!(parse_map_answer(&vec![0u8; 1104], &request), Err(Ignored::WrongOpcode { opcode: 0 }));
        let mut huge = good.clone();
        huge.resize(1104, 0);
        assert_eq!(parse_map_answer(&huge, &request), Err(Ignored::WrongSize { len: 1104 }));
        assert_eq!(parse_map_answer(&hex(MAP_REQUEST), &request), Err(Ignored::WrongOpcode { opcode: 1 }), "our request echoed");
        let mut v3 = good.clone();
        v3[0] = 3;
        assert_eq!(parse_map_answer(&v3, &request), Err(Ignored::WrongVersion { version: 3 }));
        assert_eq!(parse_answer(&good, OPCODE_ANNOUNCE), Err(Ignored::WrongOpcode { opcode: 0x81 }));
        // Options after the MAP fields are skipped, not refused.
        let mut with_option = good.clone();
        with_option.extend_from_slice(&[0x7f, 0, 0, 0]);
        assert!(parse_map_answer(&with_option, &request).is_ok());
    }

    #[test]
    fn a_natpmp_gateway_says_it_does_not_speak_pcp() {
        // RFC 6886 §3.5 / RFC 6887 §9: version 0, opcode 128 + 1, result 1, epoch.
        let answer = parse_map_answer(&hex("0081000100000e10"), &fixture_request(600)).unwrap();
        assert_eq!((answer.version, answer.result, answer.epoch), (0, ResultCode::UnsuppVersion, 3600));
        assert!(answer.wants_another_version());
        assert_eq!(parse_map_answer(&hex("00810001000000"), &fixture_request(600)), Err(Ignored::WrongSize { len: 7 }));
        let unsupp = hex("02810001000000000000000a000000000000000000000000");
        let answer = parse_map_answer(&unsupp, &fixture_request(600)).unwrap();
        assert!(answer.wants_another_version());
        // A header-only success or NOT_AUTHORIZED is not an answer to a MAP.
        let mut header_only = unsupp.clone();
        header_only[3] = 2;
        assert_eq!(parse_map_answer(&header_only, &fixture_request(600)), Err(Ignored::WrongSize { len: 24 }));
    }

    #[test]
    fn addresses_and_nonces() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
        assert_eq!(address_from_bytes(address_bytes(v4)), v4);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(address_from_bytes(address_bytes(v6)), v6);
        assert_eq!(encode_announce_request(v4).to_vec(), hex("020000000000000000000000000000000000ffff0a4d0002"));
        let nonce = Nonce::random().unwrap();
        assert_eq!(Nonce::from_hex(&nonce.to_string()), Some(nonce));
        assert_ne!(nonce, Nonce::random().unwrap());
        assert_eq!(Nonce::from_hex("00"), None);
        assert_eq!(ResultCode::from_number(12).to_string(), "PCP result 12 (ADDRESS_MISMATCH)");
        for number in 0..=255u8 {
            assert_eq!(ResultCode::from_number(number).number(), number);
        }
    }
}
