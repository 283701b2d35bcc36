//! Sans-I/O STUN messages gdnat sends and reads: the Binding request (RFC 8489), optionally with
//! RFC 5780's CHANGE-REQUEST, and the Binding response with XOR-MAPPED-ADDRESS (or the old
//! MAPPED-ADDRESS), RESPONSE-ORIGIN and OTHER-ADDRESS.
//!
//! The message layer is the `stun-types` crate (why: `docs/p2p.md`); the RFC 5780 attributes
//! are defined here on its attribute traits. [`parse_binding_response`] checks everything a
//! datagram from the network can get wrong, in this order, and names the first fault:
//! size, the two leading zero bits, the magic cookie, the length field, the transaction id,
//! the message type, then the attributes. It never panics, whatever the bytes.

use std::fmt;
use std::net::SocketAddr;

use stun_types::attribute::{
    AttributeWriteExt,
    Attribute, AttributeFromRaw, AttributeStaticType, AttributeType, AttributeWrite, ErrorCode, MappedSocketAddr, RawAttribute,
    XorMappedAddress,
};
use stun_types::message::{
    Message, MessageClass, MessageHeader, MessageType, MessageWrite, MessageWriteExt, MessageWriteVec, StunParseError, TransactionId,
    BINDING, MAGIC_COOKIE,
};

pub use stun_types::message::TransactionId as StunTransactionId;

/// The largest STUN message gdnat reads. A Binding response with every attribute gdnat knows
/// is under 120 bytes; 548 bytes is the smallest datagram every IPv4 path must carry (RFC 8489
/// §6.1 asks STUN over UDP to stay under the path MTU). Larger datagrams are refused.
pub const MAX_MESSAGE: usize = 548;

/// The STUN header: type, length, magic cookie, transaction id.
pub const HEADER_LEN: usize = 20;

/// RFC 5780 CHANGE-REQUEST: ask the server to answer from its other IP address and/or port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChangeRequest {
    /// Answer from the alternate IP address (flag 0x04).
    pub change_ip: bool,
    /// Answer from the alternate port (flag 0x02).
    pub change_port: bool,
}

impl ChangeRequest {
    /// No change: the plain Binding request.
    pub const NONE: Self = Self { change_ip: false, change_port: false };
    /// Change the IP address and the port (filtering test II of RFC 5780 §4.4).
    pub const IP_AND_PORT: Self = Self { change_ip: true, change_port: true };
    /// Change only the port (filtering test III of RFC 5780 §4.4).
    pub const PORT: Self = Self { change_ip: false, change_port: true };

    /// The 32-bit flags of the attribute value.
    pub fn flags(self) -> u32 {
        (u32::from(self.change_ip) << 2) | (u32::from(self.change_port) << 1)
    }

    /// Whether anything is to change.
    pub fn is_change(self) -> bool {
        self.change_ip || self.change_port
    }
}

impl AttributeStaticType for ChangeRequest {
    const TYPE: AttributeType = AttributeType::new(0x0003);
}

impl Attribute for ChangeRequest {
    fn get_type(&self) -> AttributeType {
        Self::TYPE
    }
    fn length(&self) -> u16 {
        4
    }
}

impl AttributeWrite for ChangeRequest {
    fn to_raw(&self) -> RawAttribute<'_> {
        RawAttribute::new(Self::TYPE, &self.flags().to_be_bytes()).into_owned()
    }
    fn write_into_unchecked(&self, dest: &mut [u8]) {
        self.write_header_unchecked(dest);
        dest[4..8].copy_from_slice(&self.flags().to_be_bytes());
    }
}

impl AttributeFromRaw<'_> for ChangeRequest {
    fn from_raw_ref(raw: &RawAttribute) -> Result<Self, StunParseError> {
        raw.check_type_and_len(Self::TYPE, 4..=4)?;
        let flags = u32::from_be_bytes([raw.value[0], raw.value[1], raw.value[2], raw.value[3]]);
        Ok(Self { change_ip: flags & 0x04 != 0, change_port: flags & 0x02 != 0 })
    }
}

/// Declares an attribute that carries one address in the MAPPED-ADDRESS layout (not XOR'd).
macro_rules! plain_address_attribute {
    ($(#[$doc:meta])* $name:ident = $type:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name(pub SocketAddr);

        impl AttributeStaticType for $name {
            const TYPE: AttributeType = AttributeType::new($type);
        }
        impl Attribute for $name {
            fn get_type(&self) -> AttributeType {
                Self::TYPE
            }
            fn length(&self) -> u16 {
                MappedSocketAddr::new(self.0).length()
            }
        }
        impl AttributeWrite for $name {
            fn to_raw(&self) -> RawAttribute<'_> {
                MappedSocketAddr::new(self.0).to_raw(Self::TYPE).into_owned()
            }
            fn write_into_unchecked(&self, dest: &mut [u8]) {
                self.write_header_unchecked(dest);
                MappedSocketAddr::new(self.0).write_into_unchecked(&mut dest[4..]);
            }
        }
        impl AttributeFromRaw<'_> for $name {
            fn from_raw_ref(raw: &RawAttribute) -> Result<Self, StunParseError> {
                raw.check_type_and_len(Self::TYPE, 4..=20)?;
                Ok(Self(MappedSocketAddr::from_raw(raw)?.addr()))
            }
        }
    };
}

plain_address_attribute!(
    /// MAPPED-ADDRESS (0x0001, RFC 8489 §14.1): the reflexive address in clear, sent by old
    /// (RFC 3489) servers instead of XOR-MAPPED-ADDRESS.
    MappedAddress = 0x0001
);
plain_address_attribute!(
    /// RESPONSE-ORIGIN (0x802B, RFC 5780 §7.3): the address the response was sent from.
    ResponseOrigin = 0x802B
);
plain_address_attribute!(
    /// OTHER-ADDRESS (0x802C, RFC 5780 §7.4): the server's alternate IP address and port.
    OtherAddress = 0x802C
);

/// A Binding request with a fresh random transaction id (and CHANGE-REQUEST when `change`
/// asks for one). Returns the datagram and its id.
pub fn binding_request(change: ChangeRequest) -> (Vec<u8>, TransactionId) {
    let id = TransactionId::generate();
    (binding_request_with_id(id, change), id)
}

/// A Binding request with the given transaction id (tests and fuzzing use fixed ids).
pub fn binding_request_with_id(id: TransactionId, change: ChangeRequest) -> Vec<u8> {
    let mut message = Message::builder(MessageType::from_class_method(MessageClass::Request, BINDING), id, MessageWriteVec::new());
    if change.is_change() {
        // A fresh builder holds no attribute, so adding one cannot fail; a failure would only
        // drop the change flags, which the caller then sees as an unchanged answer.
        let _ = message.add_attribute(&change);
    }
    message.finish()
}

/// What a Binding success response said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingResponse {
    /// Our address as the server saw it (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an old
    /// server).
    pub mapped: SocketAddr,
    /// RESPONSE-ORIGIN, when the server sent it.
    pub response_origin: Option<SocketAddr>,
    /// OTHER-ADDRESS, when the server supports RFC 5780.
    pub other_address: Option<SocketAddr>,
}

/// Why a datagram is not the Binding response we wait for. Every variant names what was seen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Shorter than a STUN header.
    #[error("{len} bytes: shorter than a STUN header (20 bytes)")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// Larger than [`MAX_MESSAGE`].
    #[error("{len} bytes: larger than the {MAX_MESSAGE}-byte limit")]
    TooLarge {
        /// Datagram length.
        len: usize,
    },
    /// The first two bits are not zero: not STUN (maybe ChannelData or a tracker reply).
    #[error("not a STUN message (first byte {first:#04x})")]
    NotStun {
        /// The first byte.
        first: u8,
    },
    /// Bytes 4..8 are not 0x2112A442: an RFC 3489 message or not STUN.
    #[error("wrong magic cookie {found:#010x} (want 0x2112a442)")]
    WrongMagicCookie {
        /// The cookie found.
        found: u32,
    },
    /// The length field does not match the datagram.
    #[error("length field says {declared} attribute bytes, datagram has {actual}")]
    LengthMismatch {
        /// The header's length.
        declared: usize,
        /// Bytes after the header.
        actual: usize,
    },
    /// Another transaction's answer (a late retransmit, or a forged answer).
    #[error("transaction id {found:024x} is not ours")]
    WrongTransaction {
        /// The 96-bit id found.
        found: u128,
    },
    /// Not a Binding success or error response (a request, an indication, another method).
    #[error("not a Binding response (message type {message_type:#06x})")]
    NotBindingResponse {
        /// The message type.
        message_type: u16,
    },
    /// A Binding error response; `code` 420 from a server without RFC 5780 support, for
    /// example.
    #[error("server answered error {code}: {reason}")]
    ServerError {
        /// The STUN error code (300..=699).
        code: u16,
        /// The server's reason phrase.
        reason: String,
    },
    /// The attributes are malformed (bad length, bad padding, bad fingerprint, bad address).
    #[error("malformed attributes: {0}")]
    Malformed(String),
    /// A success response without XOR-MAPPED-ADDRESS or MAPPED-ADDRESS.
    #[error("success response without a mapped address")]
    NoMappedAddress,
}

impl ResponseError {
    /// Faults that mean "not an answer to our request" (ignored while waiting), as opposed to
    /// an answer that carries a verdict (a server error, a malformed answer to our id).
    pub fn is_foreign(&self) -> bool {
        matches!(
            self,
            Self::TooShort { .. }
                | Self::TooLarge { .. }
                | Self::NotStun { .. }
                | Self::WrongMagicCookie { .. }
                | Self::LengthMismatch { .. }
                | Self::WrongTransaction { .. }
                | Self::NotBindingResponse { .. }
        )
    }
}

fn malformed(error: StunParseError) -> ResponseError {
    ResponseError::Malformed(error.to_string())
}

/// Reads a Binding response to transaction `id`. The checks run from the cheapest to the
/// dearest, and the first fault is returned; see [`ResponseError`].
pub fn parse_binding_response(data: &[u8], id: TransactionId) -> Result<BindingResponse, ResponseError> {
    if data.len() < HEADER_LEN {
        return Err(ResponseError::TooShort { len: data.len() });
    }
    if data.len() > MAX_MESSAGE {
        return Err(ResponseError::TooLarge { len: data.len() });
    }
    if data[0] & 0xC0 != 0 {
        return Err(ResponseError::NotStun { first: data[0] });
    }
    let cookie = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
    if cookie != MAGIC_COOKIE {
        return Err(ResponseError::WrongMagicCookie { found: cookie });
    }
    let declared = usize::from(u16::from_be_bytes([data[2], data[3]]));
    if declared != data.len() - HEADER_LEN || declared % 4 != 0 {
        return Err(ResponseError::LengthMismatch { declared, actual: data.len() - HEADER_LEN });
    }
    let mut raw_id = [0u8; 16];
    raw_id[4..].copy_from_slice(&data[8..20]);
    let found = u128::from_be_bytes(raw_id);
    if found != u128::from(id) {
        return Err(ResponseError::WrongTransaction { found });
    }
    let header = MessageHeader::from_bytes(data).map_err(malformed)?;
    let message_type = header.get_type();
    if !message_type.has_method(BINDING) || !message_type.is_response() {
        return Err(ResponseError::NotBindingResponse { message_type: u16::from_be_bytes([data[0], data[1]]) });
    }
    let message = Message::from_bytes(data).map_err(malformed)?;
    if message.has_class(MessageClass::Error) {
        return Err(match message.attribute::<ErrorCode>() {
            Ok(error) => ResponseError::ServerError { code: error.code(), reason: printable(error.reason()) },
            Err(error) => malformed(error),
        });
    }
    let mapped = match message.attribute::<XorMappedAddress>() {
        Ok(xor) => xor.addr(id),
        Err(StunParseError::MissingAttribute(_)) => match message.attribute::<MappedAddress>() {
            Ok(MappedAddress(addr)) => addr,
            Err(StunParseError::MissingAttribute(_)) => return Err(ResponseError::NoMappedAddress),
            Err(error) => return Err(malformed(error)),
        },
        Err(error) => return Err(malformed(error)),
    };
    let optional = |result: Result<SocketAddr, StunParseError>| match result {
        Ok(addr) => Ok(Some(addr)),
        Err(StunParseError::MissingAttribute(_)) => Ok(None),
        Err(error) => Err(malformed(error)),
    };
    Ok(BindingResponse {
        mapped,
        response_origin: optional(message.attribute::<ResponseOrigin>().map(|a| a.0))?,
        other_address: optional(message.attribute::<OtherAddress>().map(|a| a.0))?,
    })
}

/// A server's reason phrase without trailing NULs (coturn counts its padding in the
/// attribute length), cut to 128 characters with control characters replaced, so a hostile
/// server cannot flood a log or a message box.
fn printable(reason: &str) -> String {
    reason.trim_end_matches('\0').chars().take(128).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Shows a transaction id as 24 hex digits (the 96 bits after the cookie).
pub struct ShortId(pub TransactionId);

impl fmt::Display for ShortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:024x}", u128::from(self.0) & ((1u128 << 96) - 1))
    }
}

/// Builds a Binding success response to request `id` (what a server would send): for tests of
/// this crate and of its users, and for the fuzz targets' seeds.
pub fn binding_success(id: TransactionId, mapped: SocketAddr, origin: Option<SocketAddr>, other: Option<SocketAddr>) -> Vec<u8> {
    let mut message = Message::builder(MessageType::from_class_method(MessageClass::Success, BINDING), id, MessageWriteVec::new());
    let _ = message.add_attribute(&XorMappedAddress::new(mapped, id));
    if let Some(origin) = origin {
        let _ = message.add_attribute(&ResponseOrigin(origin));
    }
    if let Some(other) = other {
        let _ = message.add_attribute(&OtherAddress(other));
    }
    message.finish()
}

/// Builds a Binding error response to request `id` (tests and fuzz seeds).
pub fn binding_error(id: TransactionId, code: u16, reason: &str) -> Vec<u8> {
    let mut message = Message::builder(MessageType::from_class_method(MessageClass::Error, BINDING), id, MessageWriteVec::new());
    if let Ok(error) = ErrorCode::new(code, reason) {
        let _ = message.add_attribute(&error);
    }
    message.finish()
}

/// Reads the transaction id and CHANGE-REQUEST of a Binding request (what a server does): for
/// test servers and the fuzz targets. `None` when `data` is not a Binding request.
pub fn read_binding_request(data: &[u8]) -> Option<(TransactionId, ChangeRequest)> {
    if data.len() > MAX_MESSAGE {
        return None;
    }
    let message = Message::from_bytes(data).ok()?;
    if !message.has_method(BINDING) || !message.has_class(MessageClass::Request) {
        return None;
    }
    let change = match message.attribute::<ChangeRequest>() {
        Ok(change) => change,
        Err(StunParseError::MissingAttribute(_)) => ChangeRequest::NONE,
        Err(_) => return None,
    };
    Some((message.transaction_id(), change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_binding_request_is_twenty_bytes_with_cookie_and_id() {
        let id = TransactionId::from(0x0102_0304_0506_0708_090A_0B0Cu128);
        let request = binding_request_with_id(id, ChangeRequest::NONE);
        assert_eq!(request, [&[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42][..], &u128::from(id).to_be_bytes()[4..]].concat());
        let (read_id, change) = read_binding_request(&request).unwrap();
        assert_eq!((read_id, change), (id, ChangeRequest::NONE));
    }

    #[test]
    fn change_request_flags_are_rfc_5780s() {
        let (request, id) = binding_request(ChangeRequest::IP_AND_PORT);
        assert_eq!(request.len(), 28);
        assert_eq!(&request[20..28], &[0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06]);
        assert_eq!(read_binding_request(&request), Some((id, ChangeRequest::IP_AND_PORT)));
        let (request, _) = binding_request(ChangeRequest::PORT);
        assert_eq!(&request[24..28], &[0, 0, 0, 2]);
    }

    #[test]
    fn a_success_response_gives_the_mapped_origin_and_other_address() {
        let (_, id) = binding_request(ChangeRequest::NONE);
        let response = binding_success(id, addr("198.18.0.1:40000"), Some(addr("198.18.0.10:3478")), Some(addr("198.18.0.11:3479")));
        let parsed = parse_binding_response(&response, id).unwrap();
        assert_eq!(parsed.mapped, addr("198.18.0.1:40000"));
        assert_eq!(parsed.response_origin, Some(addr("198.18.0.10:3478")));
        assert_eq!(parsed.other_address, Some(addr("198.18.0.11:3479")));
        // The XOR'd bytes on the wire are not the address in clear.
        assert!(!response.windows(4).any(|w| w == [198, 18, 0, 1]));
        let v6 = binding_success(id, addr("[2001:db8::1]:9"), None, None);
        assert_eq!(parse_binding_response(&v6, id).unwrap().mapped, addr("[2001:db8::1]:9"));
    }

    /// coturn's answer, recorded on the two-site bed (tests/testbed-p2p): XOR-MAPPED-ADDRESS,
    /// MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, SOFTWARE and FINGERPRINT.
    #[test]
    fn coturns_recorded_answer_parses() {
        let id = TransactionId::from(u128::from_str_radix(COTURN_ID, 16).unwrap());
        let data = hex(COTURN_ANSWER);
        let parsed = parse_binding_response(&data, id).unwrap();
        assert_eq!(parsed.mapped, addr("198.18.0.1:52053"), "router A on the symmetric preset picked port 52053 for local port 40000");
        assert_eq!(parsed.response_origin, Some(addr("198.18.0.10:3478")));
        assert_eq!(parsed.other_address, Some(addr("198.18.0.11:3479")));
    }

    /// coturn's answer to a Binding request with an unknown comprehension-required attribute
    /// (0x000F), recorded on the bed: error 420 with UNKNOWN-ATTRIBUTES and SOFTWARE.
    #[test]
    fn coturns_recorded_420_is_a_server_error() {
        let id = TransactionId::from(0xc0ffee00_c0ffee00_c0ffee01u128);
        let data = hex("0111003c2112a442c0ffee00c0ffee00c0ffee010009001800000414556e6b6e6f776e20417474726962757465000000000a0002000f000080220014436f7475726e2d342e362e312027476f72737427");
        assert_eq!(parse_binding_response(&data, id), Err(ResponseError::ServerError { code: 420, reason: "Unknown Attribute".into() }));
    }

    pub(crate) const COTURN_ID: &str = "c0ffee00c0ffee00c0ffee00";
    pub(crate) const COTURN_ANSWER: &str = "010100482112a442c0ffee00c0ffee00c0ffee00002000080001ea47e700a443000100080001cb55c6120001802b000800010d96c612000a802c000800010d97c612000b80220014436f7475726e2d342e362e312027476f72737427";

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn every_fault_has_its_own_error_and_none_panics() {
        let (_, id) = binding_request(ChangeRequest::NONE);
        let good = binding_success(id, addr("198.18.0.1:40000"), None, None);
        assert_eq!(parse_binding_response(&good[..19], id), Err(ResponseError::TooShort { len: 19 }));
        let mut big = good.clone();
        big.resize(MAX_MESSAGE + 4, 0);
        assert_eq!(parse_binding_response(&big, id), Err(ResponseError::TooLarge { len: MAX_MESSAGE + 4 }));
        let mut channel_data = good.clone();
        channel_data[0] = 0x40;
        assert_eq!(parse_binding_response(&channel_data, id), Err(ResponseError::NotStun { first: 0x40 }));
        let mut cookie = good.clone();
        cookie[4] = 0x21;
        cookie[5] = 0x13;
        assert!(matches!(parse_binding_response(&cookie, id), Err(ResponseError::WrongMagicCookie { found: 0x2113_A442 })));
        let mut truncated = good.clone();
        truncated.truncate(good.len() - 4);
        assert!(matches!(parse_binding_response(&truncated, id), Err(ResponseError::LengthMismatch { .. })));
        let mut trailing = good.clone();
        trailing.extend_from_slice(&[0, 0, 0, 0]);
        assert!(matches!(parse_binding_response(&trailing, id), Err(ResponseError::LengthMismatch { .. })));
        let (_, other_id) = binding_request(ChangeRequest::NONE);
        assert!(matches!(parse_binding_response(&good, other_id), Err(ResponseError::WrongTransaction { .. })));
        let request = binding_request_with_id(id, ChangeRequest::NONE);
        assert!(matches!(parse_binding_response(&request, id), Err(ResponseError::NotBindingResponse { message_type: 0x0001 })));
        let error = binding_error(id, 420, "Unknown attribute: RFC 5780 is off\u{7}");
        assert_eq!(
            parse_binding_response(&error, id),
            Err(ResponseError::ServerError { code: 420, reason: "Unknown attribute: RFC 5780 is off?".into() })
        );
        let empty = Message::builder(MessageType::from_class_method(MessageClass::Success, BINDING), id, MessageWriteVec::new()).finish();
        assert_eq!(parse_binding_response(&empty, id), Err(ResponseError::NoMappedAddress));
        // An attribute whose length runs past the end.
        let mut bad_attr = good.clone();
        bad_attr[22] = 0x00;
        bad_attr[23] = 0xF0;
        assert!(matches!(parse_binding_response(&bad_attr, id), Err(ResponseError::Malformed(_))));
        // An address attribute with an unknown family.
        let mut bad_family = good.clone();
        bad_family[25] = 0x07;
        assert!(matches!(parse_binding_response(&bad_family, id), Err(ResponseError::Malformed(_))));
    }

    #[test]
    fn the_old_mapped_address_is_read_when_there_is_no_xor_one() {
        let (_, id) = binding_request(ChangeRequest::NONE);
        let mut message = Message::builder(MessageType::from_class_method(MessageClass::Success, BINDING), id, MessageWriteVec::new());
        message.add_attribute(&MappedAddress(addr("203.0.113.5:7"))).unwrap();
        assert_eq!(parse_binding_response(&message.finish(), id).unwrap().mapped, addr("203.0.113.5:7"));
    }
}
