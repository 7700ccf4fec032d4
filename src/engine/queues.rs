//! Call queues (easyHunting / cloudHunting): the callers waiting, being offered to agents or
//! talking to one, and the figures since the last reset.
//!
//! The definitions are those of `tests/fixtures/README.md`: a caller is *answered* when an agent
//! answered (`bridge-agent-start`) and *abandoned* when it left without that. A failed offer
//! (`bridge-agent-fail`: the losers of a ring-all, an agent who did not pick up) is not a lost
//! call — it only sends the caller back to waiting if no other offer is pending.

use super::records::{JournalEntry, JournalOutcome, QueueLink};
use super::{Change, Expiry};
use crate::clock::{as_rfc3339, round_ms, UnixTime};
use crate::normalise::{Event, EventKind};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How many departed callers a queue remembers, so that a late or repeated event about them
/// does not bring them back.
const REMEMBERED_LEFT: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallerState {
    Waiting,
    Offered,
    InCall,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Caller {
    member: String,
    caller: Option<String>,
    state: CallerState,
    agent: Option<String>,
    offers: BTreeSet<String>,
    joined_at: UnixTime,
    answered_at: Option<UnixTime>,
    talk_ended_at: Option<UnixTime>,
    talk_counted: bool,
    last_at: UnixTime,
    last_seen: UnixTime,
}

/// The figures since the last reset. Waits of answered callers are kept one by one so that
/// the service level can be computed for whatever threshold the settings hold now.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Figures {
    entered: u64,
    answered: u64,
    abandoned: u64,
    expired: u64,
    wait_sum: f64,
    max_wait: Option<f64>,
    talk_sum: f64,
    talks: u64,
    /// How many answered callers waited each duration (in milliseconds): bounded by the
    /// number of distinct waits, not by the number of callers.
    answered_waits: BTreeMap<u64, u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct Queue {
    pub(super) number: String,
    description: Option<String>,
    kind: Option<String>,
    callers: BTreeMap<String, Caller>,
    left: VecDeque<String>,
    figures: Figures,
    /// The waiting count OVH last reported (`Count`), for comparison.
    reported_waiting: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallerView {
    pub member: String,
    pub caller: Option<String>,
    pub state: CallerState,
    pub agent: Option<String>,
    #[serde(serialize_with = "as_rfc3339::serialize")]
    pub joined_at: UnixTime,
    #[serde(serialize_with = "as_rfc3339::option::serialize")]
    pub answered_at: Option<UnixTime>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueView {
    pub number: String,
    pub description: Option<String>,
    /// `easy` (easyHunting) or `expert` (cloudHunting).
    pub kind: Option<&'static str>,
    #[serde(rename = "type")]
    pub ovh_type: Option<String>,
    pub waiting: usize,
    pub in_call: usize,
    pub entered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Callers whose end never came (expired): neither answered nor abandoned.
    pub expired: u64,
    pub answered_pct: Option<f64>,
    pub avg_wait_s: Option<f64>,
    pub max_wait_s: Option<f64>,
    pub avg_talk_s: Option<f64>,
    pub service_level_pct: Option<f64>,
    pub service_level_s: f64,
    pub reported_waiting: Option<u32>,
    pub callers: Vec<CallerView>,
}

fn reason(e: &Event) -> String {
    match (e.queue.cause.as_deref(), e.queue.cancel_reason.as_deref()) {
        (Some("Terminated"), _) => "terminated".into(),
        (_, Some("TIMEOUT")) => "timeout".into(),
        (_, Some("NO_AGENT_TIMEOUT")) => "no_agent".into(),
        (_, Some("EXIT_WITH_KEY")) => "exit_with_key".into(),
        (_, Some("BREAK_OUT" | "NONE")) | (Some("Cancel"), None) => "hangup".into(),
        (_, Some(other)) => other.to_ascii_lowercase(),
        (Some(other), None) => other.to_ascii_lowercase(),
        (None, None) => "hangup".into(),
    }
}

fn ratio_pct(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| round_ms(n as f64 * 100.0 / d as f64))
}

impl Figures {
    fn note_wait(&mut self, wait: f64) {
        self.max_wait = Some(self.max_wait.map_or(wait, |m| m.max(wait)));
    }
}

impl Caller {
    /// The first answer counts; a repeated `bridge-agent-start` changes nothing.
    fn answer(&mut self, at: UnixTime, figures: &mut Figures) {
        if self.answered_at.is_some() {
            return;
        }
        let answered = at.max(self.joined_at);
        self.answered_at = Some(answered);
        let wait = answered - self.joined_at;
        figures.answered += 1;
        figures.wait_sum += wait;
        *figures
            .answered_waits
            .entry((wait * 1000.0).round() as u64)
            .or_insert(0) += 1;
        figures.note_wait(wait);
    }
}

impl Queue {
    /// The link of a line call on `agent`'s line with these numbers, when it is this queue's
    /// ring for a caller being offered to that agent.
    pub(super) fn offer_to(
        &self,
        agent: &str,
        calling: Option<&str>,
        dialed: Option<&str>,
    ) -> Option<QueueLink> {
        self.callers
            .values()
            .filter(|c| c.offers.contains(agent))
            .map(|c| QueueLink {
                queue: self.number.clone(),
                caller: c.caller.clone(),
            })
            .find(|link| link.matches(calling, dialed))
    }

    pub(super) fn new(number: &str) -> Queue {
        Queue {
            number: number.to_string(),
            description: None,
            kind: None,
            callers: BTreeMap::new(),
            left: VecDeque::new(),
            figures: Figures::default(),
            reported_waiting: None,
        }
    }

    pub(super) fn has_callers(&self) -> bool {
        !self.callers.is_empty()
    }

    /// Starts a new period. Callers still in the queue are carried into it as having entered
    /// it, so that answered + abandoned never exceeds entered.
    pub(super) fn reset_figures(&mut self) {
        self.figures = Figures {
            entered: self.callers.len() as u64,
            ..Figures::default()
        };
    }

    pub(super) fn apply(&mut self, e: &Event, now: UnixTime, changes: &mut Vec<Change>) {
        if let Some(d) = &e.details.description {
            self.description = Some(d.clone());
        }
        if let Some(k) = &e.details.kind {
            self.kind = Some(k.clone());
        }
        if e.kind == EventKind::MembersCount {
            self.reported_waiting = e.queue.count;
            return;
        }
        let Some(member) = e.queue.member.clone() else {
            return;
        };
        if !e.kind.is_queue_event() || self.left.contains(&member) {
            return;
        }
        let figures = &mut self.figures;
        let caller = self.callers.entry(member.clone()).or_insert_with(|| {
            // Also when its member-queue-start was missed: whoever shows up has entered.
            figures.entered += 1;
            Caller {
                member: member.clone(),
                caller: e.calling.clone(),
                state: CallerState::Waiting,
                agent: None,
                offers: BTreeSet::new(),
                joined_at: e.queue.joined_at.unwrap_or(e.at),
                answered_at: None,
                talk_ended_at: None,
                talk_counted: false,
                last_at: e.at,
                last_seen: now,
            }
        });
        caller.last_at = caller.last_at.max(e.at);
        caller.last_seen = now;
        if caller.caller.is_none() {
            caller.caller = e.calling.clone();
        }
        match e.kind {
            EventKind::AgentOffering => {
                if let Some(agent) = &e.queue.agent {
                    caller.offers.insert(agent.clone());
                    if caller.state != CallerState::InCall {
                        caller.state = CallerState::Offered;
                        caller.agent = Some(agent.clone());
                    }
                }
            }
            EventKind::BridgeAgentFail => {
                if let Some(agent) = &e.queue.agent {
                    caller.offers.remove(agent);
                }
                if caller.state == CallerState::Offered {
                    caller.agent = caller.offers.iter().next().cloned();
                    if caller.agent.is_none() {
                        caller.state = CallerState::Waiting;
                    }
                }
            }
            EventKind::BridgeAgentStart => {
                caller.answer(e.queue.answered_at.unwrap_or(e.at), figures);
                caller.state = CallerState::InCall;
                caller.offers.clear();
                if e.queue.agent.is_some() {
                    caller.agent = e.queue.agent.clone();
                }
            }
            EventKind::BridgeAgentEnd => {
                if let Some(answered) = caller.answered_at {
                    let end = e.queue.bridge_ended_at.unwrap_or(e.at).max(answered);
                    caller.talk_ended_at = Some(end);
                    if !caller.talk_counted {
                        caller.talk_counted = true;
                        figures.talk_sum += end - answered;
                        figures.talks += 1;
                    }
                }
            }
            EventKind::MemberQueueEnd => {
                // A `Terminated` end that carries the answer time means the bridge-agent-start
                // was lost on the way: the caller was answered all the same.
                if let Some(answered) = e.queue.answered_at {
                    caller.answer(answered, figures);
                }
                let left_at = e.queue.left_at.unwrap_or(e.at);
                let reason = reason(e);
                self.leave(&member, left_at, reason, false, changes);
            }
            _ => {}
        }
    }

    /// Takes the caller out of the queue and writes its journal entry.
    fn leave(
        &mut self,
        member: &str,
        left_at: UnixTime,
        reason: String,
        expired: bool,
        changes: &mut Vec<Change>,
    ) {
        let Some(c) = self.callers.remove(member) else {
            return;
        };
        let f = &mut self.figures;
        let left_at = left_at.max(c.joined_at);
        let (outcome, wait, talk) = match c.answered_at {
            Some(answered) => {
                let end = c.talk_ended_at.unwrap_or(left_at.max(answered));
                if !c.talk_counted {
                    f.talk_sum += end - answered;
                    f.talks += 1;
                }
                (
                    JournalOutcome::Answered,
                    answered - c.joined_at,
                    end - answered,
                )
            }
            None if expired => {
                f.expired += 1;
                (JournalOutcome::Unknown, left_at - c.joined_at, 0.0)
            }
            None => {
                let wait = left_at - c.joined_at;
                f.abandoned += 1;
                f.note_wait(wait);
                (JournalOutcome::Abandoned, wait, 0.0)
            }
        };
        changes.push(Change::CallerLeft(JournalEntry {
            queue: self.number.clone(),
            member: c.member,
            caller: c.caller,
            agent: c.answered_at.and(c.agent),
            joined_at: c.joined_at,
            answered_at: c.answered_at,
            left_at,
            wait_s: round_ms(wait),
            talk_s: round_ms(talk),
            outcome,
            reason,
        }));
        if self.left.len() == REMEMBERED_LEFT {
            self.left.pop_front();
        }
        self.left.push_back(member.to_string());
    }

    pub(super) fn expire(
        &mut self,
        now: UnixTime,
        expiry: Expiry,
        changes: &mut Vec<Change>,
    ) -> bool {
        let stale: Vec<(String, UnixTime)> = self
            .callers
            .values()
            .filter(|c| {
                let limit = if c.state == CallerState::InCall {
                    expiry.talking_s
                } else {
                    expiry.waiting_s
                };
                now - c.last_seen > limit
            })
            .map(|c| (c.member.clone(), c.last_at))
            .collect();
        for (member, last_at) in &stale {
            self.leave(member, *last_at, "expired".into(), true, changes);
        }
        !stale.is_empty()
    }

    pub(super) fn view(&self, service_level_s: f64) -> QueueView {
        let f = &self.figures;
        let finished = f.answered + f.abandoned;
        let threshold_ms = (service_level_s * 1000.0).round() as u64;
        let within: u64 = f
            .answered_waits
            .range(..=threshold_ms)
            .map(|(_, n)| n)
            .sum();
        let mut callers: Vec<CallerView> = self
            .callers
            .values()
            .map(|c| CallerView {
                member: c.member.clone(),
                caller: c.caller.clone(),
                state: c.state,
                agent: c.agent.clone(),
                joined_at: c.joined_at,
                answered_at: c.answered_at,
            })
            .collect();
        callers.sort_by(|a, b| a.joined_at.total_cmp(&b.joined_at));
        let in_call = callers
            .iter()
            .filter(|c| c.state == CallerState::InCall)
            .count();
        QueueView {
            number: self.number.clone(),
            description: self.description.clone(),
            kind: match self.kind.as_deref() {
                Some("easyHunting") => Some("easy"),
                Some("cloudHunting") => Some("expert"),
                _ => None,
            },
            ovh_type: self.kind.clone(),
            waiting: callers.len() - in_call,
            in_call,
            entered: f.entered,
            answered: f.answered,
            abandoned: f.abandoned,
            expired: f.expired,
            answered_pct: ratio_pct(f.answered, finished),
            avg_wait_s: (f.answered > 0).then(|| round_ms(f.wait_sum / f.answered as f64)),
            max_wait_s: f.max_wait.map(round_ms),
            avg_talk_s: (f.talks > 0).then(|| round_ms(f.talk_sum / f.talks as f64)),
            service_level_pct: ratio_pct(within, finished),
            service_level_s,
            reported_waiting: self.reported_waiting,
            callers,
        }
    }
}
