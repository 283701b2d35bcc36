//! The main-thread result pump: one global `godot::task::spawn` task that wakes on every
//! `SceneTree.process_frame` while any object has work in flight, takes outcomes from each
//! such object's [`Worker`] and hands them to the object ([`AsyncHost::deliver`]), which
//! updates its state and emits its signals.
//!
//! The pump holds only [`InstanceId`]s, never a reference that keeps an object alive. An object
//! freed while its work is in flight is simply dropped from the watch list (its worker was
//! cancelled by the object's drop), so no signal is emitted and no freed memory is touched.
//! The task ends by itself when nothing is in flight and is started again on demand.
//!
//! Because the pump first waits for the next frame, every result (also an argument error that
//! is known at call time) arrives at the earliest one frame after the call: `await obj.signal`
//! right after the call always catches it.
//!
//! Bounds: at most [`FRAME_BUDGET`] outcomes are delivered per frame over all objects, so a
//! burst of results cannot stall one frame; the rest follow on the next frames, each object's
//! outcomes in order. Objects take turns (an object served in one frame goes to the back of
//! the list).
//!
//! Robustness: the watch list is never taken out of the pump while objects are polled, so
//! nothing is lost if a delivery panics; such a panic is caught (gdext's hook prints it), the
//! object stays watched and the pump goes on. Should the pump task still end unexpectedly,
//! the next [`watch`] sees that it is no longer pending and starts a new one.
//!
//! Needs a `SceneTree` main loop (the normal case, including `-s` scripts that extend it).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use godot::classes::{Engine, SceneTree};
use godot::obj::{Bounds, InstanceId};
use godot::prelude::*;
use godot::task::TaskHandle;

use crate::test_hooks::{self, Site};
use crate::operations::Report;
use crate::worker::{Job, Outcome, QueueFull, Worker, REFUSED_QUEUE_FULL};

/// The most outcomes delivered in one frame, over all objects.
pub const FRAME_BUDGET: usize = 256;

/// A Godot class whose objects own a [`Worker`] and receive its outcomes.
pub trait AsyncHost: GodotClass + Bounds<Declarer = godot::obj::bounds::DeclUser> {
    /// The object's worker.
    fn worker_mut(&mut self) -> &mut Worker;

    /// Applies one outcome to the object and emits the matching signal. Called on the main
    /// thread with no bind guard held, so signal handlers may call back into the object.
    fn deliver(this: &mut Gd<Self>, outcome: Outcome);
}

/// A class with the three mapping signals (`port_mapping_added`, `port_mapping_deleted`,
/// `external_address_queried`): both `NatUPNP` and `NatUPNPDevice`. Their outcomes are
/// delivered by one function, [`deliver_mapping_outcome`].
pub trait MappingSignals: AsyncHost {
    /// Emits `port_mapping_added(result, port, proto)`.
    fn emit_port_mapping_added(this: &mut Gd<Self>, result: i32, port: i32, proto: &str);
    /// Emits `port_mapping_deleted(result, port, proto)`.
    fn emit_port_mapping_deleted(this: &mut Gd<Self>, result: i32, port: i32, proto: &str);
    /// Emits `external_address_queried(result, address)`.
    fn emit_external_address_queried(this: &mut Gd<Self>, result: i32, address: &str);
}

/// Implements [`MappingSignals`] for a class that declares the three signals
/// `port_mapping_added`, `port_mapping_deleted` and `external_address_queried` (`NatUPNP` and
/// `NatUPNPDevice`): one body for both, since godot-rust's typed signals are per class.
macro_rules! impl_mapping_signals {
    ($class:ty) => {
        impl $crate::delivery::MappingSignals for $class {
            fn emit_port_mapping_added(this: &mut Gd<Self>, result: i32, port: i32, proto: &str) {
                this.signals().port_mapping_added().emit(result, port, proto);
            }

            fn emit_port_mapping_deleted(this: &mut Gd<Self>, result: i32, port: i32, proto: &str) {
                this.signals().port_mapping_deleted().emit(result, port, proto);
            }

            fn emit_external_address_queried(this: &mut Gd<Self>, result: i32, address: &str) {
                this.signals().external_address_queried().emit(result, address);
            }
        }
    };
}
pub(crate) use impl_mapping_signals;

/// Delivers an add, delete or query outcome: prints the failure's message (as the blocking
/// call does) and emits the matching signal. Any other outcome is not delivered here (no
/// class gets one it does not handle; a discovery outcome is ignored).
pub fn deliver_mapping_outcome<T: MappingSignals>(this: &mut Gd<T>, outcome: Outcome) {
    match outcome {
        Outcome::Added { report, port, proto } => {
            print_report(&report);
            T::emit_port_mapping_added(this, report.code, port, &proto);
        }
        Outcome::Deleted { report, port, proto } => {
            print_report(&report);
            T::emit_port_mapping_deleted(this, report.code, port, &proto);
        }
        Outcome::Queried { report, address } => {
            print_report(&report);
            T::emit_external_address_queried(this, report.code, &address);
        }
        Outcome::DeviceFound(_) | Outcome::Discovered { .. } => {}
    }
}

/// Prints a failure's message as a Godot error (main thread).
pub fn print_report(report: &Report) {
    if let Some(message) = &report.error {
        godot_error!("{message}");
    }
}

/// Queues `job` on `worker` (the object `id` of class `T`, whose `method` was called) and
/// watches the object for its outcomes. Returns what the `*_async` method returns: 0 when
/// queued, or 25 (`UPNP_RESULT_MEM_ALLOC_ERROR`) after printing why, when the object's queue
/// is full ([`crate::worker::MAX_QUEUED_JOBS`]); then nothing is queued and no signal follows.
pub fn submit<T: AsyncHost>(worker: &mut Worker, id: InstanceId, method: &str, job: Job) -> i32 {
    match worker.submit(job) {
        Ok(()) => {
            watch::<T>(id);
            0
        }
        Err(QueueFull) => {
            godot_error!("{}", QueueFull::message(&T::class_id().to_string(), method));
            REFUSED_QUEUE_FULL.code()
        }
    }
}

/// What polling one object did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Polled {
    /// Outcomes delivered.
    delivered: usize,
    /// Whether the object still has work in flight (or undelivered outcomes).
    busy: bool,
}

/// One watched object and the function that delivers its outcomes (at most the given number).
#[derive(Clone, Copy)]
struct Watch {
    id: InstanceId,
    poll: fn(InstanceId, usize) -> Polled,
}

/// The objects with work in flight, in the order they are served.
#[derive(Default)]
struct WatchList {
    entries: Vec<Watch>,
}

impl WatchList {
    /// Adds `watch` at the back unless its object is already watched.
    fn add(&mut self, watch: Watch) {
        if !self.entries.iter().any(|w| w.id == watch.id) {
            self.entries.push(watch);
        }
    }

    /// After `id` was served: forget it when idle, else move it to the back (take turns).
    fn settle(&mut self, id: InstanceId, busy: bool) {
        let Some(index) = self.entries.iter().position(|w| w.id == id) else {
            return;
        };
        let watch = self.entries.remove(index);
        if busy {
            self.entries.push(watch);
        }
    }
}

#[derive(Default)]
struct Pump {
    watched: WatchList,
    task: Option<TaskHandle>,
    stopped: bool,
}

thread_local! {
    static PUMP: RefCell<Pump> = RefCell::new(Pump::default());
}

/// Makes sure the outcomes of `id`'s worker will be delivered. Main thread only.
pub fn watch<T: AsyncHost>(id: InstanceId) {
    let start = PUMP.with_borrow_mut(|pump| {
        if pump.stopped {
            return false;
        }
        pump.watched.add(Watch { id, poll: poll::<T> });
        // A task that ended without clearing `task` (it panicked) must be replaced.
        !pump.task.as_ref().is_some_and(TaskHandle::is_pending)
    });
    if start {
        // The first poll runs synchronously up to the first await; the loop awaits the next
        // frame before touching any object, so the caller's bind guard is no problem.
        let handle = godot::task::spawn(pump_loop());
        PUMP.with_borrow_mut(|pump| pump.task = handle.is_pending().then_some(handle));
    }
}

/// Delivers up to `budget` outcomes of one object, in order.
fn poll<T: AsyncHost>(id: InstanceId, budget: usize) -> Polled {
    let Ok(mut this) = Gd::<T>::try_from_instance_id(id) else {
        return Polled { delivered: 0, busy: false }; // freed: its work was cancelled
    };
    let mut delivered = 0;
    while delivered < budget {
        let Some(outcome) = this.bind_mut().worker_mut().next_outcome() else {
            break;
        };
        delivered += 1;
        test_hooks::panic_if_requested(Site::DeliverOnce);
        T::deliver(&mut this, outcome);
    }
    let busy = !this.bind_mut().worker_mut().is_idle();
    Polled { delivered, busy }
}

/// One frame of delivery: serves the watched objects in turn until [`FRAME_BUDGET`] outcomes
/// were delivered. The list stays in the pump meanwhile (handlers may add objects to it); each
/// object is settled right after its poll. A panicking poll counts as one delivery and keeps
/// the object watched. Returns whether the pump may stop (nothing watched, or stopped).
fn deliver_frame() -> bool {
    let order: Vec<Watch> = PUMP.with_borrow(|pump| pump.watched.entries.clone());
    let mut budget = FRAME_BUDGET;
    for watch in order {
        if budget == 0 {
            break;
        }
        let polled = catch_unwind(AssertUnwindSafe(|| (watch.poll)(watch.id, budget)))
            .unwrap_or(Polled { delivered: 1, busy: true });
        budget = budget.saturating_sub(polled.delivered);
        let stopped = PUMP.with_borrow_mut(|pump| {
            if !pump.stopped {
                pump.watched.settle(watch.id, polled.busy);
            }
            pump.stopped
        });
        if stopped {
            break;
        }
    }
    PUMP.with_borrow(|pump| pump.stopped || pump.watched.entries.is_empty())
}

async fn pump_loop() {
    loop {
        let Some(tree) = scene_tree() else {
            godot_error!("gdnat: async results need a SceneTree main loop; none is running.");
            stop_watching();
            return;
        };
        let frame = tree.signals().process_frame().to_fallible_future();
        drop(tree);
        if frame.await.is_err() {
            stop_watching();
            return;
        }
        if deliver_frame() {
            PUMP.with_borrow_mut(|pump| pump.task = None);
            return;
        }
    }
}

fn stop_watching() {
    PUMP.with_borrow_mut(|pump| {
        pump.watched.entries.clear();
        pump.task = None;
    });
}

fn scene_tree() -> Option<Gd<SceneTree>> {
    Engine::singleton().get_main_loop()?.try_cast::<SceneTree>().ok()
}

/// Stops delivering (the library is being unloaded): forgets every watched object and
/// cancels the pump task. Main thread only.
pub fn shutdown() {
    let task = PUMP.with_borrow_mut(|pump| {
        pump.stopped = true;
        pump.watched.entries.clear();
        pump.task.take()
    });
    if let Some(task) = task {
        if task.is_pending() {
            task.cancel();
        }
    }
}

/// Allows delivery again (the library was initialised anew, hot reload).
pub fn restart() {
    PUMP.with_borrow_mut(|pump| pump.stopped = false);
}

#[cfg(test)]
mod tests {
    //! `deliver_frame` on fake objects: each test runs on its own thread, so it has its own
    //! `PUMP`; the fake poll functions read a per-thread table of pending outcome counts.
    use super::*;
    use std::collections::HashMap;

    thread_local! {
        /// Object id -> outcomes waiting.
        static PENDING: RefCell<HashMap<i64, usize>> = RefCell::new(HashMap::new());
        /// (object id, outcomes delivered) per poll, in call order.
        static SERVED: RefCell<Vec<(i64, usize)>> = const { RefCell::new(Vec::new()) };
    }

    fn fake_poll(id: InstanceId, budget: usize) -> Polled {
        let key = id.to_i64();
        let (delivered, left) = PENDING.with_borrow_mut(|pending| {
            let waiting = pending.get_mut(&key).expect("known fake object");
            let delivered = (*waiting).min(budget);
            *waiting -= delivered;
            (delivered, *waiting)
        });
        SERVED.with_borrow_mut(|served| served.push((key, delivered)));
        Polled { delivered, busy: left > 0 }
    }

    fn panicking_poll(_id: InstanceId, _budget: usize) -> Polled {
        panic!("a delivery failed");
    }

    fn watch_fake(key: i64, waiting: usize, poll: fn(InstanceId, usize) -> Polled) {
        PENDING.with_borrow_mut(|pending| pending.insert(key, waiting));
        PUMP.with_borrow_mut(|pump| pump.watched.add(Watch { id: InstanceId::from_i64(key), poll }));
    }

    fn watched_keys() -> Vec<i64> {
        PUMP.with_borrow(|pump| pump.watched.entries.iter().map(|w| w.id.to_i64()).collect())
    }

    fn served_this_frame() -> Vec<(i64, usize)> {
        SERVED.with_borrow_mut(std::mem::take)
    }

    #[test]
    fn a_frame_delivers_at_most_the_budget_and_objects_take_turns() {
        watch_fake(1, 200, fake_poll);
        watch_fake(2, 200, fake_poll);
        watch_fake(3, 200, fake_poll);

        assert!(!deliver_frame());
        assert_eq!(served_this_frame(), vec![(1, 200), (2, 56)]);
        assert_eq!(watched_keys(), vec![3, 2], "1 is done; 3 was not reached and goes first");

        assert!(!deliver_frame());
        assert_eq!(served_this_frame(), vec![(3, 200), (2, 56)]);
        assert_eq!(watched_keys(), vec![2]);

        assert!(deliver_frame(), "everything delivered: the pump may stop");
        assert_eq!(served_this_frame(), vec![(2, 88)]);
        assert!(watched_keys().is_empty());
    }

    #[test]
    fn a_panicking_delivery_loses_no_watched_object() {
        watch_fake(1, 3, fake_poll);
        watch_fake(2, 0, panicking_poll);
        watch_fake(3, 3, fake_poll);

        assert!(!deliver_frame());
        assert_eq!(served_this_frame(), vec![(1, 3), (3, 3)], "the objects after the panic were served");
        assert_eq!(watched_keys(), vec![2], "the object whose delivery panicked is still watched");
    }

    #[test]
    fn an_object_is_watched_once() {
        watch_fake(7, 1, fake_poll);
        watch_fake(7, 1, fake_poll);
        assert_eq!(watched_keys(), vec![7]);
    }
}
