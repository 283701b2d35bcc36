//! ureq's connection, owned by us so that a cancel interrupts it: a [`Connector`] that
//! connects with [`gdnat_io::tcp::connect`] and a [`Transport`] whose writes and reads wait on
//! the socket with `gdnat_io` (a deadline from ureq's timeouts, and the caller's
//! [`CancelToken`]). ureq's own `TcpConnector` blocks in `connect_timeout` and in reads with a
//! socket timeout, which no other thread can cut short.
//!
//! The token of the request comes from [`with_cancel`]: `http::get` and `http::post_soap` run
//! the ureq call inside it, and the connector (which ureq calls on the same thread) picks the
//! token up. The agent is shared between requests (see `http::agent`), so the token cannot
//! live in the connector itself.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use gdnat_io::tcp::DeadlineStream;
use gdnat_io::wait::is_cancelled_io_error;
use gdnat_io::{CancelToken, Waiter};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport};
use ureq::Timeout;

thread_local! {
    /// The token of the request this thread is making, while it makes it.
    static CURRENT: RefCell<Option<CancelToken>> = const { RefCell::new(None) };
}

/// Runs `request` with `cancel` as the token of every connection it opens on this thread.
pub(crate) fn with_cancel<T>(cancel: &CancelToken, request: impl FnOnce() -> T) -> T {
    struct Restore(Option<CancelToken>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|current| *current.borrow_mut() = self.0.take());
        }
    }
    let previous = CURRENT.with(|current| current.borrow_mut().replace(cancel.clone()));
    let _restore = Restore(previous);
    request()
}

fn current_token() -> CancelToken {
    CURRENT.with(|current| current.borrow().clone()).unwrap_or_default()
}

/// The deadline of a ureq timeout (`None`: no bound, clamped to a day).
fn deadline(timeout: &NextTimeout) -> Instant {
    let after = timeout.not_zero().map(|d| *d).unwrap_or(Duration::from_secs(86_400));
    Instant::now() + after.min(Duration::from_secs(86_400))
}

/// An `io::Error` as ureq's error: a passed deadline is ureq's `Timeout` (so the request
/// error names the right bound), anything else (a cancel included) stays an I/O error.
fn to_ureq(error: io::Error, reason: Timeout) -> ureq::Error {
    if error.kind() == ErrorKind::TimedOut && !is_cancelled_io_error(&error) {
        ureq::Error::Timeout(reason)
    } else {
        ureq::Error::Io(error)
    }
}

/// Connects through `gdnat_io`, cancellable (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct CancellableConnector;

impl Connector<()> for CancellableConnector {
    type Out = CancellableTransport;

    fn connect(&self, details: &ConnectionDetails, _chained: Option<()>) -> Result<Option<Self::Out>, ureq::Error> {
        let waiter = Waiter::new(&current_token()).map_err(ureq::Error::Io)?;
        let connect_deadline = deadline(&details.timeout);
        let mut last_error = None;
        for addr in details.addrs.iter() {
            match gdnat_io::tcp::connect(*addr, connect_deadline, &waiter) {
                Ok(stream) => {
                    let stream = DeadlineStream::from_connected(stream, waiter, connect_deadline);
                    let config = details.config;
                    let buffers = LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size());
                    return Ok(Some(CancellableTransport { stream, buffers, unsent: Vec::new() }));
                }
                Err(error) if matches!(error.kind(), ErrorKind::ConnectionRefused | ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable | ErrorKind::AddrNotAvailable) => {
                    last_error = Some(error);
                }
                Err(error) => return Err(to_ureq(error, details.timeout.reason)),
            }
        }
        Err(ureq::Error::Io(last_error.unwrap_or_else(|| io::Error::new(ErrorKind::ConnectionRefused, "no address to connect to"))))
    }
}

/// Output held back until the first read, up to this size (a SOAP request is about 1 KiB).
const MAX_UNSENT: usize = 16 * 1024;

/// One connection: a [`DeadlineStream`] and ureq's buffers.
///
/// ureq hands over a request's head and its body in two calls. Sent as they come (with
/// `TCP_NODELAY`), they are two TCP segments, and a single-threaded router such as miniupnpd
/// reads the head, goes back to its `select` loop, and reads the body on a second round. So the
/// output is held in `unsent` and written in one call before the first read (an HTTP client
/// always reads after it has sent its whole request), or as soon as it passes [`MAX_UNSENT`].
/// miniupnpc, the engine's client, also sends a request in one `send`.
pub(crate) struct CancellableTransport {
    stream: DeadlineStream,
    buffers: LazyBuffers,
    unsent: Vec<u8>,
}

impl CancellableTransport {
    /// Writes the held-back output, by `deadline`. `Ok(true)` when something was written.
    fn flush_unsent(&mut self, deadline_at: Instant, reason: Timeout) -> Result<bool, ureq::Error> {
        if self.unsent.is_empty() {
            return Ok(false);
        }
        self.stream.set_deadline(deadline_at);
        let result = self.stream.write_all(&self.unsent).map_err(|e| to_ureq(e, reason));
        self.unsent.clear();
        result.map(|()| true)
    }
}

impl fmt::Debug for CancellableTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancellableTransport").field("peer", &self.stream.get_ref().peer_addr().ok()).finish()
    }
}

impl Transport for CancellableTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let output = &self.buffers.output()[..amount];
        self.unsent.extend_from_slice(output);
        if self.unsent.len() >= MAX_UNSENT {
            self.flush_unsent(deadline(&timeout), timeout.reason)?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let just_sent = self.flush_unsent(deadline(&timeout), timeout.reason)?;
        self.stream.set_deadline(deadline(&timeout));
        if just_sent {
            // The request went out this instant; its answer cannot be there yet (on a LAN it
            // comes a fraction of a millisecond later), so wait before the first read.
            self.stream.wait_readable().map_err(|e| to_ureq(e, timeout.reason))?;
        }
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input).map_err(|e| to_ureq(e, timeout.reason))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        // Connections are never reused (`Connection: close`, no idle pool).
        false
    }
}
