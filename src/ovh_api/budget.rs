//! The request budget shared by everything that calls OVH's REST API with one consumer key.
//!
//! OVH publishes no rate limit; its maintainers say that staying under 60 requests a minute per
//! consumer key is safe. Discovery, the agent board's polling and people's actions all draw
//! from one token bucket, kept well under that (40 a minute by default, bursts of 10), so that
//! a busy board can never starve a supervisor's click. When OVH says to slow down (429, 503,
//! `Retry-After`), the whole budget waits. Time is tokio's, so tests run it on a paused clock.

use parking_lot::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Requests a minute by default: two thirds of what OVH calls safe.
pub const PER_MINUTE: u32 = 40;
/// The most requests sent back to back after a quiet spell.
pub const BURST: u32 = 10;
/// The longest a request waits for its place in the budget before it is refused: OVH's
/// answers go to people and to the board, neither of which should hang on a spent budget.
pub const WAIT: Duration = Duration::from_secs(8);
/// The longest a refusal may make the budget wait, whatever OVH's `Retry-After` says.
pub const MAX_BACK_OFF: Duration = Duration::from_secs(300);

#[derive(Debug)]
pub struct Budget {
    per_minute: u32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    refilled: Instant,
    paused_until: Option<Instant>,
}

impl Budget {
    pub fn new(per_minute: u32) -> Budget {
        let per_minute = per_minute.max(1);
        Budget {
            per_minute,
            state: Mutex::new(State {
                tokens: f64::from(BURST.min(per_minute)),
                refilled: Instant::now(),
                paused_until: None,
            }),
        }
    }

    fn capacity(&self) -> f64 {
        f64::from(BURST.min(self.per_minute))
    }

    /// Takes a request's place now, or says how long to wait before asking again.
    fn try_take(&self, now: Instant) -> Result<(), Duration> {
        let mut s = self.state.lock();
        if let Some(until) = s.paused_until {
            if until > now {
                return Err(until - now);
            }
            s.paused_until = None;
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(s.refilled).as_secs_f64();
        s.tokens = (s.tokens + elapsed * rate).min(self.capacity());
        s.refilled = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - s.tokens) / rate))
        }
    }

    /// Waits for a request's place in the budget, at most `limit`: a person waiting on an
    /// answer is told the budget is spent rather than kept waiting. `Err`: how long until a
    /// place frees.
    pub async fn take_within(&self, limit: Duration) -> Result<(), Duration> {
        let deadline = Instant::now() + limit;
        loop {
            match self.try_take(Instant::now()) {
                Ok(()) => return Ok(()),
                Err(wait) if Instant::now() + wait > deadline => return Err(wait),
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// Makes every caller wait `wait` (capped) before their next request: OVH asked to slow
    /// down.
    pub fn back_off(&self, wait: Duration) {
        let until = Instant::now() + wait.min(MAX_BACK_OFF);
        let mut s = self.state.lock();
        if !matches!(s.paused_until, Some(u) if u >= until) {
            s.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    /// schemathesis found `GET /api/live-calls` answering after more than 10 s: it waited for
    /// a budget its own requests had spent.
    async fn a_caller_is_told_the_budget_is_spent_rather_than_kept_waiting() {
        let budget = Budget::new(6);
        for _ in 0..6 {
            budget.take_within(WAIT).await.unwrap();
        }
        // One a minute... ten seconds apart: more than the wait allowed.
        let start = Instant::now();
        let wait = budget
            .take_within(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::ZERO, "said at once");
        assert!(wait > Duration::from_secs(5), "{wait:?}");
        budget.take_within(Duration::from_secs(11)).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_steady_rate() {
        let budget = Budget::new(60);
        let start = Instant::now();
        for _ in 0..BURST {
            budget.take_within(WAIT).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..30 {
            budget.take_within(WAIT).await.unwrap();
        }
        // Thirty more at one a second.
        let took = start.elapsed().as_secs_f64();
        assert!((29.9..=30.1).contains(&took), "{took}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_back_off_holds_everyone_and_is_capped() {
        let budget = Budget::new(PER_MINUTE);
        let start = Instant::now();
        budget.back_off(Duration::from_secs(7));
        budget.take_within(MAX_BACK_OFF * 2).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(7));
        budget.back_off(Duration::from_secs(100_000));
        budget.take_within(MAX_BACK_OFF * 2).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(7) + MAX_BACK_OFF);
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_rate_over_a_minute() {
        let budget = Budget::new(PER_MINUTE);
        let start = Instant::now();
        let mut n = 0;
        while start.elapsed() < Duration::from_secs(60) {
            budget.take_within(WAIT).await.unwrap();
            n += 1;
        }
        assert!(n <= PER_MINUTE + BURST, "{n} in a minute");
    }
}
