//! Queue callers: how a caller's life in a call queue is planned, and how a plan becomes events.
//!
//! A caller's whole life is decided when the caller arrives (the generator's way), but it is
//! kept as a [`CallerPlan`] rather than only as events, so that the REST fake can change what
//! has not happened yet — an agent going on a break, a supervisor listening in, a hang-up or a
//! transfer — and [`TrafficGen::render_caller`] can write the events again from that moment on.
//! The events are written in the same order, with the same random draws, as before plans
//! existed: a simulator nobody steers gives the same stream as ever.

use rand::Rng;
use serde_json::{json, Map, Value};

use super::{epoch_s, uuid_from, CountOp, Leg, TrafficGen, AGENT_RING_TIMEOUT, MS, S};

/// One agent's phone rung for a caller.
#[derive(Debug, Clone)]
pub(super) struct Offer {
    pub(super) line: usize,
    /// When the `agent-offering` is emitted and the agent's phone starts ringing.
    pub(super) at: i64,
    pub(super) call_id: String,
    pub(super) agent_uuid: String,
}

/// One ring-all round: every offer starts together (10 ms apart) and ends at `end`.
#[derive(Debug, Clone)]
pub(super) struct Round {
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) offers: Vec<Offer>,
}

/// Who answers: an offer of the last round, at that round's end, talking until `end`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answer {
    pub(super) round: usize,
    pub(super) offer: usize,
    pub(super) end: i64,
}

/// A call on another line of the account tied to the caller: a supervisor listening in (it
/// ends with the caller's call) or where the caller was transferred or intercepted to (it has
/// its own end).
#[derive(Debug, Clone)]
pub(super) struct SideLeg {
    pub(super) line: usize,
    pub(super) call_id: String,
    pub(super) ring_at: i64,
    pub(super) answer_at: i64,
    pub(super) end: Option<i64>,
}

/// A queue caller's life, kept until the caller leaves the queue.
#[derive(Debug, Clone)]
pub(crate) struct CallerPlan {
    pub(super) id: u64,
    pub(super) q: usize,
    pub(super) t0: i64,
    pub(super) caller: String,
    pub(super) member_uuid: String,
    session_uuid: String,
    /// How long the caller would talk once answered (also the talk of an intercepted call).
    pub(super) talk: i64,
    pub(super) rounds: Vec<Round>,
    pub(super) answer: Option<Answer>,
    /// When an unanswered caller leaves, and why (`TIMEOUT` or `BREAK_OUT`).
    pub(super) stop: i64,
    pub(super) reason: &'static str,
    /// Supervisors listening in or whispering: their calls end with the caller's.
    pub(super) followers: Vec<SideLeg>,
    /// Where a transfer or an interception sent the caller.
    pub(super) onward: Option<SideLeg>,
}

impl CallerPlan {
    /// When the caller's call through the queue ends: the end of the talk, or when it left.
    pub(super) fn queue_end(&self) -> i64 {
        self.answer.map_or(self.stop, |a| a.end)
    }

    /// The channels the plan holds: `(line, from, until)` for each phone rung for the caller
    /// (the one that answers until the end of the talk), each supervisor listening in (until
    /// the caller's call ends) and where the caller was sent.
    pub(super) fn held(&self) -> Vec<(usize, i64, i64)> {
        let mut spans = Vec::new();
        for (i, round) in self.rounds.iter().enumerate() {
            let fail_at = fail_time(self, i);
            for (k, offer) in round.offers.iter().enumerate() {
                let until = match self.answer {
                    Some(a) if a.round == i && a.offer == k => a.end,
                    _ => fail_at,
                };
                spans.push((offer.line, offer.at, until));
            }
        }
        let ends = self.queue_end();
        for f in &self.followers {
            spans.push((f.line, f.ring_at, f.end.unwrap_or(ends)));
        }
        if let Some(o) = &self.onward {
            spans.push((o.line, o.ring_at, o.end.unwrap_or(ends)));
        }
        spans
    }

    /// When an agent answers (or answered), if one does.
    pub(super) fn answered_at(&self) -> Option<i64> {
        self.answer.map(|a| self.rounds[a.round].end)
    }
}

/// The longest a placed caller talks or waits: a day.
const MAX_PLACED_S: u32 = 86_400;

/// A caller placed in a queue on demand rather than drawn at random, so that a test (or a
/// demo) can act on a live queue call that is sure to be there.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlacedCaller {
    /// The queue, by its rank in the account (0 or 1).
    #[serde(default)]
    pub(crate) queue: usize,
    /// Answered (after about 3 s, by a free agent not away), or left waiting.
    #[serde(default)]
    pub(crate) answered: bool,
    /// Answered: how long the conversation lasts (a day at most). Not: how long the caller
    /// waits before hanging up (the queue's longest wait at most, then it times out).
    pub(crate) seconds: u32,
}

#[derive(PartialEq, Clone, Copy)]
enum Outcome {
    Answered,
    BreakOut,
    Timeout,
}

impl TrafficGen {
    /// The lines a queue offers its callers to now: its members, less those away.
    fn offerable(&self, q: usize) -> Vec<usize> {
        self.members[q]
            .iter()
            .copied()
            .filter(|&l| !self.away[l])
            .collect()
    }

    /// `agent_<number>_<n>`: `n` is the agent's rank among the queue's agents of the account,
    /// and stays the same for an agent added later (after them, by line).
    pub(super) fn agent_name(&self, q: usize, line: usize) -> String {
        let agents = &self.account.queues[q].agents;
        let n = match agents.iter().position(|&l| l == line) {
            Some(i) => i + 1,
            None => agents.len() + 1 + line,
        };
        format!("agent_{}_{}", self.account.lines[line].number, n)
    }

    /// A caller dials a queue: joins, is offered to the free agents all at once (ring-all), in
    /// rounds of [`AGENT_RING_TIMEOUT`], until an agent answers, the caller hangs up, or the
    /// queue's longest wait is reached.
    pub(super) fn queue_call(&mut self, t0: i64) {
        let q = if self.rng.gen_bool(0.6) { 0 } else { 1 };
        self.plan_caller(t0, q, None);
    }

    /// A caller placed on demand (the simulator's `POST /_sim/queue-call`), from a moment after
    /// now: answered after about 3 s by one of the queue's free agents not away, or waiting
    /// without an answer. Returns the caller's number and its member id in the queue.
    pub(crate) fn place_caller(&mut self, placed: PlacedCaller, now: i64) -> (String, String) {
        let t0 = self.now_floor(now) + 200 * MS;
        let q = placed.queue.min(self.account.queues.len() - 1);
        let id = self.plan_caller(t0, q, Some(placed));
        let plan = &self.plans[&id];
        (plan.caller.clone(), plan.member_uuid.clone())
    }

    /// Plans one caller of queue `q` joining at `t0` (see [`Self::queue_call`]), drawn at
    /// random or as `placed` says; returns the plan's id.
    fn plan_caller(&mut self, t0: i64, q: usize, placed: Option<PlacedCaller>) -> u64 {
        let queue = self.account.queues[q].clone();
        // Only the members not away are offered callers (all of the account's agents unless
        // the REST API said otherwise).
        let agents = self.offerable(q);
        let max_wait = queue.max_wait_s as i64 * S;
        let seconds = placed.map(|p| i64::from(p.seconds.clamp(1, MAX_PLACED_S)) * S);
        let (mut outcome, talk) = match placed {
            None => {
                // The scenario decides how patient callers are and how fast agents answer:
                // waits are exponential around its mean (most short, a few long), as in a
                // staffed call centre.
                let (patience, _) = self.scenario.queue_patience();
                let roll: f64 = self.rng.gen_range(0.0..1.0);
                let outcome = match roll {
                    r if r < patience => Outcome::Answered,
                    r if r < patience + (1.0 - patience) * 0.6 => Outcome::BreakOut,
                    _ => Outcome::Timeout,
                };
                (outcome, self.talk())
            }
            Some(p) if p.answered => (Outcome::Answered, seconds.unwrap_or(S)),
            Some(_) if seconds.is_some_and(|w| w < max_wait) => (Outcome::BreakOut, 30 * S),
            Some(_) => (Outcome::Timeout, 30 * S),
        };
        let answer_wait = |gen: &mut Self| {
            if placed.is_some() {
                return t0 + 3 * S;
            }
            let (_, mean_wait_s) = gen.scenario.queue_patience();
            let u: f64 = gen.rng.gen_range(0.0..1.0);
            let wait = 2e9 + -(1.0 - u).ln() * mean_wait_s * 1e9;
            t0 + (wait as i64).min(max_wait - 2 * S)
        };
        // The offer round an answer at `at` falls in starts here (rounds below: every
        // AGENT_RING_TIMEOUT, two seconds apart, from a second after joining).
        let round_start = |at: i64| {
            let first = t0 + S;
            let period = AGENT_RING_TIMEOUT + 2 * S;
            first + (at - first).max(0) / period * period
        };
        let mut stop = match outcome {
            Outcome::Answered => {
                // All agents busy at that moment: the caller waits on until one is free (or
                // the queue's longest wait), rather than being answered by nobody.
                let mut at = answer_wait(self);
                while at < t0 + max_wait - 5 * S
                    && !agents
                        .iter()
                        .any(|&l| self.is_free(l, round_start(at), at + talk))
                {
                    at += 5 * S;
                }
                at.min(t0 + max_wait - S)
            }
            Outcome::BreakOut => match seconds {
                Some(w) => t0 + w,
                None => t0 + self.rng.gen_range(3 * S..max_wait - 2 * S),
            },
            Outcome::Timeout => t0 + max_wait,
        };

        // Plan the offer rounds: [start, end) with the agents free over it.
        let mut spans: Vec<(i64, i64, Vec<usize>)> = Vec::new();
        let mut start = t0 + S;
        while start + S <= stop {
            let last = start + AGENT_RING_TIMEOUT >= stop;
            let end = if last {
                stop
            } else {
                start + AGENT_RING_TIMEOUT
            };
            // The winner stays busy for the conversation: check over that span when answering.
            let span_end = if last && outcome == Outcome::Answered {
                stop + talk
            } else {
                end
            };
            let free: Vec<usize> = agents
                .iter()
                .copied()
                .filter(|&l| self.is_free(l, start, span_end))
                .collect();
            spans.push((start, end, free));
            start = end + 2 * S;
        }
        if outcome == Outcome::Answered && !spans.last().is_some_and(|r| !r.2.is_empty()) {
            // Nobody could take the call: the caller gives up at the same moment instead.
            outcome = Outcome::BreakOut;
        }
        if outcome != Outcome::Answered {
            stop = stop.max(t0 + 2 * S);
        }

        let caller = self.external_number();
        let member_uuid = uuid_from(&mut self.rng);
        let session_uuid = uuid_from(&mut self.rng);
        let n = spans.len();
        let mut rounds = Vec::with_capacity(n);
        let mut answer = None;
        for (i, (start, end, free)) in spans.into_iter().enumerate() {
            let winner = (i + 1 == n && outcome == Outcome::Answered)
                .then(|| self.rng.gen_range(0..free.len()));
            let mut offers = Vec::with_capacity(free.len());
            for (k, line) in free.into_iter().enumerate() {
                let agent_uuid = uuid_from(&mut self.rng);
                let call_id = self.call_id();
                offers.push(Offer {
                    line,
                    at: start + k as i64 * 10 * MS,
                    call_id,
                    agent_uuid,
                });
            }
            if let Some(offer) = winner {
                answer = Some(Answer {
                    round: i,
                    offer,
                    end: end + talk,
                });
            }
            rounds.push(Round { start, end, offers });
        }
        self.next_plan += 1;
        let plan = CallerPlan {
            id: self.next_plan,
            q,
            t0,
            caller,
            member_uuid,
            session_uuid,
            talk,
            rounds,
            answer,
            stop,
            reason: if outcome == Outcome::Timeout {
                "TIMEOUT"
            } else {
                "BREAK_OUT"
            },
            followers: Vec::new(),
            onward: None,
        };
        // Each agent's line is busy while it rings, and the winner's for the conversation.
        for (line, from, until) in plan.held() {
            self.occupy(line, from, until);
        }
        self.render_caller(&plan, i64::MIN);
        let id = plan.id;
        self.plans.insert(id, plan);
        id
    }

    /// Pushes the events of `plan` later than `after` (all of them for `i64::MIN`), tagged
    /// with the plan's id.
    pub(super) fn render_caller(&mut self, plan: &CallerPlan, after: i64) {
        self.tagging = Some(plan.id);
        self.floor = after;
        self.push_caller(plan);
        self.tagging = None;
        self.floor = i64::MIN;
    }

    fn push_caller(&mut self, p: &CallerPlan) {
        let q = p.q;
        let queue_number = self.account.queues[q].number.clone();
        let base = |action: &str| -> Map<String, Value> {
            let mut m = Map::new();
            m.insert("QueueMemberUUID".into(), json!(p.member_uuid));
            m.insert("QueueMemberSessionUUID".into(), json!(p.session_uuid));
            m.insert("Calling".into(), json!(p.caller));
            m.insert("QueueMemberCIDNumber".into(), json!(p.caller));
            m.insert("QueueMemberCIDName".into(), json!(p.caller));
            m.insert("QueueMemberDNIS".into(), json!(queue_number));
            m.insert("Queue".into(), json!(format!("{queue_number}@queues")));
            m.insert("QueueMemberJoinedTime".into(), json!(epoch_s(p.t0)));
            m.insert("Protocol".into(), json!("sip"));
            m.insert("Action".into(), json!(action));
            m.insert("Event".into(), json!(action));
            m
        };

        self.push_queue(q, p.t0, base("member-queue-start"), Some(CountOp::Join(q)));
        self.push_queue(q, p.t0 + MS, base("members-count"), Some(CountOp::Read(q)));

        let nrounds = p.rounds.len();
        for (i, round) in p.rounds.iter().enumerate() {
            let last = i + 1 == nrounds;
            let answered_round = last && p.answer.is_some();
            let called_time = epoch_s(round.start);
            for offer in &round.offers {
                let mut d = base("agent-offering");
                d.insert("QueueAgent".into(), json!(self.agent_name(q, offer.line)));
                d.insert("QueueAgentUUID".into(), json!(offer.agent_uuid));
                d.insert("QueueAgentSystem".into(), json!("single_box"));
                d.insert("QueueAgentCalledTime".into(), json!(called_time));
                self.push_queue(q, offer.at, d, None);
            }
            let fail_at = fail_time(p, i);
            for (k, offer) in round.offers.iter().enumerate() {
                let agent = self.agent_name(q, offer.line);
                let number = self.account.lines[offer.line].number.clone();
                let leg = Leg {
                    line: offer.line,
                    call_id: &offer.call_id,
                    calling: &queue_number,
                    called: &number,
                };
                self.ring_leg(&leg, offer.at);
                let mut d = base("bridge-agent-fail");
                d.insert("QueueAgent".into(), json!(agent));
                d.insert("QueueAgentSystem".into(), json!("single_box"));
                d.insert("QueueAgentCalledTime".into(), json!(called_time));
                if let Some(a) = p.answer.filter(|a| a.round == i && a.offer == k) {
                    let answer = round.end;
                    let end = a.end;
                    let mut s = base("bridge-agent-start");
                    s.insert("QueueAgentAnsweredTime".into(), json!(epoch_s(answer)));
                    s.insert("QueueAgent".into(), json!(agent));
                    s.insert("QueueAgentSystem".into(), json!("single_box"));
                    s.insert("QueueAgentCalledTime".into(), json!(called_time));
                    self.push_queue(q, answer, s, None);
                    self.answer_leg(&leg, answer, false);
                    let mut e = base("bridge-agent-end");
                    e.insert("QueueAgentAnsweredTime".into(), json!(epoch_s(answer)));
                    e.insert("QueueBridgeTerminatedTime".into(), json!(epoch_s(end)));
                    e.insert("QueueHangupCause".into(), json!("NORMAL_CLEARING"));
                    e.insert("QueueAgent".into(), json!(agent));
                    self.push_queue(q, end, e, None);
                    self.hangup_leg(&leg, end);
                    let mut m = base("member-queue-end");
                    m.insert("QueueCause".into(), json!("Terminated"));
                    m.insert("QueueMemberLeavingTime".into(), json!(epoch_s(end)));
                    self.push_queue(q, end + 10 * MS, m, Some(CountOp::Leave(q)));
                    self.push_queue(
                        q,
                        end + 20 * MS,
                        base("members-count"),
                        Some(CountOp::Read(q)),
                    );
                    continue;
                }
                let cause = if answered_round {
                    "LOSE_RACE"
                } else if last {
                    "ORIGINATOR_CANCEL"
                } else {
                    "NO_ANSWER"
                };
                d.insert("QueueHangupCause".into(), json!(cause));
                self.push_queue(q, fail_at, d, None);
                self.cancel_leg(&leg, fail_at);
            }
        }
        if p.answer.is_none() {
            let mut m = base("member-queue-end");
            m.insert("QueueCause".into(), json!("Cancel"));
            m.insert("QueueCancelReason".into(), json!(p.reason));
            m.insert("QueueMemberLeavingTime".into(), json!(epoch_s(p.stop)));
            self.push_queue(q, p.stop, m, Some(CountOp::Leave(q)));
            self.push_queue(
                q,
                p.stop + 10 * MS,
                base("members-count"),
                Some(CountOp::Read(q)),
            );
        }
        self.push_side_legs(p, &queue_number);
    }

    /// The supervisors' calls (from the queue's number, ending with the caller's call) and
    /// the call the caller was sent on to (from the caller, with its own end).
    fn push_side_legs(&mut self, p: &CallerPlan, queue_number: &str) {
        let ends = p.queue_end();
        let onward = p.onward.iter().map(|o| (o, p.caller.as_str(), o.end));
        let followers = p.followers.iter().map(|f| (f, queue_number, None));
        for (side, calling, own_end) in followers.chain(onward) {
            let number = self.account.lines[side.line].number.clone();
            let leg = Leg {
                line: side.line,
                call_id: &side.call_id,
                calling,
                called: &number,
            };
            let end = own_end.unwrap_or(ends);
            if end <= side.ring_at {
                // The call ended before the supervisor's phone was to ring (a hang-up soon
                // after): it never rings.
                continue;
            }
            self.ring_leg(&leg, side.ring_at);
            if side.answer_at < end {
                self.answer_leg(&leg, side.answer_at, false);
                self.hangup_leg(&leg, end.max(side.answer_at + 20 * MS));
            } else {
                self.cancel_leg(&leg, end.max(side.ring_at + 10 * MS));
            }
        }
    }
}

/// When the losing offers of round `i` end: just after the answer in an answered round, just
/// before the caller leaves in the last round of a caller nobody answers, at the round's end
/// otherwise (`NO_ANSWER`).
pub(super) fn fail_time(p: &CallerPlan, i: usize) -> i64 {
    let last = i + 1 == p.rounds.len();
    let round = &p.rounds[i];
    if last && p.answer.is_some() {
        round.end + 20 * MS
    } else if last {
        p.stop - 50 * MS
    } else {
        round.end
    }
}
