//! Retry delays: exponential back-off with full jitter, capped — each failure doubles the
//! ceiling, and the delay is drawn uniformly below it, so that many followers failing together
//! do not retry together.
//!
//! Two caps: an outage (no connection, a time-out, a 5xx, a cut answer, our own store failing)
//! is retried at most `outage_cap` apart, so that the feed is back within seconds of OVH or the
//! disk coming back; a refusal (OVH answering 4xx: a token it does not accept) is retried at
//! most `cap` apart, since it will not mend by itself soon.

use rand::Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    /// The longest wait after a refusal.
    pub cap: Duration,
    /// The longest wait during an outage.
    pub outage_cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
            outage_cap: Duration::from_secs(5),
        }
    }
}

/// What kind of failure a retry follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// OVH unreachable or failing, or our store failing: it mends by itself.
    Outage,
    /// OVH refused the request (4xx).
    Refused,
}

impl Backoff {
    /// The ceiling after `failures` consecutive failures (1 for the first).
    pub fn ceiling(&self, failures: u32, trouble: Trouble) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
        let cap = match trouble {
            Trouble::Outage => self.outage_cap.min(self.cap),
            Trouble::Refused => self.cap,
        };
        self.base.saturating_mul(factor).min(cap)
    }

    /// The delay to wait before the next try.
    pub fn delay(&self, failures: u32, trouble: Trouble, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(failures, trouble).as_millis() as u64;
        Duration::from_millis(rng.gen_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            outage_cap: Duration::from_millis(300),
        };
        let ceilings: Vec<u128> = (1..=6)
            .map(|n| b.ceiling(n, Trouble::Refused).as_millis())
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(10_000, Trouble::Refused), Duration::from_secs(1));
    }

    #[test]
    fn an_outage_is_retried_within_seconds_however_long_it_lasts() {
        // A 57 s sleep once missed OVH's return by two minutes: outages have their own cap.
        let b = Backoff::default();
        assert_eq!(b.ceiling(1, Trouble::Outage), Duration::from_millis(500));
        assert_eq!(b.ceiling(100, Trouble::Outage), Duration::from_secs(5));
        assert_eq!(b.ceiling(100, Trouble::Refused), Duration::from_secs(60));
    }

    #[test]
    fn delays_are_spread_below_the_ceiling() {
        let b = Backoff::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..200)
            .map(|_| b.delay(4, Trouble::Refused, &mut rng))
            .collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(4)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 100, "jittered, not fixed");
    }
}
