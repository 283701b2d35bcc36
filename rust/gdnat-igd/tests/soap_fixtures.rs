//! Gateway operations against the real miniupnpd answers (tests/data/miniupnpd/soap), replayed by
//! a scripted responder on 127.0.0.1, plus the transport failures every operation must type.

mod common;

use std::time::{Duration, Instant};

use common::{fixture, http, Reply, Responder};
use gdnat_igd::client::HttpLimits;
use gdnat_igd::error::UpnpErrorCode;
use gdnat_igd::{
    AddAnyPortMappingError, AddPortMappingError, DeletePortMappingError, Gateway, GetGenericPortMappingEntryError,
    GetSpecificPortMappingEntryError, PortMappingRequest, Protocol, RequestError, UpnpResult,
};

const WANIP2: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";

macro_rules! soap_fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/data/miniupnpd/soap/", $name, ".response.http"))
    };
}

fn gateway(responder: &Responder) -> Gateway {
    let mut gateway = Gateway::new(responder.url("/ctl/IPConn"), WANIP2, "10.77.0.2");
    gateway.limits = HttpLimits { connect_timeout: Duration::from_millis(500), total_timeout: Duration::from_millis(800), ..HttpLimits::default() };
    gateway
}

fn request(port: u16, description: &str) -> PortMappingRequest {
    PortMappingRequest {
        remote_host: String::new(),
        external_port: port,
        protocol: Protocol::Tcp,
        internal_port: port,
        internal_client: "10.77.0.2".into(),
        description: description.into(),
        lease_seconds: 3600,
    }
}

#[test]
fn add_port_mapping_sends_the_real_request_and_succeeds() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-ok"))]);
    gateway(&responder).add_port_mapping(&request(7777, "test")).expect("mapped");
    let sent = &responder.recorded()[0];
    assert_eq!(sent.body, include_str!("../../../tests/data/miniupnpd/soap/AddPortMapping-ok.request.xml"));
    assert!(sent.head.starts_with("POST /ctl/IPConn HTTP/1.1\r\n"));
    let head = sent.head.to_ascii_lowercase();
    assert!(head.contains("soapaction: \"urn:schemas-upnp-org:service:wanipconnection:2#addportmapping\""), "{head}");
    assert!(head.contains("content-type: text/xml; charset=\"utf-8\""));
    assert!(head.contains("connection: close"));
}

#[test]
fn add_port_mapping_conflict_is_718() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-error-718-conflict"))]);
    let err = gateway(&responder).add_port_mapping(&request(7777, "x")).unwrap_err();
    assert!(matches!(err, AddPortMappingError::ConflictInMappingEntry(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::ConflictWithOtherMapping);
}

#[test]
fn add_port_mapping_port_zero_is_716() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-error-716-port-0"))]);
    let err = gateway(&responder).add_port_mapping(&request(0, "x")).unwrap_err();
    assert!(matches!(err, AddPortMappingError::WildCardNotPermittedInExtPort(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::ExtPortWildcardNotPermitted);
}

#[test]
fn add_port_mapping_permission_rule_is_606() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-error-606-permission-rule"))]);
    let err = gateway(&responder).add_port_mapping(&request(80, "x")).unwrap_err();
    assert!(matches!(err, AddPortMappingError::ActionNotAuthorized(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::NotAuthorized);
}

#[test]
fn add_port_mapping_missing_args_is_402() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-error-402-missing-args"))]);
    let err = gateway(&responder).add_port_mapping(&request(7777, "x")).unwrap_err();
    assert!(matches!(err, AddPortMappingError::InvalidArgs(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::InvalidArgs);
}

#[test]
fn add_port_mapping_without_public_ip_is_501() {
    let raw = include_str!("../../../tests/data/miniupnpd/no-public-ip/soap/AddPortMapping-error-forwarding-disabled.response.http");
    let responder = Responder::start(vec![fixture(raw)]);
    let err = gateway(&responder).add_port_mapping(&request(7777, "x")).unwrap_err();
    assert!(matches!(err, AddPortMappingError::ActionFailed(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::ActionFailed);
}

#[test]
fn add_any_port_mapping_returns_the_reserved_port() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddAnyPortMapping-taken-port"))]);
    assert_eq!(gateway(&responder).add_any_port_mapping(&request(7777, "any")).unwrap(), 7778);
    assert!(responder.recorded()[0].head.to_ascii_lowercase().contains("#addanyportmapping\""));
}

#[test]
fn add_any_port_mapping_on_igd1_is_401() {
    let responder = Responder::start(vec![fixture(soap_fixture!("UnknownAction-error-401"))]);
    let err = gateway(&responder).add_any_port_mapping(&request(7777, "any")).unwrap_err();
    assert!(matches!(err, AddAnyPortMappingError::InvalidAction(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::UnknownError);
}

#[test]
fn delete_of_another_clients_mapping_is_606_and_nonexistent_is_ok() {
    let responder = Responder::start(vec![
        fixture(soap_fixture!("DeletePortMapping-error-606-other-client")),
        fixture(soap_fixture!("DeletePortMapping-nonexistent")),
    ]);
    let gateway = gateway(&responder);
    let err = gateway.delete_port_mapping(7777, Protocol::Udp).unwrap_err();
    assert!(matches!(err, DeletePortMappingError::ActionNotAuthorized(_)), "{err:?}");
    gateway.delete_port_mapping(7777, Protocol::Udp).expect("miniupnpd answers 200 for a nonexistent mapping");
    let sent = responder.recorded();
    assert!(sent[1].body.contains("<NewRemoteHost></NewRemoteHost><NewExternalPort>7777</NewExternalPort><NewProtocol>UDP</NewProtocol>"));
}

#[test]
fn external_ip_status_and_entries_parse() {
    let responder = Responder::start(vec![
        fixture(soap_fixture!("GetExternalIPAddress")),
        fixture(soap_fixture!("GetStatusInfo")),
        fixture(soap_fixture!("GetSpecificPortMappingEntry-ok")),
        fixture(soap_fixture!("GetGenericPortMappingEntry-0")),
    ]);
    let gateway = gateway(&responder);
    assert_eq!(gateway.get_external_ip().unwrap(), "198.51.100.1");
    let status = gateway.get_status_info().unwrap();
    assert!(status.is_connected());
    assert_eq!((status.last_connection_error.as_str(), status.uptime_seconds), ("ERROR_NONE", Some(9)));
    let entry = gateway.get_specific_port_mapping_entry(7777, Protocol::Tcp).unwrap();
    assert_eq!((entry.internal_port, entry.internal_client.as_str(), entry.enabled, entry.description.as_str(), entry.lease_seconds), (7777, "10.77.0.2", true, "test", 3600));
    let entry = gateway.get_generic_port_mapping_entry(0).unwrap();
    assert_eq!((entry.external_port, entry.protocol.as_str(), entry.remote_host.as_str()), (7777, "TCP", ""));
    assert!(responder.recorded()[3].body.contains("<NewPortMappingIndex>0</NewPortMappingIndex>"));
}

#[test]
fn empty_external_ip_is_not_an_error() {
    let raw = include_str!("../../../tests/data/miniupnpd/no-public-ip/soap/GetExternalIPAddress-empty.response.http");
    let responder = Responder::start(vec![fixture(raw)]);
    assert_eq!(gateway(&responder).get_external_ip().unwrap(), "");
}

#[test]
fn missing_entries_are_714_and_713() {
    let responder = Responder::start(vec![
        fixture(soap_fixture!("GetSpecificPortMappingEntry-error-714")),
        fixture(soap_fixture!("GetGenericPortMappingEntry-error-713")),
    ]);
    let gateway = gateway(&responder);
    let err = gateway.get_specific_port_mapping_entry(1, Protocol::Udp).unwrap_err();
    assert!(matches!(err, GetSpecificPortMappingEntryError::NoSuchEntryInArray(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::NoSuchEntryInArray);
    let err = gateway.get_generic_port_mapping_entry(5).unwrap_err();
    assert!(matches!(err, GetGenericPortMappingEntryError::SpecifiedArrayIndexInvalid(_)), "{err:?}");
}

#[test]
fn http_500_without_fault_is_http_status_and_200_empty_is_empty_body() {
    let responder = Responder::start(vec![http("500 Internal Server Error", ""), http("200 OK", ""), http("500 Oops", "<html>no</html>")]);
    let gateway = gateway(&responder);
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::HttpStatus { status: 500, .. })), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::HttpError);
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::EmptyBody { .. })), "{err:?}");
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::HttpStatus { status: 500, .. })), "{err:?}");
}

#[test]
fn non_numeric_error_code_is_other_minus_one() {
    let body = "<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>x7</errorCode></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
    let responder = Responder::start(vec![http("500 Internal Server Error", body)]);
    let err = gateway(&responder).add_port_mapping(&request(1, "x")).unwrap_err();
    assert_eq!(err.fault().map(|f| f.code), Some(UpnpErrorCode::Other(-1)));
    assert_eq!(err.upnp_result(), UpnpResult::UnknownError);
}

#[test]
fn malformed_xml_missing_and_invalid_values_are_typed() {
    let responder = Responder::start(vec![
        http("200 OK", "<a><NewExternalIPAddress>1.2.3.4</NewExternalIPAddress>"),
        http("200 OK", "<a><Other>1</Other></a>"),
        http("200 OK", "<a><NewInternalPort>abc</NewInternalPort><NewInternalClient>1.2.3.4</NewInternalClient></a>"),
        http("200 OK", "<a><NewReservedPort>70000</NewReservedPort></a>"),
    ]);
    let gateway = gateway(&responder);
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::MalformedXml { .. })), "{err:?}");
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::MissingElement { element: "NewExternalIPAddress", .. })), "{err:?}");
    let err = gateway.get_specific_port_mapping_entry(1, Protocol::Tcp).unwrap_err();
    assert!(matches!(&err, GetSpecificPortMappingEntryError::Request(RequestError::InvalidValue { element: "NewInternalPort", value, .. }) if value == "abc"), "{err:?}");
    let err = gateway.add_any_port_mapping(&request(1, "x")).unwrap_err();
    assert!(matches!(&err, AddAnyPortMappingError::Request(RequestError::InvalidValue { element: "NewReservedPort", .. })), "{err:?}");
}

#[test]
fn description_is_escaped_on_the_wire() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-ok"))]);
    gateway(&responder).add_port_mapping(&request(7777, "a<b>&\"c'")).unwrap();
    let body = &responder.recorded()[0].body;
    assert!(body.contains("<NewPortMappingDescription>a&lt;b&gt;&amp;&quot;c&apos;</NewPortMappingDescription>"), "{body}");
}

#[test]
fn oversized_request_is_refused_before_sending() {
    let responder = Responder::start(vec![fixture(soap_fixture!("AddPortMapping-ok"))]);
    let err = gateway(&responder).add_port_mapping(&request(7777, &"d".repeat(1500))).unwrap_err();
    assert!(matches!(err, AddPortMappingError::Request(RequestError::RequestTooLarge { limit: 2048, .. })), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::HttpError);
    std::thread::sleep(Duration::from_millis(50));
    assert!(responder.recorded().is_empty(), "nothing may be sent");
}

#[test]
fn hanging_router_times_out_within_the_bound() {
    let responder = Responder::start(vec![Reply::Hang(Duration::from_secs(3))]);
    let gateway = gateway(&responder);
    let start = Instant::now();
    let err = gateway.get_external_ip().unwrap_err();
    let elapsed = start.elapsed();
    println!("hang answered in {elapsed:?}");
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::Timeout { millis: 800, .. })), "{err:?}");
    assert!(elapsed < gateway.limits.total_timeout + Duration::from_millis(500), "{elapsed:?}");
}

#[test]
fn refused_closed_truncated_and_oversized_answers_are_typed() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut refused = Gateway::new(format!("http://127.0.0.1:{closed_port}/ctl"), WANIP2, "");
    refused.limits.connect_timeout = Duration::from_millis(500);
    let err = refused.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::ConnectionRefused { .. })), "{err:?}");

    let truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n<a>short".to_vec();
    let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}", 300_000, "x".repeat(300_000)).into_bytes();
    let responder = Responder::start(vec![Reply::Close, Reply::Bytes(truncated), Reply::Bytes(huge)]);
    let gateway = gateway(&responder);
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::EmptyBody { .. })), "{err:?}");
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::Truncated { .. })), "{err:?}");
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::BodyTooLarge { limit: 262_144, .. })), "{err:?}");
}

#[test]
fn invalid_control_urls_fail_before_sending() {
    for url in ["", "https://127.0.0.1/ctl", "ctl/IPConn", "http://[::1/"] {
        let err = Gateway::new(url, WANIP2, "").delete_port_mapping(1, Protocol::Tcp).unwrap_err();
        assert!(matches!(err, DeletePortMappingError::Request(RequestError::InvalidUrl { .. })), "{url:?}: {err:?}");
    }
}

#[test]
fn close_delimited_and_chunked_answers_are_read_whole() {
    let body = "<s:Envelope><s:Body><u:GetExternalIPAddressResponse><NewExternalIPAddress> 5.6.7.8 </NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>";
    let close_delimited = format!("HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n{body}").into_bytes();
    let (first, second) = body.split_at(40);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nEXT:\r\n\r\n{:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n",
        first.len(),
        second.len()
    )
    .into_bytes();
    let broken_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n<a>\r\n".to_vec();
    let responder = Responder::start(vec![Reply::Bytes(close_delimited), Reply::Bytes(chunked), Reply::Bytes(broken_chunk)]);
    let gateway = gateway(&responder);
    assert_eq!(gateway.get_external_ip().unwrap(), "5.6.7.8");
    assert_eq!(gateway.get_external_ip().unwrap(), "5.6.7.8");
    let err = gateway.get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::Truncated { .. })), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::HttpError);
}

#[test]
fn redirects_are_not_followed() {
    let redirect = b"HTTP/1.1 302 Found\r\nLocation: http://192.0.2.1/elsewhere\r\nContent-Length: 0\r\n\r\n".to_vec();
    let responder = Responder::start(vec![Reply::Bytes(redirect)]);
    let err = gateway(&responder).get_external_ip().unwrap_err();
    assert!(matches!(err.failure(), gdnat_igd::error::Failure::Request(RequestError::HttpStatus { status: 302, .. })), "{err:?}");
    assert_eq!(responder.recorded().len(), 1);
}

#[test]
fn huge_limits_do_not_overflow() {
    let responder = Responder::start(vec![fixture(soap_fixture!("GetExternalIPAddress"))]);
    let mut gateway = gateway(&responder);
    gateway.limits = HttpLimits { connect_timeout: Duration::MAX, total_timeout: Duration::MAX, max_body: usize::MAX, max_soap_request: usize::MAX };
    assert_eq!(gateway.get_external_ip().unwrap(), "198.51.100.1");
}
