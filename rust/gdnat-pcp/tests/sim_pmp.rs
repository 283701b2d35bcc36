//! The NAT-PMP and PCP clients against the simulated server (`gdnat_simgw::pmp`) on loopback:
//! every result code, a wrong epoch, truncated and oversized answers, answers from the wrong
//! address or for another mapping, and no answer at all. Each case has a defined result and a
//! time bound (generous: the bounds prove "returns within its call bound", not speed).
//! Run inside `tests/lib/isolated.sh` like every Rust test of the project.

use std::net::{IpAddr, Ipv4Addr};
use std::thread;
use std::time::{Duration, Instant};

use gdnat_io::udp::ExchangeError;
use gdnat_pcp::wire::{natpmp, pcp};
use gdnat_pcp::{
    CancelToken, ClientOptions, EpochCheck, MapError, MapParams, Method, NatPmpClient, NatPmpExternalAddressError, NatPmpMapError, PcpClient,
    PcpDeleteError, PcpMapError, PortMapClient, Protocol,
};
use gdnat_simgw::pmp::{PmpConfig, SimPmpServer, Stray};

const EXTERNAL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// Slack on top of a call's own bound before a test calls it a hang.
const SLACK: Duration = Duration::from_millis(1500);

fn server(change: impl FnOnce(&mut PmpConfig)) -> SimPmpServer {
    let mut config = PmpConfig::default();
    change(&mut config);
    SimPmpServer::start(config).unwrap()
}

fn options(server: &SimPmpServer, call_timeout: Duration) -> ClientOptions {
    ClientOptions { server: server.addr(), local_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), call_timeout }
}

fn params(port: u16) -> MapParams {
    MapParams { protocol: Protocol::Udp, internal_port: port, suggested_external_port: port, suggested_external_address: None, lifetime: 600 }
}

/// Runs `call`, asserts it returned within `bound` + slack, and gives its result.
fn bounded<T>(bound: Duration, call: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = call();
    let elapsed = start.elapsed();
    assert!(elapsed <= bound + SLACK, "took {elapsed:?}, bound {bound:?}");
    result
}

#[test]
fn natpmp_external_address_map_renew_delete() {
    let sim = server(|_| {});
    let mut client = NatPmpClient::new(&options(&sim, Duration::from_secs(3)), &CancelToken::new()).unwrap();
    let address = client.external_address().unwrap();
    assert_eq!((address.address, address.epoch_check), (EXTERNAL, EpochCheck::First));
    let mapping = client.map(Protocol::Tcp, 7001, 7001, 600).unwrap();
    assert_eq!((mapping.external_port, mapping.lifetime, mapping.epoch_check), (7001, 600, EpochCheck::Continuous));
    assert_eq!(sim.mappings().len(), 1);
    let renewed = client.map(Protocol::Tcp, 7001, mapping.external_port, 600).unwrap();
    assert_eq!(renewed.external_port, 7001);
    client.delete(Protocol::Tcp, 7001).unwrap();
    assert!(sim.mappings().is_empty());
    // The requests on the wire: external address, map, map, delete (lifetime 0, port 0).
    let requests = sim.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[3], natpmp::encode_map_request(Protocol::Tcp, 7001, 0, 0).to_vec());
}

#[test]
fn pcp_map_renew_with_the_same_nonce_and_delete() {
    let sim = server(|_| {});
    let mut client = PcpClient::new(&options(&sim, Duration::from_secs(3)), &CancelToken::new()).unwrap();
    let announced = client.announce().unwrap();
    assert_eq!(announced.epoch_check, EpochCheck::First);
    let mapping = client.map(&params(7002)).unwrap();
    assert_eq!((mapping.external_address, mapping.external_port, mapping.lifetime), (IpAddr::V4(EXTERNAL), 7002, 600));
    assert_eq!(mapping.epoch_check, EpochCheck::Continuous);
    let renewed = client.renew(&mapping, 900).unwrap();
    assert_eq!((renewed.nonce, renewed.external_port, renewed.lifetime), (mapping.nonce, 7002, 900));
    assert_eq!(sim.mappings()[0].nonce, mapping.nonce.0);
    // The renewal asked for the assigned port and address (RFC 6887 §11.2.1).
    let last = sim.requests().pop().unwrap();
    assert_eq!(&last[24..36], &mapping.nonce.0);
    assert_eq!(&last[42..44], &7002u16.to_be_bytes());
    assert_eq!(&last[44..60], &EXTERNAL.to_ipv6_mapped().octets());

    // Another nonce may neither renew nor delete it.
    let mut stranger = mapping;
    stranger.nonce = gdnat_pcp::Nonce([7; 12]);
    match client.renew(&stranger, 600) {
        Err(PcpMapError::Refused { result: pcp::ResultCode::NotAuthorized, .. }) => {}
        other => panic!("{other:?}"),
    }
    match client.delete(&stranger) {
        Err(error @ PcpDeleteError::Refused { result: pcp::ResultCode::NotAuthorized }) => {
            assert_eq!(error.to_string(), "the gateway refused to delete the mapping: PCP result 2 (NOT_AUTHORIZED)");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sim.mappings().len(), 1);
    client.delete(&mapping).unwrap();
    assert!(sim.mappings().is_empty());
}

#[test]
fn every_natpmp_result_code_is_a_typed_refusal() {
    let sim = server(|_| {});
    let mut client = NatPmpClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new()).unwrap();
    for (code, short) in [(1u16, false), (2, true), (3, false), (4, true), (5, false), (99, true)] {
        sim.update(|c| {
            c.result = Some(code);
            c.external_address_result = Some(code);
            c.short_refusals = short;
        });
        let expected = natpmp::ResultCode::from_number(code);
        match bounded(Duration::from_millis(100), || client.map(Protocol::Udp, 7003, 7003, 60)) {
            Err(error @ NatPmpMapError::Refused { result }) => {
                assert_eq!(result, expected);
                assert!(error.to_string().contains(&format!("NAT-PMP result {code} (")), "{error}");
            }
            other => panic!("code {code}: {other:?}"),
        }
        match client.external_address() {
            Err(NatPmpExternalAddressError::Refused { result }) => assert_eq!(result, expected),
            other => panic!("code {code}: {other:?}"),
        }
        match client.delete(Protocol::Udp, 7003) {
            Err(gdnat_pcp::NatPmpDeleteError::Refused { result }) => assert_eq!(result, expected),
            other => panic!("code {code}: {other:?}"),
        }
    }
    // 0.0.0.0 as the external address: the gateway has none.
    sim.update(|c| {
        c.external_address_result = None;
        c.external_address = Ipv4Addr::UNSPECIFIED;
    });
    assert!(matches!(client.external_address(), Err(NatPmpExternalAddressError::NoExternalAddress)));
}

#[test]
fn every_pcp_result_code_is_a_typed_refusal() {
    let sim = server(|_| {});
    let mut client = PcpClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new()).unwrap();
    for code in (2u16..=13).chain([200]) {
        sim.update(|c| c.result = Some(code));
        let expected = pcp::ResultCode::from_number(code as u8);
        match bounded(Duration::from_millis(100), || client.map(&params(7004))) {
            Err(error @ PcpMapError::Refused { result, lifetime: 30 }) => {
                assert_eq!(result, expected);
                assert!(error.to_string().contains(&format!("PCP result {code} (")), "{error}");
            }
            other => panic!("code {code}: {other:?}"),
        }
    }
    // Result 1 is "speak another version".
    sim.update(|c| c.result = Some(1));
    assert!(matches!(client.map(&params(7004)), Err(PcpMapError::UnsupportedVersion { server_version: 2 })));
    // miniupnpd's "port outside the allow rule".
    sim.update(|c| {
        c.result = None;
        c.denied_ports = vec![80];
    });
    assert!(matches!(client.map(&params(80)), Err(PcpMapError::Refused { result: pcp::ResultCode::NotAuthorized, .. })));
}

#[test]
fn a_restarted_gateway_shows_as_an_epoch_reset() {
    let sim = server(|c| c.epoch_start = 50_000);
    let mut pcp_client = PcpClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new()).unwrap();
    let mut natpmp_client = NatPmpClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new()).unwrap();
    let mapping = pcp_client.map(&params(7005)).unwrap();
    assert_eq!(mapping.epoch_check, EpochCheck::First);
    natpmp_client.external_address().unwrap();
    sim.restart(3);
    assert!(sim.mappings().is_empty());
    // The renewal succeeds (the gateway creates the mapping anew) but says the state was lost.
    let renewed = pcp_client.renew(&mapping, 600).unwrap();
    assert!(matches!(renewed.epoch_check, EpochCheck::Reset { previous: 50_000, current: 3 }), "{:?}", renewed.epoch_check);
    let address = natpmp_client.external_address().unwrap();
    assert!(address.epoch_check.is_reset(), "{:?}", address.epoch_check);
    // An epoch far ahead of our clock is a reset too (RFC 6887 §8.5's second rule).
    sim.restart(1_000_000);
    assert!(pcp_client.announce().unwrap().epoch_check.is_reset());
    assert_eq!(pcp_client.announce().unwrap().epoch_check, EpochCheck::Continuous);
}

#[test]
fn bad_datagrams_before_the_answer_are_skipped() {
    let cases = [
        Stray::Truncated,
        Stray::Oversized(natpmp::MAX_ANSWER_LEN + 4),
        Stray::Oversized(pcp::MAX_MESSAGE_LEN + 4),
        Stray::WrongSource,
        Stray::WrongOpcode,
        Stray::WrongVersion,
        Stray::WrongNonce,
        Stray::WrongInternalPort,
    ];
    for stray in cases {
        let sim = server(|c| c.strays = vec![stray]);
        let cancel = CancelToken::new();
        let mut natpmp_client = NatPmpClient::new(&options(&sim, Duration::from_secs(2)), &cancel).unwrap();
        let mapping = bounded(Duration::from_millis(200), || natpmp_client.map(Protocol::Tcp, 7006, 7006, 60)).unwrap();
        assert_eq!(mapping.external_port, 7006, "{stray:?}");
        let mut pcp_client = PcpClient::new(&options(&sim, Duration::from_secs(2)), &cancel).unwrap();
        let mapping = bounded(Duration::from_millis(200), || pcp_client.map(&params(7007))).unwrap();
        assert_eq!(mapping.external_port, 7007, "{stray:?}");
        // One send each: the good answer came right after the bad one (a third request would
        // mean a retransmission after 250 ms: only on a badly stalled machine).
        assert!((2..=3).contains(&sim.requests().len()), "{stray:?}: {} requests", sim.requests().len());
    }
}

#[test]
fn only_bad_datagrams_end_at_the_call_bound() {
    let bound = Duration::from_millis(600);
    for stray in [Stray::Truncated, Stray::Oversized(1104), Stray::WrongSource, Stray::WrongInternalPort, Stray::WrongVersion] {
        let sim = server(|c| {
            c.strays = vec![stray];
            c.answer = false;
        });
        let mut client = PcpClient::new(&options(&sim, bound), &CancelToken::new()).unwrap();
        let start = Instant::now();
        match bounded(bound, || client.map(&params(7008))) {
            Err(PcpMapError::Exchange(ExchangeError::TimedOut { sends: 1, dropped: 1, .. })) => {}
            other => panic!("{stray:?}: {other:?}"),
        }
        assert!(start.elapsed() >= bound, "not before the bound");
        let mut client = NatPmpClient::new(&options(&sim, bound), &CancelToken::new()).unwrap();
        match bounded(bound, || client.map(Protocol::Udp, 7008, 7008, 60)) {
            // 250 ms doubling: sends at 0 and 250 ms within 600 ms.
            Err(NatPmpMapError::Exchange(ExchangeError::TimedOut { sends: 2, dropped: 2, .. })) => {}
            other => panic!("{stray:?}: {other:?}"),
        }
    }
}

#[test]
fn silence_ends_at_the_bound_and_cancellation_at_once() {
    let sim = server(|c| c.answer = false);
    let bound = Duration::from_millis(2300);
    let mut client = NatPmpClient::new(&options(&sim, bound), &CancelToken::new()).unwrap();
    let error = bounded(bound, || client.external_address()).unwrap_err();
    assert!(error.is_timeout(), "{error}");
    // NAT-PMP's schedule: sends at 0, 250, 750, 1750 ms (the next would be at 3750 ms).
    assert_eq!(sim.requests().len(), 4);

    let cancel = CancelToken::new();
    let mut client = PcpClient::new(&options(&sim, Duration::from_secs(60)), &cancel.child()).unwrap();
    let canceller = {
        let cancel = cancel.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        })
    };
    let error = bounded(Duration::from_millis(100), || client.map(&params(7009))).unwrap_err();
    assert!(error.is_cancelled(), "{error}");
    canceller.join().unwrap();
}

#[test]
fn lost_requests_are_sent_again() {
    let sim = server(|c| c.drop_first = 2);
    let mut client = NatPmpClient::new(&options(&sim, Duration::from_secs(3)), &CancelToken::new()).unwrap();
    let address = bounded(Duration::from_secs(1), || client.external_address()).unwrap();
    assert_eq!(address.address, EXTERNAL);
    assert!(address.elapsed >= Duration::from_millis(750), "third send at 750 ms: {:?}", address.elapsed);
    assert_eq!(sim.requests().len(), 3);
}

#[test]
fn a_natpmp_only_gateway_makes_the_client_fall_back() {
    // A NAT-PMP-only router answers PCP with version 0, result 1.
    let sim = server(|c| c.pcp = false);
    let mut client = PortMapClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new(), None).unwrap();
    let mapping = bounded(Duration::from_millis(300), || client.map(&params(7010))).unwrap();
    assert_eq!((mapping.method, mapping.external_port, mapping.nonce), (Method::NatPmp, 7010, None));
    assert_eq!(mapping.external_address, IpAddr::V4(EXTERNAL));
    assert_eq!(client.method(), Some(Method::NatPmp));
    let renewed = client.renew(&mapping, 600).unwrap();
    assert_eq!(renewed.external_port, 7010);
    client.delete(&mapping).unwrap();
    assert!(sim.mappings().is_empty());

    // UNSUPP_VERSION in a version-2 answer falls back the same way.
    let sim = server(|c| c.pcp_unsupp_version = true);
    let mut client = PortMapClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new(), None).unwrap();
    assert_eq!(client.map(&params(7011)).unwrap().method, Method::NatPmp);

    // With PCP forced there is no fallback: the typed error says why.
    let mut forced = PortMapClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new(), Some(Method::Pcp)).unwrap();
    assert!(matches!(forced.map(&params(7012)), Err(MapError::Pcp(PcpMapError::UnsupportedVersion { .. }))));

    // A gateway that speaks PCP keeps PCP, with a nonce.
    let sim = server(|_| {});
    let mut client = PortMapClient::new(&options(&sim, Duration::from_secs(2)), &CancelToken::new(), None).unwrap();
    let mapping = client.map(&params(7013)).unwrap();
    assert_eq!(mapping.method, Method::Pcp);
    assert!(mapping.nonce.is_some());
    client.delete(&mapping).unwrap();
}

#[test]
fn no_such_interface_has_no_gateway() {
    assert!(matches!(gdnat_pcp::default_gateway(Some("gdnat-no-such-if0")), Err(gdnat_pcp::GatewayError::NoSuchInterface(_))));
    // Inside tests/lib/isolated.sh only `lo` exists: it has no default route.
    if let Ok(gateway) = gdnat_pcp::default_gateway(Some("lo")) {
        panic!("lo has no gateway, got {gateway:?}");
    }
}

#[test]
fn an_unsolicited_announce_after_a_restart_is_heard() {
    use gdnat_pcp::AnnounceListener;
    let sim = server(|c| c.epoch_start = 9000);
    let cancel = CancelToken::new();
    let mut client = PcpClient::new(&options(&sim, Duration::from_secs(2)), &cancel).unwrap();
    client.map(&params(7020)).unwrap();
    let mut tracker = client.epoch().clone();
    let listener = AnnounceListener::bind("127.0.0.1:0".parse().unwrap(), None, sim.addr(), &cancel).unwrap();
    let to = listener.local_addr().unwrap();
    // Nothing yet: the wait ends at its bound.
    assert_eq!(bounded(Duration::from_millis(100), || listener.wait(Duration::from_millis(100), &mut tracker)).unwrap(), None);
    // A stranger's ANNOUNCE (another port) is not the gateway's.
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(&[2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], to).unwrap();
    assert_eq!(listener.wait(Duration::from_millis(100), &mut tracker).unwrap(), None);
    // The gateway restarts and announces it.
    sim.restart(0);
    sim.announce(to).unwrap();
    let heard = bounded(Duration::from_secs(1), || listener.wait(Duration::from_secs(1), &mut tracker)).unwrap().expect("the ANNOUNCE");
    assert_eq!(heard.epoch, 0);
    assert!(heard.epoch_check.is_reset(), "{:?}", heard.epoch_check);
}
