//! The per-gateway gate: at most [`GATE_WIDTH`] HTTP exchanges at a time with one router
//! (keyed by the URL's `host:port`), the others wait their turn in this process. Home routers
//! are often single-threaded HTTP servers with a short listen backlog (miniupnpd is); a burst
//! of fifty connections at once loses connections there, so a burst is queued here instead.
//!
//! The wait for a turn is bounded by the caller's deadline and ends at once when the request's
//! [`CancelToken`] is cancelled (a hook wakes the waiters). A turn is given back when its
//! [`Turn`] is dropped, whichever way the exchange ended.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use gdnat_io::CancelToken;

/// Most exchanges in flight with one `host:port` at a time, for the whole process. Two keeps
/// a router busy (one exchange is being answered while the next connects) without ever
/// queueing more than one connection in its backlog.
pub const GATE_WIDTH: usize = 2;

/// Exchanges in flight per `host:port` (absent: none). A list: a process talks to one router,
/// rarely a few, so a search beats hashing the key on every exchange.
static IN_FLIGHT: Mutex<Vec<(Arc<str>, usize)>> = Mutex::new(Vec::new());
/// Routers (keys) kept in [`IN_FLIGHT`] with no exchange in flight.
const IDLE_ENTRIES_KEPT: usize = 8;
/// Signalled when a turn is given back or a waiter's token is cancelled.
static CHANGED: Condvar = Condvar::new();
/// Threads waiting on [`CHANGED`], counted under the [`IN_FLIGHT`] lock, so that a freed turn
/// wakes nobody (and makes no system call) when nobody waits.
static WAITING: AtomicUsize = AtomicUsize::new(0);

fn lock() -> MutexGuard<'static, Vec<(Arc<str>, usize)>> {
    IN_FLIGHT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why no turn was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateError {
    /// The deadline passed while waiting.
    TimedOut,
    /// The token was cancelled while waiting.
    Cancelled,
}

/// A turn at one router; gives it back when dropped.
#[derive(Debug)]
pub struct Turn {
    key: Arc<str>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut gates = lock();
        if let Some(at) = gates.iter().position(|(key, _)| Arc::ptr_eq(key, &self.key)) {
            gates[at].1 = gates[at].1.saturating_sub(1);
            // An idle router's entry stays for its next exchange (no allocation per exchange),
            // unless the list has grown past a handful of routers.
            if gates[at].1 == 0 && gates.len() > IDLE_ENTRIES_KEPT {
                gates.swap_remove(at);
            }
        }
        if WAITING.load(Ordering::Relaxed) > 0 {
            CHANGED.notify_all();
        }
    }
}

/// Waits for a turn at `key` (a `host:port`), until `deadline` or until `cancel` is cancelled.
pub fn enter(key: &str, deadline: Instant, cancel: &CancelToken) -> Result<Turn, GateError> {
    if cancel.is_cancelled() {
        return Err(GateError::Cancelled);
    }
    if let Some(turn) = take_turn(&mut lock(), key) {
        return Ok(turn);
    }
    // The gate is full: wait. The hook wakes this wait when the token is cancelled; taking the
    // lock before notifying means the wake cannot fall between the waiter's check and its wait.
    let _hook = cancel.on_cancel(|| {
        drop(lock());
        CHANGED.notify_all();
    });
    let mut gates = lock();
    loop {
        if cancel.is_cancelled() {
            return Err(GateError::Cancelled);
        }
        if let Some(turn) = take_turn(&mut gates, key) {
            return Ok(turn);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(GateError::TimedOut);
        }
        WAITING.fetch_add(1, Ordering::Relaxed);
        gates = CHANGED.wait_timeout(gates, left).unwrap_or_else(PoisonError::into_inner).0;
        WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A turn at `key` if one is free now, else `None` at once (for a connection opened ahead of
/// need, which is not worth a wait: [`super::spare`]).
pub(crate) fn try_enter(key: &str) -> Option<Turn> {
    take_turn(&mut lock(), key)
}

/// A turn at `key` if the gate has room (counted in `gates`), else `None`.
fn take_turn(gates: &mut Vec<(Arc<str>, usize)>, key: &str) -> Option<Turn> {
    match gates.iter_mut().find(|(k, _)| **k == *key) {
        Some((_, count)) if *count >= GATE_WIDTH => None,
        Some((k, count)) => {
            *count += 1;
            Some(Turn { key: Arc::clone(k) })
        }
        None => {
            let key: Arc<str> = Arc::from(key);
            gates.push((Arc::clone(&key), 1));
            Some(Turn { key })
        }
    }
}

/// Exchanges in flight with `key` now (tests).
#[cfg(test)]
pub(crate) fn in_flight(key: &str) -> usize {
    lock().iter().find(|(k, _)| **k == *key).map_or(0, |(_, count)| *count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn at_most_the_width_get_a_turn_and_a_freed_turn_lets_the_next_in() {
        let key = "gate-test-width:1";
        let far = Instant::now() + Duration::from_secs(5);
        let cancel = CancelToken::new();
        let turns: Vec<Turn> = (0..GATE_WIDTH).map(|_| enter(key, far, &cancel).unwrap()).collect();
        assert_eq!(in_flight(key), GATE_WIDTH);
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(enter(key, soon, &cancel).unwrap_err(), GateError::TimedOut);
        let waiter = std::thread::spawn(move || enter(key, Instant::now() + Duration::from_secs(5), &CancelToken::new()).map(drop));
        std::thread::sleep(Duration::from_millis(20));
        drop(turns);
        assert_eq!(waiter.join().unwrap(), Ok(()));
        assert_eq!(in_flight(key), 0);
    }

    #[test]
    fn cancelling_ends_the_wait_at_once() {
        let key = "gate-test-cancel:1";
        let far = Instant::now() + Duration::from_secs(30);
        let _turns: Vec<Turn> = (0..GATE_WIDTH).map(|_| enter(key, far, &CancelToken::new()).unwrap()).collect();
        let cancel = CancelToken::new();
        let waiting = cancel.clone();
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            (enter(key, far, &waiting).map(drop), started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(20));
        cancel.cancel();
        let (result, waited) = waiter.join().unwrap();
        assert_eq!(result, Err(GateError::Cancelled));
        assert!(waited < Duration::from_secs(5), "the wait went on for {waited:?} after the cancel");
    }

    #[test]
    fn different_routers_do_not_wait_for_each_other() {
        let far = Instant::now() + Duration::from_secs(5);
        let cancel = CancelToken::new();
        let _a: Vec<Turn> = (0..GATE_WIDTH).map(|_| enter("gate-test-a:1", far, &cancel).unwrap()).collect();
        assert!(enter("gate-test-b:1", Instant::now(), &cancel).is_ok());
    }
}
