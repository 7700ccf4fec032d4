//! The cross-check (issue 11): OVH's own counters of each queue (`liveStatistics`) beside
//! ours over the same period — since OVH's last reset — so that events lost on the way (a
//! feed that skipped some, a session OVH dropped) show as a difference. Ours are the queue
//! journal's callers who joined since that reset plus those in the queue now. A difference
//! beyond [`TOLERANCE`] is `differ` when we followed the feed over the whole period, and only
//! `incomplete` when our first stored event is later than OVH's reset (the service was not
//! running then: a gap, not a loss). Pure; the supervisor reads the figures and keeps the
//! verdicts, `/api/health` shows them.

use serde::Serialize;

use crate::clock::UnixTime;

/// OVH's count and ours may differ by this much: callers between two events, a reading taken
/// while a caller joins.
pub const TOLERANCE: u64 = 2;

/// Our stored events start this long after OVH's reset and still count as the whole period:
/// a first event comes only with the first call.
const START_SLACK_S: f64 = 600.0;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Callers who entered the queue.
    pub total: u64,
    /// Of them, answered by an agent.
    pub answered: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within the tolerance.
    Agree,
    /// Beyond it over a period we followed whole: events were lost.
    Differ,
    /// Beyond it, but we were not following the feed for all of OVH's period.
    Incomplete,
    /// OVH gave no reset time: nothing to compare over.
    Unknown,
}

/// One queue's cross-check, as `/api/health` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueCheck {
    pub queue: String,
    /// OVH's last reset: both counts run from there.
    #[serde(serialize_with = "crate::clock::as_rfc3339::option::serialize")]
    pub since: Option<UnixTime>,
    pub ovh: Counts,
    pub ours: Counts,
    pub verdict: Verdict,
}

/// The verdict on OVH's counts against ours since `reset`, when our stored events start at
/// `followed_from`.
pub fn verdict(
    ovh: Counts,
    ours: Counts,
    reset: Option<UnixTime>,
    followed_from: Option<UnixTime>,
) -> Verdict {
    let Some(reset) = reset else {
        return Verdict::Unknown;
    };
    let close = ovh.total.abs_diff(ours.total) <= TOLERANCE
        && ovh.answered.abs_diff(ours.answered) <= TOLERANCE;
    if close {
        Verdict::Agree
    } else if followed_from.map_or(true, |f| f > reset + START_SLACK_S) {
        Verdict::Incomplete
    } else {
        Verdict::Differ
    }
}

/// The cross-check of a token's queues as the API gives it: the worst verdict (`state`), the
/// tolerance and each queue's check.
pub fn summary<'a>(queues: impl IntoIterator<Item = &'a QueueCheck>) -> serde_json::Value {
    let queues: Vec<&QueueCheck> = queues.into_iter().collect();
    let state = [Verdict::Differ, Verdict::Incomplete, Verdict::Agree]
        .into_iter()
        .find(|v| queues.iter().any(|q| q.verdict == *v))
        .unwrap_or(Verdict::Unknown);
    serde_json::json!({"state": state, "tolerance": TOLERANCE, "queues": queues})
}

/// OVH's counters as counts (negative numbers from a confused OVH read as 0).
pub fn ovh_counts(s: &crate::ovh_api::models::QueueLiveStatistics) -> Counts {
    Counts {
        total: s.calls_total.max(0) as u64,
        answered: s.calls_answered.max(0) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESET: UnixTime = 1_764_800_000.0;

    fn c(total: u64, answered: u64) -> Counts {
        Counts { total, answered }
    }

    #[test]
    fn counts_within_the_tolerance_agree() {
        let v = verdict(c(40, 30), c(38, 32), Some(RESET), Some(RESET - 86_400.0));
        assert_eq!(v, Verdict::Agree);
    }

    #[test]
    fn a_difference_over_a_period_followed_whole_is_a_loss() {
        let v = verdict(c(40, 30), c(36, 30), Some(RESET), Some(RESET - 86_400.0));
        assert_eq!(v, Verdict::Differ);
        // Answered counts alone differing is a loss too.
        let v = verdict(c(40, 30), c(40, 26), Some(RESET), Some(RESET + 60.0));
        assert_eq!(v, Verdict::Differ);
    }

    #[test]
    fn a_difference_when_we_started_after_ovh_s_reset_is_only_incomplete() {
        let v = verdict(c(40, 30), c(10, 8), Some(RESET), Some(RESET + 3_600.0));
        assert_eq!(v, Verdict::Incomplete);
        let v = verdict(c(40, 30), c(0, 0), Some(RESET), None);
        assert_eq!(v, Verdict::Incomplete);
    }

    #[test]
    fn without_ovh_s_reset_time_nothing_is_said() {
        assert_eq!(
            verdict(c(40, 30), c(0, 0), None, Some(0.0)),
            Verdict::Unknown
        );
    }
}
