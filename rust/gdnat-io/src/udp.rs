//! UDP with deadlines and cancellation: receive one datagram by an instant
//! ([`recv_until`]), and a request/response [`exchange`] that resends on a [`Retransmit`]
//! schedule, stops at a total bound, caps the answer's size and accepts answers only from the
//! expected source.
//!
//! The schedules of the protocols gdnat speaks are ready made: [`Retransmit::nat_pmp`],
//! [`Retransmit::pcp`], [`Retransmit::stun`] and [`Retransmit::bep15`].

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::wait::{Interest, WaitError, WaitOutcome, Waiter};

/// One datagram taken by [`recv_until`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The sender.
    pub from: SocketAddr,
    /// The datagram filled the whole buffer, so it may have been cut to `len` bytes (Unix cuts
    /// silently): size buffers one byte above the largest datagram you accept.
    pub truncated: bool,
}

/// Receive errors that say nothing about this socket's future: an ICMP error from an earlier
/// send (Linux `ECONNREFUSED`, Windows `WSAECONNRESET`), a signal, a spurious readiness.
fn is_transient(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::WouldBlock | ErrorKind::Interrupted | ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset | ErrorKind::TimedOut
    )
}

/// Waits until `deadline` at the latest for one datagram on `socket` (which must be
/// non-blocking) and takes it into `buffer`. `Ok(None)` when none came by then (never before
/// `deadline`); `Err(Cancelled)` at once when the waiter's token is cancelled. Transient
/// receive errors (ICMP unreachable from an earlier send, signals) are skipped. A datagram
/// larger than `buffer` is returned cut, with `truncated` set, on every platform.
pub fn recv_until(socket: &UdpSocket, buffer: &mut [u8], deadline: Instant, waiter: &Waiter) -> Result<Option<Datagram>, WaitError> {
    loop {
        waiter.check()?;
        match recv_one(socket, buffer) {
            Ok(datagram) => return Ok(Some(datagram)),
            Err(error) if is_transient(&error) => {}
            Err(error) => return Err(WaitError::Io(error)),
        }
        if waiter.wait(socket, Interest::Readable, deadline)? == WaitOutcome::TimedOut {
            return Ok(None);
        }
    }
}

/// Takes one datagram into `buffer`, cut to its length if it is larger.
#[cfg(not(windows))]
fn recv_one(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Datagram> {
    let (len, from) = socket.recv_from(buffer)?;
    Ok(Datagram { len, from, truncated: len == buffer.len() })
}

/// Takes one datagram into `buffer`, cut to its length if it is larger. Windows reports a cut
/// datagram as the error `WSAEMSGSIZE`, which the standard library passes on without the
/// sender; `WSARecvFrom` through socket2 gives the sender and a truncation flag instead.
#[cfg(windows)]
fn recv_one(socket: &UdpSocket, buffer: &mut [u8]) -> io::Result<Datagram> {
    use std::mem::MaybeUninit;
    let buffer_len = buffer.len();
    // SAFETY: `[u8]` and `[MaybeUninit<u8>]` have the same layout, and the receive only
    // writes initialised bytes into it (never "uninitialises" any), so `buffer` stays valid.
    let uninit = unsafe { &mut *(buffer as *mut [u8] as *mut [MaybeUninit<u8>]) };
    let mut slices = [socket2::MaybeUninitSlice::new(uninit)];
    let (len, flags, from) = socket2::SockRef::from(socket).recv_from_vectored(&mut slices)?;
    let from = from
        .as_socket()
        .ok_or_else(|| io::Error::new(ErrorKind::InvalidData, "a datagram from an address that is not IP"))?;
    // A cut datagram filled the buffer; the count returned with the error is not reliable
    // (Wine gives 0), so the buffer's length is taken.
    if flags.is_truncated() {
        return Ok(Datagram { len: buffer_len, from, truncated: true });
    }
    Ok(Datagram { len, from, truncated: len == buffer_len })
}

/// When to send again while no answer came, and when to give up.
///
/// The n-th wait (counting from 0) is `initial × factorⁿ`, capped at `max_interval`, spread
/// by up to ± `jitter_permille`‰, and cut so that the whole exchange ends `total` after the
/// first send. At most `max_sends` datagrams go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retransmit {
    /// The wait after the first send.
    pub initial: Duration,
    /// Each wait is the previous one times this (2 doubles; 1 keeps it constant).
    pub factor: u32,
    /// The longest single wait.
    pub max_interval: Duration,
    /// The most datagrams sent (the first included); at least 1 is always sent.
    pub max_sends: u32,
    /// The whole exchange, from the first send to giving up.
    pub total: Duration,
    /// Random spread of each wait, in thousandths of it either way (100 is ± 10 %).
    pub jitter_permille: u16,
}

impl Retransmit {
    /// NAT-PMP (RFC 6886 §3.1): 250 ms, doubling, nine sends (the last wait ends 64 s after
    /// the first send); `total` cuts it shorter.
    pub fn nat_pmp(total: Duration) -> Self {
        Self { initial: Duration::from_millis(250), factor: 2, max_interval: Duration::from_secs(64), max_sends: 9, total, jitter_permille: 0 }
    }

    /// PCP (RFC 6887 §8.1.1 retransmits with a doubling interval spread by RAND ± 10 %):
    /// 1 s, doubling, up to 1024 s per wait, sends until `total`.
    pub fn pcp(total: Duration) -> Self {
        Self { initial: Duration::from_secs(1), factor: 2, max_interval: Duration::from_secs(1024), max_sends: u32::MAX, total, jitter_permille: 100 }
    }

    /// STUN binding requests as gdnat uses them: 100 ms, then 200 ms, doubling, giving up
    /// 3 s after the first send (RFC 8489 §6.2.1's schedule, shortened for a game's start-up).
    pub fn stun() -> Self {
        Self { initial: Duration::from_millis(100), factor: 2, max_interval: Duration::from_millis(1600), max_sends: 7, total: Duration::from_secs(3), jitter_permille: 0 }
    }

    /// BEP 15 (UDP tracker): 15 × 2ⁿ s for n = 0..=8; `total` cuts it shorter (a game will
    /// rarely wait the protocol's full hour).
    pub fn bep15(total: Duration) -> Self {
        Self { initial: Duration::from_secs(15), factor: 2, max_interval: Duration::from_secs(15 * 256), max_sends: 9, total, jitter_permille: 0 }
    }

    /// The n-th wait before jitter and before the total bound (n = 0 after the first send).
    pub fn interval(&self, n: u32) -> Duration {
        let factor = self.factor.max(1).checked_pow(n).unwrap_or(u32::MAX);
        self.initial.checked_mul(factor).unwrap_or(Duration::MAX).min(self.max_interval)
    }

    /// The n-th wait with jitter drawn from `random` (any value; used modulo the spread).
    fn jittered(&self, n: u32, random: u64) -> Duration {
        let base = self.interval(n);
        let spread = u64::from(self.jitter_permille.min(1000));
        if spread == 0 {
            return base;
        }
        // A factor in [1000 - spread, 1000 + spread] thousandths.
        let permille = 1000 - spread + random % (2 * spread + 1);
        let nanos = base.as_nanos().saturating_mul(u128::from(permille)) / 1000;
        Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
    }
}

/// Which senders an [`exchange`] accepts answers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFilter {
    /// Exactly the address the request went to (STUN, BEP 15, NAT-PMP, PCP unicast).
    SameAddress,
    /// The same IP address, any port.
    SameIp,
    /// Anyone (the payload check must then do all the work).
    Any,
}

impl SourceFilter {
    fn accepts(self, to: SocketAddr, from: SocketAddr) -> bool {
        match self {
            Self::SameAddress => from == to || (from.ip().to_canonical() == to.ip().to_canonical() && from.port() == to.port()),
            Self::SameIp => from.ip().to_canonical() == to.ip().to_canonical(),
            Self::Any => true,
        }
    }
}

/// What an [`exchange`] sends and accepts.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// Where the request goes.
    pub to: SocketAddr,
    /// The request datagram, sent unchanged each time.
    pub payload: &'a [u8],
    /// When to resend and when to give up.
    pub schedule: Retransmit,
    /// The largest answer accepted; larger datagrams are dropped (counted in
    /// [`Answer::dropped`]).
    pub max_answer: usize,
    /// Which senders are heard.
    pub source: SourceFilter,
}

/// The answer an [`exchange`] accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The datagram.
    pub data: Vec<u8>,
    /// Its sender.
    pub from: SocketAddr,
    /// Datagrams sent, the first included.
    pub sends: u32,
    /// Datagrams received and dropped: wrong sender, too large, or refused by the caller's
    /// check.
    pub dropped: u32,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// Why an [`exchange`] gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// Nothing acceptable came within the schedule's total bound.
    #[error("no answer from {to} after {sends} send(s) in {} ms", elapsed.as_millis())]
    TimedOut {
        /// Where the request went.
        to: SocketAddr,
        /// Datagrams sent.
        sends: u32,
        /// Datagrams received and dropped.
        dropped: u32,
        /// How long it waited.
        elapsed: Duration,
    },
    /// The waiter's token was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Sending failed (no route, interface down) or the socket failed.
    #[error("{stage} failed: {source}")]
    Io {
        /// What was being done.
        stage: &'static str,
        /// The system's error.
        source: io::Error,
    },
}

impl From<WaitError> for ExchangeError {
    fn from(error: WaitError) -> Self {
        match error {
            WaitError::Cancelled => Self::Cancelled,
            WaitError::Io(source) => Self::Io { stage: "waiting for the answer", source },
        }
    }
}

/// Sends `request.payload` to `request.to` on `socket` (made non-blocking here), resends it on
/// the schedule, and returns the first answer that comes from an accepted source, is at most
/// `max_answer` bytes and passes `accept` (check the transaction id or the opcode there).
/// Returns within the schedule's `total` of the first send, or at once on cancellation.
/// Datagrams already queued on the socket before the call are read like any other (and
/// usually dropped by `accept`).
pub fn exchange(
    socket: &UdpSocket,
    request: &Request<'_>,
    waiter: &Waiter,
    accept: &mut dyn FnMut(&[u8], SocketAddr) -> bool,
) -> Result<Answer, ExchangeError> {
    socket.set_nonblocking(true).map_err(|source| ExchangeError::Io { stage: "making the socket non-blocking", source })?;
    waiter.check()?;
    let start = Instant::now();
    let give_up = start + request.schedule.total.min(Duration::from_secs(86_400));
    let mut random = RandomState::new().build_hasher();
    let mut buffer = vec![0u8; request.max_answer.saturating_add(1).min(65_536)];
    let mut sends = 0u32;
    let mut dropped = 0u32;
    loop {
        let resend_at = if sends < request.schedule.max_sends.max(1) {
            socket.send_to(request.payload, request.to).map_err(|source| ExchangeError::Io { stage: "sending the request", source })?;
            sends += 1;
            random.write_u32(sends);
            Instant::now() + request.schedule.jittered(sends - 1, random.finish())
        } else {
            give_up
        };
        let wait_end = resend_at.min(give_up);
        while let Some(datagram) = recv_until(socket, &mut buffer, wait_end, waiter)? {
            let data = &buffer[..datagram.len];
            // The buffer is one byte above `max_answer`, so a longer datagram shows as longer.
            if data.len() <= request.max_answer && request.source.accepts(request.to, datagram.from) && accept(data, datagram.from) {
                return Ok(Answer { data: data.to_vec(), from: datagram.from, sends, dropped, elapsed: start.elapsed() });
            }
            dropped = dropped.saturating_add(1);
        }
        if Instant::now() >= give_up {
            return Err(ExchangeError::TimedOut { to: request.to, sends, dropped, elapsed: start.elapsed() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelToken;
    use std::thread;

    fn socket() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    #[test]
    fn schedules_match_their_protocols() {
        let nat_pmp = Retransmit::nat_pmp(Duration::from_secs(10));
        let waits: Vec<u128> = (0..9).map(|n| nat_pmp.interval(n).as_millis()).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000]);
        let stun = Retransmit::stun();
        assert_eq!((stun.interval(0), stun.interval(1)), (Duration::from_millis(100), Duration::from_millis(200)));
        assert_eq!(stun.total, Duration::from_secs(3));
        let pcp = Retransmit::pcp(Duration::from_secs(30));
        assert_eq!(pcp.interval(3), Duration::from_secs(8));
        assert_eq!(pcp.interval(40), Duration::from_secs(1024), "capped, no overflow");
        assert_eq!(Retransmit::bep15(Duration::from_secs(60)).interval(8), Duration::from_secs(15 * 256));
    }

    #[test]
    fn jitter_stays_within_its_spread() {
        let pcp = Retransmit::pcp(Duration::from_secs(30));
        let mut seen = std::collections::HashSet::new();
        for random in 0..500u64 {
            let wait = pcp.jittered(0, random.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert!(wait >= Duration::from_millis(900) && wait <= Duration::from_millis(1100), "{wait:?}");
            seen.insert(wait);
        }
        assert!(seen.len() > 10, "jitter varies");
        assert_eq!(Retransmit::stun().jittered(1, 12345), Duration::from_millis(200), "no jitter asked, none given");
    }

    /// A responder on loopback: ignores the first `ignore` requests, then answers each one
    /// with `answers` (in order, from `from`, or from its own socket).
    fn responder(ignore: usize, answers: Vec<Vec<u8>>, from: Option<UdpSocket>) -> (SocketAddr, thread::JoinHandle<usize>) {
        let server = socket();
        server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let addr = server.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let mut buffer = [0u8; 64];
            let mut seen = 0;
            while let Ok((_, client)) = server.recv_from(&mut buffer) {
                seen += 1;
                if seen > ignore {
                    for answer in &answers {
                        from.as_ref().unwrap_or(&server).send_to(answer, client).unwrap();
                    }
                    break;
                }
            }
            seen
        });
        (addr, handle)
    }

    fn request(to: SocketAddr, schedule: Retransmit) -> Request<'static> {
        Request { to, payload: b"ping", schedule, max_answer: 8, source: SourceFilter::SameAddress }
    }

    fn fast(total_ms: u64) -> Retransmit {
        Retransmit { initial: Duration::from_millis(20), factor: 2, max_interval: Duration::from_secs(1), max_sends: 10, total: Duration::from_millis(total_ms), jitter_permille: 0 }
    }

    #[test]
    fn an_answer_after_two_lost_requests_comes_on_the_third_send() {
        let (to, server) = responder(2, vec![b"pong".to_vec()], None);
        let client = socket();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let answer = exchange(&client, &request(to, fast(2000)), &waiter, &mut |_, _| true).unwrap();
        assert_eq!((answer.data.as_slice(), answer.from, answer.sends), (&b"pong"[..], to, 3));
        assert_eq!(server.join().unwrap(), 3);
    }

    #[test]
    fn wrong_senders_oversized_and_refused_answers_are_dropped() {
        let stranger = socket();
        let (to, server) = responder(0, vec![b"pong".to_vec()], Some(stranger));
        let client = socket();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let error = exchange(&client, &request(to, fast(150)), &waiter, &mut |_, _| true).unwrap_err();
        assert!(matches!(error, ExchangeError::TimedOut { dropped: 1, .. }), "{error}");
        server.join().unwrap();

        let (to, server) = responder(0, vec![b"far too long".to_vec(), b"no".to_vec(), b"yes".to_vec()], None);
        let answer = exchange(&client, &request(to, fast(2000)), &waiter, &mut |data, _| data != b"no").unwrap();
        assert_eq!((answer.data.as_slice(), answer.dropped), (&b"yes"[..], 2), "\"far too long\" and \"no\"");
        server.join().unwrap();
    }

    #[test]
    fn silence_ends_at_the_total_bound_with_the_sends_counted() {
        let quiet = socket();
        let client = socket();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let start = Instant::now();
        let error = exchange(&client, &request(quiet.local_addr().unwrap(), fast(130)), &waiter, &mut |_, _| true).unwrap_err();
        let elapsed = start.elapsed();
        // Sends at 0, 20, 60 ms; the next would be at 140 ms, after the bound.
        assert!(matches!(error, ExchangeError::TimedOut { sends: 3, .. }), "{error}");
        assert!(elapsed >= Duration::from_millis(130), "{elapsed:?}");
        let mut buffer = [0u8; 8];
        quiet.set_nonblocking(true).unwrap();
        let received = std::iter::from_fn(|| quiet.recv_from(&mut buffer).ok()).count();
        assert_eq!(received, 3);
    }

    #[test]
    fn cancelling_ends_an_exchange_at_once() {
        let quiet = socket();
        let client = socket();
        let token = CancelToken::new();
        let waiter = Waiter::new(&token.child()).unwrap();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            token.cancel();
        });
        let start = Instant::now();
        let error = exchange(&client, &request(quiet.local_addr().unwrap(), fast(30_000)), &waiter, &mut |_, _| true).unwrap_err();
        assert!(matches!(error, ExchangeError::Cancelled), "{error}");
        assert!(start.elapsed() < Duration::from_secs(30));
        canceller.join().unwrap();
    }

    #[test]
    fn recv_until_reports_a_cut_datagram() {
        let server = socket();
        let client = socket();
        client.set_nonblocking(true).unwrap();
        server.send_to(b"0123456789", client.local_addr().unwrap()).unwrap();
        server.send_to(b"0123", client.local_addr().unwrap()).unwrap();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let mut buffer = [0u8; 5];
        let deadline = Instant::now() + Duration::from_secs(5);
        let first = recv_until(&client, &mut buffer, deadline, &waiter).unwrap().unwrap();
        assert_eq!((first.len, first.truncated, first.from), (5, true, server.local_addr().unwrap()));
        assert_eq!(&buffer, b"01234");
        let second = recv_until(&client, &mut buffer, deadline, &waiter).unwrap().unwrap();
        assert_eq!((second.len, second.truncated), (4, false));
    }
}
