//! The lifecycle of one mapping as a state machine with an explicit clock: the caller passes
//! `now` and calls [`Keeper::tick`] at [`Keeper::deadline`]. All network work goes through a
//! [`Backend`], so the machine is tested with a fake backend and a fake clock.
//!
//! ```text
//!  Idle (Discovering) --start--> Mapping --ok--> Mapped --renew_at--> Renewing --ok--> Mapped
//!                     |                                    |  (same external port: Renewed;
//!                   error                                  |   gateway restarted or another
//!                     v                                    |   port/address: Lost, then Mapped)
//!                  Failed --retry_at--> Mapping           error
//!                                                          v
//!                                     Mapped (retry before expiry) / Lost (expired) --> Mapping
//!  any --stop--> Released (the mapping deleted first)
//! ```
//!
//! A backend whose renewal does not carry the external address (UPnP:
//! [`Backend::watches_external_address`]) has it read once per lease period, halfway to the
//! renewal ([`Keeper::tick`]); a changed address renews at once, which reports `Lost`
//! (`ExternalChanged`) then `Mapped` with the new address. So a renewal stays one request, and
//! a new WAN address is noticed within half a period.

use std::time::{Duration, Instant};

use crate::backend::{Backend, Granted, MapRequest, MapperError};
use crate::schedule::{Jitter, Lease};

/// After a failed first mapping (or a lost one that could not be made again), the next try.
pub const REMAP_RETRY: Duration = Duration::from_secs(30);

/// Where a mapping is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started.
    Idle,
    /// Finding the gateway and what it speaks (the worker, before the keeper starts).
    Discovering,
    /// Asking the gateway for the mapping.
    Mapping,
    /// The gateway holds it; a renewal is scheduled.
    Mapped,
    /// Renewing it.
    Renewing,
    /// It was lost (expired, gateway restarted, external address changed); mapping again.
    Lost,
    /// Mapping failed; another try is scheduled.
    Failed,
    /// Stopped; the mapping was deleted (or never made).
    Released,
}

impl State {
    /// Lower-case name (`idle`, `mapping`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Discovering => "discovering",
            Self::Mapping => "mapping",
            Self::Mapped => "mapped",
            Self::Renewing => "renewing",
            Self::Lost => "lost",
            Self::Failed => "failed",
            Self::Released => "released",
        }
    }
}

/// Why a mapping was lost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LostReason {
    /// The gateway's epoch says it restarted (its table is gone).
    GatewayRestarted,
    /// Renewals failed until the lease ran out.
    Expired,
    /// The renewal came back with another external address or port.
    ExternalChanged {
        /// The previous mapping.
        previous: Granted,
    },
}

/// What happened, in order. The worker forwards these to its owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The state changed.
    StateChanged(State),
    /// A mapping exists (first time, or again after a loss); the next renewal is `renew_in`
    /// from now.
    Mapped(Granted, Duration),
    /// A renewal kept the same external address and port; the next one is `renew_in` from now.
    Renewed(Granted, Duration),
    /// The mapping was lost.
    Lost(LostReason),
    /// Mapping (or deleting) failed; for mapping, another try is scheduled.
    Failed(MapperError),
    /// Stopped.
    Released,
}

/// Keeps one mapping alive through a [`Backend`].
pub struct Keeper<B: Backend> {
    backend: B,
    request: MapRequest,
    state: State,
    granted: Option<Granted>,
    lease: Option<Lease>,
    next: Option<Instant>,
    /// When to read the external address (backends that watch it), halfway to the renewal.
    watch_at: Option<Instant>,
    jitter: Jitter,
}

impl<B: Backend> Keeper<B> {
    /// A keeper that will map `request` with `backend`; nothing is sent before
    /// [`Keeper::start`].
    pub fn new(backend: B, request: MapRequest, jitter: Jitter) -> Self {
        Self { backend, request, state: State::Idle, granted: None, lease: None, next: None, watch_at: None, jitter }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The current mapping, if any.
    pub fn granted(&self) -> Option<&Granted> {
        self.granted.as_ref()
    }

    /// The current lease's times, if mapped.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// The backend (tests inspect their fakes through it).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// When [`Keeper::tick`] must be called next (`None`: nothing scheduled).
    pub fn deadline(&self) -> Option<Instant> {
        self.next.into_iter().chain(self.watch_at).min()
    }

    fn renew_in(&self, now: Instant) -> Duration {
        self.next.map_or(Duration::ZERO, |next| next.saturating_duration_since(now))
    }

    fn set(&mut self, state: State, events: &mut Vec<Event>) {
        if self.state != state {
            self.state = state;
            events.push(Event::StateChanged(state));
        }
    }

    fn hold(&mut self, granted: Granted, now: Instant) {
        // A permanent mapping (lifetime 0, UPnP on a router without finite leases) is checked
        // as if it had the lease asked for.
        let period = if granted.lifetime == 0 { self.request.lifetime } else { granted.lifetime };
        let lease = Lease::new(now, period, self.jitter.next_u64());
        self.next = Some(lease.renew_at);
        self.watch_at = self.backend.watches_external_address().then(|| now + lease.renew_at.saturating_duration_since(now) / 2);
        self.lease = Some(lease);
        self.granted = Some(granted);
    }

    /// Maps for the first time.
    pub fn start(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if matches!(self.state, State::Idle | State::Discovering | State::Failed | State::Released) {
            self.map(now, &mut events);
        }
        events
    }

    fn map(&mut self, now: Instant, events: &mut Vec<Event>) {
        self.set(State::Mapping, events);
        match self.backend.map(&self.request) {
            Ok(granted) => {
                self.hold(granted.clone(), now);
                self.set(State::Mapped, events);
                events.push(Event::Mapped(granted, self.renew_in(now)));
            }
            Err(error) => {
                self.granted = None;
                self.lease = None;
                self.watch_at = None;
                self.next = Some(now + REMAP_RETRY);
                self.set(State::Failed, events);
                events.push(Event::Failed(error));
            }
        }
    }

    /// Does what is due at `now`: renew, retry, or map again.
    pub fn tick(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        // The watch first, even when the renewal is due too (a tick that came late): the
        // renewal then uses this period's reading, never an older one.
        if self.watch_at.is_some_and(|watch| now >= watch) {
            self.watch(now, &mut events);
        }
        if self.next.is_none_or(|next| now < next) {
            return events;
        }
        match self.state {
            State::Mapped => self.renew(now, &mut events),
            State::Failed | State::Lost => self.map(now, &mut events),
            _ => {}
        }
        events
    }

    /// Renews now (the node's `refresh()`), or maps if there is no mapping.
    pub fn refresh(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        match self.state {
            State::Mapped => self.renew(now, &mut events),
            State::Failed | State::Lost | State::Idle => self.map(now, &mut events),
            _ => {}
        }
        events
    }

    fn renew(&mut self, now: Instant, events: &mut Vec<Event>) {
        let (Some(previous), Some(lease)) = (self.granted.clone(), self.lease) else {
            return self.map(now, events);
        };
        if now >= lease.expires_at {
            self.lose(LostReason::Expired, now, events);
            return;
        }
        self.set(State::Renewing, events);
        match self.backend.renew(&previous, &self.request) {
            Ok(granted) => {
                let moved = granted.external_port != previous.external_port || granted.external_address != previous.external_address;
                self.hold(granted.clone(), now);
                // Another address or port is the news the owner needs, even when the epoch
                // reset as well (miniupnpd resets its epoch when its WAN address changes).
                if moved {
                    self.set(State::Lost, events);
                    events.push(Event::Lost(LostReason::ExternalChanged { previous }));
                    self.set(State::Mapped, events);
                    events.push(Event::Mapped(granted, self.renew_in(now)));
                } else if granted.gateway_restarted {
                    self.set(State::Lost, events);
                    events.push(Event::Lost(LostReason::GatewayRestarted));
                    self.set(State::Mapped, events);
                    events.push(Event::Mapped(granted, self.renew_in(now)));
                } else {
                    self.set(State::Mapped, events);
                    events.push(Event::Renewed(granted, self.renew_in(now)));
                }
            }
            Err(error) => {
                // Try again before expiry; at expiry the next tick declares it lost.
                events.push(Event::Failed(error));
                self.next = Some(lease.retry_at(now));
                self.set(State::Mapped, events);
            }
        }
    }

    /// Reads the external address (once per lease period); a changed one renews at once. A
    /// failed reading waits for the renewal, which then reads the address itself.
    fn watch(&mut self, now: Instant, events: &mut Vec<Event>) {
        self.watch_at = None;
        if self.state != State::Mapped {
            return;
        }
        let changed = match (self.backend.current_external_address(), &self.granted) {
            (Ok(address), Some(granted)) => address != granted.external_address,
            _ => false,
        };
        if changed {
            self.renew(now, events);
        }
    }

    fn lose(&mut self, reason: LostReason, now: Instant, events: &mut Vec<Event>) {
        self.granted = None;
        self.lease = None;
        self.watch_at = None;
        self.set(State::Lost, events);
        events.push(Event::Lost(reason));
        self.map(now, events);
    }

    /// Deletes the mapping (if any) and ends in [`State::Released`].
    pub fn stop(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        if let Some(granted) = self.granted.take() {
            if let Err(error) = self.backend.delete(&granted) {
                events.push(Event::Failed(error));
            }
        }
        self.lease = None;
        self.next = None;
        self.watch_at = None;
        if self.state != State::Released {
            self.set(State::Released, &mut events);
            events.push(Event::Released);
        }
        events
    }
}
