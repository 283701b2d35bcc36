//! Gateway reboot detection from the epoch every NAT-PMP and PCP answer carries (seconds since
//! the gateway's mapping state began). Pure: the caller passes the receive time.
//!
//! - PCP, RFC 6887 §8.5: with the previous answer's epoch `S_prev` received at client time
//!   `C_prev`, a new epoch `S_curr` at `C_curr` is invalid when `S_curr + 1 < S_prev` (time went
//!   back by more than a second), or when `C_delta + 2 < S_delta - S_delta/16` or
//!   `S_delta + 2 < C_delta - C_delta/16` (the two clocks drifted apart by more than 1/16 plus
//!   2 s). Invalid means: the gateway lost its state; map everything again.
//! - NAT-PMP, RFC 6886 §3.6: the expected epoch is `S_prev + 7/8 × C_delta`; a new epoch more
//!   than 2 s below that means the gateway rebooted.
//!
//! After every observation, valid or not, the new pair becomes the reference.

use std::time::{Duration, Instant};

/// Which RFC's rule to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochRule {
    /// RFC 6887 §8.5.
    Pcp,
    /// RFC 6886 §3.6.
    NatPmp,
}

/// What one observed epoch says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochCheck {
    /// The first answer from this gateway: nothing to compare with.
    First,
    /// Consistent with the previous answer: the gateway kept its state.
    Continuous,
    /// Inconsistent: the gateway restarted (or lost its mappings) since the previous answer.
    /// Every mapping made before must be made again.
    Reset {
        /// The previous answer's epoch.
        previous: u32,
        /// This answer's epoch.
        current: u32,
    },
}

impl EpochCheck {
    /// True for [`EpochCheck::Reset`].
    pub fn is_reset(self) -> bool {
        matches!(self, Self::Reset { .. })
    }
}

/// Remembers the last epoch of one gateway and checks each new one against it.
#[derive(Clone, Debug)]
pub struct EpochTracker {
    rule: EpochRule,
    last: Option<(u32, Instant)>,
}

impl EpochTracker {
    /// A tracker that has seen nothing yet.
    pub fn new(rule: EpochRule) -> Self {
        Self { rule, last: None }
    }

    /// The last epoch seen and when, if any.
    pub fn last(&self) -> Option<(u32, Instant)> {
        self.last
    }

    /// Forgets the reference (a new gateway).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Checks `epoch` received at `now` and makes it the reference.
    pub fn observe(&mut self, epoch: u32, now: Instant) -> EpochCheck {
        let check = match self.last {
            None => EpochCheck::First,
            Some((previous, then)) => {
                let client_delta = now.saturating_duration_since(then);
                if is_valid(self.rule, previous, epoch, client_delta) {
                    EpochCheck::Continuous
                } else {
                    EpochCheck::Reset { previous, current: epoch }
                }
            }
        };
        self.last = Some((epoch, now));
        check
    }
}

/// The rule itself: is `current` a plausible successor of `previous` after `client_delta`?
pub fn is_valid(rule: EpochRule, previous: u32, current: u32, client_delta: Duration) -> bool {
    let (previous, current) = (u64::from(previous), u64::from(current));
    let client = client_delta.as_secs();
    match rule {
        EpochRule::Pcp => {
            if current + 1 < previous {
                return false;
            }
            let server = current.saturating_sub(previous);
            !(client.saturating_add(2) < server - server / 16 || server + 2 < client - client / 16)
        }
        EpochRule::NatPmp => {
            // 7/8 of the elapsed time, in milliseconds to keep sub-second precision.
            let client_ms = u64::try_from(client_delta.as_millis()).unwrap_or(u64::MAX);
            let expected_ms = (previous * 1000).saturating_add(client_ms / 8 * 7 + client_ms % 8 * 7 / 8);
            current * 1000 + 2000 >= expected_ms
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> Instant {
        // A fixed origin far enough in the past for any offset used here.
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(Instant::now) + Duration::from_secs(seconds)
    }

    #[test]
    fn pcp_rule_accepts_steady_time_and_small_jitter() {
        let mut tracker = EpochTracker::new(EpochRule::Pcp);
        assert_eq!(tracker.observe(100, at(0)), EpochCheck::First);
        assert_eq!(tracker.observe(100, at(0)), EpochCheck::Continuous, "same second");
        assert_eq!(tracker.observe(99, at(0)), EpochCheck::Continuous, "one second back is tolerated");
        assert_eq!(tracker.observe(1099, at(1000)), EpochCheck::Continuous);
        // 1000 s later on our clock, the server counted 1060: within 1/16 + 2 s.
        assert_eq!(tracker.observe(2159, at(2000)), EpochCheck::Continuous);
    }

    #[test]
    fn pcp_rule_detects_a_restart_and_a_drift() {
        let mut tracker = EpochTracker::new(EpochRule::Pcp);
        tracker.observe(5000, at(0));
        assert_eq!(tracker.observe(3, at(10)), EpochCheck::Reset { previous: 5000, current: 3 });
        // The new reference is 3 at t=10: a server clock 100 s behind ours after 200 s is a reset
        // (state lost while we were away, epoch restarted and counted up again).
        assert!(tracker.observe(103, at(210)).is_reset());
        assert!(!is_valid(EpochRule::Pcp, 0, 500, Duration::from_secs(10)), "server ran far ahead");
        assert!(!is_valid(EpochRule::Pcp, 100, 98, Duration::ZERO), "two seconds back");
    }

    #[test]
    fn natpmp_rule_allows_seven_eighths_minus_two_seconds() {
        assert!(is_valid(EpochRule::NatPmp, 100, 100 + 875 - 2, Duration::from_secs(1000)));
        assert!(!is_valid(EpochRule::NatPmp, 100, 100 + 875 - 3, Duration::from_secs(1000)));
        assert!(is_valid(EpochRule::NatPmp, 100, 99, Duration::ZERO));
        assert!(!is_valid(EpochRule::NatPmp, 100, 5, Duration::from_secs(1)));
        let mut tracker = EpochTracker::new(EpochRule::NatPmp);
        tracker.observe(u32::MAX, at(0));
        assert_eq!(tracker.observe(u32::MAX, at(0)), EpochCheck::Continuous, "no overflow at the top");
        assert!(!is_valid(EpochRule::NatPmp, 0, 0, Duration::MAX), "no overflow for any elapsed time");
        assert!(!is_valid(EpochRule::Pcp, 0, 0, Duration::MAX));
    }
}
