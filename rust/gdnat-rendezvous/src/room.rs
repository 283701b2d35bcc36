//! Room names and their info_hash.

use std::fmt;

use sha1::{Digest, Sha1};

/// The 20-byte info_hash a room is announced under: SHA-1 of `gdnat-room:` followed by the
/// room name's UTF-8 bytes. The prefix keeps gdnat rooms apart from real torrents and from
/// other applications that hash bare names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomHash(pub [u8; 20]);

impl RoomHash {
    /// The hash of room `name` (any string; the same name gives the same hash everywhere).
    pub fn from_name(name: &str) -> Self {
        let mut hasher = Sha1::new();
        hasher.update(b"gdnat-room:");
        hasher.update(name.as_bytes());
        Self(hasher.finalize().into())
    }

    /// 40 lower-case hex digits (the form opentracker's whitelist file holds).
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for RoomHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomHash({})", self.hex())
    }
}

impl fmt::Display for RoomHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_rooms_hash_is_the_one_on_the_beds_whitelist() {
        // printf 'gdnat-room:%s' gdnat-test-room | sha1sum   (tests/testbed-p2p/common.sh)
        assert_eq!(RoomHash::from_name("gdnat-test-room").hex(), "0f0a1685b15b3f9dfb479abe017b18055402b06b");
        assert_ne!(RoomHash::from_name("a"), RoomHash::from_name("b"));
    }
}
