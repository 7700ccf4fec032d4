//! What the REST fake makes happen on the lines and in the queues: which agents a queue may
//! offer callers to, click-to-call, and a supervisor's actions on a queue caller (listen in,
//! hang up, transfer, intercept).
//!
//! Each action happens "now" — the traffic's time, given by the server — and only changes
//! what has not happened yet: a queue caller's plan is changed and its events from now on are
//! written again (see [`super::queue`]); new calls are planned from a moment after now. The
//! events have the shapes of the generator's own, so a client cannot tell them apart.

use rand::Rng;

use super::queue::{CallerPlan, SideLeg};
use super::{Leg, TrafficGen, MS, S};

/// Why an action on a queue caller could not be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionError {
    /// The caller has left the queue.
    Gone,
    /// The action needs an answered call (transfer).
    NotAnswered,
    /// The action needs a call not answered yet (intercept).
    Answered,
    /// The call ends in a moment: too late for it.
    Ending,
    /// The line to ring has no free channel.
    Busy,
}

impl ActionError {
    /// The `message` of the failed `telephony.Task`.
    pub(crate) fn message(self) -> &'static str {
        match self {
            ActionError::Gone => "The call is over",
            ActionError::NotAnswered => "The call has not been answered",
            ActionError::Answered => "The call has already been answered",
            ActionError::Ending => "The call is ending",
            ActionError::Busy => "The line has no free channel",
        }
    }
}

impl TrafficGen {
    /// Nothing is planned before the last event handed out, so that timestamps never go back.
    pub(super) fn now_floor(&self, now: i64) -> i64 {
        now.max(self.last_out)
    }

    /// Marks an agent's line away (logged out, on a break) or back. Away, it is offered no
    /// new caller, and callers already waiting are not offered to it any more: the rounds to
    /// come leave it out, and if it was to answer, another agent ringing then answers instead
    /// (or nobody: the caller gives up). Back, it is offered the callers who join from then on.
    pub(crate) fn set_away(&mut self, line: usize, away: bool, now: i64) {
        let Some(flag) = self.away.get_mut(line) else {
            return;
        };
        *flag = away;
        if away {
            let queues: Vec<usize> = (0..self.members.len())
                .filter(|&q| self.members[q].contains(&line))
                .collect();
            for q in queues {
                self.withdraw(q, line, now);
            }
        }
    }

    /// Sets the lines a queue offers its callers to, in offering order. A line no longer in
    /// it is withdrawn from its waiting callers as [`TrafficGen::set_away`] does.
    pub(crate) fn set_members(&mut self, q: usize, lines: Vec<usize>, now: i64) {
        let Some(members) = self.members.get_mut(q) else {
            return;
        };
        let lines: Vec<usize> = lines
            .into_iter()
            .filter(|&l| l < self.account.lines.len())
            .collect();
        let gone: Vec<usize> = members
            .iter()
            .copied()
            .filter(|l| !lines.contains(l))
            .collect();
        *members = lines;
        for line in gone {
            self.withdraw(q, line, now);
        }
    }

    fn withdraw(&mut self, q: usize, line: usize, now: i64) {
        let t = self.now_floor(now);
        let ids: Vec<u64> = self
            .plans
            .values()
            .filter(|p| p.q == q)
            .map(|p| p.id)
            .collect();
        for id in ids {
            let _ = self.replan(id, t, |gen, p| {
                gen.drop_offers(p, line, t);
                Ok(())
            });
        }
    }

    /// Takes `line` out of the caller's future: no offer to it in a round not begun, and no
    /// answer by it after `t`.
    fn drop_offers(&mut self, p: &mut CallerPlan, line: usize, t: i64) {
        if let Some(a) = p.answer {
            let round = &p.rounds[a.round];
            if round.end > t && round.offers[a.offer].line == line {
                // Another agent whose phone rings in that round answers instead.
                let candidates: Vec<usize> = (0..round.offers.len())
                    .filter(|&k| {
                        let o = &round.offers[k];
                        o.line != line
                            && !self.away[o.line]
                            && self.is_free(o.line, round.end + 20 * MS, a.end)
                    })
                    .collect();
                if candidates.is_empty() {
                    p.answer = None;
                    p.stop = round.end.max(t + 100 * MS);
                    p.reason = "BREAK_OUT";
                } else {
                    let k = candidates[self.rng.gen_range(0..candidates.len())];
                    let o = &round.offers[k];
                    self.occupy(o.line, o.at, a.end);
                    p.answer = Some(super::queue::Answer { offer: k, ..a });
                }
            }
        }
        for (i, round) in p.rounds.iter_mut().enumerate() {
            if round.start <= t {
                continue;
            }
            while let Some(k) = round.offers.iter().position(|o| o.line == line) {
                round.offers.remove(k);
                if let Some(a) = p.answer.as_mut().filter(|a| a.round == i && a.offer > k) {
                    a.offer -= 1;
                }
            }
        }
        // An answered round left with no one to answer: the caller gives up then.
        if let Some(a) = p.answer {
            if p.rounds[a.round].offers.is_empty() {
                p.answer = None;
                p.stop = p.rounds[a.round].end.max(t + 100 * MS);
                p.reason = "BREAK_OUT";
            }
        }
    }

    /// Changes plan `id` with `change`, then writes its events after `t` again.
    fn replan(
        &mut self,
        id: u64,
        t: i64,
        change: impl FnOnce(&mut Self, &mut CallerPlan) -> Result<(), ActionError>,
    ) -> Result<(), ActionError> {
        let mut plan = self.plans.remove(&id).ok_or(ActionError::Gone)?;
        let before = plan.held();
        let result = change(self, &mut plan);
        if result.is_ok() {
            self.heap.retain(|p| p.0.tag != Some(id) || p.0.at <= t);
            self.render_caller(&plan, t);
            self.give_back(&before, &plan.held());
        }
        self.plans.insert(id, plan);
        result
    }

    /// Gives back the channels a changed plan holds no more: a span held `before` ends when
    /// it ends `after` (a call hung up, a listener's call ended with it), or is dropped when
    /// the plan no longer rings that line then (a round that will not happen). Spans new in
    /// `after` were taken by the change itself.
    fn give_back(&mut self, before: &[(usize, i64, i64)], after: &[(usize, i64, i64)]) {
        for &(line, from, until) in before {
            let now_until = after
                .iter()
                .find(|&&(l, f, _)| l == line && f == from)
                .map(|&(_, _, u)| u);
            if now_until == Some(until) {
                continue;
            }
            let Some(i) = self.busy[line].iter().position(|&s| s == (from, until)) else {
                continue; // already past and forgotten
            };
            match now_until {
                Some(u) => self.busy[line][i].1 = u,
                None => {
                    self.busy[line].swap_remove(i);
                }
            }
        }
    }

    fn plan_of(&self, member_uuid: &str) -> Option<u64> {
        self.plans
            .values()
            .find(|p| p.member_uuid == member_uuid)
            .map(|p| p.id)
    }

    /// Ends the caller's call now (`hangup`): an answered call ends its talk, a waiting caller
    /// leaves the queue (`BREAK_OUT`) and the phones ringing for it stop.
    pub(crate) fn hang_up(&mut self, member_uuid: &str, now: i64) -> Result<(), ActionError> {
        let id = self.plan_of(member_uuid).ok_or(ActionError::Gone)?;
        let t = self.now_floor(now);
        self.replan(id, t, |_, p| {
            cut(p, t);
            Ok(())
        })
    }

    /// Transfers an answered call now: the agent's part ends, and `to` (a line of the account;
    /// `None` for a number outside it, which the feed does not see) rings and takes the caller
    /// for the rest of the conversation.
    pub(crate) fn transfer(
        &mut self,
        member_uuid: &str,
        to: Option<usize>,
        now: i64,
    ) -> Result<(), ActionError> {
        let id = self.plan_of(member_uuid).ok_or(ActionError::Gone)?;
        let t = self.now_floor(now);
        self.replan(id, t, |gen, p| {
            if !p.answered_at().is_some_and(|at| at <= t) {
                return Err(ActionError::NotAnswered);
            }
            let talk_end = p.queue_end();
            if talk_end <= t + S {
                return Err(ActionError::Ending);
            }
            let c = t + 100 * MS;
            if let Some(line) = to {
                let ring_at = c + 200 * MS;
                let answer_at = ring_at + gen.rng.gen_range(2 * S..6 * S);
                let end = talk_end.max(answer_at + 10 * S);
                p.onward = Some(gen.side_leg(line, ring_at, answer_at, end, Some(end))?);
            }
            cut(p, t);
            Ok(())
        })
    }

    /// Takes a waiting caller out of the queue now (`intercept`): the phones ringing for it
    /// stop, the caller leaves the queue, and `to` rings and takes the call.
    pub(crate) fn intercept(
        &mut self,
        member_uuid: &str,
        to: Option<usize>,
        now: i64,
    ) -> Result<(), ActionError> {
        let id = self.plan_of(member_uuid).ok_or(ActionError::Gone)?;
        let t = self.now_floor(now);
        self.replan(id, t, |gen, p| {
            if p.answered_at().is_some_and(|at| at <= t) {
                return Err(ActionError::Answered);
            }
            if p.answer.is_none() && p.stop <= t + S {
                return Err(ActionError::Ending);
            }
            let c = t + 100 * MS;
            if let Some(line) = to {
                let ring_at = c + 200 * MS;
                let answer_at = ring_at + gen.rng.gen_range(S..3 * S);
                let end = answer_at + p.talk;
                p.onward = Some(gen.side_leg(line, ring_at, answer_at, end, Some(end))?);
            }
            cut(p, t);
            Ok(())
        })
    }

    /// A supervisor listens in or whispers (`eavesdrop`, `whisper`): OVH calls `line`, which
    /// rings, is answered, and hangs up when the caller's call ends. `None` (a number outside
    /// the account) is called too, but the feed does not see it.
    pub(crate) fn supervise(
        &mut self,
        member_uuid: &str,
        line: Option<usize>,
        now: i64,
    ) -> Result<(), ActionError> {
        let id = self.plan_of(member_uuid).ok_or(ActionError::Gone)?;
        let t = self.now_floor(now);
        self.replan(id, t, |gen, p| {
            let ends = p.queue_end();
            if ends <= t + S {
                return Err(ActionError::Ending);
            }
            if let Some(line) = line {
                let ring_at = t + 300 * MS;
                let answer_at = ring_at + gen.rng.gen_range(S..4 * S);
                // Busy until the call ends as planned now; a hang-up or transfer later gives
                // the channel back then (`give_back`).
                p.followers
                    .push(gen.side_leg(line, ring_at, answer_at, ends, None)?);
            }
            Ok(())
        })
    }

    /// A new leg on `line`, if a channel is free for it from `ring_at` to `busy_until`;
    /// `end` is its own end (`None`: it ends with the caller's call).
    fn side_leg(
        &mut self,
        line: usize,
        ring_at: i64,
        answer_at: i64,
        busy_until: i64,
        end: Option<i64>,
    ) -> Result<SideLeg, ActionError> {
        if !self.is_free(line, ring_at, busy_until) {
            return Err(ActionError::Busy);
        }
        self.occupy(line, ring_at, busy_until);
        Ok(SideLeg {
            line,
            call_id: self.call_id(),
            ring_at,
            answer_at,
            end,
        })
    }

    /// Click-to-call from `line` to `called`: the line rings first and is answered (at once
    /// with `intercom`), then the called number rings — the account's own line rings on the
    /// feed too — and is answered; both hang up together after the conversation. A called
    /// line with no free channel gives a short call (a busy tone).
    pub(crate) fn click_to_call(
        &mut self,
        line: usize,
        called: &str,
        intercom: bool,
        now: i64,
    ) -> Result<(), ActionError> {
        let t = self.now_floor(now);
        let ring_at = t + 200 * MS;
        let answer_at = if intercom {
            ring_at + 600 * MS
        } else {
            ring_at + self.rng.gen_range(2 * S..6 * S)
        };
        let talk = self.talk();
        let other = self
            .account
            .lines
            .iter()
            .position(|l| l.number == called)
            .filter(|&b| b != line);
        let mut far = None;
        let end = match other {
            Some(b) => {
                let b_ring = answer_at + 300 * MS;
                let b_answer = b_ring + self.rng.gen_range(2 * S..8 * S);
                let end = b_answer + talk;
                if self.is_free(b, b_ring, end) {
                    far = Some((b, b_ring, b_answer));
                    end
                } else {
                    answer_at + 4 * S
                }
            }
            None => answer_at + self.rng.gen_range(2 * S..8 * S) + talk,
        };
        if !self.is_free(line, ring_at, end) {
            return Err(ActionError::Busy);
        }
        self.occupy(line, ring_at, end);
        let call_id = self.call_id();
        let number = self.account.lines[line].number.clone();
        let leg = Leg {
            line,
            call_id: &call_id,
            calling: &number,
            called,
        };
        self.ring_leg(&leg, ring_at);
        self.answer_leg(&leg, answer_at, false);
        self.hangup_leg(&leg, end);
        if let Some((b, b_ring, b_answer)) = far {
            self.occupy(b, b_ring, end);
            let leg = Leg {
                line: b,
                call_id: &call_id,
                calling: &number,
                called,
            };
            self.ring_leg(&leg, b_ring);
            self.answer_leg(&leg, b_answer, false);
            self.hangup_leg(&leg, end);
        }
        Ok(())
    }
}

/// Ends the caller's call a moment after `t`: an answered call's talk ends then; a caller not
/// answered yet leaves then (`BREAK_OUT`), the rounds not begun dropped and the phones
/// ringing stopped.
fn cut(p: &mut CallerPlan, t: i64) {
    let c = t + 100 * MS;
    match p.answer {
        Some(mut a) if p.rounds[a.round].end <= t => {
            a.end = a.end.min(c);
            p.answer = Some(a);
        }
        _ => {
            if p.answer.is_none() && p.stop <= c {
                return;
            }
            p.answer = None;
            p.stop = c;
            p.reason = "BREAK_OUT";
            p.rounds.retain(|r| r.start <= t);
            // A round over already keeps its own ends (`NO_ANSWER` at its end): an empty
            // round after it makes it not the last.
            if p.rounds.last().is_some_and(|r| r.end <= t) {
                p.rounds.push(super::queue::Round {
                    start: t,
                    end: c,
                    offers: Vec::new(),
                });
            }
        }
    }
}
