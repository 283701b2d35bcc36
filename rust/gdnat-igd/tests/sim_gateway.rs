//! Validation and gateway operations against the simulated gateway, one test per scenario,
//! over HTTP/SOAP on 127.0.0.1 only (no SSDP: see sim_discovery.rs for those).
//!
//! Every test asserts the exact typed result and that the call returned within its bound.

use std::time::{Duration, Instant};

use gdnat_igd::client::{validate_device_at, HttpLimits};
use gdnat_igd::error::{Failure, UpnpErrorCode};
use gdnat_igd::{
    AddAnyPortMappingError, AddPortMappingError, CancelToken, DeletePortMappingError, DeviceStatus, DiscoveredDevice,
    Gateway, GetExternalIpError, GetSpecificPortMappingEntryError, PortMappingRequest, Protocol, RequestError, UpnpResult,
};
use gdnat_simgw::{scenario, SimGateway};

/// Short bounds so fault scenarios end quickly.
const LIMITS: HttpLimits = HttpLimits {
    connect_timeout: Duration::from_millis(500),
    total_timeout: Duration::from_millis(1000),
    max_body: 256 * 1024,
    max_soap_request: 2048,
};
/// Scheduling slack added to every bound.
const MARGIN: Duration = Duration::from_millis(700);

fn start(name: &str) -> SimGateway {
    SimGateway::start(scenario(name).unwrap_or_else(|| panic!("scenario {name}"))).expect("simulated gateway starts")
}

/// Validates device `index` and checks the time bound: one GET plus at most two services
/// probed with two calls each.
fn validate(gw: &SimGateway, index: usize) -> DiscoveredDevice {
    let start = Instant::now();
    let device = validate_device_at(&gw.description_url(index), &LIMITS, &CancelToken::new());
    let elapsed = start.elapsed();
    println!("validated {} in {elapsed:?}: {:?} {}", device.description_url, device.status, device.detail);
    assert!(elapsed < LIMITS.total_timeout * 5 + MARGIN, "validation took {elapsed:?}");
    device
}

fn gateway_of(device: &DiscoveredDevice) -> Gateway {
    device.gateway.clone().unwrap_or_else(|| panic!("no gateway: {:?} {}", device.status, device.detail))
}

/// A gateway on device 0's control URL without validation (for scenarios whose validation fails).
fn raw_gateway(gw: &SimGateway, service_type: &str) -> Gateway {
    let mut gateway = Gateway::new(gw.control_url(0).expect("router"), service_type, "127.0.0.1");
    gateway.limits = LIMITS;
    gateway
}

fn request(port: u16, protocol: Protocol, lease: u32) -> PortMappingRequest {
    PortMappingRequest {
        remote_host: String::new(),
        external_port: port,
        protocol,
        internal_port: port,
        internal_client: "127.0.0.1".into(),
        description: "gdnat test".into(),
        lease_seconds: lease,
    }
}

/// Runs `call`, asserts it returned within one exchange's bound, returns its result.
fn bounded<T>(call: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = call();
    let elapsed = start.elapsed();
    println!("call returned in {elapsed:?}");
    assert!(elapsed < LIMITS.total_timeout + MARGIN, "call took {elapsed:?}");
    result
}

fn request_error<E>(failure: Failure<'_>, _: &E) -> RequestError {
    match failure {
        Failure::Request(error) => error.clone(),
        Failure::Upnp(code) => panic!("expected a request error, got UPnP {code}"),
    }
}

const WANIP1: &str = "urn:schemas-upnp-org:service:WANIPConnection:1";
const WANIP2: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";

#[test]
fn igd2_public_full_mapping_cycle() {
    let gw = start("igd2-public");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::ConnectedPublic);
    assert_eq!(device.external_ip.as_deref(), Some("1.2.3.4"));
    assert_eq!(device.friendly_name.as_deref(), Some("gdnat simulated router"));
    let gateway = gateway_of(&device);
    assert_eq!(gateway.control_url, gw.control_url(0).unwrap());
    assert_eq!(gateway.service_type, WANIP2);
    assert_eq!(gateway.local_addr, "127.0.0.1");

    bounded(|| gateway.add_port_mapping(&request(7777, Protocol::Tcp, 3600))).expect("add");
    let mappings = gw.mappings();
    assert_eq!(mappings.len(), 1);
    assert_eq!((mappings[0].external_port, mappings[0].protocol.as_str(), mappings[0].internal_client.as_str()), (7777, "TCP", "127.0.0.1"));
    let entry = bounded(|| gateway.get_specific_port_mapping_entry(7777, Protocol::Tcp)).expect("entry");
    assert_eq!((entry.internal_port, entry.internal_client.as_str(), entry.description.as_str()), (7777, "127.0.0.1", "gdnat test"));
    assert!(entry.lease_seconds > 0 && entry.lease_seconds <= 3600);
    let row = bounded(|| gateway.get_generic_port_mapping_entry(0)).expect("row 0");
    assert_eq!((row.external_port, row.protocol.as_str()), (7777, "TCP"));
    let reserved = bounded(|| gateway.add_any_port_mapping(&request(7800, Protocol::Udp, 60))).expect("add any");
    assert_eq!(reserved, 7800, "a free port is granted as asked");
    assert_eq!(gw.mappings().len(), 2);
    bounded(|| gateway.delete_port_mapping(7777, Protocol::Tcp)).expect("delete");
    let err = bounded(|| gateway.delete_port_mapping(7777, Protocol::Tcp)).unwrap_err();
    assert!(matches!(err, DeletePortMappingError::NoSuchEntryInArray(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::NoSuchEntryInArray);
    gw.stop();
}

#[test]
fn igd1_public_has_no_add_any_port_mapping() {
    let gw = start("igd1-public");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::ConnectedPublic);
    let gateway = gateway_of(&device);
    assert_eq!(gateway.service_type, WANIP1);
    let err = bounded(|| gateway.add_any_port_mapping(&request(7000, Protocol::Udp, 0))).unwrap_err();
    assert!(matches!(err, AddAnyPortMappingError::InvalidAction(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::UnknownError);
    bounded(|| gateway.add_port_mapping(&request(7000, Protocol::Udp, 0))).expect("plain add works on IGD:1");
    gw.stop();
}

#[test]
fn igd2_double_nat_is_connected_private() {
    let gw = start("igd2-double-nat");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::ConnectedPrivate);
    assert_eq!(device.external_ip.as_deref(), Some("10.0.0.5"));
    assert!(device.status.is_connected());
    assert_eq!(gateway_of(&device).control_url, gw.control_url(0).unwrap());
    gw.stop();
}

#[test]
fn not_connected_router_has_no_gateway() {
    let gw = start("not-connected");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::NotConnected);
    assert!(device.gateway.is_none());
    assert_eq!(device.external_ip, None);
    assert!(device.detail.contains("Disconnected"), "{}", device.detail);
    gw.stop();
}

#[test]
fn ppp_only_router_maps_on_wanpppconnection() {
    let gw = start("ppp-only");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::ConnectedPublic);
    let gateway = gateway_of(&device);
    assert_eq!(gateway.service_type, "urn:schemas-upnp-org:service:WANPPPConnection:1");
    bounded(|| gateway.add_port_mapping(&request(7100, Protocol::Tcp, 0))).expect("add on PPP");
    assert_eq!(gw.mappings().len(), 1);
    gw.stop();
}

#[test]
fn printer_and_router_are_validated_each_on_its_own() {
    let gw = start("printer-and-router");
    let printer = validate(&gw, 0);
    let router = validate(&gw, 1);
    assert_eq!(printer.status, DeviceStatus::NotIgd);
    assert!(printer.gateway.is_none(), "the printer must not get the router's control URL");
    assert_eq!(router.status, DeviceStatus::ConnectedPublic);
    assert_eq!(gateway_of(&router).control_url, gw.control_url(1).unwrap());
    gw.stop();
}

#[test]
fn desc_http_500_empty_is_http_error() {
    let gw = start("desc-http-500-empty");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::HttpError);
    assert!(device.detail.contains("500"), "{}", device.detail);
    assert!(device.gateway.is_none());
    gw.stop();
}

#[test]
fn desc_malformed_xml_keeps_only_what_was_well_formed() {
    let gw = start("desc-malformed-xml");
    let device = validate(&gw, 0);
    // The body is cut at two thirds and ends in junk. The parser keeps the services that were
    // complete before the break (miniupnpc is lenient too); here the connection service lies
    // after the break, so the device is not an IGD, and the detail says why.
    assert_eq!(device.status, DeviceStatus::NotIgd);
    assert!(device.detail.contains("malformed"), "{}", device.detail);
    assert!(device.gateway.is_none());
    gw.stop();
}

#[test]
fn desc_truncated_is_http_error() {
    let gw = start("desc-truncated");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::HttpError);
    assert!(device.detail.contains("truncated"), "{}", device.detail);
    gw.stop();
}

#[test]
fn desc_oversized_is_http_error() {
    let gw = start("desc-oversized");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::HttpError);
    assert!(device.detail.contains("larger than 262144 bytes"), "{}", device.detail);
    gw.stop();
}

#[test]
fn desc_hang_is_http_error_within_the_total_timeout() {
    let gw = start("desc-hang");
    let start = Instant::now();
    let device = validate(&gw, 0);
    assert!(start.elapsed() < LIMITS.total_timeout + MARGIN, "{:?}", start.elapsed());
    assert_eq!(device.status, DeviceStatus::HttpError);
    assert!(device.detail.contains("timed out"), "{}", device.detail);
    gw.stop();
}

#[test]
fn soap_http_500_empty_is_http_status() {
    let gw = start("soap-http-500-empty");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::NotConnected, "GetStatusInfo failed: {}", device.detail);
    let err = bounded(|| raw_gateway(&gw, WANIP2).add_port_mapping(&request(7200, Protocol::Tcp, 0))).unwrap_err();
    assert!(matches!(err, AddPortMappingError::Request(RequestError::HttpStatus { status: 500, .. })), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::HttpError);
    gw.stop();
}

#[test]
fn soap_malformed_xml_is_malformed_xml() {
    let gw = start("soap-malformed-xml");
    let err = bounded(|| raw_gateway(&gw, WANIP2).get_external_ip()).unwrap_err();
    assert!(matches!(request_error(err.failure(), &err), RequestError::MalformedXml { .. }), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::HttpError);
    gw.stop();
}

#[test]
fn soap_truncated_is_truncated() {
    let gw = start("soap-truncated");
    let err = bounded(|| raw_gateway(&gw, WANIP2).get_status_info()).unwrap_err();
    assert!(matches!(request_error(err.failure(), &err), RequestError::Truncated { .. }), "{err:?}");
    gw.stop();
}

#[test]
fn soap_oversized_is_body_too_large() {
    let gw = start("soap-oversized");
    let err = bounded(|| raw_gateway(&gw, WANIP2).get_external_ip()).unwrap_err();
    assert!(matches!(err, GetExternalIpError::Request(RequestError::BodyTooLarge { limit: 262_144, .. })), "{err:?}");
    gw.stop();
}

#[test]
fn soap_hang_times_out_within_the_bound() {
    let gw = start("soap-hang");
    let err = bounded(|| raw_gateway(&gw, WANIP2).delete_port_mapping(7300, Protocol::Udp)).unwrap_err();
    assert!(matches!(err, DeletePortMappingError::Request(RequestError::Timeout { millis: 1000, .. })), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::HttpError);
    gw.stop();
}

#[test]
fn permanent_lease_only_rejects_finite_leases_with_725() {
    let gw = start("permanent-lease-only");
    let gateway = gateway_of(&validate(&gw, 0));
    let err = bounded(|| gateway.add_port_mapping(&request(7400, Protocol::Tcp, 3600))).unwrap_err();
    assert!(matches!(err, AddPortMappingError::OnlyPermanentLeasesSupported(_)), "{err:?}");
    assert_eq!(err.upnp_result(), UpnpResult::OnlyPermanentLeaseSupported);
    bounded(|| gateway.add_port_mapping(&request(7400, Protocol::Tcp, 0))).expect("lease 0 is accepted");
    gw.stop();
}

#[test]
fn lowercase_protocol_rejected_never_hits_us() {
    let gw = start("lowercase-protocol-rejected");
    let gateway = gateway_of(&validate(&gw, 0));
    bounded(|| gateway.add_port_mapping(&request(7500, Protocol::Udp, 0))).expect("we always send upper case");
    let entry = bounded(|| gateway.get_specific_port_mapping_entry(7500, Protocol::Udp)).expect("entry");
    assert_eq!(entry.protocol, "UDP");
    let sent = gw.requests().into_iter().filter(|r| r.soap_action.as_deref().is_some_and(|a| a.ends_with("#AddPortMapping"))).count();
    assert_eq!(sent, 1);
    assert!(gw.requests().iter().any(|r| r.body.contains("<NewProtocol>UDP</NewProtocol>")));
    gw.stop();
}

#[test]
fn upnp_error_on_add_is_action_failed() {
    let gw = start("upnp-error");
    let gateway = gateway_of(&validate(&gw, 0));
    let err = bounded(|| gateway.add_port_mapping(&request(7600, Protocol::Tcp, 0))).unwrap_err();
    assert!(matches!(err, AddPortMappingError::ActionFailed(_)), "{err:?}");
    assert_eq!(err.fault().map(|f| f.code), Some(UpnpErrorCode::ActionFailed));
    assert_eq!(err.upnp_result(), UpnpResult::ActionFailed);
    gw.stop();
}

#[test]
fn wanip_v1_relative_url_with_urlbase_resolves() {
    let gw = start("wanip-v1-relative-url-with-urlbase");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::ConnectedPublic, "{}", device.detail);
    let gateway = gateway_of(&device);
    assert_eq!(gateway.control_url, gw.control_url(0).unwrap());
    assert_eq!(gateway.service_type, WANIP1);
    gw.stop();
}

#[test]
fn namespace_prefixed_description_is_understood() {
    let gw = start("namespace-prefixed-description");
    let device = validate(&gw, 0);
    assert_eq!(device.status, DeviceStatus::ConnectedPublic, "{}", device.detail);
    assert_eq!(device.friendly_name.as_deref(), Some("gdnat simulated router"));
    assert_eq!(gateway_of(&device).control_url, gw.control_url(0).unwrap());
    gw.stop();
}

#[test]
fn specific_entry_of_a_missing_mapping_is_714() {
    let gw = start("igd2-public");
    let gateway = gateway_of(&validate(&gw, 0));
    let err = bounded(|| gateway.get_specific_port_mapping_entry(9999, Protocol::Udp)).unwrap_err();
    assert!(matches!(err, GetSpecificPortMappingEntryError::NoSuchEntryInArray(_)), "{err:?}");
    gw.stop();
}
