//! Validation of one discovered device on its own: fetch its description, find its connection
//! services, ask each for its status and WAN address, and classify the device.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{DeviceStatus, DiscoveredDevice, Gateway, HttpLimits};
use crate::cancel::CancelToken;
use crate::proto::address::is_reserved;
use crate::proto::description::{parse_description, Description, Service};
use crate::proto::url::{resolve_control_url, HttpUrl};
use crate::transport::{http, resolver, route};

/// Most connection services probed per device (miniupnpc probes a first and a second).
const MAX_SERVICES_PROBED: usize = 2;

/// What SSDP said about a device.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// LOCATION.
    pub location: String,
    /// ST.
    pub st: String,
    /// USN.
    pub usn: String,
}

/// Validates the device whose description is at `description_url`, without SSDP: fetch the
/// description, probe its connection services and classify it, as discovery does for each
/// device it keeps. Bounded by `limits` per HTTP exchange (at most five exchanges).
pub fn validate_device_at(description_url: &str, limits: &HttpLimits, cancel: &CancelToken) -> DiscoveredDevice {
    let answer = Answer { location: description_url.trim().to_string(), st: String::new(), usn: String::new() };
    validate_device(&answer, limits, cancel, &AtomicBool::new(false))
}

/// Validates one device. Uses only this device's own description and services. Every
/// exchange ends at once when `cancel` is cancelled. `probing` is set once the description
/// is in and names connection services (the SOAP probes start): a caller that stops waiting
/// before the end reports the device by it (see `discovery::unfinished`).
pub(crate) fn validate_device(answer: &Answer, limits: &HttpLimits, cancel: &CancelToken, probing: &AtomicBool) -> DiscoveredDevice {
    let mut device = DiscoveredDevice {
        description_url: answer.location.clone(),
        service_type: answer.st.clone(),
        usn: answer.usn.clone(),
        status: DeviceStatus::HttpError,
        gateway: None,
        external_ip: None,
        friendly_name: None,
        detail: String::new(),
    };
    let response = match http::get(&answer.location, limits, cancel) {
        Ok(response) => response,
        Err(error) => {
            device.detail = format!("description fetch failed: {error}");
            return device;
        }
    };
    if response.status != 200 {
        device.detail = format!("description answered HTTP status {}", response.status);
        return device;
    }
    let text = response.into_text();
    if text.trim().is_empty() {
        device.status = DeviceStatus::EmptyAnswer;
        device.detail = "description answer was empty".into();
        return device;
    }
    let description = parse_description(&text);
    device.friendly_name = description.friendly_name.clone();
    let services: Vec<&Service> = description.connection_services().take(MAX_SERVICES_PROBED).collect();
    if services.is_empty() {
        device.status = DeviceStatus::NotIgd;
        device.detail = match &description.error {
            Some(error) => format!("no WANIPConnection/WANPPPConnection service (description XML is malformed: {error})"),
            None => "no WANIPConnection/WANPPPConnection service".into(),
        };
        return device;
    }
    probing.store(true, Ordering::SeqCst);
    probe_services(&mut device, &description, &services, limits, cancel);
    device
}

/// Whether two URL hosts name the same host: equal IP addresses, or equal names ignoring case.
fn same_host(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// The best of the connection services: ConnectedPublic > ConnectedPrivate > NotConnected.
fn probe_services(
    device: &mut DiscoveredDevice,
    description: &Description,
    services: &[&Service],
    limits: &HttpLimits,
    cancel: &CancelToken,
) {
    let location_host = HttpUrl::parse(&device.description_url).ok().map(|u| u.host);
    let mut notes: Vec<String> = Vec::new();
    let mut private: Option<(Gateway, Option<String>)> = None;
    for service in services {
        if cancel.is_cancelled() {
            notes.push("cancelled".into());
            break;
        }
        let gateway = match gateway_for(service, description, &device.description_url, location_host.as_deref(), limits) {
            Ok(gateway) => gateway,
            Err(note) => {
                notes.push(note);
                continue;
            }
        };
        let status = match gateway.with_cancel(cancel).get_status_info() {
            Ok(status) => status,
            Err(error) => {
                notes.push(format!("{}: GetStatusInfo failed: {error}", service.service_type));
                continue;
            }
        };
        if !status.is_connected() {
            notes.push(format!("{}: connection status {:?}", service.service_type, status.connection_status));
            continue;
        }
        match gateway.with_cancel(cancel).get_external_ip() {
            Ok(ip) if !is_reserved(&ip) => {
                device.status = DeviceStatus::ConnectedPublic;
                device.external_ip = Some(ip);
                device.gateway = Some(gateway);
                device.detail = notes.join("; ");
                return;
            }
            Ok(ip) => {
                notes.push(format!("{}: WAN address {ip:?} is not public", service.service_type));
                private.get_or_insert((gateway, Some(ip)));
            }
            Err(error) => {
                notes.push(format!("{}: GetExternalIPAddress failed: {error}", service.service_type));
                private.get_or_insert((gateway, None));
            }
        }
    }
    match private {
        Some((gateway, ip)) => {
            device.status = DeviceStatus::ConnectedPrivate;
            device.gateway = Some(gateway);
            device.external_ip = ip;
        }
        None => device.status = DeviceStatus::NotConnected,
    }
    device.detail = notes.join("; ");
}

/// The gateway of one service: its absolute control URL, which must stay on the host that
/// served the description (a LAN device must not aim us at another host), and our local
/// address towards it.
fn gateway_for(
    service: &Service,
    description: &Description,
    description_url: &str,
    location_host: Option<&str>,
    limits: &HttpLimits,
) -> Result<Gateway, String> {
    let control_url = resolve_control_url(&service.control_url, description.url_base.as_deref(), description_url)
        .map_err(|e| format!("{}: bad control URL: {e}", service.service_type))?;
    let mut parsed = HttpUrl::parse(&control_url).map_err(|e| format!("{}: bad control URL: {e}", service.service_type))?;
    if !location_host.is_some_and(|host| same_host(host, &parsed.host)) {
        return Err(format!("{}: control URL {control_url} is not on the description's host", service.service_type));
    }
    // A link-local host is reachable only in its zone: an absolute control URL without one
    // gets the description URL's.
    let mut control_url = control_url;
    if parsed.zone.is_none() {
        if let Some(zone) = HttpUrl::parse(description_url).ok().and_then(|d| d.zone) {
            parsed.zone = Some(zone);
            control_url = format!("http://{}{}", parsed.authority(), parsed.path);
        }
    }
    let scope = parsed.zone.as_deref().and_then(resolver::scope_id).unwrap_or(0);
    let local_addr = parsed
        .host_ip()
        .and_then(|ip| route::local_addr_towards_scoped(ip, parsed.port, scope))
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    Ok(Gateway { control_url, service_type: service.service_type.clone(), local_addr, limits: *limits })
}
