//! Faults on demand: a handle that a test flips to make the simulated OVH misbehave, and the
//! record it needs to prove that a client lost nothing.
//!
//! [`Simulator::serve_with_faults`](super::Simulator::serve_with_faults) returns a [`Faults`]
//! handle next to the server. One fault is active at a time, for a while
//! ([`Faults::inject_for`]), for a number of polls ([`Faults::inject_times`]) or until
//! [`Faults::clear`]. The handle also records every event the simulator queued for each token
//! ([`Faults::emitted`]), tells when every client is caught up ([`Faults::drained`]), and
//! measures how long after a fault ended each token got a good answer again
//! ([`Faults::recovery`]) — the figures a fault suite compares with the client's store.
//!
//! The handle also steers the REST fake (`/1.0`): answers that fail on purpose
//! ([`Faults::inject_rest`], [`Faults::refuse_signatures`]), a consumer key validated or expired
//! without a browser ([`Faults::validate_credential`], [`Faults::expire_credential`]), and the
//! simulator's clock moved ahead ([`Faults::advance_clock`]) so that what takes minutes happens
//! at once.
//!
//! So that "nothing lost" stays measurable through faults that throw a session away, the
//! simulator never drops an event it queued for a token, except on a client's own mistake:
//! the events of a session it rejects wait in the token's mailbox, and its next session
//! inherits them (see [`Fault::SessionNotFound`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::rest::RestFault;
use super::server::Hub;

/// Something OVH does wrong, as the simulator can play it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Polls are held open, unanswered, for as long as the fault lasts — past the client's
    /// time-out if it is shorter. Once the fault ends, a poll still held goes on as usual.
    Hang,
    /// The body of each answer carrying events is sent a few bytes at a time, spread over
    /// this long. A client that gives up half-way gets the events again on its next poll.
    Trickle(Duration),
    /// Polls are answered `503 Service Unavailable` with an HTML page, at once.
    ServerError,
    /// Answers carrying events are `200` with their JSON cut in the middle; the events stay
    /// queued for the next poll.
    CutBody,
    /// A poll's connection is reset without an answer.
    Reset,
    /// The session is forgotten and the poll answered `404`. Its events — queued, or sent but
    /// not acknowledged — wait in a mailbox per token, with those that come meanwhile; the
    /// token's next session (v1: a poll without a session; v2: a subscription) inherits them.
    SessionNotFound,
    /// The same, answered `200` with the text `Timeout, please reconnect`.
    ReconnectText,
    /// The same, answered `200` with the JSON string `"Timeout, please reconnect"`.
    ReconnectJson,
    /// Answers carry their events but keep them queued: the next answer sends them again.
    Replay,
    /// The upstream cannot be reached: every open connection is reset, and new ones are reset
    /// as soon as they are accepted.
    Down,
}

impl Fault {
    /// Whether the fault throws the session away.
    pub fn rejects_session(self) -> bool {
        matches!(
            self,
            Fault::SessionNotFound | Fault::ReconnectText | Fault::ReconnectJson
        )
    }
}

#[derive(Debug)]
struct Active {
    fault: Fault,
    /// Polls it still applies to, when it was injected for a number of them.
    left: Option<u32>,
}

/// The fault in force and what the simulator recorded; kept with the sessions, under one lock.
#[derive(Debug, Default)]
pub(crate) struct FaultState {
    active: Option<Active>,
    /// Bumped at each injection, so that a timer ends only the fault it was set for.
    generation: u64,
    ended_at: Option<Instant>,
    /// Per token, its first good answer since the last fault ended.
    recovered: HashMap<String, Instant>,
    /// The traffic generator waits while this is set.
    pub(crate) paused: bool,
    /// An answer's events are dropped as soon as it is made: never sent again.
    pub(crate) no_resend: bool,
    /// OVH's feed loses events: those generated are sent to nobody (its REST API still
    /// counts the calls), and only counted here.
    pub(crate) losing: bool,
    pub(crate) lost: u64,
    /// Whether `emitted` is kept (a long-running demo must not grow it for ever).
    pub(crate) recording: bool,
    /// Every event queued for a token (in a session or its mailbox), in order.
    pub(crate) emitted: HashMap<String, Vec<Value>>,
    pub(crate) sessions_created: HashMap<String, u32>,
    /// Polls that came back with a session the simulator had rejected.
    pub(crate) stale_polls: u64,
    /// Events dropped because a session's queue was full.
    pub(crate) overflowed: u64,
    /// Answers with events whose body is part-way out (trickled: past its first piece).
    pub(crate) answering: usize,
}

impl FaultState {
    pub(crate) fn current(&self) -> Option<Fault> {
        self.active.as_ref().map(|a| a.fault)
    }

    /// The active fault, if `applies` says it concerns this poll; counts the poll against a
    /// fault injected for a number of them.
    pub(crate) fn take(&mut self, applies: impl Fn(Fault) -> bool) -> Option<Fault> {
        let active = self.active.as_mut()?;
        if !applies(active.fault) {
            return None;
        }
        let fault = active.fault;
        if let Some(left) = active.left.as_mut() {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.end();
            }
        }
        Some(fault)
    }

    fn start(&mut self, fault: Fault, left: Option<u32>) -> u64 {
        self.active = Some(Active { fault, left });
        self.generation += 1;
        self.ended_at = None;
        self.generation
    }

    fn end(&mut self) {
        if self.active.take().is_some() {
            self.ended();
        }
    }

    /// Recovery counts from now.
    fn ended(&mut self) {
        self.ended_at = Some(Instant::now());
        self.recovered.clear();
    }

    /// A good answer reached `tokens`, for a poll that arrived at `asked`: the first since
    /// the fault ended marks their recovery, at the moment the client got through.
    pub(crate) fn good_answer(&mut self, tokens: &[String], asked: Instant) {
        if self.active.is_some() {
            return;
        }
        for t in tokens {
            self.recovered.entry(t.clone()).or_insert(asked);
        }
    }
}

/// The handle that makes a running simulator misbehave and reports what it emitted.
#[derive(Clone)]
pub struct Faults(pub(crate) Arc<Hub>);

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("active", &self.active())
            .finish()
    }
}

impl Faults {
    fn start(&self, fault: Fault, left: Option<u32>) -> u64 {
        let generation = self.0.state.lock().faults.start(fault, left);
        if fault == Fault::Down {
            self.0.lines.cut_all();
        }
        self.0.changed.notify_waiters();
        generation
    }

    /// Starts `fault` until [`Faults::clear`].
    pub fn inject(&self, fault: Fault) {
        self.start(fault, None);
    }

    /// Starts `fault` for `duration`. Must be called within a Tokio runtime (a timer ends it).
    pub fn inject_for(&self, fault: Fault, duration: Duration) {
        let generation = self.start(fault, None);
        let hub = self.0.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let mut state = hub.state.lock();
            if state.faults.generation == generation {
                state.faults.end();
            }
            drop(state);
            hub.changed.notify_waiters();
        });
    }

    /// Starts `fault` for the next `polls` polls it applies to (at least one).
    pub fn inject_times(&self, fault: Fault, polls: u32) {
        self.start(fault, Some(polls.max(1)));
    }

    /// Ends the active fault now.
    pub fn clear(&self) {
        self.0.state.lock().faults.end();
        self.0.changed.notify_waiters();
    }

    /// Counts recovery from now, for a fault the simulator does not play itself: the client
    /// killed and started again, or its store failing and mended.
    pub fn ended_now(&self) {
        self.0.state.lock().faults.ended();
        self.0.changed.notify_waiters();
    }

    /// The fault in force, if any.
    pub fn active(&self) -> Option<Fault> {
        self.0.state.lock().faults.current()
    }

    /// In "no resend" mode, an answer's events are gone as soon as it is made: a client that
    /// drops the answer loses them. Off by default: events wait until acknowledged.
    pub fn set_no_resend(&self, on: bool) {
        self.0.state.lock().faults.no_resend = on;
    }

    /// While on, OVH's feed loses every event it makes: no session or mailbox gets it (nor
    /// [`Faults::emitted`]), while the REST API's live statistics still count its calls —
    /// what the OVH cross-check is there to notice. [`Faults::lost`] counts them.
    pub fn lose_events(&self, on: bool) {
        self.0.state.lock().faults.losing = on;
    }

    /// How many events were lost by [`Faults::lose_events`].
    pub fn lost(&self) -> u64 {
        self.0.state.lock().faults.lost
    }

    /// Stops the traffic: no event is generated until [`Faults::resume_traffic`], and the
    /// schedule then resumes where it stopped.
    pub fn pause_traffic(&self) {
        self.set_paused(true);
    }

    pub fn resume_traffic(&self) {
        self.set_paused(false);
    }

    fn set_paused(&self, paused: bool) {
        self.0.state.lock().faults.paused = paused;
        let mut pace = self.0.pace.lock();
        if paused {
            pace.pause();
        } else {
            pace.resume();
        }
        drop(pace);
        self.0.changed.notify_waiters();
    }

    /// Every event queued for `token` so far (v1 shape, with its `Token`), in order.
    pub fn emitted(&self, token: &str) -> Vec<Value> {
        let state = self.0.state.lock();
        state.faults.emitted.get(token).cloned().unwrap_or_default()
    }

    /// The events queued for `token` from the `from`-th on (what [`Faults::emitted`] would
    /// give past its first `from`), without copying the rest.
    pub fn emitted_from(&self, token: &str, from: usize) -> Vec<Value> {
        let state = self.0.state.lock();
        state
            .faults
            .emitted
            .get(token)
            .map(|v| v.get(from..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }

    pub fn emitted_count(&self, token: &str) -> usize {
        self.0
            .state
            .lock()
            .faults
            .emitted
            .get(token)
            .map_or(0, Vec::len)
    }

    /// Sessions opened for `token` (v1 sessions created, v2 subscriptions).
    pub fn sessions_created(&self, token: &str) -> u32 {
        let state = self.0.state.lock();
        state
            .faults
            .sessions_created
            .get(token)
            .copied()
            .unwrap_or(0)
    }

    /// Polls that came back with a session the simulator had rejected: a client should start
    /// a new session on the first rejection.
    pub fn stale_polls(&self) -> u64 {
        self.0.state.lock().faults.stale_polls
    }

    /// Events the simulator itself dropped because a session's queue overflowed.
    pub fn overflowed(&self) -> u64 {
        self.0.state.lock().faults.overflowed
    }

    /// Polls waiting for an answer right now, over every session.
    pub fn polls_in_progress(&self) -> usize {
        self.0.state.lock().polls_in_progress()
    }

    /// Trickled answers carrying events whose body is part-way out: the headers and a first
    /// piece went out a pause ago, so the client is reading it (see [`Fault::Trickle`]).
    pub fn answering(&self) -> usize {
        self.0.state.lock().faults.answering
    }

    /// Whether every token of `tokens` is caught up: a session of it is being polled with
    /// nothing queued and nothing sent unacknowledged, and its mailbox is empty. With the
    /// traffic paused, a client that polls again only after storing an answer then holds
    /// everything that was emitted for these tokens.
    pub fn drained(&self, tokens: &[&str]) -> bool {
        self.0.state.lock().drained(tokens)
    }

    /// Once the last fault ended: how long until each of `tokens` got through — the arrival
    /// of its first poll whose answer was good (made with no fault in force and sent whole;
    /// 0 for a poll that was already waiting) — the longest of them. `None` while some token
    /// has not had a good answer yet, or no fault has ended.
    pub fn recovery(&self, tokens: &[&str]) -> Option<Duration> {
        let state = self.0.state.lock();
        let ended = state.faults.ended_at?;
        let mut longest = Duration::ZERO;
        for t in tokens {
            let at = state.faults.recovered.get(*t)?;
            longest = longest.max(at.saturating_duration_since(ended));
        }
        Some(longest)
    }

    /// Resolves once `check` holds. It is tried again whenever the simulator's state changes
    /// (a poll comes or ends, an event is queued, a fault starts or ends): no polling loop.
    pub async fn wait_until(&self, mut check: impl FnMut(&Faults) -> bool) {
        self.0.watch(|| check(self)).await
    }

    // ---- the REST API -----------------------------------------------------------------------

    /// The next `answers` REST answers (under `/1.0`, signed or not; not the validation page)
    /// fail with `fault`, whatever the request.
    pub fn inject_rest(&self, fault: RestFault, answers: u32) {
        self.0.state.lock().rest.fault = Some((fault, answers.max(1)));
    }

    /// Ends a REST failure injected with [`Faults::inject_rest`].
    pub fn clear_rest(&self) {
        self.0.state.lock().rest.fault = None;
    }

    /// While on, every signed request is refused `400 INVALID_SIGNATURE`, as when the
    /// application secret is wrong.
    pub fn refuse_signatures(&self, on: bool) {
        self.0.state.lock().rest.refuse_signatures = on;
    }

    /// Validates a consumer key pending validation, as its owner would on the validation page.
    /// False if the key is unknown or not pending.
    pub fn validate_credential(&self, consumer_key: &str) -> bool {
        self.0.state.lock().rest.validate(consumer_key)
    }

    /// Expires a consumer key (validity over, or revoked): its requests are then refused
    /// `403 INVALID_CREDENTIAL`. False if the key is unknown.
    pub fn expire_credential(&self, consumer_key: &str) -> bool {
        self.0.state.lock().rest.expire(consumer_key)
    }

    /// Moves the simulator's clocks `by` ahead: `/auth/time`, timestamps, the rate limit's
    /// minute and token expirations count from the new time, and the traffic due in between
    /// (calls the REST API placed included) is emitted at once. Keep the traffic rate low when
    /// skipping far: every call of the time skipped is generated.
    pub fn advance_clock(&self, by: Duration) {
        self.0.pace.lock().skip(by);
        self.0.changed.notify_waiters();
    }

    /// How many REST answers the simulator gave (each has its own `X-Ovh-Queryid`).
    pub fn rest_answers(&self) -> u64 {
        self.0.state.lock().rest.queries
    }
}
