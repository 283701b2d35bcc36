//! `NatRendezvous`: a room on a BitTorrent UDP tracker (BEP 15), re-announced on a background
//! thread, with a `peers_changed` signal.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gdnat_rendezvous::{Reannouncer, RoomHash, Tracker, TrackerOptions, TrackerRendezvous};
use godot::prelude::*;

use super::task::{self, Pumped, Task};

/// What a NatRendezvous thread reports.
pub enum RendezvousMessage {
    /// The first announce succeeded: the members then.
    Joined { members: Vec<SocketAddr> },
    /// The members changed.
    Changed { joined: Vec<SocketAddr>, left: Vec<SocketAddr>, members: Vec<SocketAddr> },
    /// An announce failed: the thread has ended.
    Failed { result: i32, error: String },
    /// `leave()` finished (the `stopped` announce was answered or failed).
    Left { result: i32, error: String },
}

/// A room of players on a BitTorrent UDP tracker (BEP 15), with no server of gdnat's own: the
/// room name becomes the torrent's info_hash, and the tracker's peer list for it is the list of
/// players in the room. [method join] announces our public endpoint (from [NatStun]) and keeps
/// re-announcing on a background thread; [signal peers_changed] reports players as they come
/// and go (our own entry is filtered out).
/// [codeblock]
/// var room := NatRendezvous.new()
/// room.join("198.18.0.10", 6969, "my-game/lobby-42", public_address, public_port)
/// var change = await room.peers_changed   # [joined, left, members]
/// for member in change[2]:
///     print("in the room: %s:%d" % [member.address, member.port])
/// [/codeblock]
///
/// Members are Dictionaries `{"address": String, "port": int}`: the public endpoints the
/// players announced. The tracker must accept the room (a whitelist tracker such as Debian's
/// opentracker must list its hash: [method room_hash]). gdnat has no default tracker; a game
/// passes its own (docs/p2p.md).
///
/// A call that returns anything but [constant RESULT_OK] started nothing and no signal
/// follows; its reason is printed and kept in [member last_error]. When an announce fails (no
/// answer within 5 s, a refusal) the object leaves the room on its own and emits
/// [signal rendezvous_failed]. Freeing the object leaves the room (a best-effort `stopped`
/// announce, bounded by 5 s, on the background thread).
#[derive(GodotClass)]
#[class(base = RefCounted, init)]
pub struct NatRendezvous {
    /// Milliseconds between announces while in the room (250 to 600000; default 1000). Each
    /// announce also reads the member list, so this is how fast a newcomer is seen. Public
    /// trackers may throttle frequent announces; a lobby of its own can go faster.
    #[var(set = set_announce_interval_ms)]
    #[init(val = 1000)]
    announce_interval_ms: i64,
    /// Why the last operation failed ("" after a success).
    #[var(no_set)]
    last_error: GString,
    members: Vec<SocketAddr>,
    leaving: Option<Arc<AtomicBool>>,
    task: Option<Task<RendezvousMessage>>,
    base: Base<RefCounted>,
}

#[godot_api]
impl NatRendezvous {
    /// Success.
    #[constant]
    pub const RESULT_OK: i32 = 0;
    /// No local UDP socket for the tracker.
    #[constant]
    pub const RESULT_BIND_FAILED: i32 = 1;
    /// No answer from the tracker within 5 s.
    #[constant]
    pub const RESULT_TIMED_OUT: i32 = 2;
    /// Sending or waiting failed (no route).
    #[constant]
    pub const RESULT_IO_ERROR: i32 = 4;
    /// The tracker refused the announce; [member last_error] holds its message.
    #[constant]
    pub const RESULT_REFUSED: i32 = 5;
    /// The room's hash is not on the tracker's whitelist (opentracker's 8-byte answer).
    #[constant]
    pub const RESULT_NOT_WHITELISTED: i32 = 6;
    /// The tracker's answer could not be read.
    #[constant]
    pub const RESULT_BAD_REPLY: i32 = 7;
    /// An argument was invalid; nothing started.
    #[constant]
    pub const RESULT_INVALID_ARGUMENT: i32 = 20;
    /// Already in a room (call [method leave] first); nothing started.
    #[constant]
    pub const RESULT_BUSY: i32 = 21;
    /// No background thread could be started; nothing started.
    #[constant]
    pub const RESULT_NO_THREAD: i32 = 22;
    /// [method leave] was called while not in a room.
    #[constant]
    pub const RESULT_NOT_JOINED: i32 = 23;

    /// Emitted after the first announce was answered: `members` (Dictionaries `address`,
    /// `port`) are the other players in the room at that moment. When the room was not empty,
    /// [signal peers_changed] follows with them as `joined`.
    #[signal]
    fn room_joined(members: VarArray);

    /// Emitted when the room's members change: who `joined`, who `left`, and all `members` now
    /// (each a Dictionary `{"address": String, "port": int}`, our own entry filtered out).
    #[signal]
    fn peers_changed(joined: VarArray, left: VarArray, members: VarArray);

    /// Emitted when an announce failed; the object has left the room. `result` is a
    /// `RESULT_*` constant and `message` says why (also in [member last_error]).
    #[signal]
    fn rendezvous_failed(result: i32, message: GString);

    /// Emitted when [method leave] is done: `result` is [constant RESULT_OK] when the tracker
    /// answered the `stopped` announce.
    #[signal]
    fn room_left(result: i32);

    /// Joins room `room` on the tracker at `tracker_address:tracker_port` (UDP, BEP 15),
    /// announcing `public_address:public_port`: the public endpoint of the game's UDP port as
    /// [NatStun] saw it (trackers take the address from the packet and the port from the
    /// announce, so only the port is sent; the address is used to filter our own entry out).
    /// The announces come from a second socket, so the game port stays free for ENet. Returns
    /// [constant RESULT_OK] and emits [signal room_joined], then [signal peers_changed] as
    /// players come and go; or another `RESULT_*` code at once.
    #[func]
    fn join(&mut self, tracker_address: GString, tracker_port: i64, room: GString, public_address: GString, public_port: i64) -> i32 {
        let tracker = task::socket_addr(&tracker_address.to_string(), tracker_port);
        let public = task::socket_addr(&public_address.to_string(), public_port);
        let room = room.to_string();
        let (tracker, public) = match (tracker, public) {
            _ if room.is_empty() => return self.refuse(Self::RESULT_INVALID_ARGUMENT, "NatRendezvous.join(): the room name is empty"),
            (Ok(tracker), Ok(public)) => (tracker, public),
            (Err(message), _) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatRendezvous.join(): tracker: {message}")),
            (_, Err(message)) => return self.refuse(Self::RESULT_INVALID_ARGUMENT, &format!("NatRendezvous.join(): public endpoint: {message}")),
        };
        if self.task.is_some() {
            return self.refuse(Self::RESULT_BUSY, "NatRendezvous.join(): already in a room (call leave() first)");
        }
        let every = Duration::from_millis(self.announce_interval_ms as u64);
        let leaving = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&leaving);
        let spawned = Task::spawn("gdnat-rendezvous", move |waiter, sender| {
            run_room(tracker, &room, public, every, &flag, waiter, sender);
        });
        match spawned {
            Ok(task) => {
                self.leaving = Some(leaving);
                self.members.clear();
                self.task = Some(task);
                self.last_error = GString::new();
                task::pump::<Self>(self.base().instance_id());
                Self::RESULT_OK
            }
            Err(error) => self.refuse(Self::RESULT_NO_THREAD, &format!("NatRendezvous.join(): {}", error.0)),
        }
    }

    /// Leaves the room: the background thread sends a `stopped` announce (bounded by 5 s) and
    /// ends, then [signal room_left] is emitted. Returns [constant RESULT_NOT_JOINED] when not
    /// in a room.
    #[func]
    fn leave(&mut self) -> i32 {
        match (&self.task, &self.leaving) {
            (Some(task), Some(flag)) => {
                flag.store(true, Ordering::SeqCst);
                task.wake();
                Self::RESULT_OK
            }
            _ => self.refuse(Self::RESULT_NOT_JOINED, "NatRendezvous.leave(): not in a room"),
        }
    }

    /// Whether the object is in a room (between [method join] and [signal room_left] or
    /// [signal rendezvous_failed]).
    #[func]
    fn is_joined(&self) -> bool {
        self.task.is_some()
    }

    /// The other players in the room as last seen (Dictionaries `address`, `port`).
    #[func]
    fn get_members(&self) -> VarArray {
        endpoints(&self.members)
    }

    /// The room's info_hash as 40 hex digits: SHA-1 of `"gdnat-room:" + room`. A whitelist
    /// tracker must list it.
    #[func]
    fn room_hash(room: GString) -> GString {
        RoomHash::from_name(&room.to_string()).hex().as_str().into()
    }

    /// Sets [member announce_interval_ms], clamped to 250-600000 (used by the next [method join]).
    #[func]
    fn set_announce_interval_ms(&mut self, value: i64) {
        self.announce_interval_ms = value.clamp(250, 600_000);
    }
}

/// The thread: announce when due, report changes, sleep until the next announce or a leave.
fn run_room(tracker: SocketAddr, room: &str, public: SocketAddr, every: Duration, leaving: &AtomicBool, waiter: &gdnat_io::Waiter, sender: &std::sync::mpsc::SyncSender<RendezvousMessage>) {
    let failed = |error: gdnat_rendezvous::RendezvousError| RendezvousMessage::Failed { result: error.code() as i32, error: error.to_string() };
    let tracker = match Tracker::bind(tracker, TrackerOptions::default()) {
        Ok(tracker) => tracker,
        Err(error) => {
            let _ = sender.send(failed(error.into()));
            return;
        }
    };
    let mut rendezvous = TrackerRendezvous::new(tracker);
    rendezvous.every = every;
    let mut announcer = Reannouncer::new(rendezvous, RoomHash::from_name(room), public);
    let mut first = true;
    while !leaving.load(Ordering::SeqCst) {
        match announcer.poll(waiter) {
            Ok(change) => {
                if first {
                    first = false;
                    let members = announcer.members().current().collect();
                    if sender.send(RendezvousMessage::Joined { members }).is_err() {
                        break;
                    }
                }
                if let Some(change) = change {
                    let message = RendezvousMessage::Changed { joined: change.joined, left: change.left, members: change.members };
                    if sender.send(message).is_err() {
                        break;
                    }
                }
            }
            Err(error) if error.is_cancelled() => return,
            Err(error) => {
                let _ = announcer.leave(waiter);
                let _ = sender.send(failed(error));
                return;
            }
        }
        match waiter.sleep_until(announcer.next_due().max(Instant::now() + Duration::from_millis(10))) {
            Ok(_) => {}
            Err(_) => return, // cancelled (object freed without leave, or library unload)
        }
    }
    let message = match announcer.leave(waiter) {
        Ok(()) => RendezvousMessage::Left { result: 0, error: String::new() },
        Err(error) if error.is_cancelled() => return,
        Err(error) => RendezvousMessage::Left { result: error.code() as i32, error: error.to_string() },
    };
    let _ = sender.send(message);
}

fn endpoints(list: &[SocketAddr]) -> VarArray {
    let mut array = VarArray::new();
    for endpoint in list {
        let mut entry = VarDictionary::new();
        entry.set("address", endpoint.ip().to_string().as_str());
        entry.set("port", i64::from(endpoint.port()));
        array.push(&entry.to_variant());
    }
    array
}

impl NatRendezvous {
    fn refuse(&mut self, code: i32, message: &str) -> i32 {
        godot_error!("{message}");
        self.last_error = message.into();
        code
    }
}

impl Drop for NatRendezvous {
    /// Leaves the room on the background thread (the `stopped` announce runs there, bounded
    /// by 5 s) instead of cancelling it, so the room does not keep a stale entry.
    fn drop(&mut self) {
        if let (Some(task), Some(flag)) = (self.task.take(), self.leaving.take()) {
            flag.store(true, Ordering::SeqCst);
            task.wake();
            task.detach(); // not cancelled: the thread leaves and ends by itself
        }
    }
}

impl Pumped for NatRendezvous {
    type Message = RendezvousMessage;

    fn drain(&mut self) -> (Vec<RendezvousMessage>, bool) {
        let Some(task) = self.task.as_mut() else { return (Vec::new(), false) };
        let messages = task.take_messages();
        let ended = task.is_ended() || messages.iter().any(|m| matches!(m, RendezvousMessage::Failed { .. } | RendezvousMessage::Left { .. }));
        for message in &messages {
            match message {
                RendezvousMessage::Joined { members } | RendezvousMessage::Changed { members, .. } => self.members = members.clone(),
                _ => {}
            }
        }
        if ended {
            self.task = None;
            self.leaving = None;
            self.members.clear();
        }
        (messages, self.task.is_some())
    }

    fn deliver(this: &mut Gd<Self>, message: RendezvousMessage) {
        match message {
            RendezvousMessage::Joined { members } => {
                this.signals().room_joined().emit(&endpoints(&members));
            }
            RendezvousMessage::Changed { joined, left, members } => {
                this.signals().peers_changed().emit(&endpoints(&joined), &endpoints(&left), &endpoints(&members));
            }
            RendezvousMessage::Failed { result, error } => {
                godot_warn!("NatRendezvous: {error}");
                this.bind_mut().last_error = error.as_str().into();
                this.signals().rendezvous_failed().emit(result, error.as_str());
            }
            RendezvousMessage::Left { result, error } => {
                this.bind_mut().last_error = error.as_str().into();
                this.signals().room_left().emit(result);
            }
        }
    }
}
