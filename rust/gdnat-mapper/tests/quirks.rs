//! UPnP router quirks handled by the mapper (`UpnpBackend` driven by a `Keeper`), each against
//! the simulated gateway scenario named after the router that does it (issue 9, item 3).
//! Every test asserts the exact outcome (ports, leases, the SOAP requests the router saw) and
//! a time bound (generous: it catches a hang or a retry storm, it does not measure speed).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use gdnat_igd::Gateway;
use gdnat_mapper::backend::{RANDOM_PORT_RANGE, RANDOM_PORT_TRIES};
use gdnat_mapper::schedule::Jitter;
use gdnat_mapper::{ErrorKind, Event, Keeper, LostReason, MapRequest, State, UpnpBackend};
use gdnat_pcp::Protocol;
use gdnat_simgw::{connection_service_type, scenario, Mapping, RecordedRequest, SimGateway, OTHER_HOST, TAKEN_PORT};

/// Every case here is a handful of SOAP calls on loopback; 5 s means something hung.
const BOUND: Duration = Duration::from_secs(5);
const SEED: u64 = 0x5eed;
const EXTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4));

fn start(name: &str) -> (SimGateway, UpnpBackend) {
    let (igd, gateway) = sim(name);
    (igd, UpnpBackend::new(gateway).with_seed(SEED))
}

fn sim(name: &str) -> (SimGateway, Gateway) {
    let config = scenario(name).unwrap_or_else(|| panic!("scenario {name}"));
    let service_type = connection_service_type(config.devices[0].router_config().unwrap());
    let igd = SimGateway::start(config).unwrap();
    let gateway = Gateway::new(igd.control_url(0).unwrap(), service_type, "127.0.0.1");
    (igd, gateway)
}

fn request(protocol: Protocol, internal_port: u16, external_port: u16) -> MapRequest {
    MapRequest { protocol, internal_port, external_port, lifetime: 600, description: "gdnat quirk test".into() }
}

fn keeper(backend: UpnpBackend, request: MapRequest) -> Keeper<UpnpBackend> {
    Keeper::new(backend, request, Jitter::with_seed(3))
}

/// The SOAP actions the router saw, in order (`AddPortMapping lease=600`, ...).
fn actions(igd: &SimGateway) -> Vec<String> {
    igd.requests().iter().filter_map(describe).collect()
}

fn describe(r: &RecordedRequest) -> Option<String> {
    let action = r.soap_action.as_ref()?.rsplit('#').next()?.to_string();
    let arg = |name: &str| {
        let open = format!("<{name}>");
        let from = r.body.find(&open)? + open.len();
        let to = r.body[from..].find('<')? + from;
        Some(r.body[from..to].to_string())
    };
    Some(match action.as_str() {
        "AddPortMapping" | "AddAnyPortMapping" => format!(
            "{action} {} {}->{} lease={}",
            arg("NewProtocol")?,
            arg("NewExternalPort")?,
            arg("NewInternalPort")?,
            arg("NewLeaseDuration")?
        ),
        "GetSpecificPortMappingEntry" | "DeletePortMapping" => format!("{action} {} {}", arg("NewProtocol")?, arg("NewExternalPort")?),
        _ => action,
    })
}

fn ours(igd: &SimGateway) -> Vec<Mapping> {
    igd.mappings().into_iter().filter(|m| m.internal_client == "127.0.0.1").collect()
}

fn mapped(events: &[Event]) -> gdnat_mapper::Granted {
    events
        .iter()
        .find_map(|e| if let Event::Mapped(g, _) = e { Some(g.clone()) } else { None })
        .unwrap_or_else(|| panic!("no Mapped event: {events:?}"))
}

/// The first random port `UpnpBackend::with_seed(SEED)` tries.
fn first_random_port() -> u16 {
    let span = u64::from(RANDOM_PORT_RANGE.end() - RANDOM_PORT_RANGE.start()) + 1;
    RANDOM_PORT_RANGE.start() + (Jitter::with_seed(SEED).next_u64() % span) as u16
}

/// 725 (a router that takes only permanent leases, tailscale#9343) and 402 (ARRIS NVG578LX,
/// tailscale#15223): the finite lease is asked once, then lease 0 after the external address
/// was read; renewals read the entry instead of adding it again; a vanished entry is added
/// again (reported lost); stop deletes the permanent rule.
fn permanent_lease_case(name: &str, code: u16) {
    let began = Instant::now();
    let (igd, gateway) = sim(name);
    let mut keeper = keeper(UpnpBackend::new(gateway.clone()).with_seed(SEED), request(Protocol::Udp, 7777, 0));
    let t0 = Instant::now();
    let events = keeper.start(t0);
    let granted = mapped(&events);
    assert_eq!((granted.external_address, granted.external_port, granted.internal_port, granted.lifetime), (EXTERNAL, 7777, 7777, 0), "{name}");
    assert!(keeper.backend().permanent_only());
    assert_eq!(
        actions(&igd),
        ["GetExternalIPAddress", "AddPortMapping UDP 7777->7777 lease=600", "AddPortMapping UDP 7777->7777 lease=0"],
        "{name}: one finite try ({code}), then lease 0, after the external address"
    );
    let table = ours(&igd);
    assert_eq!(table.len(), 1, "{table:?}");
    assert_eq!((table[0].lease_duration, table[0].expires_at), (0, None));
    // The check is scheduled like a 600 s lease (50-75 %), the address watch halfway to it.
    let renew_in = keeper.lease().unwrap().renew_at - t0;
    assert!(renew_in >= Duration::from_secs(300) && renew_in <= Duration::from_secs(450), "{renew_in:?}");
    let watch_in = keeper.deadline().unwrap() - t0;
    assert!(watch_in >= renew_in / 2 - Duration::from_secs(1) && watch_in <= renew_in / 2 + Duration::from_secs(1), "{watch_in:?} {renew_in:?}");

    // A renewal reads the entry (the address was read by the map just before); nothing is added.
    igd.clear_requests();
    let events = keeper.refresh(Instant::now());
    assert!(events.iter().any(|e| matches!(e, Event::Renewed(g, _) if g.lifetime == 0 && g.external_port == 7777)), "{events:?}");
    assert_eq!(actions(&igd), ["GetSpecificPortMappingEntry UDP 7777"]);

    // The router lost it (someone deleted it): the check adds it again with lease 0.
    gateway.delete_port_mapping(7777, gdnat_igd::Protocol::Udp).unwrap();
    assert!(ours(&igd).is_empty());
    igd.clear_requests();
    let events = keeper.refresh(Instant::now());
    assert!(events.contains(&Event::Lost(LostReason::GatewayRestarted)), "{events:?}");
    assert_eq!(mapped(&events).external_port, 7777);
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "GetSpecificPortMappingEntry UDP 7777", "AddPortMapping UDP 7777->7777 lease=0"]);

    // Stop deletes the permanent rule.
    igd.clear_requests();
    let events = keeper.stop();
    assert_eq!(events.last(), Some(&Event::Released), "{events:?}");
    assert!(!events.iter().any(|e| matches!(e, Event::Failed(_))), "{events:?}");
    assert_eq!(actions(&igd), ["DeletePortMapping UDP 7777"]);
    assert!(ours(&igd).is_empty(), "{:?}", ours(&igd));
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

#[test]
fn permanent_lease_only_725_maps_with_lease_0_checks_the_entry_and_deletes_on_stop() {
    permanent_lease_case("permanent-lease-only", 725);
}

#[test]
fn arris_nvg578lx_402_on_a_finite_lease_is_treated_like_725() {
    permanent_lease_case("arris-nvg578lx-finite-lease-402", 402);
}

/// MikroTik (tailscale PR #20781): permanent rules leaked when the external address was
/// checked after the lease-0 retry. Here the address is read first; it is empty, so not one
/// AddPortMapping is sent and the table stays empty.
#[test]
fn mikrotik_without_external_address_gets_no_rule_at_all() {
    let began = Instant::now();
    let (igd, backend) = start("mikrotik-permanent-only-no-external-ip");
    let mut keeper = keeper(backend, request(Protocol::Udp, 7777, 0));
    let events = keeper.start(Instant::now());
    assert_eq!(keeper.state(), State::Failed);
    let error = events.iter().find_map(|e| if let Event::Failed(e) = e { Some(e.clone()) } else { None }).unwrap();
    assert_eq!(error.kind, ErrorKind::Refused);
    assert!(error.message.contains("no usable external address"), "{}", error.message);
    assert_eq!(actions(&igd), ["GetExternalIPAddress"]);
    assert!(igd.mappings().is_empty());
    // The retry after REMAP_RETRY does the same: still no rule.
    keeper.tick(Instant::now() + gdnat_mapper::keeper::REMAP_RETRY);
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "GetExternalIPAddress"]);
    assert!(igd.mappings().is_empty());
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

/// miniupnpd (IGD:2) with the asked port held by another host: 718, then AddAnyPortMapping
/// gives the next free port; renewals keep that port and the internal port; stop deletes only
/// ours.
#[test]
fn igd2_port_taken_718_uses_add_any_port_mapping_and_keeps_the_port() {
    let began = Instant::now();
    let (igd, backend) = start("miniupnpd-igd2-port-taken-718");
    let mut keeper = keeper(backend, request(Protocol::Tcp, TAKEN_PORT, 0));
    let granted = mapped(&keeper.start(Instant::now()));
    assert_eq!((granted.external_port, granted.internal_port, granted.lifetime), (TAKEN_PORT + 1, TAKEN_PORT, 600));
    assert_eq!(
        actions(&igd),
        ["GetExternalIPAddress", "AddPortMapping TCP 7777->7777 lease=600", "AddAnyPortMapping TCP 7777->7777 lease=600"]
    );
    igd.clear_requests();
    let events = keeper.refresh(Instant::now());
    assert!(events.iter().any(|e| matches!(e, Event::Renewed(g, _) if g.external_port == TAKEN_PORT + 1 && g.internal_port == TAKEN_PORT)), "{events:?}");
    assert_eq!(actions(&igd), ["AddPortMapping TCP 7778->7777 lease=600"], "one request: the map read the address");
    keeper.stop();
    assert!(ours(&igd).is_empty());
    let others: Vec<_> = igd.mappings().into_iter().filter(|m| m.internal_client == OTHER_HOST).collect();
    assert_eq!(others.len(), 2, "the other host's TCP and UDP rules stay: {others:?}");
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

/// IGD:1 (no AddAnyPortMapping) with the asked port taken, answered 718, 501 or 729: one
/// random port from the dynamic range (the seeded first one), never AddAnyPortMapping.
fn igd1_conflict_case(name: &str, code: u16) {
    let began = Instant::now();
    let (igd, backend) = start(name);
    let mut keeper = keeper(backend, request(Protocol::Udp, TAKEN_PORT, 0));
    let granted = mapped(&keeper.start(Instant::now()));
    let port = first_random_port();
    assert!(RANDOM_PORT_RANGE.contains(&port));
    assert_eq!((granted.external_port, granted.internal_port), (port, TAKEN_PORT), "{name} ({code})");
    assert_eq!(
        actions(&igd),
        ["GetExternalIPAddress".to_string(), "AddPortMapping UDP 7777->7777 lease=600".into(), format!("AddPortMapping UDP {port}->7777 lease=600")],
        "{name}"
    );
    let table = ours(&igd);
    assert_eq!((table.len(), table[0].external_port, table[0].internal_port), (1, port, TAKEN_PORT));
    // The renewal asks for the same external port and the same internal port.
    igd.clear_requests();
    let events = keeper.refresh(Instant::now());
    assert!(events.iter().any(|e| matches!(e, Event::Renewed(..))), "{events:?}");
    assert_eq!(actions(&igd), [format!("AddPortMapping UDP {port}->7777 lease=600")], "one request: the map read the address");
    keeper.stop();
    assert!(ours(&igd).is_empty());
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

#[test]
fn igd1_port_taken_718_falls_back_to_a_random_high_port() {
    igd1_conflict_case("igd1-port-taken-718", 718);
}

#[test]
fn igd1_port_taken_501_falls_back_to_a_random_high_port() {
    igd1_conflict_case("igd1-port-taken-501", 501);
}

#[test]
fn igd1_port_taken_729_falls_back_to_a_random_high_port() {
    igd1_conflict_case("igd1-port-taken-729", 729);
}

/// Every port conflicts: exactly 1 + RANDOM_PORT_TRIES adds, all at or above 49152, then a
/// typed failure naming the router's answer.
#[test]
fn every_port_taken_gives_up_after_a_bounded_number_of_ports() {
    let began = Instant::now();
    let (igd, backend) = start("igd1-every-port-taken-718");
    let mut keeper = keeper(backend, request(Protocol::Udp, 7777, 0));
    let events = keeper.start(Instant::now());
    let error = events.iter().find_map(|e| if let Event::Failed(e) = e { Some(e.clone()) } else { None }).expect("failed");
    assert_eq!(error.kind, ErrorKind::Refused);
    assert!(error.message.contains("718") && error.message.contains(&format!("{RANDOM_PORT_TRIES} random ports")), "{}", error.message);
    let adds: Vec<u16> = actions(&igd)
        .iter()
        .filter(|a| a.starts_with("AddPortMapping"))
        .map(|a| a.split(' ').nth(2).unwrap().split("->").next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(adds.len(), 1 + RANDOM_PORT_TRIES, "{adds:?}");
    assert_eq!(adds[0], 7777);
    assert!(adds[1..].iter().all(|p| RANDOM_PORT_RANGE.contains(p)), "{adds:?}");
    assert!(igd.mappings().is_empty());
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

/// TP-Link ER605 (tailscale#7377) rejects a lower-case protocol with 402: the mapper always
/// sends `UDP`/`TCP`, so both map. A port below 1024 is used when asked for.
#[test]
fn protocol_is_upper_case_and_a_low_port_only_when_asked() {
    let began = Instant::now();
    let (igd, backend) = start("lowercase-protocol-rejected");
    let mut keeper_udp = keeper(backend, request(Protocol::Udp, 7001, 0));
    assert_eq!(mapped(&keeper_udp.start(Instant::now())).external_port, 7001);
    let (igd2, backend) = start("lowercase-protocol-rejected");
    let mut keeper_tcp = keeper(backend, request(Protocol::Tcp, 7002, 80));
    assert_eq!(mapped(&keeper_tcp.start(Instant::now())).external_port, 80, "asked for 80: 80");
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "AddPortMapping UDP 7001->7001 lease=600"]);
    assert_eq!(actions(&igd2), ["GetExternalIPAddress", "AddPortMapping TCP 80->7002 lease=600"]);
    keeper_udp.stop();
    keeper_tcp.stop();
    assert!(ours(&igd).is_empty() && ours(&igd2).is_empty());
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
    igd2.stop();
}

/// A crashed run's mapping on another external port (it got [`TAKEN_PORT`] + 1 after the
/// conflict): the next run's `remove_stale` deletes it, but never the other host's entry on
/// [`TAKEN_PORT`], nor our own entry with another description, nor a port with no entry.
#[test]
fn a_stale_mapping_is_removed_only_when_it_is_ours_with_our_description() {
    use gdnat_mapper::Backend;
    let began = Instant::now();
    let (igd, mut backend) = start("miniupnpd-igd2-port-taken-718");
    let crashed = backend.map(&request(Protocol::Udp, TAKEN_PORT, 0)).unwrap();
    assert_eq!(crashed.external_port, TAKEN_PORT + 1);
    let other_game = MapRequest { description: "another game".into(), ..request(Protocol::Udp, 7900, 7900) };
    let other_game = backend.map(&other_game).unwrap();
    let description = "gdnat quirk test";
    let other_host = gdnat_mapper::Granted { external_port: TAKEN_PORT, ..crashed.clone() };
    assert_eq!(backend.remove_stale(&other_host, description), Ok(false), "another host's entry");
    assert_eq!(backend.remove_stale(&other_game, description), Ok(false), "our entry with another description");
    let nothing = gdnat_mapper::Granted { external_port: 7901, ..crashed.clone() };
    assert_eq!(backend.remove_stale(&nothing, description), Ok(false), "no entry");
    assert_eq!(backend.remove_stale(&crashed, description), Ok(true), "ours");
    let left: Vec<(u16, String, String)> = igd.mappings().into_iter().filter(|m| m.protocol == "UDP").map(|m| (m.external_port, m.internal_client, m.description)).collect();
    assert_eq!(
        left,
        [(TAKEN_PORT, OTHER_HOST.to_string(), "another host".to_string()), (7900, "127.0.0.1".to_string(), "another game".to_string())],
        "only the stale entry went"
    );
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

/// A renewal is one AddPortMapping: the external address is read by the map, then once per
/// lease period by the keeper's watch halfway to the renewal. A WAN address change seen by
/// the watch renews at once and is reported as `Lost(ExternalChanged)` then `Mapped` with the
/// new address. A renewal whose period had no confirmed reading reads the address first.
#[test]
fn a_renewal_is_one_request_and_the_watch_notices_a_new_wan_address() {
    let began = Instant::now();
    let (igd, backend) = start("igd2-public");
    let mut keeper = keeper(backend, request(Protocol::Udp, 7777, 0));
    let t0 = Instant::now();
    let granted = mapped(&keeper.start(t0));
    assert_eq!((granted.external_address, granted.external_port), (EXTERNAL, 7777));
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "AddPortMapping UDP 7777->7777 lease=600"]);
    let renew_at = keeper.lease().unwrap().renew_at;

    // The watch, halfway: the address is the same, nothing else is sent.
    igd.clear_requests();
    let watch_at = keeper.deadline().unwrap();
    assert!(watch_at < renew_at, "{:?} {:?}", watch_at - t0, renew_at - t0);
    assert!(keeper.tick(watch_at).is_empty());
    assert_eq!(actions(&igd), ["GetExternalIPAddress"]);
    assert_eq!(keeper.deadline(), Some(renew_at), "one watch per period");

    // The renewal: one request.
    igd.clear_requests();
    let events = keeper.tick(renew_at);
    assert!(events.iter().any(|e| matches!(e, Event::Renewed(..))), "{events:?}");
    assert_eq!(actions(&igd), ["AddPortMapping UDP 7777->7777 lease=600"]);

    // The WAN address changes; the next watch notices it and renews at once.
    let new_address = Ipv4Addr::new(5, 6, 7, 8);
    assert!(igd.update_router(0, |router| router.external_ip = new_address.to_string()));
    igd.clear_requests();
    let watch_at = keeper.deadline().unwrap();
    let events = keeper.tick(watch_at);
    assert!(events.iter().any(|e| matches!(e, Event::Lost(LostReason::ExternalChanged { previous }) if previous.external_address == EXTERNAL)), "{events:?}");
    assert_eq!(mapped(&events).external_address, IpAddr::V4(new_address));
    assert_eq!(keeper.state(), State::Mapped);
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "AddPortMapping UDP 7777->7777 lease=600"]);

    // That renewal used the watch's reading; the one after it, with no watch between, reads
    // the address itself.
    igd.clear_requests();
    let events = keeper.refresh(Instant::now());
    assert!(events.iter().any(|e| matches!(e, Event::Renewed(..))), "{events:?}");
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "AddPortMapping UDP 7777->7777 lease=600"]);
    keeper.stop();
    assert!(ours(&igd).is_empty());
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}

/// A tick that comes only when the renewal is due (the watch's time passed unseen, for example
/// after the machine slept) still reads the address first: the renewal never uses an older
/// reading, and a WAN address that changed meanwhile is reported.
#[test]
fn a_late_tick_reads_the_address_before_it_renews() {
    let began = Instant::now();
    let (igd, backend) = start("igd2-public");
    let mut keeper = keeper(backend, request(Protocol::Udp, 7777, 0));
    let granted = mapped(&keeper.start(Instant::now()));
    assert_eq!(granted.external_address, EXTERNAL);
    let new_address = Ipv4Addr::new(5, 6, 7, 8);
    assert!(igd.update_router(0, |router| router.external_ip = new_address.to_string()));
    igd.clear_requests();
    let renew_at = keeper.lease().unwrap().renew_at;
    let events = keeper.tick(renew_at);
    assert!(events.iter().any(|e| matches!(e, Event::Lost(LostReason::ExternalChanged { .. }))), "{events:?}");
    assert_eq!(mapped(&events).external_address, IpAddr::V4(new_address));
    assert_eq!(actions(&igd), ["GetExternalIPAddress", "AddPortMapping UDP 7777->7777 lease=600"]);
    keeper.stop();
    assert!(ours(&igd).is_empty());
    assert!(began.elapsed() < BOUND, "{:?}", began.elapsed());
    igd.stop();
}
