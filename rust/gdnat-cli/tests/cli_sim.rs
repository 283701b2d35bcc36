//! The `gdnat` binary against the simulated gateway over HTTP on 127.0.0.1 (`--url`, no SSDP):
//! exact output lines, error lines and exit codes. The one test that multicasts is ignored and
//! guarded; run it with
//! `bash tests/lib/isolated.sh cargo test -p gdnat-cli --locked --offline -- --ignored`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use gdnat_simgw::{require_isolated_namespace, scenario, SimGateway};

fn gdnat(args: &[&str]) -> Output {
    let start = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_gdnat")).args(args).output().expect("gdnat runs");
    let elapsed = start.elapsed();
    println!("gdnat {args:?} -> {:?} in {elapsed:?}\n{}{}", output.status.code(), String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(elapsed < Duration::from_secs(15), "gdnat took {elapsed:?}");
    output
}


fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn mapping_commands_print_the_contract_lines() {
    let gw = SimGateway::start(scenario("igd2-public").expect("scenario")).expect("simulated gateway");
    let url = gw.description_url(0);
    let url = url.as_str();

    let out = gdnat(&["external-ip", "--url", url]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "external_ip 1.2.3.4\n"));

    let out = gdnat(&["status", "--url", url]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("status Connected uptime="), "{}", stdout(&out));

    let out = gdnat(&["add", "7777", "TCP", "--lease", "3600", "--desc", "my game", "--url", url]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "added 7777 TCP -> 127.0.0.1:7777 lease 3600\n"));

    let out = gdnat(&["add-any", "7000", "UDP", "--internal-port", "7001", "--url", url]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "added 7000 UDP -> 127.0.0.1:7001 lease 0\n"));

    let out = gdnat(&["show", "7777", "TCP", "--url", url]);
    assert_eq!(out.status.code(), Some(0));
    let line = stdout(&out);
    assert!(line.starts_with("mapping 7777 TCP -> 127.0.0.1:7777 enabled=1 lease="), "{line}");
    assert!(line.ends_with(" desc=my game\n"), "{line}");

    let out = gdnat(&["list", "--url", url]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("mapping 7777 TCP -> 127.0.0.1:7777 enabled=1 "));
    assert!(lines[1].starts_with("mapping 7000 UDP -> 127.0.0.1:7001 enabled=1 lease=604800 desc=gdnat"));
    assert_eq!(lines[2], "mappings 2");

    let out = gdnat(&["delete", "7777", "TCP", "--url", url]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "deleted 7777 TCP\n"));
    assert_eq!(gw.mappings().len(), 1);

    let out = gdnat(&["delete", "7777", "TCP", "--url", url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert_eq!(stderr(&out), "error: router answered UPnP error 714 NoSuchEntryInArray (NoSuchEntryInArray) (UPNPResult 4)\n");
    gw.stop();
}

/// No raw control character (other than the line ends) in what the CLI printed.
fn assert_no_controls(text: &str) {
    assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "raw control characters in {text:?}");
}

/// Untrusted text from the router: every string the router wrote is printed with its control
/// characters escaped, and an external address that is no IP address is an error (21).
#[test]
fn router_text_is_escaped_and_bad_external_addresses_fail() {
    let gw = SimGateway::start(scenario("router-text-with-controls").expect("scenario")).expect("simulated gateway");
    let url = gw.description_url(0);
    let url = url.as_str();

    let out = gdnat(&["external-ip", "--url", url]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert_no_controls(&err);
    assert!(err.starts_with(&format!("error: router {} reported the external address \"1.2.3.4\\u{{1b}}[2J", gw.control_url(0).unwrap())), "{err}");
    assert!(err.ends_with(", which is not an IP address (UPNPResult 21)\n"), "{err}");

    let out = gdnat(&["add", "7777", "TCP", "--url", url]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_no_controls(&err);
    assert_eq!(err, "error: router answered UPnP error 718 ConflictInMappingEntry (Conflict\\u{1b}[2J\\u{1b}[31mred\\u{7}\\u{8} back\\u{7f}\\u{9b}0m) (UPNPResult 13)\n");

    let description = format!("game{}", gdnat_simgw::CONTROL_TEXT);
    let out = gdnat(&["add-any", "7000", "UDP", "--desc", &description, "--url", url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = gdnat(&["list", "--url", url]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert_no_controls(&text);
    assert!(text.contains(" desc=game\\u{1b}[2J\\u{1b}[31mred\\u{7}\\u{8} back\\u{7f}\\u{9b}0m\nmappings 1\n"), "{text}");
    gw.stop();

    for (name, value, reason) in [("external-ip-zero", "0.0.0.0", "is the unspecified address"), ("external-ip-loopback", "127.0.0.1", "is a loopback address")] {
        let gw = SimGateway::start(scenario(name).expect("scenario")).expect("simulated gateway");
        let out = gdnat(&["external-ip", "--url", &gw.description_url(0)]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(stderr(&out), format!("error: router {} reported the external address \"{value}\", which {reason} (UPNPResult 21)\n", gw.control_url(0).unwrap()));
        gw.stop();
    }
}

#[test]
fn upnp_errors_exit_1_with_the_result_code() {
    let gw = SimGateway::start(scenario("permanent-lease-only").expect("scenario")).expect("simulated gateway");
    let out = gdnat(&["add", "7400", "TCP", "--lease", "60", "--url", &gw.description_url(0)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    assert_eq!(stderr(&out), "error: router answered UPnP error 725 OnlyPermanentLeasesSupported (OnlyPermanentLeasesSupported) (UPNPResult 15)\n");
    gw.stop();
}

/// The error lines the end-to-end test expects from the real miniupnpd (tests/e2e/core-e2e.sh),
/// here from the simulated gateway, which answers with miniupnpd's descriptions.
#[test]
fn igd_rule_errors_print_the_exact_error_line() {
    let gw = SimGateway::start(scenario("igd2-public").expect("scenario")).expect("simulated gateway");
    let url = gw.description_url(0);
    let cases: [(&[&str], &str); 3] = [
        (
            &["add", "0", "TCP", "--internal-port", "7791"],
            "error: router answered UPnP error 716 WildCardNotPermittedInExtPort (Wildcard not permited in ExtPort) (UPNPResult 7)\n",
        ),
        (&["show", "7790", "TCP"], "error: router answered UPnP error 714 NoSuchEntryInArray (NoSuchEntryInArray) (UPNPResult 4)\n"),
        (
            &["add", "7781", "TCP", "--client", "127.0.0.2"],
            "error: router answered UPnP error 718 ConflictInMappingEntry (ConflictInMappingEntry) (UPNPResult 13)\n",
        ),
    ];
    for (args, line) in cases {
        let mut args = args.to_vec();
        args.extend(["--url", url.as_str()]);
        let out = gdnat(&args);
        assert_eq!((out.status.code(), stdout(&out).as_str(), stderr(&out).as_str()), (Some(1), "", line), "{args:?}");
    }
    assert!(gw.mappings().is_empty());
    gw.stop();
}

#[test]
fn a_device_that_is_not_a_gateway_is_no_gateway() {
    let gw = SimGateway::start(scenario("not-connected").expect("scenario")).expect("simulated gateway");
    let out = gdnat(&["external-ip", "--url", &gw.description_url(0)]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: no connected gateway at "), "{err}");
    assert!(err.contains("NotConnected"), "{err}");
    assert!(err.ends_with("(UPNPResult 26)\n"), "{err}");
    gw.stop();
}

#[test]
fn usage_errors_exit_2() {
    for args in [&["add", "7777", "tcp"][..], &["frobnicate"], &[], &["show", "1"]] {
        let out = gdnat(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).starts_with("error: "), "{args:?}");
        assert!(stdout(&out).is_empty());
    }
    let out = gdnat(&["help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).starts_with("usage: gdnat"));
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn discover_prints_no_devices_then_one_line_per_device_and_the_count() {
    require_isolated_namespace();
    // Nobody answers yet (this is the only test here that uses multicast).
    let out = gdnat(&["discover", "--timeout", "300", "--multicast-if", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: no UPnP device answered the SSDP search within 300 ms (UPNPResult 27)\n");

    let mut config = scenario("igd2-double-nat").expect("scenario");
    config.ssdp_port = 1900;
    config.multicast_if = Some("127.0.0.1".parse().unwrap());
    let gw = SimGateway::start(config).expect("simulated gateway on 1900");
    let out = gdnat(&["discover", "--timeout", "1500", "--multicast-if", "127.0.0.1"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let expected = format!(
        "device 0 status=ConnectedPrivate igd_status=0 location={} st=urn:schemas-upnp-org:device:InternetGatewayDevice:1 control_url={} service_type=urn:schemas-upnp-org:service:WANIPConnection:2 local_addr=127.0.0.1 external_ip=10.0.0.5 double_nat=true",
        gw.description_url(0),
        gw.control_url(0).unwrap()
    );
    assert_eq!(lines[0], expected);
    assert!(lines[1].starts_with("discovered 1 in ") && lines[1].ends_with(" ms"), "{}", lines[1]);
    let out = gdnat(&["external-ip", "--timeout", "1500", "--multicast-if", "127.0.0.1"]);
    assert_eq!((out.status.code(), stdout(&out).as_str()), (Some(0), "external_ip 10.0.0.5\n"));
    gw.stop();
}


#[test]
fn cycle_maps_then_unmaps_on_the_unmap_line() {
    use std::io::Write;
    use std::process::Stdio;

    let gw = SimGateway::start(scenario("igd1-public").expect("scenario")).expect("simulated gateway");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gdnat"))
        .args(["cycle", "7900", "UDP", "--url", &gw.description_url(0)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gdnat runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut mapped = false;
    for _ in 0..100 {
        if gw.mappings().iter().any(|m| m.external_port == 7900) {
            mapped = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(mapped, "cycle must add the mapping before waiting");
    writeln!(stdin, "unmap").expect("write");
    let output = child.wait_with_output().expect("gdnat ends");
    let elapsed = start.elapsed();
    println!("cycle took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1], "external_ip 1.2.3.4");
    assert_eq!(lines[2], "added 7900 UDP -> 127.0.0.1:7900 lease 0");
    assert!(lines[3].starts_with("mapping 7900 UDP -> 127.0.0.1:7900 enabled=1 lease=0 desc=gdnat"), "{}", lines[3]);
    assert_eq!(lines.last().copied(), Some("deleted 7900 UDP"));
    assert!(gw.mappings().is_empty());
    gw.stop();
}
