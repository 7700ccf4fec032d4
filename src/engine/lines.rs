//! Lines (sip, mgcp…): their status, the calls in progress on each (several at once), and the
//! history record each call becomes when it ends.
//!
//! OVH sends `end_ringing` and `start_calling` in either order, and a missed call ends with
//! `end_ringing` alone. So a call that stops ringing unanswered is recorded at once (missed or
//! unanswered), and if `start_calling` then arrives for it, it is reopened and its record
//! withdrawn. The few calls that ended recently are remembered for that, and so that a late
//! duplicate does not start a phantom call.

use super::records::{direction, CallOutcome, CallRecord, Direction, QueueLink};
use super::{Change, Expiry};
use crate::clock::{as_rfc3339, round_ms, UnixTime};
use crate::normalise::{Event, EventKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// How many ended calls a line remembers, to reopen them or to recognise late duplicates.
const REMEMBERED_ENDED: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Free,
    Ringing,
    InCall,
    /// A call's end never came: the line's real state is not known until it is heard of again.
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    Ringing,
    InCall,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct ActiveCall {
    call_id: String,
    direction: Direction,
    calling: Option<String>,
    called: Option<String>,
    dialed: Option<String>,
    state: CallState,
    started_at: UnixTime,
    answered_at: Option<UnixTime>,
    ring_ended_at: Option<UnixTime>,
    /// OVH time of the last event about this call.
    last_at: UnixTime,
    /// Local time it was last heard of, for expiry.
    last_seen: UnixTime,
    /// The queue whose offer this ring is (an agent's line rung by a queue).
    #[serde(default)]
    via: Option<QueueLink>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct EndedCall {
    call: ActiveCall,
    answered: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Line {
    pub(super) number: String,
    description: Option<String>,
    kind: Option<String>,
    service: String,
    simultaneous_lines: Option<u32>,
    last_registered_at: Option<UnixTime>,
    calls: BTreeMap<String, ActiveCall>,
    ended: VecDeque<EndedCall>,
    unknown: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineView {
    pub number: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub service: String,
    pub status: LineStatus,
    pub active_calls: usize,
    pub simultaneous_lines: Option<u32>,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub last_registered_at: Option<UnixTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActiveCallView {
    pub number: String,
    pub call_id: String,
    pub direction: Direction,
    pub calling: Option<String>,
    pub called: Option<String>,
    pub dialed: Option<String>,
    pub state: CallState,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub started_at: UnixTime,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub answered_at: Option<UnixTime>,
}

impl Line {
    pub(super) fn new(number: &str) -> Line {
        Line {
            number: number.to_string(),
            description: None,
            kind: None,
            service: String::new(),
            simultaneous_lines: None,
            last_registered_at: None,
            calls: BTreeMap::new(),
            ended: VecDeque::new(),
            unknown: false,
        }
    }

    pub(super) fn has_calls(&self) -> bool {
        !self.calls.is_empty()
    }

    pub(super) fn apply(&mut self, e: &Event, now: UnixTime, changes: &mut Vec<Change>) {
        self.unknown = false;
        if let Some(d) = &e.details.description {
            self.description = Some(d.clone());
        }
        if let Some(k) = &e.details.kind {
            self.kind = Some(k.clone());
        }
        if e.details.simultaneous_lines.is_some() {
            self.simultaneous_lines = e.details.simultaneous_lines;
        }
        if !e.service.is_empty() {
            self.service = e.service.clone();
        }
        let Some(call_id) = e.call_id.clone() else {
            if e.kind == EventKind::Registered {
                self.last_registered_at = Some(e.at);
            }
            return;
        };
        // A call first seen without its numbers learns its direction from a later event.
        let dir = direction(&self.number, e);
        if let Some(call) = self
            .calls
            .get_mut(&call_id)
            .filter(|c| c.direction == Direction::Unknown)
        {
            call.direction = dir;
        }
        match e.kind {
            EventKind::Registered => self.last_registered_at = Some(e.at),
            EventKind::StartRinging => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.touch(e, now);
                } else if !self.recently_ended(&call_id) {
                    let call = self.start(call_id.clone(), e, now, CallState::Ringing);
                    self.calls.insert(call_id, call);
                }
            }
            EventKind::StartCalling => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.answer(e, now);
                } else if let Some(mut call) = self.reopen(&call_id, changes) {
                    call.answer(e, now);
                    self.calls.insert(call_id, call);
                } else if !self.recently_ended(&call_id) {
                    // Its ringing was never seen: the call starts here.
                    let mut call = self.start(call_id.clone(), e, now, CallState::InCall);
                    call.answer(e, now);
                    self.calls.insert(call_id, call);
                }
            }
            EventKind::EndRinging => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.touch(e, now);
                    call.ring_ended_at.get_or_insert(e.at);
                    if call.answered_at.is_none() {
                        self.finish(&call_id, e.at, changes);
                    }
                }
            }
            EventKind::EndCalling => {
                if let Some(call) = self.calls.get_mut(&call_id) {
                    call.touch(e, now);
                    self.finish(&call_id, e.at, changes);
                }
            }
            _ => {}
        }
    }

    fn start(&self, call_id: String, e: &Event, now: UnixTime, state: CallState) -> ActiveCall {
        ActiveCall {
            call_id,
            direction: direction(&self.number, e),
            calling: e.calling.clone(),
            called: e.called.clone(),
            dialed: e.dialed.clone(),
            state,
            started_at: e.at,
            answered_at: None,
            ring_ended_at: None,
            last_at: e.at,
            last_seen: now,
            via: None,
        }
    }

    /// Marks the call `call_id` as a queue's offer, if it is in progress and not yet linked.
    pub(super) fn link(&mut self, call_id: &str, link: QueueLink) {
        if let Some(call) = self.calls.get_mut(call_id) {
            call.via.get_or_insert(link);
        }
    }

    /// A call in progress on this line: the queue it came through, if known, and its
    /// `calling` and `dialed` numbers.
    pub(super) fn call_link(
        &self,
        call_id: &str,
    ) -> Option<(Option<&QueueLink>, Option<&str>, Option<&str>)> {
        let c = self.calls.get(call_id)?;
        Some((c.via.as_ref(), c.calling.as_deref(), c.dialed.as_deref()))
    }

    /// A queue offered a caller to this line (`agent-offering`) after the line started
    /// ringing for it: the unanswered, unlinked calls that ring is, linked now.
    pub(super) fn link_ringing(&mut self, link: &QueueLink) {
        for call in self.calls.values_mut() {
            if call.via.is_none()
                && call.answered_at.is_none()
                && link.matches(call.calling.as_deref(), call.dialed.as_deref())
            {
                call.via = Some(link.clone());
            }
        }
    }

    fn recently_ended(&self, call_id: &str) -> bool {
        self.ended.iter().any(|c| c.call.call_id == call_id)
    }

    /// Takes back a call that was recorded as ended without an answer.
    fn reopen(&mut self, call_id: &str, changes: &mut Vec<Change>) -> Option<ActiveCall> {
        let i = self
            .ended
            .iter()
            .position(|c| c.call.call_id == call_id && !c.answered)?;
        let ended = self.ended.remove(i)?;
        changes.push(Change::CallReopened {
            number: self.number.clone(),
            call_id: call_id.to_string(),
            started_at: ended.call.started_at,
        });
        Some(ended.call)
    }

    fn finish(&mut self, call_id: &str, ended_at: UnixTime, changes: &mut Vec<Change>) {
        let Some(call) = self.calls.remove(call_id) else {
            return;
        };
        let outcome = match (call.answered_at, call.direction) {
            (Some(_), _) => CallOutcome::Answered,
            // A queue's ring that this agent did not take is not a missed call.
            (None, _) if call.via.is_some() => CallOutcome::QueueOffer,
            (None, Direction::Outgoing) => CallOutcome::Unanswered,
            (None, _) => CallOutcome::Missed,
        };
        changes.push(Change::CallFinished(self.record(&call, ended_at, outcome)));
        self.remember(EndedCall {
            answered: call.answered_at.is_some(),
            call,
        });
    }

    fn remember(&mut self, ended: EndedCall) {
        if self.ended.len() == REMEMBERED_ENDED {
            self.ended.pop_front();
        }
        self.ended.push_back(ended);
    }

    fn record(&self, call: &ActiveCall, ended_at: UnixTime, outcome: CallOutcome) -> CallRecord {
        // Events can arrive out of order: keep started ≤ answered ≤ ended so no duration is
        // ever negative.
        let answered_at = call.answered();
        let ended_at = ended_at.max(answered_at.unwrap_or(call.started_at));
        let ring_end = answered_at
            .or(call.ring_ended_at)
            .unwrap_or(ended_at)
            .clamp(call.started_at, ended_at);
        CallRecord {
            number: self.number.clone(),
            call_id: call.call_id.clone(),
            direction: call.direction,
            calling: call.calling.clone(),
            called: call.called.clone(),
            dialed: call.dialed.clone(),
            started_at: call.started_at,
            answered_at,
            ended_at,
            ring_s: round_ms(ring_end - call.started_at),
            talk_s: answered_at.map_or(0.0, |a| round_ms(ended_at - a)),
            outcome,
            queue: call.via.as_ref().map(|v| v.queue.clone()),
            queue_caller: call.via.as_ref().and_then(|v| v.caller.clone()),
        }
    }

    /// Ends, with outcome `unknown`, the calls not heard of for longer than allowed.
    pub(super) fn expire(
        &mut self,
        now: UnixTime,
        expiry: Expiry,
        changes: &mut Vec<Change>,
    ) -> bool {
        let stale: Vec<String> = self
            .calls
            .values()
            .filter(|c| {
                let limit = match c.state {
                    CallState::Ringing => expiry.ringing_s,
                    CallState::InCall => expiry.talking_s,
                };
                now - c.last_seen > limit
            })
            .map(|c| c.call_id.clone())
            .collect();
        for call_id in &stale {
            let call = self.calls.remove(call_id).expect("listed above");
            changes.push(Change::CallFinished(self.record(
                &call,
                call.last_at,
                CallOutcome::Unknown,
            )));
            // An expired call is not reopened: a late event about it is ignored.
            self.remember(EndedCall {
                answered: true,
                call,
            });
        }
        if !stale.is_empty() && self.calls.is_empty() {
            self.unknown = true;
        }
        !stale.is_empty()
    }

    fn status(&self) -> LineStatus {
        if self.calls.values().any(|c| c.state == CallState::InCall) {
            LineStatus::InCall
        } else if !self.calls.is_empty() {
            LineStatus::Ringing
        } else if self.unknown {
            LineStatus::Unknown
        } else {
            LineStatus::Free
        }
    }

    pub(super) fn view(&self) -> LineView {
        LineView {
            number: self.number.clone(),
            description: self.description.clone(),
            kind: self.kind.clone(),
            service: self.service.clone(),
            status: self.status(),
            active_calls: self.calls.len(),
            simultaneous_lines: self.simultaneous_lines,
            last_registered_at: self.last_registered_at,
        }
    }

    pub(super) fn call_views(&self) -> impl Iterator<Item = ActiveCallView> + '_ {
        self.calls.values().map(|c| ActiveCallView {
            number: self.number.clone(),
            call_id: c.call_id.clone(),
            direction: c.direction,
            calling: c.calling.clone(),
            called: c.called.clone(),
            dialed: c.dialed.clone(),
            state: c.state,
            started_at: c.started_at,
            answered_at: c.answered(),
        })
    }
}

impl ActiveCall {
    /// The moment of the answer: the earlier of `start_calling` and the `end_ringing` that
    /// goes with it (OVH sends them a few milliseconds apart, in either order), never before
    /// the call started.
    fn answered(&self) -> Option<UnixTime> {
        let a = self.answered_at?;
        Some(
            self.ring_ended_at
                .map_or(a, |r| r.min(a))
                .max(self.started_at),
        )
    }

    fn touch(&mut self, e: &Event, now: UnixTime) {
        self.last_at = self.last_at.max(e.at);
        self.last_seen = now;
        // Fill in numbers an earlier event left out.
        self.calling = self.calling.take().or_else(|| e.calling.clone());
        self.called = self.called.take().or_else(|| e.called.clone());
        self.dialed = self.dialed.take().or_else(|| e.dialed.clone());
    }

    fn answer(&mut self, e: &Event, now: UnixTime) {
        self.touch(e, now);
        self.state = CallState::InCall;
        self.answered_at.get_or_insert(e.at);
    }
}
