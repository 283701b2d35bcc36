//! NAT-PMP and PCP against the real miniupnpd of the test bed, run by `tests/e2e/pcp-testbed.sh`
//! inside the LAN namespace. Skipped (with a `SKIP` line) unless `GDNAT_TESTBED_GATEWAY` is set.
//!
//! The script gives a hook (`GDNAT_TESTBED_HOOK`) for what this process cannot do from the LAN
//! side: `probe tcp|udp PORT` (a packet from the WAN side must reach us: exit 0 reached, 1 not,
//! other = the probe failed), `table` (prints the number of forwarding rules in the router's
//! nftables, fails when nft fails), `restart` (stops and starts miniupnpd: new epoch, empty table).
//! Every check prints `PASS name detail` or `FAIL name detail`; the test fails on any FAIL.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use gdnat_pcp::wire::pcp::ResultCode;
use gdnat_pcp::{
    default_gateway, CancelToken, ClientOptions, EpochCheck, MapParams, NatPmpClient, Nonce, PcpClient, PcpDeleteError, PcpMapError,
    PcpMapping, Protocol,
};

const EXTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1));
const PCP_PORT: u16 = 7790;
const NATPMP_PORT: u16 = 7791;
const RESTART_PORT: u16 = 7792;

struct Checks {
    failed: Vec<String>,
    hook: String,
}

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: impl std::fmt::Display) {
        println!("{} {name} {detail}", if ok { "PASS" } else { "FAIL" });
        if !ok {
            self.failed.push(name.to_owned());
        }
    }

    fn hook(&self, args: &[&str]) -> (i32, String) {
        // The hook is tests/e2e/pcp-testbed.sh in its `hook` mode (never its main mode).
        match Command::new("bash").arg(&self.hook).arg("hook").args(args).output() {
            Ok(output) => (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).trim().to_owned()),
            Err(error) => (-1, format!("hook failed to run: {error}")),
        }
    }

    /// A WAN-side packet to `port` must (or must not) reach the LAN host.
    fn probe(&mut self, name: &str, protocol: &str, port: u16, want_reached: bool) {
        let (code, out) = self.hook(&["probe", protocol, &port.to_string()]);
        let ok = match code {
            0 => want_reached,
            1 => !want_reached,
            _ => false, // the probe itself failed: never a pass
        };
        self.check(name, ok, format!("(want {}) {out}", if want_reached { "reached" } else { "unreachable" }));
    }

    /// The router's forwarding rules: `None` when reading them failed.
    fn table(&mut self) -> Option<u32> {
        let (code, out) = self.hook(&["table"]);
        if code == 0 {
            out.parse().ok()
        } else {
            None
        }
    }
}

fn map_params(protocol: Protocol, port: u16, lifetime: u32) -> MapParams {
    MapParams { protocol, internal_port: port, suggested_external_port: port, suggested_external_address: None, lifetime }
}

#[test]
fn against_miniupnpd() {
    let Ok(gateway_text) = std::env::var("GDNAT_TESTBED_GATEWAY") else {
        println!("SKIP testbed: GDNAT_TESTBED_GATEWAY is not set (run tests/e2e/pcp-testbed.sh)");
        return;
    };
    println!();
    let mut c = Checks { failed: Vec::new(), hook: std::env::var("GDNAT_TESTBED_HOOK").expect("GDNAT_TESTBED_HOOK") };
    let gateway: IpAddr = gateway_text.parse().expect("GDNAT_TESTBED_GATEWAY is an IP address");

    // The gateway lookup finds the same router from the routing table.
    let found = default_gateway(None);
    c.check("gateway.default-route", found.as_ref().is_ok_and(|g| g.ip() == gateway), format!("{found:?}"));
    let found = default_gateway(Some("eth0"));
    c.check("gateway.interface", found.as_ref().is_ok_and(|g| g.ip() == gateway), format!("{found:?}"));

    let cancel = CancelToken::new();
    let options = ClientOptions::new(gateway);
    let mut natpmp = NatPmpClient::new(&options, &cancel).unwrap();
    let mut pcp = PcpClient::new(&options, &cancel).unwrap();

    // ---- NAT-PMP --------------------------------------------------------------------------------
    let address = natpmp.external_address();
    c.check("natpmp.external-address", address.as_ref().is_ok_and(|a| IpAddr::V4(a.address) == EXTERNAL), format!("{address:?}"));
    let mapped = natpmp.map(Protocol::Tcp, NATPMP_PORT, NATPMP_PORT, 600);
    c.check("natpmp.map", mapped.as_ref().is_ok_and(|m| m.external_port == NATPMP_PORT && m.lifetime > 0), format!("{mapped:?}"));
    c.probe("natpmp.forward", "tcp", NATPMP_PORT, true);
    let renewed = natpmp.map(Protocol::Tcp, NATPMP_PORT, NATPMP_PORT, 600);
    c.check("natpmp.renew", renewed.as_ref().is_ok_and(|m| m.external_port == NATPMP_PORT && m.epoch_check == EpochCheck::Continuous), format!("{renewed:?}"));
    let deleted = natpmp.delete(Protocol::Tcp, NATPMP_PORT);
    c.check("natpmp.delete", deleted.is_ok(), format!("{deleted:?}"));
    c.probe("natpmp.deleted-unreachable", "tcp", NATPMP_PORT, false);

    // ---- PCP ------------------------------------------------------------------------------------
    let announced = pcp.announce();
    c.check("pcp.announce", announced.as_ref().is_ok_and(|a| a.epoch_check == EpochCheck::First), format!("{announced:?}"));
    let mapping = pcp.map(&map_params(Protocol::Udp, PCP_PORT, 600));
    c.check(
        "pcp.map",
        mapping.as_ref().is_ok_and(|m| m.external_address == EXTERNAL && m.external_port == PCP_PORT && (120..=600).contains(&m.lifetime)),
        format!("{mapping:?}"),
    );
    if let Ok(mapping) = mapping {
        c.probe("pcp.forward", "udp", PCP_PORT, true);
        let renewed = pcp.renew(&mapping, 900);
        c.check(
            "pcp.renew-same-nonce",
            renewed.as_ref().is_ok_and(|r| r.nonce == mapping.nonce && r.external_port == mapping.external_port && r.epoch_check == EpochCheck::Continuous),
            format!("{renewed:?}"),
        );
        let stranger = PcpMapping { nonce: Nonce(mapping.nonce.0.map(|b| b ^ 0x5a)), ..mapping };
        let refused = pcp.delete(&stranger);
        c.check(
            "pcp.delete-other-nonce",
            matches!(refused, Err(PcpDeleteError::Refused { result: ResultCode::NotAuthorized })),
            match &refused {
                Err(error) => error.to_string(),
                Ok(ok) => format!("{ok:?}"),
            },
        );
        c.probe("pcp.other-nonce-kept", "udp", PCP_PORT, true);
        let deleted = pcp.delete(&mapping);
        c.check("pcp.delete", deleted.is_ok(), format!("{deleted:?}"));
        c.probe("pcp.deleted-unreachable", "udp", PCP_PORT, false);
    }
    // Port 80 is outside miniupnpd's allow rule (1024-65535): it tries every external port first
    // and answers after about a second.
    let denied = pcp.map(&map_params(Protocol::Tcp, 80, 600));
    c.check(
        "pcp.denied-port",
        matches!(denied, Err(PcpMapError::Refused { result: ResultCode::NotAuthorized, .. })),
        match &denied {
            Err(error) => error.to_string(),
            Ok(ok) => format!("{ok:?}"),
        },
    );
    let rules = c.table();
    c.check("router.table-empty", rules == Some(0), format!("forwarding rules: {rules:?} (None: reading the table failed)"));

    // ---- restart: new epoch, empty table ---------------------------------------------------------
    // Make the epoch before the restart clearly larger than the one after it.
    let start = Instant::now();
    let mut epoch = 0;
    while start.elapsed() < Duration::from_secs(15) {
        epoch = pcp.announce().map(|a| a.epoch).unwrap_or(0);
        if epoch >= 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let mapping = pcp.map(&map_params(Protocol::Udp, RESTART_PORT, 600));
    c.check("restart.map-before", mapping.is_ok() && epoch >= 5, format!("epoch {epoch}, {mapping:?}"));
    let natpmp_before = natpmp.external_address();
    // miniupnpd multicasts an ANNOUNCE to 224.0.0.1:5350 when it starts.
    let listener = gdnat_pcp::AnnounceListener::bind(
        "0.0.0.0:5350".parse().unwrap(),
        Some(Ipv4Addr::new(10, 77, 0, 2)),
        std::net::SocketAddr::new(gateway, 5351),
        &cancel,
    );
    let mut announce_tracker = pcp.epoch().clone();
    let (code, out) = c.hook(&["restart"]);
    c.check("restart.router", code == 0, out);
    match listener {
        Ok(listener) => {
            let heard = listener.wait(Duration::from_secs(5), &mut announce_tracker);
            c.check(
                "restart.announce-heard",
                matches!(heard, Ok(Some(h)) if h.epoch_check.is_reset()),
                format!("{heard:?}"),
            );
        }
        Err(error) => c.check("restart.announce-heard", false, format!("cannot listen on 5350: {error}")),
    }
    let rules = c.table();
    c.check("restart.table-empty", rules == Some(0), format!("forwarding rules after the restart: {rules:?}"));
    if let Ok(mapping) = mapping {
        c.probe("restart.mapping-gone", "udp", RESTART_PORT, false);
        let renewed = pcp.renew(&mapping, 600);
        c.check("restart.pcp-epoch-reset", renewed.as_ref().is_ok_and(|r| r.epoch_check.is_reset()), format!("{renewed:?}"));
        c.probe("restart.remapped-forward", "udp", RESTART_PORT, true);
        let deleted = pcp.delete(&mapping);
        c.check("restart.delete", deleted.is_ok(), format!("{deleted:?}"));
    }
    let natpmp_after = natpmp.external_address();
    c.check(
        "restart.natpmp-epoch-reset",
        natpmp_before.is_ok() && natpmp_after.as_ref().is_ok_and(|a| a.epoch_check.is_reset()),
        format!("{natpmp_after:?}"),
    );
    let rules = c.table();
    c.check("router.table-empty-at-end", rules == Some(0), format!("forwarding rules: {rules:?}"));

    assert!(c.failed.is_empty(), "failed checks: {:?}", c.failed);
}
