//! The short-lived threads the core starts on its own (one per device being validated during
//! discovery), counted so that a host can wait for them before it unloads the code they run.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// How many helper threads started by this crate have not finished yet. A host that unloads
/// the library (a GDExtension at engine exit) waits for this to reach 0, or keeps the library
/// loaded while it is not.
pub fn running() -> usize {
    RUNNING.load(Ordering::SeqCst)
}

/// Lowers the count when the thread's closure is done, even by unwinding.
struct Finished;

impl Drop for Finished {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts a detached, counted thread called `name` that runs `work`.
pub(crate) fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> io::Result<()> {
    RUNNING.fetch_add(1, Ordering::SeqCst);
    let spawned = thread::Builder::new().name(name.into()).spawn(move || {
        let _finished = Finished;
        work();
    });
    match spawned {
        Ok(_) => Ok(()),
        Err(error) => {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
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
    }

    struct DropSends(mpsc::Sender<()>);
    impl Drop for DropSends {
        fn drop(&mut self) {
            let _ = self.0.send(());
        }
    }
}
