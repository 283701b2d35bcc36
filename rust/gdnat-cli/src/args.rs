//! Command-line parsing (std only): the commands of `gdnat` and their options.

use std::fmt;

use gdnat_igd::{LocalPort, Protocol};

/// The usage text printed for `gdnat help` and after a usage error.
pub const USAGE: &str = "\
usage: gdnat <command> [options]

commands:
  discover [--timeout MS] [--filter TEXT] [--ttl N] [--multicast-if X] [--local-port N] [--ipv6 yes|no] [--gateway-search yes|no]
  external-ip [--url U]
  add <external_port> <TCP|UDP> [--internal-port P] [--client IP] [--lease SECONDS] [--desc TEXT] [--url U]
  add-any <external_port> <TCP|UDP> [same options as add]
  delete <external_port> <TCP|UDP> [--url U]
  show <external_port> <TCP|UDP> [--url U]
  list [--url U]
  status [--url U]
  cycle <external_port> <TCP|UDP> [--url U]
  probe [--gateway IP] [--interface IF] [--timeout MS] [--url U]
  map <port> <TCP|UDP> [--protocol pcp|natpmp|upnp|auto] [--internal-port P] [--lease SECONDS]
      [--desc TEXT] [--gateway IP] [--interface IF] [--timeout MS] [--url U] [--for SECONDS]
  help

--url U skips SSDP and uses the device description at U; otherwise the command discovers
(--timeout MS, default 2000, and the other discover options) and uses the first connected gateway.

probe asks the gateway (--gateway, or the default route's next hop of --interface or of the
default interface) in PCP, NAT-PMP and UPnP at once (--timeout MS each, default 1000).
map keeps <port> mapped (renewed at 50-75 % of the granted lease, default 3600 s) until Ctrl-C,
SIGTERM or --for SECONDS, then deletes it; --protocol auto (default) probes first and prefers
PCP > NAT-PMP > UPnP.";

/// A bad command line (exit code 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to discover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoverArgs {
    /// `--timeout MS` (default 2000).
    pub timeout_ms: u64,
    /// `--filter TEXT` (default `InternetGatewayDevice`, as the engine).
    pub filter: String,
    /// `--ttl N` (0..=255, default 2).
    pub ttl: u32,
    /// `--multicast-if X`.
    pub multicast_if: Option<String>,
    /// `--local-port N`, read as the engine's `discover_local_port`.
    pub local_port: LocalPort,
    /// `--ipv6 yes|no`: search over IPv6 (FF05::C and FF02::C), as the engine's
    /// `discover_ipv6` (default no).
    pub ipv6: bool,
    /// `--gateway-search yes|no`: also send the M-SEARCH unicast to the default gateway, so a
    /// full-tunnel VPN or a multicast-filtering network does not hide the router (default yes).
    pub gateway_search: bool,
}

impl Default for DiscoverArgs {
    fn default() -> Self {
        Self { timeout_ms: 2000, filter: "InternetGatewayDevice".into(), ttl: 2, multicast_if: None, local_port: LocalPort::Ephemeral, ipv6: false, gateway_search: true }
    }
}

/// Which gateway a command uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetArgs {
    /// `--url U`: the description URL, skipping SSDP.
    pub url: Option<String>,
    /// How to discover when there is no `--url`.
    pub discover: DiscoverArgs,
}

/// The mapping of `add`, `add-any` and `cycle`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MappingArgs {
    /// External port.
    pub external_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// `--internal-port P` (default: the external port).
    pub internal_port: Option<u16>,
    /// `--client IP` (default: our local address towards the gateway).
    pub client: Option<String>,
    /// `--lease SECONDS` (default 0).
    pub lease_seconds: u32,
    /// `--desc TEXT` (default `gdnat`).
    pub description: String,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `gdnat discover`.
    Discover(DiscoverArgs),
    /// `gdnat external-ip`.
    ExternalIp(TargetArgs),
    /// `gdnat add` (`any` false) or `gdnat add-any` (`any` true).
    Add { target: TargetArgs, mapping: MappingArgs, any: bool },
    /// `gdnat delete`.
    Delete { target: TargetArgs, external_port: u16, protocol: Protocol },
    /// `gdnat show`.
    Show { target: TargetArgs, external_port: u16, protocol: Protocol },
    /// `gdnat list`.
    List(TargetArgs),
    /// `gdnat status`.
    Status(TargetArgs),
    /// `gdnat cycle`.
    Cycle { target: TargetArgs, mapping: MappingArgs },
    /// `gdnat probe`.
    Probe(ProbeArgs),
    /// `gdnat map`.
    Map(MapArgs),
    /// `gdnat help`, `-h`, `--help`.
    Help,
}

/// Which gateway `probe` and `map` talk NAT-PMP/PCP to, and how long each probe may take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeArgs {
    /// `--gateway IP` (default: the default route's next hop).
    pub gateway: Option<std::net::IpAddr>,
    /// `--interface IF`: whose default route to use.
    pub interface: Option<String>,
    /// `--timeout MS` per protocol (default 1000).
    pub timeout_ms: u64,
    /// `--url U`: the UPnP description, skipping SSDP.
    pub url: Option<String>,
}

/// `gdnat map`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapArgs {
    /// Where and how long to probe.
    pub probe: ProbeArgs,
    /// `--protocol`: `None` is auto.
    pub method: Option<gdnat_mapper::Method>,
    /// The external port asked for.
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// `--internal-port P` (default: `port`).
    pub internal_port: Option<u16>,
    /// `--lease SECONDS` (default 3600; 1..=604800).
    pub lease_seconds: u32,
    /// `--desc TEXT` (UPnP only; default `gdnat`).
    pub description: String,
    /// `--for SECONDS`: stop on its own after this long.
    pub run_for: Option<u64>,
}

const PROBE_FLAGS: &[&str] = &["gateway", "interface", "timeout", "url"];
const MAP_FLAGS: &[&str] = &["gateway", "interface", "timeout", "url", "protocol", "internal-port", "lease", "desc", "for"];
/// The longest lease `map` asks for (a week, miniupnpd's cap for "permanent").
pub const MAX_LEASE: u32 = 604_800;

const DISCOVER_FLAGS: &[&str] = &["gateway-search", "timeout", "filter", "ttl", "multicast-if", "local-port", "ipv6"];
const TARGET_FLAGS: &[&str] = &["gateway-search", "url", "timeout", "filter", "ttl", "multicast-if", "local-port", "ipv6"];
const MAPPING_FLAGS: &[&str] = &["gateway-search", "url", "timeout", "filter", "ttl", "multicast-if", "local-port", "ipv6", "internal-port", "client", "lease", "desc"];

/// Positional arguments and `--flag value` / `--flag=value` options of one command.
struct Parsed {
    positional: Vec<String>,
    flags: Vec<(String, String)>,
}

impl Parsed {
    fn split(args: &[String], allowed: &[&str]) -> Result<Self, UsageError> {
        let mut positional = Vec::new();
        let mut flags: Vec<(String, String)> = Vec::new();
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                positional.push(arg.clone());
                continue;
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name.to_string(), value.to_string()),
                None => {
                    let value = iter.next().ok_or_else(|| UsageError(format!("--{flag} needs a value")))?;
                    (flag.to_string(), value.clone())
                }
            };
            if !allowed.contains(&name.as_str()) {
                return Err(UsageError(format!("unknown option --{name}")));
            }
            if flags.iter().any(|(n, _)| *n == name) {
                return Err(UsageError(format!("--{name} given twice")));
            }
            flags.push((name, value));
        }
        Ok(Self { positional, flags })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, UsageError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| UsageError(format!("--{name}: invalid number {text:?}"))),
        }
    }

    fn expect_positional(&self, count: usize, what: &str) -> Result<(), UsageError> {
        if self.positional.len() == count {
            Ok(())
        } else {
            Err(UsageError(format!("expected {what}, got {} argument(s)", self.positional.len())))
        }
    }

    fn discover(&self) -> Result<DiscoverArgs, UsageError> {
        let defaults = DiscoverArgs::default();
        let ttl: u32 = self.number("ttl")?.unwrap_or(defaults.ttl);
        if ttl > 255 {
            return Err(UsageError("--ttl must be between 0 and 255".into()));
        }
        Ok(DiscoverArgs {
            timeout_ms: self.number("timeout")?.unwrap_or(defaults.timeout_ms),
            filter: self.get("filter").map(str::to_string).unwrap_or(defaults.filter),
            ttl,
            multicast_if: self.get("multicast-if").map(str::to_string),
            local_port: self.number::<u32>("local-port")?.map(|p| LocalPort::from_engine(i64::from(p))).unwrap_or_default(),
            ipv6: match self.get("ipv6") {
                None | Some("no") => false,
                Some("yes") => true,
                Some(other) => return Err(UsageError(format!("--ipv6 must be yes or no, not {other:?}"))),
            },
            gateway_search: match self.get("gateway-search") {
                None | Some("yes") => true,
                Some("no") => false,
                Some(other) => return Err(UsageError(format!("--gateway-search must be yes or no, not {other:?}"))),
            },
        })
    }

    fn target(&self) -> Result<TargetArgs, UsageError> {
        Ok(TargetArgs { url: self.get("url").map(str::to_string), discover: self.discover()? })
    }

    /// `<external_port> <TCP|UDP>` from the first two positional arguments.
    fn port_and_protocol(&self) -> Result<(u16, Protocol), UsageError> {
        self.expect_positional(2, "<external_port> <TCP|UDP>")?;
        let port = self.positional[0]
            .parse::<u16>()
            .map_err(|_| UsageError(format!("invalid port {:?} (0..=65535)", self.positional[0])))?;
        let protocol = Protocol::parse_exact(&self.positional[1])
            .ok_or_else(|| UsageError(format!("invalid protocol {:?}: TCP or UDP", self.positional[1])))?;
        Ok((port, protocol))
    }

    fn probe(&self) -> Result<ProbeArgs, UsageError> {
        let gateway = match self.get("gateway") {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| UsageError(format!("--gateway: not an IP address: {text:?}")))?),
        };
        Ok(ProbeArgs {
            gateway,
            interface: self.get("interface").map(str::to_string),
            timeout_ms: self.number("timeout")?.unwrap_or(1000),
            url: self.get("url").map(str::to_string),
        })
    }

    fn map(&self) -> Result<MapArgs, UsageError> {
        self.expect_positional(2, "<port> <TCP|UDP>")?;
        let port = self.positional[0].parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| UsageError(format!("invalid port {:?} (1..=65535)", self.positional[0])))?;
        let protocol = Protocol::parse_exact(&self.positional[1].to_ascii_uppercase())
            .ok_or_else(|| UsageError(format!("invalid protocol {:?}: TCP or UDP", self.positional[1])))?;
        let method = match self.get("protocol") {
            None | Some("auto") => None,
            Some(text) => Some(gdnat_mapper::Method::parse(text).ok_or_else(|| UsageError(format!("--protocol: pcp, natpmp, upnp or auto, got {text:?}")))?),
        };
        let lease_seconds = self.number("lease")?.unwrap_or(3600);
        if !(1..=MAX_LEASE).contains(&lease_seconds) {
            return Err(UsageError(format!("--lease must be 1..={MAX_LEASE} seconds (a finite lease that is renewed)")));
        }
        let internal_port: Option<u16> = self.number("internal-port")?;
        if internal_port == Some(0) {
            return Err(UsageError("--internal-port must be 1..=65535".into()));
        }
        Ok(MapArgs {
            probe: self.probe()?,
            method,
            port,
            protocol,
            internal_port,
            lease_seconds,
            description: self.get("desc").map(str::to_string).unwrap_or_else(|| "gdnat".into()),
            run_for: self.number("for")?,
        })
    }

    fn mapping(&self) -> Result<MappingArgs, UsageError> {
        let (external_port, protocol) = self.port_and_protocol()?;
        Ok(MappingArgs {
            external_port,
            protocol,
            internal_port: self.number("internal-port")?,
            client: self.get("client").map(str::to_string),
            lease_seconds: self.number("lease")?.unwrap_or(0),
            description: self.get("desc").map(str::to_string).unwrap_or_else(|| "gdnat".into()),
        })
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let Some((command, rest)) = args.split_first() else {
        return Err(UsageError("no command given".into()));
    };
    match command.as_str() {
        "help" | "-h" | "--help" => Ok(Command::Help),
        "discover" => {
            let parsed = Parsed::split(rest, DISCOVER_FLAGS)?;
            parsed.expect_positional(0, "no arguments")?;
            Ok(Command::Discover(parsed.discover()?))
        }
        "external-ip" | "list" | "status" => {
            let parsed = Parsed::split(rest, TARGET_FLAGS)?;
            parsed.expect_positional(0, "no arguments")?;
            let target = parsed.target()?;
            Ok(match command.as_str() {
                "external-ip" => Command::ExternalIp(target),
                "list" => Command::List(target),
                _ => Command::Status(target),
            })
        }
        "add" | "add-any" => {
            let parsed = Parsed::split(rest, MAPPING_FLAGS)?;
            Ok(Command::Add { target: parsed.target()?, mapping: parsed.mapping()?, any: command == "add-any" })
        }
        "delete" | "show" => {
            let parsed = Parsed::split(rest, TARGET_FLAGS)?;
            let (external_port, protocol) = parsed.port_and_protocol()?;
            let target = parsed.target()?;
            Ok(if command == "delete" {
                Command::Delete { target, external_port, protocol }
            } else {
                Command::Show { target, external_port, protocol }
            })
        }
        "cycle" => {
            let parsed = Parsed::split(rest, MAPPING_FLAGS)?;
            Ok(Command::Cycle { target: parsed.target()?, mapping: parsed.mapping()? })
        }
        "probe" => {
            let parsed = Parsed::split(rest, PROBE_FLAGS)?;
            parsed.expect_positional(0, "no arguments")?;
            Ok(Command::Probe(parsed.probe()?))
        }
        "map" => Ok(Command::Map(Parsed::split(rest, MAP_FLAGS)?.map()?)),
        other => Err(UsageError(format!("unknown command {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn discover_defaults_and_options() {
        assert_eq!(parse(&args("discover")), Ok(Command::Discover(DiscoverArgs::default())));
        let parsed = parse(&args("discover --timeout 500 --filter rootdevice --ttl 4 --multicast-if lo --local-port 1 --ipv6 yes --gateway-search no"));
        assert_eq!(
            parsed,
            Ok(Command::Discover(DiscoverArgs {
                timeout_ms: 500,
                filter: "rootdevice".into(),
                ttl: 4,
                multicast_if: Some("lo".into()),
                local_port: LocalPort::Ssdp,
                ipv6: true,
                gateway_search: false,
            }))
        );
        assert!(parse(&args("discover --gateway-search maybe")).is_err());
        let Ok(Command::Discover(d)) = parse(&args("discover --local-port=5000 --filter=")) else { panic!() };
        assert_eq!((d.local_port, d.filter.as_str()), (LocalPort::Port(5000), ""));
    }

    #[test]
    fn add_defaults_and_options() {
        let Ok(Command::Add { target, mapping, any }) = parse(&args("add 7777 TCP")) else { panic!() };
        assert!(!any);
        assert_eq!(target, TargetArgs::default());
        assert_eq!(mapping, MappingArgs { external_port: 7777, protocol: Protocol::Tcp, internal_port: None, client: None, lease_seconds: 0, description: "gdnat".into() });
        let parsed = parse(&args("add-any 7000 UDP --internal-port 7001 --client 10.77.0.2 --lease 3600 --desc game --url http://10.77.0.1:5000/rootDesc.xml"));
        let Ok(Command::Add { target, mapping, any }) = parsed else { panic!("{parsed:?}") };
        assert!(any);
        assert_eq!(target.url.as_deref(), Some("http://10.77.0.1:5000/rootDesc.xml"));
        assert_eq!((mapping.internal_port, mapping.client.as_deref(), mapping.lease_seconds, mapping.description.as_str()), (Some(7001), Some("10.77.0.2"), 3600, "game"));
        let Ok(Command::Add { mapping, .. }) = parse(&["add".into(), "0".into(), "TCP".into(), "--desc".into(), "two words".into()]) else { panic!() };
        assert_eq!((mapping.external_port, mapping.description.as_str()), (0, "two words"));
    }

    #[test]
    fn port_protocol_commands() {
        assert_eq!(parse(&args("delete 7777 UDP")), Ok(Command::Delete { target: TargetArgs::default(), external_port: 7777, protocol: Protocol::Udp }));
        assert_eq!(parse(&args("show 80 TCP --url http://a/")).map(|c| matches!(c, Command::Show { external_port: 80, .. })), Ok(true));
        assert!(matches!(parse(&args("cycle 7777 TCP")), Ok(Command::Cycle { .. })));
        assert!(matches!(parse(&args("list --url http://a/")), Ok(Command::List(TargetArgs { url: Some(_), .. }))));
        assert!(matches!(parse(&args("status")), Ok(Command::Status(_))));
        assert!(matches!(parse(&args("external-ip --timeout 300")), Ok(Command::ExternalIp(TargetArgs { discover: DiscoverArgs { timeout_ms: 300, .. }, .. }))));
        assert_eq!(parse(&args("help")), Ok(Command::Help));
        assert_eq!(parse(&args("--help")), Ok(Command::Help));
    }

    #[test]
    fn probe_and_map() {
        let Ok(Command::Probe(probe)) = parse(&args("probe --gateway 10.77.0.1 --timeout 300")) else { panic!() };
        assert_eq!((probe.gateway, probe.timeout_ms), (Some("10.77.0.1".parse().unwrap()), 300));
        let Ok(Command::Map(map)) = parse(&args("map 7777 udp --protocol pcp --lease 120 --for 5")) else { panic!() };
        assert_eq!((map.port, map.protocol, map.method, map.lease_seconds, map.run_for), (7777, Protocol::Udp, Some(gdnat_mapper::Method::Pcp), 120, Some(5)));
        let Ok(Command::Map(map)) = parse(&args("map 7777 TCP")) else { panic!() };
        assert_eq!((map.method, map.lease_seconds, map.internal_port, map.probe.timeout_ms), (None, 3600, None, 1000));
        for line in ["map 0 UDP", "map 7777 SCTP", "map 7777 UDP --protocol igd", "map 7777 UDP --lease 0", "map 7777 UDP --lease 604801",
            "map 7777 UDP --internal-port 0", "probe --gateway nowhere", "probe extra", "map 7777"] {
            assert!(parse(&args(line)).is_err(), "{line:?} should be a usage error");
        }
    }

    #[test]
    fn usage_errors() {
        for line in [
            "", "frobnicate", "add", "add 7777", "add 7777 tcp", "add 7777 Tcp", "add 70000 TCP", "add -1 TCP", "add x TCP",
            "add 1 TCP extra", "add 1 TCP --lease", "add 1 TCP --lease -5", "add 1 TCP --bogus 1", "delete 1 TCP --desc x",
            "discover --ttl 256", "discover --timeout abc", "discover --url http://a/", "list extra", "status --timeout 1 --timeout 2",
            "add 1 TCP --internal-port 65536",
        ] {
            assert!(parse(&args(line)).is_err(), "{line:?} should be a usage error");
        }
    }
}
