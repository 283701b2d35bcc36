//! The short-lived threads the core starts on its own (one per device being validated during
//! discovery), counted so that a host can wait for them before it unloads the code they run.
//! Their network I/O ends at once when their discovery is cancelled or returns, so such a
//! wait is short.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Instant;

static RUNNING: Mutex<usize> = Mutex::new(0);
static CHANGED: Condvar = Condvar::new();

fn count() -> MutexGuard<'static, usize> {
    RUNNING.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How many helper threads started by this crate have not finished yet. A host that unloads
/// the library (a GDExtension at engine exit) waits for this to reach 0 ([`wait_until_none`]).
pub fn running() -> usize {
    *count()
}

/// Waits until no helper thread runs or `deadline` passes; returns how many still run (0
/// unless the deadline passed first). Sleeps on a condition variable, no polling.
pub fn wait_until_none(deadline: Instant) -> usize {
    let mut running = count();
    while *running > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        running = CHANGED.wait_timeout(running, left).unwrap_or_else(PoisonError::into_inner).0;
    }
    *running
}

fn finished() {
    let mut running = count();
    *running = running.saturating_sub(1);
    CHANGED.notify_all();
}

/// Lowers the count when the thread's closure is done, even by unwinding.
struct Finished;

impl Drop for Finished {
    fn drop(&mut self) {
        finished();
    }
}

/// Starts a detached, counted thread called `name` that runs `work`.
pub(crate) fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> io::Result<()> {
    *count() += 1;
    let spawned = thread::Builder::new().name(name.into()).spawn(move || {
        let _finished = Finished;
        work();
    });
    match spawned {
        Ok(_) => Ok(()),
        Err(error) => {
            finished();
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn wait_until(condition: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if condition() {
                return true;
            }
            thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn a_helper_is_counted_while_it_runs_and_after_a_panic_is_not() {
        // Other tests of this crate start helpers too, so compare with a floor, not a value.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        spawn("gdnat-test-helper", move || {
            started_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(5));
        })
        .unwrap();
        started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(running() >= 1);

        let (done_tx, done_rx) = mpsc::channel::<()>();
        spawn("gdnat-test-panicking-helper", move || {
            let _done = DropSends(done_tx);
            panic!("a helper that panics is still uncounted when it ends");
        })
        .unwrap();
        done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        release_tx.send(()).unwrap();
        assert!(wait_until(|| running() == 0), "helpers still counted: {}", running());
        assert_eq!(wait_until_none(Instant::now() + Duration::from_secs(5)), 0);
    }

    struct DropSends(mpsc::Sender<()>);
    impl Drop for DropSends {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
}
