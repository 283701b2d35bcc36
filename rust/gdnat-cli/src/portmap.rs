//! `gdnat probe` and `gdnat map`: thin front ends of `gdnat-mapper` (all probing and renewal
//! logic lives there; this module picks the gateway, builds the backend and prints events).

use std::io::Write;
use std::net::IpAddr;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use gdnat_igd::{CancelToken, UpnpResult};
use gdnat_mapper::{probe, Backend, Command, ErrorKind, Event, MapRequest, MapperError, MapperWorker, Method, PmpBackend, ProbeOptions, UpnpBackend};
use gdnat_pcp::{default_gateway, ClientOptions, PortMapClient};

use crate::args::{MapArgs, ProbeArgs};
use crate::commands::CommandError;

fn line(out: &mut dyn Write, text: &str) {
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// The gateway of `--gateway`, or the default route's next hop (of `--interface`).
fn gateway(args: &ProbeArgs, out: &mut dyn Write) -> Result<IpAddr, CommandError> {
    if let Some(ip) = args.gateway {
        line(out, &format!("gateway {ip} (given)"));
        return Ok(ip);
    }
    let found = default_gateway(args.interface.as_deref()).map_err(|e| CommandError::new(e, UpnpResult::NoGateway))?;
    line(out, &format!("gateway {} (default route via {})", found.address, found.interface));
    Ok(found.ip())
}

fn probe_options(args: &ProbeArgs, gateway: IpAddr) -> ProbeOptions {
    let mut options = ProbeOptions::new(gateway);
    options.timeout = Duration::from_millis(args.timeout_ms);
    options.upnp_url = args.url.clone();
    options
}

/// `gdnat probe`: one line per protocol, then the preferred one. Fails when none answered.
pub fn run_probe(args: &ProbeArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let gateway = gateway(args, out)?;
    let report = probe(&probe_options(args, gateway), &CancelToken::new());
    for (name, result) in [("pcp", &report.pcp), ("natpmp", &report.natpmp), ("upnp", &report.upnp)] {
        let verdict = if result.available { "available" } else { "unavailable" };
        line(out, &format!("{name} {verdict} {} {}", millis(result.elapsed), result.detail));
    }
    line(out, &format!("probe {}", millis(report.elapsed)));
    match report.preferred() {
        Some(method) => {
            line(out, &format!("preferred {}", method.as_str()));
            Ok(())
        }
        None => Err(CommandError::new("the gateway speaks none of PCP, NAT-PMP and UPnP", UpnpResult::NoGateway)),
    }
}

fn result_code(error: &MapperError) -> UpnpResult {
    match error.kind {
        ErrorKind::InvalidArgument => UpnpResult::InvalidArgs,
        ErrorKind::NoGateway => UpnpResult::NoGateway,
        ErrorKind::Refused => UpnpResult::ActionFailed,
        ErrorKind::NoAnswer | ErrorKind::Cancelled => UpnpResult::NoGateway,
        ErrorKind::Io => UpnpResult::SocketError,
    }
}

/// Builds the backend on the worker thread: the protocol asked for, or the probe's choice.
fn factory(args: &MapArgs, gateway: IpAddr, progress: std::sync::mpsc::Sender<String>) -> gdnat_mapper::BackendFactory {
    let (args, options) = (args.clone(), probe_options(&args.probe, gateway));
    Box::new(move |cancel: &CancelToken| {
        let (method, upnp_gateway) = match args.method {
            Some(method) => (method, None),
            None => {
                let report = probe(&options, cancel);
                for (name, result) in [("pcp", &report.pcp), ("natpmp", &report.natpmp), ("upnp", &report.upnp)] {
                    let verdict = if result.available { "available" } else { "unavailable" };
                    let _ = progress.send(format!("probe {name} {verdict} {} {}", millis(result.elapsed), result.detail));
                }
                let method = report.preferred().ok_or_else(|| MapperError::new(ErrorKind::NoGateway, "the gateway speaks none of PCP, NAT-PMP and UPnP"))?;
                (method, report.upnp_gateway)
            }
        };
        let _ = progress.send(format!("method {}", method.as_str()));
        let backend: Box<dyn Backend + Send> = match method {
            Method::Pcp | Method::NatPmp => {
                let only = if method == Method::Pcp { gdnat_pcp::Method::Pcp } else { gdnat_pcp::Method::NatPmp };
                let mut client_options = ClientOptions::new(gateway);
                client_options.call_timeout = options.timeout.max(Duration::from_secs(2));
                let client = PortMapClient::new(&client_options, cancel, Some(only)).map_err(|e| MapperError::new(ErrorKind::Io, e.to_string()))?;
                Box::new(PmpBackend::new(client, method))
            }
            Method::Upnp => {
                let found = match upnp_gateway {
                    Some(found) => found,
                    None => {
                        let mut upnp_options = options.clone();
                        upnp_options.timeout = upnp_options.timeout.max(Duration::from_secs(2));
                        probe(&upnp_options, cancel).upnp_gateway.ok_or_else(|| MapperError::new(ErrorKind::NoGateway, "no UPnP gateway found"))?
                    }
                };
                Box::new(UpnpBackend::new(found))
            }
        };
        Ok(backend)
    })
}

fn event_line(event: &Event) -> String {
    match event {
        Event::StateChanged(state) => format!("state {}", state.as_str()),
        Event::Mapped(g, renew_in) | Event::Renewed(g, renew_in) => format!(
            "{} {} {} {}:{} -> internal port {} lifetime {} renew_in {} s",
            if matches!(event, Event::Mapped(..)) { "mapped" } else { "renewed" },
            g.method.as_str(),
            g.protocol,
            g.external_address,
            g.external_port,
            g.internal_port,
            g.lifetime,
            renew_in.as_secs()
        ),
        Event::Lost(reason) => format!("lost {reason:?}"),
        Event::Failed(error) => format!("failed {:?} {}", error.kind, error.message),
        Event::Released => "released".into(),
    }
}

/// `gdnat map`: maps, prints every event, keeps the mapping renewed until Ctrl-C, SIGTERM or
/// `--for`, then deletes it and prints `released`. When the first mapping fails it ends with
/// that error (exit code 1); later failures are retried by the keeper and only printed.
pub fn run_map(args: &MapArgs, out: &mut dyn Write) -> Result<(), CommandError> {
    let gateway = gateway(&args.probe, out)?;
    let request = MapRequest {
        protocol: match args.protocol {
            gdnat_igd::Protocol::Udp => gdnat_pcp::Protocol::Udp,
            gdnat_igd::Protocol::Tcp => gdnat_pcp::Protocol::Tcp,
        },
        internal_port: args.internal_port.unwrap_or(args.port),
        external_port: args.port,
        lifetime: args.lease_seconds,
        description: args.description.clone(),
    };
    let (progress_tx, progress) = std::sync::mpsc::channel();
    let worker = MapperWorker::spawn(factory(args, gateway, progress_tx), request)
        .map_err(|e| CommandError::new(format!("cannot start the worker: {e}"), UpnpResult::UnknownError))?;
    let commander = worker.commander();
    ctrlc::set_handler(move || {
        commander.send(Command::Stop);
    })
    .map_err(|e| CommandError::new(format!("cannot handle Ctrl-C/SIGTERM: {e}"), UpnpResult::UnknownError))?;
    let mut stop_at = args.run_for.map(|seconds| Instant::now() + Duration::from_secs(seconds));
    let mut last_failure: Option<MapperError> = None;
    let mut mapped_once = false;
    loop {
        let wait = stop_at.map_or(Duration::from_secs(3600), |at| at.saturating_duration_since(Instant::now()));
        let event = worker.events().recv_timeout(wait);
        for text in progress.try_iter() {
            line(out, &text);
        }
        match event {
            Ok(event) => {
                line(out, &event_line(&event));
                match &event {
                    Event::Mapped(..) => mapped_once = true,
                    Event::Failed(error) => {
                        last_failure = Some(error.clone());
                        // The first mapping failed: a command line reports it and ends (the
                        // keeper would try again in 30 s; a game's node does).
                        if !mapped_once {
                            worker.send(Command::Stop);
                        }
                    }
                    Event::Released => break,
                    _ => {}
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                if stop_at.is_some_and(|at| Instant::now() >= at) {
                    line(out, "stopping (--for elapsed)");
                    worker.send(Command::Stop);
                    // The worker now deletes the mapping (bounded by its call bound) and ends.
                    stop_at = None;
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    for event in worker.stop() {
        line(out, &event_line(&event));
    }
    match last_failure {
        Some(error) if !mapped_once => Err(CommandError::new(&error, result_code(&error))),
        _ => Ok(()),
    }
}
