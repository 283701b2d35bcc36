//! # gdnat-stun
//!
//! STUN for gdnat, with no Godot dependency:
//!
//! - [`codec`]: the sans-I/O Binding request and response (RFC 8489) and RFC 5780's
//!   attributes, on the `stun-types` crate.
//! - [`client`]: a blocking Binding query on a UDP socket: the public endpoint
//!   (XOR-MAPPED-ADDRESS) of that socket, with a 100 ms / 200 ms / … retransmit schedule that
//!   gives up after 3 s, cancellable at any moment (`gdnat-io`).
//!
//! Nothing here picks a server: the caller passes one. gdnat's tests only ever use the coturn
//! of its own test bed.

#![warn(missing_docs)]

pub mod behaviour;
pub mod client;
pub mod codec;

pub use behaviour::{discover, nat_verdict, DiscoveryError, DiscoveryOptions, Filtering, Mapping, NatBehaviour, NatVerdict};
pub use client::{query, query_port, Binding, StunError};
pub use codec::{BindingResponse, ChangeRequest, ResponseError};
pub use gdnat_io::{CancelToken, Waiter};
