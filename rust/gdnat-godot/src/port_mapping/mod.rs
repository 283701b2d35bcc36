//! The `NatPortMapping` node: one public port that stays up for the whole session.
//!
//! - [`node`]: the Godot class (properties, state, signals, methods); it drives one
//!   [`gdnat_mapper::MapperWorker`] per protocol and reads their events once per frame.
//! - [`plan`]: the pure part (result codes, property checks, combined state, double NAT).
//! - [`factory`]: the worker-side gateway lookup, shared probe and backend choice.
//! - [`memory`]: what is remembered in `user://gdnat/` across runs (the gateway, and each
//!   mapping with its PCP nonce, so a crashed run's mapping is taken over).
//! - this module: the retired workers (a node that left the tree or was freed hands its
//!   workers here; each deletes its mapping on a thread of its own, and [`shutdown`] joins
//!   them when the library is unloaded, so quitting the game removes the mappings it made).

pub mod factory;
pub mod memory;
pub mod node;
pub mod plan;

use std::sync::{Mutex, PoisonError};
use std::thread::{self, JoinHandle};

use gdnat_mapper::{Command, MapperWorker};

pub use node::NatPortMapping;

static RETIRED: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Stops `worker` without waiting: it deletes its mapping (bounded by the call bound, and by
/// [`gdnat_mapper::worker::STOP_GRACE`] at most) on a thread of its own, joined by
/// [`shutdown`], then removes its mapping record `record` (if given). If no thread can be
/// started, it is stopped here (bounded the same way).
pub fn retire(worker: MapperWorker, record: Option<std::path::PathBuf>) {
    worker.send(Command::Stop);
    let mut retired = RETIRED.lock().unwrap_or_else(PoisonError::into_inner);
    retired.retain(|handle| !handle.is_finished());
    let slot = std::sync::Arc::new(Mutex::new(Some(worker)));
    let moved = slot.clone();
    match thread::Builder::new().name("gdnat-mapper-stop".into()).spawn(move || {
        let worker = moved.lock().unwrap_or_else(PoisonError::into_inner).take();
        drop(worker);
        if let Some(path) = &record {
            memory::forget(path);
        }
    }) {
        Ok(handle) => retired.push(handle),
        Err(_) => drop(slot.lock().unwrap_or_else(PoisonError::into_inner).take()),
    }
}

/// Waits for every retired worker (each has deleted its mapping or given up within its
/// bound). Called when the library is unloaded, after the scene tree is gone. Returns how
/// many were joined. With `GDNAT_REPORT_SHUTDOWN=1` it prints
/// `gdnat: NatPortMapping: N mapping worker(s) joined at shutdown in X ms` (the e2e test
/// checks it).
pub fn shutdown() -> usize {
    let started = std::time::Instant::now();
    let handles = std::mem::take(&mut *RETIRED.lock().unwrap_or_else(PoisonError::into_inner));
    let count = handles.len();
    for handle in handles {
        let _ = handle.join();
    }
    if std::env::var("GDNAT_REPORT_SHUTDOWN").is_ok_and(|v| v == "1") {
        godot::global::godot_print!("gdnat: NatPortMapping: {count} mapping worker(s) joined at shutdown in {} ms", started.elapsed().as_millis());
    }
    count
}
