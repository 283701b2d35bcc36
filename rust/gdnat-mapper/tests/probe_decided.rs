//! A probe that ends when the preferred protocol is known (`ProbeOptions::end_when_decided`,
//! the node's) against the simulated gateways. The per-protocol bound is 30 s here, so a
//! probe that waited for a silent protocol would hold the test that long: each test asserts
//! the report says the silent protocols were not waited for, and the full probe's default
//! still asks all three to the end.

use std::net::{IpAddr, Ipv4Addr, UdpSocket};
use std::time::Duration;

use gdnat_mapper::{probe, Method, ProbeOptions};
use gdnat_pcp::CancelToken;
use gdnat_simgw::pmp::{PmpConfig, SimPmpServer};
use gdnat_simgw::{scenario, SimGateway};

fn options(pmp_port: u16, upnp_url: String) -> ProbeOptions {
    let mut options = ProbeOptions::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.pmp_port = pmp_port;
    options.local_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.upnp_url = Some(upnp_url);
    options.timeout = Duration::from_secs(30);
    options.end_when_decided = true;
    options
}

/// A port where nothing answers NAT-PMP or PCP: a bound UDP socket that never reads.
fn silent_port() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

#[test]
fn a_pcp_answer_ends_the_probe_without_waiting_for_upnp() {
    // The description never comes (desc-hang): a full probe would wait for it.
    let igd = SimGateway::start(scenario("desc-hang").unwrap()).unwrap();
    let pmp = SimPmpServer::start(PmpConfig::default()).unwrap();
    let report = probe(&options(pmp.addr().port(), igd.description_url(0)), &CancelToken::new());
    assert_eq!(report.preferred(), Some(Method::Pcp), "{report:?}");
    assert!(!report.complete);
    assert!(!report.upnp.available);
    assert!(report.upnp.detail.contains("not waited for"), "{}", report.upnp.detail);
    igd.stop();
    pmp.stop();
}

#[test]
fn on_a_upnp_only_router_pcp_and_nat_pmp_get_only_their_grace() {
    let igd = SimGateway::start(scenario("igd2-public").unwrap()).unwrap();
    let (_silent, port) = silent_port();
    let report = probe(&options(port, igd.description_url(0)), &CancelToken::new());
    assert_eq!(report.preferred(), Some(Method::Upnp), "{report:?}");
    assert!(report.upnp_gateway.is_some());
    assert!(!report.complete);
    for silent in [&report.pcp, &report.natpmp] {
        assert!(!silent.available);
        assert!(silent.detail.contains("not waited for"), "{}", silent.detail);
    }
    igd.stop();
}

#[test]
fn a_full_probe_asks_every_protocol_to_the_end() {
    let igd = SimGateway::start(scenario("igd2-public").unwrap()).unwrap();
    let pmp = SimPmpServer::start(PmpConfig::default()).unwrap();
    let mut options = options(pmp.addr().port(), igd.description_url(0));
    options.end_when_decided = false;
    let report = probe(&options, &CancelToken::new());
    assert!(report.complete);
    assert!(report.pcp.available && report.natpmp.available && report.upnp.available, "{report:?}");
    igd.stop();
    pmp.stop();
}
