//! Peer to peer (issue 10): the Godot classes over the STUN, rendezvous and punch cores.
//!
//! - [`stun`]: `NatStun`, the public endpoint of a UDP port and the NAT's behaviour.
//! - [`rendezvous`]: `NatRendezvous`, a room on a BitTorrent UDP tracker with `peers_changed`.
//! - [`punch`]: `NatPunch`, UDP hole punching with `punched` / `punch_failed`.
//! - [`task`]: one background thread per operation and the main-thread pump that emits the
//!   signals (plain data crosses threads, never a Godot object).
//!
//! The ENet hand-off (host / join a room and get a connected `ENetMultiplayerPeer`) is the
//! addon's `nat_room.gd`, built on these three classes.

pub mod punch;
pub mod rendezvous;
pub mod stun;
pub mod task;

/// Library unload: cancels every peer-to-peer thread and joins it (see [`task::shutdown`]).
pub fn shutdown() {
    let left = task::shutdown();
    if left > 0 {
        godot::global::godot_error!("gdnat: {left} peer-to-peer thread(s) still running at exit after cancellation (a bug: please report it).");
    }
}
