//! What the REST fake remembers between requests: consumer keys, the agents' settings and
//! queue memberships, the billing account's event token, the tasks of live-call actions, the
//! faults a test asked for — and, in [`super::live`], what the traffic did.
//!
//! It lives in the hub's ledger, under the same lock as the feed's sessions, so that an event
//! is seen by the feed and by the REST API's live figures at the same moment.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Value};

use super::auth::{Credential, SimApiKeys};
use super::live::Live;
use super::RestFault;
use crate::simulate::account::SimAccount;

/// At most this many tasks are kept for `GET /telephony/{ba}/task/{id}`.
const MAX_TASKS: usize = 1_000;

/// An agent's configured status (`OvhPabxHuntingAgentStatusEnum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AgentStatus {
    Available,
    LoggedOut,
    OnBreak,
}

impl AgentStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::LoggedOut => "loggedOut",
            AgentStatus::OnBreak => "onBreak",
        }
    }

    pub(super) fn parse(s: &str) -> Option<AgentStatus> {
        match s {
            "available" => Some(AgentStatus::Available),
            "loggedOut" => Some(AgentStatus::LoggedOut),
            "onBreak" => Some(AgentStatus::OnBreak),
            _ => None,
        }
    }
}

/// One agent: a line of the account that answers queue calls. The simulated account's two
/// hunting services share their agents (one per line, listed under both).
#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub(super) id: i64,
    pub(super) line: usize,
    pub(super) description: Option<String>,
    pub(super) status: AgentStatus,
    pub(super) break_status: Option<i64>,
    pub(super) timeout: i64,
    pub(super) wrap_up: i64,
    pub(super) simultaneous: i64,
    /// Offers ringing now, and queue calls in progress (from the events emitted).
    pub(super) offers: u32,
    pub(super) talking: u32,
    /// The live status last worked out, and since when (traffic time, ns).
    pub(super) live: &'static str,
    pub(super) changed_ns: i64,
    /// Today's answered queue calls and their talk time (s).
    pub(super) answered: u64,
    pub(super) talk_s: u64,
}

impl Agent {
    /// `OvhPabxHuntingLiveAgentStatusEnum`: the configured status first, then what the
    /// traffic says.
    fn live_status(&self) -> &'static str {
        match self.status {
            AgentStatus::LoggedOut => "loggedOut",
            AgentStatus::OnBreak => "onBreak",
            AgentStatus::Available if self.talking > 0 => "inAQueueCall",
            AgentStatus::Available if self.offers > 0 => "receiving",
            AgentStatus::Available => "waiting",
        }
    }

    /// Works the live status out again; a change restarts its timer.
    pub(super) fn refresh(&mut self, now_ns: i64) {
        let live = self.live_status();
        if live != self.live {
            self.live = live;
            self.changed_ns = now_ns;
        }
    }

    /// Whether the queues may offer it callers.
    pub(super) fn away(&self) -> bool {
        self.status != AgentStatus::Available
    }
}

/// An agent in a queue, at a position (`OvhPabxHuntingAgentQueue`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Member {
    pub(super) agent: usize,
    pub(super) position: i64,
}

/// A break status (`OvhPabxCustomStatus`).
#[derive(Debug, Clone)]
pub(super) struct CustomStatus {
    pub(super) id: i64,
    pub(super) name: &'static str,
    pub(super) description: &'static str,
    pub(super) color: &'static str,
}

/// The two break statuses every hunting service of the simulated account has.
pub(super) const CUSTOM_STATUSES: [CustomStatus; 2] = [
    CustomStatus {
        id: 1001,
        name: "Pause",
        description: "Pause",
        color: "#f5a623",
    },
    CustomStatus {
        id: 1002,
        name: "Réunion",
        description: "Meeting",
        color: "#4a90e2",
    },
];

/// The billing account's event token, created by `POST …/eventToken`.
#[derive(Debug, Clone)]
pub(super) struct EventToken {
    pub(super) token: String,
    /// API time (ns) after which it is no longer valid; `None`: unlimited.
    pub(super) expires_ns: Option<i64>,
}

/// A live-call action's outcome (`telephony.Task`).
#[derive(Debug, Clone)]
pub(super) struct Task {
    pub(super) id: i64,
    pub(super) action: String,
    pub(super) error: Option<&'static str>,
}

impl Task {
    pub(super) fn to_json(&self) -> Value {
        json!({
            "taskId": self.id,
            "action": self.action,
            "status": if self.error.is_some() { "error" } else { "done" },
            "message": self.error,
            "objectCreated": null,
            "serviceType": "alias",
        })
    }
}

/// Everything the REST fake keeps.
#[derive(Debug, Default)]
pub(crate) struct RestState {
    /// The billing account's name in the API (`sm<id>-ovh-1`).
    pub(super) ba: String,
    pub(super) keys: SimApiKeys,
    pub(super) application_id: i64,
    pub(super) credentials: Vec<Credential>,
    pub(super) next_credential: i64,
    /// Per consumer key, when its signed requests of the last minute came (API time, ns).
    pub(super) recent: HashMap<String, VecDeque<i64>>,
    pub(super) agents: Vec<Agent>,
    /// Per queue of the account, its agents.
    pub(super) members: Vec<Vec<Member>>,
    pub(super) event_token: Option<EventToken>,
    pub(super) tasks: VecDeque<Task>,
    pub(super) next_task: i64,
    pub(super) live: Live,
    /// Failures to answer with, and for how many more requests.
    pub(crate) fault: Option<(RestFault, u32)>,
    pub(crate) refuse_signatures: bool,
    pub(crate) queries: u64,
    /// Signed requests a consumer key may make in a rolling minute (`SimConfig::rest_rate`).
    pub(crate) rate_limit: usize,
}

impl RestState {
    /// The state of a fresh simulator of `account`, its traffic starting at `start_ns`.
    pub(crate) fn new(account: &SimAccount, start_ns: i64) -> RestState {
        let mut lines: Vec<usize> = account
            .queues
            .iter()
            .flat_map(|q| q.agents.iter().copied())
            .collect();
        lines.sort_unstable();
        lines.dedup();
        let agents: Vec<Agent> = lines
            .into_iter()
            .map(|line| {
                let l = &account.lines[line];
                Agent {
                    id: 1_000_000 + l.id.parse::<i64>().unwrap_or(line as i64),
                    line,
                    description: Some(l.description.clone()),
                    status: AgentStatus::Available,
                    break_status: None,
                    timeout: 20,
                    wrap_up: 0,
                    simultaneous: 1,
                    offers: 0,
                    talking: 0,
                    live: "waiting",
                    changed_ns: start_ns,
                    answered: 0,
                    talk_s: 0,
                }
            })
            .collect();
        let members = account
            .queues
            .iter()
            .map(|q| {
                q.agents
                    .iter()
                    .enumerate()
                    .filter_map(|(i, l)| {
                        let agent = agents.iter().position(|a| a.line == *l)?;
                        Some(Member {
                            agent,
                            position: i as i64 + 1,
                        })
                    })
                    .collect()
            })
            .collect();
        let keys = account.api_keys();
        let mut state = RestState {
            ba: billing_account_name(account),
            application_id: 100_000 + account.billing_account.parse::<i64>().unwrap_or(0),
            keys,
            agents,
            members,
            live: Live::new(account, start_ns),
            next_credential: 1,
            next_task: 1,
            rate_limit: super::auth::RATE_LIMIT,
            ..RestState::default()
        };
        state.add_prevalidated(start_ns);
        state
    }

    /// The traffic starts at `start_ns`: live figures and statuses count from then.
    pub(crate) fn started(&mut self, start_ns: i64) {
        self.live.last_reset_ns = start_ns;
        for a in &mut self.agents {
            a.changed_ns = start_ns;
        }
    }

    /// The lines queue `q` offers callers to, in position order.
    pub(super) fn member_lines(&self, q: usize) -> Vec<usize> {
        self.members[q]
            .iter()
            .map(|m| self.agents[m.agent].line)
            .collect()
    }

    /// Records a live-call action's outcome; the oldest tasks are forgotten past `MAX_TASKS`.
    pub(super) fn add_task(&mut self, action: &str, error: Option<&'static str>) -> Task {
        let task = Task {
            id: self.next_task,
            action: action.to_string(),
            error,
        };
        self.next_task += 1;
        self.tasks.push_back(task.clone());
        if self.tasks.len() > MAX_TASKS {
            self.tasks.pop_front();
        }
        task
    }

    /// The event token the feed accepts for the whole billing account, if one is valid.
    fn feed_token(&self, api_ns: i64) -> Option<&str> {
        self.event_token
            .as_ref()
            .filter(|t| t.expires_ns.map_or(true, |e| api_ns < e))
            .map(|t| t.token.as_str())
    }

    /// Whether the feed should accept `token` (normalised) as one the REST API created.
    pub(crate) fn knows_feed_token(&self, token: &str, api_ns: i64) -> bool {
        self.feed_token(api_ns) == Some(token)
    }

    /// Adds the REST-created billing-account token to the recipients of an event that the
    /// account's own billing-account token receives.
    pub(crate) fn widen(&self, tokens: &mut Vec<String>, account: &SimAccount, api_ns: i64) {
        if let Some(t) = self.feed_token(api_ns) {
            if tokens.contains(&account.account_token) && !tokens.iter().any(|x| x == t) {
                tokens.push(t.to_string());
            }
        }
    }

    /// The `X-Ovh-Queryid` of the next answer.
    pub(super) fn query_id(&mut self) -> String {
        self.queries += 1;
        format!(
            "EU.ext-sim.{:08x}.{}.{}",
            self.application_id, self.queries, self.ba
        )
    }

    /// A failure a test asked for, if any is left: counts this answer against it.
    pub(super) fn take_fault(&mut self) -> Option<RestFault> {
        let (fault, left) = self.fault.as_mut()?;
        let fault = *fault;
        *left = left.saturating_sub(1);
        if *left == 0 {
            self.fault = None;
        }
        Some(fault)
    }
}

/// `sm<billing account id>-ovh-1`: the shape of OVH's names (`xx12345-ovh-1`).
pub(crate) fn billing_account_name(account: &SimAccount) -> String {
    format!("sm{}-ovh-1", account.billing_account)
}
