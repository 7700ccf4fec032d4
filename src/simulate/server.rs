//! The simulator's HTTP face: OVH's event API v1 (long polling with a session) and v2 (sessions
//! subscribed to tokens), fed in real time by the traffic generator, with faults on demand.
//!
//! Events are queued per session from the moment the session exists, and a poll takes what is
//! queued — so a client that passes its session back misses nothing between two polls, and one
//! that drops it misses what came in between, as with OVH. What OVH does with an answer that
//! never reached its client is unknown; the simulator keeps an answer's events until the client
//! acknowledges them, so that only a client's own mistakes lose events:
//!
//! - v1: the `Session` of an answer is a cursor, `<id>.<n>` (the session and the number of its
//!   last answer with events). A poll passing `<id>.<n>` acknowledges the answers up to `n`; the
//!   events of later ones (sent, but not stored by the client: it crashed, or its store failed)
//!   are sent again. A bare `<id>` acknowledges everything sent.
//! - v2: the next poll of the session acknowledges every answer whose body was sent whole.
//! - Either way, an answer whose body could not be sent whole gives its events back at once,
//!   and a poll superseded by a newer one of the same session (its client gave up on it)
//!   answers nothing.
//!
//! A poll that fails (random `fault_rate`, or a fault injected through [`Faults`]) leaves its
//! events queued for the next one. [`Fault`] lists what can be injected.
//!
//! The same server answers OVH's REST API under `/1.0` (and `/v1`): see [`super::rest`]. The
//! generator lives in the hub so that the REST API can steer it; an event token created there
//! is accepted here like the account's own billing-account token.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};

use super::account::{mask_token, normalize_token, SimAccount};
use super::faults::{Fault, FaultState, Faults};
use super::pace::{wall_ns, Pace};
use super::rest::{self, RestState};
use super::traffic::{SimEvent, TrafficGen};
use super::wire::{Conn, FaultListener, Lines};
use super::SimConfig;

/// At most this many events wait in one session or mailbox; older ones are dropped.
const MAX_QUEUED: usize = 10_000;
/// At most this many events in one poll answer.
const MAX_BATCH: usize = 1_000;
/// A trickled body is sent in about this many pieces.
const TRICKLE_PIECES: usize = 100;

/// Which API a session belongs to, and which tokens it reads.
#[derive(Debug)]
enum Api {
    V1 { token: String },
    V2 { tokens: Vec<String> },
}

/// An answer that carried events, kept until its client acknowledges it.
#[derive(Debug)]
struct Sent {
    number: u64,
    events: Vec<Value>,
    /// Its body was sent whole.
    complete: bool,
}

#[derive(Debug)]
struct Session {
    api: Api,
    /// v1-shaped events, each with the `Token` it came through, not sent yet.
    queue: VecDeque<Value>,
    /// Answers sent and not acknowledged, oldest first.
    sent: VecDeque<Sent>,
    /// The number of the last answer that carried events.
    answers: u64,
    /// The last answer the client acknowledged.
    acked: u64,
    /// Each poll takes a turn; one whose turn has passed answers nothing.
    turn: u64,
    last_seen: Instant,
    /// Polls in progress: a session being polled is never expired.
    polling: usize,
    creation: DateTime<Utc>,
    last_update: DateTime<Utc>,
    last_connection: DateTime<Utc>,
}

impl Session {
    fn new(api: Api) -> Self {
        let now = Utc::now();
        Session {
            api,
            queue: VecDeque::new(),
            sent: VecDeque::new(),
            answers: 0,
            acked: 0,
            turn: 0,
            last_seen: Instant::now(),
            polling: 0,
            creation: now,
            last_update: now,
            last_connection: now,
        }
    }

    fn tokens(&self) -> &[String] {
        match &self.api {
            Api::V1 { token } => std::slice::from_ref(token),
            Api::V2 { tokens } => tokens,
        }
    }

    /// Puts the events of every answer still in `sent` back at the head of the queue, in order.
    fn give_back_all(&mut self) {
        let back: Vec<Value> = self.sent.drain(..).flat_map(|s| s.events).collect();
        for e in back.into_iter().rev() {
            self.queue.push_front(e);
        }
    }

    /// v1: the client stored the answers up to `cursor` (everything, for a bare session id);
    /// the later ones it did not, and get sent again.
    fn ack_v1(&mut self, cursor: Option<u64>) {
        match cursor {
            Some(c) if c <= self.answers => {
                self.sent.retain(|s| s.number > c);
                self.give_back_all();
                self.acked = c;
            }
            _ => {
                self.sent.clear();
                self.acked = self.answers;
            }
        }
    }

    /// v2: the client is back, so it has the answers it received whole; the others are sent
    /// again.
    fn ack_v2(&mut self) {
        self.sent.retain(|s| !s.complete);
        self.give_back_all();
        self.acked = self.answers;
    }
}

/// Queues `e` for a client, dropping the oldest event (counted) beyond `MAX_QUEUED`: a client
/// gone for long must not grow the simulator without bound.
fn push_capped(queue: &mut VecDeque<Value>, e: Value, faults: &mut FaultState) {
    queue.push_back(e);
    if queue.len() > MAX_QUEUED {
        queue.pop_front();
        faults.overflowed += 1;
    }
}

/// The sessions, the mailboxes of rejected ones and the fault state, under one lock.
#[derive(Default)]
pub(crate) struct Ledger {
    sessions: HashMap<String, Session>,
    /// Per token, events of sessions the simulator rejected, for its next session (capped
    /// like a session's queue).
    mailboxes: HashMap<String, VecDeque<Value>>,
    /// Sessions rejected by a fault: a client coming back with one is stale.
    forgotten: HashSet<String>,
    pub(crate) faults: FaultState,
    /// The REST API's state: keys, agents, event token, live figures.
    pub(crate) rest: RestState,
}

impl Ledger {
    /// Queues a generated event in every session whose tokens see it, once per token — or,
    /// for a token whose session was rejected, in its mailbox.
    fn dispatch(&mut self, ev: &SimEvent) {
        let Ledger {
            sessions,
            mailboxes,
            faults,
            ..
        } = self;
        for token in &ev.tokens {
            let mut e = ev.event.clone();
            e["Token"] = Value::String(token.clone());
            let mut queued = false;
            for s in sessions.values_mut().filter(|s| s.tokens().contains(token)) {
                push_capped(&mut s.queue, e.clone(), faults);
                s.last_update = Utc::now();
                queued = true;
            }
            if !queued {
                if let Some(mailbox) = mailboxes.get_mut(token) {
                    push_capped(mailbox, e.clone(), faults);
                    queued = true;
                }
            }
            if queued && faults.recording {
                faults.emitted.entry(token.clone()).or_default().push(e);
            }
        }
    }

    /// Opens a session for `token` — or subscribes one to it — handing it the token's mailbox.
    fn opened(&mut self, token: &str, session: &mut Session) {
        if let Some(mailbox) = self.mailboxes.remove(token) {
            session.queue.extend(mailbox);
        }
        *self
            .faults
            .sessions_created
            .entry(token.to_string())
            .or_default() += 1;
    }

    /// Rejects a session: what it still owed its client goes to its tokens' mailboxes.
    fn forget(&mut self, id: &str) {
        let Some(mut s) = self.sessions.remove(id) else {
            return;
        };
        self.forgotten.insert(id.to_string());
        for t in s.tokens() {
            self.mailboxes.entry(t.clone()).or_default();
        }
        s.give_back_all();
        for e in s.queue {
            let token = e["Token"].as_str().unwrap_or_default().to_string();
            self.mailboxes.entry(token).or_default().push_back(e);
        }
    }

    pub(crate) fn polls_in_progress(&self) -> usize {
        self.sessions.values().map(|s| s.polling).sum()
    }

    pub(crate) fn drained(&self, tokens: &[&str]) -> bool {
        tokens.iter().all(|t| {
            self.mailboxes.get(*t).map_or(true, VecDeque::is_empty)
                && self.sessions.values().any(|s| {
                    s.tokens().iter().any(|x| x == t)
                        && s.polling > 0
                        && s.queue.is_empty()
                        && s.sent.is_empty()
                })
        })
    }
}

/// What the handlers, the generator task, the janitor and the [`Faults`] handle share.
///
/// Locks are taken in this order, never the other way: `traffic`, then `state`; `pace` and
/// `rng` are leaves (nothing else is locked while one of them is held).
pub(crate) struct Hub {
    config: SimConfig,
    pub(crate) account: SimAccount,
    /// The traffic generator, from the moment the server runs: the emitter takes its events
    /// and the REST API steers it.
    pub(crate) traffic: Mutex<Option<TrafficGen>>,
    pub(crate) pace: Mutex<Pace>,
    pub(crate) state: Mutex<Ledger>,
    /// Woken on every change of `state`: polls, the generator and tests wait on it.
    pub(crate) changed: Notify,
    /// For session ids, fault rolls, keys and tokens: these need not be reproducible.
    pub(crate) rng: Mutex<StdRng>,
    shutdown: watch::Receiver<bool>,
    pub(crate) lines: Arc<Lines>,
}

/// Where a waiting poll stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Gone,
    /// A newer poll of the session came: this one's client gave up on it.
    Superseded,
    Down,
    Hang,
    Wait,
    Ready,
}

/// What a poll ends with.
enum Taken {
    /// An answer, and the cursor it leaves the session at.
    Events {
        events: Vec<Value>,
        cursor: u64,
        /// Reports whether the body went out whole.
        delivery: Delivery,
        /// Send the body in pieces spread over this long.
        trickle: Option<Duration>,
    },
    BadGateway,
    Unavailable,
    Truncated(Vec<Value>, u64),
    /// The session vanished while the poll waited (expired or deleted).
    Gone,
    /// A fault threw the session away.
    Rejected(Fault),
    /// Reset the connection, answer nothing.
    Cut,
}

/// One answer on its way: when dropped, it reports whether its body was sent whole (a good
/// answer marks its tokens' recovery); if not, its events go back to the head of the
/// session's queue.
struct Delivery {
    hub: Arc<Hub>,
    session: String,
    /// The answer's number, when it carries events.
    number: Option<u64>,
    tokens: Vec<String>,
    /// When the poll it answers arrived: the moment the client got through.
    asked: Instant,
    /// Made while a fault was in force, or for a client gone: not a sign of recovery.
    faulted: bool,
    /// Part of its body went out a while ago (counted in `FaultState::answering`).
    on_wire: bool,
    done: bool,
}

impl Delivery {
    /// A second piece of the body is about to go: the client has been reading it for a while.
    fn on_the_wire(&mut self) {
        if !self.on_wire {
            self.on_wire = true;
            self.hub.state.lock().faults.answering += 1;
            self.hub.changed.notify_waiters();
        }
    }

    fn sent_whole(&mut self) {
        self.done = true;
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        let mut state = self.hub.state.lock();
        if self.on_wire {
            state.faults.answering -= 1;
        }
        if self.done && !self.faulted {
            state.faults.good_answer(&self.tokens, self.asked);
        }
        let session = state.sessions.get_mut(&self.session);
        if let (Some(s), Some(number)) = (session, self.number) {
            if self.done {
                for sent in s.sent.iter_mut().filter(|x| x.number == number) {
                    sent.complete = true;
                }
            } else if let Some(i) = s.sent.iter().position(|x| x.number == number) {
                let events = s.sent.remove(i).map(|x| x.events).unwrap_or_default();
                for e in events.into_iter().rev() {
                    s.queue.push_front(e);
                }
            }
        }
        drop(state);
        self.hub.changed.notify_waiters();
    }
}

/// Counts a poll in progress on a session, until the poll ends or its client goes away.
struct Polling<'a> {
    hub: &'a Hub,
    id: &'a str,
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.hub.touch(self.id, -1);
        self.hub.changed.notify_waiters();
    }
}

impl Hub {
    fn new_id(&self) -> String {
        let b: [u8; 16] = self.rng.lock().gen();
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Resolves once `check` holds, trying it again after every change.
    pub(crate) async fn watch(&self, mut check: impl FnMut() -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if check() {
                return;
            }
            changed.await;
        }
    }

    /// Hands out the generator's next event, unless the traffic is paused: to the REST API's
    /// live view, and to the sessions of its tokens (the REST-created billing-account token
    /// included).
    fn emit(&self, gen: &mut TrafficGen) -> bool {
        let api_ns = self.pace.lock().api_ns();
        let mut state = self.state.lock();
        if state.faults.paused {
            return false;
        }
        let mut ev = gen.next_event();
        state.rest.observe(&ev, &self.account);
        state.rest.widen(&mut ev.tokens, &self.account, api_ns);
        if state.faults.losing {
            state.faults.lost += 1;
        } else {
            state.dispatch(&ev);
        }
        drop(state);
        self.changed.notify_waiters();
        true
    }

    /// Drops the sessions nobody polled for `session_ttl`.
    fn expire(&self) {
        let ttl = self.config.session_ttl;
        self.state
            .lock()
            .sessions
            .retain(|_, s| s.polling > 0 || s.last_seen.elapsed() < ttl);
    }

    fn touch(&self, id: &str, polling: isize) {
        if let Some(s) = self.state.lock().sessions.get_mut(id) {
            s.polling = s.polling.saturating_add_signed(polling);
            s.last_seen = Instant::now();
            s.last_connection = Utc::now();
        }
    }

    /// The session a v1 poll reads: the one it names (acknowledging what its cursor says), or
    /// a new one.
    fn open_v1(&self, token: &str, wanted: Option<&str>) -> String {
        let wanted = wanted.map(str::trim).filter(|s| !s.is_empty());
        let (wanted, cursor) = match wanted.and_then(|w| w.split_once('.')) {
            Some((id, n)) => (Some(id), n.parse::<u64>().ok()),
            None => (wanted, None),
        };
        let mut state = self.state.lock();
        if let Some(id) = wanted {
            if let Some(s) = state.sessions.get_mut(id) {
                if matches!(&s.api, Api::V1 { token: t } if t == token) {
                    s.ack_v1(cursor);
                    return id.to_string();
                }
            }
            if state.forgotten.contains(id) {
                state.faults.stale_polls += 1;
            }
        }
        let id = self.new_id();
        tracing::info!(token = %mask_token(token), "new v1 session");
        let mut s = Session::new(Api::V1 {
            token: token.to_string(),
        });
        state.opened(token, &mut s);
        state.sessions.insert(id.clone(), s);
        id
    }

    /// A v2 poll: acknowledges what the session's client received. False for an unknown
    /// session.
    fn open_v2(&self, id: &str) -> bool {
        let mut state = self.state.lock();
        match state.sessions.get_mut(id) {
            Some(s) if matches!(s.api, Api::V2 { .. }) => {
                s.ack_v2();
                true
            }
            _ => {
                if state.forgotten.contains(id) {
                    state.faults.stale_polls += 1;
                }
                false
            }
        }
    }

    /// Faults that strike as a poll arrives.
    fn on_arrival(&self, id: &str) -> Option<Taken> {
        let mut state = self.state.lock();
        let fault = state.faults.take(|f| {
            matches!(f, Fault::Down | Fault::Reset | Fault::ServerError) || f.rejects_session()
        })?;
        Some(match fault {
            Fault::ServerError => Taken::Unavailable,
            f if f.rejects_session() => {
                state.forget(id);
                Taken::Rejected(f)
            }
            _ => Taken::Cut,
        })
    }

    /// An answer with nothing in it, at the session's current cursor; `good` unless its
    /// client is gone.
    fn nothing(self: &Arc<Self>, id: &str, asked: Instant, good: bool) -> Taken {
        let state = self.state.lock();
        let Some(s) = state.sessions.get(id) else {
            return Taken::Gone;
        };
        let faulted = !good || state.faults.current().is_some();
        let delivery = self.delivery(id, s, None, asked, faulted);
        Taken::Events {
            events: Vec::new(),
            cursor: s.acked,
            delivery,
            trickle: None,
        }
    }

    fn delivery(
        self: &Arc<Self>,
        id: &str,
        s: &Session,
        number: Option<u64>,
        asked: Instant,
        faulted: bool,
    ) -> Delivery {
        Delivery {
            hub: self.clone(),
            session: id.to_string(),
            number,
            tokens: s.tokens().to_vec(),
            asked,
            faulted,
            on_wire: false,
            done: false,
        }
    }

    /// Long poll: waits for events in session `id` (at most `hold`, not counting a hang),
    /// gathers a little more once the first one is there, then takes them — or fails on
    /// purpose, leaving them queued.
    async fn poll(self: &Arc<Self>, id: &str) -> Taken {
        let asked = Instant::now();
        let turn = {
            let mut state = self.state.lock();
            let Some(s) = state.sessions.get_mut(id) else {
                return Taken::Gone;
            };
            s.turn += 1;
            s.polling += 1;
            s.last_seen = Instant::now();
            s.last_connection = Utc::now();
            s.turn
        };
        let _polling = Polling { hub: self, id };
        // An older poll of this session still waiting has been given up by its client.
        self.changed.notify_waiters();
        if let Some(taken) = self.on_arrival(id) {
            return taken;
        }
        let mut shutdown = self.shutdown.clone();
        let mut deadline = None;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let step = {
                let state = self.state.lock();
                match state.sessions.get(id) {
                    None => Step::Gone,
                    Some(s) if s.turn != turn => Step::Superseded,
                    Some(s) => match state.faults.current() {
                        Some(Fault::Down) => Step::Down,
                        Some(Fault::Hang) => Step::Hang,
                        _ if s.queue.is_empty() => Step::Wait,
                        _ => Step::Ready,
                    },
                }
            };
            match step {
                Step::Gone => return Taken::Gone,
                Step::Superseded => return self.nothing(id, asked, false),
                Step::Down => return Taken::Cut,
                Step::Hang | Step::Wait => {}
                Step::Ready => {
                    if !*shutdown.borrow() {
                        tokio::select! {
                            _ = tokio::time::sleep(self.config.gather) => {}
                            _ = shutdown.wait_for(|v| *v) => {}
                        }
                    }
                    return self.take(id, turn, asked);
                }
            }
            // The hold starts once a hang is over.
            let until = match (step == Step::Hang, deadline) {
                (true, _) => tokio::time::Instant::now() + Duration::from_secs(86_400),
                (false, Some(d)) => d,
                (false, None) => *deadline.insert(tokio::time::Instant::now() + self.config.hold),
            };
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(until) => return self.nothing(id, asked, true),
                _ = shutdown.wait_for(|v| *v) => return self.nothing(id, asked, false),
            }
        }
    }

    fn take(self: &Arc<Self>, id: &str, turn: u64, asked: Instant) -> Taken {
        let roll: f64 = self.rng.lock().gen_range(0.0..1.0);
        let mut state = self.state.lock();
        let Ledger {
            sessions, faults, ..
        } = &mut *state;
        let Some(s) = sessions.get_mut(id) else {
            return Taken::Gone;
        };
        let n = s.queue.len().min(MAX_BATCH);
        if s.turn != turn || n == 0 {
            let good = s.turn == turn;
            drop(state);
            return self.nothing(id, asked, good);
        }
        let fault =
            faults.take(|f| matches!(f, Fault::CutBody | Fault::Replay | Fault::Trickle(_)));
        // A failed answer: the events stay queued for the next poll of this session.
        if fault == Some(Fault::CutBody) {
            return Taken::Truncated(s.queue.iter().take(n).cloned().collect(), s.acked);
        }
        if fault.is_none() && roll < self.config.fault_rate {
            if roll < self.config.fault_rate / 2.0 {
                return Taken::BadGateway;
            }
            return Taken::Truncated(s.queue.iter().take(n).cloned().collect(), s.acked);
        }
        let events: Vec<Value> = s.queue.drain(..n).collect();
        s.answers += 1;
        let number = s.answers;
        if fault == Some(Fault::Replay) {
            for e in events.iter().rev() {
                s.queue.push_front(e.clone());
            }
        } else if !faults.no_resend {
            s.sent.push_back(Sent {
                number,
                events: events.clone(),
                complete: false,
            });
        }
        let faulted = fault.is_some() || faults.current().is_some();
        let delivery = self.delivery(id, s, Some(number), asked, faulted);
        let trickle = match fault {
            Some(Fault::Trickle(spread)) => Some(spread),
            _ => None,
        };
        Taken::Events {
            events,
            cursor: number,
            delivery,
            trickle,
        }
    }
}

/// Builds the shared state and returns the fault handle with the server's future: generator,
/// janitor and HTTP server, until `shutdown`.
pub(crate) fn start(
    config: SimConfig,
    account: SimAccount,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    recording: bool,
) -> (
    Faults,
    impl Future<Output = std::io::Result<()>> + Send + 'static,
) {
    let (tx, rx) = watch::channel(false);
    let mut state = Ledger::default();
    state.faults.recording = recording;
    state.rest = RestState::new(&account, wall_ns());
    state.rest.rate_limit = config.rest_rate;
    let hub = Arc::new(Hub {
        config: config.clone(),
        account: account.clone(),
        traffic: Mutex::new(None),
        pace: Mutex::default(),
        state: Mutex::new(state),
        changed: Notify::new(),
        rng: Mutex::new(StdRng::from_entropy()),
        shutdown: rx.clone(),
        lines: Arc::default(),
    });
    let faults = Faults(hub.clone());
    let serve = async move {
        let start_ns = wall_ns();
        hub.pace.lock().start(start_ns);
        *hub.traffic.lock() = Some(TrafficGen::with_account(account, &config, start_ns));
        hub.state.lock().rest.started(start_ns);
        let generator = tokio::spawn(run_generator(hub.clone()));
        let janitor = {
            let hub = hub.clone();
            tokio::spawn(async move {
                let period = (hub.config.session_ttl / 4).max(Duration::from_millis(100));
                let mut tick = tokio::time::interval(period);
                loop {
                    tick.tick().await;
                    hub.expire();
                }
            })
        };
        let trigger = tokio::spawn(async move {
            shutdown.await;
            let _ = tx.send(true);
        });

        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "OVH event API simulator listening");
        }
        let down = {
            let hub = hub.clone();
            Box::new(move || hub.state.lock().faults.current() == Some(Fault::Down))
        };
        let listener = FaultListener {
            inner: listener,
            lines: hub.lines.clone(),
            down,
        };
        let mut rx2 = rx;
        let result = axum::serve(
            listener,
            router(hub).into_make_service_with_connect_info::<Conn>(),
        )
        .with_graceful_shutdown(async move {
            let _ = rx2.wait_for(|v| *v).await;
        })
        .await;
        generator.abort();
        janitor.abort();
        trigger.abort();
        result
    };
    (faults, serve)
}

/// Emits the generated events on the wall clock: each one when its `Timestamp` comes, the
/// schedule pushed back by the time the traffic was paused (see [`Pace`]). Woken by every
/// change, so that an event the REST API planned sooner, or a skip of the clock, is not
/// waited for behind the next one.
async fn run_generator(hub: Arc<Hub>) {
    loop {
        let changed = hub.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if hub.state.lock().faults.paused {
            changed.await;
            continue;
        }
        let Some(at) = hub.traffic.lock().as_mut().map(TrafficGen::peek_time) else {
            return;
        };
        let due = hub.pace.lock().due(at);
        tokio::select! {
            _ = tokio::time::sleep_until(due) => {
                if let Some(gen) = hub.traffic.lock().as_mut() {
                    hub.emit(gen);
                }
            }
            _ = changed => {}
        }
    }
}

fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(v1_poll))
        .route("/v2/session", post(v2_create))
        .route("/v2/session/{id}", get(v2_info).delete(v2_delete))
        .route("/v2/session/{id}/subscribe/{token}", post(v2_subscribe))
        .route("/v2/session/{id}/events/poll", get(v2_poll))
        .route("/1.0/{*path}", any(rest::handle))
        .route("/v1/{*path}", any(rest::handle))
        .route("/_sim/queue-call", post(super::control::queue_call))
        .with_state(hub)
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn json_text(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

fn html(status: StatusCode) -> Response {
    let body = format!("<html><body>{status}</body></html>");
    (status, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

/// Checks a token: `400` malformed, `403` unknown to the account (the simulator's choice; what
/// OVH answers is unknown). Returns the normalised token, or the refusal to send.
fn check_token(hub: &Hub, raw: Option<&str>) -> Result<String, (StatusCode, &'static str)> {
    let Some(raw) = raw else {
        return Err((StatusCode::BAD_REQUEST, "missing token"));
    };
    let Some(token) = normalize_token(raw) else {
        return Err((StatusCode::BAD_REQUEST, "invalid token"));
    };
    let api_ns = hub.pace.lock().api_ns();
    if !hub.account.knows_token(&token) && !hub.state.lock().rest.knows_feed_token(&token, api_ns) {
        tracing::info!(token = %mask_token(&token), "refused unknown token");
        return Err((StatusCode::FORBIDDEN, "unknown token"));
    }
    Ok(token)
}

/// An answer's body: whole, or in small pieces spread over `trickle`. Its `delivery` is marked
/// sent once the last piece has gone out; dropped before, it gives its events back.
fn paced(body: String, trickle: Option<Duration>, delivery: Delivery) -> Body {
    let body = Bytes::from(body);
    let pieces = trickle.map_or(1, |_| TRICKLE_PIECES.min(body.len()).max(1));
    let piece = body.len().div_ceil(pieces).max(1);
    let every = trickle.map(|t| t / pieces as u32);
    let stream = futures::stream::unfold(
        (body, delivery, true),
        move |(mut body, mut delivery, first)| async move {
            if body.is_empty() {
                delivery.sent_whole();
                return None;
            }
            if let (false, Some(every)) = (first, every) {
                tokio::time::sleep(every).await;
                delivery.on_the_wire();
            }
            let chunk = body.split_to(piece.min(body.len()));
            Some((Ok::<_, Infallible>(chunk), (body, delivery, false)))
        },
    );
    Body::from_stream(stream)
}

/// A poll's outcome as an HTTP answer, given the body a success would have.
fn poll_response(conn: &Conn, taken: Taken, ok: impl Fn(Vec<Value>, u64) -> Value) -> Response {
    match taken {
        Taken::Events {
            events,
            cursor,
            delivery,
            trickle,
        } => {
            let body = ok(events, cursor).to_string();
            json_text(StatusCode::OK, paced(body, trickle, delivery))
        }
        Taken::BadGateway => html(StatusCode::BAD_GATEWAY),
        Taken::Unavailable => html(StatusCode::SERVICE_UNAVAILABLE),
        Taken::Truncated(events, cursor) => {
            let body = ok(events, cursor).to_string();
            let mut cut = body.len() / 2;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            json_text(StatusCode::OK, body[..cut].to_string())
        }
        Taken::Gone => text(StatusCode::NOT_FOUND, "Timeout, please reconnect"),
        Taken::Rejected(Fault::ReconnectText) => text(StatusCode::OK, "Timeout, please reconnect"),
        Taken::Rejected(Fault::ReconnectJson) => {
            json_text(StatusCode::OK, "\"Timeout, please reconnect\"")
        }
        Taken::Rejected(_) => text(StatusCode::NOT_FOUND, "session not found"),
        Taken::Cut => {
            conn.0.cut();
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /?token=T[&session=S]`: v1 long poll.
async fn v1_poll(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let token = match check_token(&hub, q.get("token").map(String::as_str)) {
        Ok(t) => t,
        Err((status, why)) => return text(status, why),
    };
    let id = hub.open_v1(&token, q.get("session").map(String::as_str));
    let taken = hub.poll(&id).await;
    poll_response(
        &conn,
        taken,
        |events, cursor| json!({"Session": format!("{id}.{cursor}"), "Message": "", "Events": events}),
    )
}

fn session_info(id: &str, s: &Session) -> Value {
    let t = |d: &DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "id": id,
        "creation": t(&s.creation),
        "lastUpdate": t(&s.last_update),
        "lastConnection": t(&s.last_connection),
    })
}

/// `POST /v2/session`: a new session, subscribed to nothing yet.
async fn v2_create(State(hub): State<Arc<Hub>>) -> Response {
    let id = hub.new_id();
    let s = Session::new(Api::V2 { tokens: Vec::new() });
    let info = session_info(&id, &s);
    hub.state.lock().sessions.insert(id, s);
    Json(info).into_response()
}

/// `GET /v2/session/{id}`: the session's times.
async fn v2_info(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Response {
    match hub.state.lock().sessions.get(&id) {
        Some(s) => Json(session_info(&id, s)).into_response(),
        None => text(StatusCode::NOT_FOUND, "session not found"),
    }
}

/// `DELETE /v2/session/{id}`.
async fn v2_delete(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> Response {
    match hub.state.lock().sessions.remove(&id) {
        Some(_) => text(StatusCode::OK, "Session deleted"),
        None => text(StatusCode::NOT_FOUND, "session not found"),
    }
}

/// `POST /v2/session/{id}/subscribe/{token}`.
async fn v2_subscribe(
    State(hub): State<Arc<Hub>>,
    Path((id, raw)): Path<(String, String)>,
) -> Response {
    if !hub.state.lock().sessions.contains_key(&id) {
        return text(StatusCode::NOT_FOUND, "session not found");
    }
    let token = match check_token(&hub, Some(&raw)) {
        Ok(t) => t,
        Err((status, why)) => return text(status, why),
    };
    let mut state = hub.state.lock();
    let Some(mut s) = state.sessions.remove(&id) else {
        return text(StatusCode::NOT_FOUND, "session not found");
    };
    if let Api::V2 { tokens } = &mut s.api {
        if !tokens.contains(&token) {
            tokens.push(token.clone());
            state.opened(&token, &mut s);
        }
    }
    s.last_update = Utc::now();
    state.sessions.insert(id, s);
    drop(state);
    tracing::info!(token = %mask_token(&token), "v2 session subscribed");
    text(
        StatusCode::OK,
        &format!("Successfully subscribed on token {token}"),
    )
}

/// `GET /v2/session/{id}/events/poll`: v2 long poll, events with lower-case top-level keys.
async fn v2_poll(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path(id): Path<String>,
) -> Response {
    if !hub.open_v2(&id) {
        return text(StatusCode::NOT_FOUND, "session not found");
    }
    let taken = hub.poll(&id).await;
    poll_response(&conn, taken, |events, _| {
        Value::Array(events.into_iter().map(to_v2).collect())
    })
}

/// A v1 event in v2 form: top-level keys in lower case, `Data`/`Details` untouched.
pub fn to_v2(event: Value) -> Value {
    match event {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect::<Map<String, Value>>(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(fault_rate: f64, ttl: Duration) -> Arc<Hub> {
        let config = SimConfig {
            fault_rate,
            session_ttl: ttl,
            ..SimConfig::default()
        };
        let (_tx, rx) = watch::channel(false);
        let mut ledger = Ledger::default();
        ledger.faults.recording = true;
        Arc::new(Hub {
            account: SimAccount::from_seed(config.seed),
            config,
            traffic: Mutex::new(None),
            pace: Mutex::default(),
            state: Mutex::new(ledger),
            changed: Notify::new(),
            rng: Mutex::new(StdRng::seed_from_u64(9)),
            shutdown: rx,
            lines: Arc::default(),
        })
    }

    fn event(hub: &Hub, n: i64) -> SimEvent {
        SimEvent {
            at_unix_ns: n,
            tokens: hub.account.tokens_for(&hub.account.lines[0].number),
            event: json!({"Event": "registered", "Timestamp": n}),
        }
    }

    fn dispatch(hub: &Hub, n: i64) {
        hub.state.lock().dispatch(&event(hub, n));
    }

    fn stamps(events: &[Value]) -> Vec<i64> {
        events
            .iter()
            .map(|e| e["Timestamp"].as_i64().unwrap())
            .collect()
    }

    fn queued(hub: &Hub, id: &str) -> Vec<i64> {
        let state = hub.state.lock();
        stamps(&state.sessions[id].queue.iter().cloned().collect::<Vec<_>>())
    }

    /// Takes an answer as a poll of session `id` would, and whether it had events.
    fn take(hub: &Arc<Hub>, id: &str) -> (Vec<Value>, u64, Delivery) {
        let turn = hub.state.lock().sessions[id].turn;
        match hub.take(id, turn, Instant::now()) {
            Taken::Events {
                events,
                cursor,
                delivery,
                ..
            } => (events, cursor, delivery),
            _ => panic!("a failed answer"),
        }
    }

    /// The client received the answer's body whole.
    fn sent_whole(mut delivery: Delivery) {
        delivery.sent_whole();
    }

    /// A hub with no random faults, and a v1 session of the billing account's token.
    fn with_v1_session() -> (Arc<Hub>, String, String) {
        let hub = hub(0.0, Duration::from_secs(60));
        let token = hub.account.account_token.clone();
        let id = hub.open_v1(&token, None);
        (hub, token, id)
    }

    #[test]
    fn failed_polls_keep_their_events() {
        let hub = hub(0.5, Duration::from_secs(60));
        let id = hub.open_v1(&hub.account.account_token, None);
        let (mut failed, mut ok) = (0, 0);
        for n in 0..40 {
            dispatch(&hub, n);
            let before = queued(&hub, &id);
            let turn = hub.state.lock().sessions[&id].turn;
            match hub.take(&id, turn, Instant::now()) {
                Taken::Events {
                    events, delivery, ..
                } => {
                    ok += 1;
                    assert_eq!(stamps(&events), before);
                    assert!(queued(&hub, &id).is_empty());
                    sent_whole(delivery);
                }
                Taken::BadGateway | Taken::Truncated(..) => {
                    failed += 1;
                    assert_eq!(queued(&hub, &id), before);
                }
                _ => unreachable!(),
            }
        }
        assert!(failed > 0 && ok > 0);
    }

    #[test]
    fn events_reach_each_token_of_a_session_and_stale_sessions_go() {
        let hub = hub(0.0, Duration::from_millis(50));
        let a = hub.account.account_token.clone();
        let l = hub.account.line_token.clone();
        {
            let mut state = hub.state.lock();
            state.sessions.insert(
                "v2".into(),
                Session::new(Api::V2 {
                    tokens: vec![a.clone(), l.clone()],
                }),
            );
            state
                .sessions
                .insert("v1".into(), Session::new(Api::V1 { token: l.clone() }));
        }
        dispatch(&hub, 1);
        let (events, _, _) = take(&hub, "v2");
        let tokens: Vec<&str> = events
            .iter()
            .map(|e| e["Token"].as_str().unwrap())
            .collect();
        assert_eq!(tokens, vec![a.as_str(), l.as_str()]);
        let v2 = to_v2(events[0].clone());
        assert_eq!(v2["token"], a.as_str());
        assert!(v2.get("Token").is_none());

        hub.expire();
        assert_eq!(hub.state.lock().sessions.len(), 2);
        hub.state.lock().sessions.get_mut("v1").unwrap().last_seen -= Duration::from_secs(1);
        hub.expire();
        let state = hub.state.lock();
        assert!(!state.sessions.contains_key("v1"));
        assert!(state.sessions.contains_key("v2"));
    }

    #[test]
    fn a_v1_cursor_acknowledges_what_it_names_and_gets_the_rest_again() {
        let (hub, token, id) = with_v1_session();
        dispatch(&hub, 1);
        let (first, cursor, delivery) = take(&hub, &id);
        assert_eq!((stamps(&first), cursor), (vec![1], 1));
        sent_whole(delivery);
        dispatch(&hub, 2);
        let (second, cursor, delivery) = take(&hub, &id);
        assert_eq!((stamps(&second), cursor), (vec![2], 2));
        sent_whole(delivery);
        dispatch(&hub, 3);

        // The client stored answer 1 only (it crashed before storing answer 2).
        assert_eq!(hub.open_v1(&token, Some(&format!("{id}.1"))), id);
        assert_eq!(queued(&hub, &id), [2, 3]);
        let (again, cursor, _) = take(&hub, &id);
        assert_eq!((stamps(&again), cursor), (vec![2, 3], 3));

        // A bare session id acknowledges everything sent; an unknown one starts afresh.
        assert_eq!(hub.open_v1(&token, Some(&id)), id);
        assert!(hub.state.lock().sessions[&id].sent.is_empty());
        assert_ne!(hub.open_v1(&token, Some("unknown.4")), id);
        assert_eq!(hub.state.lock().faults.sessions_created[&token], 2);
    }

    #[test]
    fn an_answer_not_sent_whole_gives_its_events_back() {
        let hub = hub(0.0, Duration::from_secs(60));
        let id = "v2".to_string();
        let token = hub.account.account_token.clone();
        hub.state.lock().sessions.insert(
            id.clone(),
            Session::new(Api::V2 {
                tokens: vec![token],
            }),
        );
        dispatch(&hub, 1);
        let (_, _, mut delivery) = take(&hub, &id);
        delivery.on_the_wire();
        assert_eq!(hub.state.lock().faults.answering, 1);
        drop(delivery);
        assert_eq!(queued(&hub, &id), [1], "the client went away mid-body");
        assert_eq!(hub.state.lock().faults.answering, 0);

        let (_, _, delivery) = take(&hub, &id);
        sent_whole(delivery);
        dispatch(&hub, 2);
        let (_, _, in_flight) = take(&hub, &id);
        // The client polls again while the second body is still going out: it got the first.
        assert!(hub.open_v2(&id));
        assert_eq!(queued(&hub, &id), [2]);
        drop(in_flight);
        assert_eq!(queued(&hub, &id), [2], "given back once only");
    }

    #[test]
    fn without_resend_an_answer_made_is_gone() {
        let (hub, token, id) = with_v1_session();
        hub.state.lock().faults.no_resend = true;
        dispatch(&hub, 1);
        let (events, _, delivery) = take(&hub, &id);
        assert_eq!(stamps(&events), [1]);
        drop(delivery);
        hub.open_v1(&token, Some(&format!("{id}.0")));
        assert!(queued(&hub, &id).is_empty());
    }

    #[test]
    fn a_rejected_session_leaves_its_events_to_the_next() {
        let (hub, token, id) = with_v1_session();
        dispatch(&hub, 1);
        let (_, _, delivery) = take(&hub, &id);
        sent_whole(delivery);
        dispatch(&hub, 2);
        Faults(hub.clone()).inject_times(Fault::SessionNotFound, 1);
        // The poll that is refused acknowledges nothing: answer 1 was not stored.
        assert_eq!(hub.open_v1(&token, Some(&format!("{id}.0"))), id);
        assert!(matches!(
            hub.on_arrival(&id),
            Some(Taken::Rejected(Fault::SessionNotFound))
        ));
        assert_eq!(hub.state.lock().faults.current(), None, "once");
        dispatch(&hub, 3);

        let next = hub.open_v1(&token, None);
        assert_ne!(next, id);
        assert_eq!(queued(&hub, &next), [1, 2, 3]);
        assert_eq!(hub.state.lock().faults.emitted[&token].len(), 3);
        assert_eq!(hub.state.lock().faults.stale_polls, 0);
        hub.open_v1(&token, Some(&format!("{id}.1")));
        assert_eq!(hub.state.lock().faults.stale_polls, 1);
    }

    #[test]
    fn a_replayed_answer_keeps_its_events_queued() {
        let (hub, _, id) = with_v1_session();
        dispatch(&hub, 1);
        Faults(hub.clone()).inject_times(Fault::Replay, 1);
        let (events, _, delivery) = take(&hub, &id);
        sent_whole(delivery);
        dispatch(&hub, 2);
        assert_eq!(stamps(&events), [1]);
        let (again, _, _) = take(&hub, &id);
        assert_eq!(stamps(&again), [1, 2]);
    }

    #[test]
    fn paused_traffic_emits_nothing_and_recovery_counts_from_the_end_of_a_fault() {
        let (hub, token, id) = with_v1_session();
        let faults = Faults(hub.clone());
        let mut gen = TrafficGen::with_account(hub.account.clone(), &hub.config, 0);
        faults.pause_traffic();
        assert!(!hub.emit(&mut gen));
        faults.resume_traffic();
        assert!(hub.emit(&mut gen));

        faults.inject(Fault::CutBody);
        let (_, _, made_during) = {
            let turn = hub.state.lock().sessions[&id].turn;
            assert!(matches!(
                hub.take(&id, turn, Instant::now()),
                Taken::Truncated(..)
            ));
            faults.clear();
            take(&hub, &id)
        };
        assert!(faults.recovery(&[&token]).is_none());
        sent_whole(made_during);
        assert!(faults.recovery(&[&token]).is_some());
    }
}
