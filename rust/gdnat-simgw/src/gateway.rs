//! [`SimGateway`]: starting, observing and stopping a simulated gateway.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::actions::RouterState;
use crate::config::{DeviceKind, RouterConfig, SimConfig};
use crate::description::{build_description, connection_control_path};
use crate::server::{accept_loop, lock, Device, RecordedRequest, Shared};
use crate::ssdp;
use crate::table::Mapping;

/// A running simulated gateway: one SSDP responder and one HTTP server per device, each on
/// its own thread. Stopped by [`SimGateway::stop`] or on drop (bounded: threads notice within
/// about 100 ms; a hang fault ends too).
#[derive(Debug)]
pub struct SimGateway {
    shared: Arc<Shared>,
    devices: Vec<Arc<Device>>,
    ssdp_addr: SocketAddr,
    threads: Vec<JoinHandle<()>>,
}

fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

impl SimGateway {
    /// Binds every socket (errors are returned before any thread starts) and starts serving.
    pub fn start(config: SimConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            max_hang: config.max_hang,
        });
        let mut listeners = Vec::new();
        let mut devices = Vec::new();
        for (index, dc) in config.devices.iter().enumerate() {
            let http_ip = dc
                .location_host
                .as_deref()
                .and_then(|h| {
                    h.trim_matches(|c| c == '[' || c == ']')
                        .parse::<IpAddr>()
                        .ok()
                })
                .unwrap_or(config.bind);
            let listener = TcpListener::bind(SocketAddr::new(http_ip, dc.http_port))?;
            let port = listener.local_addr()?.port();
            let host = match &dc.location_host {
                Some(h) if h.parse::<IpAddr>().is_ok() => host_text(h.parse().unwrap_or(http_ip)),
                Some(h) => h.clone(),
                None => host_text(config.bind),
            };
            let base_url = format!("http://{host}:{port}");
            let router = match &dc.kind {
                DeviceKind::Router(r) => Some(Mutex::new(RouterState::new(r.clone()))),
                DeviceKind::Printer => None,
            };
            devices.push(Arc::new(Device {
                index,
                description: build_description(dc, &base_url),
                config: dc.clone(),
                base_url,
                router,
            }));
            listeners.push(listener);
        }
        let socket = ssdp::open_socket(config.bind, config.ssdp_port, config.multicast_if)?;
        let ssdp_addr = SocketAddr::new(config.bind, socket.local_addr()?.port());
        let odd = if config.devices.iter().any(|d| d.ssdp_from_odd_port) {
            Some(ssdp::open_odd_socket(config.bind)?)
        } else {
            None
        };
        let mut threads = Vec::new();
        let mut gateway = SimGateway {
            shared: shared.clone(),
            devices: devices.clone(),
            ssdp_addr,
            threads: Vec::new(),
        };
        for (listener, device) in listeners.into_iter().zip(devices.iter().cloned()) {
            let s = shared.clone();
            let h = std::thread::Builder::new()
                .name(format!("simgw-accept-{}", device.index))
                .spawn(move || accept_loop(listener, device, s));
            match h {
                Ok(h) => threads.push(h),
                Err(e) => {
                    gateway.threads = threads;
                    gateway.shutdown();
                    return Err(e);
                }
            }
        }
        let s = shared.clone();
        let ssdp_devices = devices.clone();
        match std::thread::Builder::new()
            .name("simgw-ssdp".into())
            .spawn(move || ssdp::run(socket, odd, ssdp_devices, s))
        {
            Ok(h) => threads.push(h),
            Err(e) => {
                gateway.threads = threads;
                gateway.shutdown();
                return Err(e);
            }
        }
        gateway.threads = threads;
        Ok(gateway)
    }

    /// The address M-SEARCHes are answered on (unicast), e.g. `127.0.0.1:40123`.
    pub fn ssdp_addr(&self) -> SocketAddr {
        self.ssdp_addr
    }

    /// Number of devices.
    pub fn device_count(&self) -> usize {
        self.devices.len()
    }

    /// The description URL of device `device` (the SSDP `LOCATION`).
    ///
    /// # Panics
    /// If `device` is out of range (a test bug).
    pub fn description_url(&self, device: usize) -> String {
        self.devices[device].location()
    }

    /// Every description URL, in device order.
    pub fn description_urls(&self) -> Vec<String> {
        self.devices.iter().map(|d| d.location()).collect()
    }

    /// The absolute control URL of the WAN connection service of router `device`
    /// (`None` for a non-router or an out-of-range index).
    pub fn control_url(&self, device: usize) -> Option<String> {
        let d = self.devices.get(device)?;
        let r = d.config.router_config()?;
        Some(format!("{}{}", d.base_url, connection_control_path(r)))
    }

    /// The live mappings of the first router device (empty if there is none).
    pub fn mappings(&self) -> Vec<Mapping> {
        self.devices
            .iter()
            .position(|d| d.router.is_some())
            .map(|i| self.device_mappings(i))
            .unwrap_or_default()
    }

    /// The live mappings of device `device` (empty for a non-router or out of range).
    pub fn device_mappings(&self, device: usize) -> Vec<Mapping> {
        match self.devices.get(device).and_then(|d| d.router.as_ref()) {
            Some(r) => lock(r).table.entries(Instant::now()).to_vec(),
            None => Vec::new(),
        }
    }

    /// Changes the router settings of device `device` while running (e.g. `connected`,
    /// `external_ip`, `secure_mode`). The description is not regenerated. Returns false for a
    /// non-router or an out-of-range index.
    pub fn update_router(&self, device: usize, f: impl FnOnce(&mut RouterConfig)) -> bool {
        match self.devices.get(device).and_then(|d| d.router.as_ref()) {
            Some(r) => {
                f(&mut lock(r).config);
                true
            }
            None => false,
        }
    }

    /// Every request seen so far (HTTP and SSDP M-SEARCH), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Stops every thread and waits for them (bounded: about 100 ms, at most a few seconds
    /// for a connection blocked in a write).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for SimGateway {
    fn drop(&mut self) {
        self.shutdown();
    }
}
