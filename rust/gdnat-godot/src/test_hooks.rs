//! Fault injection for gdnat's own headless tests, compiled into debug builds only: with the
//! environment variable `GDNAT_TEST_PANIC` set to a site's name, the code at that site
//! panics. It proves that the test wrappers judge a Rust panic as a failure and that the
//! result pump survives one. Release builds contain none of this; the class surface is the
//! same in both.
//!
//! Sites ([`Site`]): `func` (inside the `#[func]` `NatUPNP.discover_async`, on every call),
//! `worker` (at the start of every worker job; the worker answers `UNKNOWN_ERROR`), and
//! `deliver-once` (the first result the main-thread pump delivers in the process; it is
//! dropped, later results are delivered).

/// The name of the environment variable that selects a site.
pub const ENV_VAR: &str = "GDNAT_TEST_PANIC";

/// A place where a test may ask for a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// Inside the `#[func]` `NatUPNP.discover_async`, on the main thread.
    Func,
    /// At the start of a worker job, on the worker thread.
    Worker,
    /// The first delivery of the main-thread pump (once per process).
    DeliverOnce,
}

impl Site {
    /// The value of [`ENV_VAR`] that selects this site.
    pub fn name(self) -> &'static str {
        match self {
            Self::Func => "func",
            Self::Worker => "worker",
            Self::DeliverOnce => "deliver-once",
        }
    }
}

/// Panics when [`ENV_VAR`] names `site` (debug builds only; `DeliverOnce` only the first time).
#[cfg(debug_assertions)]
pub fn panic_if_requested(site: Site) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DELIVER_PANICKED: AtomicBool = AtomicBool::new(false);

    if std::env::var(ENV_VAR).ok().as_deref() != Some(site.name()) {
        return;
    }
    if site == Site::DeliverOnce && DELIVER_PANICKED.swap(true, Ordering::SeqCst) {
        return;
    }
    panic!("gdnat test hook: {ENV_VAR}={} asked for this panic", site.name());
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn panic_if_requested(_site: Site) {}
