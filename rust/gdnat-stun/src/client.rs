//! The blocking STUN Binding query: send a Binding request from a UDP socket, resend it on
//! gdnat's STUN schedule (100 ms, 200 ms, 400 ms, … until 3 s after the first send), and return
//! the socket's public endpoint as the server saw it. Every wait ends at once when the
//! waiter's token is cancelled.
//!
//! Datagrams that are not the answer (another transaction's, not STUN, truncated, oversized,
//! a wrong magic cookie, or from a sender other than the expected one) are ignored and
//! counted; an answer to our transaction that carries an error or is malformed ends the query
//! with that error.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use gdnat_io::udp::{self, ExchangeError, Request, Retransmit, SourceFilter};
use gdnat_io::Waiter;

use crate::codec::{self, BindingResponse, ChangeRequest, ResponseError, MAX_MESSAGE};

/// The answer to one Binding request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Our public endpoint: the source address of our request as the server saw it
    /// (XOR-MAPPED-ADDRESS).
    pub public: SocketAddr,
    /// The local address of the socket (its IP is unspecified when it is bound to all).
    pub local: SocketAddr,
    /// Where the request went.
    pub server: SocketAddr,
    /// Where the answer came from (differs from `server` after a CHANGE-REQUEST).
    pub from: SocketAddr,
    /// The server's RESPONSE-ORIGIN, when sent.
    pub response_origin: Option<SocketAddr>,
    /// The server's OTHER-ADDRESS (RFC 5780 support), when sent.
    pub other_address: Option<SocketAddr>,
    /// Requests sent (retransmissions included).
    pub sends: u32,
    /// Datagrams received and ignored while waiting.
    pub ignored: u32,
    /// From the first send to the answer.
    pub elapsed: Duration,
}

/// Why a Binding query gave no public endpoint. [`code`](Self::code) is a stable number for
/// bindings that report integers.
#[derive(Debug, thiserror::Error)]
pub enum StunError {
    /// The local port could not be bound (in use, or not allowed). Code 1.
    #[error("cannot bind UDP port {port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The system's error.
        source: io::Error,
    },
    /// No answer within the schedule's bound (the server is unreachable, or a firewall drops
    /// the answer). Code 2.
    #[error("no STUN answer from {server} after {sends} request(s) in {} ms ({ignored} other datagram(s) ignored)", elapsed.as_millis())]
    TimedOut {
        /// Where the requests went.
        server: SocketAddr,
        /// Requests sent.
        sends: u32,
        /// Datagrams received and ignored.
        ignored: u32,
        /// How long it waited.
        elapsed: Duration,
    },
    /// The caller's token was cancelled. Code 3.
    #[error("STUN query cancelled")]
    Cancelled,
    /// Sending or waiting failed (no route to the server, socket error). Code 4.
    #[error("STUN {stage} failed: {source}")]
    Io {
        /// What was being done.
        stage: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The server answered our request with a STUN error (420 when it lacks RFC 5780, for
    /// example). Code 5.
    #[error("STUN server {server} answered error {code}: {reason}")]
    ServerError {
        /// The server.
        server: SocketAddr,
        /// The STUN error code.
        code: u16,
        /// Its reason phrase (cut to 128 printable characters).
        reason: String,
    },
    /// The server answered our request with a message we cannot use (malformed attributes, no
    /// mapped address). Code 6.
    #[error("unusable STUN answer from {server}: {error}")]
    BadAnswer {
        /// The server.
        server: SocketAddr,
        /// What is wrong with it.
        error: ResponseError,
    },
}

impl StunError {
    /// A stable number per variant: 1 bind, 2 timed out, 3 cancelled, 4 I/O, 5 server error,
    /// 6 unusable answer.
    pub fn code(&self) -> u32 {
        match self {
            Self::Bind { .. } => 1,
            Self::TimedOut { .. } => 2,
            Self::Cancelled => 3,
            Self::Io { .. } => 4,
            Self::ServerError { .. } => 5,
            Self::BadAnswer { .. } => 6,
        }
    }
}

/// One Binding request as [`query_with`] sends it.
#[derive(Clone, Copy, Debug)]
pub struct Query {
    /// The STUN server.
    pub server: SocketAddr,
    /// RFC 5780 CHANGE-REQUEST flags ([`ChangeRequest::NONE`] for a plain query).
    pub change: ChangeRequest,
    /// Where the answer must come from: `None` is the server itself. After a CHANGE-REQUEST
    /// this is the server's alternate address (OTHER-ADDRESS with the IP and/or port changed).
    pub answer_from: Option<SocketAddr>,
    /// When to resend and when to give up.
    pub schedule: Retransmit,
}

impl Query {
    /// A plain Binding request to `server` on gdnat's STUN schedule ([`Retransmit::stun`]).
    pub fn plain(server: SocketAddr) -> Self {
        Self { server, change: ChangeRequest::NONE, answer_from: None, schedule: Retransmit::stun() }
    }
}

/// The public endpoint of `socket`, asked of `server` (plain Binding request, gdnat's STUN
/// schedule: answers within 3 s or [`StunError::TimedOut`]). The socket is made non-blocking.
pub fn query(socket: &UdpSocket, server: SocketAddr, waiter: &Waiter) -> Result<Binding, StunError> {
    query_with(socket, &Query::plain(server), waiter)
}

/// The public endpoint of local UDP port `local_port` (0: any free port), asked of `server`.
/// Binds the port on all addresses of `server`'s family, asks, and closes the socket again, so
/// the port is free for the game when this returns (the NAT keeps the mapping for a while:
/// typically 30 s to a few minutes without traffic).
pub fn query_port(local_port: u16, server: SocketAddr, waiter: &Waiter) -> Result<Binding, StunError> {
    let socket = bind_port(local_port, server)?;
    query(&socket, server, waiter)
}

/// Binds UDP `port` on the unspecified address of `peer`'s family.
pub fn bind_port(port: u16, peer: SocketAddr) -> Result<UdpSocket, StunError> {
    let local: SocketAddr = match peer {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, port).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, port).into(),
    };
    UdpSocket::bind(local).map_err(|source| StunError::Bind { port, source })
}

/// One Binding request as described by `query` (see [`Query`]).
pub fn query_with(socket: &UdpSocket, query: &Query, waiter: &Waiter) -> Result<Binding, StunError> {
    let (payload, id) = codec::binding_request(query.change);
    let answer_from = query.answer_from.unwrap_or(query.server);
    let request = Request { to: query.server, payload: &payload, schedule: query.schedule, max_answer: MAX_MESSAGE, source: SourceFilter::Any };
    // The closure keeps the parsed verdict of the datagram it accepted.
    let mut verdict: Option<Result<BindingResponse, ResponseError>> = None;
    let mut accept = |data: &[u8], from: SocketAddr| {
        if !same_endpoint(from, answer_from) {
            return false;
        }
        let parsed = codec::parse_binding_response(data, id);
        if matches!(&parsed, Err(error) if error.is_foreign()) {
            return false;
        }
        verdict = Some(parsed);
        true
    };
    let answer = udp::exchange(socket, &request, waiter, &mut accept).map_err(|error| match error {
        ExchangeError::TimedOut { to, sends, dropped, elapsed } => StunError::TimedOut { server: to, sends, ignored: dropped, elapsed },
        ExchangeError::Cancelled => StunError::Cancelled,
        ExchangeError::Io { stage, source } => StunError::Io { stage, source },
    })?;
    let local = socket.local_addr().map_err(|source| StunError::Io { stage: "reading the local address", source })?;
    match verdict {
        Some(Ok(response)) => Ok(Binding {
            public: response.mapped,
            local,
            server: query.server,
            from: answer.from,
            response_origin: response.response_origin,
            other_address: response.other_address,
            sends: answer.sends,
            ignored: answer.dropped,
            elapsed: answer.elapsed,
        }),
        Some(Err(ResponseError::ServerError { code, reason })) => Err(StunError::ServerError { server: query.server, code, reason }),
        Some(Err(error)) => Err(StunError::BadAnswer { server: query.server, error }),
        None => Err(StunError::Io { stage: "reading the answer", source: io::Error::other("answer accepted without a verdict") }),
    }
}

/// Same IP (IPv4-mapped IPv6 counts as IPv4) and port.
pub(crate) fn same_endpoint(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.ip().to_canonical() == b.ip().to_canonical()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::codec::{binding_error, binding_success, read_binding_request, StunTransactionId};
    use gdnat_io::CancelToken;
    use std::sync::mpsc;
    use std::thread;
    use std::time::Instant;

    /// What the fake server does with each request, in order (the last one repeats).
    #[derive(Clone, Debug)]
    pub(crate) enum Reply {
        /// Stay silent.
        Drop,
        /// Answer correctly with this mapped address.
        Mapped(SocketAddr),
        /// Send these datagrams (built from the request's id) from the server socket.
        Raw(fn(StunTransactionId) -> Vec<Vec<u8>>),
        /// Answer correctly, but from another socket.
        FromStranger(SocketAddr),
    }

    /// A STUN server on loopback following `script`; returns its address and a receiver of
    /// the requests it saw.
    pub(crate) fn fake_server(script: Vec<Reply>) -> (SocketAddr, mpsc::Receiver<ChangeRequest>) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let addr = server.local_addr().unwrap();
        let (seen, requests) = mpsc::channel();
        thread::spawn(move || {
            let mut buffer = [0u8; 1500];
            let mut n = 0;
            while let Ok((len, client)) = server.recv_from(&mut buffer) {
                let Some((id, change)) = read_binding_request(&buffer[..len]) else { continue };
                let _ = seen.send(change);
                match &script[n.min(script.len() - 1)] {
                    Reply::Drop => {}
                    Reply::Mapped(mapped) => {
                        server.send_to(&binding_success(id, *mapped, Some(addr), None), client).unwrap();
                    }
                    Reply::Raw(make) => {
                        for datagram in make(id) {
                            server.send_to(&datagram, client).unwrap();
                        }
                    }
                    Reply::FromStranger(mapped) => {
                        stranger.send_to(&binding_success(id, *mapped, None, None), client).unwrap();
                    }
                }
                n += 1;
            }
        });
        (addr, requests)
    }

    fn waiter() -> Waiter {
        Waiter::new(&CancelToken::new()).unwrap()
    }

    fn public() -> SocketAddr {
        "198.18.0.1:40000".parse().unwrap()
    }

    #[test]
    fn the_public_endpoint_comes_from_xor_mapped_address() {
        let (server, _) = fake_server(vec![Reply::Mapped(public())]);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let binding = query(&socket, server, &waiter()).unwrap();
        assert_eq!((binding.public, binding.from, binding.sends, binding.ignored), (public(), server, 1, 0));
        assert_eq!(binding.local, socket.local_addr().unwrap());
    }

    #[test]
    fn lost_requests_are_resent_at_100_then_200_ms() {
        let (server, requests) = fake_server(vec![Reply::Drop, Reply::Drop, Reply::Mapped(public())]);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let binding = query(&socket, server, &waiter()).unwrap();
        assert_eq!((binding.public, binding.sends), (public(), 3));
        assert_eq!(requests.try_iter().count(), 3);
        // Sends at 0, 100 and 300 ms: the answer cannot come before the third send.
        assert!(binding.elapsed >= Duration::from_millis(300), "{:?}", binding.elapsed);
    }

    #[test]
    fn foreign_datagrams_are_ignored_and_the_real_answer_taken() {
        fn noise(id: StunTransactionId) -> Vec<Vec<u8>> {
            let good = binding_success(id, "198.18.0.1:40000".parse().unwrap(), None, None);
            let mut wrong_cookie = good.clone();
            wrong_cookie[7] ^= 0xFF;
            let other = binding_success(StunTransactionId::generate(), "6.6.6.6:6".parse().unwrap(), None, None);
            let mut oversized = good.clone();
            oversized.resize(MAX_MESSAGE + 100, 0);
            vec![b"d1:ad2:id20:".to_vec(), good[..12].to_vec(), wrong_cookie, other, oversized, vec![0; 16], good]
        }
        let (server, _) = fake_server(vec![Reply::Raw(noise)]);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let binding = query(&socket, server, &waiter()).unwrap();
        assert_eq!((binding.public, binding.ignored), (public(), 6));
    }

    #[test]
    fn an_answer_from_another_address_is_ignored_until_the_bound() {
        let (server, _) = fake_server(vec![Reply::FromStranger(public())]);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let schedule = Retransmit { total: Duration::from_millis(350), ..Retransmit::stun() };
        let error = query_with(&socket, &Query { schedule, ..Query::plain(server) }, &waiter()).unwrap_err();
        // Sends at 0, 100 and 300 ms; each draws a stranger's answer (the last one may come
        // after the bound on a loaded machine).
        match error {
            StunError::TimedOut { sends: 3, ignored, .. } if ignored >= 2 => {}
            ref other => panic!("{other}"),
        }
        assert_eq!(error.code(), 2);
    }

    #[test]
    fn a_server_error_to_our_id_ends_the_query_with_its_code() {
        fn refuse(id: StunTransactionId) -> Vec<Vec<u8>> {
            vec![binding_error(id, 420, "RFC 5780 not configured")]
        }
        let (server, _) = fake_server(vec![Reply::Raw(refuse)]);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let error = query(&socket, server, &waiter()).unwrap_err();
        assert!(matches!(&error, StunError::ServerError { code: 420, reason, .. } if reason == "RFC 5780 not configured"), "{error}");
        assert_eq!(error.code(), 5);
    }

    #[test]
    fn silence_gives_up_three_seconds_after_the_first_send() {
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let start = Instant::now();
        let error = query(&socket, quiet.local_addr().unwrap(), &waiter()).unwrap_err();
        let elapsed = start.elapsed();
        // 0, 100, 300, 700, 1500 ms; the next (3100 ms) is past the bound.
        assert!(matches!(error, StunError::TimedOut { sends: 5, .. }), "{error}");
        assert!(elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(10), "{elapsed:?}");
    }

    #[test]
    fn cancelling_from_another_thread_ends_the_wait() {
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let token = CancelToken::new();
        let waiter = Waiter::new(&token.child()).unwrap();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            token.cancel();
        });
        let error = query(&socket, quiet.local_addr().unwrap(), &waiter).unwrap_err();
        assert!(matches!(error, StunError::Cancelled), "{error}");
        canceller.join().unwrap();
    }

    #[test]
    fn a_port_in_use_is_a_bind_error() {
        let taken = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let error = query_port(port, "127.0.0.1:3478".parse().unwrap(), &waiter()).unwrap_err();
        assert!(matches!(error, StunError::Bind { port: p, .. } if p == port), "{error}");
        assert_eq!(error.code(), 1);
    }
}
