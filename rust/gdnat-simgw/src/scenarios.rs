//! Named scenarios: ready-made configurations, each named after the quirk it reproduces.
//!
//! Every scenario binds 127.0.0.1 with an ephemeral SSDP port; change `bind`, `ssdp_port`,
//! `multicast_if` or a device's `http_port` on the returned [`SimConfig`] as needed.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::config::{
    ConnectionKind, DeviceConfig, FaultKind, FaultTarget, RouterConfig, SimConfig, UrlStyle,
};

/// The names accepted by [`scenario`], in a stable order.
pub fn scenario_names() -> &'static [&'static str] {
    &[
        "igd2-public",
        "igd1-public",
        "igd2-double-nat",
        "not-connected",
        "ppp-only",
        "printer-and-router",
        "desc-http-500-empty",
        "desc-empty",
        "desc-malformed-xml",
        "desc-truncated",
        "desc-oversized",
        "desc-hang",
        "soap-http-500-empty",
        "soap-empty",
        "soap-malformed-xml",
        "soap-truncated",
        "soap-oversized",
        "soap-hang",
        "desc-trickle",
        "soap-trickle",
        "slow-ssdp",
        "slow-http",
        "slow-http-near-bound",
        "location-other-host",
        "odd-source-port",
        "permanent-lease-only",
        "lowercase-protocol-rejected",
        "upnp-error",
        "wanip-v1-relative-url-with-urlbase",
        "namespace-prefixed-description",
        "external-ip-not-an-address",
        "external-ip-zero",
        "external-ip-loopback",
        "external-ip-global-ipv6",
        "router-text-with-controls",
        "arris-nvg578lx-finite-lease-402",
        "mikrotik-permanent-only-no-external-ip",
        "miniupnpd-igd2-port-taken-718",
        "igd1-port-taken-718",
        "igd1-port-taken-501",
        "igd1-port-taken-729",
        "igd1-every-port-taken-718",
    ]
}

/// Host used by `location-other-host`: another loopback address (reachable on any Linux lo).
pub const OTHER_LOOPBACK_HOST: &str = "127.0.0.2";

/// `NewExternalIPAddress` of `external-ip-not-an-address`: no address, with a terminal escape
/// sequence and a bell in it (untrusted text).
pub const EXTERNAL_IP_NOT_AN_ADDRESS: &str = "\u{1b}[2J\u{1b}[31mpwned\u{7}";

/// `NewExternalIPAddress` of `external-ip-global-ipv6`: a global unicast IPv6 address (only a
/// string in SOAP; nothing is ever sent to it).
pub const EXTERNAL_IP_GLOBAL_IPV6: &str = "2600::1";

/// Control characters in every string the `router-text-with-controls` router writes: ESC
/// sequences that clear the screen and recolour it, a bell, a backspace, a CR, DEL and a C1 CSI.
pub const CONTROL_TEXT: &str = "\u{1b}[2J\u{1b}[31mred\u{7}\u{8}\rback\u{7f}\u{9b}0m";

/// Delay of the `slow-ssdp` scenario.
pub const SLOW_SSDP_DELAY: Duration = Duration::from_millis(300);

/// Delay before every HTTP answer (description and SOAP) of the `slow-http` scenario.
pub const SLOW_HTTP_DELAY: Duration = Duration::from_millis(300);

/// Interval between two bytes of the `desc-trickle` and `soap-trickle` answers: one byte per
/// second, so an answer of a few hundred bytes never completes within any client bound.
pub const TRICKLE_INTERVAL: Duration = Duration::from_secs(1);

/// Delay before every HTTP answer of the `slow-http-near-bound` scenario: just inside gdnat's
/// default HTTP bound of one exchange (`HttpLimits::default().total_timeout`, 4000 ms).
pub const NEAR_BOUND_HTTP_DELAY: Duration = Duration::from_millis(3800);

/// The external port the `*-port-taken-*` scenarios give to another LAN host
/// ([`crate::actions::OTHER_HOST`]).
pub const TAKEN_PORT: u16 = 7777;

/// UPnP error of the `upnp-error` scenario on AddPortMapping (override per action with
/// extra [`FaultKind::UpnpError`] rules, which the binary's `--error` adds first).
pub const UPNP_ERROR_DEFAULT: (u16, &str) = (501, "ActionFailed");

fn router(f: impl FnOnce(&mut RouterConfig)) -> DeviceConfig {
    let mut r = RouterConfig::default();
    f(&mut r);
    DeviceConfig::router(r)
}

fn igd1(r: &mut RouterConfig) {
    r.igd_version = 1;
}

/// The configuration of a named scenario (see [`scenario_names`]), or `None`.
///
/// | name | what is special |
/// |---|---|
/// | igd2-public | IGD:2, WANIPConnection:2, connected, public IP 1.2.3.4 |
/// | igd1-public | IGD:1, WANIPConnection:1 |
/// | igd2-double-nat | external IP 10.0.0.5 (reserved: a router behind a router) |
/// | not-connected | GetStatusInfo answers Disconnected |
/// | ppp-only | IGD:1 with WANPPPConnection:1 only |
/// | printer-and-router | device 0 is a printer (answers ssdp:all/rootdevice), device 1 the router |
/// | desc-* | the description GET fails: 500 without body, 200 without body (empty), malformed XML, truncated, 2 MiB, hang |
/// | soap-* | every SOAP action fails the same ways |
/// | desc-trickle, soap-trickle | the description / every SOAP answer is sent one byte per second |
/// | slow-ssdp | SSDP answers after 300 ms |
/// | slow-http | every HTTP answer (description and SOAP) comes after 300 ms |
/// | slow-http-near-bound | every HTTP answer comes after 3800 ms, just inside the default 4000 ms bound |
/// | location-other-host | LOCATION names 127.0.0.2, where (only) the HTTP server listens |
/// | odd-source-port | SSDP answers come from another UDP port than the one searched |
/// | permanent-lease-only | IGD:1; AddPortMapping with a lease != 0 fails with 725 |
/// | lowercase-protocol-rejected | NewProtocol must be exactly TCP/UDP, else 402 Invalid Args |
/// | upnp-error | AddPortMapping fails with 501 ActionFailed (binary: `--error Action:code`) |
/// | wanip-v1-relative-url-with-urlbase | IGD:1, `<URLBase>` and relative control URLs |
/// | namespace-prefixed-description | every description element is `ns0:`-prefixed |
/// | external-ip-not-an-address | GetExternalIPAddress answers [`EXTERNAL_IP_NOT_AN_ADDRESS`] |
/// | external-ip-zero | GetExternalIPAddress answers 0.0.0.0 |
/// | external-ip-loopback | GetExternalIPAddress answers 127.0.0.1 |
/// | external-ip-global-ipv6 | GetExternalIPAddress answers [`EXTERNAL_IP_GLOBAL_IPV6`] (a router with an IPv6 WAN, no NAT) |
/// | router-text-with-controls | friendly name, external address and AddPortMapping's fault description carry [`CONTROL_TEXT`] |
/// | arris-nvg578lx-finite-lease-402 | IGD:1; a finite lease gets 402 Invalid Args (tailscale#15223) |
/// | mikrotik-permanent-only-no-external-ip | IGD:1; 725 on a finite lease and an empty external address (tailscale PR #20781: permanent rules leaked) |
/// | miniupnpd-igd2-port-taken-718 | IGD:2; port [`TAKEN_PORT`] held by another host: AddPortMapping 718, AddAnyPortMapping picks another |
/// | igd1-port-taken-718 / -501 / -729 | IGD:1 (no AddAnyPortMapping); [`TAKEN_PORT`] held by another host, the conflict answered with 718, 501 or 729 |
/// | igd1-every-port-taken-718 | IGD:1; every AddPortMapping conflicts (718) |
pub fn scenario(name: &str) -> Option<SimConfig> {
    let devices = match name {
        "igd2-public" => vec![router(|_| {})],
        "igd1-public" => vec![router(igd1)],
        "igd2-double-nat" => vec![router(|r| r.external_ip = "10.0.0.5".into())],
        "not-connected" => vec![router(|r| r.connected = false)],
        "ppp-only" => vec![router(|r| {
            igd1(r);
            r.connection = ConnectionKind::WanPpp;
        })],
        "printer-and-router" => vec![DeviceConfig::printer(), router(|_| {})],
        "desc-http-500-empty" => vec![faulty(FaultTarget::Description, FaultKind::Http500Empty)],
        "desc-empty" => vec![faulty(FaultTarget::Description, FaultKind::EmptyOk)],
        "desc-malformed-xml" => vec![faulty(FaultTarget::Description, FaultKind::MalformedXml)],
        "desc-truncated" => vec![faulty(FaultTarget::Description, FaultKind::Truncated)],
        "desc-oversized" => vec![faulty(FaultTarget::Description, FaultKind::Oversized)],
        "desc-hang" => vec![faulty(FaultTarget::Description, FaultKind::Hang)],
        "soap-http-500-empty" => vec![faulty(FaultTarget::AnyAction, FaultKind::Http500Empty)],
        "soap-empty" => vec![faulty(FaultTarget::AnyAction, FaultKind::EmptyOk)],
        "soap-malformed-xml" => vec![faulty(FaultTarget::AnyAction, FaultKind::MalformedXml)],
        "soap-truncated" => vec![faulty(FaultTarget::AnyAction, FaultKind::Truncated)],
        "soap-oversized" => vec![faulty(FaultTarget::AnyAction, FaultKind::Oversized)],
        "soap-hang" => vec![faulty(FaultTarget::AnyAction, FaultKind::Hang)],
        "desc-trickle" => vec![faulty(FaultTarget::Description, FaultKind::Trickle(TRICKLE_INTERVAL))],
        "soap-trickle" => vec![faulty(FaultTarget::AnyAction, FaultKind::Trickle(TRICKLE_INTERVAL))],
        "slow-ssdp" => {
            let mut d = router(|_| {});
            d.ssdp_delay = SLOW_SSDP_DELAY;
            vec![d]
        }
        "slow-http" => {
            let mut d = router(|_| {});
            d.http_delay = SLOW_HTTP_DELAY;
            vec![d]
        }
        "slow-http-near-bound" => {
            let mut d = router(|_| {});
            d.http_delay = NEAR_BOUND_HTTP_DELAY;
            vec![d]
        }
        "location-other-host" => {
            let mut d = router(|_| {});
            d.location_host = Some(OTHER_LOOPBACK_HOST.to_string());
            vec![d]
        }
        "odd-source-port" => {
            let mut d = router(|_| {});
            d.ssdp_from_odd_port = true;
            vec![d]
        }
        "permanent-lease-only" => vec![router(|r| {
            igd1(r);
            r.permanent_lease_only = true;
        })],
        "lowercase-protocol-rejected" => vec![router(|r| r.strict_protocol_case = true)],
        "upnp-error" => vec![faulty(
            FaultTarget::Action("AddPortMapping".into()),
            FaultKind::UpnpError(UPNP_ERROR_DEFAULT.0, UPNP_ERROR_DEFAULT.1.into()),
        )],
        "wanip-v1-relative-url-with-urlbase" => vec![router(|r| {
            igd1(r);
            r.url_style = UrlStyle::RelativeWithUrlBase;
        })],
        "namespace-prefixed-description" => {
            vec![router(|r| r.namespace_prefix = Some("ns0".into()))]
        }
        "external-ip-not-an-address" => vec![router(|r| r.external_ip = EXTERNAL_IP_NOT_AN_ADDRESS.into())],
        "external-ip-zero" => vec![router(|r| r.external_ip = "0.0.0.0".into())],
        "external-ip-loopback" => vec![router(|r| r.external_ip = "127.0.0.1".into())],
        "external-ip-global-ipv6" => vec![router(|r| r.external_ip = EXTERNAL_IP_GLOBAL_IPV6.into())],
        "router-text-with-controls" => vec![router(|r| {
            r.friendly_name = format!("Router{CONTROL_TEXT}");
            r.external_ip = format!("1.2.3.4{CONTROL_TEXT}");
        })
        .with_fault(FaultTarget::Action("AddPortMapping".into()), FaultKind::UpnpError(718, format!("Conflict{CONTROL_TEXT}")))],
        "arris-nvg578lx-finite-lease-402" => vec![router(|r| {
            igd1(r);
            r.permanent_lease_only = true;
            r.finite_lease_error = 402;
        })],
        "mikrotik-permanent-only-no-external-ip" => vec![router(|r| {
            igd1(r);
            r.permanent_lease_only = true;
            r.external_ip = String::new();
        })],
        "miniupnpd-igd2-port-taken-718" => vec![router(|r| r.taken_ports = vec![TAKEN_PORT])],
        "igd1-port-taken-718" => vec![router(|r| {
            igd1(r);
            r.taken_ports = vec![TAKEN_PORT];
        })],
        "igd1-port-taken-501" => vec![router(|r| {
            igd1(r);
            r.taken_ports = vec![TAKEN_PORT];
            r.conflict_error = 501;
        })],
        "igd1-port-taken-729" => vec![router(|r| {
            igd1(r);
            r.taken_ports = vec![TAKEN_PORT];
            r.conflict_error = 729;
        })],
        "igd1-every-port-taken-718" => vec![router(|r| {
            igd1(r);
            r.every_port_taken = true;
        })],
        _ => return None,
    };
    Some(SimConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), devices))
}

fn faulty(target: FaultTarget, kind: FaultKind) -> DeviceConfig {
    router(|_| {}).with_fault(target, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves_and_unknown_does_not() {
        for name in scenario_names() {
            let c = scenario(name).unwrap_or_else(|| panic!("{name}"));
            assert!(!c.devices.is_empty(), "{name}");
        }
        assert!(scenario("no-such-scenario").is_none());
    }

    #[test]
    fn a_few_knobs() {
        let c = scenario("igd2-double-nat").unwrap();
        assert_eq!(
            c.devices[0].router_config().unwrap().external_ip,
            "10.0.0.5"
        );
        let c = scenario("printer-and-router").unwrap();
        assert!(c.devices[0].router_config().is_none());
        assert!(c.devices[1].router_config().is_some());
        let c = scenario("ppp-only").unwrap();
        assert_eq!(
            c.devices[0].router_config().unwrap().connection,
            ConnectionKind::WanPpp
        );
    }
}
