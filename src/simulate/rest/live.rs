//! The REST API's live view, read off the events the simulator emits: the callers in each
//! queue (`liveCalls`), each queue's figures since the last reset (`liveStatistics`) and each
//! agent's live status and day (`liveStatus`).
//!
//! It is fed the same events as the feed, as they are emitted, so that a dashboard counting
//! them correctly gets the figures OVH's own statistics give: a caller *entered* on
//! `member-queue-start`, is *answered* on `bridge-agent-start` and *lost* when it leaves
//! unanswered; talk time is from the answer to the end of the bridge. Figures restart at
//! midnight, Paris time (callers still waiting then are counted in the new day, as the
//! dashboard does).

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use super::state::RestState;
use crate::simulate::account::SimAccount;
use crate::simulate::traffic::SimEvent;

const S: i64 = 1_000_000_000;
/// A caller the simulator lost track of is not kept for ever.
const MAX_LIVE_CALLS: usize = 10_000;

/// A caller in a queue (`OvhPabxHuntingQueueLiveCalls`).
#[derive(Debug, Clone)]
pub(super) struct LiveCall {
    pub(super) id: i64,
    pub(super) q: usize,
    pub(super) member: String,
    pub(super) caller: String,
    pub(super) begin_ns: i64,
    pub(super) answered_ns: Option<i64>,
    /// The agent who answered (index into the agents).
    pub(super) agent: Option<usize>,
    pub(super) on_hold: bool,
}

/// A queue's figures since the last reset (`OvhPabxHuntingQueueLiveStatistics`).
#[derive(Debug, Clone, Default)]
pub(super) struct Figures {
    pub(super) total: u64,
    pub(super) answered: u64,
    pub(super) lost: u64,
    pub(super) talk_s: i64,
    pub(super) wait_s: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Live {
    pub(super) calls: Vec<LiveCall>,
    next_id: i64,
    pub(super) figures: Vec<Figures>,
    /// Traffic time (ns) the figures count from, and of the next midnight.
    pub(super) last_reset_ns: i64,
    next_midnight_ns: i64,
}

/// Midnight in Paris at the start of the day of `ns`, or of the next day.
fn midnight(ns: i64, next: bool) -> i64 {
    let local = Utc.timestamp_nanos(ns).with_timezone(&Paris).date_naive();
    let day: NaiveDate = if next {
        local.succ_opt().unwrap_or(local)
    } else {
        local
    };
    day.and_hms_opt(0, 0, 0)
        .and_then(|t| Paris.from_local_datetime(&t).earliest())
        .and_then(|t| t.timestamp_nanos_opt())
        .unwrap_or(i64::MAX)
}

impl Live {
    pub(super) fn new(account: &SimAccount, start_ns: i64) -> Live {
        Live {
            calls: Vec::new(),
            next_id: 1,
            figures: vec![Figures::default(); account.queues.len()],
            last_reset_ns: start_ns,
            next_midnight_ns: midnight(start_ns, true),
        }
    }
}

/// `agent_<number>_<n>` → the line of that number.
fn agent_line(account: &SimAccount, name: &str) -> Option<usize> {
    let rest = name.strip_prefix("agent_")?;
    let number = rest.rsplit_once('_').map_or(rest, |(n, _)| n);
    account.lines.iter().position(|l| l.number == number)
}

impl RestState {
    /// A new day: the figures start again from midnight.
    pub(super) fn roll_day(&mut self, now_ns: i64) {
        let live = &mut self.live;
        if now_ns < live.next_midnight_ns {
            return;
        }
        live.last_reset_ns = midnight(now_ns, false);
        live.next_midnight_ns = midnight(now_ns, true);
        for (q, f) in live.figures.iter_mut().enumerate() {
            *f = Figures {
                total: live.calls.iter().filter(|c| c.q == q).count() as u64,
                ..Figures::default()
            };
        }
        for a in &mut self.agents {
            a.answered = 0;
            a.talk_s = 0;
        }
    }

    /// Takes in an event as it is emitted.
    pub(crate) fn observe(&mut self, ev: &SimEvent, account: &SimAccount) {
        if self.agents.is_empty() {
            return;
        }
        let at = ev.at_unix_ns;
        self.roll_day(at);
        let e = &ev.event;
        if e["Service"] != "queues" {
            return;
        }
        let Some(q) = account
            .queues
            .iter()
            .position(|x| e["Ressource"] == x.number.as_str())
        else {
            return;
        };
        let d = &e["Data"];
        let member = d["QueueMemberUUID"].as_str().unwrap_or_default();
        let secs = |k: &str| d[k].as_str().and_then(|s| s.parse::<i64>().ok());
        let agent = d["QueueAgent"]
            .as_str()
            .and_then(|a| agent_line(account, a))
            .and_then(|line| self.agents.iter().position(|a| a.line == line));
        let call = self.live.calls.iter().position(|c| c.member == member);
        let joined = secs("QueueMemberJoinedTime").unwrap_or(at / S);
        match e["Event"].as_str().unwrap_or_default() {
            "member-queue-start" if call.is_none() => {
                let live = &mut self.live;
                live.figures[q].total += 1;
                if live.calls.len() >= MAX_LIVE_CALLS {
                    live.calls.remove(0);
                }
                live.calls.push(LiveCall {
                    id: live.next_id,
                    q,
                    member: member.to_string(),
                    caller: d["Calling"].as_str().unwrap_or("anonymous").to_string(),
                    begin_ns: joined * S,
                    answered_ns: None,
                    agent: None,
                    on_hold: false,
                });
                live.next_id += 1;
            }
            "agent-offering" => {
                if let Some(a) = agent {
                    self.agents[a].offers += 1;
                }
            }
            "bridge-agent-fail" | "bridge-agent-failed" => {
                if let Some(a) = agent {
                    self.agents[a].offers = self.agents[a].offers.saturating_sub(1);
                }
            }
            "bridge-agent-start" => {
                let answered = secs("QueueAgentAnsweredTime").unwrap_or(at / S);
                let f = &mut self.live.figures[q];
                f.answered += 1;
                f.wait_s += (answered - joined).max(0);
                if let Some(c) = call {
                    self.live.calls[c].answered_ns = Some(at);
                    self.live.calls[c].agent = agent;
                }
                if let Some(a) = agent {
                    let a = &mut self.agents[a];
                    a.offers = a.offers.saturating_sub(1);
                    a.talking += 1;
                    a.answered += 1;
                }
            }
            "bridge-agent-end" => {
                let talk = match (
                    secs("QueueAgentAnsweredTime"),
                    secs("QueueBridgeTerminatedTime"),
                ) {
                    (Some(from), Some(to)) => (to - from).max(0),
                    _ => 0,
                };
                self.live.figures[q].talk_s += talk;
                if let Some(a) = agent {
                    let a = &mut self.agents[a];
                    a.talking = a.talking.saturating_sub(1);
                    a.talk_s += talk as u64;
                }
            }
            "member-queue-end" => {
                if let Some(c) = call {
                    let gone = self.live.calls.remove(c);
                    if gone.answered_ns.is_none() {
                        let left = secs("QueueMemberLeavingTime").unwrap_or(at / S);
                        let f = &mut self.live.figures[q];
                        f.lost += 1;
                        f.wait_s += (left - joined).max(0);
                    }
                }
            }
            _ => {}
        }
        if let Some(a) = agent {
            self.agents[a].refresh(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midnight_is_paris_midnight() {
        // 26 November 2024, 10:20 Paris: midnight was at 23:00 UTC the day before.
        let at = 1_732_612_800 * S;
        assert_eq!(midnight(at, false), 1_732_575_600 * S);
        assert_eq!(midnight(at, true), 1_732_662_000 * S);
    }

    #[test]
    fn agent_names_give_lines() {
        let a = SimAccount::from_seed(3);
        let name = format!("agent_{}_2", a.lines[1].number);
        assert_eq!(agent_line(&a, &name), Some(1));
        assert_eq!(agent_line(&a, "agent_0000_1"), None);
    }
}
