//! Layer 1: the sans-I/O wire formats. Build requests into byte arrays and parse answers from
//! byte slices; no sockets, no clocks, no allocation beyond the returned values.
//!
//! A parser never trusts a datagram: a wrong size, version, opcode or echoed field makes it
//! return an [`Ignored`] reason (the transport then keeps waiting for the real answer), never a
//! panic. The fuzz targets in `rust/gdnat-pcp/fuzz` hold them to that.

pub mod natpmp;
pub mod pcp;

use std::fmt;

/// The transport protocol of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// UDP (IANA protocol number 17; NAT-PMP opcode 1).
    Udp,
    /// TCP (IANA protocol number 6; NAT-PMP opcode 2).
    Tcp,
}

impl Protocol {
    /// The IANA protocol number PCP carries (17 or 6).
    pub fn iana_number(self) -> u8 {
        match self {
            Self::Udp => 17,
            Self::Tcp => 6,
        }
    }

    /// The protocol of an IANA number, if it is UDP or TCP.
    pub fn from_iana_number(number: u8) -> Option<Self> {
        match number {
            17 => Some(Self::Udp),
            6 => Some(Self::Tcp),
            _ => None,
        }
    }

    /// `"UDP"` or `"TCP"` (upper case, as routers expect it in UPnP too).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }

    /// Parses `udp`/`tcp` in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "UDP" => Some(Self::Udp),
            "TCP" => Some(Self::Tcp),
            _ => None,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a received datagram was not taken as the answer. The transport drops it and keeps
/// waiting; the reason is kept for diagnostics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// Shorter or longer than the answer's format, or (PCP) not a multiple of 4 bytes.
    WrongSize {
        /// The datagram's length.
        len: usize,
    },
    /// The version byte is not the one this parser reads.
    WrongVersion {
        /// The version byte.
        version: u8,
    },
    /// Not an answer (response bit clear) or the answer to another request.
    WrongOpcode {
        /// The opcode byte.
        opcode: u8,
    },
    /// A PCP MAP answer whose nonce, protocol or internal port is not the request's.
    NotOurMapping,
}

impl fmt::Display for Ignored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongSize { len } => write!(f, "wrong size ({len} bytes)"),
            Self::WrongVersion { version } => write!(f, "wrong version {version}"),
            Self::WrongOpcode { opcode } => write!(f, "wrong opcode 0x{opcode:02x}"),
            Self::NotOurMapping => f.write_str("answer for another mapping (nonce, protocol or internal port differ)"),
        }
    }
}

pub(crate) fn u16_at(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

pub(crate) fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

#[cfg(test)]
pub(crate) fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap()).collect()
}
