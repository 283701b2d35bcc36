//! Whether a WAN address reported by a router is usable, and whether it is public
//! (miniupnpc's `addr_is_reserved`, plus global IPv6).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

/// Whether `address` (as a router wrote it, surrounding spaces ignored) is not a public
/// address: an IPv4 address in one of the reserved ranges, an IPv6 address outside global
/// unicast ([`is_reserved_v6`]), empty text or anything that is no IP address.
pub fn is_reserved(address: &str) -> bool {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => is_reserved_v4(ip),
        Ok(IpAddr::V6(ip)) => is_reserved_v6(ip),
        Err(_) => true,
    }
}

/// Whether an IPv6 address is not a public one: anything outside global unicast `2000::/3`,
/// and inside it the documentation prefix `2001:db8::/32`, Teredo `2001::/32` (a tunnel
/// through a NAT) and 6to4 `2002::/16`. IPv4-mapped addresses are judged as IPv4 ones would be
/// (they lie outside `2000::/3`, so they count as reserved).
pub fn is_reserved_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    let global_unicast = first & 0xe000 == 0x2000;
    !global_unicast || (first == 0x2001 && (second == 0x0db8 || second == 0)) || first == 0x2002
}

/// Why an external address that a router reported cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnusableAddress {
    /// The text is not an IPv4 or IPv6 address.
    NotAnIpAddress,
    /// `0.0.0.0` or `::`.
    Unspecified,
    /// `127.0.0.0/8` or `::1` (also as an IPv4-mapped address).
    Loopback,
}

impl UnusableAddress {
    /// What is wrong, as the end of a sentence ("... which {reason}").
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotAnIpAddress => "is not an IP address",
            Self::Unspecified => "is the unspecified address",
            Self::Loopback => "is a loopback address",
        }
    }
}

/// Checks an external address as a router wrote it (surrounding spaces ignored). Empty text is
/// `Ok(None)`: routers report that while their WAN link has no address, and the engine takes it
/// as a valid empty answer. An IP address that could be someone's WAN address is `Ok(Some)`;
/// anything else is the reason it is unusable.
pub fn check_external_address(address: &str) -> Result<Option<IpAddr>, UnusableAddress> {
    let address = address.trim();
    if address.is_empty() {
        return Ok(None);
    }
    let ip = address.parse::<IpAddr>().map_err(|_| UnusableAddress::NotAnIpAddress)?;
    let canonical = ip.to_canonical();
    if canonical.is_unspecified() {
        Err(UnusableAddress::Unspecified)
    } else if canonical.is_loopback() {
        Err(UnusableAddress::Loopback)
    } else {
        Ok(Some(ip))
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
    fn empty_reserved_ipv6_and_garbage_count_as_reserved() {
        for address in ["", "   ", "2001:db8::1", "::ffff:8.8.8.8", "8.8.8", "8.8.8.8.8", "abc", "256.1.1.1", "::", "::1",
            "fe80::1", "fd00::1", "fc00::1", "ff02::1", "2001::1", "2002:c000:204::1", "64:ff9b::808:808", "4000::1"] {
            assert!(is_reserved(address), "{address:?} should count as reserved");
        }
    }

    #[test]
    fn global_ipv6_is_public() {
        for address in ["2600::1", "2a00:1450:4001:80b::200e", " 2001:4860:4860::8888 ", "3fff:ffff::1", "2001:1::1"] {
            assert!(!is_reserved(address), "{address} should be public");
        }
    }

    #[test]
    fn unusable_external_addresses() {
        for (address, problem) in [("0.0.0.0", UnusableAddress::Unspecified), ("::", UnusableAddress::Unspecified),
            ("127.0.0.1", UnusableAddress::Loopback), ("127.8.9.10", UnusableAddress::Loopback), ("::1", UnusableAddress::Loopback),
            ("::ffff:127.0.0.1", UnusableAddress::Loopback), ("::ffff:0.0.0.0", UnusableAddress::Unspecified),
            ("abc", UnusableAddress::NotAnIpAddress), ("1.2.3.4\u{1b}[2J", UnusableAddress::NotAnIpAddress),
            ("1.2.3.4 5.6.7.8", UnusableAddress::NotAnIpAddress), ("[2600::1]", UnusableAddress::NotAnIpAddress),
            ("1.2.3", UnusableAddress::NotAnIpAddress), ("fe80::1%eth0", UnusableAddress::NotAnIpAddress)] {
            assert_eq!(check_external_address(address), Err(problem), "{address:?}");
        }
        assert_eq!(check_external_address(""), Ok(None));
        assert_eq!(check_external_address("  "), Ok(None));
        assert_eq!(check_external_address(" 1.2.3.4 "), Ok(Some("1.2.3.4".parse().unwrap())));
        assert_eq!(check_external_address("10.0.0.5"), Ok(Some("10.0.0.5".parse().unwrap())));
        assert_eq!(check_external_address("2600::1"), Ok(Some("2600::1".parse().unwrap())));
    }
}
