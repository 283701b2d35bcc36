//! The WAN connection service actions: argument checking and dispatch to the mapping table.

use std::net::IpAddr;
use std::time::Instant;

use crate::config::RouterConfig;
use crate::description::igd_version;
use crate::soap::{build_response, SoapCall};
use crate::table::{AddRequest, Mapping, MappingTable, TableRules, UpnpError};

/// The LAN host that holds [`RouterConfig::taken_ports`].
pub const OTHER_HOST: &str = "192.168.1.99";

/// The live state of one simulated router.
#[derive(Debug)]
pub struct RouterState {
    /// Its configuration.
    pub config: RouterConfig,
    /// Its mapping table.
    pub table: MappingTable,
    /// When it started (for `NewUptime`).
    pub started: Instant,
}

impl RouterState {
    /// A fresh router with an empty table.
    pub fn new(config: RouterConfig) -> Self {
        let mut table = MappingTable::new();
        for port in &config.taken_ports {
            table.preload_other_host(*port, OTHER_HOST);
        }
        RouterState {
            config,
            table,
            started: Instant::now(),
        }
    }

    fn rules(&self) -> TableRules {
        TableRules {
            igd_version: igd_version(&self.config),
            secure_mode: self.config.secure_mode,
            permanent_lease_only: self.config.permanent_lease_only,
            finite_lease_error: self.config.finite_lease_error,
            conflict_error: self.config.conflict_error,
            every_port_taken: self.config.every_port_taken,
            delete_missing_ok: self.config.delete_missing_ok,
        }
    }
}

fn required<'a>(call: &'a SoapCall, name: &str) -> Result<&'a str, UpnpError> {
    call.arg(name).ok_or_else(|| UpnpError::new(402))
}

fn port_arg(call: &SoapCall, name: &str) -> Result<u16, UpnpError> {
    required(call, name)?
        .trim()
        .parse::<u16>()
        .map_err(|_| UpnpError::new(402))
}

fn u32_arg(call: &SoapCall, name: &str) -> Result<u32, UpnpError> {
    required(call, name)?
        .trim()
        .parse::<u32>()
        .map_err(|_| UpnpError::new(402))
}

/// `NewProtocol`: exactly "TCP"/"UDP" in strict mode, any case otherwise; else 402.
fn protocol_arg(call: &SoapCall, strict: bool) -> Result<String, UpnpError> {
    let raw = required(call, "NewProtocol")?;
    let ok = if strict {
        raw == "TCP" || raw == "UDP"
    } else {
        raw.eq_ignore_ascii_case("TCP") || raw.eq_ignore_ascii_case("UDP")
    };
    if ok {
        Ok(raw.to_ascii_uppercase())
    } else {
        Err(UpnpError::new(402))
    }
}

/// The eight AddPortMapping arguments; every one must be present (402 otherwise), ports and
/// lease must be numbers, NewEnabled 0/1, NewInternalPort not 0.
fn add_request(call: &SoapCall, strict_protocol: bool) -> Result<AddRequest, UpnpError> {
    let remote_host = required(call, "NewRemoteHost")?.to_string();
    let external_port = port_arg(call, "NewExternalPort")?;
    let protocol = protocol_arg(call, strict_protocol)?;
    let internal_port = port_arg(call, "NewInternalPort")?;
    let internal_client = required(call, "NewInternalClient")?.trim().to_string();
    let enabled = match required(call, "NewEnabled")?.trim() {
        "1" | "true" | "yes" => true,
        "0" | "false" | "no" => false,
        _ => return Err(UpnpError::new(402)),
    };
    let description = required(call, "NewPortMappingDescription")?.to_string();
    let lease_duration = u32_arg(call, "NewLeaseDuration")?;
    if internal_port == 0 || internal_client.is_empty() {
        return Err(UpnpError::new(402));
    }
    Ok(AddRequest {
        remote_host,
        external_port,
        protocol,
        internal_port,
        internal_client,
        enabled,
        description,
        lease_duration,
    })
}

fn entry_outputs(m: &Mapping, now: Instant, with_key: bool) -> Vec<(&'static str, String)> {
    let mut out = Vec::with_capacity(8);
    if with_key {
        out.push(("NewRemoteHost", m.remote_host.clone()));
        out.push(("NewExternalPort", m.external_port.to_string()));
        out.push(("NewProtocol", m.protocol.clone()));
    }
    out.push(("NewInternalPort", m.internal_port.to_string()));
    out.push(("NewInternalClient", m.internal_client.clone()));
    out.push(("NewEnabled", if m.enabled { "1" } else { "0" }.to_string()));
    out.push(("NewPortMappingDescription", m.description.clone()));
    out.push(("NewLeaseDuration", m.remaining_lease(now).to_string()));
    out
}

/// Executes `action` (the name from the SOAPAction header, or the body's action element) and
/// returns the success body (answered with `service_type` as the response namespace) or the
/// UPnP error. Unknown actions (and AddAnyPortMapping on IGD:1) give 401.
pub fn handle_action(
    state: &mut RouterState,
    action: &str,
    call: &SoapCall,
    service_type: &str,
    requester: IpAddr,
    now: Instant,
) -> Result<String, UpnpError> {
    let rules = state.rules();
    let strict = state.config.strict_protocol_case;
    let outputs: Vec<(&str, String)> = match action {
        "GetStatusInfo" => vec![
            (
                "NewConnectionStatus",
                if state.config.connected {
                    "Connected"
                } else {
                    "Disconnected"
                }
                .to_string(),
            ),
            ("NewLastConnectionError", "ERROR_NONE".to_string()),
            (
                "NewUptime",
                now.saturating_duration_since(state.started)
                    .as_secs()
                    .to_string(),
            ),
        ],
        "GetExternalIPAddress" => vec![("NewExternalIPAddress", state.config.external_ip.clone())],
        "GetConnectionTypeInfo" => vec![
            ("NewConnectionType", "IP_Routed".to_string()),
            ("NewPossibleConnectionTypes", "IP_Routed".to_string()),
        ],
        "AddPortMapping" => {
            let req = add_request(call, strict)?;
            state.table.add(&req, requester, &rules, now)?;
            vec![]
        }
        "AddAnyPortMapping" if rules.igd_version >= 2 => {
            let req = add_request(call, strict)?;
            let port = state.table.add_any(&req, requester, &rules, now)?;
            vec![("NewReservedPort", port.to_string())]
        }
        "DeletePortMapping" => {
            required(call, "NewRemoteHost")?;
            let port = port_arg(call, "NewExternalPort")?;
            let protocol = protocol_arg(call, strict)?;
            state
                .table
                .delete(port, &protocol, requester, &rules, now)?;
            vec![]
        }
        "GetSpecificPortMappingEntry" => {
            required(call, "NewRemoteHost")?;
            let port = port_arg(call, "NewExternalPort")?;
            let protocol = protocol_arg(call, strict)?;
            let m = state.table.get_specific(port, &protocol, now)?;
            entry_outputs(&m, now, false)
        }
        "GetGenericPortMappingEntry" => {
            let index = u32_arg(call, "NewPortMappingIndex")?;
            let m = state.table.get_generic(index as usize, now)?;
            entry_outputs(&m, now, true)
        }
        _ => return Err(UpnpError::new(401)),
    };
    Ok(build_response(service_type, action, &outputs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::parse_call;

    const ST: &str = "urn:schemas-upnp-org:service:WANIPConnection:2";

    fn call(action: &str, args: &[(&str, &str)]) -> SoapCall {
        SoapCall {
            action: action.into(),
            args: args
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    fn add_args(port: &str, proto: &str, client: &str, lease: &str) -> Vec<(&'static str, String)> {
        vec![
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", port.into()),
            ("NewProtocol", proto.into()),
            ("NewInternalPort", "7777".into()),
            ("NewInternalClient", client.into()),
            ("NewEnabled", "1".into()),
            ("NewPortMappingDescription", "a & b".into()),
            ("NewLeaseDuration", lease.into()),
        ]
    }

    fn run(
        state: &mut RouterState,
        action: &str,
        args: &[(&str, String)],
    ) -> Result<String, UpnpError> {
        let c = SoapCall {
            action: action.into(),
            args: args
                .iter()
                .map(|(a, b)| (a.to_string(), b.clone()))
                .collect(),
        };
        handle_action(
            state,
            action,
            &c,
            ST,
            "127.0.0.1".parse().unwrap(),
            Instant::now(),
        )
    }

    #[test]
    fn status_ip_and_type() {
        let mut s = RouterState::new(RouterConfig::default());
        let body = run(&mut s, "GetStatusInfo", &[]).unwrap();
        assert!(body.contains("<NewConnectionStatus>Connected</NewConnectionStatus>"));
        s.config.connected = false;
        let body = run(&mut s, "GetStatusInfo", &[]).unwrap();
        assert!(body.contains("<NewConnectionStatus>Disconnected</NewConnectionStatus>"));
        let body = run(&mut s, "GetExternalIPAddress", &[]).unwrap();
        assert!(body.contains("<NewExternalIPAddress>1.2.3.4</NewExternalIPAddress>"));
        assert!(run(&mut s, "GetConnectionTypeInfo", &[])
            .unwrap()
            .contains("IP_Routed"));
        assert_eq!(run(&mut s, "NoSuchAction", &[]).unwrap_err().code, 401);
    }

    #[test]
    fn add_get_delete_roundtrip_with_escaping() {
        let mut s = RouterState::new(RouterConfig::default());
        run(
            &mut s,
            "AddPortMapping",
            &add_args("7777", "TCP", "127.0.0.1", "3600"),
        )
        .unwrap();
        let body = run(
            &mut s,
            "GetSpecificPortMappingEntry",
            &[
                ("NewRemoteHost", String::new()),
                ("NewExternalPort", "7777".into()),
                ("NewProtocol", "TCP".into()),
            ],
        )
        .unwrap();
        assert!(body.contains("<NewPortMappingDescription>a &amp; b</NewPortMappingDescription>"));
        let parsed = parse_call(&body).unwrap();
        assert_eq!(parsed.arg("NewPortMappingDescription"), Some("a & b"));
        let lease: u32 = parsed.arg("NewLeaseDuration").unwrap().parse().unwrap();
        assert!(lease > 3500 && lease <= 3600, "{lease}");
        let body = run(
            &mut s,
            "GetGenericPortMappingEntry",
            &[("NewPortMappingIndex", "0".into())],
        )
        .unwrap();
        assert!(body.contains("<NewExternalPort>7777</NewExternalPort>"));
        assert_eq!(
            run(
                &mut s,
                "GetGenericPortMappingEntry",
                &[("NewPortMappingIndex", "1".into())]
            )
            .unwrap_err()
            .code,
            713
        );
        let del = [
            ("NewRemoteHost", String::new()),
            ("NewExternalPort", "7777".into()),
            ("NewProtocol", "TCP".into()),
        ];
        run(&mut s, "DeletePortMapping", &del).unwrap();
        assert_eq!(
            run(&mut s, "DeletePortMapping", &del).unwrap_err().code,
            714
        );
    }

    #[test]
    fn argument_errors() {
        let mut s = RouterState::new(RouterConfig::default());
        let c = call("AddPortMapping", &[("NewExternalPort", "7793")]);
        let now = Instant::now();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            handle_action(&mut s, "AddPortMapping", &c, ST, lo, now)
                .unwrap_err()
                .code,
            402
        );
        assert_eq!(
            run(
                &mut s,
                "AddPortMapping",
                &add_args("x", "TCP", "127.0.0.1", "0")
            )
            .unwrap_err()
            .code,
            402
        );
        assert_eq!(
            run(
                &mut s,
                "AddPortMapping",
                &add_args("1", "ICMP", "127.0.0.1", "0")
            )
            .unwrap_err()
            .code,
            402
        );
        assert_eq!(
            run(
                &mut s,
                "AddPortMapping",
                &add_args("0", "TCP", "127.0.0.1", "0")
            )
            .unwrap_err()
            .code,
            716
        );
        // Lenient: lowercase accepted and stored upper-case.
        run(
            &mut s,
            "AddPortMapping",
            &add_args("5000", "tcp", "127.0.0.1", "0"),
        )
        .unwrap();
        assert_eq!(s.table.entries(now)[0].protocol, "TCP");
        s.config.strict_protocol_case = true;
        assert_eq!(
            run(
                &mut s,
                "AddPortMapping",
                &add_args("5001", "tcp", "127.0.0.1", "0")
            )
            .unwrap_err()
            .code,
            402
        );
        assert_eq!(
            run(
                &mut s,
                "AddPortMapping",
                &add_args("5001", "Udp", "127.0.0.1", "0")
            )
            .unwrap_err()
            .code,
            402
        );
        run(
            &mut s,
            "AddPortMapping",
            &add_args("5001", "UDP", "127.0.0.1", "0"),
        )
        .unwrap();
        assert_eq!(
            run(
                &mut s,
                "AddPortMapping",
                &add_args("5002", "TCP", "10.1.1.1", "0")
            )
            .unwrap_err()
            .code,
            718
        );
    }

    #[test]
    fn add_any_only_on_v2() {
        let mut s = RouterState::new(RouterConfig::default());
        let body = run(
            &mut s,
            "AddAnyPortMapping",
            &add_args("7777", "TCP", "127.0.0.1", "0"),
        )
        .unwrap();
        assert!(body.contains("<NewReservedPort>7777</NewReservedPort>"));
        s.config.igd_version = 1;
        assert_eq!(
            run(
                &mut s,
                "AddAnyPortMapping",
                &add_args("7777", "TCP", "127.0.0.1", "0")
            )
            .unwrap_err()
            .code,
            401
        );
    }
}
