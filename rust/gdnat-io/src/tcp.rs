//! TCP with deadlines and cancellation: [`connect`] and a [`DeadlineStream`] whose reads and
//! writes wait on the socket until a deadline, or end at once on cancellation.
//!
//! Errors are `io::Error`s, so these plug into `io::Read`/`io::Write` users: a passed deadline
//! is `ErrorKind::TimedOut`, a cancel is [`crate::wait::cancelled_io_error`] (recognised by
//! [`crate::wait::is_cancelled_io_error`]).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::wait::{Interest, WaitOutcome, Waiter};

fn timed_out(what: &str) -> io::Error {
    io::Error::new(ErrorKind::TimedOut, format!("{what} timed out"))
}

/// Connects to `to` by `deadline` at the latest; the stream comes back non-blocking, made for one
/// request and its answer (closing it resets the connection, see [`begin_connect`]). A
/// blackholed address ends at `deadline` (`TimedOut`), a cancel at once. A refused connection
/// is `ConnectionRefused`.
pub fn connect(to: SocketAddr, deadline: Instant, waiter: &Waiter) -> io::Result<TcpStream> {
    let (stream, connected) = begin_connect(to, waiter)?;
    if connected {
        return Ok(stream);
    }
    wait_connected(stream, deadline, waiter)
}

/// Waits by `deadline` for the connect of `stream` (started by [`begin_connect`]) to finish.
fn wait_connected(stream: TcpStream, deadline: Instant, waiter: &Waiter) -> io::Result<TcpStream> {
    loop {
        match waiter.wait(&stream, Interest::Writable, deadline).map_err(|e| e.into_io())? {
            WaitOutcome::TimedOut => return Err(timed_out("connect")),
            WaitOutcome::Ready => {}
        }
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
        // On Unix the wait is `poll(2)` on this one socket, so `Ready` is the kernel's own
        // POLLOUT: the connect finished, and with no error pending it succeeded.
        if cfg!(unix) {
            return Ok(stream);
        }
        match stream.peer_addr() {
            Ok(_) => return Ok(stream),
            // Not connected yet (a spurious readiness): wait again.
            Err(e) if e.kind() == ErrorKind::NotConnected => {}
            Err(e) => return Err(e),
        }
    }
}

/// Starts connecting to `to` for a client that writes first (an HTTP request): on Linux the
/// stream comes back as soon as the connect has started, because there a write on a connecting
/// socket waits for the handshake itself (`WouldBlock` until it is done, then the write; the
/// connect's failure, such as `ConnectionRefused`, as the write's error), so a
/// [`DeadlineStream`] write covers the connect and its wait. That saves the wait for
/// writability and the error check (two system calls per connection). Elsewhere a write
/// before the handshake is `NotConnected`, so this is [`connect`], waiting by `deadline`.
pub fn start_connect(to: SocketAddr, deadline: Instant, waiter: &Waiter) -> io::Result<TcpStream> {
    ready_for_first_write(begin_ahead(to, waiter)?, deadline, waiter)
}

/// Starts connecting to `to` and returns at once, whatever the handshake's progress: a
/// connection opened ahead of the request it will carry. Before that request,
/// [`is_still_open`] says whether the peer has dropped it meanwhile, and
/// [`ready_for_first_write`] makes it ready for the write.
pub fn begin_ahead(to: SocketAddr, waiter: &Waiter) -> io::Result<TcpStream> {
    begin_connect(to, waiter).map(|(stream, _)| stream)
}

/// Makes a stream whose connect was started ([`begin_ahead`]) ready for its first write: at
/// once on Linux, where the write itself waits for the handshake (see [`start_connect`]);
/// elsewhere by waiting for the connect to finish, by `deadline`.
pub fn ready_for_first_write(stream: TcpStream, deadline: Instant, waiter: &Waiter) -> io::Result<TcpStream> {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        return Ok(stream);
    }
    wait_connected(stream, deadline, waiter)
}

/// Whether a connection opened ahead ([`begin_ahead`]) and not yet written to can still carry
/// a request: its connect has not failed, and the peer has neither closed it, reset it nor
/// sent anything (a server speaks only after the request). One `recv(MSG_PEEK)`; never waits.
pub fn is_still_open(stream: &TcpStream) -> bool {
    match stream.peek(&mut [0u8; 1]) {
        // Nothing to read yet: open, or still connecting (Windows says "not connected" then).
        Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::NotConnected),
        // `Ok(0)`: the peer closed it; `Ok(_)`: it spoke first, which no HTTP server does.
        Ok(_) => false,
    }
}

/// A non-blocking socket for one request and its answer, whose connect to `to` has started:
/// the stream, and whether it is already connected.
///
/// Closing it resets the connection (`SO_LINGER` 0): it is closed once the answer is complete
/// (or the exchange is abandoned), so nothing is lost, and the peer's side, which a server
/// answering `Connection: close` has already closed, is freed at once instead of waiting in
/// `TIME_WAIT` on the router; the close also costs fewer packets. `TCP_NODELAY` is set where
/// Nagle's algorithm could hold the tail of a request larger than one segment until the peer's
/// delayed acknowledgement; Linux's variant (Minshall's) never holds back a single write, so
/// there the system call is saved.
fn begin_connect(to: SocketAddr, waiter: &Waiter) -> io::Result<(TcpStream, bool)> {
    waiter.check().map_err(|e| e.into_io())?;
    let socket = Socket::new(Domain::for_address(to), stream_type(), Some(Protocol::TCP))?;
    if !CREATED_NONBLOCKING {
        socket.set_nonblocking(true)?;
    }
    let _ = socket.set_linger(Some(std::time::Duration::ZERO));
    if !cfg!(any(target_os = "linux", target_os = "android")) {
        let _ = socket.set_tcp_nodelay(true);
    }
    match socket.connect(&SockAddr::from(to)) {
        Ok(()) => Ok((socket.into(), true)),
        Err(e) if e.kind() == ErrorKind::WouldBlock || e.raw_os_error() == Some(EINPROGRESS) => Ok((socket.into(), false)),
        Err(e) => Err(e),
    }
}

/// A TCP socket type, made non-blocking by `socket()` itself where the system can (one system
/// call instead of three on every connection).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn stream_type() -> Type {
    Type::STREAM.nonblocking()
}
#[cfg(any(target_os = "linux", target_os = "android"))]
const CREATED_NONBLOCKING: bool = true;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn stream_type() -> Type {
    Type::STREAM
}
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const CREATED_NONBLOCKING: bool = false;

/// `EINPROGRESS`, which a non-blocking connect returns on Unix (Windows says `WSAEWOULDBLOCK`,
/// which is `WouldBlock`).
#[cfg(any(target_os = "linux", target_os = "android"))]
const EINPROGRESS: i32 = 115;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const EINPROGRESS: i32 = 36;
#[cfg(not(unix))]
const EINPROGRESS: i32 = i32::MIN;

/// A non-blocking TCP stream whose `Read` and `Write` wait on the socket until a deadline
/// (`TimedOut` after it) and end at once when the waiter's token is cancelled. The deadline
/// can be moved between operations ([`set_deadline`](Self::set_deadline)).
#[derive(Debug)]
pub struct DeadlineStream {
    stream: TcpStream,
    waiter: Waiter,
    deadline: Instant,
}

impl DeadlineStream {
    /// Wraps a connected stream (made non-blocking here).
    pub fn new(stream: TcpStream, waiter: Waiter, deadline: Instant) -> io::Result<Self> {
        stream.set_nonblocking(true)?;
        Ok(Self { stream, waiter, deadline })
    }

    /// Wraps a stream that [`connect`] returned (already non-blocking, so no system call).
    pub fn from_connected(stream: TcpStream, waiter: Waiter, deadline: Instant) -> Self {
        Self { stream, waiter, deadline }
    }

    /// Connects with [`connect`] by `connect_deadline`; reads and writes then end by
    /// `deadline`.
    pub fn connect(to: SocketAddr, connect_deadline: Instant, deadline: Instant, waiter: Waiter) -> io::Result<Self> {
        let stream = connect(to, connect_deadline.min(deadline), &waiter)?;
        Ok(Self { stream, waiter, deadline })
    }

    /// The instant after which reads and writes fail with `TimedOut`.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// The stream itself (non-blocking).
    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    /// The waiter (and through it the token) this stream waits with.
    pub fn waiter(&self) -> &Waiter {
        &self.waiter
    }

    /// Closes both directions; later reads see the end, later writes fail.
    pub fn shutdown(&self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Both)
    }

    /// Waits until data (or the peer's close, or an error) can be read, by the deadline.
    /// A reader that knows nothing has come yet (it has just sent a request) saves the
    /// `read` that would only say `WouldBlock`.
    pub fn wait_readable(&self) -> io::Result<()> {
        // (The wait itself checks the token first: a cancelled one never waits.)
        self.wait(Interest::Readable, "read")
    }

    fn wait(&self, interest: Interest, what: &str) -> io::Result<()> {
        match self.waiter.wait(&self.stream, interest, self.deadline).map_err(|e| e.into_io())? {
            WaitOutcome::Ready => Ok(()),
            WaitOutcome::TimedOut => Err(timed_out(what)),
        }
    }
}

impl Read for DeadlineStream {
    /// Reads what is there, or waits for data until the deadline. `Ok(0)` is the peer's close.
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            self.waiter.check().map_err(|e| e.into_io())?;
            match (&self.stream).read(buffer) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => self.wait(Interest::Readable, "read")?,
                result => return result,
            }
        }
    }
}

impl Write for DeadlineStream {
    /// Writes what fits now, or waits for room until the deadline.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        loop {
            self.waiter.check().map_err(|e| e.into_io())?;
            match (&self.stream).write(data) {
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => self.wait(Interest::Writable, "write")?,
                result => return result,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelToken;
    use crate::wait::is_cancelled_io_error;
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    fn waiter(token: &CancelToken) -> Waiter {
        Waiter::new(token).unwrap()
    }

    #[test]
    fn connects_reads_and_writes_on_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut request = [0u8; 4];
            peer.read_exact(&mut request).unwrap();
            peer.write_all(b"pong").unwrap();
            request
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut stream = DeadlineStream::connect(addr, deadline, deadline, waiter(&CancelToken::new())).unwrap();
        stream.write_all(b"ping").unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"pong");
        assert_eq!(&server.join().unwrap(), b"ping");
    }

    #[test]
    fn a_refused_connect_is_refused() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let deadline = Instant::now() + Duration::from_secs(5);
        let error = connect(SocketAddr::from(([127, 0, 0, 1], port)), deadline, &waiter(&CancelToken::new())).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
    }

    #[test]
    fn a_started_connect_carries_the_first_write_and_its_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            let mut request = [0u8; 7];
            peer.read_exact(&mut request).unwrap();
            peer.write_all(b"answer").unwrap();
            request
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        let token = CancelToken::new();
        let stream = start_connect(addr, deadline, &waiter(&token)).unwrap();
        let mut stream = DeadlineStream::from_connected(stream, waiter(&token), deadline);
        stream.write_all(b"request").unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"answer");
        assert_eq!(&server.join().unwrap(), b"request");
    }

    #[test]
    fn a_refused_started_connect_is_refused_at_the_first_write() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let deadline = Instant::now() + Duration::from_secs(5);
        let token = CancelToken::new();
        let error = start_connect(SocketAddr::from(([127, 0, 0, 1], port)), deadline, &waiter(&token))
            .and_then(|stream| DeadlineStream::from_connected(stream, waiter(&token), deadline).write_all(b"request"))
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionRefused, "{error}");
    }

    #[test]
    fn closing_after_the_answer_resets_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let token = CancelToken::new();
        let mut stream = DeadlineStream::from_connected(start_connect(addr, deadline, &waiter(&token)).unwrap(), waiter(&token), deadline);
        stream.write_all(b"request").unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let mut request = [0u8; 7];
        peer.read_exact(&mut request).unwrap();
        peer.write_all(b"answer").unwrap();
        let mut answer = [0u8; 6];
        stream.read_exact(&mut answer).unwrap();
        assert_eq!(&answer, b"answer");
        drop(stream);
        // The peer sees a reset, not the end of a graceful close.
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let error = peer.read(&mut [0u8; 16]).expect_err("a reset, not an orderly end");
        assert_eq!(error.kind(), ErrorKind::ConnectionReset, "{error}");
    }

    #[test]
    fn a_connection_opened_ahead_stays_open_until_the_peer_drops_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancelToken::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        let kept = begin_ahead(addr, &waiter(&token)).unwrap();
        let dropped = begin_ahead(addr, &waiter(&token)).unwrap();
        let reset_one = begin_ahead(addr, &waiter(&token)).unwrap();
        assert!(is_still_open(&kept) && is_still_open(&dropped) && is_still_open(&reset_one));
        let (mut kept_peer, _) = listener.accept().unwrap();
        let (dropped_peer, _) = listener.accept().unwrap();
        let (reset_peer, _) = listener.accept().unwrap();
        drop(dropped_peer); // an orderly close (FIN)
        socket2::SockRef::from(&reset_peer).set_linger(Some(Duration::ZERO)).unwrap();
        drop(reset_peer); // a reset (RST)
        let settled = Instant::now() + Duration::from_secs(5);
        while (is_still_open(&dropped) || is_still_open(&reset_one)) && Instant::now() < settled {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(!is_still_open(&dropped), "the peer's close is seen");
        assert!(!is_still_open(&reset_one), "the peer's reset is seen");
        assert!(is_still_open(&kept), "a connection nobody touched is open");
        // The one still open carries a request and its answer.
        let mut stream = DeadlineStream::from_connected(ready_for_first_write(kept, deadline, &waiter(&token)).unwrap(), waiter(&token), deadline);
        stream.write_all(b"request").unwrap();
        let mut request = [0u8; 7];
        kept_peer.read_exact(&mut request).unwrap();
        assert_eq!(&request, b"request");
        kept_peer.write_all(b"answer").unwrap();
        drop(kept_peer);
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"answer");
    }

    #[test]
    fn a_refused_connection_opened_ahead_is_not_open() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let stream = begin_ahead(SocketAddr::from(([127, 0, 0, 1], port)), &waiter(&CancelToken::new())).unwrap();
        let settled = Instant::now() + Duration::from_secs(5);
        while is_still_open(&stream) && Instant::now() < settled {
            thread::sleep(Duration::from_millis(1));
        }
        assert!(!is_still_open(&stream));
    }

    #[test]
    fn a_silent_peer_times_out_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut stream = DeadlineStream::connect(addr, deadline, deadline, waiter(&CancelToken::new())).unwrap();
        let _accepted = listener.accept().unwrap();
        let read_deadline = Instant::now() + Duration::from_millis(30);
        stream.set_deadline(read_deadline);
        let error = stream.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TimedOut);
        assert!(Instant::now() >= read_deadline);
    }

    #[test]
    fn cancelling_ends_a_read_that_would_wait_for_ever() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let token = CancelToken::new();
        let far = Instant::now() + Duration::from_secs(30);
        let mut stream = DeadlineStream::connect(addr, far, far, waiter(&token.child())).unwrap();
        let _accepted = listener.accept().unwrap();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            token.cancel();
        });
        let mut sink = Vec::new();
        let error = stream.read_to_end(&mut sink).unwrap_err();
        assert!(is_cancelled_io_error(&error), "{error}");
        assert!(Instant::now() < far);
        canceller.join().unwrap();
    }

    #[test]
    fn a_connect_deadline_in_the_past_times_out_without_waiting() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let error = connect(listener.local_addr().unwrap(), Instant::now(), &waiter(&CancelToken::new()));
        // Loopback may connect at once; otherwise the passed deadline ends it.
        if let Err(error) = error {
            assert_eq!(error.kind(), ErrorKind::TimedOut);
        }
    }
}
