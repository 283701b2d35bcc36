//! Which protocols the gateway speaks: PCP (ANNOUNCE), NAT-PMP (external address) and UPnP
//! (SSDP discovery, or the description URL when given) asked at the same time, each bounded
//! by the same timeout. Prefer PCP > NAT-PMP > UPnP.

use std::net::IpAddr;
use std::thread;
use std::time::{Duration, Instant};

use gdnat_igd::{DiscoverOptions, Gateway};
use gdnat_io::CancelToken;
use gdnat_pcp::{ClientOptions, NatPmpClient, PcpClient};

use crate::backend::Method;

/// What to probe.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// The gateway for PCP and NAT-PMP (the default route's next hop, usually).
    pub gateway: IpAddr,
    /// Our address on its network (`None`: the system's route towards it).
    pub local_ip: Option<IpAddr>,
    /// The bound of each protocol's probe.
    pub timeout: Duration,
    /// A UPnP description URL; `None` discovers with SSDP.
    pub upnp_url: Option<String>,
    /// The NAT-PMP/PCP port (5351; tests use another).
    pub pmp_port: u16,
}

impl ProbeOptions {
    /// Probes `gateway` with a 1 s bound per protocol.
    pub fn new(gateway: IpAddr) -> Self {
        Self { gateway, local_ip: None, timeout: Duration::from_secs(1), upnp_url: None, pmp_port: gdnat_pcp::wire::natpmp::SERVER_PORT }
    }
}

/// One protocol's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolProbe {
    /// The gateway answered it.
    pub available: bool,
    /// From the start of the probe to its answer (or its failure).
    pub elapsed: Duration,
    /// What it said: the epoch, the external address, the description URL, or the error.
    pub detail: String,
}

/// The three results.
#[derive(Clone, Debug)]
pub struct ProbeReport {
    /// PCP.
    pub pcp: ProtocolProbe,
    /// NAT-PMP.
    pub natpmp: ProtocolProbe,
    /// UPnP IGD.
    pub upnp: ProtocolProbe,
    /// The UPnP gateway found, ready to map with.
    pub upnp_gateway: Option<Gateway>,
    /// The whole probe.
    pub elapsed: Duration,
}

impl ProbeReport {
    /// The best protocol available: PCP, then NAT-PMP, then UPnP.
    pub fn preferred(&self) -> Option<Method> {
        [(Method::Pcp, &self.pcp), (Method::NatPmp, &self.natpmp), (Method::Upnp, &self.upnp)]
            .into_iter()
            .find(|(_, probe)| probe.available)
            .map(|(method, _)| method)
    }

    /// The result of `method`.
    pub fn get(&self, method: Method) -> &ProtocolProbe {
        match method {
            Method::Pcp => &self.pcp,
            Method::NatPmp => &self.natpmp,
            Method::Upnp => &self.upnp,
        }
    }
}

fn outcome(start: Instant, result: Result<String, String>) -> ProtocolProbe {
    let elapsed = start.elapsed();
    match result {
        Ok(detail) => ProtocolProbe { available: true, elapsed, detail },
        Err(detail) => ProtocolProbe { available: false, elapsed, detail },
    }
}

fn client_options(options: &ProbeOptions) -> ClientOptions {
    ClientOptions { server: std::net::SocketAddr::new(options.gateway, options.pmp_port), local_ip: options.local_ip, call_timeout: options.timeout }
}

fn probe_pcp(options: &ProbeOptions, cancel: &CancelToken) -> ProtocolProbe {
    let start = Instant::now();
    let result = PcpClient::new(&client_options(options), cancel).map_err(|e| format!("socket: {e}")).and_then(|mut client| {
        client.announce().map(|a| format!("epoch {}", a.epoch)).map_err(|e| e.to_string())
    });
    outcome(start, result)
}

fn probe_natpmp(options: &ProbeOptions, cancel: &CancelToken) -> ProtocolProbe {
    let start = Instant::now();
    let result = NatPmpClient::new(&client_options(options), cancel).map_err(|e| format!("socket: {e}")).and_then(|mut client| {
        client.external_address().map(|a| format!("external {} epoch {}", a.address, a.epoch)).map_err(|e| e.to_string())
    });
    outcome(start, result)
}

fn probe_upnp(options: &ProbeOptions, cancel: &CancelToken) -> (ProtocolProbe, Option<Gateway>) {
    let start = Instant::now();
    if let Some(url) = &options.upnp_url {
        let limits = gdnat_igd::client::HttpLimits::default();
        let device = gdnat_igd::client::validate_device_at(url, &limits, cancel);
        return match device.gateway.filter(|_| device.status.is_connected()) {
            Some(gateway) => (outcome(start, Ok(url.clone())), Some(gateway)),
            None => (outcome(start, Err(format!("no connected gateway at {url}: {}", device.detail))), None),
        };
    }
    let discover_options = DiscoverOptions { timeout: options.timeout, ..DiscoverOptions::default() };
    match gdnat_igd::discover(&discover_options, cancel, &mut |_| {}) {
        Ok(devices) => {
            let count = devices.len();
            match devices.into_iter().find(|d| d.status.is_connected() && d.gateway.is_some()) {
                Some(device) => (outcome(start, Ok(device.description_url.clone())), device.gateway),
                None => (outcome(start, Err(format!("{count} device(s), none a connected gateway"))), None),
            }
        }
        Err(error) => (outcome(start, Err(error.to_string())), None),
    }
}

/// Probes the three protocols at once; returns when all three are done (each within
/// `options.timeout`, plus UPnP validation's own HTTP bounds when a device answers), or soon
/// after `cancel`.
pub fn probe(options: &ProbeOptions, cancel: &CancelToken) -> ProbeReport {
    let start = Instant::now();
    let (pcp, natpmp, (upnp, upnp_gateway)) = thread::scope(|scope| {
        let pcp = scope.spawn(|| probe_pcp(options, cancel));
        let natpmp = scope.spawn(|| probe_natpmp(options, cancel));
        let upnp = probe_upnp(options, cancel);
        let failed = |what: &str| ProtocolProbe { available: false, elapsed: start.elapsed(), detail: format!("{what} probe panicked") };
        (pcp.join().unwrap_or_else(|_| failed("PCP")), natpmp.join().unwrap_or_else(|_| failed("NAT-PMP")), upnp)
    });
    ProbeReport { pcp, natpmp, upnp, upnp_gateway, elapsed: start.elapsed() }
}
