//! Loopback integration tests: a started SimGateway spoken to over real TCP (and, in ignored
//! tests meant for an isolated namespace, real UDP SSDP).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use gdnat_simgw::{parse_call, require_isolated_namespace, scenario, FaultKind, FaultTarget, SimGateway, OVERSIZED_BODY_LEN};

const ST2: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";

/// Splits `http://host:port/path` into (address, path).
fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (hostport, path) = rest.split_once('/').expect("path");
    (hostport.parse().expect("addr"), format!("/{path}"))
}

/// A raw HTTP answer.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
    content_length: Option<usize>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` and reads until close (bounded by 10 s and 4 MiB).
fn exchange(addr: SocketAddr, request: &[u8]) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                assert!(buf.len() < 4 * 1024 * 1024, "answer too large");
            }
            Err(e) => return Err(e),
        }
    }
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_length = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok());
    Ok(Answer {
        status,
        head,
        body: buf[end..].to_vec(),
        content_length,
    })
}

fn get(url: &str) -> Answer {
    let (addr, path) = split_url(url);
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    exchange(addr, req.as_bytes()).expect("GET")
}

fn soap_request(url: &str, st: &str, action: &str, args: &[(&str, &str)]) -> Vec<u8> {
    let (addr, path) = split_url(url);
    let mut inner = String::new();
    for (k, v) in args {
        inner.push_str(&format!("<{k}>{v}</{k}>"));
    }
    let body = format!(
        "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u:{action} xmlns:u=\"{st}\">{inner}</u:{action}></s:Body></s:Envelope>\r\n"
    );
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nSOAPAction: \"{st}#{action}\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn soap(gw: &SimGateway, action: &str, args: &[(&str, &str)]) -> Answer {
    let url = gw.control_url(0).expect("router");
    let (addr, _) = split_url(&url);
    exchange(addr, &soap_request(&url, ST2, action, args)).expect("POST")
}

fn add_args<'a>(port: &'a str, client: &'a str, desc: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("NewRemoteHost", ""),
        ("NewExternalPort", port),
        ("NewProtocol", "TCP"),
        ("NewInternalPort", port),
        ("NewInternalClient", client),
        ("NewEnabled", "1"),
        ("NewPortMappingDescription", desc),
        ("NewLeaseDuration", "3600"),
    ]
}

fn error_code(a: &Answer) -> Option<String> {
    let text = a.text();
    let start = text.find("<errorCode>")? + "<errorCode>".len();
    let end = text[start..].find('<')? + start;
    Some(text[start..end].to_string())
}

fn start(name: &str) -> SimGateway {
    SimGateway::start(scenario(name).expect("scenario")).expect("start")
}

#[test]
fn description_is_served_with_miniupnpd_headers() {
    let gw = start("igd2-public");
    let a = get(&gw.description_url(0));
    assert_eq!(a.status, 200);
    assert!(a.head.contains("Content-Type: text/xml; charset=\"utf-8\""));
    assert_eq!(a.content_length, Some(a.body.len()));
    let text = a.text();
    assert!(text.contains("urn:schemas-upnp-org:device:InternetGatewayDevice:2"));
    assert!(text.contains("<controlURL>/ctl/IPConn</controlURL>"));
    assert_eq!(
        get(&gw.description_url(0).replace("rootDesc", "nope")).status,
        404
    );
    let reqs = gw.requests();
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/rootDesc.xml");
    gw.stop();
}

#[test]
fn add_port_mapping_ok_refresh_conflict_and_delete() {
    let gw = start("igd2-public");
    let a = soap(
        &gw,
        "AddPortMapping",
        &add_args("7777", "127.0.0.1", "a &amp; b"),
    );
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(a.text().starts_with("<?xml"));
    let m = gw.mappings();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].external_port, 7777);
    assert_eq!(m[0].description, "a & b", "value must be unescaped");
    // Refresh by the same client.
    assert_eq!(
        soap(
            &gw,
            "AddPortMapping",
            &add_args("7777", "127.0.0.1", "again")
        )
        .status,
        200
    );
    assert_eq!(gw.mappings()[0].description, "again");
    // Secure mode: another internal client than the requester -> 718.
    let a = soap(
        &gw,
        "AddPortMapping",
        &add_args("7778", "10.77.0.3", "other"),
    );
    assert_eq!(a.status, 500);
    assert_eq!(error_code(&a).as_deref(), Some("718"));
    assert!(!a.text().starts_with("<?xml"), "faults have no prolog");
    // GetSpecific with the escaped description echoed escaped.
    let a = soap(
        &gw,
        "GetSpecificPortMappingEntry",
        &[
            ("NewRemoteHost", ""),
            ("NewExternalPort", "7777"),
            ("NewProtocol", "TCP"),
        ],
    );
    assert_eq!(a.status, 200);
    let call = parse_call(&a.text()).unwrap();
    assert_eq!(call.arg("NewInternalClient"), Some("127.0.0.1"));
    let del = [
        ("NewRemoteHost", ""),
        ("NewExternalPort", "7777"),
        ("NewProtocol", "TCP"),
    ];
    assert_eq!(soap(&gw, "DeletePortMapping", &del).status, 200);
    let a = soap(&gw, "DeletePortMapping", &del);
    assert_eq!(error_code(&a).as_deref(), Some("714"));
    let a = soap(&gw, "GetSpecificPortMappingEntry", &del);
    assert_eq!(error_code(&a).as_deref(), Some("714"));
    assert!(gw.mappings().is_empty());
    // Unknown action and missing args.
    assert_eq!(
        error_code(&soap(&gw, "NoSuchAction", &[])).as_deref(),
        Some("401")
    );
    assert_eq!(
        error_code(&soap(&gw, "AddPortMapping", &[("NewExternalPort", "1")])).as_deref(),
        Some("402")
    );
    let a = soap(&gw, "GetExternalIPAddress", &[]);
    assert_eq!(
        parse_call(&a.text()).unwrap().arg("NewExternalIPAddress"),
        Some("1.2.3.4")
    );
    let actions: Vec<_> = gw
        .requests()
        .iter()
        .filter_map(|r| r.soap_action.clone())
        .collect();
    assert_eq!(actions[0], format!("{ST2}#AddPortMapping"));
    gw.stop();
}

#[test]
fn hang_fault_is_ended_by_stop() {
    let gw = start("desc-hang");
    let (addr, path) = split_url(&gw.description_url(0));
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let r = s.read(&mut buf);
    assert!(r.is_err(), "a hanging gateway must not answer: {r:?}");
    let t = Instant::now();
    gw.stop();
    println!("stop with a hanging connection took {:?}", t.elapsed());
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let r = s.read(&mut buf);
    assert!(
        matches!(r, Ok(0)) || r.is_err(),
        "connection closed after stop: {r:?}"
    );
}

#[test]
fn hang_is_bounded_by_max_hang() {
    let mut cfg = scenario("soap-hang").unwrap();
    cfg.max_hang = Duration::from_millis(200);
    let gw = SimGateway::start(cfg).unwrap();
    let url = gw.control_url(0).unwrap();
    let (addr, _) = split_url(&url);
    let a = exchange(addr, &soap_request(&url, ST2, "GetStatusInfo", &[])).unwrap();
    assert_eq!(a.status, 0, "no answer expected");
    assert!(a.body.is_empty() && a.head.is_empty());
    gw.stop();
}

#[test]
fn oversized_and_truncated_and_malformed_and_empty_500() {
    let gw = start("desc-oversized");
    let a = get(&gw.description_url(0));
    assert_eq!(a.status, 200);
    assert_eq!(a.body.len(), OVERSIZED_BODY_LEN);
    assert_eq!(a.content_length, Some(OVERSIZED_BODY_LEN));
    gw.stop();

    let gw = start("desc-truncated");
    let a = get(&gw.description_url(0));
    assert_eq!(a.status, 200);
    let declared = a.content_length.unwrap();
    assert!(a.body.len() < declared, "{} < {declared}", a.body.len());
    gw.stop();

    let gw = start("soap-malformed-xml");
    let a = soap(&gw, "GetExternalIPAddress", &[]);
    assert_eq!(a.status, 200);
    assert!(parse_call(&a.text()).is_err());
    gw.stop();

    let gw = start("soap-http-500-empty");
    let a = soap(&gw, "AddPortMapping", &add_args("7777", "127.0.0.1", "x"));
    assert_eq!(a.status, 500);
    assert!(a.body.is_empty());
    assert_eq!(a.content_length, Some(0));
    assert!(
        gw.mappings().is_empty(),
        "a faulted request must not change the table"
    );
    assert_eq!(
        get(&gw.description_url(0)).status,
        200,
        "the description is not faulted"
    );
    gw.stop();
}

#[test]
fn empty_200_answers_and_slow_http() {
    for (name, answer) in [
        ("desc-empty", None),
        ("soap-empty", Some("GetStatusInfo")),
    ] {
        let gw = start(name);
        let a = match answer {
            None => get(&gw.description_url(0)),
            Some(action) => soap(&gw, action, &[]),
        };
        assert_eq!((a.status, a.content_length, a.body.len()), (200, Some(0), 0), "{name}");
        gw.stop();
    }
    let gw = start("slow-http");
    for _ in 0..2 {
        let t = Instant::now();
        let a = get(&gw.description_url(0));
        assert_eq!(a.status, 200);
        assert!(t.elapsed() >= gdnat_simgw::SLOW_HTTP_DELAY, "{:?}", t.elapsed());
    }
    let t = Instant::now();
    assert_eq!(soap(&gw, "GetExternalIPAddress", &[]).status, 200);
    assert!(t.elapsed() >= gdnat_simgw::SLOW_HTTP_DELAY, "{:?}", t.elapsed());
    gw.stop();
}

#[test]
fn upnp_error_and_delay_rules() {
    let mut cfg = scenario("igd2-public").unwrap();
    cfg.devices[0] = cfg.devices[0]
        .clone()
        .with_fault(
            FaultTarget::Action("GetExternalIPAddress".into()),
            FaultKind::Delay(Duration::from_millis(100)),
        )
        .with_fault(
            FaultTarget::Action("AddPortMapping".into()),
            FaultKind::UpnpError(725, "OnlyPermanentLeasesSupported".into()),
        );
    let gw = SimGateway::start(cfg).unwrap();
    let a = soap(&gw, "AddPortMapping", &add_args("7777", "127.0.0.1", "x"));
    assert_eq!(error_code(&a).as_deref(), Some("725"));
    let t = Instant::now();
    let a = soap(&gw, "GetExternalIPAddress", &[]);
    println!("delayed answer took {:?}", t.elapsed());
    assert_eq!(a.status, 200);
    gw.stop();
}

#[test]
fn malformed_requests_do_not_kill_the_server() {
    let gw = start("igd2-public");
    let (addr, _) = split_url(&gw.description_url(0));
    let a = exchange(addr, b"garbage\r\n\r\n").unwrap();
    assert_eq!(a.status, 400);
    let big = format!(
        "POST /ctl/IPConn HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
        10 * 1024 * 1024
    );
    let a = exchange(addr, big.as_bytes()).unwrap();
    assert_eq!(a.status, 413);
    let a = exchange(addr, b"POST /ctl/IPConn HTTP/1.1\r\nSOAPAction: \"x#AddPortMapping\"\r\nContent-Length: 5\r\n\r\n<<<<<").unwrap();
    assert_eq!(error_code(&a).as_deref(), Some("402"));
    // Absolute-form request target.
    let abs = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", gw.description_url(0));
    assert_eq!(exchange(addr, abs.as_bytes()).unwrap().status, 200);
    // Still serving.
    assert_eq!(get(&gw.description_url(0)).status, 200);
    gw.stop();
}

#[test]
fn printer_and_router_serve_two_descriptions() {
    let gw = start("printer-and-router");
    assert_eq!(gw.device_count(), 2);
    assert!(gw.control_url(0).is_none());
    let p = get(&gw.description_url(0)).text();
    assert!(p.contains("Printer:1") && !p.contains("InternetGatewayDevice"));
    let r = get(&gw.description_url(1)).text();
    assert!(r.contains("InternetGatewayDevice:2"));
    gw.stop();
}

#[test]
fn relative_urlbase_and_prefixed_descriptions() {
    let gw = start("wanip-v1-relative-url-with-urlbase");
    let d = get(&gw.description_url(0)).text();
    let base = gw.description_url(0).replace("rootDesc.xml", "");
    assert!(d.contains(&format!("<URLBase>{base}</URLBase>")), "{d}");
    assert!(d.contains("<controlURL>ctl/IPConn</controlURL>"));
    gw.stop();
    let gw = start("namespace-prefixed-description");
    assert!(get(&gw.description_url(0))
        .text()
        .contains("<ns0:controlURL>/ctl/IPConn</ns0:controlURL>"));
    gw.stop();
}

#[test]
fn lowercase_protocol_rejected_and_permanent_only() {
    let gw = start("lowercase-protocol-rejected");
    let mut args = add_args("7777", "127.0.0.1", "x");
    args[2].1 = "tcp";
    assert_eq!(
        error_code(&soap(&gw, "AddPortMapping", &args)).as_deref(),
        Some("402")
    );
    gw.stop();
    let gw = start("permanent-lease-only");
    let url = gw.control_url(0).unwrap();
    let (addr, _) = split_url(&url);
    let st1 = "urn:schemas-upnp-org:service:WANIPConnection:1";
    let a = exchange(
        addr,
        &soap_request(
            &url,
            st1,
            "AddPortMapping",
            &add_args("7777", "127.0.0.1", "x"),
        ),
    )
    .unwrap();
    assert_eq!(error_code(&a).as_deref(), Some("725"));
    let mut args = add_args("7777", "127.0.0.1", "x");
    args[7].1 = "0";
    let a = exchange(addr, &soap_request(&url, st1, "AddPortMapping", &args)).unwrap();
    assert_eq!(a.status, 200);
    assert!(
        a.text().contains(st1),
        "response namespace echoes the requested service type"
    );
    gw.stop();
}

#[test]
fn location_other_host_listens_only_there() {
    let gw = start("location-other-host");
    let url = gw.description_url(0);
    assert!(url.starts_with("http://127.0.0.2:"), "{url}");
    assert_eq!(get(&url).status, 200);
    let (addr, _) = split_url(&url);
    let on_bind = SocketAddr::new("127.0.0.1".parse().unwrap(), addr.port());
    assert!(TcpStream::connect_timeout(&on_bind, Duration::from_secs(1)).is_err());
    gw.stop();
}

// --- SSDP: these send datagrams, so they run only inside an isolated namespace. ---


fn msearch(to: SocketAddr, st: &str) -> Vec<(SocketAddr, String)> {
    require_isolated_namespace();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let m = format!("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nST: {st}\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n\r\n");
    sock.send_to(m.as_bytes(), to).unwrap();
    let mut out = Vec::new();
    let end = Instant::now() + Duration::from_millis(1500);
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            out.push((from, String::from_utf8_lossy(&buf[..n]).into_owned()));
        }
    }
    out
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn ssdp_answers_igd1_search_from_igd2_device() {
    let gw = start("igd2-public");
    let answers = msearch(
        gw.ssdp_addr(),
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    );
    assert_eq!(answers.len(), 1, "{answers:?}");
    let (from, text) = &answers[0];
    assert_eq!(*from, gw.ssdp_addr());
    assert!(text.contains("ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"));
    assert!(text.contains(&format!("LOCATION: {}\r\n", gw.description_url(0))));
    assert!(msearch(
        gw.ssdp_addr(),
        "urn:schemas-upnp-org:service:WANPPPConnection:1"
    )
    .is_empty());
    let all = msearch(gw.ssdp_addr(), "ssdp:all");
    assert_eq!(
        all.len(),
        gdnat_simgw::ssdp_targets(&scenario("igd2-public").unwrap().devices[0]).len()
    );
    // Garbage does not kill the responder.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(&[0xff; 3000], gw.ssdp_addr()).unwrap();
    sock.send_to(b"NOTIFY * HTTP/1.1\r\n\r\n", gw.ssdp_addr())
        .unwrap();
    assert_eq!(msearch(gw.ssdp_addr(), "upnp:rootdevice").len(), 1);
    gw.stop();
}

#[test]
#[ignore = "sends SSDP: run in an isolated namespace (tests/lib/isolated.sh)"]
fn ssdp_odd_port_slow_and_printer() {
    let gw = start("odd-source-port");
    let answers = msearch(gw.ssdp_addr(), "upnp:rootdevice");
    assert_eq!(answers.len(), 1);
    assert_ne!(
        answers[0].0,
        gw.ssdp_addr(),
        "answer must come from another port"
    );
    gw.stop();

    let gw = start("slow-ssdp");
    let t = Instant::now();
    let answers = msearch(gw.ssdp_addr(), "upnp:rootdevice");
    println!(
        "slow-ssdp: answered within the 1.5 s window, search took {:?}",
        t.elapsed()
    );
    assert_eq!(answers.len(), 1);
    gw.stop();

    let gw = start("printer-and-router");
    let roots = msearch(gw.ssdp_addr(), "upnp:rootdevice");
    assert_eq!(roots.len(), 2);
    let igd = msearch(
        gw.ssdp_addr(),
        "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
    );
    assert_eq!(igd.len(), 1);
    assert!(igd[0].1.contains(&gw.description_url(1)));
    gw.stop();
}
