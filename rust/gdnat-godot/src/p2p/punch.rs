//! `NatPunch`: UDP hole punching towards a peer's public endpoint on a background thread, with
//! `punched` / `punch_failed` signals.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::time::Duration;

use gdnat_punch::packet::{Kind, Packet};
use gdnat_punch::{NatContext, PunchError, PunchOptions, RoomToken};
use gdnat_stun::Mapping;
use godot::prelude::*;

use super::task::{self, Pumped, Task};

/// What a NatPunch thread reports.
pub enum PunchMessage {
    /// The punch went through.
    Punched { peer: SocketAddr, local_port: u16, first_contact: Duration, elapsed: Duration },
    /// It did not.
    Failed { result: i32, reason: String },
}

/// UDP hole punching: both players call [method punch_async] at about the same time, each
/// towards the other's public endpoint (from [NatRendezvous]) and from the UDP port whose
/// public endpoint it announced (from [NatStun]). Both send small probes every 150 ms for up
/// to 8 s per round; the first probe that gets through both NATs is answered with three
/// acknowledgements, and [signal punched] reports where the peer's packets come from. The
/// punch socket is then closed, and the same local port is free for ENet:
/// [codeblock]
/// var punch := NatPunch.new()
/// punch.punch_async(local_port, peer_address, peer_port, "my-game/lobby-42")
/// var r = await punch.punched   # or punch.punch_failed: [result, reason]
/// var enet := ENetMultiplayerPeer.new()
/// # host: enet.create_server(local_port)
/// # client: enet.create_client(r[0], r[1], 0, 0, 0, local_port)
/// [/codeblock]
/// Do this right away: the NAT keeps the punched entry for about 30 s without traffic. Do not
/// enable ENet compression before connecting on the punched port (docs/p2p.md, "ENet hand-off").
///
/// Probes carry a token derived from the room name, so a stray packet or another room's
/// probe is never taken for the peer. A punch between two NATs that give every destination
/// another public port ("symmetric") cannot work: it fails with [constant RESULT_NO_CONTACT]
/// and a reason naming our NAT's behaviour (set [member nat_mapping] from
/// [signal NatStun.behaviour_probed] for a precise reason).
///
/// A call that returns anything but [constant RESULT_OK] started nothing and no signal
/// follows; its reason is printed and kept in [member last_error]. Freeing the object or
/// [method cancel] ends the punch at once (no signal then).
#[derive(GodotClass)]
#[class(base = RefCounted, init)]
pub struct NatPunch {
    /// Our NAT's mapping behaviour as [signal NatStun.behaviour_probed] reported it
    /// (`"endpoint-independent"`, `"address-dependent"`, `"address-and-port-dependent"`), or ""
    /// when unknown. Only used to explain a failure.
    #[var]
    nat_mapping: GString,
    /// Rounds of 8 s of probing (1 to 3; default 1), 5 s apart. A failing punch ends after
    /// `rounds × 8 s + (rounds − 1) × 5 s`.
    #[var(set = set_rounds)]
    #[init(val = 1)]
    rounds: i64,
    /// Why the last punch failed ("" after a success).
    #[var(no_set)]
    last_error: GString,
    /// Milliseconds from the first probe to the first packet from the peer (last success).
    #[var(no_set)]
    first_contact_ms: f64,
    task: Option<Task<PunchMessage>>,
    base: Base<RefCounted>,
}

#[godot_api]
impl NatPunch {
    /// Success.
    #[constant]
    pub const RESULT_OK: i32 = 0;
    /// The local port is in use (close every socket on it first, e.g. a PacketPeerUDP).
    #[constant]
    pub const RESULT_BIND_FAILED: i32 = 1;
    /// No packet from the peer within the bound; the reason names the NAT behaviour.
    #[constant]
    pub const RESULT_NO_CONTACT: i32 = 2;
    /// The socket failed.
    #[constant]
    pub const RESULT_IO_ERROR: i32 = 4;
    /// An argument was invalid; nothing started.
    #[constant]
    pub const RESULT_INVALID_ARGUMENT: i32 = 20;
    /// A punch of this object is running; nothing started.
    #[constant]
    pub const RESULT_BUSY: i32 = 21;
    /// No background thread could be started; nothing started.
    #[constant]
    pub const RESULT_NO_THREAD: i32 = 22;

    /// Emitted when the punch went through: the peer's packets come from `address:port` (send
    /// the game's traffic there), and `local_port` is ours, closed again and ready for ENet.
    #[signal]
    fn punched(address: GString, port: i32, local_port: i32);

    /// Emitted when the punch failed: `result` is a `RESULT_*` constant, `reason` a sentence
    /// for logs and players (for two symmetric NATs: "... a relay (TURN) is needed").
    #[signal]
    fn punch_failed(result: i32, reason: GString);

    /// Punches from UDP `local_port` (the port whose public endpoint was announced; it must be
    /// free) towards `peer_address:peer_port` (the peer's public endpoint from the room), with
    /// probes tagged for `room`. Returns [constant RESULT_OK] and emits [signal punched] or
    /// [signal punch_failed] later, or another `RESULT_*` code at once.
    #[func]
    fn punch_async(&mut self, local_port: i64, peer_address: GString, peer_port: i64, room: GString) -> i32 {
        let port = match task::local_port(local_port) {
            Ok(0) | Err(_) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatPunch.punch_async(): local port {local_port} is outside 1-65535")),
            Ok(port) => port,
        };
        let peer = match task::socket_addr(&peer_address.to_string(), peer_port) {
            Ok(peer) => peer,
            Err(message) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatPunch.punch_async(): peer: {message}")),
        };
        let room = room.to_string();
        if room.is_empty() {
            return self.refuse(Self::RESULT_INVALID_ARGUMENT, "NatPunch.punch_async(): the room name is empty");
        }
        let mapping = match self.nat_mapping.to_string().as_str() {
            "" => None,
            "endpoint-independent" => Some(Mapping::EndpointIndependent),
            "address-dependent" => Some(Mapping::AddressDependent),
            "address-and-port-dependent" => Some(Mapping::AddressAndPortDependent),
            other => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatPunch.punch_async(): nat_mapping '{other}' is not one of endpoint-independent, address-dependent, address-and-port-dependent")),
        };
        if self.task.is_some() {
            return self.refuse(Self::RESULT_BUSY, "NatPunch.punch_async(): a punch of this object is running (await its signal or call cancel())");
        }
        let options = PunchOptions { rounds: self.rounds as u32, ..PunchOptions::default() };
        let context = NatContext { mapping, verdict: None };
        let spawned = Task::spawn("gdnat-punch", move |waiter, sender| {
            let message = match gdnat_punch::punch_port(port, peer, &RoomToken::from_room(&room), &context, &options, waiter) {
                Ok(punched) => PunchMessage::Punched { peer: punched.peer, local_port: punched.local_port, first_contact: punched.first_contact, elapsed: punched.elapsed },
                Err(PunchError::Cancelled) => return,
                Err(error) => PunchMessage::Failed { result: error.code() as i32, reason: error.to_string() },
            };
            let _ = sender.send(message);
        });
        match spawned {
            Ok(task) => {
                self.task = Some(task);
                task::pump::<Self>(self.base().instance_id());
                Self::RESULT_OK
            }
            Err(error) => self.refuse(Self::RESULT_NO_THREAD, &format!("NatPunch.punch_async(): {}", error.0)),
        }
    }

    /// Ends the running punch at once and frees its port; no signal is emitted.
    #[func]
    fn cancel(&mut self) {
        self.task = None;
    }

    /// Whether a punch is running.
    #[func]
    fn is_busy(&self) -> bool {
        self.task.is_some()
    }

    /// A 32-byte punch probe for `room`, to send from a socket ENet already owns with
    /// `ENetConnection.socket_send(address, port, packet)`: a host that serves ENet on its
    /// punched port answers a later player's punch this way, and it keeps the NAT entry
    /// towards a peer open. ENet on the other side ignores it.
    #[func]
    fn make_probe(room: GString) -> PackedByteArray {
        let nonce = RandomState::new().build_hasher().finish();
        let packet = Packet { kind: Kind::Probe, sequence: 0, token: RoomToken::from_room(&room.to_string()), nonce };
        PackedByteArray::from(&packet.encode()[..])
    }

    /// Sets [member rounds], clamped to 1-3.
    #[func]
    fn set_rounds(&mut self, value: i64) {
        self.rounds = value.clamp(1, 3);
    }
}

impl NatPunch {
    fn refuse(&mut self, code: i32, message: &str) -> i32 {
        godot_error!("{message}");
        self.last_error = message.into();
        code
    }
}

impl Pumped for NatPunch {
    type Message = PunchMessage;

    fn drain(&mut self) -> (Vec<PunchMessage>, bool) {
        let Some(task) = self.task.as_mut() else { return (Vec::new(), false) };
        let messages = task.take_messages();
        if !messages.is_empty() || task.is_ended() {
            self.task = None;
        }
        (messages, self.task.is_some())
    }

    fn deliver(this: &mut Gd<Self>, message: PunchMessage) {
        match message {
            PunchMessage::Punched { peer, local_port, first_contact, elapsed: _ } => {
                {
                    let mut punch = this.bind_mut();
                    punch.last_error = GString::new();
                    punch.first_contact_ms = first_contact.as_secs_f64() * 1000.0;
                }
                this.signals().punched().emit(peer.ip().to_string().as_str(), i32::from(peer.port()), i32::from(local_port));
            }
            PunchMessage::Failed { result, reason } => {
                godot_warn!("NatPunch: {reason}");
                this.bind_mut().last_error = reason.as_str().into();
                this.signals().punch_failed().emit(result, reason.as_str());
            }
        }
    }
}
