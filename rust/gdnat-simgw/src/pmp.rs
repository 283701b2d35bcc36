//! A simulated NAT-PMP (RFC 6886) and PCP (RFC 6887) server, for the faults a real daemon
//! cannot produce: any result code, an epoch that jumps, truncated and oversized answers,
//! answers from another address, for another nonce, of another version or opcode, and
//! silence. Like the UPnP part it is an independent peer: it encodes and decodes the wire
//! format itself and shares no code with `gdnat-pcp`.
//!
//! ```no_run
//! use gdnat_simgw::pmp::{PmpConfig, SimPmpServer, Stray};
//! let server = SimPmpServer::start(PmpConfig::default()).unwrap();
//! server.update(|c| c.strays = vec![Stray::Truncated]);   // a cut answer before each real one
//! println!("{}", server.addr());                         // give this to the client as its gateway
//! ```
//!
//! It binds only the address it is given (loopback by default) and only answers.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A bad datagram the server sends before (or instead of) the real answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stray {
    /// The real answer without its last 4 bytes.
    Truncated,
    /// The real answer padded with zeros to `len` bytes (NAT-PMP: 20; PCP: 1104 is above the
    /// 1100-byte maximum).
    Oversized(usize),
    /// The real answer, sent from another socket (same IP, another port).
    WrongSource,
    /// The real answer with the response bit cleared (looks like a request).
    WrongOpcode,
    /// The real answer with version byte 3.
    WrongVersion,
    /// (PCP MAP) the real answer with the nonce's first byte flipped.
    WrongNonce,
    /// (MAP) the real answer with another internal port.
    WrongInternalPort,
}

/// How the server behaves. Change it while running with [`SimPmpServer::update`].
#[derive(Clone, Debug)]
pub struct PmpConfig {
    /// The address to bind (port 0: ephemeral).
    pub bind: SocketAddr,
    /// Answers NAT-PMP (version 0). When false, version-0 requests get no answer.
    pub natpmp: bool,
    /// Answers PCP (version 2). When false, a PCP request gets NAT-PMP's "unsupported
    /// version" answer (version 0, result 1), as a NAT-PMP-only router sends it (or nothing
    /// when `natpmp` is false too).
    pub pcp: bool,
    /// (PCP) answer every request with UNSUPP_VERSION in a version-2 packet instead.
    pub pcp_unsupp_version: bool,
    /// The external address it reports.
    pub external_address: Ipv4Addr,
    /// The epoch at start; it then counts seconds.
    pub epoch_start: u32,
    /// Answer every request but ANNOUNCE and NAT-PMP's external address with this result code
    /// (success when `None`).
    pub result: Option<u16>,
    /// Answer NAT-PMP's external-address request with this result code (success when `None`).
    pub external_address_result: Option<u16>,
    /// Refusals carry only the 8-byte header (NAT-PMP; allowed by RFC 6886).
    pub short_refusals: bool,
    /// Bad datagrams sent before the real answer, in order.
    pub strays: Vec<Stray>,
    /// Send the real answer (false: only the strays, or nothing).
    pub answer: bool,
    /// Ignore this many requests first (lost packets).
    pub drop_first: u32,
    /// Largest lifetime granted.
    pub max_lifetime: u32,
    /// Ports the server refuses (NOT_AUTHORIZED / Not Authorized), like miniupnpd's deny rules.
    pub denied_ports: Vec<u16>,
}

impl Default for PmpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            natpmp: true,
            pcp: true,
            pcp_unsupp_version: false,
            external_address: Ipv4Addr::new(198, 51, 100, 1),
            epoch_start: 1000,
            result: None,
            external_address_result: None,
            short_refusals: false,
            strays: Vec::new(),
            answer: true,
            drop_first: 0,
            max_lifetime: 86_400,
            denied_ports: Vec::new(),
        }
    }
}

/// One mapping in the server's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PmpMapping {
    /// 6 TCP, 17 UDP.
    pub protocol: u8,
    /// The internal port.
    pub internal_port: u16,
    /// The external port.
    pub external_port: u16,
    /// The PCP nonce (zeros for NAT-PMP).
    pub nonce: [u8; 12],
    /// The granted lifetime.
    pub lifetime: u32,
    /// Made with PCP.
    pub pcp: bool,
}

struct State {
    config: PmpConfig,
    started: Instant,
    table: HashMap<(u8, u16), PmpMapping>,
    requests: Vec<Vec<u8>>,
}

/// A running simulated NAT-PMP/PCP server; stops on drop.
pub struct SimPmpServer {
    addr: SocketAddr,
    socket: UdpSocket,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SimPmpServer {
    /// Binds `config.bind` and serves on a thread.
    pub fn start(config: PmpConfig) -> io::Result<Self> {
        let socket = UdpSocket::bind(config.bind)?;
        let stray_socket = UdpSocket::bind(SocketAddr::new(config.bind.ip(), 0))?;
        socket.set_read_timeout(Some(Duration::from_millis(20)))?;
        let addr = socket.local_addr()?;
        let sender = socket.try_clone()?;
        let state = Arc::new(Mutex::new(State { config, started: Instant::now(), table: HashMap::new(), requests: Vec::new() }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, stop) = (state.clone(), stop.clone());
            thread::spawn(move || serve(&socket, &stray_socket, &state, &stop))
        };
        Ok(Self { addr, socket: sender, state, stop, thread: Some(thread) })
    }

    /// The address clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the behaviour.
    pub fn update(&self, change: impl FnOnce(&mut PmpConfig)) {
        change(&mut lock(&self.state).config);
    }

    /// A restart: the table is emptied and the epoch starts again at `epoch_start`.
    pub fn restart(&self, epoch_start: u32) {
        let mut state = lock(&self.state);
        state.table.clear();
        state.config.epoch_start = epoch_start;
        state.started = Instant::now();
    }

    /// Sends an unsolicited PCP ANNOUNCE (as after a restart: result 0, lifetime 0, the
    /// current epoch) from the server's address to `to` (a client's 5350 or a group).
    pub fn announce(&self, to: SocketAddr) -> io::Result<()> {
        let mut datagram = vec![2, 0x80, 0, 0, 0, 0, 0, 0];
        datagram.extend_from_slice(&epoch(&lock(&self.state)).to_be_bytes());
        datagram.extend_from_slice(&[0; 12]);
        self.socket.send_to(&datagram, to).map(|_| ())
    }

    /// The live table.
    pub fn mappings(&self) -> Vec<PmpMapping> {
        lock(&self.state).table.values().copied().collect()
    }

    /// Every request datagram received, in order.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        lock(&self.state).requests.clone()
    }

    /// Stops the server (also on drop); bounded by its 20 ms receive timeout.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SimPmpServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(socket: &UdpSocket, stray_socket: &UdpSocket, state: &Mutex<State>, stop: &AtomicBool) {
    let mut buffer = [0u8; 2048];
    while !stop.load(Ordering::SeqCst) {
        let Ok((len, peer)) = socket.recv_from(&mut buffer) else { continue };
        let request = &buffer[..len];
        let (answer, config) = {
            let mut state = lock(state);
            state.requests.push(request.to_vec());
            if state.requests.len() as u32 <= state.config.drop_first {
                continue;
            }
            (answer_for(&mut state, request, peer), state.config.clone())
        };
        let Some(answer) = answer else { continue };
        for stray in &config.strays {
            let (bytes, from) = stray_bytes(*stray, &answer);
            let _ = if from { stray_socket.send_to(&bytes, peer) } else { socket.send_to(&bytes, peer) };
        }
        if config.answer {
            let _ = socket.send_to(&answer, peer);
        }
    }
}

/// The stray datagram of `kind` made from `answer`, and whether it goes out of the other socket.
fn stray_bytes(kind: Stray, answer: &[u8]) -> (Vec<u8>, bool) {
    let mut bytes = answer.to_vec();
    let pcp = bytes.first() == Some(&2);
    match kind {
        Stray::Truncated => bytes.truncate(bytes.len().saturating_sub(4)),
        Stray::Oversized(len) => bytes.resize(len.max(bytes.len() + 1), 0),
        Stray::WrongSource => return (bytes, true),
        Stray::WrongOpcode => bytes[1] &= 0x7f,
        Stray::WrongVersion => bytes[0] = 3,
        Stray::WrongNonce if pcp && bytes.len() >= 60 => bytes[24] ^= 0xff,
        Stray::WrongInternalPort if pcp && bytes.len() >= 60 => bytes[41] ^= 0x01,
        Stray::WrongInternalPort if !pcp && bytes.len() == 16 => bytes[9] ^= 0x01,
        Stray::WrongNonce | Stray::WrongInternalPort => {}
    }
    (bytes, false)
}

fn epoch(state: &State) -> u32 {
    state.config.epoch_start.wrapping_add(state.started.elapsed().as_secs() as u32)
}

fn answer_for(state: &mut State, request: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
    match request.first()? {
        0 if state.config.natpmp => natpmp_answer(state, request),
        0 => None,
        2 if state.config.pcp => pcp_answer(state, request, peer),
        _ if state.config.natpmp => {
            // A NAT-PMP-only router: version 0, opcode 128 + request opcode, result 1.
            let mut answer = vec![0, 0x80 | request.get(1).copied().unwrap_or(0) & 0x7f, 0, 1];
            answer.extend_from_slice(&epoch(state).to_be_bytes());
            Some(answer)
        }
        _ => None,
    }
}

fn natpmp_answer(state: &mut State, request: &[u8]) -> Option<Vec<u8>> {
    let opcode = *request.get(1)?;
    let mut answer = vec![0, 0x80 | opcode];
    let epoch = epoch(state);
    let refusal = |answer: &mut Vec<u8>, code: u16, full: usize, short: bool| {
        answer.extend_from_slice(&code.to_be_bytes());
        answer.extend_from_slice(&epoch.to_be_bytes());
        if !short {
            answer.resize(full, 0);
        }
    };
    match opcode {
        0 if request.len() == 2 => {
            if let Some(code) = state.config.external_address_result {
                refusal(&mut answer, code, 12, state.config.short_refusals);
                return Some(answer);
            }
            answer.extend_from_slice(&[0, 0]);
            answer.extend_from_slice(&epoch.to_be_bytes());
            answer.extend_from_slice(&state.config.external_address.octets());
            Some(answer)
        }
        1 | 2 if request.len() == 12 => {
            let protocol = if opcode == 1 { 17 } else { 6 };
            let internal_port = u16::from_be_bytes([request[4], request[5]]);
            let suggested = u16::from_be_bytes([request[6], request[7]]);
            let lifetime = u32::from_be_bytes([request[8], request[9], request[10], request[11]]);
            let denied = state.config.denied_ports.contains(&internal_port);
            if let Some(code) = state.config.result.or(denied.then_some(2)) {
                refusal(&mut answer, code, 16, state.config.short_refusals);
                return Some(answer);
            }
            let (external_port, granted) = if lifetime == 0 {
                state.table.remove(&(protocol, internal_port));
                (0, 0)
            } else {
                let external_port = if suggested == 0 { internal_port } else { suggested };
                let granted = lifetime.min(state.config.max_lifetime);
                let mapping = PmpMapping { protocol, internal_port, external_port, nonce: [0; 12], lifetime: granted, pcp: false };
                state.table.insert((protocol, internal_port), mapping);
                (external_port, granted)
            };
            answer.extend_from_slice(&[0, 0]);
            answer.extend_from_slice(&epoch.to_be_bytes());
            answer.extend_from_slice(&internal_port.to_be_bytes());
            answer.extend_from_slice(&external_port.to_be_bytes());
            answer.extend_from_slice(&granted.to_be_bytes());
            Some(answer)
        }
        _ => {
            refusal(&mut answer, 5, 8, true);
            Some(answer)
        }
    }
}

fn mapped_v4(address: Ipv4Addr) -> [u8; 16] {
    address.to_ipv6_mapped().octets()
}

fn pcp_answer(state: &mut State, request: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
    if request.len() < 24 || request.len() > 1100 || !request.len().is_multiple_of(4) || request[1] & 0x80 != 0 {
        return None;
    }
    let opcode = request[1];
    let epoch = epoch(state);
    let header = |result: u8, lifetime: u32| {
        let mut answer = vec![2, 0x80 | opcode, 0, result];
        answer.extend_from_slice(&lifetime.to_be_bytes());
        answer.extend_from_slice(&epoch.to_be_bytes());
        answer.extend_from_slice(&[0; 12]);
        answer
    };
    if state.config.pcp_unsupp_version {
        return Some(header(1, 0));
    }
    let mut client = [0u8; 16];
    client.copy_from_slice(&request[8..24]);
    let peer_ip = match peer.ip() {
        IpAddr::V4(v4) => mapped_v4(v4),
        IpAddr::V6(v6) => v6.octets(),
    };
    match opcode {
        0 => Some(header(state.config.result.map(|code| code as u8).unwrap_or(0), 0)),
        1 if request.len() >= 60 => {
            let lifetime = u32::from_be_bytes([request[4], request[5], request[6], request[7]]);
            let mut nonce = [0u8; 12];
            nonce.copy_from_slice(&request[24..36]);
            let protocol = request[36];
            let internal_port = u16::from_be_bytes([request[40], request[41]]);
            let suggested = u16::from_be_bytes([request[42], request[43]]);
            let existing = state.table.get(&(protocol, internal_port)).copied();
            let denied = state.config.denied_ports.contains(&internal_port);
            let code = if client != peer_ip {
                Some(12) // ADDRESS_MISMATCH
            } else if existing.is_some_and(|mapping| mapping.nonce != nonce) || denied {
                Some(2) // NOT_AUTHORIZED
            } else {
                state.config.result.map(|code| code as u8)
            };
            let (result, granted, external_port) = match code {
                Some(code) => (code, if code == 0 { lifetime } else { 30 }, suggested),
                None if lifetime == 0 => {
                    state.table.remove(&(protocol, internal_port));
                    (0, 0, existing.map_or(suggested, |mapping| mapping.external_port))
                }
                None => {
                    let external_port = existing.map(|mapping| mapping.external_port).unwrap_or(if suggested == 0 { internal_port } else { suggested });
                    let granted = lifetime.min(state.config.max_lifetime);
                    let mapping = PmpMapping { protocol, internal_port, external_port, nonce, lifetime: granted, pcp: true };
                    state.table.insert((protocol, internal_port), mapping);
                    (0, granted, external_port)
                }
            };
            let mut answer = header(result, granted);
            answer.extend_from_slice(&nonce);
            answer.extend_from_slice(&[protocol, 0, 0, 0]);
            answer.extend_from_slice(&internal_port.to_be_bytes());
            answer.extend_from_slice(&external_port.to_be_bytes());
            answer.extend_from_slice(&mapped_v4(state.config.external_address));
            Some(answer)
        }
        _ => Some(header(4, 0)), // UNSUPP_OPCODE
    }
}
