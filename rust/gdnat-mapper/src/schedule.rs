//! When to renew: at a random point between 50 % and 75 % of the granted lifetime (libplum's
//! choice: early enough for two more tries before expiry, spread so that many clients behind
//! one router do not renew in the same second). Pure; the random value is passed in.

use std::time::{Duration, Instant};

/// The earliest renewal, in thousandths of the lifetime.
pub const RENEW_MIN_PERMILLE: u64 = 500;
/// The latest renewal, in thousandths of the lifetime.
pub const RENEW_MAX_PERMILLE: u64 = 750;

/// The delay from the grant to the renewal for `lifetime` seconds, placed by `random` (any
/// value) between 50 % and 75 %. At least 1 s.
pub fn renew_delay(lifetime: u32, random: u64) -> Duration {
    let permille = RENEW_MIN_PERMILLE + random % (RENEW_MAX_PERMILLE - RENEW_MIN_PERMILLE + 1);
    let millis = u64::from(lifetime) * permille;
    Duration::from_millis(millis.max(1000))
}

/// The times of one granted lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// When the answer came.
    pub granted_at: Instant,
    /// When to renew.
    pub renew_at: Instant,
    /// When the gateway drops it unless renewed.
    pub expires_at: Instant,
}

impl Lease {
    /// The lease of `lifetime` seconds granted at `now`; `random` places the renewal.
    pub fn new(now: Instant, lifetime: u32, random: u64) -> Self {
        Self { granted_at: now, renew_at: now + renew_delay(lifetime, random), expires_at: now + Duration::from_secs(u64::from(lifetime)) }
    }

    /// When to try again after a failed renewal at `now`: a quarter of the time left, at least
    /// 2 s, never past the expiry.
    pub fn retry_at(&self, now: Instant) -> Instant {
        let left = self.expires_at.saturating_duration_since(now);
        (now + (left / 4).max(Duration::from_secs(2))).min(self.expires_at)
    }
}

/// A small xorshift generator for renewal times (no security need; seeded from the OS).
#[derive(Clone, Debug)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the operating system's random source (a fixed seed if that fails).
    pub fn from_os() -> Self {
        let mut bytes = [0u8; 8];
        let seed = if getrandom::fill(&mut bytes).is_ok() { u64::from_le_bytes(bytes) } else { 0x9E37_79B9_7F4A_7C15 };
        Self::with_seed(seed)
    }

    /// A fixed seed (tests).
    pub fn with_seed(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_lies_between_half_and_three_quarters() {
        let mut jitter = Jitter::with_seed(42);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let delay = renew_delay(600, jitter.next_u64());
            assert!(delay >= Duration::from_secs(300) && delay <= Duration::from_secs(450), "{delay:?}");
            seen.insert(delay.as_secs());
        }
        assert!(seen.contains(&300) && seen.contains(&449), "covers the range: {:?}..{:?}", seen.first(), seen.last());
        assert_eq!(renew_delay(600, 0), Duration::from_secs(300));
        assert_eq!(renew_delay(600, 250), Duration::from_secs(450));
        assert_eq!(renew_delay(0, 7), Duration::from_secs(1), "never a busy loop");
        assert_eq!(renew_delay(u32::MAX, u64::MAX), renew_delay(u32::MAX, u64::MAX), "no overflow");
    }

    #[test]
    fn retries_stay_before_expiry() {
        let now = Instant::now();
        let lease = Lease::new(now, 100, 0);
        assert_eq!(lease.renew_at, now + Duration::from_secs(50));
        assert_eq!(lease.retry_at(now + Duration::from_secs(60)), now + Duration::from_secs(70));
        assert_eq!(lease.retry_at(now + Duration::from_secs(99)), lease.expires_at);
    }
}
