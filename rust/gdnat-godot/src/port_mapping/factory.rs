//! Builds a mapping worker's backend on the worker thread (never on a frame): the gateway
//! (given, or the default route's next hop), one probe of PCP, NAT-PMP and UPnP shared by
//! every node of the process ([`gdnat_mapper::ProbeCache`]: concurrent nodes, and the UDP and
//! TCP halves of `BOTH`, share one probe; a success is trusted 10 min), then the first allowed
//! protocol the gateway speaks, PCP > NAT-PMP > UPnP. With a records folder
//! ([`super::memory`]) the protocol remembered from an earlier run is checked with one request
//! instead of the probe, and a crashed run's PCP mapping is taken over by its nonce. Plain
//! data only.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use gdnat_igd::CancelToken;
use gdnat_mapper::{Backend, BackendFactory, ErrorKind, GatewayRecord, MapperError, Method, PmpBackend, ProbeCache, ProbeOptions, UpnpBackend};
use gdnat_pcp::{default_gateway, ClientOptions, NatPmpClient, PcpClient, PortMapClient};

use super::memory::{self, MappingRecord};

/// Each protocol's probe is bounded by this (all three run at once).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// The bound of one PCP/NAT-PMP call (map, renew, delete), retransmissions included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// The process-wide probe cache.
pub fn probe_cache() -> &'static ProbeCache {
    static CACHE: OnceLock<ProbeCache> = OnceLock::new();
    CACHE.get_or_init(ProbeCache::new)
}

/// The gateway to talk to: `given`, else the default route's next hop.
pub fn resolve_gateway(given: Option<IpAddr>) -> Result<IpAddr, MapperError> {
    match given {
        Some(ip) => Ok(ip),
        None => default_gateway(None).map(|found| found.ip()).map_err(|e| MapperError::new(ErrorKind::NoGateway, format!("no gateway: {e}"))),
    }
}

/// How a worker found its gateway and protocol, shared with the node (which reads it after
/// the first event and records the mapping on that gateway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The gateway.
    pub gateway: IpAddr,
    /// `"record"` (remembered from an earlier run, checked with one request, no probe) or
    /// `"probe"` (PCP, NAT-PMP and UPnP asked at once, or the process's probe cache).
    pub source: &'static str,
}

/// Where a worker reports [`Found`].
pub type FoundSlot = Arc<Mutex<Option<Found>>>;

/// What the worker's factory needs besides the request.
#[derive(Clone, Debug)]
pub struct Lookup {
    /// The methods allowed, in order of preference.
    pub methods: Vec<Method>,
    /// The gateway given (`None`: the default route's next hop).
    pub gateway: Option<IpAddr>,
    /// The folder of the records (`user://gdnat`), if any.
    pub memory: Option<PathBuf>,
    /// The request's protocol and external port (they name its mapping record).
    pub protocol: gdnat_pcp::Protocol,
    /// The external port asked for.
    pub port: u16,
    /// The mapping's description (a stale UPnP mapping is only removed when it has it).
    pub description: String,
}

fn client_options(gateway: IpAddr, timeout: Duration) -> ClientOptions {
    let mut options = ClientOptions::new(gateway);
    options.call_timeout = timeout;
    options
}

/// What the remembered gateway record gave.
enum Remembered {
    /// No usable record: none, unreadable, another gateway, or a protocol not allowed now.
    None,
    /// The recorded protocol answered its one request.
    Answered(Method, Option<gdnat_igd::Gateway>),
    /// The record is about this gateway, but its protocol no longer answers.
    Silent,
}

/// Checks the remembered protocol with one request (PCP ANNOUNCE, NAT-PMP external address,
/// or the UPnP description URL: no SSDP discovery).
fn from_record(dir: &Path, gateway: IpAddr, methods: &[Method], cancel: &CancelToken) -> Remembered {
    let Ok(Some(record)) = GatewayRecord::load(&memory::gateway_record_path(dir)) else { return Remembered::None };
    if record.gateway != gateway || !methods.contains(&record.method) {
        return Remembered::None;
    }
    let options = client_options(gateway, PROBE_TIMEOUT);
    let answered = match record.method {
        Method::Pcp => PcpClient::new(&options, cancel).ok().and_then(|mut c| c.announce().ok()).map(|_| (Method::Pcp, None)),
        Method::NatPmp => NatPmpClient::new(&options, cancel).ok().and_then(|mut c| c.external_address().ok()).map(|_| (Method::NatPmp, None)),
        Method::Upnp => record.upnp_url.as_deref().and_then(|url| {
            let device = gdnat_igd::client::validate_device_at(url, &gdnat_igd::client::HttpLimits::default(), cancel);
            device.gateway.filter(|_| device.status.is_connected()).map(|found| (Method::Upnp, Some(found)))
        }),
    };
    answered.map_or(Remembered::Silent, |(method, found)| Remembered::Answered(method, found))
}

/// A factory that finds the gateway, takes its protocol from the record (checked) or from a
/// probe (shared cache; the result is recorded; the probe ends as soon as the preferred
/// protocol is known, and asks all three to the end only when that protocol is not one this
/// node may use: `gdnat_mapper::probe`), and returns the backend of the first of
/// `lookup.methods` it speaks. A recorded gateway protocol that no longer answers (the router
/// was reconfigured or replaced) also drops the process's cached probe of that gateway, so the
/// probe asks again instead of trusting what it heard before. This host's recorded mapping of
/// the same protocol and asked port on that gateway, made with the same protocol, is taken
/// over: on the same external port a PCP backend reuses its nonce (the gateway renews it);
/// on another external port (the crashed run got another port after a conflict) it is removed
/// first ([`gdnat_mapper::Backend::remove_stale`]: only ours, never another host's).
pub fn backend_factory(lookup: Lookup, found_slot: FoundSlot) -> BackendFactory {
    Box::new(move |cancel: &CancelToken| {
        let gateway = resolve_gateway(lookup.gateway)?;
        let mut options = ProbeOptions::new(gateway);
        options.timeout = PROBE_TIMEOUT;
        options.end_when_decided = true;
        let remembered = lookup.memory.as_deref().map_or(Remembered::None, |dir| from_record(dir, gateway, &lookup.methods, cancel));
        if matches!(remembered, Remembered::Silent) {
            probe_cache().invalidate(&options);
        }
        let source = if matches!(remembered, Remembered::Answered(..)) { "record" } else { "probe" };
        let (method, upnp_gateway) = match remembered {
            Remembered::Answered(method, found) => (method, found),
            Remembered::None | Remembered::Silent => {
                let mut report = probe_cache().probe(&options, cancel);
                if !report.complete && !lookup.methods.iter().any(|m| report.get(*m).available) {
                    // The probe ended on a protocol this node may not use: ask all three to the end.
                    probe_cache().invalidate(&options);
                    options.end_when_decided = false;
                    report = probe_cache().probe(&options, cancel);
                }
                if let (Some(dir), Some(record)) = (&lookup.memory, GatewayRecord::from_probe(&options, &report)) {
                    let _ = std::fs::create_dir_all(dir).map(|()| record.save(&memory::gateway_record_path(dir)));
                }
                let Some(method) = lookup.methods.iter().copied().find(|m| report.get(*m).available) else {
                    let tried: Vec<String> = lookup.methods.iter().map(|m| format!("{} ({})", m.as_str(), report.get(*m).detail)).collect();
                    return Err(MapperError::new(ErrorKind::NoGateway, format!("the gateway {gateway} answered none of the allowed protocols: {}", tried.join("; "))));
                };
                (method, report.upnp_gateway.clone())
            }
        };
        *found_slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Found { gateway, source });
        // This host's mapping of the same protocol and asked port, left by an earlier run on
        // this gateway with this protocol (a crash, or a quit whose delete did not get through).
        let recorded = lookup
            .memory
            .as_deref()
            .and_then(|dir| MappingRecord::load(&memory::mapping_record_path(dir, lookup.protocol, lookup.port)))
            .filter(|r| r.made_on(gateway, method));
        let mut backend: Box<dyn Backend + Send> = match method {
            Method::Pcp | Method::NatPmp => {
                let only = if method == Method::Pcp { gdnat_pcp::Method::Pcp } else { gdnat_pcp::Method::NatPmp };
                let client = PortMapClient::new(&client_options(gateway, CALL_TIMEOUT), cancel, Some(only))
                    .map_err(|e| MapperError::new(ErrorKind::Io, format!("{} socket: {e}", method.as_str())))?;
                let mut backend = PmpBackend::new(client, method);
                let same_port = recorded.as_ref().filter(|r| r.external_port == lookup.port);
                if let Some(nonce) = same_port.and_then(|r| r.nonce) {
                    backend = backend.with_nonce(nonce);
                }
                Box::new(backend)
            }
            Method::Upnp => {
                let found = upnp_gateway.ok_or_else(|| MapperError::new(ErrorKind::NoGateway, "UPnP answered but no connected gateway was found"))?;
                Box::new(UpnpBackend::new(found))
            }
        };
        if let Some(stale) = recorded.filter(|r| r.external_port != lookup.port) {
            // Best effort: a stale mapping that cannot be removed runs out with its lease.
            let _ = backend.remove_stale(&stale.stale_granted(lookup.protocol), &lookup.description);
        }
        // Records of other asked ports whose run is gone (their lock is free: the game changed
        // its port after a crash; a live node holds its own, see `memory::try_lock`): remove
        // those mappings, only where made on this gateway with this protocol, only ours
        // (remove_stale), and forget the record once the gateway answered.
        if let Some(dir) = lookup.memory.as_deref() {
            for (port, stale, _stale_lock) in memory::stale_asked_ports(dir, lookup.protocol, lookup.port) {
                if stale.made_on(gateway, method) && backend.remove_stale(&stale.stale_granted(lookup.protocol), &lookup.description).is_ok() {
                    memory::forget(&memory::mapping_record_path(dir, lookup.protocol, port));
                }
            }
        }
        Ok(backend)
    })
}
