//! The blocking punch: both players run it at about the same time, each towards the other's
//! public endpoint from the rendezvous, from the local port whose public endpoint they
//! announced.
//!
//! - Probe every [`PunchOptions::interval`] (150 ms) for [`PunchOptions::round`] (8 s).
//! - Accept only 32-byte punch packets with our room token, from the peer's IP address (any
//!   port: a peer behind a symmetric NAT comes from another port than it announced, and a
//!   NAT that filters nothing on our side still lets it in); our own echoed packets (same
//!   nonce) are ignored.
//! - On the first packet from the peer, send [`PunchOptions::acks`] (3) acknowledgements to
//!   where it came from, [`PunchOptions::ack_spacing`] apart, so a peer whose early probes
//!   were filtered hears us too, and return.
//! - No contact in a round: pause [`PunchOptions::pause`] (still listening), then another
//!   round, at most [`PunchOptions::rounds`]; then a failure whose message names our NAT
//!   behaviour and what it means.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use gdnat_io::udp::recv_until;
use gdnat_io::{WaitError, Waiter};
use gdnat_stun::{Mapping, NatVerdict};

use crate::packet::{decode, Kind, Packet, RoomToken, PACKET_LEN};

/// Timers of a punch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PunchOptions {
    /// Between two probes (the issue asks for 100–200 ms).
    pub interval: Duration,
    /// How long one round probes.
    pub round: Duration,
    /// Acknowledgements sent after the first packet from the peer.
    pub acks: u32,
    /// Between two acknowledgements.
    pub ack_spacing: Duration,
    /// Rounds at most (bounded: every failure returns after rounds × round + (rounds − 1) ×
    /// pause).
    pub rounds: u32,
    /// Between rounds (listening, not probing).
    pub pause: Duration,
}

impl Default for PunchOptions {
    /// 150 ms probes for 8 s, 3 acks 50 ms apart, one round.
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(150),
            round: Duration::from_secs(8),
            acks: 3,
            ack_spacing: Duration::from_millis(50),
            rounds: 1,
            pause: Duration::from_secs(5),
        }
    }
}

impl PunchOptions {
    /// The longest a failing punch takes.
    pub fn bound(&self) -> Duration {
        let rounds = self.rounds.max(1);
        self.round * rounds + self.pause * (rounds - 1)
    }
}

/// What we know about our own NAT, for the failure message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatContext {
    /// Our mapping behaviour (RFC 5780), when discovered.
    pub mapping: Option<Mapping>,
    /// Our NAT verdict, when known.
    pub verdict: Option<NatVerdict>,
}

impl NatContext {
    /// Why a punch with no contact most likely failed, from our side's point of view.
    pub fn failure_reason(&self) -> String {
        let mapping = match self.mapping {
            Some(Mapping::EndpointIndependent) => {
                "our NAT keeps one public port for every destination, so the peer's NAT is probably symmetric (or it filters, or the peer left): a relay (TURN) is needed".to_string()
            }
            Some(mapping) => format!(
                "our NAT is symmetric ({mapping} mapping: every destination gets another public port, so the announced endpoint is wrong for the peer); unless the peer's NAT accepts packets from anywhere, a relay (TURN) is needed"
            ),
            None => "our NAT behaviour is unknown (no RFC 5780 server); if either side is behind a symmetric NAT, a relay (TURN) is needed".to_string(),
        };
        match self.verdict {
            Some(verdict) => format!("{mapping}; {}", verdict.describe()),
            None => mapping,
        }
    }
}

/// A punched path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Punched {
    /// The peer's endpoint as its packets arrive (send the game's traffic here).
    pub peer: SocketAddr,
    /// Our local port (hand it to the game's socket: ENet's `create_server` /
    /// `create_client(..., local_port)`, after this socket is closed).
    pub local_port: u16,
    /// From the first probe to the last acknowledgement.
    pub elapsed: Duration,
    /// From the first probe to the first packet from the peer.
    pub first_contact: Duration,
    /// Probes sent.
    pub probes: u32,
    /// Whether the peer had already heard us (its first packet to arrive was an ack).
    pub heard_ack: bool,
    /// Datagrams ignored (strays, other rooms, other senders, our own echoes).
    pub ignored: u32,
    /// The round that made contact (1-based).
    pub round: u32,
}

/// Why a punch failed. [`code`](Self::code) is stable.
#[derive(Debug, thiserror::Error)]
pub enum PunchError {
    /// The local port could not be bound (in use). Code 1.
    #[error("cannot bind UDP port {port} for punching: {source}")]
    Bind {
        /// The port.
        port: u16,
        /// The system's error.
        source: io::Error,
    },
    /// No packet from the peer within the bound. Code 2.
    #[error("no packet from peer {peer} in {rounds} round(s), {} ms ({probes} probes sent, {ignored} stray datagram(s) ignored): {reason}", elapsed.as_millis())]
    NoContact {
        /// The peer we probed.
        peer: SocketAddr,
        /// Rounds run.
        rounds: u32,
        /// Time spent.
        elapsed: Duration,
        /// Probes sent.
        probes: u32,
        /// Datagrams ignored.
        ignored: u32,
        /// [`NatContext::failure_reason`].
        reason: String,
    },
    /// The caller cancelled. Code 3.
    #[error("punch cancelled")]
    Cancelled,
    /// The socket failed. Code 4.
    #[error("punch {stage} failed: {source}")]
    Io {
        /// What was being done.
        stage: &'static str,
        /// The system's error.
        source: io::Error,
    },
}

impl PunchError {
    /// 1 bind, 2 no contact, 3 cancelled, 4 I/O.
    pub fn code(&self) -> u32 {
        match self {
            Self::Bind { .. } => 1,
            Self::NoContact { .. } => 2,
            Self::Cancelled => 3,
            Self::Io { .. } => 4,
        }
    }
}

fn wait_error(error: WaitError) -> PunchError {
    match error {
        WaitError::Cancelled => PunchError::Cancelled,
        WaitError::Io(source) => PunchError::Io { stage: "waiting for the peer", source },
    }
}

/// Binds UDP `port` on all addresses of `peer`'s family, punches (see [`punch`]) and closes
/// the socket again, so the port is free for the game's socket when this returns (the NAT
/// keeps the punched mapping for 30 s or more).
pub fn punch_port(port: u16, peer: SocketAddr, token: &RoomToken, context: &NatContext, options: &PunchOptions, waiter: &Waiter) -> Result<Punched, PunchError> {
    let local: SocketAddr = match peer {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, port).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, port).into(),
    };
    let socket = UdpSocket::bind(local).map_err(|source| PunchError::Bind { port, source })?;
    punch(&socket, peer, token, context, options, waiter)
}

/// Punches from `socket` towards `peer` (its public endpoint from the rendezvous); see the
/// module documentation. Returns within [`PunchOptions::bound`] plus the acknowledgements, or
/// at once on cancellation. The socket is made non-blocking.
pub fn punch(socket: &UdpSocket, peer: SocketAddr, token: &RoomToken, context: &NatContext, options: &PunchOptions, waiter: &Waiter) -> Result<Punched, PunchError> {
    let io = |stage: &'static str| move |source| PunchError::Io { stage, source };
    socket.set_nonblocking(true).map_err(io("making the socket non-blocking"))?;
    let local_port = socket.local_addr().map_err(io("reading the local port"))?.port();
    let nonce = RandomState::new().build_hasher().finish();
    let probe = |sequence: u16| Packet { kind: Kind::Probe, sequence, token: *token, nonce }.encode();
    let start = Instant::now();
    let mut round = 1u32;
    let mut probing = true;
    let mut phase_end = start + options.round;
    let mut next_send = start;
    let mut probes = 0u32;
    let mut ignored = 0u32;
    let mut buffer = [0u8; PACKET_LEN + 1];
    let (contact, first) = loop {
        let now = Instant::now();
        if now >= phase_end {
            if probing {
                if round >= options.rounds.max(1) {
                    return Err(PunchError::NoContact { peer, rounds: round, elapsed: start.elapsed(), probes, ignored, reason: context.failure_reason() });
                }
                probing = false;
                phase_end = now + options.pause;
            } else {
                probing = true;
                round += 1;
                phase_end = now + options.round;
                next_send = now;
            }
            continue;
        }
        if probing && now >= next_send {
            socket.send_to(&probe(probes as u16), peer).map_err(io("sending a probe"))?;
            probes += 1;
            next_send = now + options.interval;
        }
        let wake = if probing { next_send.min(phase_end) } else { phase_end };
        let Some(datagram) = recv_until(socket, &mut buffer, wake, waiter).map_err(wait_error)? else { continue };
        if datagram.from.ip().to_canonical() != peer.ip().to_canonical() {
            ignored += 1;
            continue;
        }
        match decode(&buffer[..datagram.len], token) {
            Ok(packet) if packet.nonce != nonce => break (datagram.from, packet),
            _ => ignored += 1,
        }
    };
    let first_contact = start.elapsed();
    let mut heard_ack = first.kind == Kind::Ack;
    for n in 0..options.acks {
        let ack = Packet { kind: Kind::Ack, sequence: n as u16, token: *token, nonce }.encode();
        socket.send_to(&ack, contact).map_err(io("sending an acknowledgement"))?;
        if n + 1 < options.acks {
            // Listen while spacing the acks (an ack from the peer is noted).
            let until = Instant::now() + options.ack_spacing;
            while let Some(datagram) = recv_until(socket, &mut buffer, until, waiter).map_err(wait_error)? {
                if let Ok(packet) = decode(&buffer[..datagram.len], token) {
                    heard_ack |= packet.kind == Kind::Ack && packet.nonce != nonce;
                }
            }
        }
    }
    Ok(Punched { peer: contact, local_port, elapsed: start.elapsed(), first_contact, probes, heard_ack, ignored, round })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gdnat_io::CancelToken;
    use std::thread;

    fn fast() -> PunchOptions {
        PunchOptions { round: Duration::from_millis(600), pause: Duration::from_millis(100), ..PunchOptions::default() }
    }

    fn waiter() -> Waiter {
        Waiter::new(&CancelToken::new()).unwrap()
    }

    #[test]
    fn two_sides_on_loopback_punch_each_other() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let token = RoomToken::from_room("lobby");
        let other = thread::spawn(move || punch(&b, a_addr, &token, &NatContext::default(), &fast(), &waiter()).unwrap());
        let ours = punch(&a, b_addr, &token, &NatContext::default(), &fast(), &waiter()).unwrap();
        let theirs = other.join().unwrap();
        assert_eq!((ours.peer, theirs.peer), (b_addr, a_addr));
        assert_eq!(ours.local_port, a_addr.port());
        assert!(ours.heard_ack || theirs.heard_ack, "the later side hears the earlier side's ack");
    }

    #[test]
    fn strays_other_rooms_and_other_senders_are_ignored_then_no_contact_names_the_nat() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let stranger = UdpSocket::bind("127.0.0.2:0").ok();
        let a_addr = a.local_addr().unwrap();
        let token = RoomToken::from_room("lobby");
        let noise = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            peer.send_to(b"garbage", a_addr).unwrap();
            let wrong_room = Packet { kind: Kind::Probe, sequence: 0, token: RoomToken::from_room("other"), nonce: 1 };
            peer.send_to(&wrong_room.encode(), a_addr).unwrap();
            if let Some(stranger) = stranger {
                let right_room = Packet { kind: Kind::Probe, sequence: 0, token, nonce: 1 };
                stranger.send_to(&right_room.encode(), a_addr).unwrap();
            }
            peer
        });
        let context = NatContext { mapping: Some(Mapping::AddressAndPortDependent), verdict: Some(NatVerdict::OneNat) };
        let options = PunchOptions { rounds: 2, ..fast() };
        let start = Instant::now();
        let peer_addr = "127.0.0.1:9".parse().unwrap(); // the peer "vanished": nothing answers there
        let error = punch(&a, peer_addr, &token, &context, &options, &waiter()).unwrap_err();
        let elapsed = start.elapsed();
        let _peer = noise.join().unwrap();
        match &error {
            PunchError::NoContact { rounds: 2, ignored, probes, reason, .. } => {
                assert!(*ignored >= 2, "{error}");
                assert!(*probes >= 6, "{error}");
                assert!(reason.contains("symmetric") && reason.contains("relay"), "{reason}");
            }
            other => panic!("{other}"),
        }
        assert_eq!(error.code(), 2);
        // Never before the bound; the upper limit is only a hang guard (loaded CI machines).
        assert!(elapsed >= options.bound() && elapsed < options.bound() + Duration::from_secs(10), "{elapsed:?}");
    }

    #[test]
    fn a_port_in_use_and_cancellation_are_typed() {
        let taken = UdpSocket::bind("0.0.0.0:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let token = RoomToken::from_room("lobby");
        let error = punch_port(port, "127.0.0.1:9".parse().unwrap(), &token, &NatContext::default(), &fast(), &waiter()).unwrap_err();
        assert_eq!(error.code(), 1, "{error}");

        let cancel = CancelToken::new();
        let waiter = Waiter::new(&cancel.child()).unwrap();
        let canceller = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            cancel.cancel();
        });
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let error = punch(&socket, "127.0.0.1:9".parse().unwrap(), &token, &NatContext::default(), &PunchOptions::default(), &waiter).unwrap_err();
        assert!(matches!(error, PunchError::Cancelled), "{error}");
        canceller.join().unwrap();
    }
}
