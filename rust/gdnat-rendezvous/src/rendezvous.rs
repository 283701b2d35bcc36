//! The rendezvous seam: a small trait a game can implement for its own server, the tracker as
//! its default implementation, and the membership bookkeeping (who joined, who left) with a
//! re-announce timer, for a `peers_changed` signal.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gdnat_io::Waiter;

use crate::codec::Event;
use crate::room::RoomHash;
use crate::tracker::{others, Tracker, TrackerError};

/// Why a rendezvous step failed.
#[derive(Debug, thiserror::Error)]
pub enum RendezvousError {
    /// The tracker failed (codes 1..=7 as [`TrackerError::code`]).
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    /// A game's own rendezvous failed; `code` is the game's (offset by 100 in [`code`](Self::code)).
    #[error("{message}")]
    Custom {
        /// The game's code.
        code: u32,
        /// A sentence for logs and players.
        message: String,
    },
}

impl RendezvousError {
    /// 1..=7 for tracker errors, 100 + the game's code for a custom rendezvous.
    pub fn code(&self) -> u32 {
        match self {
            Self::Tracker(error) => error.code(),
            Self::Custom { code, .. } => 100u32.saturating_add(*code),
        }
    }

    /// Whether the caller cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Tracker(TrackerError::Cancelled))
    }
}

/// Somewhere players of one room find each other's public endpoints. The BitTorrent tracker
/// ([`TrackerRendezvous`]) is the default; a game can plug in its own lobby server.
///
/// Calls are blocking and run on a worker thread; each must return within its own bound and
/// at once when `waiter`'s token is cancelled.
pub trait Rendezvous: Send {
    /// Publishes `public` (our STUN-mapped endpoint) in `room` and returns the other members'
    /// endpoints (ours filtered out).
    fn announce(&mut self, room: &RoomHash, public: SocketAddr, waiter: &Waiter) -> Result<Vec<SocketAddr>, RendezvousError>;
    /// Removes us from `room` (best effort: a tracker forgets silent peers by itself).
    fn leave(&mut self, room: &RoomHash, public: SocketAddr, waiter: &Waiter) -> Result<(), RendezvousError>;
    /// How long to wait between announces.
    fn interval(&self) -> Duration;
}

/// The tracker as a [`Rendezvous`]: the first announce is `started`, the next ones `none`,
/// leaving is `stopped`. Re-announces every [`TrackerRendezvous::every`] (default 5 s, as the
/// Qt proof of concept does; the tracker's own interval is 30 min to 2 h, far too slow for a
/// lobby), never less often than the tracker asks.
#[derive(Debug)]
pub struct TrackerRendezvous {
    tracker: Tracker,
    started: bool,
    /// The re-announce interval for a lobby.
    pub every: Duration,
    tracker_interval: Option<Duration>,
}

impl TrackerRendezvous {
    /// A rendezvous through `tracker`, re-announcing every 5 s.
    pub fn new(tracker: Tracker) -> Self {
        Self { tracker, started: false, every: Duration::from_secs(5), tracker_interval: None }
    }

    /// The client (for its socket).
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }
}

impl Rendezvous for TrackerRendezvous {
    fn announce(&mut self, room: &RoomHash, public: SocketAddr, waiter: &Waiter) -> Result<Vec<SocketAddr>, RendezvousError> {
        let event = if self.started { Event::None } else { Event::Started };
        let announced = self.tracker.announce(room, public.port(), event, waiter)?;
        self.started = true;
        self.tracker_interval = Some(announced.interval);
        Ok(others(&announced.peers, public))
    }

    fn leave(&mut self, room: &RoomHash, public: SocketAddr, waiter: &Waiter) -> Result<(), RendezvousError> {
        if !self.started {
            return Ok(());
        }
        self.started = false;
        self.tracker.announce(room, public.port(), Event::Stopped, waiter)?;
        Ok(())
    }

    fn interval(&self) -> Duration {
        match self.tracker_interval {
            Some(asked) if asked > Duration::ZERO => self.every.min(asked),
            _ => self.every,
        }
    }
}

/// A change of a room's membership.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PeersChanged {
    /// Endpoints that appeared since the last announce.
    pub joined: Vec<SocketAddr>,
    /// Endpoints that disappeared.
    pub left: Vec<SocketAddr>,
    /// Everyone now (sorted).
    pub members: Vec<SocketAddr>,
}

/// The set of members, updated from each announce's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Members {
    known: BTreeSet<SocketAddr>,
}

impl Members {
    /// Takes the latest list; `Some` with the difference when it changed.
    pub fn update(&mut self, now: &[SocketAddr]) -> Option<PeersChanged> {
        let now: BTreeSet<SocketAddr> = now.iter().copied().collect();
        if now == self.known {
            return None;
        }
        let joined = now.difference(&self.known).copied().collect();
        let left = self.known.difference(&now).copied().collect();
        self.known = now;
        Some(PeersChanged { joined, left, members: self.known.iter().copied().collect() })
    }

    /// The members now.
    pub fn current(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.known.iter().copied()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.known.len()
    }

    /// Whether nobody else is in the room.
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }
}

/// Announces on a timer and reports membership changes: the worker calls [`poll`](Self::poll)
/// whenever it wakes and sleeps until [`next_due`](Self::next_due).
pub struct Reannouncer<R: Rendezvous> {
    rendezvous: R,
    room: RoomHash,
    public: SocketAddr,
    members: Members,
    next: Option<Instant>,
}

impl<R: Rendezvous> Reannouncer<R> {
    /// Announces `public` in `room` through `rendezvous` (the first [`poll`](Self::poll)
    /// announces at once).
    pub fn new(rendezvous: R, room: RoomHash, public: SocketAddr) -> Self {
        Self { rendezvous, room, public, members: Members::default(), next: None }
    }

    /// When the next announce is due.
    pub fn next_due(&self) -> Instant {
        self.next.unwrap_or_else(Instant::now)
    }

    /// The members seen last.
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// The rendezvous.
    pub fn rendezvous(&self) -> &R {
        &self.rendezvous
    }

    /// Announces when due (else returns `Ok(None)` at once); `Some` when the members changed.
    /// After a failure the next try is due after the interval as well.
    pub fn poll(&mut self, waiter: &Waiter) -> Result<Option<PeersChanged>, RendezvousError> {
        if self.next.is_some_and(|next| Instant::now() < next) {
            return Ok(None);
        }
        let result = self.rendezvous.announce(&self.room, self.public, waiter);
        self.next = Some(Instant::now() + self.rendezvous.interval());
        Ok(self.members.update(&result?))
    }

    /// Leaves the room.
    pub fn leave(&mut self, waiter: &Waiter) -> Result<(), RendezvousError> {
        self.next = None;
        self.members = Members::default();
        self.rendezvous.leave(&self.room, self.public, waiter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::tests::{announce_ok, connect_ok, fake_tracker};
    use crate::tracker::TrackerOptions;
    use gdnat_io::CancelToken;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn members_report_who_joined_and_who_left() {
        let mut members = Members::default();
        let a = addr("198.18.0.1:1");
        let b = addr("198.18.0.2:2");
        assert_eq!(members.update(&[]), None);
        assert_eq!(members.update(&[a]), Some(PeersChanged { joined: vec![a], left: vec![], members: vec![a] }));
        assert_eq!(members.update(&[a]), None);
        assert_eq!(members.update(&[b, a]), Some(PeersChanged { joined: vec![b], left: vec![], members: vec![a, b] }));
        assert_eq!(members.update(&[b]), Some(PeersChanged { joined: vec![], left: vec![a], members: vec![b] }));
    }

    /// A game's own rendezvous: a fixed list.
    struct Fixed(Vec<SocketAddr>, u32);
    impl Rendezvous for Fixed {
        fn announce(&mut self, _: &RoomHash, public: SocketAddr, _: &Waiter) -> Result<Vec<SocketAddr>, RendezvousError> {
            self.1 += 1;
            if self.1 == 3 {
                return Err(RendezvousError::Custom { code: 4, message: "lobby server busy".into() });
            }
            Ok(others(&self.0, public))
        }
        fn leave(&mut self, _: &RoomHash, _: SocketAddr, _: &Waiter) -> Result<(), RendezvousError> {
            Ok(())
        }
        fn interval(&self) -> Duration {
            Duration::ZERO
        }
    }

    #[test]
    fn a_custom_rendezvous_plugs_in() {
        let me = addr("198.18.0.1:1");
        let other = addr("198.18.0.2:2");
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let mut announcer = Reannouncer::new(Fixed(vec![me, other], 0), RoomHash::from_name("x"), me);
        assert_eq!(announcer.poll(&waiter).unwrap().unwrap().joined, vec![other]);
        assert_eq!(announcer.poll(&waiter).unwrap(), None);
        let error = announcer.poll(&waiter).unwrap_err();
        assert_eq!((error.code(), error.to_string()), (104, "lobby server busy".to_string()));
    }

    #[test]
    fn the_tracker_rendezvous_starts_then_reannounces_then_stops() {
        let (tracker, requests) = fake_tracker(vec![connect_ok, announce_ok]);
        let tracker = Tracker::bind(tracker, TrackerOptions::default()).unwrap();
        let waiter = Waiter::new(&CancelToken::new()).unwrap();
        let public = addr("127.0.0.1:40000");
        let mut announcer = Reannouncer::new(TrackerRendezvous::new(tracker), RoomHash::from_name("x"), public);
        let changed = announcer.poll(&waiter).unwrap().unwrap();
        assert_eq!(changed.members, vec![addr("198.18.0.2:7777")], "our own entry is filtered out");
        assert!(announcer.next_due() > Instant::now() + Duration::from_secs(4), "next announce in 5 s");
        assert_eq!(announcer.poll(&waiter).unwrap(), None, "not due yet: nothing sent");
        announcer.leave(&waiter).unwrap();
        let events: Vec<u8> = requests.try_iter().filter(|r| r.len() == 98).map(|r| r[83]).collect();
        assert_eq!(events, [2, 3], "started, then stopped");
    }
}
