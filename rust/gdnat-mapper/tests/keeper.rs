//! The keeper's lifecycle with a fake backend and a fake clock (no sockets, no sleeping), and
//! the worker against the simulated NAT-PMP/PCP server on loopback.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use gdnat_mapper::schedule::Jitter;
use gdnat_mapper::{Backend, Command, ErrorKind, Event, Granted, Keeper, LostReason, MapRequest, MapperError, MapperWorker, Method, PmpBackend, State};
use gdnat_pcp::{CancelToken, ClientOptions, PortMapClient, Protocol};
use gdnat_simgw::pmp::{PmpConfig, SimPmpServer};

const EXTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));

/// What the fake gateway answers next; every call is recorded.
#[derive(Default)]
struct FakeBackend {
    answers: VecDeque<Result<Granted, MapperError>>,
    calls: Vec<String>,
    /// Every renewal gets no answer (a router that stopped answering).
    renewals_fail: bool,
}

fn granted(external_port: u16, lifetime: u32) -> Granted {
    Granted {
        method: Method::Pcp,
        protocol: Protocol::Udp,
        internal_port: 7777,
        external_address: EXTERNAL,
        external_port,
        lifetime,
        nonce: None,
        gateway_restarted: false,
    }
}

impl FakeBackend {
    fn answer(&mut self) -> Result<Granted, MapperError> {
        self.answers.pop_front().unwrap_or_else(|| Err(MapperError::new(ErrorKind::NoAnswer, "fake: nothing scripted")))
    }
}

impl Backend for FakeBackend {
    fn method(&self) -> Method {
        Method::Pcp
    }
    fn map(&mut self, request: &MapRequest) -> Result<Granted, MapperError> {
        self.calls.push(format!("map {} {}", request.internal_port, request.wanted_external_port()));
        self.answer()
    }
    fn renew(&mut self, granted: &Granted, request: &MapRequest) -> Result<Granted, MapperError> {
        self.calls.push(format!("renew {} {}", request.internal_port, granted.external_port));
        if self.renewals_fail {
            return Err(MapperError::new(ErrorKind::NoAnswer, "fake: no answer"));
        }
        self.answer()
    }
    fn delete(&mut self, granted: &Granted) -> Result<(), MapperError> {
        self.calls.push(format!("delete {}", granted.external_port));
        Ok(())
    }
}

fn request() -> MapRequest {
    MapRequest { protocol: Protocol::Udp, internal_port: 7777, external_port: 0, lifetime: 600, description: "test".into() }
}

fn keeper(answers: Vec<Result<Granted, MapperError>>) -> Keeper<FakeBackend> {
    Keeper::new(FakeBackend { answers: answers.into(), calls: Vec::new(), renewals_fail: false }, request(), Jitter::with_seed(7))
}

fn states(events: &[Event]) -> Vec<State> {
    events.iter().filter_map(|e| if let Event::StateChanged(s) = e { Some(*s) } else { None }).collect()
}

#[test]
fn maps_renews_between_half_and_three_quarters_and_releases() {
    let t0 = Instant::now();
    let mut keeper = keeper(vec![Ok(granted(7777, 600)), Ok(granted(7777, 600))]);
    let events = keeper.start(t0);
    assert_eq!(states(&events), [State::Mapping, State::Mapped]);
    assert!(matches!(events.last(), Some(Event::Mapped(g, _)) if g.external_port == 7777));
    let renew_at = keeper.deadline().unwrap();
    let Some(Event::Mapped(_, renew_in)) = events.last() else { panic!() };
    assert_eq!(*renew_in, renew_at - t0, "the event says when the renewal comes");
    let delay = renew_at - t0;
    assert!(delay >= Duration::from_secs(300) && delay <= Duration::from_secs(450), "{delay:?}");
    assert!(keeper.tick(renew_at - Duration::from_millis(1)).is_empty(), "nothing before the deadline");
    let events = keeper.tick(renew_at);
    assert_eq!(states(&events), [State::Renewing, State::Mapped]);
    assert!(matches!(events.last(), Some(Event::Renewed(g, _)) if g.external_port == 7777));
    // The renewal asked for the same external port, with the same internal port.
    assert_eq!(keeper.backend().calls, ["map 7777 7777", "renew 7777 7777"]);
    let events = keeper.stop();
    assert_eq!(events, [Event::StateChanged(State::Released), Event::Released]);
    assert_eq!(keeper.backend().calls.last().unwrap(), "delete 7777");
}

#[test]
fn a_gateway_restart_is_lost_then_mapped() {
    let t0 = Instant::now();
    let restarted = Granted { gateway_restarted: true, ..granted(7777, 600) };
    let mut keeper = keeper(vec![Ok(granted(7777, 600)), Ok(restarted)]);
    keeper.start(t0);
    let events = keeper.tick(keeper.deadline().unwrap());
    assert_eq!(states(&events), [State::Renewing, State::Lost, State::Mapped]);
    assert!(events.contains(&Event::Lost(LostReason::GatewayRestarted)));
    assert!(matches!(events.last(), Some(Event::Mapped(..))));
}

#[test]
fn another_external_port_is_reported_as_lost_and_mapped() {
    let t0 = Instant::now();
    let mut keeper = keeper(vec![Ok(granted(7777, 600)), Ok(granted(40000, 600))]);
    keeper.start(t0);
    let events = keeper.tick(keeper.deadline().unwrap());
    assert!(events.iter().any(|e| matches!(e, Event::Lost(LostReason::ExternalChanged { previous }) if previous.external_port == 7777)));
    assert!(matches!(events.last(), Some(Event::Mapped(g, _)) if g.external_port == 40000));
}

/// miniupnpd resets its epoch when its WAN address changes: the renewal then brings both a
/// reset epoch and a new address, and the new address is what is reported.
#[test]
fn a_new_external_address_with_a_reset_epoch_is_external_changed() {
    let t0 = Instant::now();
    let moved = Granted { gateway_restarted: true, external_address: "198.51.100.11".parse().unwrap(), ..granted(7777, 600) };
    let mut keeper = keeper(vec![Ok(granted(7777, 600)), Ok(moved)]);
    keeper.start(t0);
    let events = keeper.tick(keeper.deadline().unwrap());
    assert_eq!(states(&events), [State::Renewing, State::Lost, State::Mapped]);
    assert!(events.iter().any(|e| matches!(e, Event::Lost(LostReason::ExternalChanged { previous }) if previous.external_address != "198.51.100.11".parse::<std::net::IpAddr>().unwrap())), "{events:?}");
    assert!(matches!(events.last(), Some(Event::Mapped(g, _)) if g.external_address.to_string() == "198.51.100.11"));
}

#[test]
fn failed_renewals_retry_before_expiry_then_lose_and_map_again() {
    let t0 = Instant::now();
    let mut keeper = Keeper::new(
        FakeBackend { answers: vec![Ok(granted(7777, 100)), Ok(granted(7777, 100))].into(), calls: Vec::new(), renewals_fail: true },
        request(),
        Jitter::with_seed(7),
    );
    keeper.start(t0);
    let expires = keeper.lease().unwrap().expires_at;
    let mut now = keeper.deadline().unwrap();
    let mut all = Vec::new();
    for _ in 0..20 {
        let events = keeper.tick(now);
        all.extend(events);
        if all.iter().any(|e| matches!(e, Event::Lost(_))) {
            break;
        }
        let next = keeper.deadline().unwrap();
        assert!(next <= expires, "retries stay before expiry");
        assert!(next > now, "time moves on");
        now = next;
    }
    assert!(all.contains(&Event::Lost(LostReason::Expired)), "{all:?}");
    assert_eq!(now, expires, "lost exactly at expiry");
    // After the loss it mapped again at once, asking for the same ports.
    assert_eq!(keeper.state(), State::Mapped);
    assert!(matches!(all.last(), Some(Event::Mapped(g, _)) if g.external_port == 7777), "{all:?}");
    let calls = &keeper.backend().calls;
    let renewals = calls.iter().filter(|c| c.starts_with("renew")).count();
    // 50 %..75 % of 100 s, then a quarter of the time left (at least 2 s) until 100 s.
    assert!((5..=15).contains(&renewals), "{calls:?}");
    assert_eq!(calls.last().unwrap(), "map 7777 7777");
}

#[test]
fn a_failed_first_mapping_is_retried_and_bad_requests_fail_at_once() {
    let t0 = Instant::now();
    let mut keeper = keeper(vec![Err(MapperError::new(ErrorKind::Refused, "PCP result 2 (NOT_AUTHORIZED)")), Ok(granted(7777, 600))]);
    let events = keeper.start(t0);
    assert_eq!(states(&events), [State::Mapping, State::Failed]);
    assert!(matches!(&events[2], Event::Failed(e) if e.kind == ErrorKind::Refused && e.message.contains("NOT_AUTHORIZED")));
    assert_eq!(keeper.deadline(), Some(t0 + gdnat_mapper::keeper::REMAP_RETRY));
    let events = keeper.refresh(t0 + Duration::from_secs(1));
    assert_eq!(keeper.state(), State::Mapped, "{events:?}");

    let bad = MapRequest { internal_port: 0, ..request() };
    assert_eq!(bad.validate().unwrap_err().kind, ErrorKind::InvalidArgument);
    let zero = MapRequest { lifetime: 0, ..request() };
    assert_eq!(zero.validate().unwrap_err().kind, ErrorKind::InvalidArgument);
}

fn pmp_worker(server: &SimPmpServer, only: Option<gdnat_pcp::Method>, request: MapRequest) -> MapperWorker {
    let addr = server.addr();
    let factory: gdnat_mapper::worker::BackendFactory = Box::new(move |cancel: &CancelToken| {
        let options = ClientOptions { server: addr, local_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), call_timeout: Duration::from_secs(2) };
        let client = PortMapClient::new(&options, cancel, only).map_err(|e| MapperError::new(ErrorKind::Io, e.to_string()))?;
        Ok(Box::new(PmpBackend::new(client, Method::Pcp)) as Box<dyn Backend + Send>)
    });
    MapperWorker::spawn(factory, request).unwrap()
}

fn next_event(worker: &MapperWorker) -> Event {
    worker.events().recv_timeout(Duration::from_secs(5)).expect("an event within 5 s")
}

#[test]
fn the_worker_maps_refreshes_and_removes_on_stop() {
    let server = SimPmpServer::start(PmpConfig::default()).unwrap();
    let worker = pmp_worker(&server, None, request());
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(Event::Mapped(..))) {
        seen.push(next_event(&worker));
    }
    assert_eq!(states(&seen), [State::Discovering, State::Mapping, State::Mapped]);
    assert_eq!(server.mappings().len(), 1);
    assert!(worker.send(Command::Refresh));
    let mut renewed = Vec::new();
    while !matches!(renewed.last(), Some(Event::Renewed(..))) {
        renewed.push(next_event(&worker));
    }
    let start = Instant::now();
    let rest = worker.stop();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(rest.last(), Some(&Event::Released), "{rest:?}");
    assert!(server.mappings().is_empty(), "deleted on stop");
}

#[test]
fn dropping_the_worker_removes_the_mapping_and_a_dead_gateway_fails_in_bounded_time() {
    let server = SimPmpServer::start(PmpConfig::default()).unwrap();
    let worker = pmp_worker(&server, None, request());
    while !matches!(next_event(&worker), Event::Mapped(..)) {}
    drop(worker);
    assert!(server.mappings().is_empty(), "deleted on drop");

    let silent = SimPmpServer::start(PmpConfig { answer: false, ..PmpConfig::default() }).unwrap();
    let worker = pmp_worker(&silent, None, request());
    let start = Instant::now();
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(Event::Failed(_))) {
        seen.push(worker.events().recv_timeout(Duration::from_secs(10)).expect("failed within the call bound"));
    }
    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
    assert!(matches!(seen.last(), Some(Event::Failed(e)) if e.kind == ErrorKind::NoAnswer), "{seen:?}");
    let start = Instant::now();
    drop(worker);
    assert!(start.elapsed() < Duration::from_secs(1), "nothing to delete: the stop is immediate");
}

#[test]
fn probe_asks_all_three_at_once_and_prefers_pcp() {
    use gdnat_mapper::{probe, ProbeOptions};
    let igd = gdnat_simgw::SimGateway::start(gdnat_simgw::scenario("igd2-public").unwrap()).unwrap();
    let pmp = SimPmpServer::start(PmpConfig::default()).unwrap();
    let mut options = ProbeOptions::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.pmp_port = pmp.addr().port();
    options.local_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.upnp_url = Some(igd.description_url(0));
    let report = probe(&options, &CancelToken::new());
    assert!(report.pcp.available && report.natpmp.available && report.upnp.available, "{report:?}");
    assert_eq!(report.preferred(), Some(Method::Pcp));
    assert!(report.upnp_gateway.is_some());

    // A NAT-PMP-only router: PCP is not available, NAT-PMP is preferred.
    pmp.update(|c| c.pcp = false);
    let report = probe(&options, &CancelToken::new());
    assert!(!report.pcp.available && report.natpmp.available, "{report:?}");
    assert!(report.pcp.detail.contains("version 0"), "{}", report.pcp.detail);
    assert_eq!(report.preferred(), Some(Method::NatPmp));

    // Nothing answers NAT-PMP/PCP: UPnP only, and the probe ends within its bound.
    pmp.update(|c| c.answer = false);
    options.timeout = Duration::from_millis(400);
    let start = Instant::now();
    let report = probe(&options, &CancelToken::new());
    assert!(start.elapsed() < Duration::from_millis(400) + Duration::from_secs(1), "{:?}", start.elapsed());
    assert_eq!(report.preferred(), Some(Method::Upnp), "{report:?}");
    igd.stop();
}

/// A crashed run left a PCP mapping: a new client asking for it with a fresh nonce is refused
/// (NOT_AUTHORIZED, the mapping is another nonce's), with the recorded nonce it takes the
/// mapping over, and the gateway holds exactly one.
#[test]
fn a_recorded_nonce_takes_over_the_mapping_a_crashed_run_left() {
    let server = SimPmpServer::start(PmpConfig::default()).unwrap();
    let options = ClientOptions { server: server.addr(), local_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), call_timeout: Duration::from_secs(2) };
    let cancel = CancelToken::new();
    let backend = |cancel: &CancelToken| PmpBackend::new(PortMapClient::new(&options, cancel, Some(gdnat_pcp::Method::Pcp)).unwrap(), Method::Pcp);
    let crashed = backend(&cancel).map(&request()).unwrap();
    let nonce = crashed.nonce.expect("a PCP mapping has a nonce");
    // The crashed run's backend is gone without deleting.
    let fresh = backend(&cancel).map(&request());
    assert!(matches!(&fresh, Err(e) if e.kind == ErrorKind::Refused && e.message.contains("NOT_AUTHORIZED")), "{fresh:?}");
    let mut taking_over = backend(&cancel).with_nonce(nonce);
    let granted = taking_over.map(&request()).unwrap();
    assert_eq!((granted.nonce, granted.external_port, granted.internal_port), (Some(nonce), crashed.external_port, crashed.internal_port));
    assert_eq!(server.mappings().len(), 1, "exactly one mapping");
    taking_over.delete(&granted).unwrap();
    assert!(server.mappings().is_empty());
}
