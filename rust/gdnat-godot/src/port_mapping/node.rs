//! The `NatPortMapping` Godot class. All network work runs on the mapping workers
//! ([`gdnat_mapper::MapperWorker`], one per protocol); the node reads their events on the main
//! thread once per frame (internal process) and turns them into its state, properties and
//! signals. No frame ever waits on the network.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::PoisonError;
use std::time::Instant;

use gdnat_mapper::{Command, Event, Granted, LostReason, MapperWorker, State};
use godot::classes::{INode, Node, ProjectSettings};
use godot::prelude::*;

use super::factory::{backend_factory, Found, FoundSlot, Lookup};
use super::memory::{self, MappingRecord};
use super::plan::{self, code, combined_state, is_double_nat, state_code, Settings};

/// Most worker events applied per node and frame (the rest follow on the next frames).
const EVENTS_PER_FRAME: usize = 64;
/// The folder of the records (the gateway, and each mapping with its PCP nonce).
pub const MEMORY_DIR: &str = "user://gdnat";

/// Keeps a port of this game open on the router for the whole session: maps it with PCP,
/// NAT-PMP or UPnP (whichever the router speaks, in that order of preference), renews it
/// before the lease runs out, maps it again when the router restarts or forgets it, reports a
/// new external address when the router's WAN address changes (both noticed by the scheduled
/// renewal, no call needed: [signal lost], then [signal mapped] with the new values), and
/// deletes it when the node leaves the tree or the game quits. [member seconds_to_renewal]
/// counts down to the next renewal.
///
/// Zero code: add the node to a scene, set [member port], run. It starts on `_ready`
/// ([member autostart]). With code:
/// [codeblock]
/// var mapping := NatPortMapping.new()
/// mapping.port = 7777
/// mapping.mapped.connect(func(address, port, method):
///     print("reachable at %s:%d through %s" % [address, port, method]))
/// mapping.failed.connect(func(result, message): push_warning(message))
/// add_child(mapping)  # maps on _ready
/// [/codeblock]
///
/// States ([member state], [signal state_changed]): [constant STATE_IDLE] (not started),
/// [constant STATE_DISCOVERING] (finding the gateway and what it speaks),
/// [constant STATE_MAPPING], [constant STATE_MAPPED] (the router holds it; a renewal is
/// scheduled at a random 50–75 % of the granted lease), [constant STATE_RENEWING],
/// [constant STATE_LOST] (the router restarted, the lease ran out, or the external address
/// changed; it is mapped again at once), [constant STATE_FAILED] (mapping failed; another try
/// follows 30 s later, unless the settings themselves are bad or no gateway answered) and
/// [constant STATE_RELEASED] (stopped; the mapping was deleted).
///
/// Signals come on the main thread, at the earliest one frame after the call that caused
/// them, so connecting in the parent's `_ready` (which runs after this node's) catches every
/// one. Bad settings ([member port] 0 or out of range, an unknown [member protocol], a
/// [member lease_seconds] out of range, no allowed protocol, a bad [member gateway]) are
/// reported by [signal failed] with a `RESULT_*` code and a message naming the property;
/// nothing is sent then.
///
/// Protocol `"BOTH"` keeps a UDP and a TCP mapping of the same port: the node is
/// [constant STATE_MAPPED] only when both are, and [member external_port] is the UDP one.
///
/// [method stop] while the gateway is still being found lets the worker finish that step
/// (bounded by the 1 s probe and, when a router answered SSDP, its description download),
/// map, then delete at once.
///
/// After a crash the next start takes over the mapping the crashed run left on the same port,
/// or removes it first when it sat on another external port (a conflict had given it another
/// one) or when the crashed run asked another port (the game changed its port): only this
/// host's own mapping, never another host's, one with another description, or one a running
/// node holds (each node locks its record file in `user://gdnat` while it lives).
///
/// Clean-up: [method stop], leaving the tree, freeing the node and quitting the game delete
/// exactly the mappings this node made (never another one), on a background thread; quitting
/// waits for those deletions, each bounded by a few seconds (2 s per call, 6 s at most) even
/// when the router stopped answering. When the node leaves the tree it does not emit
/// [signal released]; call [method stop] and await [signal released] to know the router's
/// entry is gone. A node that was removed and is added again does not start by itself
/// (Godot sends `_ready` once): call [method start]. The node processes while the scene
/// tree runs; a paused tree (or a [member Node.process_mode] that stops it) delays the
/// signals, not the renewals.
#[derive(GodotClass)]
#[class(base = Node, init)]
pub struct NatPortMapping {
    /// The external port to open on the router (1–65535). The router may grant another one
    /// when this one is taken (see [member external_port]).
    #[var(hint = RANGE, hint_string = "1,65535", usage_flags = [STORAGE, EDITOR])]
    #[init(val = 7777)]
    port: i32,

    /// The port on this machine that the router forwards to; 0 (the default) means the same
    /// as [member port]. It never changes across renewals.
    #[var(hint = RANGE, hint_string = "0,65535", usage_flags = [STORAGE, EDITOR])]
    internal_port: i32,

    /// `"UDP"` (the default), `"TCP"` or `"BOTH"` (any case).
    #[var(hint = ENUM, hint_string = "UDP,TCP,BOTH", usage_flags = [STORAGE, EDITOR])]
    #[init(val = GString::from("UDP"))]
    protocol: GString,

    /// The mapping's description on the router (UPnP shows it in its table).
    #[var(usage_flags = [STORAGE, EDITOR])]
    #[init(val = GString::from("gdnat"))]
    description: GString,

    /// The lease asked for, in seconds (2–86400, default 3600). The mapping is renewed at a
    /// random 50–75 % of the lease the router grants (routers may grant more: miniupnpd
    /// grants PCP leases of at least 120 s).
    #[var(hint = RANGE, hint_string = "2,86400", usage_flags = [STORAGE, EDITOR])]
    #[init(val = 3600)]
    lease_seconds: i32,

    /// Which protocols may be used, as flags: [constant PROTOCOL_PCP] (1),
    /// [constant PROTOCOL_NAT_PMP] (2), [constant PROTOCOL_UPNP] (4); all three by default.
    /// The first one the router speaks is used, in the order PCP, NAT-PMP, UPnP.
    #[var(hint = FLAGS, hint_string = "PCP,NAT-PMP,UPnP", usage_flags = [STORAGE, EDITOR])]
    #[init(val = plan::ALLOW_ALL)]
    allowed_protocols: i32,

    /// Start mapping when the node is ready (the default). Off: call [method start].
    #[var(usage_flags = [STORAGE, EDITOR])]
    #[init(val = true)]
    autostart: bool,

    /// The router's address for PCP and NAT-PMP. Empty (the default): the default route's
    /// next hop. UPnP finds its router by discovery either way.
    #[var(usage_flags = [STORAGE, EDITOR])]
    gateway: GString,

    /// The current state, one of the `STATE_*` constants (read-only).
    #[var(no_set)]
    state: i32,

    /// The router's external address of the mapping, empty until mapped (read-only).
    #[var(no_set)]
    external_address: GString,

    /// The external port the router granted, 0 until mapped (read-only).
    #[var(no_set)]
    external_port: i32,

    /// The protocol in use: `"PCP"`, `"NAT-PMP"` or `"UPnP"`; empty until mapped (read-only).
    #[var(no_set)]
    method: GString,

    /// Whether the external address is itself private (10/8, 172.16/12, 192.168/16, shared
    /// 100.64/10, link-local, IPv6 unique-local): another NAT sits between the router and the
    /// internet, so the port is not reachable from the internet (read-only).
    #[var(no_set)]
    double_nat: bool,

    /// How the gateway and its protocol were found (read-only): `"record"` (remembered in
    /// `user://gdnat/` from an earlier run and checked with one request, no discovery),
    /// `"probe"` (PCP, NAT-PMP and UPnP asked at the same time, or a probe another node made
    /// in this run), or empty before that.
    #[var(no_set)]
    gateway_source: GString,

    /// Seconds until the next scheduled renewal while [constant STATE_MAPPED] (read-only; the
    /// same as [method get_seconds_to_renewal]), -1 in every other state; 0 once the renewal
    /// is due (a renewal that failed and is retried before the lease runs out stays at 0 until
    /// it succeeds). The demo scene shows it.
    #[var(get = get_seconds_to_renewal, no_set)]
    #[allow(dead_code)] // only the property's slot: its getter computes the value
    seconds_to_renewal: f64,

    slots: Vec<Slot>,
    notices: VecDeque<Notice>,
    renew_at: Option<Instant>,
    base: Base<Node>,
}

/// One protocol's mapping worker and what the node knows of it.
struct Slot {
    worker: Option<MapperWorker>,
    found: FoundSlot,
    record: Option<PathBuf>,
    /// The lock on `record`'s asked port (`memory::try_lock`), released with the slot.
    _lock: Option<memory::RecordLock>,
    state: State,
    granted: Option<Granted>,
    renew_at: Option<Instant>,
}

/// A result known on the main thread, delivered on the next frame like the worker's events.
enum Notice {
    Failed(i32, String),
    Released,
}

#[godot_api]
impl NatPortMapping {
    /// Not started.
    #[constant]
    const STATE_IDLE: i32 = 0;
    /// Finding the gateway and which protocols it speaks.
    #[constant]
    const STATE_DISCOVERING: i32 = 1;
    /// Asking the router for the mapping.
    #[constant]
    const STATE_MAPPING: i32 = 2;
    /// The router holds the mapping; a renewal is scheduled.
    #[constant]
    const STATE_MAPPED: i32 = 3;
    /// Renewing the mapping.
    #[constant]
    const STATE_RENEWING: i32 = 4;
    /// The mapping was lost (router restarted, lease ran out, external address changed); it
    /// is being mapped again.
    #[constant]
    const STATE_LOST: i32 = 5;
    /// Mapping failed (see [signal failed]).
    #[constant]
    const STATE_FAILED: i32 = 6;
    /// Stopped; the mapping was deleted (or never made).
    #[constant]
    const STATE_RELEASED: i32 = 7;

    /// [member allowed_protocols] flag: PCP (RFC 6887).
    #[constant]
    const PROTOCOL_PCP: i32 = plan::ALLOW_PCP;
    /// [member allowed_protocols] flag: NAT-PMP (RFC 6886).
    #[constant]
    const PROTOCOL_NAT_PMP: i32 = plan::ALLOW_NAT_PMP;
    /// [member allowed_protocols] flag: UPnP IGD.
    #[constant]
    const PROTOCOL_UPNP: i32 = plan::ALLOW_UPNP;

    /// Success (what [method start] returns when it started).
    #[constant]
    const RESULT_OK: i32 = code::OK;
    /// [member port] is not in 1–65535, or [member internal_port] not in 0–65535.
    #[constant]
    const RESULT_INVALID_PORT: i32 = code::INVALID_PORT;
    /// [member protocol] is not `"UDP"`, `"TCP"` or `"BOTH"`.
    #[constant]
    const RESULT_INVALID_PROTOCOL: i32 = code::INVALID_PROTOCOL;
    /// [member lease_seconds] is not in 2–86400.
    #[constant]
    const RESULT_INVALID_LEASE: i32 = code::INVALID_LEASE;
    /// [member allowed_protocols] allows none of PCP, NAT-PMP and UPnP.
    #[constant]
    const RESULT_NO_PROTOCOL_ALLOWED: i32 = code::NO_PROTOCOL_ALLOWED;
    /// [member gateway] is neither empty nor an IP address.
    #[constant]
    const RESULT_INVALID_GATEWAY: i32 = code::INVALID_GATEWAY;
    /// No default gateway, or the gateway answered none of the allowed protocols (within
    /// 1 s each, probed at the same time). No retry follows: [signal released] comes right
    /// after [signal failed] (nothing is held); call [method start] again.
    #[constant]
    const RESULT_NO_GATEWAY: i32 = code::NO_GATEWAY;
    /// The router refused the mapping; the message names its answer. Retried 30 s later.
    #[constant]
    const RESULT_REFUSED: i32 = code::REFUSED;
    /// The router stopped answering (2 s per call). Retried 30 s later.
    #[constant]
    const RESULT_NO_ANSWER: i32 = code::NO_ANSWER;
    /// A socket or HTTP failure on this machine. Retried 30 s later.
    #[constant]
    const RESULT_IO_ERROR: i32 = code::IO_ERROR;
    /// The work was cancelled (the node stopped).
    #[constant]
    const RESULT_CANCELLED: i32 = code::CANCELLED;
    /// [method start] was called while the node is outside the scene tree (returned only;
    /// no signal).
    #[constant]
    const RESULT_NOT_IN_TREE: i32 = code::NOT_IN_TREE;
    /// [method start] was called while the node runs already (returned only; no signal).
    #[constant]
    const RESULT_ALREADY_STARTED: i32 = code::ALREADY_STARTED;
    /// Another argument the mapper refused; the message says which.
    #[constant]
    const RESULT_INVALID_ARGUMENT: i32 = code::INVALID_ARGUMENT;

    /// The state changed; `state` is one of the `STATE_*` constants.
    #[signal]
    fn state_changed(state: i32);

    /// The router holds the mapping (first time, or again after [signal lost]): the game is
    /// reachable at `external_address:external_port`; `method` is `"PCP"`, `"NAT-PMP"` or
    /// `"UPnP"`.
    #[signal]
    fn mapped(external_address: GString, external_port: i32, method: GString);

    /// A renewal kept the same external address and port (for `"BOTH"`, once per protocol).
    #[signal]
    fn renewed();

    /// The mapping was lost: `reason` is `"gateway_restarted"`, `"expired"` or
    /// `"external_changed"`. It is mapped again at once ([signal mapped] follows on success).
    #[signal]
    fn lost(reason: GString);

    /// Mapping failed: `result` is one of the `RESULT_*` constants, `message` says why. A
    /// failed renewal that is retried before the lease runs out is only printed as a warning.
    #[signal]
    fn failed(result: i32, message: GString);

    /// Stopped: the mapping was deleted from the router (or never made).
    #[signal]
    fn released();

    /// Starts mapping with the current properties (done by itself on `_ready` when
    /// [member autostart] is on). Returns [constant RESULT_OK] when started, or a `RESULT_*`
    /// code; bad settings are also reported by [signal failed] on the next frame, and the
    /// state becomes [constant STATE_FAILED]. Never waits on the network.
    #[func]
    pub fn start(&mut self) -> i32 {
        if self.slots.iter().any(|slot| slot.worker.is_some()) {
            return code::ALREADY_STARTED;
        }
        if !self.base().is_inside_tree() {
            godot_error!("NatPortMapping.start(): the node is not inside the scene tree (result {}); add it to the tree first.", code::NOT_IN_TREE);
            return code::NOT_IN_TREE;
        }
        self.base_mut().set_process_internal(true);
        let settings = Settings {
            port: i64::from(self.port),
            internal_port: i64::from(self.internal_port),
            protocol: self.protocol.to_string(),
            description: self.description.to_string(),
            lease_seconds: i64::from(self.lease_seconds),
            allowed_protocols: i64::from(self.allowed_protocols),
            gateway: self.gateway.to_string(),
        };
        self.clear_mapping();
        self.slots.clear();
        let plan = match plan::plan(&settings) {
            Ok(plan) => plan,
            Err(refusal) => {
                godot_error!("NatPortMapping: {} (result {})", refusal.message, refusal.code);
                self.notices.push_back(Notice::Failed(refusal.code, refusal.message.clone()));
                return refusal.code;
            }
        };
        let memory = Some(PathBuf::from(ProjectSettings::singleton().globalize_path(MEMORY_DIR).to_string()));
        for request in plan.requests {
            let lookup = Lookup { methods: plan.methods.clone(), gateway: plan.gateway, memory: memory.clone(), protocol: request.protocol, port: request.external_port, description: request.description.clone() };
            let record = memory.as_deref().map(|dir| memory::mapping_record_path(dir, request.protocol, request.external_port));
            // Held while this slot lives, so no other start takes its record for a crashed
            // run's (best effort: another copy of the game may hold the same port's).
            let lock = memory.as_deref().and_then(|dir| memory::try_lock(dir, request.protocol, request.external_port));
            let found = FoundSlot::default();
            match MapperWorker::spawn(backend_factory(lookup, found.clone()), request) {
                Ok(worker) => self.slots.push(Slot { worker: Some(worker), found, record, _lock: lock, state: State::Idle, granted: None, renew_at: None }),
                Err(error) => {
                    self.stop();
                    let message = format!("cannot start the mapping worker: {error}");
                    godot_error!("NatPortMapping: {message}");
                    self.notices.push_back(Notice::Failed(code::IO_ERROR, message));
                    return code::IO_ERROR;
                }
            }
        }
        code::OK
    }

    /// Deletes the mapping(s) this node made, on the workers; [signal released] follows when
    /// the router's entries are gone (or at once on the next frame when nothing was mapped).
    /// Call [method start] to map again.
    #[func]
    pub fn stop(&mut self) {
        let mut running = false;
        for slot in &self.slots {
            if let Some(worker) = &slot.worker {
                running |= worker.send(Command::Stop);
            }
        }
        if !running && !matches!(self.state_now(), State::Idle | State::Released) {
            self.notices.push_back(Notice::Released);
        }
    }

    /// Renews the mapping now (or maps again if it was lost or failed) instead of waiting for
    /// the scheduled renewal. Does nothing when the node is not running.
    #[func]
    pub fn refresh(&mut self) {
        for slot in &self.slots {
            if let Some(worker) = &slot.worker {
                worker.send(Command::Refresh);
            }
        }
    }

    /// The current state's name: `"idle"`, `"discovering"`, `"mapping"`, `"mapped"`,
    /// `"renewing"`, `"lost"`, `"failed"` or `"released"`.
    #[func]
    pub fn get_state_name(&self) -> GString {
        GString::from(self.state_now().as_str())
    }

    /// Seconds until the next scheduled renewal, or -1 when none is scheduled (the getter of
    /// [member seconds_to_renewal]).
    #[func]
    pub fn get_seconds_to_renewal(&self) -> f64 {
        match self.renew_at {
            Some(at) if self.state == state_code(State::Mapped) => at.saturating_duration_since(Instant::now()).as_secs_f64(),
            _ => -1.0,
        }
    }
}

#[godot_api]
impl INode for NatPortMapping {
    fn on_notification(&mut self, what: godot::classes::notify::NodeNotification) {
        use godot::classes::notify::NodeNotification as N;
        match what {
            N::READY => {
                self.base_mut().set_process_internal(true);
                if self.autostart {
                    self.start();
                }
            }
            N::INTERNAL_PROCESS => self.poll(),
            N::EXIT_TREE => self.retire_all(),
            _ => {}
        }
    }
}

impl NatPortMapping {
    fn state_now(&self) -> State {
        match self.state {
            1 => State::Discovering,
            2 => State::Mapping,
            3 => State::Mapped,
            4 => State::Renewing,
            5 => State::Lost,
            6 => State::Failed,
            7 => State::Released,
            _ => State::Idle,
        }
    }

    fn emit(&mut self, name: &str, args: &[Variant]) {
        self.base_mut().emit_signal(name, args);
    }

    fn set_state(&mut self, state: State) {
        let value = state_code(state);
        if self.state != value {
            self.state = value;
            self.emit("state_changed", &[value.to_variant()]);
        }
    }

    fn clear_mapping(&mut self) {
        self.external_address = GString::new();
        self.external_port = 0;
        self.method = GString::new();
        self.double_nat = false;
        self.renew_at = None;
        self.gateway_source = GString::new();
    }

    /// The node's state from its slots' states.
    fn update_state(&mut self) {
        let states: Vec<State> = self.slots.iter().map(|slot| slot.state).collect();
        self.set_state(combined_state(&states));
    }

    /// Applies the notices, then up to [`EVENTS_PER_FRAME`] worker events, one at a time
    /// (each signal handler sees the state after its event; it may call back into the node).
    fn poll(&mut self) {
        while let Some(notice) = self.notices.pop_front() {
            match notice {
                Notice::Failed(result, message) => {
                    self.set_state(State::Failed);
                    self.emit("failed", &[result.to_variant(), GString::from(message.as_str()).to_variant()]);
                }
                Notice::Released => {
                    self.clear_mapping();
                    self.set_state(State::Released);
                    self.emit("released", &[]);
                }
            }
        }
        if self.gateway_source.is_empty() {
            let found = self.slots.iter().find_map(|slot| *slot.found.lock().unwrap_or_else(PoisonError::into_inner));
            if let Some(found) = found {
                self.gateway_source = GString::from(found.source);
            }
        }
        for _ in 0..EVENTS_PER_FRAME {
            let Some((index, event)) = self.next_event() else { break };
            self.apply(index, event);
        }
    }

    /// Records a new mapping (with its PCP nonce) so that a crashed run's mapping is taken
    /// over by the next start. A small file in `user://gdnat/`, written once per mapping.
    fn remember(&mut self, index: usize, granted: &Granted) {
        let slot = &self.slots[index];
        let found = *slot.found.lock().unwrap_or_else(PoisonError::into_inner);
        if let (Some(path), Some(Found { gateway, .. })) = (&slot.record, found) {
            if let Err(error) = MappingRecord::of(gateway, granted).save(path) {
                godot_warn!("NatPortMapping: cannot record the mapping in {}: {error}", path.display());
            }
        }
    }

    fn next_event(&mut self) -> Option<(usize, Event)> {
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(worker) = &slot.worker else { continue };
            match worker.events().try_recv() {
                Ok(event) => return Some((index, event)),
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
                // The thread ended without a `Released` (cannot happen; handled anyway).
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return Some((index, Event::Released)),
            }
        }
        None
    }

    fn apply(&mut self, index: usize, event: Event) {
        if index >= self.slots.len() {
            return; // the slots were replaced by a handler's start()
        }
        match event {
            Event::StateChanged(State::Mapped) => {
                // The first mapping becomes Mapped with its Mapped event (which brings the
                // address); a renewal that failed and is retried goes back to Mapped here.
                if self.slots[index].granted.is_some() {
                    self.slots[index].state = State::Mapped;
                    self.update_state();
                }
            }
            Event::StateChanged(state) => {
                self.slots[index].state = state;
                self.update_state();
            }
            Event::Mapped(granted, renew_in) => {
                self.remember(index, &granted);
                self.hold(index, granted, renew_in);
                if self.state_now() == State::Mapped {
                    let (address, port, method) = (self.external_address.clone(), self.external_port, self.method.clone());
                    self.emit("mapped", &[address.to_variant(), port.to_variant(), method.to_variant()]);
                }
            }
            Event::Renewed(granted, renew_in) => {
                self.hold(index, granted, renew_in);
                self.emit("renewed", &[]);
            }
            Event::Lost(reason) => {
                self.slots[index].granted = None;
                self.slots[index].renew_at = None;
                let reason = match reason {
                    LostReason::GatewayRestarted => "gateway_restarted",
                    LostReason::Expired => "expired",
                    LostReason::ExternalChanged { .. } => "external_changed",
                };
                self.emit("lost", &[GString::from(reason).to_variant()]);
            }
            Event::Failed(error) => {
                if self.slots[index].state == State::Failed {
                    self.clear_mapping();
                    let message = GString::from(error.message.as_str());
                    godot_warn!("NatPortMapping: {} (result {})", error.message, plan::result_code(&error));
                    self.emit("failed", &[plan::result_code(&error).to_variant(), message.to_variant()]);
                } else {
                    godot_warn!("NatPortMapping: {} (the mapping is kept; retried before the lease runs out)", error.message);
                }
            }
            Event::Released => {
                let slot = &mut self.slots[index];
                slot.state = State::Released;
                slot.granted = None;
                if let Some(worker) = slot.worker.take() {
                    super::retire(worker, None); // its thread has ended or is ending: joins at once
                }
                if let Some(path) = &slot.record {
                    memory::forget(path); // deleted: nothing to take over after a crash
                }
                let states: Vec<State> = self.slots.iter().map(|slot| slot.state).collect();
                if combined_state(&states) == State::Released {
                    self.clear_mapping();
                    self.set_state(State::Released);
                    self.emit("released", &[]);
                } else {
                    self.update_state();
                }
            }
        }
    }

    /// Takes a granted mapping into the slot and the node's properties (the first slot's,
    /// UDP for `BOTH`, decides the properties), then updates the state.
    fn hold(&mut self, index: usize, granted: Granted, renew_in: std::time::Duration) {
        let slot = &mut self.slots[index];
        slot.state = State::Mapped;
        slot.granted = Some(granted);
        let primary = self.slots.iter().find_map(|slot| slot.granted.clone());
        if let Some(primary) = primary {
            self.external_address = GString::from(primary.external_address.to_string().as_str());
            self.external_port = i32::from(primary.external_port);
            self.method = GString::from(primary.method.as_str());
            self.double_nat = is_double_nat(primary.external_address);
        }
        self.slots[index].renew_at = Some(Instant::now() + renew_in);
        self.renew_at = self.slots.iter().filter_map(|slot| slot.renew_at).min();
        self.update_state();
    }

    /// The node leaves the tree: every worker deletes its mapping in the background.
    fn retire_all(&mut self) {
        for slot in &mut self.slots {
            if let Some(worker) = slot.worker.take() {
                super::retire(worker, slot.record.clone());
            }
            slot.state = State::Released;
        }
        self.notices.clear();
        if !self.slots.is_empty() {
            self.clear_mapping();
            self.state = state_code(State::Released);
        }
    }
}

impl Drop for NatPortMapping {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if let Some(worker) = slot.worker.take() {
                super::retire(worker, slot.record.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_protocol_of_both_is_udp_first() {
        // The node's properties follow the first slot: plan() orders UDP before TCP.
        let settings = super::Settings {
            port: 1,
            internal_port: 0,
            protocol: "BOTH".into(),
            description: String::new(),
            lease_seconds: 60,
            allowed_protocols: 7,
            gateway: String::new(),
        };
        let plan = super::plan::plan(&settings).unwrap();
        assert_eq!(plan.requests[0].protocol, gdnat_pcp::Protocol::Udp);
    }
}
