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
//!
//! The REST fake (`super::rest`) can steer it: which agents each queue may offer callers to
//! (`TrafficGen::set_away`, `TrafficGen::set_members`), and calls it places or changes
//! (click-to-call, a supervisor listening in, a hang-up, a transfer: see `actions`). A queue
//! caller's life is kept as a plan (`queue`) while the caller is in the queue, so that such a
//! change re-plans what has not happened yet. Left alone, the output is the same as ever.

mod actions;
mod queue;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use chrono::TimeZone;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

use super::account::{uuid_from, SimAccount};
use super::SimConfig;

use queue::CallerPlan;
pub(crate) use queue::PlacedCaller;

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
    /// The queue caller's plan this event belongs to: a re-plan replaces its future events.
    tag: Option<u64>,
    /// The caller's `member-queue-end`: once it is handed out, the plan is over.
    closes: bool,
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
    /// Per queue, the lines of its agents in offering order (the account's, until the REST
    /// API changes them).
    members: Vec<Vec<usize>>,
    /// Per line: logged out or on a break, so not offered queue callers.
    away: Vec<bool>,
    /// The queue callers still in a queue, by plan id (ordered: re-plans draw in a fixed order).
    plans: BTreeMap<u64, CallerPlan>,
    next_plan: u64,
    /// While a plan is rendered: its id, for the events' `tag`.
    tagging: Option<u64>,
    /// While a plan is re-rendered: events at or before this time are not pushed again (they
    /// are handed out already, or still pending unchanged).
    floor: i64,
    /// The time of the last event handed out: nothing new is planned before it.
    last_out: i64,
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
        let members = account.queues.iter().map(|q| q.agents.clone()).collect();
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
            members,
            away: vec![false; lines],
            plans: BTreeMap::new(),
            next_plan: 0,
            tagging: None,
            floor: i64::MIN,
            last_out: i64::MIN,
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
            tag,
            closes,
            ..
        } = p;
        self.last_out = self.last_out.max(at);
        if let (true, Some(id)) = (closes, tag) {
            self.plans.remove(&id);
        }
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
        if at <= self.floor {
            return;
        }
        self.seq += 1;
        let closes = matches!(count, Some(CountOp::Leave(_)));
        self.heap.push(Reverse(Pending {
            at,
            seq: self.seq,
            tokens: self.account.tokens_for(ressource),
            event,
            count,
            reregister,
            tag: self.tagging,
            closes: closes && self.tagging.is_some(),
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
