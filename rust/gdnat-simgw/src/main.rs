//! `gdnat-simgw`: runs a simulated UPnP IGD gateway scenario for tests.
//!
//! ```text
//! gdnat-simgw --bind 127.0.0.1 [--ssdp-port 1900] [--multicast-if 127.0.0.1] [--http-port 0]
//!             [--location-host HOST] --scenario NAME [--error Action:code[:desc]]...
//!             [--lifetime SECONDS] [--until-stdin-eof]
//! gdnat-simgw --list-scenarios
//! ```
//! Prints `ready ssdp=<addr> location=<url> [location=<url>...]` (one `location=` per device,
//! in device order) on stdout once serving, then serves until killed, until stdin reaches EOF
//! (`--until-stdin-eof`) or until the lifetime (default 300 s, at most 86400 s) ends.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use gdnat_simgw::{
    error_description, scenario, scenario_names, FaultKind, FaultRule, FaultTarget, SimGateway,
};

/// Longest accepted `--lifetime`.
const MAX_LIFETIME_SECS: u64 = 86_400;

const USAGE: &str = "usage: gdnat-simgw --bind ADDR [--ssdp-port PORT] [--multicast-if ADDR] [--http-port PORT] \
[--location-host HOST] --scenario NAME [--error Action:code[:desc]]... [--lifetime SECONDS] [--until-stdin-eof]\n\
       gdnat-simgw --list-scenarios";

/// Parsed command line.
struct Args {
    bind: IpAddr,
    ssdp_port: u16,
    multicast_if: Option<Ipv4Addr>,
    http_port: Option<u16>,
    location_host: Option<String>,
    scenario: String,
    errors: Vec<(String, u16, String)>,
    lifetime: Duration,
    until_stdin_eof: bool,
}

fn parse_error_spec(spec: &str) -> Result<(String, u16, String), String> {
    let mut parts = spec.splitn(3, ':');
    let action = parts.next().unwrap_or_default().to_string();
    let code = parts
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("--error {spec}: expected Action:code[:description]"))?;
    if action.is_empty() {
        return Err(format!("--error {spec}: empty action"));
    }
    let desc = parts
        .next()
        .map(str::to_string)
        .unwrap_or_else(|| error_description(code).to_string());
    Ok((action, code, desc))
}

fn parse_args(argv: &[String]) -> Result<Option<Args>, String> {
    let mut args = Args {
        bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
        ssdp_port: 1900,
        multicast_if: None,
        http_port: None,
        location_host: None,
        scenario: String::new(),
        errors: Vec::new(),
        lifetime: Duration::from_secs(300),
        until_stdin_eof: false,
    };
    let mut bind_given = false;
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--list-scenarios" => return Ok(None),
            "--bind" => {
                args.bind = value("--bind")?
                    .parse()
                    .map_err(|e| format!("--bind: {e}"))?;
                bind_given = true;
            }
            "--ssdp-port" => {
                args.ssdp_port = value("--ssdp-port")?
                    .parse()
                    .map_err(|e| format!("--ssdp-port: {e}"))?
            }
            "--multicast-if" => {
                args.multicast_if = Some(
                    value("--multicast-if")?
                        .parse()
                        .map_err(|e| format!("--multicast-if: {e}"))?,
                )
            }
            "--http-port" => {
                args.http_port = Some(
                    value("--http-port")?
                        .parse()
                        .map_err(|e| format!("--http-port: {e}"))?,
                )
            }
            "--location-host" => args.location_host = Some(value("--location-host")?),
            "--scenario" => args.scenario = value("--scenario")?,
            "--error" => args.errors.push(parse_error_spec(&value("--error")?)?),
            "--lifetime" => {
                let secs: u64 = value("--lifetime")?
                    .parse()
                    .map_err(|e| format!("--lifetime: {e}"))?;
                args.lifetime = Duration::from_secs(secs.clamp(1, MAX_LIFETIME_SECS));
            }
            "--until-stdin-eof" => args.until_stdin_eof = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !bind_given {
        return Err("--bind is required".into());
    }
    if args.scenario.is_empty() {
        return Err("--scenario is required".into());
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(Some(a)) => a,
        Ok(None) => {
            for name in scenario_names() {
                println!("{name}");
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if !e.is_empty() {
                eprintln!("gdnat-simgw: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let Some(mut config) = scenario(&args.scenario) else {
        eprintln!(
            "gdnat-simgw: unknown scenario {:?} (see --list-scenarios)",
            args.scenario
        );
        return ExitCode::from(2);
    };
    config.bind = args.bind;
    config.ssdp_port = args.ssdp_port;
    config.multicast_if = args.multicast_if;
    for (i, device) in config.devices.iter_mut().enumerate() {
        if i == 0 {
            if let Some(p) = args.http_port {
                device.http_port = p;
            }
        }
        if device.location_host.is_some() {
            if let Some(h) = &args.location_host {
                device.location_host = Some(h.clone());
            }
        } else if args.location_host.is_some() && i == 0 {
            device.location_host = args.location_host.clone();
        }
        if device.router_config().is_some() {
            // Command-line errors come first so they win over the scenario's own rules.
            let mut rules: Vec<FaultRule> = args
                .errors
                .iter()
                .map(|(action, code, desc)| FaultRule {
                    target: FaultTarget::Action(action.clone()),
                    kind: FaultKind::UpnpError(*code, desc.clone()),
                })
                .collect();
            rules.append(&mut device.faults);
            device.faults = rules;
        }
    }
    let gateway = match SimGateway::start(config) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("gdnat-simgw: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let mut line = format!("ready ssdp={}", gateway.ssdp_addr());
    for url in gateway.description_urls() {
        line.push_str(&format!(" location={url}"));
    }
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();

    let (tx, rx) = mpsc::channel::<()>();
    if args.until_stdin_eof {
        // Detached on purpose: blocked in read() on stdin, it ends with the process.
        let _ = std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut sink = [0u8; 1024];
                let mut stdin = std::io::stdin();
                loop {
                    match stdin.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                let _ = tx.send(());
            });
    } else {
        // Keep the sender alive so recv_timeout only ends by the lifetime.
        std::mem::forget(tx);
    }
    let _ = rx.recv_timeout(args.lifetime);
    gateway.stop();
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn parses_flags() {
        let a = parse_args(&argv("--bind 10.77.0.1 --ssdp-port 0 --scenario upnp-error --error AddPortMapping:718 --error GetExternalIPAddress:501:Boom --lifetime 999999"))
            .unwrap()
            .unwrap();
        assert_eq!(a.bind.to_string(), "10.77.0.1");
        assert_eq!(a.ssdp_port, 0);
        assert_eq!(
            a.errors[0],
            (
                "AddPortMapping".to_string(),
                718,
                "ConflictInMappingEntry".to_string()
            )
        );
        assert_eq!(a.errors[1].2, "Boom");
        assert_eq!(a.lifetime, Duration::from_secs(MAX_LIFETIME_SECS));
        assert!(parse_args(&argv("--list-scenarios")).unwrap().is_none());
        assert!(parse_args(&argv("--scenario x")).is_err());
        assert!(parse_args(&argv("--bind 127.0.0.1")).is_err());
        assert!(parse_args(&argv("--bind 127.0.0.1 --scenario x --error Add")).is_err());
        assert!(parse_args(&argv("--bind nope --scenario x")).is_err());
    }
}
