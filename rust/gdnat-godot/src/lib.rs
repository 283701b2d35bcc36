//! # gdnat Godot binding
//!
//! A GDExtension that gives Godot 4.3+ the engine's `UPNP` / `UPNPDevice` API as
//! [`NatUPNP`](upnp::NatUpnp) / [`NatUPNPDevice`](device::NatUpnpDevice) (or, with the Cargo
//! feature `engine-names`, under the engine's own names for engines built without the upnp
//! module), backed by the `gdnat-igd` core, plus non-blocking `*_async` twins that report
//! through signals.
//!
//! Modules, one responsibility each:
//! - [`upnp`], [`device`]: the two Godot classes (surface and main-thread state).
//! - [`validation`]: the engine's argument checks, order and messages.
//! - [`operations`]: the network operations on plain data (shared by blocking and async).
//! - [`convert`]: core data <-> Godot device properties.
//! - [`worker`]: one background worker thread per object, FIFO, plain data only.
//! - [`delivery`]: the main-thread pump that turns worker outcomes into state and signals.

use godot::prelude::*;

pub mod convert;
pub mod delivery;
pub mod device;
pub mod operations;
pub mod upnp;
pub mod validation;
pub mod worker;

/// The library entry point (`gdext_rust_init`).
struct GdnatExtension;

#[gdextension]
unsafe impl ExtensionLibrary for GdnatExtension {
    fn on_stage_init(stage: InitStage) {
        if stage == InitStage::Scene {
            worker::restart();
            delivery::restart();
        }
    }

    /// Runs before the classes are unregistered: stop delivering, cancel every job and join
    /// the worker threads, so no thread runs library code after the library is unloaded.
    fn on_stage_deinit(stage: InitStage) {
        if stage == InitStage::Scene {
            delivery::shutdown();
            worker::shutdown(|left| {
                godot_warn!("gdnat: {left} worker thread(s) still busy at exit; not waiting longer.")
            });
        }
    }
}
