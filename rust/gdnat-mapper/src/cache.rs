//! A shared probe cache: what a gateway speaks is asked once and trusted for a while (a success
//! for [`TRUST_SUCCESS`], 10 min like Tailscale; a failure for [`TRUST_FAILURE`], so a router
//! that comes up is found soon), and callers that ask at the same time share one probe
//! (single-flight: the first runs it, the others wait for its report).
//!
//! [`ProbeCache`] is `Clone` (clones share the table) and `Send + Sync`, keyed by the gateway
//! ([`ProbeKey`]: its address, the NAT-PMP/PCP port and the UPnP description URL). A plain
//! blocking API: the Godot node calls it from its mapping worker, never from a frame.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use gdnat_io::CancelToken;

use crate::probe::{probe, ProbeOptions, ProbeReport};

/// How long a probe that found a protocol is trusted.
pub const TRUST_SUCCESS: Duration = Duration::from_secs(600);
/// How long a probe that found nothing is trusted.
pub const TRUST_FAILURE: Duration = Duration::from_secs(5);
/// A caller waits for another caller's probe at most its own `timeout` plus this (UPnP
/// validation's HTTP bounds), then probes itself.
pub const WAIT_SLACK: Duration = Duration::from_secs(10);
/// The slice a waiter sleeps before it looks at its cancel token again.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// Which gateway a probe was for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProbeKey {
    /// The gateway's address (PCP, NAT-PMP).
    pub gateway: IpAddr,
    /// The NAT-PMP/PCP port.
    pub pmp_port: u16,
    /// The UPnP description URL, when given (`None`: SSDP discovery).
    pub upnp_url: Option<String>,
}

impl From<&ProbeOptions> for ProbeKey {
    fn from(options: &ProbeOptions) -> Self {
        Self { gateway: options.gateway, pmp_port: options.pmp_port, upnp_url: options.upnp_url.clone() }
    }
}

enum Slot {
    /// A caller is probing; the others wait on the condition variable.
    Probing,
    /// The last report and when it was made.
    Ready { report: Arc<ProbeReport>, at: Instant },
}

struct Shared {
    slots: Mutex<HashMap<ProbeKey, Slot>>,
    changed: Condvar,
    trust_success: Duration,
    trust_failure: Duration,
}

/// A thread-safe probe cache with single-flight (see the module documentation).
#[derive(Clone)]
pub struct ProbeCache {
    shared: Arc<Shared>,
}

impl Default for ProbeCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ProbeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeCache").field("trust_success", &self.shared.trust_success).field("trust_failure", &self.shared.trust_failure).finish()
    }
}

/// Removes a `Probing` slot if its probe did not finish (a panic), so waiters do not wait for
/// nothing.
struct FlightGuard<'a> {
    cache: &'a ProbeCache,
    key: Option<ProbeKey>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut slots = self.cache.lock();
            if matches!(slots.get(&key), Some(Slot::Probing)) {
                slots.remove(&key);
            }
            drop(slots);
            self.cache.shared.changed.notify_all();
        }
    }
}

impl ProbeCache {
    /// A cache that trusts a success for [`TRUST_SUCCESS`] and a failure for [`TRUST_FAILURE`].
    pub fn new() -> Self {
        Self::with_trust(TRUST_SUCCESS, TRUST_FAILURE)
    }

    /// A cache with other trust times (tests, or a game that wants a shorter one).
    pub fn with_trust(success: Duration, failure: Duration) -> Self {
        Self { shared: Arc::new(Shared { slots: Mutex::new(HashMap::new()), changed: Condvar::new(), trust_success: success, trust_failure: failure }) }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ProbeKey, Slot>> {
        self.shared.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh(&self, report: &ProbeReport, at: Instant, now: Instant) -> bool {
        let trust = if report.preferred().is_some() { self.shared.trust_success } else { self.shared.trust_failure };
        now.saturating_duration_since(at) < trust
    }

    /// The trusted report for `options`' gateway, if there is one (nothing is sent).
    pub fn cached(&self, options: &ProbeOptions) -> Option<Arc<ProbeReport>> {
        match self.lock().get(&ProbeKey::from(options)) {
            Some(Slot::Ready { report, at }) if self.fresh(report, *at, Instant::now()) => Some(report.clone()),
            _ => None,
        }
    }

    /// Forgets `options`' gateway (after a mapping failed on it, or the network changed), so
    /// the next [`ProbeCache::probe`] asks again. A probe running now is not affected.
    pub fn invalidate(&self, options: &ProbeOptions) {
        let mut slots = self.lock();
        let key = ProbeKey::from(options);
        if matches!(slots.get(&key), Some(Slot::Ready { .. })) {
            slots.remove(&key);
        }
    }

    /// The trusted report, or a new [`probe`] (shared with every caller that asks for the same
    /// gateway meanwhile). Blocks at most about `options.timeout` (plus UPnP's HTTP bounds),
    /// or `options.timeout` + [`WAIT_SLACK`] when it waits for another caller's probe.
    pub fn probe(&self, options: &ProbeOptions, cancel: &CancelToken) -> Arc<ProbeReport> {
        self.probe_with(options, cancel, || probe(options, cancel))
    }

    /// [`ProbeCache::probe`] with another probe function (tests; a custom probe).
    /// A probe that ends after `cancel` was cancelled is returned but not cached.
    pub fn probe_with(&self, options: &ProbeOptions, cancel: &CancelToken, run: impl FnOnce() -> ProbeReport) -> Arc<ProbeReport> {
        let key = ProbeKey::from(options);
        let deadline = Instant::now() + options.timeout + WAIT_SLACK;
        let mut slots = self.lock();
        let lead = loop {
            match slots.get(&key) {
                Some(Slot::Ready { report, at }) if self.fresh(report, *at, Instant::now()) => return report.clone(),
                Some(Slot::Probing) => {
                    let now = Instant::now();
                    if now >= deadline || cancel.is_cancelled() {
                        // Waited long enough: probe alone, without taking over the slot.
                        break false;
                    }
                    let slice = WAIT_SLICE.min(deadline - now);
                    slots = self.shared.changed.wait_timeout(slots, slice).unwrap_or_else(|p| p.into_inner()).0;
                }
                _ => break true,
            }
        };
        if !lead {
            drop(slots);
            return Arc::new(run());
        }
        slots.insert(key.clone(), Slot::Probing);
        drop(slots);
        let mut guard = FlightGuard { cache: self, key: Some(key.clone()) };
        let report = Arc::new(run());
        guard.key = None;
        let mut slots = self.lock();
        if cancel.is_cancelled() {
            slots.remove(&key);
        } else {
            slots.insert(key, Slot::Ready { report: report.clone(), at: Instant::now() });
        }
        drop(slots);
        self.shared.changed.notify_all();
        report
    }
}
