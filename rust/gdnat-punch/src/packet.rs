//! The punch packet, sans-I/O: 32 bytes, so a stray datagram (a late STUN or tracker reply,
//! another game's traffic, a scanner) is never taken for the peer.
//!
//! ```text
//! 0 "GDNP" | 4 u8 version 1 | 5 u8 kind (1 probe, 2 ack) | 6 u16 sequence |
//! 8 room token [16] | 24 u64 sender nonce
//! ```
//!
//! The room token is the first 16 bytes of SHA-1(`gdnat-punch:` + room name): both players
//! derive it from the room name; it differs from the tracker's info_hash, so the tracker (which
//! sees the hash) does not learn it.

use sha1::{Digest, Sha1};

/// Size of every punch packet.
pub const PACKET_LEN: usize = 32;
const MAGIC: &[u8; 4] = b"GDNP";
const VERSION: u8 = 1;

/// The room's secret-ish token carried by every packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoomToken(pub [u8; 16]);

impl RoomToken {
    /// The token of room `name`.
    pub fn from_room(name: &str) -> Self {
        let mut hasher = Sha1::new();
        hasher.update(b"gdnat-punch:");
        hasher.update(name.as_bytes());
        let digest = hasher.finalize();
        let mut token = [0u8; 16];
        token.copy_from_slice(&digest[..16]);
        Self(token)
    }
}

/// Probe or acknowledgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// "I am here": sent every interval until contact.
    Probe = 1,
    /// "I heard you": sent a few times after the first packet from the peer.
    Ack = 2,
}

/// One decoded punch packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Probe or ack.
    pub kind: Kind,
    /// The sender's counter.
    pub sequence: u16,
    /// The room.
    pub token: RoomToken,
    /// A random number the sender chose for this punch (tells our own echoed packets, e.g.
    /// through a hairpinning NAT, from the peer's).
    pub nonce: u64,
}

impl Packet {
    /// The 32 bytes on the wire.
    pub fn encode(&self) -> [u8; PACKET_LEN] {
        let mut out = [0u8; PACKET_LEN];
        out[..4].copy_from_slice(MAGIC);
        out[4] = VERSION;
        out[5] = self.kind as u8;
        out[6..8].copy_from_slice(&self.sequence.to_be_bytes());
        out[8..24].copy_from_slice(&self.token.0);
        out[24..32].copy_from_slice(&self.nonce.to_be_bytes());
        out
    }
}

/// Why a datagram is not a punch packet of our room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Not 32 bytes.
    #[error("{0} bytes, not a punch packet ({PACKET_LEN})")]
    Length(usize),
    /// Not "GDNP" version 1.
    #[error("not a gdnat punch packet (magic or version)")]
    NotPunch,
    /// Unknown kind byte.
    #[error("unknown punch packet kind {0}")]
    Kind(u8),
    /// Another room's packet.
    #[error("punch packet of another room")]
    OtherRoom,
}

/// Reads a punch packet of room `token`. Never panics.
pub fn decode(data: &[u8], token: &RoomToken) -> Result<Packet, PacketError> {
    if data.len() != PACKET_LEN {
        return Err(PacketError::Length(data.len()));
    }
    if &data[..4] != MAGIC || data[4] != VERSION {
        return Err(PacketError::NotPunch);
    }
    let kind = match data[5] {
        1 => Kind::Probe,
        2 => Kind::Ack,
        other => return Err(PacketError::Kind(other)),
    };
    if data[8..24] != token.0 {
        return Err(PacketError::OtherRoom);
    }
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&data[24..32]);
    Ok(Packet { kind, sequence: u16::from_be_bytes([data[6], data[7]]), token: *token, nonce: u64::from_be_bytes(nonce) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_round_trip_and_strays_are_named() {
        let token = RoomToken::from_room("lobby");
        let packet = Packet { kind: Kind::Ack, sequence: 7, token, nonce: 0x0102_0304_0506_0708 };
        let bytes = packet.encode();
        assert_eq!(&bytes[..8], b"GDNP\x01\x02\x00\x07");
        assert_eq!(decode(&bytes, &token), Ok(packet));
        assert_eq!(decode(&bytes, &RoomToken::from_room("other")), Err(PacketError::OtherRoom));
        assert_eq!(decode(&bytes[..31], &token), Err(PacketError::Length(31)));
        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(decode(&bad, &token), Err(PacketError::NotPunch));
        bad = bytes;
        bad[5] = 9;
        assert_eq!(decode(&bad, &token), Err(PacketError::Kind(9)));
        assert_ne!(RoomToken::from_room("lobby").0[..], [0u8; 16][..]);
    }
}
