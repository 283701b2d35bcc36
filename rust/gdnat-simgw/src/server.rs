//! The per-device HTTP server: accept loop, routing (description GET, SOAP POST) and fault
//! injection.

use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::actions::{handle_action, RouterState};
use crate::config::{DeviceConfig, FaultKind, FaultTarget};
use crate::description::{connection_control_path, connection_service_type};
use crate::faults;
use crate::http::{self, HttpRequest, HttpResponse, ReadError};
use crate::soap::{build_fault, parse_call, SoapCall};

/// Most simultaneous connections per device; more are closed at once.
const MAX_CONNECTIONS: usize = 64;
/// Most requests kept in the log.
const MAX_RECORDED: usize = 10_000;

/// One request seen by the gateway (HTTP or SSDP), for test assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Index of the device whose HTTP server got it (`None` for SSDP datagrams).
    pub device: Option<usize>,
    /// HTTP method, or "M-SEARCH" for SSDP.
    pub method: String,
    /// Request target ("*" for SSDP).
    pub path: String,
    /// The SOAPAction header without quotes, if any.
    pub soap_action: Option<String>,
    /// The body (for SSDP: the whole datagram), lossily decoded as UTF-8.
    pub body: String,
    /// Who sent it.
    pub peer: SocketAddr,
}

/// Locks a mutex, ignoring poisoning (a panicked connection thread must not stop the rest).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// State shared by every thread of a gateway.
#[derive(Debug)]
pub struct Shared {
    /// Set when the gateway stops.
    pub stop: AtomicBool,
    /// The request log.
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Upper bound of a hang fault.
    pub max_hang: Duration,
}

impl Shared {
    /// Appends to the request log (bounded).
    pub fn record(&self, r: RecordedRequest) {
        let mut log = lock(&self.requests);
        if log.len() < MAX_RECORDED {
            log.push(r);
        }
    }
}

/// A running device: its configuration, URLs and router state.
#[derive(Debug)]
pub struct Device {
    /// Index in the configuration.
    pub index: usize,
    /// Its configuration.
    pub config: DeviceConfig,
    /// `http://host:port` as advertised.
    pub base_url: String,
    /// The description document served.
    pub description: String,
    /// The router state (`None` for non-IGD devices).
    pub router: Option<Mutex<RouterState>>,
}

impl Device {
    /// The full description URL (the SSDP LOCATION).
    pub fn location(&self) -> String {
        format!("{}{}", self.base_url, self.config.description_path)
    }
}

/// Runs the accept loop of `device` until stop; joins its connection threads before returning.
pub fn accept_loop(listener: TcpListener, device: Arc<Device>, shared: Arc<Shared>) {
    let _ = listener.set_nonblocking(true);
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        workers.retain(|h| !h.is_finished());
        match listener.accept() {
            Ok((stream, peer)) => {
                if workers.len() >= MAX_CONNECTIONS {
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nonblocking(false);
                let (d, s) = (device.clone(), shared.clone());
                let spawned = std::thread::Builder::new()
                    .name(format!("simgw-http-{}", device.index))
                    .spawn(move || serve_connection(stream, peer, &d, &s));
                if let Ok(h) = spawned {
                    workers.push(h);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    for h in workers {
        let _ = h.join();
    }
}

/// What a request asks for.
enum Route {
    Description,
    Soap {
        service_type: String,
        action: String,
        call: SoapCall,
    },
    NotFound,
    BadMethod,
}

/// The path of a request target: origin form as is, absolute form (`http://host/path`)
/// reduced to its path; the query is dropped.
fn target_path(target: &str) -> &str {
    let path = match target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => target,
    };
    path.split('?').next().unwrap_or_default()
}

fn route(req: &HttpRequest, device: &Device) -> Route {
    let path = target_path(&req.path);
    match req.method.as_str() {
        "GET" | "HEAD" if path == device.config.description_path => Route::Description,
        "GET" | "HEAD" => Route::NotFound,
        "POST" if path.starts_with("/ctl/") => {
            let default_type = device
                .config
                .router_config()
                .map(connection_service_type)
                .unwrap_or_default();
            let body = String::from_utf8_lossy(&req.body);
            let parsed = parse_call(&body).ok();
            let header = req
                .header("SOAPAction")
                .map(|v| v.trim_matches('"').to_string());
            let (service_type, action) = match header.as_deref().and_then(|h| h.split_once('#')) {
                Some((t, a)) => (t.to_string(), a.to_string()),
                None => (
                    default_type,
                    parsed
                        .as_ref()
                        .map(|c| c.action.clone())
                        .unwrap_or_default(),
                ),
            };
            let call = parsed.unwrap_or(SoapCall {
                action: action.clone(),
                args: Vec::new(),
            });
            Route::Soap {
                service_type,
                action,
                call,
            }
        }
        "POST" => Route::NotFound,
        _ => Route::BadMethod,
    }
}

fn serve_connection(mut stream: TcpStream, peer: SocketAddr, device: &Device, shared: &Shared) {
    let stop = &shared.stop;
    let server = device.config.server_header.as_str();
    let req = match http::read_request(&mut stream, stop) {
        Ok(r) => r,
        Err(ReadError::Gone) => return,
        Err(ReadError::TooLarge) => {
            http::write_response(&mut stream, &HttpResponse::empty(413), server, stop);
            return;
        }
        Err(ReadError::Malformed) => {
            http::write_response(&mut stream, &HttpResponse::empty(400), server, stop);
            return;
        }
    };
    shared.record(RecordedRequest {
        device: Some(device.index),
        method: req.method.clone(),
        path: req.path.clone(),
        soap_action: req
            .header("SOAPAction")
            .map(|v| v.trim_matches('"').to_string()),
        body: String::from_utf8_lossy(&req.body).into_owned(),
        peer,
    });
    if !http::sleep_unless_stopped(device.config.http_delay, stop) {
        return;
    }
    let route = route(&req, device);
    let target = match &route {
        Route::Description => Some(FaultTarget::Description),
        Route::Soap { action, .. } => Some(FaultTarget::Action(action.clone())),
        _ => None,
    };
    let rules = target
        .map(|t| faults::matching(&device.config.faults, &t))
        .unwrap_or_default();
    let mut fault: Option<&FaultKind> = None;
    for kind in rules {
        if let FaultKind::Delay(d) = kind {
            if !http::sleep_unless_stopped(*d, stop) {
                return;
            }
        } else {
            fault = Some(kind);
            break;
        }
    }
    if let Some(FaultKind::Hang) = fault {
        hang(shared);
        return;
    }
    let mut resp = match &route {
        Route::Description => description_answer(device, fault),
        Route::Soap {
            service_type,
            action,
            call,
        } => {
            let path = target_path(&req.path);
            soap_answer(device, path, service_type, action, call, peer.ip(), fault)
        }
        Route::NotFound => HttpResponse::empty(404),
        Route::BadMethod => HttpResponse::empty(405),
    };
    if req.method == "HEAD" {
        resp.body.clear();
    }
    if let Some(FaultKind::Trickle(interval)) = fault {
        http::write_response_trickled(&mut stream, &resp, server, *interval, shared.max_hang, stop);
        return;
    }
    http::write_response(&mut stream, &resp, server, stop);
    let _ = stream.shutdown(std::net::Shutdown::Write);
}

/// Keeps the connection open without answering until stop or `max_hang`.
fn hang(shared: &Shared) {
    http::sleep_unless_stopped(shared.max_hang, &shared.stop);
}

/// Applies a body-shaping fault to a normal answer.
fn shape(normal: String, status: u16, fault: Option<&FaultKind>) -> HttpResponse {
    match fault {
        None => HttpResponse::xml(status, normal),
        Some(FaultKind::Http500Empty) => HttpResponse::empty(500),
        Some(FaultKind::EmptyOk) => HttpResponse::empty(200),
        Some(FaultKind::MalformedXml) => faults::malformed(&normal),
        Some(FaultKind::Truncated) => faults::truncated(status, &normal),
        Some(FaultKind::Oversized) => faults::oversized(status, &normal),
        Some(FaultKind::UpnpError(code, desc)) => HttpResponse::xml(500, build_fault(*code, desc)),
        // Handled before shaping (Trickle when writing).
        Some(FaultKind::Hang) | Some(FaultKind::Delay(_)) | Some(FaultKind::Trickle(_)) => HttpResponse::xml(status, normal),
    }
}

fn description_answer(device: &Device, fault: Option<&FaultKind>) -> HttpResponse {
    shape(device.description.clone(), 200, fault)
}

fn soap_answer(
    device: &Device,
    path: &str,
    service_type: &str,
    action: &str,
    call: &SoapCall,
    requester: IpAddr,
    fault: Option<&FaultKind>,
) -> HttpResponse {
    let router = match &device.router {
        Some(r) => r,
        None => return HttpResponse::xml(500, build_fault(401, "Invalid Action")),
    };
    if path != connection_control_path(&lock(router).config) {
        // Another service (Layer3Forwarding, WANCommonInterfaceConfig): nothing implemented.
        return HttpResponse::xml(500, build_fault(401, "Invalid Action"));
    }
    let now = Instant::now();
    let requester = match requester {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let result = {
        let mut state = lock(router);
        if fault.is_some() {
            // A faulted answer never changes the table: compute the would-be answer on a copy.
            let mut copy = RouterState {
                config: state.config.clone(),
                table: state.table.clone(),
                started: state.started,
            };
            handle_action(&mut copy, action, call, service_type, requester, now)
        } else {
            handle_action(&mut state, action, call, service_type, requester, now)
        }
    };
    match result {
        Ok(body) => shape(body, 200, fault),
        Err(e) => shape(build_fault(e.code, &e.description), 500, fault),
    }
}
