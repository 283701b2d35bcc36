//! # gdnat-igd
//!
//! The UPnP IGD client core of gdnat. It has no Godot dependency.
//!
//! Layers, each depending only on the ones above it:
//! 1. [`proto`]: sans-I/O code. Build and parse SSDP, HTTP, device descriptions and SOAP.
//! 2. [`transport`]: a socket2 UDP socket for SSDP and an HTTP client of its own (on
//!    `gdnat_io`'s `DeadlineStream`, reading answers with `proto::http`), each bounded in
//!    time and size.
//! 3. [`client`]: discovery, per-device gateway validation and the port-mapping operations,
//!    as a blocking API.
//!
//! Errors are typed per operation ([`error`]) and name the router's answer. The mapping of every
//! failure to the Godot engine's `UPNP.UPNPResult` codes lives in exactly one place:
//! [`result_code`].
//!
//! Shared plain data lives in leaf modules that depend on no other module here: [`types`]
//! (source port, HTTP bounds, device status) and [`error`]. The dependencies go one way:
//! `proto` ← `transport` ← `client`, and `result_code` → `error`, never back
//! (`tests/layering.rs` checks it).

pub mod cancel;
pub mod client;
pub mod error;
pub mod helper_threads;
pub mod proto;
pub mod result_code;
pub mod transport;
pub mod types;

pub use cancel::CancelToken;
pub use client::{
    discover, DeviceStatus, DiscoverOptions, DiscoveredDevice, Gateway, LocalPort, PortMappingEntry,
    PortMappingRequest, Protocol, StatusInfo,
};
pub use error::{
    AddAnyPortMappingError, AddPortMappingError, DeletePortMappingError, DiscoverError,
    GetExternalIpError, GetGenericPortMappingEntryError, GetSpecificPortMappingEntryError,
    GetStatusInfoError, RequestError, UpnpErrorCode,
};
pub use result_code::UpnpResult;
