//! The traffic generator: a pure, deterministic source of believable OVH telephony events.
//!
//! It does no I/O and never reads the clock: it is given a start time and a seed, and yields a
//! time-ordered, endless stream of API v1-shaped events (without `Token`, which the server adds
//! per token). The same seed and start give the same stream, so tests and benchmarks can replay
//! it, and the HTTP server can pace the very same stream on the wall clock.
//!
//! How it works: calls *arrive* as a Poisson process (`rate_per_min`). When a call arrives, its
//! whole life is planned at once (ringing, answer, hang-up, queue offers…) and its events are put
//! in a priority queue keyed by time. An event is only handed out once every arrival that could
//! precede it has been planned, so the output is ordered. Values that depend on what happened
//! before — the `Count` of callers in a queue — are filled in when the event is handed out,
//! which keeps them right even when the lives of several callers interleave.
//!
//! The `Scenario` sets the kind of day: how patient queue callers are and how fast an agent
//! picks up (waits exponential around a mean). A caller meant to be answered while every agent
//! is busy waits on until one is free, or gives up at the queue's longest wait.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::TimeZone;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::account::{uuid_from, SimAccount};
use super::SimConfig;

/// Salt mixed into the seed for the traffic, distinct from the account's.
const TRAFFIC_SALT: u64 = 0x7A_FF1C_0000_0002;
const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
/// How long a queue lets an agent's phone ring before giving up on that offer (`NO_ANSWER`).
const AGENT_RING_TIMEOUT: i64 = 20 * S;

/// One generated event and who may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    /// When OVH emits it (the event's `Timestamp`), nanoseconds since 1970.
    pub at_unix_ns: i64,
    /// The tokens whose sessions receive it (upper-case). An event about the line the line token
    /// covers goes to both tokens.
    pub tokens: Vec<String>,
    /// The event in API v1 shape, without `Token` (the server adds it per token).
    pub event: Value,
}

/// Generates `count` events from `start_unix_ns` on, for the account and traffic of `config`.
/// Instant: nothing waits on the clock. Same arguments, same events.
pub fn generate(config: &SimConfig, start_unix_ns: i64, count: usize) -> Vec<SimEvent> {
    TrafficGen::new(config, start_unix_ns).take(count).collect()
}

/// What the queue counter must do when an event is handed out.
#[derive(Debug, Clone, Copy)]
enum CountOp {
    /// A caller joined (`member-queue-start`): add one, then write `Count`.
    Join(usize),
    /// A caller left (`member-queue-end`): remove one, then write `Count`.
    Leave(usize),
    /// Write the current `Count` (`members-count`).
    Read(usize),
}

/// An event planned for the future.
#[derive(Debug)]
struct Pending {
    at: i64,
    /// Planning order: breaks ties between events of the same nanosecond deterministically.
    seq: u64,
    tokens: Vec<String>,
    event: Value,
    count: Option<CountOp>,
    /// A `registered` event: when handed out, the next registration of that line is planned.
    reregister: Option<usize>,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The incremental generator. Iterate it (it never ends), or use [`TrafficGen::peek_time`] and
/// [`TrafficGen::next_event`] to pace it on a clock.
#[derive(Debug)]
pub struct TrafficGen {
    account: SimAccount,
    rng: StdRng,
    /// Mean time between two call arrivals, ns; `None` when the rate is zero (registrations only).
    mean_gap_ns: Option<f64>,
    next_arrival: i64,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    /// Per line, the intervals `[from, to)` during which it carries (or rings for) a call: keeps
    /// calls within the line's `SimultaneousLine`.
    busy: Vec<Vec<(i64, i64)>>,
    /// Callers in each queue right now (between their member-queue-start and member-queue-end).
    waiting: Vec<i64>,
    scenario: super::Scenario,
}

/// Line-event fields shared by the events of one call leg.
struct Leg<'a> {
    line: usize,
    call_id: &'a str,
    calling: &'a str,
    called: &'a str,
}

impl TrafficGen {
    /// A generator for the account of `config.seed`, starting at `start_unix_ns`.
    pub fn new(config: &SimConfig, start_unix_ns: i64) -> Self {
        Self::with_account(SimAccount::from_seed(config.seed), config, start_unix_ns)
    }

    /// A generator for a given account (the server shares its account with the generator).
    pub fn with_account(account: SimAccount, config: &SimConfig, start_unix_ns: i64) -> Self {
        let rng = StdRng::seed_from_u64(config.seed ^ TRAFFIC_SALT);
        let rate = config.rate_per_min * config.scenario.rate_factor();
        let mean_gap_ns = (rate.is_finite() && rate > 0.0).then(|| 60e9 / rate);
        let lines = account.lines.len();
        let queues = account.queues.len();
        let mut gen = TrafficGen {
            account,
            rng,
            mean_gap_ns,
            next_arrival: start_unix_ns,
            heap: BinaryHeap::new(),
            seq: 0,
            busy: vec![Vec::new(); lines],
            waiting: vec![0; queues],
            scenario: config.scenario,
        };
        gen.next_arrival = match gen.mean_gap_ns {
            Some(_) => start_unix_ns + gen.arrival_gap(),
            None => i64::MAX,
        };
        // Phones register shortly after start (as after a restart), one after the other.
        for line in 0..lines {
            let at = start_unix_ns + line as i64 * S + gen.rng.gen_range(0..800 * MS);
            gen.plan_registration(line, at);
        }
        gen
    }

    /// The account whose traffic this is.
    pub fn account(&self) -> &SimAccount {
        &self.account
    }

    /// When the next event will happen (its `Timestamp`).
    pub fn peek_time(&mut self) -> i64 {
        self.plan_until_ready();
        self.heap.peek().map(|p| p.0.at).unwrap_or(i64::MAX)
    }

    /// The next event, in time order.
    pub fn next_event(&mut self) -> SimEvent {
        self.plan_until_ready();
        let Reverse(p) = self
            .heap
            .pop()
            .expect("registrations keep the schedule non-empty");
        self.render(p)
    }

    /// Plans arrivals until no arrival can come before the earliest planned event.
    fn plan_until_ready(&mut self) {
        loop {
            match self.heap.peek() {
                Some(Reverse(p)) if p.at <= self.next_arrival => return,
                _ => {}
            }
            if self.next_arrival == i64::MAX {
                return;
            }
            let t0 = self.next_arrival;
            self.plan_call(t0);
            self.next_arrival = t0 + self.arrival_gap();
        }
    }

    /// Time to the next call arrival: exponential (Poisson arrivals), at least 1 ms.
    fn arrival_gap(&mut self) -> i64 {
        let mean = self.mean_gap_ns.unwrap_or(f64::INFINITY);
        let u: f64 = self.rng.gen_range(0.0..1.0);
        (-(1.0 - u).ln() * mean).clamp(MS as f64, 3600e9) as i64
    }

    /// Fills in what depends on the moment the event is handed out: queue counts, OVH's own
    /// timing fields, and the next registration.
    fn render(&mut self, p: Pending) -> SimEvent {
        let Pending {
            at,
            tokens,
            mut event,
            count,
            reregister,
            ..
        } = p;
        if let Some(op) = count {
            let (q, d) = match op {
                CountOp::Join(q) => (q, 1),
                CountOp::Leave(q) => (q, -1),
                CountOp::Read(q) => (q, 0),
            };
            self.waiting[q] = (self.waiting[q] + d).max(0);
            event["Data"]["Count"] = Value::String(self.waiting[q].to_string());
        }
        // TsGet: when OVH saw the packet, a few tens of ms before it emitted the event.
        let ts_get = at - self.rng.gen_range(10..80) * MS - self.rng.gen_range(0..1000) * 1000;
        event["Data"]["TsGet"] = json!(ts_get);
        event["Data"]["Ts"] = json!((ts_get / 1000) as f64 / 1e6);
        event["Timestamp"] = json!(at);
        event["Date"] = json!(ovh_date(at));
        if let Some(line) = reregister {
            let next = at + self.rng.gen_range(5 * 60..15 * 60) * S;
            self.plan_registration(line, next);
        }
        SimEvent {
            at_unix_ns: at,
            tokens,
            event,
        }
    }

    fn push(&mut self, at: i64, ressource: &str, event: Value, count: Option<CountOp>) {
        self.push_with(at, ressource, event, count, None);
    }

    fn push_with(
        &mut self,
        at: i64,
        ressource: &str,
        event: Value,
        count: Option<CountOp>,
        reregister: Option<usize>,
    ) {
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            at,
            seq: self.seq,
            tokens: self.account.tokens_for(ressource),
            event,
            count,
            reregister,
        }));
    }

    fn plan_registration(&mut self, line: usize, at: i64) {
        let number = self.account.lines[line].number.clone();
        let call_id = self.call_id();
        let cseq = format!("{} REGISTER", self.rng.gen_range(100..999));
        let mut ev = self.line_event(
            &Leg {
                line,
                call_id: &call_id,
                calling: &number,
                called: &number,
            },
            "registered",
            "SIP/2.0 200 OK",
        );
        ev["Data"]["Cseq"] = json!(cseq);
        self.push_with(at, &number, ev, None, Some(line));
    }

    // ---- call planning ------------------------------------------------------------------

    fn plan_call(&mut self, t0: i64) {
        for v in &mut self.busy {
            v.retain(|&(_, to)| to > t0);
        }
        let roll: f64 = self.rng.gen_range(0.0..1.0);
        match roll {
            r if r < 0.24 => self.incoming(t0, true),
            r if r < 0.34 => self.incoming(t0, false),
            r if r < 0.52 => self.outgoing(t0, true),
            r if r < 0.60 => self.outgoing(t0, false),
            r if r < 0.68 => self.internal(t0),
            _ => self.queue_call(t0),
        }
    }

    fn incoming(&mut self, t0: i64, answered: bool) {
        let ring = self.ring();
        let talk = if answered { self.talk() } else { 0 };
        let end = t0 + ring + talk;
        // MGCP lines give no events for missed calls: only answered calls go there.
        let candidates: Vec<usize> = (0..self.account.lines.len())
            .filter(|&l| answered || self.account.lines[l].service != "mgcp")
            .collect();
        let Some(line) = self.pick_free_line(&candidates, t0, end, true) else {
            return;
        };
        self.occupy(line, t0, end);
        let caller = self.external_number();
        let number = self.account.lines[line].number.clone();
        let call_id = self.call_id();
        let leg = Leg {
            line,
            call_id: &call_id,
            calling: &caller,
            called: &number,
        };
        self.ring_leg(&leg, t0);
        if answered {
            self.answer_leg(&leg, t0 + ring, false);
            self.hangup_leg(&leg, end);
        } else {
            self.cancel_leg(&leg, t0 + ring);
        }
    }

    fn outgoing(&mut self, t0: i64, answered: bool) {
        let ring = self.ring();
        let talk = if answered { self.talk() } else { 0 };
        let end = t0 + ring + talk;
        let candidates: Vec<usize> = (0..self.account.lines.len()).collect();
        let Some(line) = self.pick_free_line(&candidates, t0, end, false) else {
            return;
        };
        self.occupy(line, t0, end);
        let callee = self.external_number();
        let number = self.account.lines[line].number.clone();
        let call_id = self.call_id();
        let leg = Leg {
            line,
            call_id: &call_id,
            calling: &number,
            called: &callee,
        };
        self.ring_leg(&leg, t0);
        if answered {
            // Both orders of start_calling / end_ringing occur on outgoing calls.
            let calling_first = self.rng.gen_bool(0.5);
            self.answer_leg(&leg, t0 + ring, calling_first);
            self.hangup_leg(&leg, end);
        } else {
            self.cancel_leg(&leg, t0 + ring);
        }
    }

    /// One line of the account calls another: the same CallId on both, each its own events.
    fn internal(&mut self, t0: i64) {
        let answered = self.rng.gen_bool(0.85);
        let ring = self.ring();
        let talk = if answered { self.talk() } else { 0 };
        let end = t0 + ring + talk;
        let all: Vec<usize> = (0..self.account.lines.len()).collect();
        let Some(a) = self.pick_free_line(&all, t0, end, false) else {
            return;
        };
        let others: Vec<usize> = all.into_iter().filter(|&l| l != a).collect();
        let Some(b) = self.pick_free_line(&others, t0, end, false) else {
            return;
        };
        self.occupy(a, t0, end);
        self.occupy(b, t0, end);
        let na = self.account.lines[a].number.clone();
        let nb = self.account.lines[b].number.clone();
        let call_id = self.call_id();
        let legs = [
            Leg {
                line: a,
                call_id: &call_id,
                calling: &na,
                called: &nb,
            },
            Leg {
                line: b,
                call_id: &call_id,
                calling: &na,
                called: &nb,
            },
        ];
        for leg in &legs {
            self.ring_leg(leg, t0);
        }
        for leg in &legs {
            if answered {
                self.answer_leg(leg, t0 + ring, false);
                self.hangup_leg(leg, end);
            } else {
                self.cancel_leg(leg, t0 + ring);
            }
        }
    }

    /// A caller dials a queue: joins, is offered to the free agents all at once (ring-all), in
    /// rounds of [`AGENT_RING_TIMEOUT`], until an agent answers, the caller hangs up, or the
    /// queue's longest wait is reached.
    fn queue_call(&mut self, t0: i64) {
        let q = if self.rng.gen_bool(0.6) { 0 } else { 1 };
        let queue = self.account.queues[q].clone();
        let max_wait = queue.max_wait_s as i64 * S;
        #[derive(PartialEq, Clone, Copy)]
        enum Outcome {
            Answered,
            BreakOut,
            Timeout,
        }
        // The scenario decides how patient callers are and how fast agents answer: waits are
        // exponential around its mean (most short, a few long), as in a staffed call centre.
        let (patience, mean_wait_s) = self.scenario.queue_patience();
        let roll: f64 = self.rng.gen_range(0.0..1.0);
        let mut outcome = match roll {
            r if r < patience => Outcome::Answered,
            r if r < patience + (1.0 - patience) * 0.6 => Outcome::BreakOut,
            _ => Outcome::Timeout,
        };
        let talk = self.talk();
        let answer_wait = |gen: &mut Self| {
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
                    && !queue
                        .agents
                        .iter()
                        .any(|&l| self.is_free(l, round_start(at), at + talk))
                {
                    at += 5 * S;
                }
                at.min(t0 + max_wait - S)
            }
            Outcome::BreakOut => t0 + self.rng.gen_range(3 * S..max_wait - 2 * S),
            Outcome::Timeout => t0 + max_wait,
        };

        // Plan the offer rounds: [start, end) with the agents free over it.
        struct Round {
            start: i64,
            end: i64,
            agents: Vec<usize>,
        }
        let mut rounds: Vec<Round> = Vec::new();
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
            let agents: Vec<usize> = queue
                .agents
                .iter()
                .copied()
                .filter(|&l| self.is_free(l, start, span_end))
                .collect();
            rounds.push(Round { start, end, agents });
            start = end + 2 * S;
        }
        if outcome == Outcome::Answered && !rounds.last().is_some_and(|r| !r.agents.is_empty()) {
            // Nobody could take the call: the caller gives up at the same moment instead.
            outcome = Outcome::BreakOut;
        }
        if outcome != Outcome::Answered {
            stop = stop.max(t0 + 2 * S);
        }

        let caller = self.external_number();
        let member_uuid = uuid_from(&mut self.rng);
        let session_uuid = uuid_from(&mut self.rng);
        let base = |action: &str| -> Map<String, Value> {
            let mut m = Map::new();
            m.insert("QueueMemberUUID".into(), json!(member_uuid));
            m.insert("QueueMemberSessionUUID".into(), json!(session_uuid));
            m.insert("Calling".into(), json!(caller));
            m.insert("QueueMemberCIDNumber".into(), json!(caller));
            m.insert("QueueMemberCIDName".into(), json!(caller));
            m.insert("QueueMemberDNIS".into(), json!(queue.number));
            m.insert("Queue".into(), json!(format!("{}@queues", queue.number)));
            m.insert("QueueMemberJoinedTime".into(), json!(epoch_s(t0)));
            m.insert("Protocol".into(), json!("sip"));
            m.insert("Action".into(), json!(action));
            m.insert("Event".into(), json!(action));
            m
        };
        let names: Vec<(usize, String)> = queue
            .agents
            .iter()
            .enumerate()
            .map(|(i, &l)| {
                (
                    l,
                    format!("agent_{}_{}", self.account.lines[l].number, i + 1),
                )
            })
            .collect();
        let agent_name = |line: usize| -> String {
            names
                .iter()
                .find(|(l, _)| *l == line)
                .map(|(_, n)| n.clone())
                .unwrap_or_default()
        };

        self.push_queue(q, t0, base("member-queue-start"), Some(CountOp::Join(q)));
        self.push_queue(q, t0 + MS, base("members-count"), Some(CountOp::Read(q)));

        let nrounds = rounds.len();
        for (i, round) in rounds.into_iter().enumerate() {
            let last = i + 1 == nrounds;
            let answered_round = last && outcome == Outcome::Answered;
            let winner = answered_round.then(|| {
                let k = self.rng.gen_range(0..round.agents.len());
                round.agents[k]
            });
            let mut legs = Vec::new();
            for (k, &line) in round.agents.iter().enumerate() {
                let at = round.start + k as i64 * 10 * MS;
                let mut d = base("agent-offering");
                d.insert("QueueAgent".into(), json!(agent_name(line)));
                d.insert("QueueAgentUUID".into(), json!(uuid_from(&mut self.rng)));
                d.insert("QueueAgentSystem".into(), json!("single_box"));
                d.insert("QueueAgentCalledTime".into(), json!(epoch_s(round.start)));
                self.push_queue(q, at, d, None);
                // The agent's own phone rings: a call from the queue number.
                let call_id = self.call_id();
                legs.push((line, call_id, at));
            }
            let fail_at = if answered_round {
                round.end + 20 * MS
            } else if last {
                stop - 50 * MS
            } else {
                round.end
            };
            for (line, call_id, at) in &legs {
                let number = self.account.lines[*line].number.clone();
                let leg = Leg {
                    line: *line,
                    call_id,
                    calling: &queue.number,
                    called: &number,
                };
                self.ring_leg(&leg, *at);
                let mut d = base("bridge-agent-fail");
                d.insert("QueueAgent".into(), json!(agent_name(*line)));
                d.insert("QueueAgentSystem".into(), json!("single_box"));
                d.insert("QueueAgentCalledTime".into(), json!(epoch_s(round.start)));
                if Some(*line) == winner {
                    let answer = round.end;
                    let end = answer + talk;
                    self.occupy(*line, *at, end);
                    let mut s = base("bridge-agent-start");
                    s.insert("QueueAgentAnsweredTime".into(), json!(epoch_s(answer)));
                    s.insert("QueueAgent".into(), json!(agent_name(*line)));
                    s.insert("QueueAgentSystem".into(), json!("single_box"));
                    s.insert("QueueAgentCalledTime".into(), json!(epoch_s(round.start)));
                    self.push_queue(q, answer, s, None);
                    self.answer_leg(&leg, answer, false);
                    let mut e = base("bridge-agent-end");
                    e.insert("QueueAgentAnsweredTime".into(), json!(epoch_s(answer)));
                    e.insert("QueueBridgeTerminatedTime".into(), json!(epoch_s(end)));
                    e.insert("QueueHangupCause".into(), json!("NORMAL_CLEARING"));
                    e.insert("QueueAgent".into(), json!(agent_name(*line)));
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
                self.occupy(*line, *at, fail_at);
                self.push_queue(q, fail_at, d, None);
                self.cancel_leg(&leg, fail_at);
            }
        }
        if outcome != Outcome::Answered {
            let reason = if outcome == Outcome::Timeout {
                "TIMEOUT"
            } else {
                "BREAK_OUT"
            };
            let mut m = base("member-queue-end");
            m.insert("QueueCause".into(), json!("Cancel"));
            m.insert("QueueCancelReason".into(), json!(reason));
            m.insert("QueueMemberLeavingTime".into(), json!(epoch_s(stop)));
            self.push_queue(q, stop, m, Some(CountOp::Leave(q)));
            self.push_queue(
                q,
                stop + 10 * MS,
                base("members-count"),
                Some(CountOp::Read(q)),
            );
        }
    }

    // ---- line legs ------------------------------------------------------------------------

    fn ring_leg(&mut self, leg: &Leg, at: i64) {
        let ev = self.line_event(leg, "start_ringing", "SIP/2.0 180 Ringing");
        self.push_line(leg.line, at, ev);
    }

    /// Answer: end_ringing and start_calling 10 ms apart, in either order.
    fn answer_leg(&mut self, leg: &Leg, at: i64, calling_first: bool) {
        let ring_end = self.line_event(leg, "end_ringing", "SIP/2.0 200 OK");
        let talk_start = self.line_event(leg, "start_calling", "SIP/2.0 200 OK");
        let (first, second) = if calling_first {
            (talk_start, ring_end)
        } else {
            (ring_end, talk_start)
        };
        self.push_line(leg.line, at, first);
        self.push_line(leg.line, at + 10 * MS, second);
    }

    fn hangup_leg(&mut self, leg: &Leg, at: i64) {
        let body = format!("BYE sip:{} SIP/2.0", leg.calling);
        let ev = self.line_event(leg, "end_calling", &body);
        self.push_line(leg.line, at, ev);
    }

    fn cancel_leg(&mut self, leg: &Leg, at: i64) {
        let body = format!("CANCEL sip:{} SIP/2.0", leg.called);
        let ev = self.line_event(leg, "end_ringing", &body);
        self.push_line(leg.line, at, ev);
    }

    fn line_event(&self, leg: &Leg, event: &str, body: &str) -> Value {
        let line = &self.account.lines[leg.line];
        json!({
            "Data": {
                "CallId": leg.call_id,
                "Calling": leg.calling,
                "Called": leg.called,
                "Dialed": leg.called,
                "Billing": line.number,
                "Protocol": line.service,
                "Cseq": "102 INVITE",
                "RelevantInfo": "",
                "Body": body,
                "Event": event,
            },
            "Details": self.account.line_details(leg.line),
            "Event": event,
            "Ressource": line.number,
            "Service": line.service,
        })
    }

    fn push_line(&mut self, line: usize, at: i64, ev: Value) {
        let number = self.account.lines[line].number.clone();
        self.push(at, &number, ev, None);
    }

    fn push_queue(&mut self, q: usize, at: i64, data: Map<String, Value>, count: Option<CountOp>) {
        let queue = &self.account.queues[q];
        let event = data["Event"].clone();
        let ev = json!({
            "Data": Value::Object(data),
            "Details": self.account.queue_details(q),
            "Event": event,
            "Ressource": queue.number,
            "Service": "queues",
        });
        let number = queue.number.clone();
        self.push(at, &number, ev, count);
    }

    // ---- capacity and random values -------------------------------------------------------

    fn is_free(&self, line: usize, from: i64, to: i64) -> bool {
        let overlapping = self.busy[line]
            .iter()
            .filter(|&&(a, b)| a < to && from < b)
            .count();
        overlapping < self.account.lines[line].simultaneous as usize
    }

    fn occupy(&mut self, line: usize, from: i64, to: i64) {
        self.busy[line].push((from, to));
    }

    /// A free line among `candidates`; incoming calls favour the first line (the reception
    /// desk), which makes its two channels overlap now and then as in real life.
    fn pick_free_line(
        &mut self,
        candidates: &[usize],
        from: i64,
        to: i64,
        favour_first: bool,
    ) -> Option<usize> {
        let free: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&l| self.is_free(l, from, to))
            .collect();
        if free.is_empty() {
            return None;
        }
        if favour_first && free.contains(&0) && self.rng.gen_bool(0.45) {
            return Some(0);
        }
        Some(free[self.rng.gen_range(0..free.len())])
    }

    fn ring(&mut self) -> i64 {
        self.rng.gen_range(2 * S..20 * S)
    }

    /// 10–120 s, most calls short (a mean of 47 s: a small team's lines and queues are then
    /// busy a good part of the time without being overrun at the default rate).
    fn talk(&mut self) -> i64 {
        let u: f64 = self.rng.gen_range(0.0..1.0);
        10 * S + (u * u * 110e9) as i64
    }

    fn call_id(&mut self) -> String {
        let b: [u8; 12] = self.rng.gen();
        let mut s: String = b.iter().map(|x| format!("{x:02x}")).collect();
        s.push('.');
        s
    }

    /// A French number outside the account: mobiles mostly, some land lines.
    fn external_number(&mut self) -> String {
        let prefix =
            ["336", "337", "331", "332", "334", "335", "336", "337"][self.rng.gen_range(0..8)];
        format!("00{}{:08}", prefix, self.rng.gen_range(0..100_000_000u32))
    }
}

impl Iterator for TrafficGen {
    type Item = SimEvent;
    fn next(&mut self) -> Option<SimEvent> {
        Some(self.next_event())
    }
}

/// Epoch seconds as a string, the way the queue `…Time` fields carry them.
fn epoch_s(ns: i64) -> String {
    ns.div_euclid(S).to_string()
}

/// OVH's `Date`: Paris local time, microseconds, and the zone's abbreviation in brackets
/// (`2024-11-26T10:20:00.000000 (CET)`).
pub(crate) fn ovh_date(ns: i64) -> String {
    let utc = chrono::Utc.timestamp_nanos(ns);
    utc.with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%dT%H:%M:%S%.6f (%Z)")
        .to_string()
}
