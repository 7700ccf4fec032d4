//! What the engine hands over for keeping: finished line calls (history) and callers who left
//! a queue (the queue journal), in the shapes the API serves.

use crate::clock::{as_rfc3339, UnixTime};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
    Unknown,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Incoming => "incoming",
            Direction::Outgoing => "outgoing",
            Direction::Unknown => "unknown",
        }
    }
}

/// A line event's direction: the line is the caller when it is `Calling` (outgoing), the
/// callee when it is `Called` or `Dialed` (incoming); otherwise it cannot be told.
pub fn direction(line: &str, e: &crate::normalise::Event) -> Direction {
    if e.calling.as_deref() == Some(line) {
        Direction::Outgoing
    } else if e.called.as_deref() == Some(line) || e.dialed.as_deref() == Some(line) {
        Direction::Incoming
    } else {
        Direction::Unknown
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallOutcome {
    /// Someone answered.
    Answered,
    /// Incoming, never answered.
    Missed,
    /// Outgoing, never answered.
    Unanswered,
    /// Its end never came: expired.
    Unknown,
    /// A queue's ring on an agent's line that this line did not take (another agent did, or
    /// the caller left): not a missed call — the caller's fate is the queue's journal's.
    #[serde(rename = "queue_offer")]
    QueueOffer,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Missed => "missed",
            CallOutcome::Unanswered => "unanswered",
            CallOutcome::Unknown => "unknown",
            CallOutcome::QueueOffer => "queue_offer",
        }
    }

    pub fn parse(s: &str) -> Option<CallOutcome> {
        Some(match s {
            "answered" => CallOutcome::Answered,
            "missed" => CallOutcome::Missed,
            "unanswered" => CallOutcome::Unanswered,
            "unknown" => CallOutcome::Unknown,
            "queue_offer" => CallOutcome::QueueOffer,
            _ => return None,
        })
    }
}

/// The queue a line call came through: an agent's line rung by a queue for one of its
/// callers. OVH shows such a ring on the agent's line with the queue's number or the caller's
/// as `Calling`, and the queue's as `Dialed`, while the queue's `agent-offering` to that agent
/// is open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueueLink {
    /// The queue's number.
    pub queue: String,
    /// The caller waiting in the queue, whom this ring was for.
    pub caller: Option<String>,
}

impl QueueLink {
    /// Whether a line call with these numbers is this queue's ring for this caller.
    pub fn matches(&self, calling: Option<&str>, dialed: Option<&str>) -> bool {
        calling == Some(self.queue.as_str())
            || dialed == Some(self.queue.as_str())
            || (calling.is_some() && calling == self.caller.as_deref())
    }
}

/// A finished line call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub number: String,
    pub call_id: String,
    pub direction: Direction,
    pub calling: Option<String>,
    pub called: Option<String>,
    pub dialed: Option<String>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub started_at: UnixTime,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub answered_at: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub ended_at: UnixTime,
    pub ring_s: f64,
    pub talk_s: f64,
    pub outcome: CallOutcome,
    /// The queue it came through (an agent's line rung by a queue), if any.
    #[serde(default)]
    pub queue: Option<String>,
    /// For a call through a queue: the real caller (OVH's `Calling` may be the queue's number).
    #[serde(default)]
    pub queue_caller: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalOutcome {
    /// An agent answered.
    Answered,
    /// Left without an agent answering.
    Abandoned,
    /// Its end never came: expired while waiting.
    Unknown,
}

impl JournalOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalOutcome::Answered => "answered",
            JournalOutcome::Abandoned => "abandoned",
            JournalOutcome::Unknown => "unknown",
        }
    }
}

/// A caller's passage through a queue, once it is over.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub queue: String,
    /// OVH's `QueueMemberUUID`.
    pub member: String,
    pub caller: Option<String>,
    pub agent: Option<String>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub joined_at: UnixTime,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub answered_at: Option<UnixTime>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub left_at: UnixTime,
    pub wait_s: f64,
    pub talk_s: f64,
    pub outcome: JournalOutcome,
    /// Why the caller left: `terminated` (after a conversation), `hangup`, `timeout`,
    /// `no_agent`, `exit_with_key`, `expired`, or OVH's own word when it is new.
    pub reason: String,
}
