//! # gdnat-io
//!
//! The leaf crate every gdnat protocol client shares for waiting on the network: a
//! [`CancelToken`] that a caller cancels from any thread, and socket waits that end when the
//! socket is ready, when a deadline passes, or at once when the token is cancelled.
//!
//! - [`cancel`]: the token tree ([`CancelToken`]) and hooks run on cancellation.
//! - [`wait`]: [`Waiter`], one readiness wait at a time on any socket, woken by cancellation.
//! - [`udp`]: receive with a deadline, and a request/response [`exchange`](udp::exchange)
//!   with a retransmit schedule, a total bound, a size cap and a source filter.
//! - [`tcp`]: connect, read and write with a deadline ([`tcp::DeadlineStream`]).
//! - [`gateway`]: the default route's next hop ([`default_gateway`]), which NAT-PMP/PCP talk
//!   to and UPnP discovery also searches unicast.
//!
//! Every wait here is bounded by a deadline the caller gives, and every wait can be cut short
//! by cancellation; nothing sleeps in a polling loop. Why this design (and not a socket
//! registry or a self-pipe) is written down in `docs/cancellation.md`.
//!
//! No Godot dependency and no dependency on any protocol crate: protocol code depends on this
//! crate, never the other way round.

pub mod cancel;
pub mod gateway;
pub mod tcp;
pub mod udp;
mod sleeper;
pub mod wait;

pub use cancel::{CancelHook, CancelToken};
pub use gateway::{default_gateway, DefaultGateway, GatewayError};
pub use wait::{Interest, WaitError, WaitOutcome, Waiter, Wake, WakeOutcome};
