//! The blocking BEP 15 tracker client: connect (connection id kept for 60 s), announce a room
//! with a given public port, read the members. Runs on its own UDP socket (once the game's
//! port belongs to ENet, ENet eats every datagram on it, tracker replies included).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use gdnat_io::udp::{self, ExchangeError, Request, Retransmit, SourceFilter};
use gdnat_io::Waiter;

use crate::codec::{self, Action, AnnounceRequest, Event, Reply, ReplyError, MAX_REPLY};
use crate::room::RoomHash;

/// Timers and limits of a [`Tracker`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackerOptions {
    /// Resends of each request. The default sends at 0, 0.25, 0.75, 1.75 and 3.75 s and gives
    /// up after 5 s: a lobby cannot wait BEP 15's 15 × 2ⁿ s.
    pub schedule: Retransmit,
    /// How long a connection id is used (BEP 15: one minute; trackers accept it for two).
    pub connection_lifetime: Duration,
    /// Peers asked for (-1: the tracker's default; opentracker caps at 200).
    pub num_want: i32,
    /// When the tracker refuses an announce made with a cached connection id (its key
    /// rotated: "Connection ID missmatch."), connect again and retry once (default true).
    pub retry_after_refusal: bool,
}

impl Default for TrackerOptions {
    fn default() -> Self {
        Self {
            schedule: Retransmit {
                initial: Duration::from_millis(250),
                factor: 2,
                max_interval: Duration::from_secs(2),
                max_sends: 5,
                total: Duration::from_secs(5),
                jitter_permille: 0,
            },
            connection_lifetime: Duration::from_secs(60),
            num_want: -1,
            retry_after_refusal: true,
        }
    }
}

/// What an announce returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announced {
    /// The tracker's re-announce interval.
    pub interval: Duration,
    /// Leechers in the swarm (gdnat members announce as leechers).
    pub leechers: u32,
    /// Seeders in the swarm.
    pub seeders: u32,
    /// Every member's endpoint, ours included when the tracker returns it (opentracker does).
    pub peers: Vec<SocketAddr>,
    /// From the first send of the announce (a connect included) to the reply.
    pub elapsed: Duration,
}

impl Announced {
    /// The members other than `own` (our public endpoint: the STUN-mapped IP and the port we
    /// announced).
    pub fn others(&self, own: SocketAddr) -> Vec<SocketAddr> {
        others(&self.peers, own)
    }
}

/// `peers` without `own` (IPv4-mapped IPv6 compares equal to IPv4).
pub fn others(peers: &[SocketAddr], own: SocketAddr) -> Vec<SocketAddr> {
    let canonical = |a: &SocketAddr| (a.ip().to_canonical(), a.port());
    peers.iter().copied().filter(|peer| canonical(peer) != canonical(&own)).collect()
}

/// Why a tracker request failed. [`code`](Self::code) is stable.
#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    /// The local socket could not be bound. Code 1.
    #[error("cannot bind a UDP socket for the tracker: {0}")]
    Bind(io::Error),
    /// No usable reply in time (tracker unreachable or down). Code 2.
    #[error("no {stage} reply from tracker {tracker} after {sends} request(s) in {} ms ({ignored} other datagram(s) ignored)", elapsed.as_millis())]
    TimedOut {
        /// "connect" or "announce".
        stage: &'static str,
        /// The tracker.
        tracker: SocketAddr,
        /// Requests sent.
        sends: u32,
        /// Datagrams ignored.
        ignored: u32,
        /// Time waited.
        elapsed: Duration,
    },
    /// The caller's token was cancelled. Code 3.
    #[error("tracker request cancelled")]
    Cancelled,
    /// Sending or waiting failed. Code 4.
    #[error("tracker {stage} failed: {source}")]
    Io {
        /// What was being done.
        stage: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The tracker answered with an error message. Code 5.
    #[error("tracker {tracker} refused the {stage}: {message}")]
    Refused {
        /// "connect" or "announce".
        stage: &'static str,
        /// The tracker.
        tracker: SocketAddr,
        /// Its message (cut to 200 printable characters).
        message: String,
    },
    /// The room's hash is not on the tracker's whitelist (opentracker's 8-byte reply). Code 6.
    #[error("tracker {tracker} does not serve room {room}: not on its whitelist (8-byte announce reply)")]
    NotWhitelisted {
        /// The tracker.
        tracker: SocketAddr,
        /// The room's hash.
        room: RoomHash,
    },
    /// A reply to our transaction that cannot be read (truncated, ragged peer list, wrong
    /// action). Code 7.
    #[error("unusable {stage} reply from tracker {tracker}: {error}")]
    BadReply {
        /// "connect" or "announce".
        stage: &'static str,
        /// The tracker.
        tracker: SocketAddr,
        /// What is wrong.
        error: ReplyError,
    },
}

impl TrackerError {
    /// 1 bind, 2 timed out, 3 cancelled, 4 I/O, 5 tracker error message, 6 not whitelisted,
    /// 7 unusable reply.
    pub fn code(&self) -> u32 {
        match self {
            Self::Bind(_) => 1,
            Self::TimedOut { .. } => 2,
            Self::Cancelled => 3,
            Self::Io { .. } => 4,
            Self::Refused { .. } => 5,
            Self::NotWhitelisted { .. } => 6,
            Self::BadReply { .. } => 7,
        }
    }
}

/// A random 64-bit value from the standard library's per-process random keys.
pub(crate) fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    hasher.finish()
}

/// A BEP 15 client on its own UDP socket, for one tracker.
#[derive(Debug)]
pub struct Tracker {
    socket: UdpSocket,
    tracker: SocketAddr,
    options: TrackerOptions,
    peer_id: [u8; 20],
    key: u32,
    connection: Option<(u64, Instant)>,
}

impl Tracker {
    /// A client for `tracker` on a new socket (an ephemeral port on all addresses of the
    /// tracker's family).
    pub fn bind(tracker: SocketAddr, options: TrackerOptions) -> Result<Self, TrackerError> {
        let local: SocketAddr = match tracker {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        Ok(Self::new(UdpSocket::bind(local).map_err(TrackerError::Bind)?, tracker, options))
    }

    /// A client for `tracker` on `socket` (made non-blocking on first use). A random peer id
    /// (`-GD0001-` and 12 random bytes) and key are chosen once per client.
    pub fn new(socket: UdpSocket, tracker: SocketAddr, options: TrackerOptions) -> Self {
        let mut peer_id = [0u8; 20];
        peer_id[..8].copy_from_slice(b"-GD0001-");
        peer_id[8..16].copy_from_slice(&random_u64().to_be_bytes());
        peer_id[16..].copy_from_slice(&(random_u64() as u32).to_be_bytes());
        Self { socket, tracker, options, peer_id, key: random_u64() as u32, connection: None }
    }

    /// Uses `connection_id` as if a connect had just returned it (to resume a session, and
    /// for tests that need the tracker to refuse a stale id).
    pub fn set_connection_id(&mut self, connection_id: u64) {
        self.connection = Some((connection_id, Instant::now()));
    }

    /// The tracker's address.
    pub fn tracker(&self) -> SocketAddr {
        self.tracker
    }

    /// The socket (for waits between announces, or its local address).
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// A connection id: the cached one while younger than the lifetime, else a new one from a
    /// connect exchange.
    pub fn connect(&mut self, waiter: &Waiter) -> Result<u64, TrackerError> {
        if let Some((id, since)) = self.connection {
            if since.elapsed() < self.options.connection_lifetime {
                return Ok(id);
            }
        }
        let transaction = random_u64() as u32;
        let request = codec::connect_request(transaction);
        match self.exchange("connect", &request, Action::Connect, transaction, waiter)? {
            Reply::Connect { connection_id } => {
                self.connection = Some((connection_id, Instant::now()));
                Ok(connection_id)
            }
            Reply::Error { message } => Err(TrackerError::Refused { stage: "connect", tracker: self.tracker, message }),
            Reply::Announce { .. } => Err(self.bad("connect", ReplyError::WrongAction { found: 1, expected: 0 })),
        }
    }

    /// Announces us in `room` with `port` (the STUN-mapped public port: the tracker takes the
    /// IP from the datagram and the port from this field) and returns the members. When the
    /// tracker answers a cached connection id with an error ("Connection ID missmatch." after
    /// its key rotated), connects again and retries once.
    pub fn announce(&mut self, room: &RoomHash, port: u16, event: Event, waiter: &Waiter) -> Result<Announced, TrackerError> {
        let start = Instant::now();
        let cached = self.connection.is_some_and(|(_, since)| since.elapsed() < self.options.connection_lifetime);
        match self.announce_once(room, port, event, waiter, start) {
            Err(TrackerError::Refused { .. }) if cached && self.options.retry_after_refusal => {
                self.connection = None;
                self.announce_once(room, port, event, waiter, start)
            }
            other => other,
        }
    }

    fn announce_once(&mut self, room: &RoomHash, port: u16, event: Event, waiter: &Waiter, start: Instant) -> Result<Announced, TrackerError> {
        let connection_id = self.connect(waiter)?;
        let transaction = random_u64() as u32;
        let request = AnnounceRequest {
            connection_id,
            transaction,
            info_hash: room.0,
            peer_id: self.peer_id,
            event,
            key: self.key,
            num_want: self.options.num_want,
            port,
        }
        .encode();
        match self.exchange("announce", &request, Action::Announce, transaction, waiter) {
            Ok(Reply::Announce { interval, leechers, seeders, peers }) => {
                Ok(Announced { interval: Duration::from_secs(u64::from(interval)), leechers, seeders, peers, elapsed: start.elapsed() })
            }
            Ok(Reply::Error { message }) => Err(TrackerError::Refused { stage: "announce", tracker: self.tracker, message }),
            Ok(Reply::Connect { .. }) => Err(self.bad("announce", ReplyError::WrongAction { found: 0, expected: 1 })),
            Err(TrackerError::BadReply { error: ReplyError::NotWhitelisted, .. }) => {
                Err(TrackerError::NotWhitelisted { tracker: self.tracker, room: *room })
            }
            Err(error) => Err(error),
        }
    }

    fn bad(&self, stage: &'static str, error: ReplyError) -> TrackerError {
        TrackerError::BadReply { stage, tracker: self.tracker, error }
    }

    /// One request/reply exchange: replies from other senders, other transactions, too short
    /// or too long are ignored; the first reply to our transaction decides.
    fn exchange(&self, stage: &'static str, payload: &[u8], action: Action, transaction: u32, waiter: &Waiter) -> Result<Reply, TrackerError> {
        let ipv6 = self.tracker.is_ipv6() && !self.tracker.ip().to_canonical().is_ipv4();
        let request = Request { to: self.tracker, payload, schedule: self.options.schedule, max_answer: MAX_REPLY, source: SourceFilter::SameAddress };
        let mut verdict = None;
        let mut accept = |data: &[u8], _from: SocketAddr| {
            let parsed = codec::parse_reply(data, action, transaction, ipv6);
            if matches!(&parsed, Err(error) if error.is_foreign()) {
                return false;
            }
            verdict = Some(parsed);
            true
        };
        udp::exchange(&self.socket, &request, waiter, &mut accept).map_err(|error| match error {
            ExchangeError::TimedOut { to, sends, dropped, elapsed } => TrackerError::TimedOut { stage, tracker: to, sends, ignored: dropped, elapsed },
            ExchangeError::Cancelled => TrackerError::Cancelled,
            ExchangeError::Io { stage, source } => TrackerError::Io { stage, source },
        })?;
        match verdict {
            Some(Ok(reply)) => Ok(reply),
            Some(Err(error)) => Err(self.bad(stage, error)),
            None => Err(TrackerError::Io { stage, source: io::Error::other("reply accepted without a verdict") }),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use gdnat_io::CancelToken;
    use std::sync::mpsc;
    use std::thread;

    /// What the fake tracker does with one request (the last entry repeats).
    pub(crate) type Script = Vec<fn(&[u8]) -> Vec<Vec<u8>>>;

    /// A fake tracker on loopback: calls the script entry of the n-th request and sends what
    /// it returns. Sends every request it saw to the receiver.
    pub(crate) fn fake_tracker(script: Script) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let addr = server.local_addr().unwrap();
        let (seen, requests) = mpsc::channel();
        thread::spawn(move || {
            let mut buffer = [0u8; 2048];
            let mut n = 0;
            while let Ok((len, client)) = server.recv_from(&mut buffer) {
                let request = buffer[..len].to_vec();
                let replies = script[n.min(script.len() - 1)](&request);
                // Recorded before the reply goes out: a test that reads the requests once its
                // call returned sees every request its call made.
                let _ = seen.send(request);
                for reply in replies {
                    let _ = server.send_to(&reply, client);
                }
                n += 1;
            }
        });
        (addr, requests)
    }

    pub(crate) fn transaction(request: &[u8]) -> [u8; 4] {
        [request[12], request[13], request[14], request[15]]
    }

    pub(crate) fn connect_ok(request: &[u8]) -> Vec<Vec<u8>> {
        vec![[&[0, 0, 0, 0][..], &transaction(request), &0x1234_5678_9ABC_DEF0u64.to_be_bytes()].concat()]
    }

    /// An announce reply listing the announcing port on 127.0.0.1 and 198.18.0.2:7777.
    pub(crate) fn announce_ok(request: &[u8]) -> Vec<Vec<u8>> {
        let port = [request[96], request[97]];
        vec![[&[0, 0, 0, 1][..], &transaction(request), &[0, 0, 7, 8, 0, 0, 0, 2, 0, 0, 0, 0], &[127, 0, 0, 1], &port, &[198, 18, 0, 2, 0x1E, 0x61]].concat()]
    }

    fn waiter() -> Waiter {
        Waiter::new(&CancelToken::new()).unwrap()
    }

    fn options() -> TrackerOptions {
        TrackerOptions { schedule: Retransmit { total: Duration::from_millis(600), ..TrackerOptions::default().schedule }, ..TrackerOptions::default() }
    }

    #[test]
    fn connect_then_announce_and_our_own_entry_filtered() {
        let (tracker, requests) = fake_tracker(vec![connect_ok, announce_ok]);
        let mut client = Tracker::bind(tracker, options()).unwrap();
        let room = RoomHash::from_name("lobby");
        let announced = client.announce(&room, 40000, Event::Started, &waiter()).unwrap();
        assert_eq!(announced.interval, Duration::from_secs(1800));
        assert_eq!(announced.peers.len(), 2);
        let own: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        assert_eq!(announced.others(own), vec!["198.18.0.2:7777".parse::<SocketAddr>().unwrap()]);
        let connect = requests.recv().unwrap();
        assert_eq!(&connect[..12], &[0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0]);
        let announce = requests.recv().unwrap();
        assert_eq!(announce.len(), 98);
        assert_eq!(&announce[0..8], &0x1234_5678_9ABC_DEF0u64.to_be_bytes(), "the connection id is echoed");
        assert_eq!(&announce[16..36], &room.0);
        assert_eq!(&announce[80..84], &[0, 0, 0, 2], "event started");
        // A second announce within the connection id's lifetime sends no connect.
        client.announce(&room, 40000, Event::None, &waiter()).unwrap();
        assert_eq!(requests.recv().unwrap().len(), 98);
    }

    #[test]
    fn foreign_replies_are_ignored() {
        fn noisy_connect(request: &[u8]) -> Vec<Vec<u8>> {
            let mut wrong = connect_ok(request).remove(0);
            wrong[7] ^= 1;
            let too_long = vec![0; MAX_REPLY + 1];
            [vec![vec![1, 2, 3], wrong, too_long], connect_ok(request)].concat()
        }
        let (tracker, _) = fake_tracker(vec![noisy_connect, announce_ok]);
        let mut client = Tracker::bind(tracker, options()).unwrap();
        assert_eq!(client.connect(&waiter()).unwrap(), 0x1234_5678_9ABC_DEF0);
    }

    #[test]
    fn whitelist_refusal_error_reply_and_silence_are_typed() {
        fn eight_bytes(request: &[u8]) -> Vec<Vec<u8>> {
            vec![[&[0, 0, 0, 1][..], &transaction(request)].concat()]
        }
        fn error(request: &[u8]) -> Vec<Vec<u8>> {
            vec![[&[0, 0, 0, 3][..], &transaction(request), b"Connection ID missmatch."].concat()]
        }
        fn silence(_: &[u8]) -> Vec<Vec<u8>> {
            vec![]
        }
        let room = RoomHash::from_name("lobby");
        let (tracker, _) = fake_tracker(vec![connect_ok, eight_bytes]);
        let error_ = Tracker::bind(tracker, options()).unwrap().announce(&room, 1, Event::Started, &waiter()).unwrap_err();
        assert!(matches!(error_, TrackerError::NotWhitelisted { .. }), "{error_}");
        assert_eq!(error_.code(), 6);

        // A refused announce on a cached id is retried once after a fresh connect.
        let (tracker, requests) = fake_tracker(vec![connect_ok, announce_ok, error, connect_ok, error]);
        let mut client = Tracker::bind(tracker, options()).unwrap();
        client.announce(&room, 1, Event::Started, &waiter()).unwrap();
        let error_ = client.announce(&room, 1, Event::None, &waiter()).unwrap_err();
        assert!(matches!(&error_, TrackerError::Refused { message, .. } if message == "Connection ID missmatch."), "{error_}");
        assert_eq!(error_.code(), 5);
        let lengths: Vec<usize> = requests.try_iter().map(|r| r.len()).collect();
        assert_eq!(lengths, [16, 98, 98, 16, 98]);

        let (tracker, _) = fake_tracker(vec![silence]);
        let error_ = Tracker::bind(tracker, options()).unwrap().announce(&room, 1, Event::Started, &waiter()).unwrap_err();
        assert!(matches!(error_, TrackerError::TimedOut { stage: "connect", sends: 2, .. }), "{error_}");
    }

    #[test]
    fn a_stale_connection_id_is_renewed() {
        let (tracker, requests) = fake_tracker(vec![connect_ok, announce_ok, connect_ok, announce_ok]);
        let mut client = Tracker::bind(tracker, TrackerOptions { connection_lifetime: Duration::ZERO, ..options() }).unwrap();
        let room = RoomHash::from_name("lobby");
        client.announce(&room, 1, Event::Started, &waiter()).unwrap();
        client.announce(&room, 1, Event::None, &waiter()).unwrap();
        let lengths: Vec<usize> = requests.try_iter().map(|r| r.len()).collect();
        assert_eq!(lengths, [16, 98, 16, 98]);
    }
}
