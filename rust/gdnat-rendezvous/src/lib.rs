//! # gdnat-rendezvous
//!
//! How players of one room find each other's public endpoints, with no server of gdnat's own:
//! a BitTorrent UDP tracker (BEP 15) whose swarm for the room's hash is the room's member
//! list. No Godot dependency.
//!
//! - [`codec`]: the BEP 15 messages (connect, announce, error, compact peers), sans-I/O.
//! - [`tracker`]: the blocking client ([`Tracker`]): connection ids kept for 60 s,
//!   transaction ids checked, replies from anyone but the tracker ignored, every wait bounded
//!   and cancellable (`gdnat-io`).
//! - [`rendezvous`]: the [`Rendezvous`] trait a game can implement for its own server, the
//!   tracker as its default ([`TrackerRendezvous`]), and [`Reannouncer`] (re-announce timer
//!   and [`PeersChanged`]).
//! - [`RoomHash`]: a room name's info_hash, SHA-1 of `gdnat-room:` + name.
//!
//! Nothing here picks a tracker: the caller passes one. gdnat's tests only ever use the
//! opentracker of its own test bed.

#![warn(missing_docs)]

pub mod codec;
pub mod rendezvous;
pub mod room;
pub mod tracker;

pub use codec::Event;
pub use gdnat_io::{CancelToken, Waiter};
pub use rendezvous::{Members, PeersChanged, Reannouncer, Rendezvous, RendezvousError, TrackerRendezvous};
pub use room::RoomHash;
pub use tracker::{others, Announced, Tracker, TrackerError, TrackerOptions};
