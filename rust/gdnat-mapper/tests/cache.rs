//! The probe cache against the simulated gateways: two callers at once cause one probe (the
//! servers see one PCP ANNOUNCE, one NAT-PMP request, one description GET); a success is
//! trusted, a failure only briefly; invalidate and a cancelled probe are not cached.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use gdnat_mapper::cache::{TRUST_FAILURE, TRUST_SUCCESS};
use gdnat_mapper::{Method, ProbeCache, ProbeOptions};
use gdnat_pcp::CancelToken;
use gdnat_simgw::pmp::{PmpConfig, SimPmpServer};
use gdnat_simgw::{scenario, SimGateway};

fn options(pmp: &SimPmpServer, upnp_url: String, timeout: Duration) -> ProbeOptions {
    let mut options = ProbeOptions::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.pmp_port = pmp.addr().port();
    options.local_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.upnp_url = Some(upnp_url);
    options.timeout = timeout;
    options
}

fn description_gets(igd: &SimGateway) -> usize {
    igd.requests().iter().filter(|r| r.method == "GET").count()
}

#[test]
fn defaults_are_ten_minutes_and_a_few_seconds() {
    assert_eq!(TRUST_SUCCESS, Duration::from_secs(600));
    assert!(TRUST_FAILURE >= Duration::from_secs(1) && TRUST_FAILURE <= Duration::from_secs(10));
}

#[test]
fn concurrent_callers_share_one_probe_and_a_success_is_trusted() {
    let igd = SimGateway::start(scenario("igd2-public").unwrap()).unwrap();
    let pmp = SimPmpServer::start(PmpConfig::default()).unwrap();
    let options = options(&pmp, igd.description_url(0), Duration::from_secs(1));
    let cache = ProbeCache::new();
    let barrier = Arc::new(Barrier::new(4));
    let start = Instant::now();
    let reports: Vec<_> = (0..4)
        .map(|_| {
            let (cache, options, barrier) = (cache.clone(), options.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                cache.probe(&options, &CancelToken::new())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(start.elapsed() < Duration::from_secs(4), "{:?}", start.elapsed());
    assert!(reports.iter().all(|r| Arc::ptr_eq(r, &reports[0])), "one report for all four");
    assert_eq!(reports[0].preferred(), Some(Method::Pcp), "{:?}", reports[0]);
    assert_eq!(pmp.requests().len(), 2, "one PCP ANNOUNCE and one NAT-PMP request: {:?}", pmp.requests());
    assert_eq!(description_gets(&igd), 1, "one description GET");

    // Trusted: no packet, the same report.
    let again = cache.probe(&options, &CancelToken::new());
    assert!(Arc::ptr_eq(&again, &reports[0]));
    assert!(cache.cached(&options).is_some());
    assert_eq!(pmp.requests().len(), 2);
    assert_eq!(description_gets(&igd), 1);

    // Invalidated: probed again.
    cache.invalidate(&options);
    assert!(cache.cached(&options).is_none());
    let fresh = cache.probe(&options, &CancelToken::new());
    assert!(!Arc::ptr_eq(&fresh, &reports[0]));
    assert_eq!(pmp.requests().len(), 4);
    assert_eq!(description_gets(&igd), 2);
    igd.stop();
    pmp.stop();
}

#[test]
fn a_failure_is_trusted_only_briefly_and_other_gateways_have_their_own_entry() {
    let pmp = SimPmpServer::start(PmpConfig { answer: false, ..PmpConfig::default() }).unwrap();
    // Nothing listens on port 9 of loopback: UPnP fails at once.
    let options = options(&pmp, "http://127.0.0.1:9/rootDesc.xml".into(), Duration::from_millis(300));
    let cache = ProbeCache::with_trust(Duration::from_secs(600), Duration::from_millis(400));
    let start = Instant::now();
    let first = cache.probe(&options, &CancelToken::new());
    assert!(start.elapsed() < Duration::from_millis(300) + Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(first.preferred(), None, "{first:?}");
    let sent = pmp.requests().len();
    assert!(sent >= 2, "both protocols tried: {sent}");
    let second = cache.probe(&options, &CancelToken::new());
    assert!(Arc::ptr_eq(&first, &second), "within 400 ms the failure is trusted");
    assert_eq!(pmp.requests().len(), sent);

    // Another gateway key (another UPnP URL) is probed on its own.
    let mut other = options.clone();
    other.upnp_url = Some("http://127.0.0.1:10/rootDesc.xml".into());
    assert!(!Arc::ptr_eq(&cache.probe(&other, &CancelToken::new()), &first));
    assert!(pmp.requests().len() > sent);

    thread::sleep(Duration::from_millis(450));
    let before = pmp.requests().len();
    let third = cache.probe(&options, &CancelToken::new());
    assert!(!Arc::ptr_eq(&first, &third), "after 400 ms the failure is probed again");
    assert!(pmp.requests().len() > before);
    pmp.stop();
}

#[test]
fn a_waiter_gets_the_leaders_report_and_a_cancelled_probe_is_not_cached() {
    let pmp = SimPmpServer::start(PmpConfig::default()).unwrap();
    let options = options(&pmp, "http://127.0.0.1:9/rootDesc.xml".into(), Duration::from_millis(500));
    let cache = ProbeCache::new();
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // A slow probe function: the second caller arrives while it runs and waits for it.
    let leader = {
        let (cache, options, runs) = (cache.clone(), options.clone(), runs.clone());
        thread::spawn(move || {
            cache.probe_with(&options, &CancelToken::new(), || {
                runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                thread::sleep(Duration::from_millis(300));
                gdnat_mapper::probe(&options, &CancelToken::new())
            })
        })
    };
    thread::sleep(Duration::from_millis(100));
    let waited = cache.probe_with(&options, &CancelToken::new(), || {
        runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        panic!("the waiter must not probe")
    });
    let led = leader.join().unwrap();
    assert!(Arc::ptr_eq(&waited, &led));
    assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A cancelled probe is returned but not kept.
    let cancel = CancelToken::new();
    cancel.cancel();
    let mut other = options.clone();
    other.upnp_url = Some("http://127.0.0.1:10/rootDesc.xml".into());
    let start = Instant::now();
    let _ = cache.probe(&other, &cancel);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert!(cache.cached(&other).is_none());
    pmp.stop();
}
