//! Running a parsed command: pick the gateway, call the core, print `key value...` lines.

use std::io::{BufRead, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use gdnat_igd::client::{validate_device_at, HttpLimits};
use gdnat_igd::result_code::IgdStatus;
use gdnat_igd::{
    discover, CancelToken, DeviceStatus, DiscoverOptions, DiscoveredDevice, Gateway, PortMappingEntry, PortMappingRequest,
    Protocol, UpnpResult,
};

use crate::args::{Command, DiscoverArgs, MappingArgs, TargetArgs, USAGE};

/// Most rows `list` reads, so a router that never answers 713 cannot keep it going.
const MAX_LIST_ROWS: u32 = 4096;
/// How long `cycle` waits for `unmap` on stdin.
const CYCLE_WAIT: Duration = Duration::from_secs(30);

/// A failed command: the message (the Display of the typed error) and its `UPNPResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandError {
    /// What went wrong.
    pub message: String,
    /// The engine's result code for it.
    pub result: UpnpResult,
}

impl CommandError {
    pub(crate) fn new(message: impl std::fmt::Display, result: UpnpResult) -> Self {
        Self { message: message.to_string(), result }
    }
}

/// Turns an operation error (any of the per-operation enums) into a [`CommandError`].
macro_rules! op_error {
    ($error:expr) => {{
        let error = $error;
        CommandError::new(&error, error.upnp_result())
    }};
}

/// Runs `command`, printing its output lines to `out`.
pub fn run(command: &Command, out: &mut dyn Write) -> Result<(), CommandError> {
    match command {
        Command::Help => {
            line(out, USAGE);
            Ok(())
        }
        Command::Discover(args) => run_discover(args, out),
        Command::ExternalIp(target) => {
            let gateway = select_gateway(target)?;
            let ip = gateway.get_external_ip().map_err(|e| op_error!(e))?;
            line(out, &format!("external_ip {}", dash(&ip)));
            Ok(())
        }
        Command::Add { target, mapping, any } => {
            let gateway = select_gateway(target)?;
            add(&gateway, mapping, *any, out)
        }
        Command::Delete { target, external_port, protocol } => {
            let gateway = select_gateway(target)?;
            gateway.delete_port_mapping(*external_port, *protocol).map_err(|e| op_error!(e))?;
            line(out, &format!("deleted {external_port} {}", protocol.as_str()));
            Ok(())
        }
        Command::Show { target, external_port, protocol } => {
            let gateway = select_gateway(target)?;
            let entry = gateway.get_specific_port_mapping_entry(*external_port, *protocol).map_err(|e| op_error!(e))?;
            line(out, &mapping_line(&entry));
            Ok(())
        }
        Command::List(target) => {
            let gateway = select_gateway(target)?;
            list(&gateway, out)
        }
        Command::Status(target) => {
            let gateway = select_gateway(target)?;
            let status = gateway.get_status_info().map_err(|e| op_error!(e))?;
            let uptime = status.uptime_seconds.map(|u| u.to_string()).unwrap_or_else(|| "-".into());
            line(out, &format!("status {} uptime={uptime} last_error={}", dash(&status.connection_status), dash(&status.last_connection_error)));
            Ok(())
        }
        Command::Cycle { target, mapping } => cycle(target, mapping, out),
        Command::Probe(args) => crate::portmap::run_probe(args, out),
        Command::Map(args) => crate::portmap::run_map(args, out),
    }
}

fn line(out: &mut dyn Write, text: &str) {
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The value made safe for a terminal ([`printable`]), or `-` when it is empty.
fn dash(value: &str) -> String {
    let single = printable(value);
    if single.is_empty() {
        "-".into()
    } else {
        single
    }
}

/// Router text made safe to print on one line of a terminal: whitespace runs (newlines and
/// CRs included) become one space, and control characters (C0, DEL, C1) and the Unicode
/// bidirectional controls are written as `\u{..}` escapes, as Rust's `{:?}` writes them (so an
/// error message that already escaped its router text reads the same). A router cannot move
/// the cursor, clear the screen, ring the bell or reorder what is shown.
pub fn printable(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            match c {
                c if c.is_control() || is_bidi_control(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                c => out.push(c),
            }
        }
    }
    out
}

/// The Unicode bidirectional formatting characters (embeddings, overrides, isolates, marks).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{61c}')
}

fn discover_options(args: &DiscoverArgs) -> DiscoverOptions {
    DiscoverOptions {
        timeout: Duration::from_millis(args.timeout_ms),
        ttl: args.ttl,
        multicast_if: args.multicast_if.clone(),
        local_port: args.local_port,
        ipv6: args.ipv6,
        device_filter: args.filter.clone(),
        search_default_gateway: args.gateway_search,
        ..DiscoverOptions::default()
    }
}

fn status_name(status: DeviceStatus) -> &'static str {
    match status {
        DeviceStatus::ConnectedPublic => "ConnectedPublic",
        DeviceStatus::ConnectedPrivate => "ConnectedPrivate",
        DeviceStatus::NotConnected => "NotConnected",
        DeviceStatus::NotIgd => "NotIgd",
        DeviceStatus::HttpError => "HttpError",
        DeviceStatus::EmptyAnswer => "EmptyAnswer",
    }
}

/// `device <index> status=... igd_status=... location=... st=... control_url=... service_type=...
/// local_addr=... external_ip=... double_nat=...`.
pub fn device_line(index: usize, device: &DiscoveredDevice) -> String {
    let gateway = device.gateway.as_ref();
    format!(
        "device {index} status={} igd_status={} location={} st={} control_url={} service_type={} local_addr={} external_ip={} double_nat={}",
        status_name(device.status),
        IgdStatus::from_device_status(device.status).code(),
        dash(&device.description_url),
        dash(&device.service_type),
        dash(gateway.map(|g| g.control_url.as_str()).unwrap_or_default()),
        dash(gateway.map(|g| g.service_type.as_str()).unwrap_or_default()),
        dash(gateway.map(|g| g.local_addr.as_str()).unwrap_or_default()),
        dash(device.external_ip.as_deref().unwrap_or_default()),
        device.status == DeviceStatus::ConnectedPrivate,
    )
}

/// `mapping <ext_port> <proto> -> <client>:<internal_port> enabled=<0|1> lease=<s> desc=<text>`.
pub fn mapping_line(entry: &PortMappingEntry) -> String {
    format!(
        "mapping {} {} -> {}:{} enabled={} lease={} desc={}",
        entry.external_port,
        dash(&entry.protocol),
        dash(&entry.internal_client),
        entry.internal_port,
        u8::from(entry.enabled),
        entry.lease_seconds,
        dash(&entry.description),
    )
}

fn run_discover(args: &DiscoverArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let start = Instant::now();
    let devices = discover(&discover_options(args), &CancelToken::new(), &mut |_| {})
        .map_err(|e| CommandError::new(&e, UpnpResult::from_discover_error(&e)))?;
    let millis = start.elapsed().as_millis();
    for (index, device) in devices.iter().enumerate() {
        line(out, &device_line(index, device));
    }
    line(out, &format!("discovered {} in {millis} ms", devices.len()));
    Ok(())
}

/// The gateway of `--url`, or of the first connected device discovery finds.
fn select_gateway(target: &TargetArgs) -> Result<Gateway, CommandError> {
    if let Some(url) = &target.url {
        let device = validate_device_at(url, &HttpLimits::default(), &CancelToken::new());
        return device.gateway.ok_or_else(|| {
            CommandError::new(
                format!("no connected gateway at {url}: {} ({})", status_name(device.status), dash(&device.detail)),
                UpnpResult::NoGateway,
            )
        });
    }
    let devices = discover(&discover_options(&target.discover), &CancelToken::new(), &mut |_| {})
        .map_err(|e| CommandError::new(&e, UpnpResult::from_discover_error(&e)))?;
    let count = devices.len();
    devices
        .into_iter()
        .find_map(|d| d.gateway.filter(|_| d.status.is_connected()))
        .ok_or_else(|| CommandError::new(format!("no connected gateway among {count} discovered device(s)"), UpnpResult::NoGateway))
}

fn mapping_request(gateway: &Gateway, mapping: &MappingArgs) -> PortMappingRequest {
    PortMappingRequest {
        remote_host: String::new(),
        external_port: mapping.external_port,
        protocol: mapping.protocol,
        internal_port: mapping.internal_port.unwrap_or(mapping.external_port),
        internal_client: mapping.client.clone().unwrap_or_else(|| gateway.local_addr.clone()),
        description: mapping.description.clone(),
        lease_seconds: mapping.lease_seconds,
    }
}

fn add(gateway: &Gateway, mapping: &MappingArgs, any: bool, out: &mut dyn Write) -> Result<(), CommandError> {
    let request = mapping_request(gateway, mapping);
    let port = if any {
        gateway.add_any_port_mapping(&request).map_err(|e| op_error!(e))?
    } else {
        gateway.add_port_mapping(&request).map_err(|e| op_error!(e))?;
        request.external_port
    };
    line(
        out,
        &format!(
            "added {port} {} -> {}:{} lease {}",
            request.protocol.as_str(),
            dash(&request.internal_client),
            request.internal_port,
            request.lease_seconds
        ),
    );
    Ok(())
}

fn list(gateway: &Gateway, out: &mut dyn Write) -> Result<(), CommandError> {
    let mut count = 0;
    for index in 0..MAX_LIST_ROWS {
        match gateway.get_generic_port_mapping_entry(index) {
            Ok(entry) => {
                line(out, &mapping_line(&entry));
                count += 1;
            }
            Err(error) if error.fault().is_some_and(|f| matches!(f.code.code(), 713 | 714)) => break,
            Err(error) => return Err(op_error!(error)),
        }
    }
    line(out, &format!("mappings {count}"));
    Ok(())
}

/// The demo: discover, external IP, add, show, wait for `unmap` or 30 s, delete.
fn cycle(target: &TargetArgs, mapping: &MappingArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let gateway = select_gateway(target)?;
    line(out, &format!("gateway {} {} local_addr={}", dash(&gateway.control_url), dash(&gateway.service_type), dash(&gateway.local_addr)));
    let ip = gateway.get_external_ip().map_err(|e| op_error!(e))?;
    line(out, &format!("external_ip {}", dash(&ip)));
    add(&gateway, mapping, false, out)?;
    let entry = gateway
        .get_specific_port_mapping_entry(mapping.external_port, mapping.protocol)
        .map_err(|e| op_error!(e))?;
    line(out, &mapping_line(&entry));
    line(out, &format!("waiting for 'unmap' on stdin (at most {} s)", CYCLE_WAIT.as_secs()));
    let reason = wait_for_unmap(CYCLE_WAIT);
    line(out, &format!("unmapping ({reason})"));
    delete(&gateway, mapping.external_port, mapping.protocol, out)
}

fn delete(gateway: &Gateway, port: u16, protocol: Protocol, out: &mut dyn Write) -> Result<(), CommandError> {
    gateway.delete_port_mapping(port, protocol).map_err(|e| op_error!(e))?;
    line(out, &format!("deleted {port} {}", protocol.as_str()));
    Ok(())
}

/// Waits for a line `unmap` on stdin or for `limit` (the end of stdin does not end the wait);
/// says which.
fn wait_for_unmap(limit: Duration) -> &'static str {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let stdin = std::io::stdin();
        for read in stdin.lock().lines() {
            match read {
                Ok(text) if text.trim() == "unmap" => {
                    let _ = tx.send("unmap");
                    return;
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    let start = Instant::now();
    match rx.recv_timeout(limit) {
        Ok(reason) => reason,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            thread::sleep(limit.saturating_sub(start.elapsed()));
            "timeout"
        }
        Err(mpsc::RecvTimeoutError::Timeout) => "timeout",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_line_has_every_field() {
        let device = DiscoveredDevice {
            description_url: "http://10.77.0.1:5000/rootDesc.xml".into(),
            service_type: "urn:schemas-upnp-org:device:InternetGatewayDevice:1".into(),
            usn: String::new(),
            status: DeviceStatus::ConnectedPrivate,
            gateway: Some(Gateway::new("http://10.77.0.1:5000/ctl/IPConn", "urn:schemas-upnp-org:service:WANIPConnection:2", "10.77.0.2")),
            external_ip: Some(String::new()),
            friendly_name: None,
            detail: String::new(),
        };
        assert_eq!(
            device_line(0, &device),
            "device 0 status=ConnectedPrivate igd_status=0 location=http://10.77.0.1:5000/rootDesc.xml st=urn:schemas-upnp-org:device:InternetGatewayDevice:1 control_url=http://10.77.0.1:5000/ctl/IPConn service_type=urn:schemas-upnp-org:service:WANIPConnection:2 local_addr=10.77.0.2 external_ip=- double_nat=true"
        );
        let printer = DiscoveredDevice { status: DeviceStatus::NotIgd, gateway: None, external_ip: None, ..device };
        assert!(device_line(3, &printer).ends_with("status=NotIgd igd_status=4 location=http://10.77.0.1:5000/rootDesc.xml st=urn:schemas-upnp-org:device:InternetGatewayDevice:1 control_url=- service_type=- local_addr=- external_ip=- double_nat=false"));
    }

    #[test]
    fn mapping_line_format() {
        let entry = PortMappingEntry {
            remote_host: String::new(),
            external_port: 7777,
            protocol: "TCP".into(),
            internal_port: 7778,
            internal_client: "10.77.0.2".into(),
            enabled: true,
            description: "my\ngame  server".into(),
            lease_seconds: 3599,
        };
        assert_eq!(mapping_line(&entry), "mapping 7777 TCP -> 10.77.0.2:7778 enabled=1 lease=3599 desc=my game server");
    }

    /// Untrusted text from the router: control characters never reach the terminal.
    #[test]
    fn router_strings_are_escaped() {
        let entry = PortMappingEntry {
            remote_host: String::new(),
            external_port: 7777,
            protocol: "TCP\u{1b}[2J".into(),
            internal_port: 7778,
            internal_client: "10.77.0.2".into(),
            enabled: true,
            description: "\u{1b}[31mred\u{7}\u{8} \\ \u{7f}\u{9b}0m \u{202e}txt.exe\r\nnext".into(),
            lease_seconds: 0,
        };
        assert_eq!(
            mapping_line(&entry),
            "mapping 7777 TCP\\u{1b}[2J -> 10.77.0.2:7778 enabled=1 lease=0 desc=\\u{1b}[31mred\\u{7}\\u{8} \\ \\u{7f}\\u{9b}0m \\u{202e}txt.exe next"
        );
        assert_eq!(printable("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(dash("\u{0}"), "\\u{0}");
    }
}
