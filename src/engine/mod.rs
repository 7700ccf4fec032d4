//! The engine: pure, synchronous live state. Events and the local clock go in; the state of
//! the lines and queues, and a list of `Change`s (finished calls, callers who left, numbers
//! whose view changed), come out. No I/O happens here, so every rule is tested directly.
//!
//! There is one `Board` per token: each token sees exactly the numbers its own events concern,
//! and has its own reset, service-level threshold and time zone. The same event delivered
//! twice to one board (a retried poll) is recognised upstream by its fingerprint and counted
//! once.
//!
//! Times: durations and the times reported come from OVH's own timestamps; expiry ("its end
//! never came") is measured on the local clock since the call was last heard of, so traces
//! replayed long after they were recorded do not expire on arrival.

mod lines;
mod queues;
mod records;

#[cfg(test)]
mod tests;

pub use lines::{ActiveCallView, LineStatus, LineView};
pub use queues::{CallerState, CallerView, QueueView};
pub use records::{
    direction, CallOutcome, CallRecord, Direction, JournalEntry, JournalOutcome, QueueLink,
};

use crate::clock::UnixTime;
use crate::normalise::{Event, EventKind};
use lines::Line;
use queues::Queue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a call or queue caller may go unheard of before its end is presumed lost.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expiry {
    /// A line call still ringing.
    pub ringing_s: f64,
    /// A caller waiting in a queue (queues may keep callers waiting far longer than a phone
    /// rings: their own time-out ends the wait, with an event).
    #[serde(default = "default_waiting_s")]
    pub waiting_s: f64,
    /// A conversation (line call answered, or queue caller with an agent).
    pub talking_s: f64,
}

fn default_waiting_s() -> f64 {
    2.0 * 3600.0
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            ringing_s: 600.0,
            waiting_s: default_waiting_s(),
            talking_s: 4.0 * 3600.0,
        }
    }
}

/// The parameters of a board that come from settings, not from events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoardParams {
    pub service_level_s: f64,
    pub expiry: Expiry,
}

impl Default for BoardParams {
    fn default() -> Self {
        BoardParams {
            service_level_s: 20.0,
            expiry: Expiry::default(),
        }
    }
}

/// Something the outside world must act on after an event or a tick.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The view of this line changed (status, calls, description…).
    Line(String),
    /// The view of this queue changed.
    Queue(String),
    /// A line call ended: a history record.
    CallFinished(CallRecord),
    /// A call recorded as finished turned out to go on (`start_calling` after `end_ringing`):
    /// its history record must be withdrawn until it really ends.
    CallReopened {
        number: String,
        call_id: String,
        started_at: UnixTime,
    },
    /// A caller left a queue: a journal entry.
    CallerLeft(JournalEntry),
}

/// The live state of one token's numbers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Board {
    lines: BTreeMap<String, Line>,
    queues: BTreeMap<String, Queue>,
    /// When the figures were last reset (None: never).
    since: Option<UnixTime>,
    #[serde(skip)]
    params: BoardParams,
}

impl Board {
    pub fn new(params: BoardParams) -> Board {
        Board {
            params,
            ..Board::default()
        }
    }

    pub fn set_params(&mut self, params: BoardParams) {
        self.params = params;
    }

    pub fn params(&self) -> BoardParams {
        self.params
    }

    pub fn since(&self) -> Option<UnixTime> {
        self.since
    }

    /// Applies one event received at local time `now`.
    pub fn apply(&mut self, event: &Event, now: UnixTime) -> Vec<Change> {
        let mut changes = Vec::new();
        if event.number.is_empty() {
            return changes;
        }
        if event.is_queue() {
            let queue = self
                .queues
                .entry(event.number.clone())
                .or_insert_with(|| Queue::new(&event.number));
            queue.apply(event, now, &mut changes);
            changes.push(Change::Queue(event.number.clone()));
            // The agent's line may have started ringing just before the offer was heard of.
            if event.kind == EventKind::AgentOffering {
                let agent = event.queue.agent.as_deref().unwrap_or_default();
                if let Some(line) = self.lines.get_mut(agent) {
                    line.link_ringing(&QueueLink {
                        queue: event.number.clone(),
                        caller: event.calling.clone(),
                    });
                }
            }
        } else {
            let link = match (&event.kind, &event.call_id) {
                (EventKind::StartRinging | EventKind::StartCalling, Some(_)) => {
                    self.queues.values().find_map(|q| {
                        q.offer_to(
                            &event.number,
                            event.calling.as_deref(),
                            event.dialed.as_deref(),
                        )
                    })
                }
                _ => None,
            };
            let line = self
                .lines
                .entry(event.number.clone())
                .or_insert_with(|| Line::new(&event.number));
            line.apply(event, now, &mut changes);
            if let (Some(link), Some(call_id)) = (link, &event.call_id) {
                line.link(call_id, link);
            }
            changes.push(Change::Line(event.number.clone()));
        }
        changes
    }

    /// Expires what has gone unheard of for too long, and forgets old bookkeeping.
    pub fn tick(&mut self, now: UnixTime) -> Vec<Change> {
        let mut changes = Vec::new();
        let expiry = self.params.expiry;
        for line in self.lines.values_mut() {
            if line.expire(now, expiry, &mut changes) {
                changes.push(Change::Line(line.number.clone()));
            }
        }
        for queue in self.queues.values_mut() {
            if queue.expire(now, expiry, &mut changes) {
                changes.push(Change::Queue(queue.number.clone()));
            }
        }
        changes
    }

    /// Clears the figures and the numbers learned. Calls in progress and callers still in a
    /// queue are live state, not statistics: they stay, with their numbers, so that their end
    /// is still recognised.
    pub fn reset(&mut self, now: UnixTime) {
        self.since = Some(now);
        self.lines.retain(|_, l| l.has_calls());
        self.queues.retain(|_, q| q.has_callers());
        for q in self.queues.values_mut() {
            q.reset_figures();
        }
    }

    pub fn lines(&self) -> Vec<LineView> {
        self.lines.values().map(Line::view).collect()
    }

    pub fn line(&self, number: &str) -> Option<LineView> {
        self.lines.get(number).map(Line::view)
    }

    /// Calls in progress, oldest first.
    pub fn calls(&self) -> Vec<ActiveCallView> {
        let mut calls: Vec<ActiveCallView> =
            self.lines.values().flat_map(Line::call_views).collect();
        calls.sort_by(|a, b| {
            a.started_at
                .total_cmp(&b.started_at)
                .then_with(|| a.number.cmp(&b.number))
        });
        calls
    }

    /// The queue the call `call_id` in progress on `line` came through (a queue's ring on an
    /// agent's line), if any: the screen pop, for one, treats such a ring as the queue's call.
    ///
    /// A ring heard of before the queue's `agent-offering` is not linked yet; one whose
    /// `calling` or `dialed` is a queue of this board's is taken as that queue's all the same
    /// (its caller is then unknown).
    pub fn queue_link(&self, line: &str, call_id: &str) -> Option<QueueLink> {
        let (via, calling, dialed) = self.lines.get(line)?.call_link(call_id)?;
        if let Some(via) = via {
            return Some(via.clone());
        }
        self.queues
            .keys()
            .find(|q| Some(q.as_str()) == calling || Some(q.as_str()) == dialed)
            .map(|q| QueueLink {
                queue: q.clone(),
                caller: None,
            })
    }

    pub fn queues(&self) -> Vec<QueueView> {
        self.queues
            .values()
            .map(|q| q.view(self.params.service_level_s))
            .collect()
    }

    pub fn queue(&self, number: &str) -> Option<QueueView> {
        self.queues
            .get(number)
            .map(|q| q.view(self.params.service_level_s))
    }
}
