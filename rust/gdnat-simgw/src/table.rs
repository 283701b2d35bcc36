//! The router's port-mapping table and the IGD rules for adding, refreshing and deleting.
//!
//! Pure logic: time is passed in, so the rules are unit-tested without a network.

use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Lease stored for a requested lease of 0 on IGD:2, and the maximum lease on IGD:2 (7 days).
pub const IGD2_MAX_LEASE: u32 = 604_800;

/// Maximum number of entries; further additions fail with 728 NoPortMapsAvailable.
pub const MAX_ENTRIES: usize = 1024;

/// A UPnP error answer: code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpnpError {
    /// The UPnP `errorCode`.
    pub code: u16,
    /// The `errorDescription`.
    pub description: String,
}

impl UpnpError {
    /// An error with the standard description of `code`.
    pub fn new(code: u16) -> Self {
        UpnpError {
            code,
            description: crate::soap::error_description(code).to_string(),
        }
    }
}

/// One port mapping held by the simulated router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// `NewRemoteHost` as given (usually empty = any).
    pub remote_host: String,
    /// External (WAN) port.
    pub external_port: u16,
    /// "TCP" or "UDP" (always upper-case).
    pub protocol: String,
    /// Internal (LAN) port.
    pub internal_port: u16,
    /// Internal client address as given in `NewInternalClient`.
    pub internal_client: String,
    /// `NewEnabled`.
    pub enabled: bool,
    /// `NewPortMappingDescription` (unescaped).
    pub description: String,
    /// Lease duration as stored (after the IGD:2 0 -> 604800 rule); 0 = permanent.
    pub lease_duration: u32,
    /// When the mapping expires (`None` = permanent).
    pub expires_at: Option<Instant>,
}

impl Mapping {
    /// Seconds of lease left at `now` (0 for a permanent mapping; at least 1 while alive).
    pub fn remaining_lease(&self, now: Instant) -> u32 {
        match self.expires_at {
            None => 0,
            Some(t) => {
                let left = t.saturating_duration_since(now);
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
            }
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }
}

/// The rules that differ between routers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRules {
    /// 1 or 2: IGD:2 stores lease 0 as 604800 and caps leases at 604800.
    pub igd_version: u8,
    /// miniupnpd's secure mode (internal client must be the requester; only the owner deletes).
    pub secure_mode: bool,
    /// Leases other than 0 are refused with `finite_lease_error`.
    pub permanent_lease_only: bool,
    /// The code of that refusal (725, or 402 on an ARRIS NVG578LX).
    pub finite_lease_error: u16,
    /// The code of a port held by another internal client (718, or 501/729 on some routers).
    pub conflict_error: u16,
    /// AddPortMapping always conflicts.
    pub every_port_taken: bool,
    /// Deleting a missing entry succeeds instead of failing with 714.
    pub delete_missing_ok: bool,
}

/// The arguments of AddPortMapping / AddAnyPortMapping, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddRequest {
    /// `NewRemoteHost`.
    pub remote_host: String,
    /// `NewExternalPort`.
    pub external_port: u16,
    /// `NewProtocol`, upper-case "TCP" or "UDP".
    pub protocol: String,
    /// `NewInternalPort`.
    pub internal_port: u16,
    /// `NewInternalClient`.
    pub internal_client: String,
    /// `NewEnabled`.
    pub enabled: bool,
    /// `NewPortMappingDescription`.
    pub description: String,
    /// `NewLeaseDuration` as requested.
    pub lease_duration: u32,
}

/// Does `client` (text) name the same host as `requester`?
fn same_host(client: &str, requester: IpAddr) -> bool {
    match client.trim().parse::<IpAddr>() {
        Ok(ip) => canonical(ip) == canonical(requester),
        Err(_) => false,
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The mapping table of one router, in insertion order (the order of GetGenericPortMappingEntry).
#[derive(Debug, Clone, Default)]
pub struct MappingTable {
    entries: Vec<Mapping>,
}

impl MappingTable {
    /// An empty table.
    pub fn new() -> Self {
        MappingTable::default()
    }

    /// Drops expired entries.
    pub fn purge(&mut self, now: Instant) {
        self.entries.retain(|m| !m.expired(now));
    }

    /// The live entries at `now`.
    pub fn entries(&mut self, now: Instant) -> &[Mapping] {
        self.purge(now);
        &self.entries
    }

    fn position(&self, port: u16, protocol: &str) -> Option<usize> {
        self.entries
            .iter()
            .position(|m| m.external_port == port && m.protocol == protocol)
    }

    fn stored_lease(rules: &TableRules, requested: u32) -> u32 {
        if rules.igd_version >= 2 && (requested == 0 || requested > IGD2_MAX_LEASE) {
            IGD2_MAX_LEASE
        } else {
            requested
        }
    }

    /// Puts a permanent entry of another LAN host on `port` (both protocols) without any check:
    /// the router's state at start (see `RouterConfig::taken_ports`).
    pub fn preload_other_host(&mut self, port: u16, internal_client: &str) {
        for protocol in ["TCP", "UDP"] {
            if self.position(port, protocol).is_none() {
                self.entries.push(Mapping {
                    remote_host: String::new(),
                    external_port: port,
                    protocol: protocol.to_string(),
                    internal_port: port,
                    internal_client: internal_client.to_string(),
                    enabled: true,
                    description: "another host".to_string(),
                    lease_duration: 0,
                    expires_at: None,
                });
            }
        }
    }

    fn insert_or_replace(&mut self, req: &AddRequest, port: u16, rules: &TableRules, now: Instant) {
        let lease = Self::stored_lease(rules, req.lease_duration);
        let mapping = Mapping {
            remote_host: req.remote_host.clone(),
            external_port: port,
            protocol: req.protocol.clone(),
            internal_port: req.internal_port,
            internal_client: req.internal_client.clone(),
            enabled: req.enabled,
            description: req.description.clone(),
            lease_duration: lease,
            expires_at: (lease != 0).then(|| now + Duration::from_secs(u64::from(lease))),
        };
        match self.position(port, &req.protocol) {
            Some(i) => self.entries[i] = mapping,
            None => self.entries.push(mapping),
        }
    }

    /// AddPortMapping: 716 for external port 0, 725 for a non-permanent lease when only
    /// permanent ones are allowed, 718 when the internal client is not the requester (secure
    /// mode) or the port is held by another internal client, 728 when full. The same client
    /// asking again overwrites (refreshes) its entry.
    pub fn add(
        &mut self,
        req: &AddRequest,
        requester: IpAddr,
        rules: &TableRules,
        now: Instant,
    ) -> Result<(), UpnpError> {
        self.purge(now);
        if req.external_port == 0 {
            return Err(UpnpError {
                code: 716,
                description: "Wildcard not permited in ExtPort".into(),
            });
        }
        if rules.permanent_lease_only && req.lease_duration != 0 {
            return Err(UpnpError::new(rules.finite_lease_error));
        }
        if rules.secure_mode && !same_host(&req.internal_client, requester) {
            return Err(UpnpError::new(718));
        }
        if rules.every_port_taken {
            return Err(UpnpError::new(rules.conflict_error));
        }
        match self.position(req.external_port, &req.protocol) {
            Some(i) if self.entries[i].internal_client != req.internal_client => {
                return Err(UpnpError::new(rules.conflict_error))
            }
            None if self.entries.len() >= MAX_ENTRIES => return Err(UpnpError::new(728)),
            _ => {}
        }
        self.insert_or_replace(req, req.external_port, rules, now);
        Ok(())
    }

    /// AddAnyPortMapping: like [`add`](Self::add) but never conflicts: returns the requested
    /// port if it is free (or already held by the same internal client), else the next free
    /// one (wrapping, skipping 0). Port 0 asks for any port (search starts at 1024). 606 when
    /// the internal client is not the requester in secure mode.
    pub fn add_any(
        &mut self,
        req: &AddRequest,
        requester: IpAddr,
        rules: &TableRules,
        now: Instant,
    ) -> Result<u16, UpnpError> {
        self.purge(now);
        if rules.permanent_lease_only && req.lease_duration != 0 {
            return Err(UpnpError::new(rules.finite_lease_error));
        }
        if rules.secure_mode && !same_host(&req.internal_client, requester) {
            return Err(UpnpError::new(606));
        }
        let start = if req.external_port == 0 {
            1024
        } else {
            req.external_port
        };
        let mut port = start;
        loop {
            match self.position(port, &req.protocol) {
                None if self.entries.len() < MAX_ENTRIES => break,
                None => return Err(UpnpError::new(728)),
                Some(i)
                    if self.entries[i].internal_client == req.internal_client
                        && self.entries[i].internal_port == req.internal_port =>
                {
                    break
                }
                Some(_) => {}
            }
            port = if port == u16::MAX { 1 } else { port + 1 };
            if port == start {
                return Err(UpnpError::new(728));
            }
        }
        self.insert_or_replace(req, port, rules, now);
        Ok(port)
    }

    /// DeletePortMapping: 714 if missing (unless `delete_missing_ok`), 606 if another client
    /// owns it in secure mode.
    pub fn delete(
        &mut self,
        external_port: u16,
        protocol: &str,
        requester: IpAddr,
        rules: &TableRules,
        now: Instant,
    ) -> Result<(), UpnpError> {
        self.purge(now);
        match self.position(external_port, protocol) {
            None if rules.delete_missing_ok => Ok(()),
            None => Err(UpnpError::new(714)),
            Some(i) => {
                if rules.secure_mode && !same_host(&self.entries[i].internal_client, requester) {
                    return Err(UpnpError::new(606));
                }
                self.entries.remove(i);
                Ok(())
            }
        }
    }

    /// GetSpecificPortMappingEntry: the entry or 714.
    pub fn get_specific(
        &mut self,
        external_port: u16,
        protocol: &str,
        now: Instant,
    ) -> Result<Mapping, UpnpError> {
        self.purge(now);
        self.position(external_port, protocol)
            .map(|i| self.entries[i].clone())
            .ok_or_else(|| UpnpError::new(714))
    }

    /// GetGenericPortMappingEntry: the entry at `index` or 713.
    pub fn get_generic(&mut self, index: usize, now: Instant) -> Result<Mapping, UpnpError> {
        self.purge(now);
        self.entries
            .get(index)
            .cloned()
            .ok_or_else(|| UpnpError::new(713))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "10.77.0.2";
    const B: &str = "10.77.0.3";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn rules(v: u8) -> TableRules {
        TableRules {
            igd_version: v,
            secure_mode: true,
            permanent_lease_only: false,
            finite_lease_error: 725,
            conflict_error: 718,
            every_port_taken: false,
            delete_missing_ok: false,
        }
    }

    fn req(port: u16, client: &str, lease: u32) -> AddRequest {
        AddRequest {
            remote_host: String::new(),
            external_port: port,
            protocol: "TCP".into(),
            internal_port: port,
            internal_client: client.into(),
            enabled: true,
            description: "test".into(),
            lease_duration: lease,
        }
    }

    #[test]
    fn add_refresh_and_conflict() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        let r = rules(2);
        t.add(&req(7777, A, 3600), ip(A), &r, now).unwrap();
        // Same client again: refresh (overwrite), still one entry.
        let mut again = req(7777, A, 60);
        again.description = "refreshed".into();
        t.add(&again, ip(A), &r, now).unwrap();
        assert_eq!(t.entries(now).len(), 1);
        assert_eq!(t.entries(now)[0].description, "refreshed");
        assert_eq!(t.entries(now)[0].lease_duration, 60);
        // Another client: 718.
        assert_eq!(
            t.add(&req(7777, B, 3600), ip(B), &r, now).unwrap_err().code,
            718
        );
        // Same port other protocol: fine.
        let mut udp = req(7777, B, 3600);
        udp.protocol = "UDP".into();
        t.add(&udp, ip(B), &r, now).unwrap();
        assert_eq!(t.entries(now).len(), 2);
    }

    #[test]
    fn secure_mode_requires_requester_as_client() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        assert_eq!(
            t.add(&req(7792, B, 3600), ip(A), &rules(2), now)
                .unwrap_err()
                .code,
            718
        );
        let mut lax = rules(2);
        lax.secure_mode = false;
        t.add(&req(7792, B, 3600), ip(A), &lax, now).unwrap();
        assert_eq!(
            t.add_any(&req(7792, B, 3600), ip(A), &rules(2), now)
                .unwrap_err()
                .code,
            606
        );
        // IPv4-mapped requester is the same host.
        t.add(
            &req(7793, A, 0),
            "::ffff:10.77.0.2".parse().unwrap(),
            &rules(2),
            now,
        )
        .unwrap();
    }

    #[test]
    fn port_zero_permanent_only_and_leases() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        assert_eq!(
            t.add(&req(0, A, 3600), ip(A), &rules(2), now)
                .unwrap_err()
                .code,
            716
        );
        let mut perm = rules(1);
        perm.permanent_lease_only = true;
        assert_eq!(
            t.add(&req(1000, A, 3600), ip(A), &perm, now)
                .unwrap_err()
                .code,
            725
        );
        t.add(&req(1000, A, 0), ip(A), &perm, now).unwrap();
        assert_eq!(t.get_specific(1000, "TCP", now).unwrap().lease_duration, 0);
        assert_eq!(
            t.get_specific(1000, "TCP", now)
                .unwrap()
                .remaining_lease(now),
            0
        );
        // IGD:2 stores 0 as 604800 and caps.
        t.add(&req(2000, A, 0), ip(A), &rules(2), now).unwrap();
        assert_eq!(
            t.get_specific(2000, "TCP", now).unwrap().lease_duration,
            IGD2_MAX_LEASE
        );
        t.add(&req(2001, A, 9_999_999), ip(A), &rules(2), now)
            .unwrap();
        assert_eq!(
            t.get_specific(2001, "TCP", now).unwrap().lease_duration,
            IGD2_MAX_LEASE
        );
        // IGD:1 keeps 0 as permanent.
        t.add(&req(2002, A, 0), ip(A), &rules(1), now).unwrap();
        assert_eq!(t.get_specific(2002, "TCP", now).unwrap().expires_at, None);
    }

    #[test]
    fn remaining_lease_and_expiry() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        t.add(&req(3000, A, 100), ip(A), &rules(2), now).unwrap();
        let later = now + Duration::from_secs(40);
        assert_eq!(
            t.get_specific(3000, "TCP", later)
                .unwrap()
                .remaining_lease(later),
            60
        );
        let after = now + Duration::from_secs(100);
        assert_eq!(t.get_specific(3000, "TCP", after).unwrap_err().code, 714);
        assert!(t.entries(after).is_empty());
    }

    #[test]
    fn delete_rules() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        t.add(&req(7777, A, 3600), ip(A), &rules(2), now).unwrap();
        assert_eq!(
            t.delete(7799, "TCP", ip(A), &rules(2), now)
                .unwrap_err()
                .code,
            714
        );
        let mut lenient = rules(2);
        lenient.delete_missing_ok = true;
        t.delete(7799, "TCP", ip(A), &lenient, now).unwrap();
        assert_eq!(
            t.delete(7777, "TCP", ip(B), &rules(2), now)
                .unwrap_err()
                .code,
            606
        );
        assert_eq!(
            t.delete(7777, "UDP", ip(A), &rules(2), now)
                .unwrap_err()
                .code,
            714
        );
        t.delete(7777, "TCP", ip(A), &rules(2), now).unwrap();
        assert!(t.entries(now).is_empty());
    }

    #[test]
    fn generic_and_specific_lookups() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        assert_eq!(t.get_generic(0, now).unwrap_err().code, 713);
        t.add(&req(1, A, 10), ip(A), &rules(2), now).unwrap();
        t.add(&req(2, A, 10), ip(A), &rules(2), now).unwrap();
        assert_eq!(t.get_generic(0, now).unwrap().external_port, 1);
        assert_eq!(t.get_generic(1, now).unwrap().external_port, 2);
        assert_eq!(t.get_generic(2, now).unwrap_err().code, 713);
        assert_eq!(t.get_specific(3, "TCP", now).unwrap_err().code, 714);
    }

    #[test]
    fn add_any_picks_requested_or_next_free() {
        let now = Instant::now();
        let mut t = MappingTable::new();
        t.add(&req(7777, A, 3600), ip(A), &rules(2), now).unwrap();
        t.add(&req(7778, A, 3600), ip(A), &rules(2), now).unwrap();
        assert_eq!(
            t.add_any(&req(7777, B, 3600), ip(B), &rules(2), now)
                .unwrap(),
            7779
        );
        assert_eq!(
            t.add_any(&req(8000, B, 3600), ip(B), &rules(2), now)
                .unwrap(),
            8000
        );
        // The same client asking again for its own mapping gets it back.
        assert_eq!(
            t.add_any(&req(7777, A, 3600), ip(A), &rules(2), now)
                .unwrap(),
            7777
        );
        // Wraps past 65535 to 1.
        t.add(&req(65535, A, 3600), ip(A), &rules(2), now).unwrap();
        assert_eq!(
            t.add_any(&req(65535, B, 3600), ip(B), &rules(2), now)
                .unwrap(),
            1
        );
        assert_eq!(
            t.add_any(&req(0, B, 3600), ip(B), &rules(2), now).unwrap(),
            1024
        );
    }
}
