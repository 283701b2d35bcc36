//! Whether a WAN address reported by a router is public (miniupnpc's `addr_is_reserved`).

use std::net::Ipv4Addr;

/// The non-public IPv4 ranges (godot-upnp-spec §7.6), as (network, prefix length).
const RESERVED_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 31, 196, 0], 24),
    ([192, 52, 193, 0], 24),
    ([192, 88, 99, 0], 24),
    ([192, 168, 0, 0], 16),
    ([192, 175, 48, 0], 24),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
];

/// Whether `address` (as a router wrote it, surrounding spaces ignored) is not a public IPv4
/// address. Empty text, IPv6 and anything that does not parse as IPv4 count as reserved.
pub fn is_reserved(address: &str) -> bool {
    match address.trim().parse::<Ipv4Addr>() {
        Ok(ip) => is_reserved_v4(ip),
        Err(_) => true,
    }
}

/// Whether an IPv4 address lies in one of the non-public ranges.
pub fn is_reserved_v4(ip: Ipv4Addr) -> bool {
    let value = u32::from(ip);
    RESERVED_V4.iter().any(|(network, prefix)| {
        let mask = if *prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(*prefix)) };
        value & mask == u32::from(Ipv4Addr::from(*network)) & mask
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_ranges_are_reserved() {
        for address in [
            "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.255", "127.0.0.1", "169.254.1.1",
            "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.1", "192.31.196.1", "192.52.193.1",
            "192.88.99.1", "192.168.1.1", "192.175.48.1", "198.18.0.1", "198.19.255.255",
            "198.51.100.1", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(is_reserved(address), "{address} should be reserved");
        }
    }

    #[test]
    fn public_addresses_are_not_reserved() {
        for address in ["8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255",
            "172.32.0.0", "192.169.0.1", "198.17.255.255", "198.20.0.0", " 93.184.216.34 "] {
            assert!(!is_reserved(address), "{address} should be public");
        }
    }

    #[test]
    fn empty_ipv6_and_garbage_count_as_reserved() {
        for address in ["", "   ", "2001:db8::1", "::ffff:8.8.8.8", "8.8.8", "8.8.8.8.8", "abc", "256.1.1.1"] {
            assert!(is_reserved(address), "{address:?} should count as reserved");
        }
    }
}
