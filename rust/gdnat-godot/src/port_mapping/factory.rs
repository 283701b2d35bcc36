//! Builds a mapping worker's backend on the worker thread (never on a frame): the gateway
//! (given, or the default route's next hop), one probe of PCP, NAT-PMP and UPnP shared by
//! every node of the process ([`gdnat_mapper::ProbeCache`]: concurrent nodes, and the UDP and
//! TCP halves of `BOTH`, share one probe; a success is trusted 10 min), then the first allowed
//! protocol the gateway speaks, PCP > NAT-PMP > UPnP. Plain data only.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

use gdnat_igd::CancelToken;
use gdnat_mapper::{Backend, BackendFactory, ErrorKind, MapperError, Method, PmpBackend, ProbeCache, ProbeOptions, UpnpBackend};
use gdnat_pcp::{default_gateway, ClientOptions, PortMapClient};

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

/// A factory that finds the gateway, probes it (shared cache) and returns the backend of the
/// first of `methods` it speaks.
pub fn backend_factory(methods: Vec<Method>, gateway: Option<IpAddr>) -> BackendFactory {
    Box::new(move |cancel: &CancelToken| {
        let gateway = resolve_gateway(gateway)?;
        let mut options = ProbeOptions::new(gateway);
        options.timeout = PROBE_TIMEOUT;
        let report = probe_cache().probe(&options, cancel);
        let Some(method) = methods.iter().copied().find(|m| report.get(*m).available) else {
            let tried: Vec<String> = methods.iter().map(|m| format!("{} ({})", m.as_str(), report.get(*m).detail)).collect();
            return Err(MapperError::new(ErrorKind::NoGateway, format!("the gateway {gateway} answered none of the allowed protocols: {}", tried.join("; "))));
        };
        let backend: Box<dyn Backend + Send> = match method {
            Method::Pcp | Method::NatPmp => {
                let only = if method == Method::Pcp { gdnat_pcp::Method::Pcp } else { gdnat_pcp::Method::NatPmp };
                let mut client_options = ClientOptions::new(gateway);
                client_options.call_timeout = CALL_TIMEOUT;
                let client = PortMapClient::new(&client_options, cancel, Some(only)).map_err(|e| MapperError::new(ErrorKind::Io, format!("{} socket: {e}", method.as_str())))?;
                Box::new(PmpBackend::new(client, method))
            }
            Method::Upnp => {
                let found = report.upnp_gateway.clone().ok_or_else(|| MapperError::new(ErrorKind::NoGateway, "UPnP answered but no connected gateway was found"))?;
                Box::new(UpnpBackend::new(found))
            }
        };
        Ok(backend)
    })
}
