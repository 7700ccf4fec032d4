//! The simulator's two clocks, in one place so that tests can move them.
//!
//! - The *API clock* is OVH's: what `GET /1.0/auth/time` answers, what signed requests'
//!   timestamps are checked against, what rate limits and expirations count on. It is the wall
//!   clock plus whatever a test skipped ([`Faults::advance_clock`](super::Faults::advance_clock)).
//! - The *traffic clock* is the generator's: the `Timestamp` of the event due now. It starts
//!   with the API clock when the server starts, and stands still while the traffic is paused
//!   (the schedule resumes where it stopped), so it runs behind the API clock by the time spent
//!   paused. Calls the REST API places are planned on it.
//!
//! Skipping ahead moves both: the events due in the time skipped are emitted at once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The clocks' state; kept in the hub behind its own lock (a leaf: nothing else is locked
/// while it is held).
#[derive(Debug, Default)]
pub(crate) struct Pace {
    /// When the traffic started: the instant and the traffic time then (ns since 1970).
    started: Option<(Instant, i64)>,
    paused_since: Option<Instant>,
    paused_total: Duration,
    skipped: Duration,
}

pub(crate) fn wall_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Pace {
    /// The traffic starts now, at traffic time `start_ns`.
    pub(crate) fn start(&mut self, start_ns: i64) {
        let now = Instant::now();
        self.started = Some((now, start_ns));
        // Paused before it started: the pause counts from the start.
        if self.paused_since.is_some() {
            self.paused_since = Some(now);
        }
    }

    /// The API clock, ns since 1970.
    pub(crate) fn api_ns(&self) -> i64 {
        wall_ns().saturating_add(ns(self.skipped))
    }

    /// The traffic clock, ns since 1970 (the API clock before the traffic starts).
    pub(crate) fn traffic_ns(&self) -> i64 {
        let Some((start, start_ns)) = self.started else {
            return self.api_ns();
        };
        let now = Instant::now();
        let paused_now = self.paused_since.map_or(Duration::ZERO, |p| now - p);
        let ran = (now - start).saturating_sub(self.paused_total + paused_now);
        start_ns
            .saturating_add(ns(ran))
            .saturating_add(ns(self.skipped))
    }

    /// When an event of traffic time `at_ns` is due, on the runtime's clock.
    pub(crate) fn due(&self, at_ns: i64) -> Instant {
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let Some((start, start_ns)) = self.started else {
            return far;
        };
        let offset = Duration::from_nanos(at_ns.saturating_sub(start_ns).max(0) as u64);
        let due = start
            .checked_add(self.paused_total)
            .and_then(|t| t.checked_add(offset))
            .unwrap_or(far);
        due.checked_sub(self.skipped).unwrap_or(start)
    }

    pub(crate) fn pause(&mut self) {
        if self.paused_since.is_none() {
            self.paused_since = Some(Instant::now());
        }
    }

    pub(crate) fn resume(&mut self) {
        if let Some(since) = self.paused_since.take() {
            if self.started.is_some() {
                self.paused_total += Instant::now().saturating_duration_since(since);
            }
        }
    }

    /// Moves both clocks `by` ahead.
    pub(crate) fn skip(&mut self, by: Duration) {
        self.skipped = self.skipped.saturating_add(by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_moves_both_clocks_and_a_pause_only_the_traffic() {
        let mut pace = Pace::default();
        pace.start(wall_ns());
        pace.skip(Duration::from_secs(120));
        let lead = pace.api_ns() - wall_ns();
        assert!(
            (119_000_000_000..=121_000_000_000).contains(&lead),
            "{lead}"
        );
        let traffic = pace.traffic_ns() - wall_ns();
        assert!((119_000_000_000..=121_000_000_000).contains(&traffic));
        // An event 120 s after the start is due now.
        let (_, start_ns) = pace.started.unwrap();
        assert!(pace.due(start_ns + 120_000_000_000) <= Instant::now());
        pace.pause();
        let frozen = pace.traffic_ns();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(pace.traffic_ns(), frozen, "the traffic clock stands still");
        assert!(pace.api_ns() - wall_ns() >= 119_000_000_000);
        pace.resume();
        assert!(pace.traffic_ns() < pace.api_ns() - 10_000_000);
    }
}
