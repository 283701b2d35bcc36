//! # gdnat-punch
//!
//! UDP hole punching for gdnat, with no Godot dependency: both players probe each other's
//! public endpoint (from the rendezvous) from the port whose public endpoint they announced,
//! until a packet gets through both NATs.
//!
//! - [`packet`]: the 32-byte probe / acknowledgement with the room token (sans-I/O).
//! - [`punch`](mod@punch): the blocking, bounded, cancellable punch ([`punch::punch`],
//!   [`punch_port`]) and its result ([`Punched`]: the peer's endpoint and our local port) or
//!   failure ([`PunchError`], naming our NAT behaviour).

#![warn(missing_docs)]

pub mod packet;
pub mod punch;

pub use packet::RoomToken;
pub use punch::{punch_port, NatContext, PunchError, PunchOptions, Punched};
