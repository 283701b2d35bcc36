//! Per-device validation (validate_device_at) over HTTP on 127.0.0.1 with a scripted responder:
//! the choice between several connection services and the safety rule on control URLs.

mod common;

use std::time::Duration;

use common::{http, Responder};
use gdnat_igd::client::{validate_device_at, HttpLimits};
use gdnat_igd::{CancelToken, DeviceStatus};

const LIMITS: HttpLimits = HttpLimits {
    connect_timeout: Duration::from_millis(500),
    total_timeout: Duration::from_millis(1000),
    max_body: 256 * 1024,
    max_soap_request: 2048,
};

fn description(services: &[(&str, &str)]) -> String {
    let services: String = services
        .iter()
        .map(|(kind, url)| format!("<service><serviceType>urn:schemas-upnp-org:service:{kind}</serviceType><controlURL>{url}</controlURL></service>"))
        .collect();
    format!("<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><device><friendlyName>Two</friendlyName><serviceList>{services}</serviceList></device></root>")
}

fn status(value: &str) -> String {
    format!("<s:Envelope><s:Body><u:GetStatusInfoResponse><NewConnectionStatus>{value}</NewConnectionStatus><NewLastConnectionError>ERROR_NONE</NewLastConnectionError><NewUptime>5</NewUptime></u:GetStatusInfoResponse></s:Body></s:Envelope>")
}

fn external_ip(value: &str) -> String {
    format!("<s:Envelope><s:Body><u:GetExternalIPAddressResponse><NewExternalIPAddress>{value}</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>")
}

fn action_of(head: &str) -> String {
    head.lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("soapaction")).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_default()
}

#[test]
fn a_disconnected_first_service_falls_back_to_the_second() {
    let desc = description(&[("WANIPConnection:1", "/a"), ("WANPPPConnection:1", "/b")]);
    let responder = Responder::start(vec![
        http("200 OK", &desc),
        http("200 OK", &status("Disconnected")),
        http("200 OK", &status("Up")),
        http("200 OK", &external_ip("8.8.8.8")),
    ]);
    let device = validate_device_at(&responder.url("/desc.xml"), &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::ConnectedPublic, "{}", device.detail);
    let gateway = device.gateway.expect("gateway");
    assert_eq!(gateway.control_url, responder.url("/b"));
    assert_eq!(gateway.service_type, "urn:schemas-upnp-org:service:WANPPPConnection:1");
    assert_eq!(gateway.local_addr, "127.0.0.1");
    assert_eq!(device.external_ip.as_deref(), Some("8.8.8.8"));
    assert_eq!(device.friendly_name.as_deref(), Some("Two"));
    let requests = responder.recorded();
    assert_eq!(requests.len(), 4);
    assert!(requests[1].head.starts_with("POST /a ") && action_of(&requests[1].head).ends_with("#GetStatusInfo\""));
    assert!(requests[2].head.starts_with("POST /b "));
}

#[test]
fn a_public_second_service_beats_a_private_first_one() {
    let desc = description(&[("WANIPConnection:2", "/a"), ("WANIPConnection:1", "/b")]);
    let responder = Responder::start(vec![
        http("200 OK", &desc),
        http("200 OK", &status("Connected")),
        http("200 OK", &external_ip("10.1.1.1")),
        http("200 OK", &status("Connected")),
        http("200 OK", &external_ip("8.8.4.4")),
    ]);
    let device = validate_device_at(&responder.url("/desc.xml"), &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::ConnectedPublic, "{}", device.detail);
    assert_eq!(device.gateway.expect("gateway").control_url, responder.url("/b"));
    assert_eq!(device.external_ip.as_deref(), Some("8.8.4.4"));
}

#[test]
fn a_failing_external_ip_is_connected_private() {
    let desc = description(&[("WANIPConnection:1", "/a")]);
    let fault = "<s:Envelope><s:Body><s:Fault><detail><UPnPError><errorCode>501</errorCode></UPnPError></detail></s:Fault></s:Body></s:Envelope>";
    let responder = Responder::start(vec![http("200 OK", &desc), http("200 OK", &status("Connected")), http("500 Internal Server Error", fault)]);
    let device = validate_device_at(&responder.url("/desc.xml"), &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::ConnectedPrivate, "{}", device.detail);
    assert_eq!(device.external_ip, None);
    assert_eq!(device.gateway.expect("gateway").control_url, responder.url("/a"));
    assert!(device.detail.contains("501"), "{}", device.detail);
}

#[test]
fn a_control_url_on_another_host_is_never_called() {
    let desc = description(&[("WANIPConnection:1", "http://127.0.0.2:9/ctl"), ("WANIPConnection:2", "https://127.0.0.1/ctl")]);
    let responder = Responder::start(vec![http("200 OK", &desc), http("200 OK", &status("Connected"))]);
    let device = validate_device_at(&responder.url("/desc.xml"), &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::NotConnected, "{}", device.detail);
    assert!(device.gateway.is_none());
    assert!(device.detail.contains("not on the description's host"), "{}", device.detail);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(responder.recorded().len(), 1, "only the description may be fetched");
}

#[test]
fn empty_and_non_200_descriptions() {
    let responder = Responder::start(vec![http("200 OK", "  \r\n"), http("404 Not Found", "<html/>")]);
    let device = validate_device_at(&responder.url("/desc.xml"), &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::EmptyAnswer);
    let device = validate_device_at(&responder.url("/desc.xml"), &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::HttpError);
    assert!(device.detail.contains("404"), "{}", device.detail);
    let device = validate_device_at("ftp://127.0.0.1/desc.xml", &LIMITS, &CancelToken::new());
    assert_eq!(device.status, DeviceStatus::HttpError);
    assert!(device.detail.contains("invalid URL"), "{}", device.detail);
}
