//! The gateway record: made from a real probe of the simulated servers, saved and loaded back
//! unchanged; every bad file gets its typed error.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use gdnat_mapper::record::MAX_RECORD_BYTES;
use gdnat_mapper::{probe, GatewayRecord, Method, ProbeOptions, RecordError};
use gdnat_pcp::CancelToken;
use gdnat_simgw::pmp::{PmpConfig, SimPmpServer};
use gdnat_simgw::{scenario, SimGateway};

/// A file in a directory of its own for each test (`test`), so tests running at once never
/// share one.
fn scratch_in(test: &str, name: &str) -> PathBuf {
    scratch_dir(test).join(name)
}

/// The directory of `test`'s files, made if needed: `$TMPDIR/gdnat-record-test-<pid>-<test>`.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gdnat-record-test-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes `test`'s directory, and only that: the name is checked before anything is deleted.
/// (This test once removed the parent of `scratch_in(test, "")`, which is the temporary
/// directory itself, and wiped the machine's whole /tmp on every run.)
fn remove_scratch_dir(test: &str) {
    let dir = scratch_dir(test);
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert!(name.starts_with("gdnat-record-test-") && name.ends_with(test), "refusing to remove {}", dir.display());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_probe_is_recorded_saved_and_loaded_back() {
    let igd = SimGateway::start(scenario("igd2-public").unwrap()).unwrap();
    let pmp = SimPmpServer::start(PmpConfig::default()).unwrap();
    let mut options = ProbeOptions::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.pmp_port = pmp.addr().port();
    options.local_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.upnp_url = Some(igd.description_url(0));
    let report = probe(&options, &CancelToken::new());
    let record = GatewayRecord::from_probe(&options, &report).expect("a protocol was found");
    assert_eq!(record.method, Method::Pcp);
    assert_eq!(record.upnp_url.as_deref(), Some(igd.description_url(0).as_str()));
    assert_eq!((record.gateway, record.pmp_port), (options.gateway, options.pmp_port));
    assert!(record.probed_unix > 1_700_000_000);

    let path = scratch_in("roundtrip", "roundtrip.txt");
    assert!(GatewayRecord::load(&path).unwrap().is_none(), "no file: None");
    record.save(&path).unwrap();
    assert_eq!(GatewayRecord::load(&path).unwrap(), Some(record.clone()));
    let hint = record.probe_options();
    assert_eq!((hint.gateway, hint.pmp_port, hint.upnp_url.clone()), (options.gateway, options.pmp_port, options.upnp_url.clone()));
    // Saving again replaces it.
    let natpmp = GatewayRecord { method: Method::NatPmp, upnp_url: None, ..record };
    natpmp.save(&path).unwrap();
    assert_eq!(GatewayRecord::load(&path).unwrap(), Some(natpmp));
    remove_scratch_dir("roundtrip");
    igd.stop();
    pmp.stop();
}

#[test]
fn a_probe_that_found_nothing_makes_no_record() {
    let pmp = SimPmpServer::start(PmpConfig { answer: false, ..PmpConfig::default() }).unwrap();
    let mut options = ProbeOptions::new(IpAddr::V4(Ipv4Addr::LOCALHOST));
    options.pmp_port = pmp.addr().port();
    options.upnp_url = Some("http://127.0.0.1:9/rootDesc.xml".into());
    options.timeout = std::time::Duration::from_millis(200);
    let report = probe(&options, &CancelToken::new());
    assert!(GatewayRecord::from_probe(&options, &report).is_none());
    pmp.stop();
}

#[test]
fn bad_files_get_typed_errors() {
    let scratch = |name: &str| scratch_in("bad", name);
    let good = "gdnat-gateway-record 1\ngateway=192.168.1.1\npmp_port=5351\nmethod=NAT-PMP\nprobed_unix=5\nfuture=ignored\n";
    let parsed = GatewayRecord::parse(good).unwrap();
    assert_eq!((parsed.method, parsed.upnp_url.clone(), parsed.probed_unix), (Method::NatPmp, None, 5));
    for (text, says) in [
        ("", "first line"),
        ("gdnat-gateway-record 2\n", "first line"),
        ("gdnat-gateway-record 1\ngateway\n", "key=value"),
        ("gdnat-gateway-record 1\ngateway=router\npmp_port=5351\nmethod=PCP\nprobed_unix=1\n", "an IP address"),
        ("gdnat-gateway-record 1\ngateway=10.0.0.1\npmp_port=0\nmethod=PCP\nprobed_unix=1\n", "a port"),
        ("gdnat-gateway-record 1\ngateway=10.0.0.1\npmp_port=5351\nmethod=SOCKS\nprobed_unix=1\n", "PCP, NAT-PMP or UPnP"),
        ("gdnat-gateway-record 1\ngateway=10.0.0.1\npmp_port=5351\nmethod=PCP\nupnp_url=file:///etc/passwd\nprobed_unix=1\n", "http://"),
        ("gdnat-gateway-record 1\ngateway=10.0.0.1\npmp_port=5351\nmethod=PCP\n", "probed_unix is missing"),
    ] {
        let path = scratch("bad.txt");
        std::fs::write(&path, text).unwrap();
        match GatewayRecord::load(&path) {
            Err(RecordError::Invalid { reason, .. }) => assert!(reason.contains(says), "{text:?}: {reason}"),
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let path = scratch("binary.txt");
    std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
    assert!(matches!(GatewayRecord::load(&path), Err(RecordError::Invalid { reason, .. }) if reason == "not UTF-8"));
    let path = scratch("large.txt");
    std::fs::write(&path, format!("{good}{}", "x".repeat(MAX_RECORD_BYTES as usize))).unwrap();
    assert!(matches!(GatewayRecord::load(&path), Err(RecordError::TooLarge { .. })));
    let dir = scratch("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(matches!(GatewayRecord::load(&dir), Err(RecordError::Io { .. })));
    assert!(matches!(GatewayRecord { gateway: IpAddr::V4(Ipv4Addr::LOCALHOST), pmp_port: 1, method: Method::Upnp, upnp_url: None, probed_unix: 0 }.save(&scratch("no-such-dir/x")), Err(RecordError::Io { .. })));
    remove_scratch_dir("bad");
    assert!(std::env::temp_dir().is_dir(), "the temporary directory itself is still there");
}
