//! One readiness wait at a time on any socket, bounded by a deadline and cut short by
//! cancellation.
//!
//! A [`Waiter`] owns a sleeper (`poll(2)` and a socket pair on Unix, `polling::Poller` on
//! Windows: module `sleeper`) and a hook on a [`CancelToken`] that notifies the sleeper from
//! the cancelling thread. A wait sleeps in the kernel until the socket is ready, the deadline
//! passes or the notify arrives. No thread sleeps in steps and no cancel is missed: a notify
//! that comes before the wait starts makes the wait return at once.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use polling::{AsRawSource, AsSource};

use crate::cancel::{CancelHook, CancelToken};
use crate::sleeper::{Sleeper, Slept};

/// What a wait waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Data (or an error, or the peer's close) can be read.
    Readable,
    /// Data can be written, or a non-blocking connect finished (either way).
    Writable,
}

/// How a wait ended, when it did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The socket is ready for what was asked (it may still answer `WouldBlock`: callers try
    /// the operation and wait again).
    Ready,
    /// The deadline passed first.
    TimedOut,
}

/// How a wakeable wait ([`Waiter::wait_wakeable`], [`Waiter::sleep_until`]) ended, when it
/// did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeOutcome {
    /// The socket is ready for what was asked.
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// A [`Wake`] handle of the waiter was used (now or since the last wakeable wait).
    Woken,
}

/// Why a wait gave no [`WaitOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The waiter's token (or an ancestor of it) was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The system's wait (poll, or the poller on Windows) failed.
    #[error("waiting on the socket failed: {0}")]
    Io(#[from] io::Error),
}

impl WaitError {
    /// As an `io::Error`: `Cancelled` becomes [`cancelled_io_error`], `Io` itself.
    pub fn into_io(self) -> io::Error {
        match self {
            Self::Cancelled => cancelled_io_error(),
            Self::Io(error) => error,
        }
    }
}

/// The payload of the `io::Error` that stands for a cancelled operation (see
/// [`cancelled_io_error`] and [`is_cancelled_io_error`]).
#[derive(Debug, thiserror::Error)]
#[error("operation cancelled")]
pub struct Cancelled;

/// The `io::Error` that reports a cancelled operation through an `io::Read`/`io::Write` or
/// similar interface: kind `Other` (never `Interrupted`, which `read_to_end` and friends
/// retry) with a [`Cancelled`] payload.
pub fn cancelled_io_error() -> io::Error {
    io::Error::other(Cancelled)
}

/// Whether `error` (or an error it wraps) is [`cancelled_io_error`].
pub fn is_cancelled_io_error(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<Cancelled>())
}

/// Waits on one socket at a time until it is ready, a deadline passes, or a [`CancelToken`]
/// is cancelled. Made for blocking worker threads: one waiter per operation (or per thread),
/// any number of waits in a row. Costs one sleeper (two file descriptors on Unix) while it
/// lives; a dropped waiter's sleeper is kept for the next waiter made on the same thread (see
/// [`Waiter::new`]).
pub struct Waiter {
    sleeper: Arc<Sleeper>,
    woken: Arc<AtomicBool>,
    cancel: CancelToken,
    hook: Option<CancelHook>,
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").field("cancel", &self.cancel).finish_non_exhaustive()
    }
}

thread_local! {
    /// The sleeper of the last waiter dropped on this thread, for the next waiter made here.
    /// Making one costs system calls (a socket pair and two `fcntl`s on Unix) and dropping
    /// it two more; an HTTP exchange makes a waiter for every connection.
    static SPARE_SLEEPER: Cell<Option<Arc<Sleeper>>> = const { Cell::new(None) };
}

impl Waiter {
    /// A waiter whose waits end when `cancel` (or an ancestor) is cancelled. Fails only when
    /// the system cannot make a sleeper (out of file descriptors).
    ///
    /// The sleeper of the last waiter dropped on this thread is reused (each thread keeps at
    /// most one spare, two file descriptors on Unix, until it ends). A notify meant for its
    /// old owner (a late cancel or [`Wake`]) can then wake a wait of the new one once; waits
    /// treat that as a spurious wake-up and wait again.
    pub fn new(cancel: &CancelToken) -> io::Result<Self> {
        let sleeper = match SPARE_SLEEPER.try_with(Cell::take).ok().flatten() {
            Some(sleeper) => sleeper,
            None => Arc::new(Sleeper::new()?),
        };
        let woken = Arc::downgrade(&sleeper);
        let hook = cancel.on_cancel(move || {
            if let Some(sleeper) = woken.upgrade() {
                let _ = sleeper.notify();
            }
        });
        Ok(Self { sleeper, woken: Arc::default(), cancel: cancel.clone(), hook: Some(hook) })
    }

    /// A handle that other threads use to end this waiter's current or next wakeable wait
    /// (for example a helper thread that has a result ready). Plain [`wait`](Self::wait)s
    /// are not ended by it; the wake is kept for the next wakeable wait.
    pub fn waker(&self) -> Wake {
        Wake { sleeper: Arc::downgrade(&self.sleeper), woken: Arc::clone(&self.woken) }
    }

    /// The token this waiter watches.
    pub fn token(&self) -> &CancelToken {
        &self.cancel
    }

    /// `Err(Cancelled)` when the token is cancelled, else `Ok(())`: for checks between steps.
    pub fn check(&self) -> Result<(), WaitError> {
        if self.cancel.is_cancelled() {
            Err(WaitError::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Waits until `socket` is ready for `interest`, `deadline` passes, or the token is
    /// cancelled (checked first, so a cancelled token never waits). Never returns
    /// `TimedOut` before `deadline`. The socket should be non-blocking, since the operation
    /// that follows a `Ready` may still find nothing to do.
    pub fn wait<S>(&self, socket: S, interest: Interest, deadline: Instant) -> Result<WaitOutcome, WaitError>
    where
        S: AsRawSource + AsSource + Copy,
    {
        match self.wait_for(Some((socket, interest)), deadline, false)? {
            WakeOutcome::Ready => Ok(WaitOutcome::Ready),
            WakeOutcome::TimedOut | WakeOutcome::Woken => Ok(WaitOutcome::TimedOut),
        }
    }

    /// As [`wait`](Self::wait), but also ends with `Woken` when a [`Wake`] handle of this
    /// waiter is used (a wake that came before the call ends it at once).
    pub fn wait_wakeable<S>(&self, socket: S, interest: Interest, deadline: Instant) -> Result<WakeOutcome, WaitError>
    where
        S: AsRawSource + AsSource + Copy,
    {
        self.wait_for(Some((socket, interest)), deadline, true)
    }

    /// Waits for no socket: until `deadline` (`TimedOut`), a [`Wake`] (`Woken`) or the
    /// token's cancel (`Err(Cancelled)`).
    pub fn sleep_until(&self, deadline: Instant) -> Result<WakeOutcome, WaitError> {
        self.wait_for(None::<(&std::net::UdpSocket, Interest)>, deadline, true)
    }

    fn wait_for<S>(&self, socket: Option<(S, Interest)>, deadline: Instant, wakeable: bool) -> Result<WakeOutcome, WaitError>
    where
        S: AsRawSource + AsSource + Copy,
    {
        let woken = || wakeable && self.woken.swap(false, Ordering::SeqCst);
        loop {
            self.check()?;
            if woken() {
                return Ok(WakeOutcome::Woken);
            }
            if Instant::now() >= deadline {
                return Ok(WakeOutcome::TimedOut);
            }
            if self.sleeper.sleep(socket, deadline)? == Slept::Ready {
                return Ok(WakeOutcome::Ready);
            }
            // A notify (a cancel or a wake), a spurious wake-up or the deadline: look again.
        }
    }
}

impl Drop for Waiter {
    /// Removes the cancel hook, then keeps the sleeper as this thread's spare when nobody
    /// else holds it (a [`Wake`] or a running hook only borrows it for a notify).
    fn drop(&mut self) {
        drop(self.hook.take());
        if Arc::strong_count(&self.sleeper) == 1 {
            let sleeper = Arc::clone(&self.sleeper);
            let _ = SPARE_SLEEPER.try_with(|spare| spare.set(Some(sleeper)));
        }
    }
}

/// Ends the current or next wakeable wait of one [`Waiter`] ([`Waiter::waker`]). Cheap to
/// clone and to send to other threads; does nothing once the waiter is gone (at most a
/// spurious wake-up of a later waiter on the same thread, which reuses the sleeper).
#[derive(Clone)]
pub struct Wake {
    sleeper: Weak<Sleeper>,
    woken: Arc<AtomicBool>,
}

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wake").finish_non_exhaustive()
    }
}

impl Wake {
    /// Ends the waiter's current wakeable wait with `Woken`, or its next one at once.
    pub fn wake(&self) {
        self.woken.store(true, Ordering::SeqCst);
        if let Some(sleeper) = self.sleeper.upgrade() {
            let _ = sleeper.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn quiet_socket() -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        socket
    }

    #[test]
    fn a_quiet_socket_times_out_at_its_deadline_and_not_before() {
        let socket = quiet_socket();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(waiter.wait(&socket, Interest::Readable, deadline).unwrap(), WaitOutcome::TimedOut);
        assert!(Instant::now() >= deadline);
        // The waiter can wait again (the socket was unregistered).
        let deadline = Instant::now() + Duration::from_millis(1);
        assert_eq!(waiter.wait(&socket, Interest::Readable, deadline).unwrap(), WaitOutcome::TimedOut);
    }

    #[test]
    fn a_datagram_makes_the_socket_ready() {
        let socket = quiet_socket();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        UdpSocket::bind("127.0.0.1:0").unwrap().send_to(b"x", socket.local_addr().unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(waiter.wait(&socket, Interest::Readable, deadline).unwrap(), WaitOutcome::Ready);
        assert!(Instant::now() < deadline);
    }

    #[test]
    fn cancelling_from_another_thread_ends_a_long_wait() {
        let socket = quiet_socket();
        let root = CancelToken::new();
        let waiter = Waiter::new(&root.child().child()).unwrap();
        let canceller = {
            let root = root.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                root.cancel();
            })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let result = waiter.wait(&socket, Interest::Readable, deadline);
        assert!(matches!(result, Err(WaitError::Cancelled)), "{result:?}");
        assert!(Instant::now() < deadline, "the cancel ended the wait, not the deadline");
        canceller.join().unwrap();
    }

    #[test]
    fn a_cancelled_token_never_waits() {
        let socket = quiet_socket();
        let token = CancelToken::new();
        token.cancel();
        let waiter = Waiter::new(&token).unwrap();
        let result = waiter.wait(&socket, Interest::Readable, Instant::now() + Duration::from_secs(30));
        assert!(matches!(result, Err(WaitError::Cancelled)));
    }

    #[test]
    fn a_wake_ends_a_wakeable_wait_but_not_a_plain_one() {
        let socket = quiet_socket();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let wake = waiter.waker();
        wake.wake();
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(waiter.wait(&socket, Interest::Readable, soon).unwrap(), WaitOutcome::TimedOut, "a plain wait ignores wakes");
        let far = Instant::now() + Duration::from_secs(30);
        assert_eq!(waiter.wait_wakeable(&socket, Interest::Readable, far).unwrap(), WakeOutcome::Woken, "the wake was kept");
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(waiter.sleep_until(soon).unwrap(), WakeOutcome::TimedOut, "a wake is used once");
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            wake.wake();
        });
        assert_eq!(waiter.sleep_until(far).unwrap(), WakeOutcome::Woken);
        assert!(Instant::now() < far);
        waker.join().unwrap();
    }

    #[test]
    fn a_reused_sleeper_carries_nothing_over_from_its_last_waiter() {
        let socket = quiet_socket();
        let old_token = CancelToken::new();
        let old = Waiter::new(&old_token).unwrap();
        let old_wake = old.waker();
        drop(old);
        // The next waiter on this thread takes the old one's sleeper; a late cancel of the old
        // token and a late wake reach that sleeper, but must not end the new waiter's waits.
        let new = Waiter::new(&CancelToken::new()).unwrap();
        old_token.cancel();
        old_wake.wake();
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(new.wait(&socket, Interest::Readable, deadline).unwrap(), WaitOutcome::TimedOut);
        assert!(Instant::now() >= deadline, "a stale notify ended the wait early");
        let deadline = Instant::now() + Duration::from_millis(20);
        assert_eq!(new.sleep_until(deadline).unwrap(), WakeOutcome::TimedOut, "the old waiter's wake is not the new one's");
        // And the new waiter's own cancel still works on the reused sleeper.
        let token = CancelToken::new();
        drop(new);
        let waiter = Waiter::new(&token).unwrap();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                token.cancel();
            })
        };
        let far = Instant::now() + Duration::from_secs(30);
        assert!(matches!(waiter.wait(&socket, Interest::Readable, far), Err(WaitError::Cancelled)));
        assert!(Instant::now() < far);
        canceller.join().unwrap();
    }

    #[test]
    fn the_cancelled_io_error_is_recognised_and_is_not_interrupted() {
        let error = WaitError::Cancelled.into_io();
        assert!(is_cancelled_io_error(&error));
        assert_ne!(error.kind(), io::ErrorKind::Interrupted);
        assert!(!is_cancelled_io_error(&io::Error::from(io::ErrorKind::TimedOut)));
    }
}
