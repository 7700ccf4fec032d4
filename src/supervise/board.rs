//! The agent board (issue 11): each agent of each queue service with its configured status
//! (available, on a break and why, logged out), OVH's live status (waiting, receiving, in a
//! queue call) and since when, calls answered and talk time today, and the queues it is in;
//! beside each queue, OVH's own counters. Pure: built from the directory and the latest live
//! readings, so that it is tested without OVH, and compared with the last one sent so that
//! dashboards get it only when it changed.

use super::directory::Directory;
use crate::ovh_api::models::{AgentLiveStatus, QueueLiveStatistics};
use serde::Serialize;
use std::collections::HashMap;

/// The longest description (an agent's, a break reason's) forwarded to dashboards.
const TEXT_BYTES: usize = 256;

fn text(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(|t| crate::limits::clip(t, TEXT_BYTES).into_owned())
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardAgent {
    /// The queue service (its number) the agent belongs to, and OVH's id for it there.
    pub service: String,
    pub id: i64,
    /// The number OVH rings for the agent (a line of the account, or an outside number).
    pub number: String,
    pub description: Option<String>,
    /// Configured: `available`, `loggedOut` or `onBreak`.
    pub status: String,
    /// The break reason, when on a break.
    pub break_reason: Option<BreakReason>,
    /// OVH's live status: `waiting`, `receiving`, `inAQueueCall`, `onBreak`, `loggedOut`;
    /// `None` until read.
    pub live: Option<String>,
    pub since: Option<String>,
    pub answered_calls: Option<i64>,
    pub talk_time_s: Option<i64>,
    /// The queues (their ids in the service) the agent is in.
    pub queues: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakReason {
    pub id: i64,
    pub name: String,
    pub color: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardQueue {
    pub service: String,
    pub id: i64,
    pub description: Option<String>,
    /// OVH's own counters (`liveStatistics`), once read.
    pub ovh: Option<QueueLiveStatistics>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Board {
    pub agents: Vec<BoardAgent>,
    pub queues: Vec<BoardQueue>,
    /// Break reasons by queue service, for the "put on a break" choice.
    pub breaks: HashMap<String, Vec<BreakReason>>,
    /// The account's lines and the calls each may carry at once, from OVH's settings.
    pub lines: Vec<BoardLine>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardLine {
    pub number: String,
    pub simultaneous: Option<i64>,
}

/// Live readings, keyed by (service number, id).
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub agents: HashMap<(String, i64), AgentLiveStatus>,
    pub queues: HashMap<(String, i64), QueueLiveStatistics>,
}

impl Board {
    pub fn build(dir: &Directory, live: &Live) -> Board {
        let mut board = Board::default();
        for s in &dir.services {
            let reasons: Vec<BreakReason> = s
                .breaks
                .iter()
                .map(|b| BreakReason {
                    id: b.id,
                    name: crate::limits::clip(&b.name, TEXT_BYTES).into_owned(),
                    color: text(&b.color),
                })
                .collect();
            for a in &s.agents {
                let key = (s.number.clone(), a.agent.agent_id);
                let reading = live.agents.get(&key);
                let break_reason = (a.agent.status == "onBreak")
                    .then(|| {
                        reasons
                            .iter()
                            .find(|r| Some(r.id) == a.agent.break_status)
                            .cloned()
                    })
                    .flatten();
                board.agents.push(BoardAgent {
                    service: s.number.clone(),
                    id: a.agent.agent_id,
                    number: crate::limits::clip(&a.agent.number, 32).into_owned(),
                    description: text(&a.agent.description),
                    status: a.agent.status.clone(),
                    break_reason,
                    live: reading.map(|r| r.status.clone()),
                    since: reading.and_then(|r| r.last_status_change.clone()),
                    answered_calls: reading.and_then(|r| r.answered_calls),
                    talk_time_s: reading.and_then(|r| r.total_call_duration),
                    queues: a.queues.clone(),
                });
            }
            for q in &s.queues {
                board.queues.push(BoardQueue {
                    service: s.number.clone(),
                    id: q.queue_id,
                    description: text(&q.description),
                    ovh: live.queues.get(&(s.number.clone(), q.queue_id)).cloned(),
                });
            }
            board.breaks.insert(s.number.clone(), reasons);
        }
        board.lines = dir
            .lines
            .iter()
            .map(|l| BoardLine {
                number: crate::limits::clip(&l.number, 32).into_owned(),
                simultaneous: l.simultaneous,
            })
            .collect();
        board
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovh_api::models::{Agent, CustomStatus, Queue};
    use crate::supervise::directory::{DirAgent, Service};

    fn dir() -> Directory {
        Directory {
            billing_accounts: vec!["sm1-ovh-1".into()],
            services: vec![Service {
                billing_account: "sm1-ovh-1".into(),
                family: "easyHunting",
                number: "0033972100100".into(),
                description: Some("Support".into()),
                queues: vec![Queue {
                    queue_id: 7,
                    description: Some("Support".into()),
                    strategy: None,
                }],
                agents: vec![
                    DirAgent {
                        agent: Agent {
                            agent_id: 1,
                            number: "0033972101010".into(),
                            description: Some("Ann".into()),
                            status: "onBreak".into(),
                            break_status: Some(3),
                        },
                        queues: vec![7],
                    },
                    DirAgent {
                        agent: Agent {
                            agent_id: 2,
                            number: "0033972101011".into(),
                            description: Some("x".repeat(10_000)),
                            status: "available".into(),
                            break_status: Some(3),
                        },
                        queues: vec![],
                    },
                ],
                breaks: vec![CustomStatus {
                    id: 3,
                    name: "Pause".into(),
                    description: None,
                    color: Some("#ff0000".into()),
                }],
            }],
            lines: vec![],
            problems: vec![],
        }
    }

    #[test]
    fn agents_carry_their_break_reason_live_status_and_capped_texts() {
        let mut live = Live::default();
        live.agents.insert(
            ("0033972100100".into(), 2),
            AgentLiveStatus {
                status: "inAQueueCall".into(),
                last_status_change: Some("2026-12-04T09:00:00+01:00".into()),
                answered_calls: Some(4),
                total_call_duration: Some(300),
            },
        );
        let board = Board::build(&dir(), &live);
        let ann = &board.agents[0];
        assert_eq!(ann.break_reason.as_ref().unwrap().name, "Pause");
        assert_eq!(ann.live, None, "not read yet");
        let bob = &board.agents[1];
        assert_eq!(
            bob.break_reason, None,
            "a break reason only while on a break"
        );
        assert_eq!(bob.live.as_deref(), Some("inAQueueCall"));
        assert_eq!(bob.answered_calls, Some(4));
        assert!(bob.description.as_ref().unwrap().len() <= TEXT_BYTES);
        assert_eq!(board.queues[0].id, 7);
        assert_eq!(board.breaks["0033972100100"].len(), 1);
    }
}
