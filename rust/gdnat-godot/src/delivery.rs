//! The main-thread result pump: one global `godot::task::spawn` task that wakes on every
//! `SceneTree.process_frame` while any object has work in flight, drains each such object's
//! [`Worker`] and hands the outcomes to the object ([`AsyncHost::deliver`]), which updates its
//! state and emits its signals.
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
//! Needs a `SceneTree` main loop (the normal case, including `-s` scripts that extend it).

use std::cell::RefCell;

use godot::classes::{Engine, SceneTree};
use godot::obj::{Bounds, InstanceId};
use godot::prelude::*;
use godot::task::TaskHandle;

use crate::worker::{Outcome, Worker};

/// A Godot class whose objects own a [`Worker`] and receive its outcomes.
pub trait AsyncHost: GodotClass + Bounds<Declarer = godot::obj::bounds::DeclUser> {
    /// The object's worker.
    fn worker_mut(&mut self) -> &mut Worker;

    /// Applies one outcome to the object and emits the matching signal. Called on the main
    /// thread with no bind guard held, so signal handlers may call back into the object.
    fn deliver(this: &mut Gd<Self>, outcome: Outcome);
}

#[derive(Clone, Copy)]
struct Watch {
    id: InstanceId,
    poll: fn(InstanceId) -> bool,
}

#[derive(Default)]
struct Pump {
    watched: Vec<Watch>,
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
        if !pump.watched.iter().any(|w| w.id == id) {
            pump.watched.push(Watch { id, poll: poll::<T> });
        }
        pump.task.is_none()
    });
    if start {
        // The first poll runs synchronously up to the first await; the loop awaits the next
        // frame before touching any object, so the caller's bind guard is no problem.
        let handle = godot::task::spawn(pump_loop());
        if handle.is_pending() {
            PUMP.with_borrow_mut(|pump| pump.task = Some(handle));
        }
    }
}

/// Delivers what arrived for one object. Returns whether it still has work in flight.
fn poll<T: AsyncHost>(id: InstanceId) -> bool {
    let Ok(mut this) = Gd::<T>::try_from_instance_id(id) else {
        return false; // freed: its work was cancelled, nothing to deliver
    };
    let outcomes = this.bind_mut().worker_mut().drain();
    for outcome in outcomes {
        T::deliver(&mut this, outcome);
    }
    let busy = !this.bind_mut().worker_mut().is_idle();
    busy
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
        let batch = PUMP.with_borrow_mut(|pump| std::mem::take(&mut pump.watched));
        let kept: Vec<Watch> = batch.into_iter().filter(|w| (w.poll)(w.id)).collect();
        let idle = PUMP.with_borrow_mut(|pump| {
            // Objects that started work during delivery were added to the (emptied) list.
            let added = std::mem::replace(&mut pump.watched, kept);
            for watch in added {
                if !pump.watched.iter().any(|w| w.id == watch.id) {
                    pump.watched.push(watch);
                }
            }
            if pump.watched.is_empty() || pump.stopped {
                pump.task = None;
                true
            } else {
                false
            }
        });
        if idle {
            return;
        }
    }
}

fn stop_watching() {
    PUMP.with_borrow_mut(|pump| {
        pump.watched.clear();
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
        pump.watched.clear();
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
