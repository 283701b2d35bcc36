//! The kernel wait under a [`crate::Waiter`]: sleep until one socket is ready, a deadline
//! passes, or another thread calls [`Sleeper::notify`].
//!
//! - **Unix**: `poll(2)` (`ppoll` where the system has it, so the deadline is kept to the
//!   nanosecond) on the socket and on one end of a socket pair; [`Sleeper::notify`] writes a
//!   byte to the other end. One system call per wait. The earlier `polling::Poller` (epoll
//!   with an eventfd and a timerfd) cost seven per wait: register, arm the timer, re-arm it,
//!   wait, read the eventfd, re-arm it, unregister. A SOAP call waits twice, so that was 14 of
//!   its 24 system calls (docs/benchmarks.md, "Cost of one add/delete call, counted").
//! - **Elsewhere (Windows)**: `polling::Poller` (IOCP with AFD), which has no cheap one-shot
//!   wait on a socket; the socket is registered for the one wait and removed after it.
//!
//! A notify that comes before a wait starts makes that wait return at once (the byte, or the
//! poller's notify flag, stays until a wait takes it).

use std::io;
use std::time::{Duration, Instant};

use polling::{AsRawSource, AsSource};

use crate::wait::Interest;

/// The longest single kernel sleep: callers loop until their own deadline, so a far deadline
/// costs a wake-up per slice and never overflows the system's timeout type.
const MAX_SLICE: Duration = Duration::from_secs(3600);

/// How one [`Sleeper::sleep`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slept {
    /// The socket is ready (or has an error or hang-up to report).
    Ready,
    /// Anything else: a notify, the deadline, a signal. The caller looks at its own state.
    Other,
}

pub(crate) use imp::Sleeper;

#[cfg(unix)]
mod imp {
    use super::*;
    use std::io::{ErrorKind, Read, Write};
    use std::os::unix::net::UnixStream;

    use rustix::event::{poll, PollFd, PollFlags, Timespec};

    /// A socket pair: `wake_rx` is polled beside the socket, `wake_tx` is written to notify.
    #[derive(Debug)]
    pub(crate) struct Sleeper {
        wake_rx: UnixStream,
        wake_tx: UnixStream,
    }

    impl Sleeper {
        /// Two file descriptors; fails only when the system has none left.
        pub(crate) fn new() -> io::Result<Self> {
            let (wake_rx, wake_tx) = UnixStream::pair()?;
            wake_rx.set_nonblocking(true)?;
            wake_tx.set_nonblocking(true)?;
            Ok(Self { wake_rx, wake_tx })
        }

        /// Ends the current or the next [`sleep`](Self::sleep). Never blocks: when the pair's
        /// buffer is full, a wake-up is pending anyway.
        pub(crate) fn notify(&self) -> io::Result<()> {
            match (&self.wake_tx).write(&[1]) {
                Err(e) if e.kind() != ErrorKind::WouldBlock => Err(e),
                _ => Ok(()),
            }
        }

        /// Sleeps until `socket` is ready for its interest, `deadline` passes or a notify
        /// comes (one that came before the call included). A notify is used up.
        pub(crate) fn sleep<S>(&self, socket: Option<(S, Interest)>, deadline: Instant) -> io::Result<Slept>
        where
            S: AsRawSource + AsSource + Copy,
        {
            let remaining = deadline.saturating_duration_since(Instant::now()).min(MAX_SLICE);
            // Linux lets poll/ppoll fire late by 0.1 % of the timeout (at most 100 ms) for a
            // normal thread (fs/select.c, select_estimate_accuracy): 2 ms on a 2 s wait. So
            // ask for that much less; the caller's loop sleeps the last bit (with a slack of
            // microseconds), and a deadline is kept to well under a millisecond.
            let asked = remaining - remaining / 1000;
            let timeout = Timespec { tv_sec: asked.as_secs() as _, tv_nsec: asked.subsec_nanos() as _ };
            let wake = PollFd::new(&self.wake_rx, PollFlags::IN);
            let result = match socket {
                Some((socket, interest)) => {
                    let flags = match interest {
                        Interest::Readable => PollFlags::IN,
                        Interest::Writable => PollFlags::OUT,
                    };
                    let mut fds = [PollFd::from_borrowed_fd(socket.as_fd(), flags), wake];
                    poll(&mut fds, Some(&timeout)).map(|_| (!fds[0].revents().is_empty(), !fds[1].revents().is_empty()))
                }
                None => {
                    let mut fds = [wake];
                    poll(&mut fds, Some(&timeout)).map(|_| (false, !fds[0].revents().is_empty()))
                }
            };
            let (ready, woken) = match result {
                Ok(seen) => seen,
                Err(rustix::io::Errno::INTR) => return Ok(Slept::Other),
                Err(error) => return Err(error.into()),
            };
            if woken {
                self.drain();
            }
            Ok(if ready { Slept::Ready } else { Slept::Other })
        }

        /// Reads every pending wake-up byte.
        fn drain(&self) {
            let mut bytes = [0u8; 64];
            while let Ok(n) = (&self.wake_rx).read(&mut bytes) {
                if n < bytes.len() {
                    break;
                }
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;
    use std::num::NonZeroUsize;
    use std::sync::{Mutex, PoisonError};

    use polling::{Event, Events, Poller};

    /// The key of the one socket registered at a time.
    const KEY: usize = 7;

    /// Events one wait can return: the socket's and the poller's own.
    const EVENTS: NonZeroUsize = match NonZeroUsize::new(4) {
        Some(n) => n,
        None => unreachable!(),
    };

    /// A `polling::Poller` and its event buffer.
    #[derive(Debug)]
    pub(crate) struct Sleeper {
        poller: Poller,
        events: Mutex<Events>,
    }

    impl Sleeper {
        /// Fails only when the system cannot make a poller.
        pub(crate) fn new() -> io::Result<Self> {
            Ok(Self { poller: Poller::new()?, events: Mutex::new(Events::with_capacity(EVENTS)) })
        }

        /// Ends the current or the next [`sleep`](Self::sleep).
        pub(crate) fn notify(&self) -> io::Result<()> {
            self.poller.notify()
        }

        /// Sleeps until `socket` is ready for its interest, `deadline` passes or a notify
        /// comes (one that came before the call included).
        pub(crate) fn sleep<S>(&self, socket: Option<(S, Interest)>, deadline: Instant) -> io::Result<Slept>
        where
            S: AsRawSource + AsSource + Copy,
        {
            let _registered = match socket {
                Some((socket, interest)) => {
                    let event = match interest {
                        Interest::Readable => Event::readable(KEY),
                        Interest::Writable => Event::writable(KEY),
                    };
                    // SAFETY: `socket` is borrowed for this call and `Registered` deletes it
                    // from the poller before the call returns, on every path.
                    unsafe { self.poller.add(socket, event)? };
                    Some(Registered { poller: &self.poller, socket })
                }
                None => None,
            };
            let deadline = deadline.min(Instant::now() + MAX_SLICE);
            let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
            events.clear();
            self.poller.wait_deadline(&mut events, deadline)?;
            Ok(if events.iter().any(|e| e.key == KEY) { Slept::Ready } else { Slept::Other })
        }
    }

    /// Removes the socket from the poller when the wait ends.
    struct Registered<'a, S: AsSource + Copy> {
        poller: &'a Poller,
        socket: S,
    }

    impl<S: AsSource + Copy> Drop for Registered<'_, S> {
        fn drop(&mut self) {
            let _ = self.poller.delete(self.socket);
        }
    }
}
