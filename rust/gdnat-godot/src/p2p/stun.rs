//! `NatStun`: the public endpoint of a UDP port (STUN Binding, RFC 8489) and the NAT's
//! behaviour (RFC 5780), each on a background thread with a signal.

use std::net::{IpAddr, SocketAddr};

use gdnat_stun::{DiscoveryOptions, NatVerdict};
use godot::prelude::*;

use super::task::{self, Pumped, Task};

/// What a NatStun thread reports.
pub enum StunMessage {
    /// `query_async` finished.
    Queried { result: i32, error: String, public: Option<SocketAddr>, local_port: u16 },
    /// `probe_behaviour_async` finished.
    Probed { result: i32, error: String, mapping: String, filtering: String, verdict: String, public: Option<SocketAddr> },
}

/// Asks a STUN server how the internet sees this machine: the public address and port of a
/// UDP port (STUN Binding, RFC 8489), and how the NAT in front of it behaves (RFC 5780 NAT
/// behaviour discovery). Every call returns at once; the network work runs on a background
/// thread and the result arrives as a signal on the main thread, so no frame waits.
/// [codeblock]
/// var stun := NatStun.new()
/// stun.query_async("198.18.0.10", 3478, 0)
/// var r = await stun.queried   # [result, public_address, public_port, local_port]
/// if r[0] == NatStun.RESULT_OK:
///     print("UDP port %d is %s:%d on the internet" % [r[3], r[1], r[2]])
/// else:
///     print(stun.last_error)
/// [/codeblock]
///
/// Servers are given as IP address literals (resolve host names first, for example with
/// [method IP.resolve_hostname]). gdnat has no default server and its tests never leave their
/// network namespaces: a game passes its own server (see docs/p2p.md for common choices).
///
/// One operation at a time per object: a call while another one runs returns [constant
/// RESULT_BUSY]. A call that returns anything but [constant RESULT_OK] started nothing and no
/// signal follows; its reason is printed and kept in [member last_error]. Freeing the object or
/// calling [method cancel] ends the running operation at once (no signal then).
///
/// Bounds: a query gives up after 3 s (sends at 0, 100, 300, 700 and 1500 ms); a behaviour
/// probe takes about 0.5 s behind a filtering NAT (the "no answer" wait) and at most a few
/// seconds when the server does not answer.
#[derive(GodotClass)]
#[class(base = RefCounted, init)]
pub struct NatStun {
    /// Why the last operation failed ("" after a success).
    #[var(no_set)]
    last_error: GString,
    task: Option<Task<StunMessage>>,
    base: Base<RefCounted>,
}

#[godot_api]
impl NatStun {
    /// Success.
    #[constant]
    pub const RESULT_OK: i32 = 0;
    /// The local UDP port is in use or not allowed.
    #[constant]
    pub const RESULT_BIND_FAILED: i32 = 1;
    /// No usable answer from the server within the bound (3 s per request).
    #[constant]
    pub const RESULT_TIMED_OUT: i32 = 2;
    /// Sending or waiting failed (no route to the server, socket error).
    #[constant]
    pub const RESULT_IO_ERROR: i32 = 4;
    /// The server answered with a STUN error (for example 420 from a server without RFC 5780).
    #[constant]
    pub const RESULT_SERVER_ERROR: i32 = 5;
    /// The server's answer to our request was malformed or had no mapped address.
    #[constant]
    pub const RESULT_BAD_ANSWER: i32 = 6;
    /// The server does not support RFC 5780 (no second address): no behaviour probe possible.
    #[constant]
    pub const RESULT_NO_RFC5780: i32 = 7;
    /// An argument was invalid (not an IP address, port out of range); nothing started.
    #[constant]
    pub const RESULT_INVALID_ARGUMENT: i32 = 20;
    /// Another operation of this object is running; nothing started.
    #[constant]
    pub const RESULT_BUSY: i32 = 21;
    /// No background thread could be started; nothing started.
    #[constant]
    pub const RESULT_NO_THREAD: i32 = 22;

    /// Emitted when [method query_async] is done: `result` is a `RESULT_*` constant; on
    /// success `public_address:public_port` is how the server saw `local_port` (the local UDP
    /// port used, chosen by the system when 0 was passed). On failure the address is "" and
    /// the ports are 0; [member last_error] says why.
    #[signal]
    fn queried(result: i32, public_address: GString, public_port: i32, local_port: i32);

    /// Emitted when [method probe_behaviour_async] is done. `mapping` and `filtering` are
    /// `"endpoint-independent"`, `"address-dependent"` or `"address-and-port-dependent"`
    /// (RFC 5780). Endpoint-independent mapping is what hole punching needs; anything else is a
    /// "symmetric" NAT, for which a relay is needed unless the other side filters nothing.
    /// `verdict` is `"no-nat"`, `"one-nat"`, `"double-nat"`, `"carrier-grade-nat"`,
    /// `"behind-nat"` or `"unknown"` (docs/p2p.md, "The NAT verdict"). On failure the strings
    /// are "" and [member last_error] says why.
    #[signal]
    fn behaviour_probed(result: i32, mapping: GString, filtering: GString, verdict: GString);

    /// Asks the STUN server at `server_address:server_port` for the public endpoint of UDP
    /// `local_port` (0: any free port). The port is bound for the query and closed again, so
    /// the game can bind it next (the NAT keeps the mapping for 30 s or more). Returns
    /// [constant RESULT_OK] and emits [signal queried] later, or another `RESULT_*` code at
    /// once (nothing started, no signal).
    #[func]
    fn query_async(&mut self, server_address: GString, server_port: i64, local_port: i64) -> i32 {
        let args = task::socket_addr(&server_address.to_string(), server_port).and_then(|server| Ok((server, task::local_port(local_port)?)));
        let (server, port) = match args {
            Ok(args) => args,
            Err(message) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatStun.query_async(): {message}")),
        };
        self.start("gdnat-stun", move |waiter, sender| {
            let message = match gdnat_stun::query_port(port, server, waiter) {
                Ok(binding) => StunMessage::Queried { result: 0, error: String::new(), public: Some(binding.public), local_port: binding.local.port() },
                Err(gdnat_stun::StunError::Cancelled) => return,
                Err(error) => StunMessage::Queried { result: error.code() as i32, error: error.to_string(), public: None, local_port: port },
            };
            let _ = sender.send(message);
        })
    }

    /// Probes the NAT's mapping and filtering behaviour (RFC 5780) against the STUN server at
    /// `server_address:server_port`, which must have two addresses (coturn with two
    /// `listening-ip`). `router_external` is the router's external address as UPnP, NAT-PMP or
    /// PCP reported it ("" if unknown): with it the verdict tells one NAT from a double or
    /// carrier-grade NAT. Returns [constant RESULT_OK] and emits [signal behaviour_probed]
    /// later, or another `RESULT_*` code at once. No hairpin probes are sent.
    #[func]
    fn probe_behaviour_async(&mut self, server_address: GString, server_port: i64, router_external: GString) -> i32 {
        let server = match task::socket_addr(&server_address.to_string(), server_port) {
            Ok(server) => server,
            Err(message) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatStun.probe_behaviour_async(): {message}")),
        };
        let router = router_external.to_string();
        let router: Option<IpAddr> = match router.trim() {
            "" => None,
            text => match text.parse() {
                Ok(ip) => Some(ip),
                Err(_) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatStun.probe_behaviour_async(): router_external '{text}' is not an IP address")),
            },
        };
        self.start("gdnat-nat-probe", move |waiter, sender| {
            let message = match gdnat_stun::discover(server, &DiscoveryOptions::default(), waiter) {
                Ok(behaviour) => {
                    let verdict: NatVerdict = gdnat_stun::nat_verdict(behaviour.local.ip(), router, Some(behaviour.public.ip()));
                    StunMessage::Probed {
                        result: 0,
                        error: String::new(),
                        mapping: behaviour.mapping.as_str().into(),
                        filtering: behaviour.filtering.as_str().into(),
                        verdict: verdict.as_str().into(),
                        public: Some(behaviour.public),
                    }
                }
                Err(error) if error.code() == 3 => return, // cancelled
                Err(error) => StunMessage::Probed {
                    result: error.code() as i32,
                    error: error.to_string(),
                    mapping: String::new(),
                    filtering: String::new(),
                    verdict: String::new(),
                    public: None,
                },
            };
            let _ = sender.send(message);
        })
    }

    /// Ends the running operation at once; its signal is not emitted.
    #[func]
    fn cancel(&mut self) {
        self.task = None;
    }

    /// Whether an operation is running (its signal has not been emitted yet).
    #[func]
    fn is_busy(&self) -> bool {
        self.task.is_some()
    }
}

impl NatStun {
    fn refuse(&mut self, code: i32, message: &str) -> i32 {
        godot_error!("{message}");
        self.last_error = message.into();
        code
    }

    fn start(&mut self, name: &str, work: impl FnOnce(&gdnat_io::Waiter, &std::sync::mpsc::SyncSender<StunMessage>) + Send + 'static) -> i32 {
        if self.task.is_some() {
            return self.refuse(Self::RESULT_BUSY, "NatStun: another operation of this object is running (await its signal or call cancel())");
        }
        match Task::spawn(name, work) {
            Ok(task) => {
                self.task = Some(task);
                task::pump::<Self>(self.base().instance_id());
                Self::RESULT_OK
            }
            Err(error) => self.refuse(Self::RESULT_NO_THREAD, &format!("NatStun: {}", error.0)),
        }
    }
}

impl Pumped for NatStun {
    type Message = StunMessage;

    fn drain(&mut self) -> (Vec<StunMessage>, bool) {
        let Some(task) = self.task.as_mut() else { return (Vec::new(), false) };
        let messages = task.take_messages();
        // One message ends an operation; a thread that ended silently (cancelled) too.
        if !messages.is_empty() || task.is_ended() {
            self.task = None;
        }
        (messages, self.task.is_some())
    }

    fn deliver(this: &mut Gd<Self>, message: StunMessage) {
        match message {
            StunMessage::Queried { result, error, public, local_port } => {
                this.bind_mut().last_error = error.as_str().into();
                if !error.is_empty() {
                    godot_warn!("NatStun.query_async(): {error}");
                }
                let (address, port) = public.map_or((String::new(), 0), |p| (p.ip().to_string(), i32::from(p.port())));
                this.signals().queried().emit(result, address.as_str(), port, i32::from(local_port));
            }
            StunMessage::Probed { result, error, mapping, filtering, verdict, public: _ } => {
                this.bind_mut().last_error = error.as_str().into();
                if !error.is_empty() {
                    godot_warn!("NatStun.probe_behaviour_async(): {error}");
                }
                this.signals().behaviour_probed().emit(result, mapping.as_str(), filtering.as_str(), verdict.as_str());
            }
        }
    }
}
