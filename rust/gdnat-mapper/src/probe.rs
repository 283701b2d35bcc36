//! Which protocols the gateway speaks: PCP (ANNOUNCE), NAT-PMP (external address) and UPnP
//! (SSDP discovery, or the description URL when given) asked at the same time, each bounded
//! by the same timeout. Prefer PCP > NAT-PMP > UPnP.
//!
//! A full probe waits for all three (the CLI's `gdnat probe` shows them). A probe with
//! [`ProbeOptions::end_when_decided`] (the node's) ends as soon as the preferred protocol is
//! known ([`decided`]): at once when PCP answers; when a lower protocol answered, after the
//! higher ones had [`GRACE`] (or as long as that answer took, if longer) to answer too. The
//! protocols not waited for are cancelled and reported unavailable with a detail that says so,
//! and the report is marked incomplete ([`ProbeReport::complete`]).

use std::net::IpAddr;
use std::sync::mpsc;
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
    /// End as soon as the preferred protocol is known, instead of waiting for all three (see
    /// the module documentation). `false` by default.
    pub end_when_decided: bool,
}

/// How long PCP and NAT-PMP may still answer after a lower-preference protocol did, counted
/// from the probe's start, in a probe that ends when decided. A LAN router answers PCP and
/// NAT-PMP within a few milliseconds; UPnP's SSDP answer alone takes tens of them.
pub const GRACE: Duration = Duration::from_millis(100);

impl ProbeOptions {
    /// Probes `gateway` with a 1 s bound per protocol.
    pub fn new(gateway: IpAddr) -> Self {
        Self {
            gateway,
            local_ip: None,
            timeout: Duration::from_secs(1),
            upnp_url: None,
            pmp_port: gdnat_pcp::wire::natpmp::SERVER_PORT,
            end_when_decided: false,
        }
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
    /// Every protocol was asked to the end. `false` when the probe ended once the preferred
    /// protocol was known: the others then read unavailable without having been waited for.
    pub complete: bool,
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
/// `options.timeout`, plus UPnP validation's own HTTP bounds when a device answers), or, with
/// [`ProbeOptions::end_when_decided`], as soon as the preferred one is known; soon after
/// `cancel` in any case.
pub fn probe(options: &ProbeOptions, cancel: &CancelToken) -> ProbeReport {
    let start = Instant::now();
    let probes = cancel.child();
    let (sender, results) = mpsc::sync_channel::<Finished>(3);
    let mut found = Found::default();
    let mut cut_short = false;
    thread::scope(|scope| {
        let spawn = |method: Method| {
            let (sender, probes) = (sender.clone(), &probes);
            scope.spawn(move || {
                let finished = match method {
                    Method::Pcp => Finished::Pmp(Method::Pcp, probe_pcp(options, probes)),
                    Method::NatPmp => Finished::Pmp(Method::NatPmp, probe_natpmp(options, probes)),
                    Method::Upnp => {
                        let (probe, gateway) = probe_upnp(options, probes);
                        Finished::Upnp(probe, gateway)
                    }
                };
                let _ = sender.send(finished);
            })
        };
        let threads = [spawn(Method::Pcp), spawn(Method::NatPmp), spawn(Method::Upnp)];
        drop(sender);
        loop {
            let wait_until = if options.end_when_decided { found.grace_end(start) } else { None };
            let next = match wait_until {
                Some(at) => results.recv_timeout(at.saturating_duration_since(Instant::now())).map_err(|e| matches!(e, mpsc::RecvTimeoutError::Disconnected)),
                None => results.recv().map_err(|_| true),
            };
            match next {
                Ok(finished) => found.take(finished),
                Err(true) => break, // all three ended
                Err(false) => {}    // the grace ran out: decided below
            }
            if found.all_in() {
                break;
            }
            if options.end_when_decided && decided(&found, start, Instant::now()) {
                cut_short = true;
                break;
            }
        }
        // Whatever still runs was not waited for: end it at once.
        probes.cancel();
        for thread in threads {
            let _ = thread.join();
        }
    });
    let elapsed = start.elapsed();
    // Missing: not waited for (cut short), or its thread panicked and sent nothing.
    let or_missing = |probe: Option<ProtocolProbe>, what: &str| {
        probe.unwrap_or_else(|| {
            let detail = if cut_short { format!("{what} not waited for: the preferred protocol was known first") } else { format!("{what} probe ended without a result") };
            ProtocolProbe { available: false, elapsed, detail }
        })
    };
    let complete = !cut_short;
    ProbeReport {
        pcp: or_missing(found.pcp, "PCP"),
        natpmp: or_missing(found.natpmp, "NAT-PMP"),
        upnp: or_missing(found.upnp, "UPnP"),
        upnp_gateway: found.upnp_gateway,
        elapsed,
        complete,
    }
}

/// One protocol's probe, as its thread sends it.
enum Finished {
    Pmp(Method, ProtocolProbe),
    Upnp(ProtocolProbe, Option<Gateway>),
}

/// The results in so far.
#[derive(Default)]
struct Found {
    pcp: Option<ProtocolProbe>,
    natpmp: Option<ProtocolProbe>,
    upnp: Option<ProtocolProbe>,
    upnp_gateway: Option<Gateway>,
}

impl Found {
    fn take(&mut self, finished: Finished) {
        match finished {
            Finished::Pmp(Method::Pcp, probe) => self.pcp = Some(probe),
            Finished::Pmp(_, probe) => self.natpmp = Some(probe),
            Finished::Upnp(probe, gateway) => {
                self.upnp = Some(probe);
                self.upnp_gateway = gateway;
            }
        }
    }

    fn all_in(&self) -> bool {
        self.pcp.is_some() && self.natpmp.is_some() && self.upnp.is_some()
    }

    /// In preference order: each protocol's result, `None` while it runs.
    fn in_order(&self) -> [Option<&ProtocolProbe>; 3] {
        [self.pcp.as_ref(), self.natpmp.as_ref(), self.upnp.as_ref()]
    }

    /// When the grace of the higher protocols ends, once a lower one answered.
    fn grace_end(&self, start: Instant) -> Option<Instant> {
        let answered = self.in_order().into_iter().flatten().find(|p| p.available)?;
        Some(start + GRACE.max(answered.elapsed))
    }
}

/// Whether the preferred protocol is known at `now`: the first protocol in preference order
/// that answered has no higher one still running, or the higher ones had their grace.
fn decided(found: &Found, start: Instant, now: Instant) -> bool {
    let order = found.in_order();
    let Some(best) = order.iter().position(|p| p.is_some_and(|p| p.available)) else { return false };
    let higher_running = order[..best].iter().any(Option::is_none);
    !higher_running || found.grace_end(start).is_some_and(|end| now >= end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(available: bool, millis: u64) -> Option<ProtocolProbe> {
        Some(ProtocolProbe { available, elapsed: Duration::from_millis(millis), detail: String::new() })
    }

    fn found(pcp: Option<ProtocolProbe>, natpmp: Option<ProtocolProbe>, upnp: Option<ProtocolProbe>) -> Found {
        Found { pcp, natpmp, upnp, upnp_gateway: None }
    }

    #[test]
    fn a_pcp_answer_decides_at_once() {
        let start = Instant::now();
        assert!(decided(&found(result(true, 1), None, None), start, start));
    }

    #[test]
    fn nothing_answered_is_never_decided() {
        let start = Instant::now();
        let later = start + Duration::from_secs(5);
        assert!(!decided(&found(None, None, None), start, later));
        assert!(!decided(&found(result(false, 1000), result(false, 1000), None), start, later));
    }

    #[test]
    fn a_upnp_answer_waits_for_the_grace_of_pcp_and_nat_pmp() {
        let start = Instant::now();
        let upnp_first = found(None, None, result(true, 60));
        assert!(!decided(&upnp_first, start, start + Duration::from_millis(60)), "PCP and NAT-PMP still have their grace");
        assert!(decided(&upnp_first, start, start + GRACE), "the grace is over");
        let slow = found(None, None, result(true, 400));
        assert!(!decided(&slow, start, start + GRACE), "a slow UPnP answer gives the others as long");
        assert!(decided(&slow, start, start + Duration::from_millis(400)));
    }

    #[test]
    fn a_nat_pmp_answer_decides_once_pcp_has_failed() {
        let start = Instant::now();
        assert!(decided(&found(result(false, 5), result(true, 3), None), start, start));
        assert!(!decided(&found(None, result(true, 3), None), start, start), "PCP may still answer");
    }
}
