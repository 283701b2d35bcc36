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
//! - [`convert`]: core data <-> Godot device properties (a leaf: plain data, no other module).
//! - [`worker`]: each object's job queue (FIFO, capped), run by one shared thread pool; plain
//!   data only.
//! - [`delivery`]: the main-thread pump that turns worker outcomes into state and signals.
//! - [`main_thread`]: what may run off the main thread (everything but the async twins).
//! - [`test_hooks`]: debug-build-only fault injection for gdnat's own tests.

use std::time::Instant;

use godot::prelude::*;

pub mod convert;
pub mod delivery;
pub mod device;
pub mod main_thread;
pub mod operations;
pub mod p2p;
pub mod port_mapping;
pub mod test_hooks;
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

    /// Runs before the classes are unregistered: stop delivering, cancel every job (which
    /// ends its network I/O at once, however the router behaves) and join every worker and
    /// validation thread, so no thread of this library runs after it is unloaded (see
    /// [`worker::shutdown`]).
    ///
    /// With the environment variable `GDNAT_REPORT_SHUTDOWN=1` it prints one line
    /// `gdnat: shutdown: N workers stopped in X ms, M left` (M counts threads still running
    /// after the guard, 0 unless something is wrong; tests/godot/run-async.sh checks both).
    fn on_stage_deinit(stage: InitStage) {
        if stage == InitStage::Scene {
            let started = Instant::now();
            delivery::shutdown();
            p2p::shutdown();
            let stopped = worker::shutdown();
            port_mapping::shutdown(); // NatPortMapping: the mappings of nodes that left the tree are deleted
            let millis = started.elapsed().as_millis();
            let left = stopped.left + stopped.helpers_left;
            if left > 0 {
                godot_error!("gdnat: {left} thread(s) still running at exit after cancellation (a bug: please report it).");
            }
            if std::env::var("GDNAT_REPORT_SHUTDOWN").is_ok_and(|v| v == "1") {
                godot_print!("gdnat: shutdown: {} workers stopped in {millis} ms, {left} left", stopped.joined);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use godot::obj::GodotClass;

    use crate::device::NatUpnpDevice;
    use crate::upnp::NatUpnp;

    /// The default build must not take the engine's names (that breaks the engine's own
    /// classes); `--features engine-names` must take exactly them.
    #[test]
    fn classes_are_named_as_the_build_asks() {
        let expected = if cfg!(feature = "engine-names") { ("UPNP", "UPNPDevice") } else { ("NatUPNP", "NatUPNPDevice") };
        let actual = (NatUpnp::class_id().to_string(), NatUpnpDevice::class_id().to_string());
        assert_eq!((actual.0.as_str(), actual.1.as_str()), expected);
    }

    /// The default build has godot-rust's thread support (a GDScript Thread may own our
    /// objects); the engine-names build has lazy function tables instead and no thread support
    /// (docs/threads.md). Cargo.toml arranges this; this test catches a change to it.
    #[test]
    fn each_build_has_its_thread_model() {
        assert_eq!(cfg!(feature = "threads"), !cfg!(feature = "engine-names"), "exactly one of `threads` and `engine-names`");
    }
}
