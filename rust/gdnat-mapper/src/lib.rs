//! # gdnat-mapper
//!
//! The orchestration layer above the protocol crates (`gdnat-pcp` for PCP and NAT-PMP,
//! `gdnat-igd` for UPnP). It holds no wire code:
//!
//! - [`probe`]: asks the gateway in PCP, NAT-PMP and UPnP at the same time and reports which
//!   it speaks, with times; [`probe::ProbeReport::preferred`] picks PCP > NAT-PMP > UPnP.
//! - [`cache`]: a shared, thread-safe probe cache per gateway (a success trusted 10 min, a
//!   failure 5 s) where concurrent callers share one probe.
//! - [`record`]: the gateway remembered across runs ([`GatewayRecord`]), loaded from and saved
//!   to a path the binding gives (`user://`).
//! - [`backend`]: one trait ([`Backend`]) over the three protocols: map, renew, delete.
//! - [`schedule`]: when to renew (a random 50–75 % of the granted lifetime) and when a
//!   mapping has expired. Pure.
//! - [`keeper`]: the lifecycle state machine of one mapping (idle, mapping, mapped,
//!   renewing, lost, failed, released), driven by an explicit clock and a [`Backend`], so it
//!   is tested without sockets.
//! - [`worker`]: runs a keeper on its own thread; commands in and events out on bounded
//!   channels ([`worker::Command`], [`keeper::Event`]), cancellation on drop. This is what the
//!   Godot node drives.

pub mod backend;
pub mod cache;
pub mod keeper;
pub mod probe;
pub mod record;
pub mod schedule;
pub mod worker;

pub use backend::{sane_external_address, Backend, ErrorKind, Granted, MapRequest, MapperError, Method, PmpBackend, UpnpBackend};
pub use cache::{ProbeCache, ProbeKey};
pub use keeper::{Event, Keeper, LostReason, State};
pub use record::{GatewayRecord, RecordError};
pub use probe::{probe, ProbeOptions, ProbeReport, ProtocolProbe};
pub use worker::{BackendFactory, Command, Commander, MapperWorker};
