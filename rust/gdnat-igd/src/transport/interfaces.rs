//! The host's network interfaces, looked up the same way on Linux, macOS and Windows: the
//! interface index of a name or of a local address, and the IPv4 address of an interface.
//!
//! The list comes from the `if-addrs` crate (`getifaddrs` on Unix, `GetAdaptersAddresses` on
//! Windows), with its `link-local` feature so that `fe80::` addresses are listed too (they are the
//! usual address of an IPv6 SSDP interface). No `/proc` or `/sys` file is read. An interface
//! appears only with its addresses, so one without any address cannot be named; SSDP could not
//! use it anyway. On Windows a name is the adapter's friendly name (`Ethernet`) or its adapter
//! name (the `{GUID}`); on Unix it is the kernel's name (`eth0`).

use std::net::{IpAddr, Ipv4Addr};

/// One address of one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    name: String,
    index: u32,
    ip: IpAddr,
}

/// Every address of every interface that has an index; empty when the system call fails.
fn entries() -> Vec<Entry> {
    if_addrs::get_if_addrs()
        .map(|list| {
            list.into_iter()
                .filter_map(|i| Some(Entry { ip: i.ip(), index: i.index.filter(|n| *n > 0)?, name: i.name }))
                .collect()
        })
        .unwrap_or_default()
}

/// The index of the interface called `name` (names compare exactly; on Windows also
/// case-insensitively, as Windows treats adapter names).
pub fn index_of_name(name: &str) -> Option<u32> {
    let same = |a: &str| a == name || (cfg!(windows) && a.eq_ignore_ascii_case(name));
    entries().into_iter().find(|e| same(&e.name)).map(|e| e.index)
}

/// The index of the interface that holds the local address `ip` (an IPv6 address with a zone
/// is matched without it).
pub fn index_of_address(ip: IpAddr) -> Option<u32> {
    entries().into_iter().find(|e| e.ip == ip).map(|e| e.index)
}

/// The first IPv4 address of the interface with index `index`.
pub fn ipv4_of_index(index: u32) -> Option<Ipv4Addr> {
    entries().into_iter().find_map(|e| match e.ip {
        IpAddr::V4(ip) if e.index == index => Some(ip),
        _ => None,
    })
}

/// Whether `index` is the index of an interface with an address.
pub fn index_exists(index: u32) -> bool {
    entries().iter().any(|e| e.index == index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_address_has_an_interface_with_an_ipv4_address() {
        // Every system lists its loopback interface with 127.0.0.1 (Windows: "Loopback
        // Pseudo-Interface 1"); the tests run in a namespace where it is the only one.
        let index = index_of_address(Ipv4Addr::LOCALHOST.into()).expect("127.0.0.1 is on an interface");
        assert!(index_exists(index));
        assert_eq!(ipv4_of_index(index), Some(Ipv4Addr::LOCALHOST));
    }

    #[test]
    fn every_listed_name_resolves_to_its_own_index() {
        let all = entries();
        assert!(!all.is_empty(), "no interface listed at all");
        for entry in &all {
            let index = index_of_name(&entry.name).expect("a listed name resolves");
            assert!(all.iter().any(|e| e.name == entry.name && e.index == index), "{entry:?} -> {index}");
        }
    }

    #[test]
    fn unknown_names_and_foreign_addresses_have_no_index() {
        assert_eq!(index_of_name("no-such-if0"), None);
        assert_eq!(index_of_address("192.0.2.77".parse().unwrap()), None);
        assert_eq!(index_of_address("2001:db8::77".parse().unwrap()), None);
        assert!(!index_exists(u32::MAX));
    }
}
