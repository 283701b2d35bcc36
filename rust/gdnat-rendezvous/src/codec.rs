//! The BEP 15 (UDP tracker protocol) messages gdnat uses, sans-I/O: connect, announce, and
//! the tracker's connect, announce and error replies with compact peer lists. All integers are
//! big-endian. No dependency; about the size `stun-types` would have cost in glue.
//!
//! ```text
//! connect request  16 B: u64 protocol id 0x41727101980 | u32 action 0 | u32 transaction id
//! connect reply    16 B: u32 action 0 | u32 transaction id | u64 connection id
//! announce request 98 B: u64 connection id | u32 action 1 | u32 transaction id |
//!                        info_hash[20] | peer_id[20] | u64 downloaded | u64 left |
//!                        u64 uploaded | u32 event | u32 ip (0) | u32 key | i32 num_want |
//!                        u16 port
//! announce reply 20+6n B: u32 action 1 | u32 transaction id | u32 interval | u32 leechers |
//!                        u32 seeders | n × (ipv4[4] port[2])   (18-byte entries over IPv6)
//! error reply     8+m B: u32 action 3 | u32 transaction id | message
//! ```
//!
//! [`parse_reply`] never panics; every fault is a [`ReplyError`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The magic first field of a connect request.
pub const PROTOCOL_ID: u64 = 0x0417_2710_1980;

/// The largest reply read: 20 bytes plus 200 IPv6 peers (opentracker caps num_want at 200).
/// Larger datagrams are refused.
pub const MAX_REPLY: usize = 20 + 18 * 200;

/// BEP 15 actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Action {
    /// Get a connection id.
    Connect = 0,
    /// Announce and get peers.
    Announce = 1,
    /// Scrape (not used by gdnat).
    Scrape = 2,
    /// The tracker's error reply.
    Error = 3,
}

/// The announce event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Event {
    /// A periodic re-announce.
    None = 0,
    /// Download completed (unused by gdnat).
    Completed = 1,
    /// The first announce: joining the room.
    Started = 2,
    /// Leaving the room: the tracker drops us from the list.
    Stopped = 3,
}

/// A connect request with transaction id `transaction`.
pub fn connect_request(transaction: u32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&PROTOCOL_ID.to_be_bytes());
    out[8..12].copy_from_slice(&(Action::Connect as u32).to_be_bytes());
    out[12..16].copy_from_slice(&transaction.to_be_bytes());
    out
}

/// The fields of an announce request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnounceRequest {
    /// From the connect reply.
    pub connection_id: u64,
    /// Echoed by the reply.
    pub transaction: u32,
    /// The room's hash ([`crate::room_hash`]).
    pub info_hash: [u8; 20],
    /// Our random peer id (trackers key UDP peers by IP and port, not by this).
    pub peer_id: [u8; 20],
    /// Started, none (re-announce) or stopped.
    pub event: Event,
    /// A random key that stays the same for this client (lets a tracker recognise us when our
    /// IP changes).
    pub key: u32,
    /// How many peers we want (-1: the tracker's default).
    pub num_want: i32,
    /// The port peers should use: the STUN-mapped public port, since the tracker takes the IP
    /// from the datagram's source and the port from this field.
    pub port: u16,
}

impl AnnounceRequest {
    /// The 98-byte datagram. `left` is 1 (a "leecher", so the tracker returns seeders and
    /// leechers alike); downloaded and uploaded are 0; the IP field is 0 (the source address).
    pub fn encode(&self) -> [u8; 98] {
        let mut out = [0u8; 98];
        out[0..8].copy_from_slice(&self.connection_id.to_be_bytes());
        out[8..12].copy_from_slice(&(Action::Announce as u32).to_be_bytes());
        out[12..16].copy_from_slice(&self.transaction.to_be_bytes());
        out[16..36].copy_from_slice(&self.info_hash);
        out[36..56].copy_from_slice(&self.peer_id);
        // 56 downloaded = 0, 64 left = 1, 72 uploaded = 0
        out[64..72].copy_from_slice(&1u64.to_be_bytes());
        out[80..84].copy_from_slice(&(self.event as u32).to_be_bytes());
        // 84 ip = 0
        out[88..92].copy_from_slice(&self.key.to_be_bytes());
        out[92..96].copy_from_slice(&self.num_want.to_be_bytes());
        out[96..98].copy_from_slice(&self.port.to_be_bytes());
        out
    }
}

/// A tracker reply to one of our requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The connection id to use for announces (valid for a minute).
    Connect {
        /// The id.
        connection_id: u64,
    },
    /// The room's members.
    Announce {
        /// Seconds the tracker asks us to wait before re-announcing.
        interval: u32,
        /// Leechers in the swarm.
        leechers: u32,
        /// Seeders in the swarm.
        seeders: u32,
        /// Members' endpoints (ours included: most trackers return the announcing peer).
        peers: Vec<SocketAddr>,
    },
    /// The tracker's error message (for example "Connection ID missmatch.").
    Error {
        /// The message, cut to 200 printable characters.
        message: String,
    },
}

/// Why a datagram is not a usable reply to our request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Shorter than the 8 bytes every reply starts with.
    #[error("{len} bytes: shorter than a tracker reply header (8 bytes)")]
    TooShort {
        /// Datagram length.
        len: usize,
    },
    /// Larger than [`MAX_REPLY`].
    #[error("{len} bytes: larger than the {MAX_REPLY}-byte limit")]
    TooLarge {
        /// Datagram length.
        len: usize,
    },
    /// Another transaction's reply (late, or forged).
    #[error("transaction id {found:#010x} is not ours ({expected:#010x})")]
    WrongTransaction {
        /// Found.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// An action other than the one asked for and other than error.
    #[error("action {found} in a reply to action {expected}")]
    WrongAction {
        /// Found.
        found: u32,
        /// Asked for.
        expected: u32,
    },
    /// An announce reply of exactly 8 bytes: opentracker's answer when the info_hash is not on
    /// its whitelist (it sends the header and nothing else).
    #[error("the tracker refused the room (8-byte announce reply: its info_hash is not on the tracker's whitelist)")]
    NotWhitelisted,
    /// A connect or announce reply cut short.
    #[error("{len}-byte reply to action {action} is truncated (needs {needed})")]
    Truncated {
        /// The action.
        action: u32,
        /// Datagram length.
        len: usize,
        /// Minimum length.
        needed: usize,
    },
    /// The peer list is not a whole number of entries.
    #[error("peer list of {len} bytes is not a multiple of {entry}")]
    RaggedPeers {
        /// Peer list length.
        len: usize,
        /// Entry size (6 over IPv4, 18 over IPv6).
        entry: usize,
    },
}

impl ReplyError {
    /// Faults that mean "not the reply to our request" (ignored while waiting), as opposed to
    /// a reply to our transaction that carries a verdict.
    pub fn is_foreign(&self) -> bool {
        matches!(self, Self::TooShort { .. } | Self::TooLarge { .. } | Self::WrongTransaction { .. })
    }
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// Reads the reply to our request `expected` with transaction id `transaction`. `ipv6` says
/// whether the request went over IPv6 (18-byte peer entries) or IPv4 (6-byte entries).
pub fn parse_reply(data: &[u8], expected: Action, transaction: u32, ipv6: bool) -> Result<Reply, ReplyError> {
    if data.len() < 8 {
        return Err(ReplyError::TooShort { len: data.len() });
    }
    if data.len() > MAX_REPLY {
        return Err(ReplyError::TooLarge { len: data.len() });
    }
    let found_transaction = u32_at(data, 4);
    if found_transaction != transaction {
        return Err(ReplyError::WrongTransaction { found: found_transaction, expected: transaction });
    }
    let action = u32_at(data, 0);
    if action == Action::Error as u32 {
        // opentracker sends the C string with its terminating NUL.
        let text = String::from_utf8_lossy(&data[8..]);
        let message: String = text.trim_end_matches('\0').chars().take(200).map(|c| if c.is_control() { '?' } else { c }).collect();
        return Ok(Reply::Error { message });
    }
    if action != expected as u32 {
        return Err(ReplyError::WrongAction { found: action, expected: expected as u32 });
    }
    match expected {
        Action::Connect => {
            if data.len() < 16 {
                return Err(ReplyError::Truncated { action, len: data.len(), needed: 16 });
            }
            let mut id = [0u8; 8];
            id.copy_from_slice(&data[8..16]);
            Ok(Reply::Connect { connection_id: u64::from_be_bytes(id) })
        }
        Action::Announce => {
            if data.len() == 8 {
                return Err(ReplyError::NotWhitelisted);
            }
            if data.len() < 20 {
                return Err(ReplyError::Truncated { action, len: data.len(), needed: 20 });
            }
            let entry = if ipv6 { 18 } else { 6 };
            let list = &data[20..];
            if !list.len().is_multiple_of(entry) {
                return Err(ReplyError::RaggedPeers { len: list.len(), entry });
            }
            let peers = list
                .chunks_exact(entry)
                .map(|chunk| {
                    let port = u16::from_be_bytes([chunk[entry - 2], chunk[entry - 1]]);
                    let ip = if ipv6 {
                        let mut octets = [0u8; 16];
                        octets.copy_from_slice(&chunk[..16]);
                        IpAddr::V6(Ipv6Addr::from(octets))
                    } else {
                        IpAddr::V4(Ipv4Addr::new(chunk[0], chunk[1], chunk[2], chunk[3]))
                    };
                    SocketAddr::new(ip, port)
                })
                .collect();
            Ok(Reply::Announce { interval: u32_at(data, 8), leechers: u32_at(data, 12), seeders: u32_at(data, 16), peers })
        }
        Action::Scrape | Action::Error => Err(ReplyError::WrongAction { found: action, expected: expected as u32 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_request_is_bep_15s() {
        assert_eq!(connect_request(0xDEAD_BEEF), [0, 0, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF]);
    }

    #[test]
    fn an_announce_request_puts_every_field_at_its_offset() {
        let request = AnnounceRequest {
            connection_id: 0x0102_0304_0506_0708,
            transaction: 9,
            info_hash: [0xAA; 20],
            peer_id: [0xBB; 20],
            event: Event::Started,
            key: 0x1122_3344,
            num_want: -1,
            port: 40000,
        };
        let bytes = request.encode();
        assert_eq!(&bytes[0..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&bytes[8..16], &[0, 0, 0, 1, 0, 0, 0, 9]);
        assert_eq!(&bytes[16..36], &[0xAA; 20]);
        assert_eq!(&bytes[36..56], &[0xBB; 20]);
        assert_eq!(&bytes[56..80], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&bytes[80..98], &[0, 0, 0, 2, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 0xFF, 0xFF, 0xFF, 0xFF, 0x9C, 0x40]);
    }

    fn header(action: u32, transaction: u32) -> Vec<u8> {
        [action.to_be_bytes(), transaction.to_be_bytes()].concat()
    }

    #[test]
    fn replies_parse() {
        let mut connect = header(0, 7);
        connect.extend_from_slice(&0xCAFE_u64.to_be_bytes());
        assert_eq!(parse_reply(&connect, Action::Connect, 7, false), Ok(Reply::Connect { connection_id: 0xCAFE }));

        let mut announce = header(1, 8);
        for value in [1800u32, 1, 2] {
            announce.extend_from_slice(&value.to_be_bytes());
        }
        announce.extend_from_slice(&[198, 18, 0, 1, 0x9C, 0x40, 198, 18, 0, 2, 0x1F, 0x90]);
        let peers = vec!["198.18.0.1:40000".parse().unwrap(), "198.18.0.2:8080".parse().unwrap()];
        assert_eq!(parse_reply(&announce, Action::Announce, 8, false), Ok(Reply::Announce { interval: 1800, leechers: 1, seeders: 2, peers }));

        let mut v6 = header(1, 8);
        v6.extend_from_slice(&[0; 12]);
        v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80]);
        assert!(matches!(parse_reply(&v6, Action::Announce, 8, true), Ok(Reply::Announce { peers, .. }) if peers == vec!["[2001:db8::1]:80".parse().unwrap()]));

        let mut error = header(3, 8);
        error.extend_from_slice(b"Connection ID\nmissmatch.\0");
        assert_eq!(parse_reply(&error, Action::Announce, 8, false), Ok(Reply::Error { message: "Connection ID?missmatch.".into() }));
    }

    #[test]
    fn every_fault_is_named() {
        assert_eq!(parse_reply(&[0; 7], Action::Connect, 0, false), Err(ReplyError::TooShort { len: 7 }));
        assert_eq!(parse_reply(&vec![0; MAX_REPLY + 1], Action::Connect, 0, false), Err(ReplyError::TooLarge { len: MAX_REPLY + 1 }));
        assert_eq!(parse_reply(&header(0, 1), Action::Connect, 2, false), Err(ReplyError::WrongTransaction { found: 1, expected: 2 }));
        assert_eq!(parse_reply(&header(0, 1), Action::Connect, 1, false), Err(ReplyError::Truncated { action: 0, len: 8, needed: 16 }));
        assert_eq!(parse_reply(&header(1, 1), Action::Announce, 1, false), Err(ReplyError::NotWhitelisted));
        let mut short = header(1, 1);
        short.extend_from_slice(&[0; 4]);
        assert_eq!(parse_reply(&short, Action::Announce, 1, false), Err(ReplyError::Truncated { action: 1, len: 12, needed: 20 }));
        let mut ragged = header(1, 1);
        ragged.extend_from_slice(&[0; 12 + 7]);
        assert_eq!(parse_reply(&ragged, Action::Announce, 1, false), Err(ReplyError::RaggedPeers { len: 7, entry: 6 }));
        assert_eq!(parse_reply(&header(2, 1), Action::Announce, 1, false), Err(ReplyError::WrongAction { found: 2, expected: 1 }));
        assert_eq!(parse_reply(&header(0, 1), Action::Announce, 1, false), Err(ReplyError::WrongAction { found: 0, expected: 1 }));
        assert!(ReplyError::WrongTransaction { found: 1, expected: 2 }.is_foreign() && !ReplyError::NotWhitelisted.is_foreign());
    }
}
