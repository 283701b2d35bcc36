//! discover() against the simulated gateway. Every test here sends SSDP (unicast to the
//! simulated gateway on 127.0.0.1, or multicast on lo), so all are ignored by default and run
//! only in a fresh network namespace:
//!
//! ```sh
//! bash tests/lib/isolated.sh cargo test -p gdnat-igd --locked --offline --test sim_discovery -- --ignored
//! ```
//!
//! Each test first calls the namespace guard (tests/lib/netns-guard.sh), so running them with
//! `--ignored` anywhere else fails before a datagram is sent.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::sim::{start, LIMITS, MARGIN, VALIDATION_EXCHANGES};
use gdnat_igd::client::HttpLimits;
use gdnat_igd::{discover, CancelToken, DeviceStatus, DiscoverError, DiscoverOptions, DiscoveredDevice, UpnpResult};
use gdnat_simgw::{require_isolated_namespace, scenario, SimGateway};

fn options(target: SocketAddr, timeout_ms: u64) -> DiscoverOptions {
    DiscoverOptions {
        timeout: Duration::from_millis(timeout_ms),
        target_override: Some(target),
        http: LIMITS,
        ..DiscoverOptions::default()
    }
}

/// Runs discover(), checks it ended within its bound (timeout, plus validations of at most
/// five exchanges when no gateway was found), and returns the result and the devices reported
/// through the callback.
fn run(options: &DiscoverOptions) -> (Result<Vec<DiscoveredDevice>, DiscoverError>, Vec<DiscoveredDevice>) {
    let mut reported = Vec::new();
    let start = Instant::now();
    let result = discover(options, &CancelToken::new(), &mut |d| reported.push(d.clone()));
    let elapsed = start.elapsed();
    println!("discover returned in {elapsed:?}: {:?}", result.as_ref().map(|d| d.iter().map(|d| (d.status, d.detail.clone())).collect::<Vec<_>>()));
    let bound = options.timeout + options.http.total_timeout * VALIDATION_EXCHANGES + MARGIN;
    assert!(elapsed < bound, "discover took {elapsed:?}, bound {bound:?}");
    (result, reported)
}

fn search_targets_seen(gw: &SimGateway) -> Vec<String> {
    gw.requests()
        .into_iter()
        .filter(|r| r.method == "M-SEARCH")
        .filter_map(|r| r.body.lines().find_map(|l| l.strip_prefix("ST: ").map(str::to_string)))
        .collect()
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn igd2_public_is_found_and_discovery_ends_after_settle() {
    require_isolated_namespace();
    let gw = start("igd2-public");
    let options = options(gw.ssdp_addr(), 3000);
    let start = Instant::now();
    let (result, reported) = run(&options);
    let elapsed = start.elapsed();
    let devices = result.expect("discovered");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].status, DeviceStatus::ConnectedPublic);
    assert_eq!(devices[0].description_url, gw.description_url(0));
    assert_eq!(devices[0].external_ip.as_deref(), Some("1.2.3.4"));
    let gateway = devices[0].gateway.as_ref().expect("gateway");
    assert_eq!(gateway.control_url, gw.control_url(0).unwrap());
    assert_eq!(gateway.local_addr, "127.0.0.1");
    assert_eq!(reported.len(), 1, "on_device is called once per device");
    assert!(elapsed < options.timeout, "a found gateway ends discovery before the timeout ({elapsed:?})");
    let targets = search_targets_seen(&gw);
    for st in gdnat_igd::proto::ssdp::IGD_SEARCH_TARGETS {
        assert!(targets.iter().any(|t| t == st), "{st} was not searched: {targets:?}");
    }
    gw.stop();
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn nothing_answering_is_no_devices_after_the_timeout() {
    require_isolated_namespace();
    let silent = UdpSocket::bind("127.0.0.1:0").expect("silent socket");
    let options = options(silent.local_addr().unwrap(), 600);
    let (result, reported) = run(&options);
    let err = result.unwrap_err();
    assert_eq!(err, DiscoverError::NoDevices { millis: 600 });
    assert_eq!(UpnpResult::from_discover_error(&err), UpnpResult::NoDevices);
    assert!(reported.is_empty());
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn cancel_stops_discovery_within_a_slice() {
    require_isolated_namespace();
    let silent = UdpSocket::bind("127.0.0.1:0").expect("silent socket");
    let options = options(silent.local_addr().unwrap(), 5000);
    let cancel = CancelToken::new();
    let (tx, rx) = mpsc::channel();
    let worker_cancel = cancel.clone();
    let worker = thread::spawn(move || {
        let start = Instant::now();
        let result = discover(&options, &worker_cancel, &mut |_| {});
        let _ = tx.send(start.elapsed());
        result
    });
    thread::sleep(Duration::from_millis(100));
    let cancelled_at = Instant::now();
    cancel.cancel();
    let waited = rx.recv_timeout(Duration::from_secs(6)).expect("discover returned");
    let after_cancel = cancelled_at.elapsed();
    println!("cancelled discover returned after {waited:?} ({after_cancel:?} after cancel)");
    assert_eq!(worker.join().expect("no panic").unwrap_err(), DiscoverError::Cancelled);
    assert!(after_cancel < Duration::from_millis(25) + MARGIN, "{after_cancel:?}");
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn printer_and_router_default_filter_keeps_only_the_router() {
    require_isolated_namespace();
    let gw = start("printer-and-router");
    let (result, _) = run(&options(gw.ssdp_addr(), 2000));
    let devices = result.expect("discovered");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0].description_url, gw.description_url(1));
    assert_eq!(devices[0].status, DeviceStatus::ConnectedPublic);
    gw.stop();
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn printer_and_router_empty_filter_validates_each_device_on_its_own() {
    require_isolated_namespace();
    let gw = start("printer-and-router");
    let mut options = options(gw.ssdp_addr(), 2000);
    options.device_filter = String::new();
    options.settle = Duration::from_millis(300);
    let (result, reported) = run(&options);
    let devices = result.expect("discovered");
    assert_eq!(devices.len(), 2, "{devices:?}");
    let printer = devices.iter().find(|d| d.description_url == gw.description_url(0)).expect("printer kept");
    let router = devices.iter().find(|d| d.description_url == gw.description_url(1)).expect("router kept");
    assert_eq!(printer.status, DeviceStatus::NotIgd);
    assert!(printer.gateway.is_none(), "the printer must not carry the router's control URL");
    assert_eq!(router.status, DeviceStatus::ConnectedPublic);
    assert_eq!(reported.len(), 2);
    gw.stop();
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn slow_ssdp_answer_is_still_collected() {
    require_isolated_namespace();
    let gw = start("slow-ssdp");
    let (result, _) = run(&options(gw.ssdp_addr(), 1500));
    let devices = result.expect("discovered");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].status, DeviceStatus::ConnectedPublic);
    gw.stop();
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn location_other_host_is_ignored_for_safety() {
    require_isolated_namespace();
    let gw = start("location-other-host");
    let (result, reported) = run(&options(gw.ssdp_addr(), 800));
    assert_eq!(result.expect("answers came, so not NoDevices").len(), 0);
    assert!(reported.is_empty());
    assert!(gw.requests().iter().all(|r| r.method == "M-SEARCH"), "no HTTP request may go to the other host");
    gw.stop();
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn odd_source_port_answers_are_accepted() {
    require_isolated_namespace();
    let gw = start("odd-source-port");
    let (result, _) = run(&options(gw.ssdp_addr(), 1500));
    let devices = result.expect("discovered");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].status, DeviceStatus::ConnectedPublic);
    gw.stop();
}

/// Issue 8 item 3 / issue 13: `discover(timeout)` returns within its timeout plus 20 ms
/// whatever a device's HTTP server does, and reports the device whose checks did not finish
/// with the status the engine gives it. Before cancellation reached the HTTP exchange,
/// discovery waited for the validation's own bound (here 1000 ms after the answer, so about
/// 1050 ms for a 500 ms timeout; about 4050 ms with the default limits).
///
/// The assert adds [`SCHEDULING_MARGIN`]: on the shared 2-core machine (load average 11-13
/// while other builds ran) the kernel woke the discovery thread from its timed wait up to
/// 35 ms late, before any gdnat code ran after it. The 20 ms goal itself is measured on its own
/// by `tests/bench/cancellation.sh` (docs/benchmarks.md); the margin still fails the old
/// behaviour by far.
const RETURN_SLACK: Duration = Duration::from_millis(20);
/// See [`RETURN_SLACK`].
const SCHEDULING_MARGIN: Duration = Duration::from_millis(150);

/// Runs discover() on `scenario` with `timeout_ms` (and `limits`), checks that it returned
/// within the timeout plus [`RETURN_SLACK`], and returns the single device it reported.
fn unfinished_device(scenario: &str, timeout_ms: u64, limits: HttpLimits) -> DiscoveredDevice {
    require_isolated_namespace();
    let gw = start(scenario);
    let mut options = options(gw.ssdp_addr(), timeout_ms);
    options.http = limits;
    let mut reported = Vec::new();
    let start = Instant::now();
    let result = discover(&options, &CancelToken::new(), &mut |d| reported.push(d.clone()));
    let elapsed = start.elapsed();
    println!("{scenario}: discover({timeout_ms}) returned in {elapsed:?}: {result:?}");
    let bound = options.timeout + RETURN_SLACK + SCHEDULING_MARGIN;
    assert!(elapsed <= bound, "{scenario}: discover({timeout_ms}) took {elapsed:?}, bound {bound:?}");
    let devices = result.expect("discovered");
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(reported.len(), 1, "on_device is called once for the unfinished device too");
    gw.stop();
    devices.into_iter().next().unwrap()
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn desc_hang_device_is_http_error_at_the_discovery_timeout() {
    let device = unfinished_device("desc-hang", 500, LIMITS);
    assert_eq!(device.status, DeviceStatus::HttpError, "{}", device.detail);
    assert!(device.detail.contains("discovery ended"), "{}", device.detail);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn desc_hang_with_the_default_bounds_returns_within_2000_ms() {
    let device = unfinished_device("desc-hang", 2000, HttpLimits::default());
    assert_eq!(device.status, DeviceStatus::HttpError, "{}", device.detail);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn desc_trickle_one_byte_per_second_is_http_error_at_the_discovery_timeout() {
    let device = unfinished_device("desc-trickle", 1500, HttpLimits::default());
    assert_eq!(device.status, DeviceStatus::HttpError, "{}", device.detail);
    assert!(device.detail.contains("discovery ended"), "{}", device.detail);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn soap_hang_device_is_not_connected_at_the_discovery_timeout() {
    // The description comes at once; GetStatusInfo never answers. The engine's miniupnpc
    // reports an IGD whose status call failed as "IGD, not connected" (igd_status 6).
    let device = unfinished_device("soap-hang", 600, HttpLimits::default());
    assert_eq!(device.status, DeviceStatus::NotConnected, "{}", device.detail);
    assert!(device.detail.contains("discovery ended"), "{}", device.detail);
    assert!(device.gateway.is_none());
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn soap_trickle_device_is_not_connected_at_the_discovery_timeout() {
    let device = unfinished_device("soap-trickle", 1500, HttpLimits::default());
    assert_eq!(device.status, DeviceStatus::NotConnected, "{}", device.detail);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn answers_just_inside_the_http_bound_are_cut_at_the_discovery_timeout() {
    // Every answer comes 3800 ms after its request, inside the 4000 ms bound: with 2000 ms the
    // description is not in; with 5000 ms it is (at 3.8 s) but GetStatusInfo is not.
    let device = unfinished_device("slow-http-near-bound", 2000, HttpLimits::default());
    assert_eq!(device.status, DeviceStatus::HttpError, "{}", device.detail);
    let device = unfinished_device("slow-http-near-bound", 5000, HttpLimits::default());
    assert_eq!(device.status, DeviceStatus::NotConnected, "{}", device.detail);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn real_multicast_on_loopback_finds_the_gateway() {
    require_isolated_namespace();
    for interface in ["127.0.0.1", "lo"] {
        let mut config = scenario("igd2-public").expect("scenario");
        config.ssdp_port = 1900;
        config.multicast_if = Some("127.0.0.1".parse().unwrap());
        let gw = SimGateway::start(config).expect("simulated gateway on 1900");
        let options = DiscoverOptions {
            timeout: Duration::from_millis(2000),
            multicast_if: Some(interface.into()),
            http: LIMITS,
            ..DiscoverOptions::default()
        };
        let (result, _) = run(&options);
        let devices = result.unwrap_or_else(|e| panic!("multicast via {interface}: {e}"));
        assert_eq!(devices.len(), 1, "via {interface}");
        assert_eq!(devices[0].status, DeviceStatus::ConnectedPublic, "via {interface}");
        assert!(gw.requests().iter().any(|r| r.method == "M-SEARCH" && r.body.contains("HOST: 239.255.255.250:1900")));
        gw.stop();
    }
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn unknown_multicast_interface_is_invalid_interface() {
    require_isolated_namespace();
    let options = DiscoverOptions { multicast_if: Some("no-such-if0".into()), ..DiscoverOptions::default() };
    let start = Instant::now();
    let err = discover(&options, &CancelToken::new(), &mut |_| {}).unwrap_err();
    assert!(start.elapsed() < MARGIN);
    assert_eq!(err, DiscoverError::InvalidInterface("no-such-if0".into()));
    assert_eq!(UpnpResult::from_discover_error(&err), UpnpResult::UnknownError);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn ipv6_search_reaches_a_gateway_on_ipv6_loopback() {
    require_isolated_namespace();
    let mut config = scenario("igd2-public").expect("scenario");
    config.bind = "::1".parse().unwrap();
    let gw = SimGateway::start(config).expect("simulated gateway on ::1");
    let mut options = options(gw.ssdp_addr(), 1500);
    options.ipv6 = true;
    let (result, _) = run(&options);
    let devices = result.expect("discovered over IPv6");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].status, DeviceStatus::ConnectedPublic);
    assert_eq!(devices[0].gateway.as_ref().map(|g| g.local_addr.as_str()), Some("::1"));
    assert!(gw.requests().iter().any(|r| r.method == "M-SEARCH" && r.body.contains("HOST: [FF05::C]:1900")));
    gw.stop();
}

/// A hand-made SSDP responder on 127.0.0.1: answers the first M-SEARCH with `answers`
/// (LOCATION, ST) in order, 10 ms apart, from its own address.
fn scripted_ssdp(answers: Vec<(String, &'static str)>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("ssdp socket");
    socket.set_read_timeout(Some(Duration::from_secs(3))).expect("timeout");
    let addr = socket.local_addr().expect("addr");
    thread::spawn(move || {
        let mut buffer = [0u8; 2048];
        let Ok((_, from)) = socket.recv_from(&mut buffer) else { return };
        for (index, (location, st)) in answers.into_iter().enumerate() {
            thread::sleep(Duration::from_millis(10));
            let answer = format!("HTTP/1.1 200 OK\r\nST: {st}\r\nUSN: uuid:{index}\r\nLOCATION: {location}\r\n\r\n");
            let _ = socket.send_to(answer.as_bytes(), from);
        }
    });
    addr
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn answers_are_deduped_by_location_and_listed_most_recent_first() {
    require_isolated_namespace();
    let printer = "<root><device><friendlyName>P</friendlyName></device></root>";
    let http = common::Responder::start(vec![common::http("200 OK", printer), common::http("200 OK", printer)]);
    let first = http.url("/first.xml");
    let second = http.url("/second.xml");
    let target = scripted_ssdp(vec![
        (first.clone(), "urn:schemas-upnp-org:device:InternetGatewayDevice:1"),
        (second.clone(), "urn:schemas-upnp-org:service:WANIPConnection:1"),
        (first.clone(), "urn:schemas-upnp-org:service:WANPPPConnection:1"),
        (second.clone(), "urn:schemas-upnp-org:service:WANIPConnection:2"),
        ("http://127.0.0.1:1/printer.xml".to_string(), "upnp:rootdevice"),
    ]);
    let mut options = options(target, 600);
    options.device_filter = "WAN".into();
    let (result, reported) = run(&options);
    let devices = result.expect("discovered");
    let kept: Vec<(&str, &str)> = devices.iter().map(|d| (d.description_url.as_str(), d.service_type.as_str())).collect();
    // The IGD:1 answer and the rootdevice answer fail the filter; the first answer kept per
    // LOCATION wins; the device whose kept answer came last is listed first.
    assert_eq!(
        kept,
        vec![
            (first.as_str(), "urn:schemas-upnp-org:service:WANPPPConnection:1"),
            (second.as_str(), "urn:schemas-upnp-org:service:WANIPConnection:1"),
        ]
    );
    assert!(devices.iter().all(|d| d.status == DeviceStatus::NotIgd));
    assert_eq!(reported.len(), 2);
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn huge_timeout_and_settle_do_not_overflow() {
    require_isolated_namespace();
    let gw = start("igd2-public");
    let mut options = options(gw.ssdp_addr(), 0);
    options.timeout = Duration::MAX;
    options.settle = Duration::MAX;
    // With a short quiet spell discovery would end once the gateway is validated; MAX keeps it
    // listening until the cancel below (and checks that `quiet` cannot overflow either).
    options.quiet = Duration::MAX;
    options.http = HttpLimits { connect_timeout: Duration::MAX, total_timeout: Duration::MAX, ..LIMITS };
    let cancel = CancelToken::new();
    let worker_cancel = cancel.clone();
    let worker = thread::spawn(move || discover(&options, &worker_cancel, &mut |_| {}).map(|d| d.len()));
    thread::sleep(Duration::from_millis(400));
    cancel.cancel();
    let start = Instant::now();
    assert_eq!(worker.join().expect("no panic"), Err(DiscoverError::Cancelled));
    assert!(start.elapsed() < MARGIN);
    gw.stop();
}

/// Two routers; the second one's HTTP answers come late. Discovery returns once the first is
/// validated (plus settle); the second one's validation must then stop instead of going on to
/// talk SOAP to a router nobody asked about any more (it did before validations were
/// cancelled when discovery returns).
#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn a_late_router_is_left_alone_once_discovery_returned() {
    use gdnat_simgw::{DeviceConfig, RouterConfig, SimConfig};
    require_isolated_namespace();
    const LATE: Duration = Duration::from_millis(800);
    let fast = DeviceConfig::router(RouterConfig::default());
    let mut late = DeviceConfig::router(RouterConfig::default());
    late.uuid = "0b6f7e3c-1111-4222-8333-944455566677".into();
    late.http_delay = LATE;
    let gw = common::sim::start_config(SimConfig::new("127.0.0.1".parse().unwrap(), vec![fast, late]));
    let (result, _) = run(&options(gw.ssdp_addr(), 3000));
    let returned = Instant::now();
    let devices = result.expect("discovered");
    let late_url = gw.description_url(1);
    let late_device = devices.iter().find(|d| d.description_url == late_url).expect("the late router is listed");
    assert_eq!(late_device.status, DeviceStatus::HttpError, "{}", late_device.detail);
    assert!(devices.iter().any(|d| d.status == DeviceStatus::ConnectedPublic), "the fast router is the gateway");

    // Give the late router's description time to arrive and its validation time to go on.
    while returned.elapsed() < LATE + Duration::from_millis(600)
        || (gdnat_igd::helper_threads::running() > 0 && returned.elapsed() < Duration::from_secs(10))
    {
        thread::sleep(Duration::from_millis(10));
    }
    let late_requests: Vec<String> = gw
        .requests()
        .into_iter()
        .filter(|r| r.device == Some(1) && r.method != "M-SEARCH")
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.soap_action))
        .collect();
    assert_eq!(late_requests.len(), 1, "only the description GET reaches the late router: {late_requests:?}");
    assert!(late_requests[0].starts_with("GET "), "{late_requests:?}");
    gw.stop();
}

/// A relay on 127.0.0.1 between discover() and the gateway at `to` that loses the first
/// `lose` M-SEARCHes (as a router's SSDP socket does when a burst of searches fills it) and
/// passes everything else both ways. Returns its address and, when it stops (after `for_how_long`),
/// how many datagrams came from the client.
fn lossy_relay(to: SocketAddr, lose: usize, for_how_long: Duration) -> (SocketAddr, thread::JoinHandle<usize>) {
    let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
    relay.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let addr = relay.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let until = Instant::now() + for_how_long;
        let mut buffer = [0u8; 4096];
        let (mut client, mut searches) = (None, 0);
        while Instant::now() < until {
            let Ok((len, from)) = relay.recv_from(&mut buffer) else { continue };
            if from == to {
                if let Some(client) = client {
                    relay.send_to(&buffer[..len], client).unwrap();
                }
                continue;
            }
            client = Some(from);
            searches += 1;
            if searches > lose {
                relay.send_to(&buffer[..len], to).unwrap();
            }
        }
        searches
    });
    (addr, handle)
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn searches_are_sent_again_while_nothing_answers_and_a_lost_round_is_recovered() {
    require_isolated_namespace();
    let round = gdnat_igd::proto::ssdp::IGD_SEARCH_TARGETS.len();

    // Nothing answers: the first round and both resends go out within the timeout.
    let (silent, searches) = lossy_relay("127.0.0.1:9".parse().unwrap(), usize::MAX, Duration::from_millis(1500));
    let (result, _) = run(&options(silent, 1000));
    assert!(matches!(result, Err(DiscoverError::NoDevices { .. })), "{result:?}");
    assert_eq!(searches.join().unwrap(), 3 * round, "three rounds of {round} searches");

    // The router loses the whole first round: the resend finds it, well within the timeout.
    let gw = start("igd2-public");
    let (lossy, searches) = lossy_relay(gw.ssdp_addr(), round, Duration::from_millis(1500));
    let start = Instant::now();
    let (result, _) = run(&options(lossy, 1000));
    let devices = result.expect("found on the resend");
    assert_eq!((devices.len(), devices[0].status), (1, DeviceStatus::ConnectedPublic));
    assert!(start.elapsed() < Duration::from_millis(1000), "found before the timeout ({:?})", start.elapsed());
    assert_eq!(searches.join().unwrap(), 2 * round, "the answer to the second round stopped the resends");
    gw.stop();
}
