//! The per-gateway gate: at most [`GATE_WIDTH`] HTTP exchanges at a time with one router
//! (keyed by the URL's `host:port`), the others wait their turn in this process. Home routers
//! are often single-threaded HTTP servers with a short listen backlog (miniupnpd is); a burst
//! of fifty connections at once loses connections there, so a burst is queued here instead.
//!
//! The wait for a turn is bounded by the caller's deadline and ends at once when the request's
//! [`CancelToken`] is cancelled (a hook wakes the waiters). A turn is given back when its
//! [`Turn`] is dropped, whichever way the exchange ended.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use gdnat_io::CancelToken;

/// Most exchanges in flight with one `host:port` at a time, for the whole process. Two keeps
/// a router busy (one exchange is being answered while the next connects) without ever
/// queueing more than one connection in its backlog.
pub const GATE_WIDTH: usize = 2;

/// Exchanges in flight per `host:port` (absent: none).
static IN_FLIGHT: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
/// Signalled when a turn is given back or a waiter's token is cancelled.
static CHANGED: Condvar = Condvar::new();
/// Threads waiting on [`CHANGED`], counted under the [`IN_FLIGHT`] lock, so that a freed turn
/// wakes nobody (and makes no system call) when nobody waits.
static WAITING: AtomicUsize = AtomicUsize::new(0);

fn lock() -> MutexGuard<'static, Option<HashMap<String, usize>>> {
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
    key: String,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut gates = lock();
        if let Some(map) = gates.as_mut() {
            if let Some(count) = map.get_mut(&self.key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(&self.key);
                }
            }
        }
        if WAITING.load(Ordering::Relaxed) > 0 {
            CHANGED.notify_all();
        }
    }
}

/// Waits for a turn at `key` (a `host:port`), until `deadline` or until `cancel` is cancelled.
pub fn enter(key: &str, deadline: Instant, cancel: &CancelToken) -> Result<Turn, GateError> {
    // Wakes this wait when the token is cancelled. Taking the lock before notifying means the
    // wake cannot fall between the waiter's check and its wait.
    let _hook = cancel.on_cancel(|| {
        drop(lock());
        CHANGED.notify_all();
    });
    let mut gates = lock();
    loop {
        if cancel.is_cancelled() {
            return Err(GateError::Cancelled);
        }
        let count = gates.get_or_insert_with(HashMap::new).entry(key.to_string()).or_insert(0);
        if *count < GATE_WIDTH {
            *count += 1;
            return Ok(Turn { key: key.to_string() });
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

/// Exchanges in flight with `key` now (tests).
#[cfg(test)]
pub(crate) fn in_flight(key: &str) -> usize {
    lock().as_ref().and_then(|map| map.get(key).copied()).unwrap_or(0)
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
