//! # gdnat-pcp
//!
//! NAT-PMP (RFC 6886) and PCP (RFC 6887) port mapping for gdnat, with no Godot dependency.
//!
//! Layers, each depending only on the ones above it:
//! 1. [`wire`]: sans-I/O codecs. Build requests, parse answers; a wrong size, version or
//!    opcode is ignored, never trusted and never a panic. [`epoch`]: the RFCs' reboot checks.
//! 2. The transport is the shared crate `gdnat-io`: `udp::exchange` with
//!    `Retransmit::nat_pmp` / `Retransmit::pcp`, a total bound per call, answers only from the
//!    gateway's address, cancellation through a [`CancelToken`].
//! 3. [`client`]: blocking clients ([`NatPmpClient`], [`PcpClient`], and [`PortMapClient`],
//!    which falls back from PCP to NAT-PMP), meant for a worker thread.
//!
//! [`gateway`] finds the default route's next hop. Errors are typed per operation
//! ([`error`]) and name the router's answer. Design notes: `docs/nat-pmp-pcp.md`.

pub mod client;
pub mod epoch;
pub mod error;
/// The default-gateway lookup, shared with UPnP discovery: it lives in the leaf crate `gdnat-io`.
pub use gdnat_io::gateway;
pub mod wire;

pub use client::{
    AnnounceListener, Announced, HeardAnnounce, ClientOptions, DeleteError, ExternalAddress, MapError, MapParams, Mapping, Method, NatPmpClient, NatPmpDeleted,
    NatPmpMapping, PcpClient, PcpDeleted, PcpMapping, PortMapClient, DEFAULT_CALL_TIMEOUT,
};
pub use epoch::{EpochCheck, EpochRule, EpochTracker};
pub use error::{NatPmpDeleteError, NatPmpExternalAddressError, NatPmpMapError, PcpAnnounceError, PcpDeleteError, PcpMapError};
pub use gateway::{default_gateway, DefaultGateway, GatewayError};
pub use gdnat_io::CancelToken;
pub use wire::pcp::Nonce;
pub use wire::Protocol;
