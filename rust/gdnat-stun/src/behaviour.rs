//! NAT behaviour discovery (RFC 5780 §4.3 and §4.4) against a STUN server with two addresses
//! and two ports (coturn with two `listening-ip`s), and the NAT verdict that combines what the
//! router reports with what STUN sees.
//!
//! - Mapping, on one socket: test I to the primary address gives X1 and OTHER-ADDRESS; test II
//!   to (alternate IP, primary port) gives X2 (X2 = X1: endpoint-independent); test III to
//!   (alternate IP, alternate port) gives X3 (X3 = X2: address-dependent, else
//!   address-and-port-dependent).
//! - Filtering, on a second, fresh socket (so the mapping tests have opened nothing for the
//!   alternate address): test I to the primary address, then CHANGE-REQUEST "IP and port" and
//!   "port only" sent together. An answer from the alternate IP and port means
//!   endpoint-independent filtering; otherwise an answer from the primary IP's alternate port
//!   means address-dependent; no answer within [`DiscoveryOptions::no_answer_wait`] means
//!   address-and-port-dependent.
//! - No hairpin probe (a packet to our own public address): firewalls treat it as an attack
//!   (Tailscale removed theirs), and a game does not need the answer.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use gdnat_io::udp::{recv_until, Retransmit};
use gdnat_io::{WaitError, Waiter};

use crate::client::{bind_port, query_with, same_endpoint, Binding, Query, StunError};
use crate::codec::{self, ChangeRequest, ResponseError, MAX_MESSAGE};

/// How a NAT chooses the public endpoint of a socket's flows (RFC 4787 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mapping {
    /// One public endpoint for every destination ("cone"; hole punching works).
    EndpointIndependent,
    /// A new public endpoint per destination IP address.
    AddressDependent,
    /// A new public endpoint per destination IP and port ("symmetric"; punching fails unless
    /// the other side accepts from anywhere, and a relay is needed).
    AddressAndPortDependent,
}

/// Which senders a NAT lets in to a mapped endpoint (RFC 4787 §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Anyone ("full cone").
    EndpointIndependent,
    /// Only IP addresses the socket has sent to ("restricted cone").
    AddressDependent,
    /// Only IP and port pairs the socket has sent to ("port-restricted cone", most home
    /// routers).
    AddressAndPortDependent,
}

impl Mapping {
    /// The kebab-case name printed by `gdnat nat-type` (`endpoint-independent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
            Self::AddressAndPortDependent => "address-and-port-dependent",
        }
    }
}

impl Filtering {
    /// The kebab-case name printed by `gdnat nat-type` (`endpoint-independent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
            Self::AddressAndPortDependent => "address-and-port-dependent",
        }
    }
}

impl fmt::Display for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Filtering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`discover`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatBehaviour {
    /// The mapping behaviour.
    pub mapping: Mapping,
    /// The filtering behaviour.
    pub filtering: Filtering,
    /// The public endpoint of the mapping socket as the primary address saw it (X1).
    pub public: SocketAddr,
    /// The mapping socket's local address (the IP towards the server, not the wildcard).
    pub local: SocketAddr,
    /// False when the public endpoint is our own local address (no NAT; `filtering` then
    /// describes a firewall, if any).
    pub behind_nat: bool,
    /// The server's alternate address (OTHER-ADDRESS).
    pub other_address: SocketAddr,
    /// How long the whole discovery took.
    pub elapsed: Duration,
}

/// Knobs of [`discover`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiscoveryOptions {
    /// The schedule of each request that must be answered (test I and the mapping tests).
    pub schedule: Retransmit,
    /// How long the filtering tests wait for answers that a filtering NAT drops; silence for
    /// this long is the verdict. The requests are resent at 100 and 300 ms within it.
    pub no_answer_wait: Duration,
}

impl Default for DiscoveryOptions {
    /// gdnat's STUN schedule; 500 ms of silence decides a filtering test (three sends: one
    /// lost packet does not change the verdict).
    fn default() -> Self {
        Self { schedule: Retransmit::stun(), no_answer_wait: Duration::from_millis(500) }
    }
}

/// Why [`discover`] has no verdict. [`code`](Self::code) is stable.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// A request that must be answered was not, or failed (the [`StunError`] says how).
    /// Codes 1 to 6 as [`StunError::code`].
    #[error("{test}: {error}")]
    Stun {
        /// Which test ("test I", "mapping test II", …).
        test: &'static str,
        /// What went wrong.
        error: StunError,
    },
    /// The server sent no OTHER-ADDRESS, or one that does not differ from its primary address
    /// in both IP and port: it is not set up for RFC 5780 (coturn needs two listening IPs).
    /// Code 7.
    #[error("STUN server {server} does not support RFC 5780 (OTHER-ADDRESS {other:?}); NAT behaviour needs a server with two addresses")]
    NoRfc5780 {
        /// The server.
        server: SocketAddr,
        /// What it sent as OTHER-ADDRESS.
        other: Option<SocketAddr>,
    },
}

impl DiscoveryError {
    /// 1..=6 as [`StunError::code`] for the failed request; 7 no RFC 5780 support.
    pub fn code(&self) -> u32 {
        match self {
            Self::Stun { error, .. } => error.code(),
            Self::NoRfc5780 { .. } => 7,
        }
    }
}

fn stun(test: &'static str) -> impl FnOnce(StunError) -> DiscoveryError {
    move |error| DiscoveryError::Stun { test, error }
}

/// Discovers the mapping and filtering behaviour of the NAT(s) between us and `server` (its
/// primary address; it must support RFC 5780). Uses two ephemeral sockets, closed on return.
/// Takes a few round trips when filtering is endpoint-independent, plus
/// [`DiscoveryOptions::no_answer_wait`] otherwise; at most a few times the schedule's total
/// when the server stops answering. Cancellable at any moment through `waiter`.
pub fn discover(server: SocketAddr, options: &DiscoveryOptions, waiter: &Waiter) -> Result<NatBehaviour, DiscoveryError> {
    let start = Instant::now();
    let socket = bind_port(0, server).map_err(stun("binding the mapping socket"))?;
    let ask = |to: SocketAddr, test: &'static str| {
        query_with(&socket, &Query { server: to, change: ChangeRequest::NONE, answer_from: None, schedule: options.schedule }, waiter)
            .map_err(stun(test))
    };
    let first = ask(server, "test I")?;
    let other = match first.other_address {
        Some(other) if other.ip() != server.ip() && other.port() != server.port() => other,
        other => return Err(DiscoveryError::NoRfc5780 { server, other }),
    };
    let local = SocketAddr::new(local_ip_towards(server).unwrap_or(first.local.ip()), first.local.port());
    let behind_nat = !same_endpoint(first.public, local);

    let second = ask(SocketAddr::new(other.ip(), server.port()), "mapping test II")?;
    let mapping = if second.public == first.public {
        Mapping::EndpointIndependent
    } else {
        let third = ask(other, "mapping test III")?;
        if third.public == second.public {
            Mapping::AddressDependent
        } else {
            Mapping::AddressAndPortDependent
        }
    };
    drop(socket);

    let filtering = discover_filtering(server, other, options, waiter)?;
    Ok(NatBehaviour { mapping, filtering, public: first.public, local, behind_nat, other_address: other, elapsed: start.elapsed() })
}

/// The filtering tests on a fresh socket (see the module documentation).
fn discover_filtering(server: SocketAddr, other: SocketAddr, options: &DiscoveryOptions, waiter: &Waiter) -> Result<Filtering, DiscoveryError> {
    let socket = bind_port(0, server).map_err(stun("binding the filtering socket"))?;
    let _: Binding = query_with(&socket, &Query { server, change: ChangeRequest::NONE, answer_from: None, schedule: options.schedule }, waiter)
        .map_err(stun("filtering test I"))?;
    let probes = [
        Probe::new(ChangeRequest::IP_AND_PORT, other),
        Probe::new(ChangeRequest::PORT, SocketAddr::new(server.ip(), other.port())),
    ];
    let answered = send_probes(&socket, server, &probes, options.no_answer_wait, waiter)?;
    Ok(if answered[0] {
        Filtering::EndpointIndependent
    } else if answered[1] {
        Filtering::AddressDependent
    } else {
        Filtering::AddressAndPortDependent
    })
}

/// One CHANGE-REQUEST whose answer may never come.
struct Probe {
    payload: Vec<u8>,
    id: codec::StunTransactionId,
    answer_from: SocketAddr,
}

impl Probe {
    fn new(change: ChangeRequest, answer_from: SocketAddr) -> Self {
        let (payload, id) = codec::binding_request(change);
        Self { payload, id, answer_from }
    }
}

/// Sends every probe to `server` at 0, 100 and 300 ms (those not answered yet) and waits
/// until the first probe is answered or `wait` has passed. Returns which were answered (from
/// their expected address). A STUN error answer ends the wait with that error.
fn send_probes(socket: &UdpSocket, server: SocketAddr, probes: &[Probe], wait: Duration, waiter: &Waiter) -> Result<Vec<bool>, DiscoveryError> {
    const TEST: &str = "filtering tests II/III";
    let io = |stage: &'static str| move |source| DiscoveryError::Stun { test: TEST, error: StunError::Io { stage, source } };
    let start = Instant::now();
    let deadline = start + wait;
    let resends = [Duration::ZERO, Duration::from_millis(100), Duration::from_millis(300)];
    let mut next_send = 0;
    let mut answered = vec![false; probes.len()];
    let mut buffer = vec![0u8; MAX_MESSAGE + 1];
    while Instant::now() < deadline && !answered[0] {
        if next_send < resends.len() && start.elapsed() >= resends[next_send] {
            for (probe, done) in probes.iter().zip(&answered) {
                if !done {
                    socket.send_to(&probe.payload, server).map_err(io("sending a filtering probe"))?;
                }
            }
            next_send += 1;
        }
        let wake = match resends.get(next_send) {
            Some(at) => (start + *at).min(deadline),
            None => deadline,
        };
        let datagram = match recv_until(socket, &mut buffer, wake, waiter) {
            Ok(Some(datagram)) => datagram,
            Ok(None) => continue,
            Err(WaitError::Cancelled) => return Err(DiscoveryError::Stun { test: TEST, error: StunError::Cancelled }),
            Err(WaitError::Io(source)) => return Err(io("waiting for filtering answers")(source)),
        };
        if datagram.truncated {
            continue;
        }
        for (probe, done) in probes.iter().zip(answered.iter_mut()) {
            // The answer counts only from the changed address; an error (420: no RFC 5780)
            // comes from the address the request went to.
            let from_changed = same_endpoint(datagram.from, probe.answer_from);
            if !from_changed && !same_endpoint(datagram.from, server) {
                continue;
            }
            match codec::parse_binding_response(&buffer[..datagram.len], probe.id) {
                Ok(_) if from_changed => *done = true,
                Err(ResponseError::ServerError { code, reason }) => {
                    return Err(DiscoveryError::Stun { test: TEST, error: StunError::ServerError { server, code, reason } })
                }
                // A success from the unchanged address: the server ignored CHANGE-REQUEST.
                Ok(_) | Err(_) => {}
            }
        }
    }
    Ok(answered)
}

/// The local IP the system would use towards `peer` (a connected UDP socket; nothing is
/// sent).
pub fn local_ip_towards(peer: SocketAddr) -> Option<IpAddr> {
    let socket = bind_port(0, peer).ok()?;
    socket.connect(peer).ok()?;
    socket.local_addr().ok().map(|addr| addr.ip())
}

/// How many NATs sit between this host and the internet, from what the router reports and
/// what STUN sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NatVerdict {
    /// STUN sees our own address: no NAT (a firewall may still filter).
    NoNat,
    /// The router's external address is the one STUN sees: one NAT, ours. Port mapping
    /// (UPnP/NAT-PMP/PCP) on it makes us reachable.
    OneNat,
    /// The router's external address is private or reserved, or differs from what STUN sees:
    /// another NAT sits upstream of it. A port mapping on our router alone does not make us
    /// reachable; hole punching may.
    DoubleNat,
    /// The router's external address (or our own, when no router answers) is in the
    /// carrier-grade NAT range 100.64.0.0/10 (RFC 6598): the provider's NAT is upstream.
    CarrierGradeNat,
    /// STUN sees another address, and no router reported one: at least one NAT, of unknown
    /// depth (UPnP, NAT-PMP and PCP are off or absent).
    BehindNat,
    /// No STUN answer: nothing can be said.
    Unknown,
}

impl NatVerdict {
    /// The kebab-case name (`no-nat`, `one-nat`, `double-nat`, `carrier-grade-nat`,
    /// `behind-nat`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoNat => "no-nat",
            Self::OneNat => "one-nat",
            Self::DoubleNat => "double-nat",
            Self::CarrierGradeNat => "carrier-grade-nat",
            Self::BehindNat => "behind-nat",
            Self::Unknown => "unknown",
        }
    }

    /// A sentence for players and logs.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NoNat => "no NAT: this host has a public address",
            Self::OneNat => "one NAT: the router's external address is the public one",
            Self::DoubleNat => "double NAT: another NAT sits between the router and the internet",
            Self::CarrierGradeNat => "carrier-grade NAT: the internet provider shares one public address among customers",
            Self::BehindNat => "behind NAT: the router reports no external address (UPnP, NAT-PMP and PCP off)",
            Self::Unknown => "unknown: the STUN server did not answer",
        }
    }
}

impl fmt::Display for NatVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 100.64.0.0/10, the shared address space of carrier-grade NATs (RFC 6598).
pub fn is_carrier_grade(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            a == 100 && (64..128).contains(&b)
        }
        IpAddr::V6(_) => false,
    }
}

/// The verdict from our local address (towards the STUN server), the external address the
/// router reports (UPnP `GetExternalIPAddress`, NAT-PMP or PCP; `None` when none answered) and
/// the public address STUN saw (`None` when STUN failed). Pure: no I/O.
///
/// In order: no STUN answer → `Unknown`; STUN sees our own address → `NoNat`; the router
/// reports what STUN sees → `OneNat`; the router reports a carrier-grade address → `CarrierGradeNat`;
/// the router reports anything else → `DoubleNat`; no router, our own address carrier-grade →
/// `CarrierGradeNat`; no router → `BehindNat`.
pub fn nat_verdict(local: IpAddr, router_external: Option<IpAddr>, stun_public: Option<IpAddr>) -> NatVerdict {
    let Some(public) = stun_public.map(|ip| ip.to_canonical()) else { return NatVerdict::Unknown };
    if public == local.to_canonical() {
        return NatVerdict::NoNat;
    }
    match router_external.map(|ip| ip.to_canonical()) {
        Some(external) if external == public => NatVerdict::OneNat,
        Some(external) if is_carrier_grade(external) => NatVerdict::CarrierGradeNat,
        Some(_) => NatVerdict::DoubleNat,
        None if is_carrier_grade(local) => NatVerdict::CarrierGradeNat,
        None => NatVerdict::BehindNat,
    }
}

/// The unspecified IPv4 address, for callers that have no router report.
pub const NO_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{binding_error, binding_success, read_binding_request};
    use gdnat_io::CancelToken;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::thread;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_verdict_table() {
        let lan = ip("192.168.1.20");
        let public = ip("203.0.113.7");
        assert_eq!(nat_verdict(lan, Some(public), None), NatVerdict::Unknown);
        assert_eq!(nat_verdict(public, None, Some(public)), NatVerdict::NoNat);
        assert_eq!(nat_verdict(ip("::ffff:203.0.113.7"), None, Some(public)), NatVerdict::NoNat, "v4-mapped counts as v4");
        assert_eq!(nat_verdict(lan, Some(public), Some(public)), NatVerdict::OneNat);
        assert_eq!(nat_verdict(lan, Some(ip("100.64.12.1")), Some(public)), NatVerdict::CarrierGradeNat);
        assert_eq!(nat_verdict(lan, Some(ip("10.0.0.2")), Some(public)), NatVerdict::DoubleNat);
        assert_eq!(nat_verdict(lan, Some(ip("198.51.100.9")), Some(public)), NatVerdict::DoubleNat, "public but not what STUN sees");
        assert_eq!(nat_verdict(ip("100.127.3.4"), None, Some(public)), NatVerdict::CarrierGradeNat);
        assert_eq!(nat_verdict(lan, None, Some(public)), NatVerdict::BehindNat);
        assert!(!is_carrier_grade(ip("100.128.0.1")) && !is_carrier_grade(ip("100.63.255.255")));
    }

    /// A simulated RFC 5780 server and NAT on loopback: four server sockets (127.0.0.1 and
    /// 127.0.0.2, two ports each); the "NAT" is simulated by what the server reports as the
    /// mapped address and by which change requests it answers.
    struct Sim {
        primary: SocketAddr,
    }

    #[derive(Clone, Copy)]
    struct NatModel {
        mapping: Mapping,
        filtering: Filtering,
        /// Answer CHANGE-REQUESTs with a 420 error instead.
        refuse_change: bool,
        /// Send no OTHER-ADDRESS.
        no_other: bool,
    }

    fn sim(model: NatModel) -> Option<Sim> {
        let ips = ["127.0.0.1", "127.0.0.2"];
        let first = UdpSocket::bind("127.0.0.1:0").ok()?;
        let port1 = first.local_addr().ok()?.port();
        let mut sockets = vec![first];
        // The second port must be free on both IPs.
        let second = UdpSocket::bind("127.0.0.1:0").ok()?;
        let port2 = second.local_addr().ok()?.port();
        sockets.push(UdpSocket::bind((ips[1], port1)).ok()?);
        sockets.push(second);
        sockets.push(UdpSocket::bind((ips[1], port2)).ok()?);
        let addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local_addr().unwrap()).collect();
        let sockets: Arc<Vec<UdpSocket>> = Arc::new(sockets);
        // Public port per (client port, destination) under the model's mapping.
        let ports: Arc<Mutex<HashMap<(u16, SocketAddr), u16>>> = Arc::default();
        for index in 0..4 {
            let sockets = Arc::clone(&sockets);
            let ports = Arc::clone(&ports);
            let addrs = addrs.clone();
            thread::spawn(move || {
                let me = &sockets[index];
                me.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buffer = [0u8; 600];
                while let Ok((len, client)) = me.recv_from(&mut buffer) {
                    let Some((id, change)) = read_binding_request(&buffer[..len]) else { continue };
                    let dest = addrs[index];
                    let key = match model.mapping {
                        Mapping::EndpointIndependent => (client.port(), addrs[0]),
                        Mapping::AddressDependent => (client.port(), SocketAddr::new(dest.ip(), 1)),
                        Mapping::AddressAndPortDependent => (client.port(), dest),
                    };
                    let public_port = {
                        let mut ports = ports.lock().unwrap();
                        let next = 40000 + ports.len() as u16;
                        *ports.entry(key).or_insert(next)
                    };
                    let mapped = SocketAddr::new(ip("198.18.0.1"), public_port);
                    if change.is_change() && model.refuse_change {
                        me.send_to(&binding_error(id, 420, "no RFC 5780"), client).unwrap();
                        continue;
                    }
                    // Index bit 0 is the IP, bit 1 the port: a change answers from the other one.
                    let from_index = index ^ usize::from(change.change_ip) ^ (usize::from(change.change_port) << 1);
                    let passes = match (change.change_ip, change.change_port) {
                        (false, false) => true,
                        (true, _) => model.filtering == Filtering::EndpointIndependent,
                        (false, true) => model.filtering != Filtering::AddressAndPortDependent,
                    };
                    if passes {
                        let other = (!model.no_other).then_some(addrs[3]);
                        let answer = binding_success(id, mapped, Some(addrs[from_index]), other);
                        sockets[from_index].send_to(&answer, client).unwrap();
                    }
                }
            });
        }
        Some(Sim { primary: addrs[0] })
    }

    fn options() -> DiscoveryOptions {
        DiscoveryOptions { no_answer_wait: Duration::from_millis(300), ..DiscoveryOptions::default() }
    }

    fn waiter() -> Waiter {
        Waiter::new(&CancelToken::new()).unwrap()
    }

    #[test]
    fn every_mapping_and_filtering_is_told_apart() {
        use Filtering as F;
        use Mapping as M;
        for mapping in [M::EndpointIndependent, M::AddressDependent, M::AddressAndPortDependent] {
            for filtering in [F::EndpointIndependent, F::AddressDependent, F::AddressAndPortDependent] {
                let Some(server) = sim(NatModel { mapping, filtering, refuse_change: false, no_other: false }) else {
                    eprintln!("SKIP every_mapping_and_filtering_is_told_apart: 127.0.0.2 not usable here");
                    return;
                };
                let found = discover(server.primary, &options(), &waiter()).unwrap();
                assert_eq!((found.mapping, found.filtering), (mapping, filtering));
                assert!(found.behind_nat);
                assert_eq!(found.public.ip(), ip("198.18.0.1"));
            }
        }
    }

    #[test]
    fn a_server_without_rfc_5780_is_named() {
        let Some(silent) = sim(NatModel { mapping: Mapping::EndpointIndependent, filtering: Filtering::EndpointIndependent, refuse_change: false, no_other: true }) else {
            return;
        };
        let error = discover(silent.primary, &options(), &waiter()).unwrap_err();
        assert!(matches!(error, DiscoveryError::NoRfc5780 { other: None, .. }), "{error}");
        assert_eq!(error.code(), 7);

        let Some(refusing) = sim(NatModel { mapping: Mapping::EndpointIndependent, filtering: Filtering::EndpointIndependent, refuse_change: true, no_other: false }) else {
            return;
        };
        let error = discover(refusing.primary, &options(), &waiter()).unwrap_err();
        assert!(matches!(&error, DiscoveryError::Stun { error: StunError::ServerError { code: 420, .. }, .. }), "{error}");
    }

    #[test]
    fn an_unreachable_server_is_a_timeout_of_test_one() {
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fast = DiscoveryOptions { schedule: Retransmit { total: Duration::from_millis(250), ..Retransmit::stun() }, ..options() };
        let error = discover(quiet.local_addr().unwrap(), &fast, &waiter()).unwrap_err();
        assert!(matches!(&error, DiscoveryError::Stun { test: "test I", error: StunError::TimedOut { .. } }), "{error}");
    }
}
